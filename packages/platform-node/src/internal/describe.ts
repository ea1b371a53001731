/**
 * How an options error names the value it refuses.
 *
 * @internal
 */
import * as Duration from "effect/Duration"

/**
 * A short, single-line description of `value`, for the `reason` of an options error: strings
 * quoted (JSON escapes, so no line break gets through), numbers as JavaScript spells them (`NaN`,
 * `Infinity`, `-Infinity`, `-0`), bigints with their `n`, symbols as `Symbol(description)`, a
 * `Duration` as `Duration(…)`; any other object by its kind: `an array`, `a function`, `an object`.
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
