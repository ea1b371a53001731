/** Small helpers shared by the scenarios. */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"

/** Runs `body(0)`, `body(1)`, … `body(n - 1)` one after another. */
export const times = <E, R>(n: number, body: (i: number) => Effect.Effect<unknown, E, R>): Effect.Effect<void, E, R> =>
  Effect.suspend(() => {
    let i = 0
    return Effect.whileLoop({
      while: () => i < n,
      body: () => body(i),
      step: () => {
        i++
      }
    })
  })

/** Wall-clock milliseconds taken by `self`. */
export const timed = <E, R>(self: Effect.Effect<unknown, E, R>): Effect.Effect<number, E, R> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.map(self, () => performance.now() - started)
  })

/** Polls `condition` every millisecond; dies with `what` after `timeout`. */
export const waitUntil = (condition: () => boolean, what: string, timeout: Duration.Input = "2 minutes") =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.sleep(Duration.millis(1)))).pipe(
    Effect.repeat({ until: () => condition() }),
    Effect.timeoutOrElse({ duration: timeout, orElse: () => Effect.die(new Error(`timed out waiting for ${what}`)) }),
    Effect.asVoid
  )

/**
 * Every variant runs with no logger: the supervisor logs a warning when a task ends `Failed` (the
 * restart scenario), and the table on stdout must stay clean. The log call itself still runs.
 */
export const run = <A, E>(self: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provideService(self, Logger.CurrentLoggers, new Set()))
