import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

const pattern = /^(-?\d+(?:\.\d+)?)\s+(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

/**
 * Decodes user input into a finite, non-negative `Duration`, or says why it cannot (the reason
 * completes a sentence that starts with the field name). Effect's own decoder throws on garbage and
 * turns negative numbers into zero; neither is acceptable for user input.
 */
export const decodeDuration = (input: unknown): Either.Either<Duration.Duration, string> => {
  if (Duration.isDuration(input)) {
    return Duration.isFinite(input) ? Either.right(input) : Either.left("must be finite")
  }
  switch (typeof input) {
    case "number":
      if (Number.isNaN(input)) return Either.left("must be a number of milliseconds, got NaN")
      if (input < 0) return Either.left(`must not be negative, got ${input}`)
      if (!Number.isFinite(input)) return Either.left("must be finite, got Infinity")
      if (input > 0 && input < 1e-6) return Either.left(`must be 0 or at least 1 nanosecond, got ${input} ms`)
      return Either.right(Duration.millis(input))
    case "bigint":
      return input < 0n ? Either.left(`must not be negative, got ${input}n`) : Either.right(Duration.nanos(input))
    case "string": {
      const match = pattern.exec(input.trim())
      if (match === null) return Either.left(`must be a duration such as "5 seconds", got "${input}"`)
      if (Number(match[1]) < 0) return Either.left(`must not be negative, got "${input}"`)
      return Either.right(Duration.decode(input.trim() as Duration.DurationInput))
    }
    case "object":
      if (Array.isArray(input) && input.length === 2 && input.every((n) => typeof n === "number")) {
        const [seconds, nanos] = input as [number, number]
        if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return Either.left("must be finite")
        if (seconds < 0 || nanos < 0) return Either.left("must not be negative")
        return Either.right(Duration.decode([seconds, nanos]))
      }
  }
  return Either.left(`must be a duration, got ${describe(input)}`)
}

export const describe = (input: unknown): string => {
  if (input === null) return "null"
  if (input === undefined) return "undefined"
  if (Array.isArray(input)) return "an array"
  if (typeof input === "string") return `"${input}"`
  if (typeof input === "object") return "an object"
  if (typeof input === "function") return "a function"
  if (typeof input === "bigint") return `bigint ${input}n`
  return `${typeof input} ${String(input)}`
}

/**
 * Node timers hold at most 2^31 - 1 ms; Effect's clock treats a longer sleep as infinite and arms
 * no timer at all. Longer waits are chained from steps of at most this length.
 */
export const maxTimerMs = 2 ** 31 - 1

export const toMillis = (d: Duration.Duration): number => Duration.toMillis(d)

/** `Effect.sleep` that also works past Node's timer limit (a chain of steps of at most `maxTimerMs`). */
export const sleepMillis = (ms: number): Effect.Effect<void> =>
  ms <= maxTimerMs
    ? Effect.sleep(Duration.millis(ms))
    : Effect.zipRight(
        Effect.sleep(Duration.millis(maxTimerMs)),
        Effect.suspend(() => sleepMillis(ms - maxTimerMs))
      )

/** `Effect.timeoutOption` that also works past Node's timer limit. */
export const timeoutOptionMillis = <A>(effect: Effect.Effect<A>, ms: number): Effect.Effect<Option.Option<A>> =>
  ms <= maxTimerMs
    ? Effect.timeoutOption(effect, Duration.millis(ms))
    : // The timer is interruptible like Effect.timeout's own, so a race in a finalizer can end.
      Effect.raceFirst(Effect.asSome(effect), Effect.as(Effect.interruptible(sleepMillis(ms)), Option.none<A>()))

/** `Effect.timeoutTo` that also works past Node's timer limit. */
export const timeoutToMillis = <A, B>(
  effect: Effect.Effect<A>,
  ms: number,
  onSuccess: (a: A) => B,
  onTimeout: () => B
): Effect.Effect<B> =>
  ms <= maxTimerMs
    ? Effect.timeoutTo(effect, { duration: Duration.millis(ms), onSuccess, onTimeout })
    : Effect.map(timeoutOptionMillis(effect, ms), Option.match({ onNone: onTimeout, onSome: onSuccess }))
