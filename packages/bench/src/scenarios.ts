/**
 * The seven scenarios of issue 6. Each fibervisor variant uses only `@fibervisor/core`'s public API;
 * each baseline is the hand-rolled Effect code (or library) a user would write instead. Only the
 * operation under test is timed: building the supervisor, the `FiberSet` or the offload layer, and
 * tearing them down afterwards, happen outside the clock.
 *
 * One file per scenario in `scenarios/` (`common.ts`: what they share); this module lists them.
 */
import { churn } from "./scenarios/churn.js"
import type { Profile } from "./scenarios/common.js"
import { events } from "./scenarios/events.js"
import { memory } from "./scenarios/idleMemory.js"
import { offload } from "./scenarios/offload.js"
import { oneShot } from "./scenarios/oneShot.js"
import { restarts } from "./scenarios/restart.js"
import { shutdown } from "./scenarios/shutdown.js"
import type { Scenario } from "./harness.js"

export { fullProfile, type Profile, quickProfile } from "./scenarios/common.js"

export const scenarios = (profile: Profile): ReadonlyArray<Scenario> => [
  oneShot(profile),
  restarts(profile),
  memory(profile),
  offload(profile),
  shutdown(profile),
  events(profile),
  churn(profile)
]
