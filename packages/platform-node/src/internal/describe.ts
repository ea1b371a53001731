/**
 * How an options error names the value it refuses: core's one printer (`Inputs.describe`), so a
 * message reads the same whichever fibervisor package refused the value.
 *
 * @internal
 */
import { Inputs } from "@fibervisor/core"

/** See `Inputs.describe`. */
export const describe: (value: unknown) => string = Inputs.describe
