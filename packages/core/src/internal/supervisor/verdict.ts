/**
 * The restart verdict: what a supervisor answers when a task's failed attempt is about to be
 * retried (the task loop's `LoopHost.restartVerdict`; OTP's `restart/2` with `add_restart/3`).
 *
 * **Owns** the supervisor's `RestartWindow` (none without an intensity).
 *
 * **Data flow**: the task loop (`onFailure`, a restart-worthy failure) → `verdict` → under a group
 * strategy, how a pending group restart relates to the failure (`GroupRestarts.pendingFor`) → the
 * intensity window → the verdict, which the loop acts on (retry by itself, hand the restart to the
 * group restarts, join one, or end `Failed` and make the supervisor fail once the task has ended).
 *
 * | strategy        | a pending group restart … | intensity counts it | verdict (within the intensity) |
 * | --------------- | ------------------------- | ------------------- | ------------------------------ |
 * | `one-for-one`   | (none)                    | yes                 | `"restart"`                    |
 * | group           | starts this task anyway   | no                  | `"join"`                       |
 * | group           | is taken over by this one | no                  | `"group"`                      |
 * | group           | none                      | yes                 | `"group"`                      |
 *
 * Past the intensity the verdict is `{ refused }`, and the entry carries the
 * `RestartIntensityExceeded` its supervisor fails with once the task's outcome is settled.
 *
 * **Invariants**
 * - Siblings failing in the same instant make one group restart, counted once.
 * - The verdict is synchronous: the window and the group queue are read and updated in one step.
 *
 * @internal
 */
import { RestartIntensityExceeded } from "../../SupervisorError.js"
import type { Entry } from "../entry.js"
import type { Config } from "../options.js"
import type { RestartVerdict } from "../taskLoop.js"
import type { GroupRestarts } from "./groupRestart.js"
import { RestartWindow } from "./intensity.js"

/** What the restart verdict needs from its supervisor. */
export interface VerdictHost {
  readonly config: Config
  now(): number
}

/** The restart verdicts of one supervisor. */
export class RestartVerdicts {
  /** The restarts inside the intensity window (none without an intensity). */
  private readonly window: RestartWindow | undefined

  constructor(
    private readonly host: VerdictHost,
    private readonly groups: GroupRestarts
  ) {
    const intensity = host.config.intensity
    this.window = intensity === undefined ? undefined : new RestartWindow(intensity.maxRestarts, intensity.withinMs)
  }

  /** See `LoopHost.restartVerdict` and the table in the header. */
  verdict(entry: Entry, reason: string): RestartVerdict {
    const config = this.host.config
    const strategy = config.strategy
    let takesOver = false
    if (strategy !== "one-for-one") {
      const pending = this.groups.pendingFor(entry)
      if (pending === "join") return "join"
      takesOver = pending === "take-over"
    }
    const intensity = this.window
    // A restart that takes a queued one along replaces it: the queued one is counted already.
    if (intensity !== undefined && !takesOver) {
      if (!intensity.record(this.host.now())) {
        entry.failsSupervisor = new RestartIntensityExceeded({
          path: config.path,
          maxRestarts: intensity.maxRestarts,
          withinMs: intensity.withinMs,
          trigger: entry.name,
          reason
        })
        return {
          refused: `the restart intensity of its supervisor (${intensity.maxRestarts} in ${intensity.withinMs} ms) was exceeded`
        }
      }
    }
    return strategy === "one-for-one" ? "restart" : "group"
  }
}
