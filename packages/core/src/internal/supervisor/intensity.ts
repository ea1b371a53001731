/**
 * Restart intensity: how many restarts a supervisor allows within a sliding window of time before
 * it gives up (OTP's `intensity`/`period`, and its `add_restart/3`).
 *
 * **Owns** the restart instants still inside the window, oldest first. Nothing else: whether a
 * restart counts at all (a restart that joins or takes over a pending group restart does not) is
 * decided by the caller, `RestartVerdicts.verdict` (`verdict.ts`), before it records one.
 *
 * **Data flow**: a failed attempt asks its supervisor for a verdict → `record(now)` → `false` means
 * the restart is refused, the task ends `Failed` and the supervisor fails with
 * `RestartIntensityExceeded`.
 *
 * **Invariants**
 * - Pure: no clock, no effect; the caller passes the instant (`EventBus.now`), so tests drive it
 *   with plain numbers.
 * - A restart is forgotten once `withinMs` have passed since it (an instant exactly `withinMs` old
 *   is out of the window), and is counted before the check: with `maxRestarts: 0` the first restart
 *   is refused.
 *
 * @internal
 */

/** The restarts of one supervisor inside its intensity window. */
export class RestartWindow {
  /** Restart instants inside the window, oldest first. */
  private readonly times: Array<number> = []

  constructor(
    readonly maxRestarts: number,
    readonly withinMs: number
  ) {}

  /** Records a restart at `now`; `false` when it makes more than `maxRestarts` within `withinMs`. */
  record(now: number): boolean {
    const times = this.times
    times.push(now)
    while (times.length > 0 && now - times[0]! >= this.withinMs) times.shift()
    return times.length <= this.maxRestarts
  }

  /** How many restarts are inside the window (as of the last `record`). */
  get size(): number {
    return this.times.length
  }
}
