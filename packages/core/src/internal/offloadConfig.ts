/**
 * The `Offload.layer` config: a `Schema` (`OffloadConfigSchema`) decoded once per layer into a
 * `ResolvedConfig`, with fibervisor's own messages where Schema's would not say what is wrong.
 *
 * Invariants: an unknown key is refused; only the first problem is reported, with its path
 * (`perKind.revalidate.maxConcurrent`); every duration goes through `decodeDuration`, as every
 * duration option of core does.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import { decodeDuration, describe } from "./duration.js"

/**
 * A message fibervisor writes for a schema, from the value it refused. It replaces every message
 * Schema would give for that schema or anything inside it (a union's members, say).
 */
const messageKey = "@fibervisor/core/message"

/**
 * A message fibervisor writes for a value of the wrong type where an object is expected. Only for
 * the struct's own type issue: a problem inside the object keeps its own message and path.
 */
const typeMessageKey = "@fibervisor/core/typeMessage"

type Message = (input: unknown) => string

/** A finite, non-negative duration given as any `Duration.Input`. */
const DurationInput = Schema.Unknown.pipe(
  Schema.decodeTo(Schema.Duration, {
    decode: SchemaGetter.transformEffect((input, options) =>
      Result.match(decodeDuration(input), {
        onFailure: (reason) => Effect.fail(new SchemaIssue.InvalidValue({ message: reason }, input, options)),
        onSuccess: Effect.succeed
      })
    ),
    encode: SchemaGetter.passthroughSubtype<unknown, Duration.Duration>()
  })
)

const PositiveDuration = DurationInput.check(
  Schema.makeFilter((d: Duration.Duration) => Duration.toMillis(d) > 0 || "must be greater than zero")
)

const PositiveInt = Schema.Number.check(
  Schema.makeFilter((n: number) => (Number.isInteger(n) && n >= 1) || `must be a positive integer, got ${n}`)
)

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const mustBeAnObject =
  (shape: string): Message =>
  (input) =>
    `must be an object ${shape}, got ${describe(input)}`

const TimeoutPolicy = Schema.Struct({
  after: PositiveDuration,
  policy: Schema.Literals(["cancel", "warn"]).annotate({
    [messageKey]: ((input) => `must be "cancel" or "warn", got ${describe(input)}`) satisfies Message
  })
}).annotate({ [typeMessageKey]: mustBeAnObject("{ after, policy }") })

const Flag = Schema.Boolean.annotate({
  [messageKey]: ((input) => `must be true or false, got ${describe(input)}`) satisfies Message
})

const KindLimits = Schema.Struct({
  maxConcurrent: Schema.optional(PositiveInt),
  timeout: Schema.optional(TimeoutPolicy),
  logFailures: Schema.optional(Flag)
}).annotate({ [typeMessageKey]: mustBeAnObject("{ maxConcurrent?, timeout?, logFailures? }") })

/** What `onFull` was, when it is neither `"reject"` nor `{ queue: n }`: the queue is named when there is one. */
const describeOnFull = (actual: unknown): string => {
  if (!isPlainObject(actual)) return describe(actual)
  const unexpected = Object.keys(actual).find((key) => key !== "queue")
  if (unexpected !== undefined) return `an object with the unexpected field ${describe(unexpected)}`
  return "queue" in actual ? `{ queue: ${describe(actual.queue)} }` : "an object without queue"
}

const OnFull = Schema.Union([Schema.Literal("reject"), Schema.Struct({ queue: PositiveInt })]).annotate({
  [messageKey]: ((input) =>
    `must be "reject" or { queue: n } with n a positive integer, got ${describeOnFull(input)}`) satisfies Message
})

const PerKind = Schema.Record(Schema.String, KindLimits).annotate({
  [typeMessageKey]: mustBeAnObject("{ [kind]: { maxConcurrent?, timeout?, logFailures? } }")
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

export interface ConfigProblem {
  readonly field: string
  readonly reason: string
}

const timeoutOf = (t: typeof TimeoutPolicy.Type | undefined): ResolvedTimeout | undefined =>
  t === undefined ? undefined : { afterMs: Duration.toMillis(t.after), policy: t.policy }

/**
 * Unknown keys are refused (a misspelt option is never ignored), the first problem is enough, and
 * Schema's own messages name the value they refused ("Expected number, got \"3\"").
 */
const parseOptions: SchemaAST.ParseOptions = { onExcessProperty: "error", errors: "first", reportInput: true }

const decode = Schema.decodeUnknownResult(OffloadConfigSchema, parseOptions)

const formatLeaf = SchemaIssue.makeFormatterStandardSchemaV1()

const annotation = (issue: SchemaIssue.Issue, key: string): Message | undefined => {
  const ast: SchemaAST.AST | undefined = "ast" in issue ? issue.ast : undefined
  const message = ast?.annotations?.[key]
  return typeof message === "function" ? (message as Message) : undefined
}

const inputOf = (issue: SchemaIssue.Issue): unknown => (SchemaIssue.hasInput(issue) ? issue.input : undefined)

/** The first problem of an issue: where it is, and fibervisor's message for it where it writes one. */
const firstProblem = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey>
): { readonly path: ReadonlyArray<PropertyKey>; readonly message: string } => {
  const override = annotation(issue, messageKey)
  if (override !== undefined) return { path, message: override(inputOf(issue)) }
  switch (issue._tag) {
    case "Pointer":
      return firstProblem(issue.issue, [...path, ...issue.path])
    case "Composite":
      return firstProblem(issue.issues[0], path)
    case "AnyOf": {
      if (issue.issues.length > 0) return firstProblem(issue.issues[0]!, path)
      // An optional field is `X | undefined`: a value of the wrong type matches no member, and the
      // union would only say "Expected X | undefined". The problem is X's, with X's message.
      const members = issue.ast.types.filter((member) => member._tag !== "Undefined")
      if (members.length === 1 && members.length < issue.ast.types.length) {
        const again = Schema.decodeUnknownResult(
          Schema.make<Schema.ConstraintDecoder<unknown>>(members[0]!),
          parseOptions
        )(inputOf(issue))
        if (Result.isFailure(again)) return firstProblem(again.failure.issue, path)
      }
      break
    }
    case "InvalidType": {
      const typeMessage = annotation(issue, typeMessageKey)
      if (typeMessage !== undefined) return { path, message: typeMessage(inputOf(issue)) }
      break
    }
  }
  const leaf = formatLeaf(issue).issues[0]
  return leaf === undefined
    ? { path, message: "is invalid" }
    : { path: [...path, ...(leaf.path ?? []).map((p) => (typeof p === "object" ? p.key : p))], message: leaf.message }
}

/** Decodes a user config; the failure names the first bad field (`perKind.revalidate.maxConcurrent`). */
export const resolveConfig = (input: unknown): Result.Result<ResolvedConfig, ConfigProblem> => {
  if (input !== undefined && (typeof input !== "object" || input === null || Array.isArray(input))) {
    return Result.fail({ field: "config", reason: `must be an object, got ${describe(input)}` })
  }
  return Result.mapBoth(decode(input ?? {}), {
    onFailure: (error): ConfigProblem => {
      const problem = firstProblem(error.issue, [])
      return {
        field: problem.path.length === 0 ? "config" : problem.path.map(String).join("."),
        reason: problem.message
      }
    },
    onSuccess: (config): ResolvedConfig => {
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
  })
}
