/**
 * The offload service's drain on close (`drain`): wait up to the grace for the work in flight to
 * end, then cut off what is left and wait, bounded, for the interrupted fibers to exit.
 *
 * Data flow: `OffloadImpl.close` stops admission and runs `drain` with its two counters, `idle`
 * (jobs admitted and not finished) and `live` (fibers that have not exited), and `cutOff`, which
 * stops every job in flight (queued ones first).
 *
 * Invariants:
 * - Only waits are timed, never the work; the wait after the cut-off is at most a second (or one
 *   scheduler turn for `grace: 0`): fibers still running after it are reported abandoned, not awaited.
 * - One warning line when work was cut off, none when the drain finished in time.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { timeoutToMillis } from "./duration.js"
import type { ZeroSignal } from "./zeroSignal.js"

/** Drains within `graceMs`, then `cutOff`s the rest and logs what was cut off or abandoned. */
export const drain = (graceMs: number, idle: ZeroSignal, live: ZeroSignal, cutOff: () => void): Effect.Effect<void> => {
  const inTime =
    graceMs === 0
      ? Effect.succeed(idle.count === 0)
      : timeoutToMillis(
          Effect.interruptible(idle.await),
          graceMs,
          () => true,
          () => false
        )
  return Effect.flatMap(inTime, (drained) => {
    if (drained) return Effect.void
    const cut = idle.count
    cutOff()
    // `grace: 0` waits for nothing: the interrupted fibers get one scheduler turn to exit (work
    // that stops at once, or never started, is not reported abandoned); the rest is left behind.
    const settled: Effect.Effect<number> =
      graceMs === 0
        ? Effect.andThen(
            Effect.yieldNow,
            Effect.sync(() => live.count)
          )
        : // Bounds the wait for the interrupted fibers, not their finalizers: they run on in
          // their own fibers, and those still running after it are reported abandoned.
          timeoutToMillis(
            Effect.interruptible(live.await),
            Math.min(graceMs, 1000),
            () => 0,
            () => live.count
          )
    return settled.pipe(
      Effect.flatMap((abandoned) =>
        Effect.logWarning(
          `offload drain: ${cut} piece(s) of work still in flight after the grace of ${graceMs} ms were cut off` +
            (abandoned > 0 ? `; ${abandoned} did not stop and were abandoned` : "")
        )
      ),
      Effect.annotateLogs({ fibervisor: "offload" })
    )
  })
}
