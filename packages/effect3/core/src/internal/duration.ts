import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

/** What Effect's own parser accepts: a number without an exponent, a space, a unit. */
const effectPattern = /^(-?\d+(?:\.\d+)?)\s+(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

/** What the `${number} ${unit}` type allows: an exponent too. */
const pattern = /^(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s+(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

/** A number of `unit`s in milliseconds (sub-millisecond units divided, so that "1 nanos" is exactly 1e-6). */
const unitToMillis = (value: number, unit: string): number => {
  switch (unit.endsWith("s") ? unit.slice(0, -1) : unit) {
    case "nano":
      return value / 1_000_000
    case "micro":
      return value / 1_000
    case "milli":
      return value
    case "second":
      return value * 1_000
    case "minute":
      return value * 60_000
    case "hour":
      return value * 3_600_000
    case "day":
      return value * 86_400_000
    default:
      return value * 604_800_000
  }
}

/** Below one nanosecond Effect rounds a duration to zero, which would read as "none": refused. */
const belowOneNano = (ms: number): boolean => ms > 0 && ms < 1e-6

const subNanosecond = (got: string): Either.Either<never, string> =>
  Either.left(`must be 0 or at least 1 nanosecond, got ${got}`)

/**
 * The last check of every decoded duration: a bigint (or a `Duration` of nanoseconds) too large
 * for a number has infinitely many milliseconds.
 */
const finiteMillis = (d: Duration.Duration): Either.Either<Duration.Duration, string> =>
  Number.isFinite(Duration.toMillis(d))
    ? Either.right(d)
    : Either.left("must be finite, got a duration whose milliseconds overflow to Infinity")

/**
 * Decodes user input into a finite, non-negative `Duration`, or says why it cannot (the reason
 * completes a sentence that starts with the field name). Effect's own decoder throws on garbage
 * (and on a `[seconds, nanos]` pair that overflows), turns negative numbers into zero, and rounds
 * a duration below one nanosecond to zero; none of that is acceptable for user input. Never throws.
 */
export const decodeDuration = (input: unknown): Either.Either<Duration.Duration, string> => {
  if (Duration.isDuration(input)) {
    return Duration.isFinite(input) ? finiteMillis(input) : Either.left("must be finite")
  }
  switch (typeof input) {
    case "number":
      if (Number.isNaN(input)) return Either.left("must be a number of milliseconds, got NaN")
      if (input < 0) return Either.left(`must not be negative, got ${input}`)
      if (!Number.isFinite(input)) return Either.left("must be finite, got Infinity")
      if (belowOneNano(input)) return subNanosecond(`${input} ms`)
      return Either.right(Duration.millis(input))
    case "bigint":
      return input < 0n ? Either.left(`must not be negative, got ${input}n`) : finiteMillis(Duration.nanos(input))
    case "string": {
      const trimmed = input.trim()
      const match = pattern.exec(trimmed)
      if (match === null) return Either.left(`must be a duration such as "5 seconds", got "${input}"`)
      const value = Number(match[1])
      if (value < 0) return Either.left(`must not be negative, got "${input}"`)
      const ms = unitToMillis(value, match[2]!)
      // The number form's rules: a number that overflows is refused like `Infinity`.
      if (!Number.isFinite(ms)) return Either.left(`must be finite, got "${input}"`)
      if (belowOneNano(ms)) return subNanosecond(`"${input}"`)
      // Effect's parser is exact for what it accepts (nanos and micros as bigints).
      return finiteMillis(
        effectPattern.test(trimmed) ? Duration.decode(trimmed as Duration.DurationInput) : Duration.millis(ms)
      )
    }
    case "object":
      if (Array.isArray(input) && input.length === 2 && input.every((n) => typeof n === "number")) {
        const [seconds, nanos] = input as [number, number]
        if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return Either.left("must be finite")
        if (seconds < 0 || nanos < 0) return Either.left("must not be negative")
        const total = seconds * 1e9 + nanos
        // Effect counts the pair in nanoseconds and throws a RangeError past a number's range.
        if (!Number.isFinite(total)) {
          return Either.left(`must be finite, got [${seconds}, ${nanos}] (too many nanoseconds to count)`)
        }
        if (total > 0 && total < 1) return subNanosecond(`[${seconds}, ${nanos}]`)
        return finiteMillis(Duration.decode([seconds, nanos]))
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
