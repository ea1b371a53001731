/**
 * Durations from user input, and how a refused value is named in an error message.
 *
 * `decodeDuration` is the one rule for every duration option of core (task and supervisor options,
 * `Backoff`, the offload config, the `cancel` and `awaitIdle` timeouts): it never throws, and it
 * refuses what Effect's own decoder lets through or throws on (infinite, negative, below one
 * nanosecond, an object that is not a duration). `describe` prints a value in those messages. The
 * timer helpers wrap Effect's; the caveat on what may be timed is theirs.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { maxTimerMs as timerLimit, objectFields as durationObjectFields, stringPattern } from "../DurationInput.js"

/** What Effect's own parser accepts: a number without an exponent, a space, a unit. */
const effectPattern = stringPattern

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

/** The fields of Effect 4's `Duration.DurationObject`, and what each is worth in milliseconds. */
const millisPer: Readonly<Record<keyof Duration.DurationObject, number>> = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1_000,
  milliseconds: 1,
  microseconds: 1e-3,
  nanoseconds: 1e-6
}
const objectUnits: ReadonlyArray<readonly [keyof Duration.DurationObject, number]> = durationObjectFields.map(
  (field) => [field, millisPer[field]] as const
)
const objectFields: ReadonlySet<string> = new Set(durationObjectFields)

/** Below one nanosecond Effect rounds a duration to zero, which would read as "none": refused. */
const belowOneNano = (ms: number): boolean => ms > 0 && ms < 1e-6

const subNanosecond = (got: string): Result.Result<never, string> =>
  Result.fail(`must be 0 or at least 1 nanosecond, got ${got}`)

/**
 * The last check of every decoded duration: a bigint (or a `Duration` of nanoseconds) too large
 * for a number has infinitely many milliseconds.
 */
const finiteMillis = (d: Duration.Duration): Result.Result<Duration.Duration, string> =>
  Number.isFinite(Duration.toMillis(d))
    ? Result.succeed(d)
    : Result.fail("must be finite, got a duration whose milliseconds overflow to Infinity")

/**
 * A `Duration.DurationObject` (`{ seconds: 5 }`, new in Effect 4's `Duration.Input`): every field a
 * known unit holding a finite, non-negative number. `undefined` when `input` is not such an object
 * at all (no field, or a field that is not a unit), so the caller reports it as "not a duration".
 */
const decodeObject = (input: object): Result.Result<Duration.Duration, string> | undefined => {
  const fields = Object.keys(input)
  if (fields.length === 0 || !fields.every((field) => objectFields.has(field))) return undefined
  const o = input as Readonly<Record<string, unknown>>
  let ms = 0
  for (const [field, unit] of objectUnits) {
    const value = o[field]
    if (value === undefined) continue
    if (typeof value !== "number") return Result.fail(`${field} must be a number, got ${describe(value)}`)
    if (Number.isNaN(value)) return Result.fail(`${field} must be a number, got NaN`)
    if (value < 0) return Result.fail(`must not be negative, got ${field}: ${value}`)
    if (!Number.isFinite(value)) return Result.fail(`must be finite, got ${field}: ${value}`)
    ms += value * unit
  }
  if (!Number.isFinite(ms)) return Result.fail("must be finite, got a duration whose milliseconds overflow to Infinity")
  if (belowOneNano(ms)) return subNanosecond("a duration object")
  return finiteMillis(Duration.fromInputUnsafe(input as Duration.DurationObject))
}

/**
 * Decodes user input into a finite, non-negative `Duration`, or says why it cannot (the reason
 * completes a sentence that starts with the field name). Effect's own decoder throws on garbage,
 * accepts infinite and (since Effect 4) negative durations, and rounds a duration below one
 * nanosecond to zero; none of that is acceptable for user input. Never throws.
 */
