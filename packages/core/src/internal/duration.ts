import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

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
  return `${typeof input} ${String(input)}`
}

export const toMillis = (d: Duration.Duration): number => Duration.toMillis(d)
