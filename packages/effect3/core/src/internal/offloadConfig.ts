import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { decodeDuration, describe } from "./duration.js"

/** A finite, non-negative duration given as any `Duration.DurationInput`. */
const DurationInput = Schema.transformOrFail(Schema.Unknown, Schema.DurationFromSelf, {
  strict: true,
  decode: (input, _, ast) =>
    Either.match(decodeDuration(input), {
      onLeft: (reason) => ParseResult.fail(new ParseResult.Type(ast, input, reason)),
      onRight: ParseResult.succeed
    }),
  encode: ParseResult.succeed
})

const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.toMillis(d) > 0 || "must be greater than zero")
)

const PositiveInt = Schema.Number.pipe(
  Schema.filter((n) => (Number.isInteger(n) && n >= 1) || `must be a positive integer, got ${n}`)
)

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The reason for a value that is not an object where one is expected. Only for the struct's own
 * type issue: a problem inside the object keeps its own message and path (no `override`).
 */
const mustBeAnObject = (shape: string) => (issue: ParseResult.ParseIssue) =>
  `must be an object ${shape}, got ${describe(issue.actual)}`

const TimeoutPolicy = Schema.Struct({
  after: PositiveDuration,
  policy: Schema.Literal("cancel", "warn").annotations({
    message: (issue) => ({ message: `must be "cancel" or "warn", got ${describe(issue.actual)}`, override: true })
  })
}).annotations({ message: mustBeAnObject("{ after, policy }") })

const Flag = Schema.Boolean.annotations({
  message: (issue) => ({ message: `must be true or false, got ${describe(issue.actual)}`, override: true })
})

const KindLimits = Schema.Struct({
  maxConcurrent: Schema.optional(PositiveInt),
  timeout: Schema.optional(TimeoutPolicy),
  logFailures: Schema.optional(Flag)
}).annotations({ message: mustBeAnObject("{ maxConcurrent?, timeout?, logFailures? }") })

/** What `onFull` was, when it is neither `"reject"` nor `{ queue: n }`: the queue is named when there is one. */
const describeOnFull = (actual: unknown): string => {
  if (!isPlainObject(actual)) return describe(actual)
  const unexpected = Object.keys(actual).find((key) => key !== "queue")
  if (unexpected !== undefined) return `an object with the unexpected field ${describe(unexpected)}`
  return "queue" in actual ? `{ queue: ${describe(actual.queue)} }` : "an object without queue"
}

const OnFull = Schema.Union(Schema.Literal("reject"), Schema.Struct({ queue: PositiveInt })).annotations({
  message: (issue) => ({
    message: `must be "reject" or { queue: n } with n a positive integer, got ${describeOnFull(issue.actual)}`,
    override: true
  })
})

const PerKind = Schema.Record({ key: Schema.String, value: KindLimits }).annotations({
  message: mustBeAnObject("{ [kind]: { maxConcurrent?, timeout?, logFailures? } }")
})

export const OffloadConfigSchema = Schema.Struct({
  maxConcurrent: Schema.optional(PositiveInt),
  perKind: Schema.optional(PerKind),
  onFull: Schema.optional(OnFull),
  timeout: Schema.optional(TimeoutPolicy),
  deduplicate: Schema.optional(Schema.Boolean),
  grace: Schema.optional(DurationInput),
  logFailures: Schema.optional(Flag)
})

export interface ResolvedTimeout {
  readonly afterMs: number
  readonly policy: "cancel" | "warn"
}

export interface ResolvedKind {
  readonly maxConcurrent: number
  readonly timeout: ResolvedTimeout | undefined
  /** Does the service log this kind's failures (they are counted either way)? */
  readonly logFailures: boolean
}

export interface ResolvedConfig {
  readonly maxConcurrent: number
  readonly perKind: ReadonlyMap<string, ResolvedKind>
  /** Capacity of the wait queue; 0 = reject when full. */
  readonly queue: number
  readonly timeout: ResolvedTimeout | undefined
  readonly deduplicate: boolean
  readonly graceMs: number
  /** The limits of a kind without its own `perKind` entry. */
  readonly defaultKind: ResolvedKind
}

const timeoutOf = (t: typeof TimeoutPolicy.Type | undefined): ResolvedTimeout | undefined =>
  t === undefined ? undefined : { afterMs: Duration.toMillis(t.after), policy: t.policy }

/** Decodes a user config; the failure names the first bad field (`perKind.revalidate.maxConcurrent`). */
export const resolveConfig = (
  input: unknown
): Either.Either<ResolvedConfig, { readonly field: string; readonly reason: string }> => {
  if (input !== undefined && (typeof input !== "object" || input === null || Array.isArray(input))) {
    return Either.left({ field: "config", reason: `must be an object, got ${describe(input)}` })
  }
  return Either.mapBoth(
    Schema.decodeUnknownEither(OffloadConfigSchema, { onExcessProperty: "error" })(input ?? {}, { errors: "first" }),
    {
      onLeft: (error) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
        return {
          field: issue === undefined || issue.path.length === 0 ? "config" : issue.path.map(String).join("."),
          reason: issue?.message ?? "is invalid"
        }
      },
      onRight: (config) => {
        const timeout = timeoutOf(config.timeout)
        const logFailures = config.logFailures ?? true
        const perKind = new Map<string, ResolvedKind>()
        for (const [kind, limits] of Object.entries(config.perKind ?? {})) {
          perKind.set(kind, {
            maxConcurrent: limits.maxConcurrent ?? Number.POSITIVE_INFINITY,
            timeout: limits.timeout === undefined ? timeout : timeoutOf(limits.timeout),
            logFailures: limits.logFailures ?? logFailures
          })
        }
        return {
          maxConcurrent: config.maxConcurrent ?? Number.POSITIVE_INFINITY,
          perKind,
          queue: config.onFull === undefined || config.onFull === "reject" ? 0 : config.onFull.queue,
          timeout,
          deduplicate: config.deduplicate ?? true,
          graceMs: config.grace === undefined ? 10_000 : Duration.toMillis(config.grace),
          defaultKind: { maxConcurrent: Number.POSITIVE_INFINITY, timeout, logFailures }
        }
      }
    }
  )
}