export const decodeDuration = (input: unknown): Result.Result<Duration.Duration, string> => {
  if (Duration.isDuration(input)) {
    if (Duration.isNegative(input)) return Result.fail(`must not be negative, got ${Duration.format(input)}`)
    return Duration.isFinite(input) ? finiteMillis(input) : Result.fail("must be finite")
  }
  switch (typeof input) {
    case "number":
      if (Number.isNaN(input)) return Result.fail("must be a number of milliseconds, got NaN")
      if (input < 0) return Result.fail(`must not be negative, got ${input}`)
      if (!Number.isFinite(input)) return Result.fail("must be finite, got Infinity")
      if (belowOneNano(input)) return subNanosecond(`${input} ms`)
      return Result.succeed(Duration.millis(input))
    case "bigint":
      return input < 0n ? Result.fail(`must not be negative, got ${input}n`) : finiteMillis(Duration.nanos(input))
    case "string": {
      const trimmed = input.trim()
      // Effect 4's `Duration.Input` includes these two strings.
      if (trimmed === "Infinity") return Result.fail(`must be finite, got "${input}"`)
      if (trimmed === "-Infinity") return Result.fail(`must not be negative, got "${input}"`)
      const match = pattern.exec(trimmed)
      if (match === null) return Result.fail(`must be a duration such as "5 seconds", got "${input}"`)
      const value = Number(match[1])
      if (value < 0) return Result.fail(`must not be negative, got "${input}"`)
      const ms = unitToMillis(value, match[2]!)
      // The number form's rules: a number that overflows is refused like `Infinity`.
      if (!Number.isFinite(ms)) return Result.fail(`must be finite, got "${input}"`)
      if (belowOneNano(ms)) return subNanosecond(`"${input}"`)
      // Effect's parser is exact for what it accepts (sub-millisecond values as bigint nanoseconds).
      return finiteMillis(
        effectPattern.test(trimmed) ? Duration.fromInputUnsafe(trimmed as Duration.Input) : Duration.millis(ms)
      )
    }
    case "object":
      if (Array.isArray(input) && input.length === 2 && input.every((n) => typeof n === "number")) {
        const [seconds, nanos] = input as [number, number]
        if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return Result.fail("must be finite")
        if (seconds < 0 || nanos < 0) return Result.fail("must not be negative")
        const total = seconds * 1e9 + nanos
        // Effect 4 turns a pair past a number's range into an infinite duration.
        if (!Number.isFinite(total)) {
          return Result.fail(`must be finite, got [${seconds}, ${nanos}] (too many nanoseconds to count)`)
        }
        if (total > 0 && total < 1) return subNanosecond(`[${seconds}, ${nanos}]`)
        return finiteMillis(Duration.fromInputUnsafe([seconds, nanos]))
      }
      if (input !== null && !Array.isArray(input)) {
        const decoded = decodeObject(input)
        if (decoded !== undefined) return decoded
      }
  }
  return Result.fail(`must be a duration, got ${describe(input)}`)
}

/**
 * A short, single-line description of `value`, for the `reason` of an options error (the one
 * value printer of every fibervisor package): strings quoted (JSON escapes, so no line break gets
 * through), numbers as JavaScript spells them (`NaN`, `Infinity`, `-Infinity`, `-0`), bigints with
 * their `n`, symbols as `Symbol(description)`, a `Duration` as `Duration(…)`; any other object by
 * its kind: `an array`, `a function`, `an object`. Never throws.
 */
export const describe = (value: unknown): string => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "number":
      return Object.is(value, -0) ? "-0" : String(value)
    case "bigint":
      return `${value}n`
    case "boolean":
    case "undefined":
    case "symbol":
      return String(value)
    case "function":
      return "a function"
    case "object":
      if (value === null) return "null"
      if (Array.isArray(value)) return "an array"
      // Effect 4's `String(duration)` reads `5000 millis`; `Duration(5s)` keeps the unit readable.
      if (Duration.isDuration(value)) return `Duration(${Duration.format(value)})`
      return "an object"
  }
}

/**
 * Node timers hold at most 2^31 - 1 ms. Effect 4's clock chains longer sleeps itself (Effect 3
 * treated them as infinite); fibervisor still uses the limit where a delay is reported.
 */
export const maxTimerMs = timerLimit

export const toMillis = (d: Duration.Duration): number => Duration.toMillis(d)

/** `Effect.sleep` of a number of milliseconds (any length: Effect 4 chains timers past Node's limit). */
export const sleepMillis = (ms: number): Effect.Effect<void> => Effect.sleep(Duration.millis(ms))

/**
 * `Effect.timeoutOption` of a number of milliseconds. In Effect 4 the timed effect runs in an
 * interruptible fiber of its own, even inside an uninterruptible region (a finalizer), and is
 * interrupted at the deadline: time only waits with it, never work that must not be cut short.
 */
export const timeoutOptionMillis = <A>(effect: Effect.Effect<A>, ms: number): Effect.Effect<Option.Option<A>> =>
  Effect.timeoutOption(effect, Duration.millis(ms))

/** `timeoutOptionMillis`, mapping the result (Effect 3's `timeoutTo`); same caveat on what it may time. */
export const timeoutToMillis = <A, B>(
  effect: Effect.Effect<A>,
  ms: number,
  onSuccess: (a: A) => B,
  onTimeout: () => B
): Effect.Effect<B> =>
  Effect.map(timeoutOptionMillis(effect, ms), Option.match({ onNone: onTimeout, onSome: onSuccess }))
