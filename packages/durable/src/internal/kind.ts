/**
 * A kind's declaration, checked once when `DurableOffload.kind` is called and kept on the kind:
 * either the resolved policies every other module reads, or the first problem (field and reason)
 * that every use of the kind reports as `InvalidKind`.
 *
 * Invariants: an unknown option is refused by name; defaults are applied here and only here;
 * `codec` is the payload schema's JSON codec (`Schema.toCodecJson`), so a payload with dates or
 * other non-JSON values round-trips through the store's text column.
 */
import { Backoff } from "@fibervisor/core"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { KindOptions, RetryInput } from "../DurableOffload.js"
import { describe, durationMillis, knownKeys, label, positiveInt, type Problem } from "./options.js"

/** The longest kind name and key accepted (the SQL stores index them). */
export const maxNameLength = 200
/** @see maxNameLength */
export const maxKeyLength = 512

/** What a kind runs with, defaults applied. */
export interface ResolvedKind {
  readonly name: string
  readonly codec: Schema.Codec<unknown, unknown>
  readonly key: ((payload: unknown) => string) | undefined
  readonly dedupe: "in-flight" | "ever"
  readonly maxAttempts: number
  readonly retry: Schedule.Schedule<unknown, RetryInput>
  /** Per-attempt timeout in ms; `undefined` when none. */
  readonly timeoutMs: number | undefined
  /** Handlers running at once per replica. */
  readonly concurrency: number
  readonly redact: (payload: unknown) => unknown
}

/** The default retry: exponential from 1 second, ×2, at most 5 minutes, equal jitter. */
export const defaultRetry: Schedule.Schedule<unknown, RetryInput> = Backoff.exponential({
  first: "1 second",
  max: "5 minutes",
  jitter: "equal"
})

/** @see ResolvedKind.maxAttempts */
export const defaultMaxAttempts = 5

/** Keys only: a payload's field names, never its values (logs and `inspect` summaries). */
export const keysOnly = (payload: unknown): unknown =>
  typeof payload === "object" && payload !== null && !Array.isArray(payload)
    ? { keys: Object.keys(payload) }
    : { type: Array.isArray(payload) ? "array" : typeof payload }

const known = ["payload", "key", "dedupe", "maxAttempts", "retry", "timeout", "concurrency", "redact"]

/** Checks a declaration: the resolved kind, or the first problem. */
export const resolve = (
  name: unknown,
  options: KindOptions<any, any> | undefined
): Result.Result<ResolvedKind, Problem> =>
  Result.gen(function* () {
    const kindName = yield* Result.mapError(label(name, maxNameLength), (reason) => ({ field: "name", reason }))
    const o = yield* knownKeys(options, known)
    if (options === undefined) return yield* Result.fail({ field: "payload", reason: "is required (a Schema)" })
    if (!Schema.isSchema(o.payload)) {
      return yield* Result.fail({ field: "payload", reason: `must be a Schema, got ${describe(o.payload)}` })
    }
    const codec = yield* Result.try({
      try: () => Schema.toCodecJson(o.payload as Schema.Top) as unknown as Schema.Codec<unknown, unknown>,
      catch: (e) => ({ field: "payload", reason: `has no JSON form: ${e instanceof Error ? e.message : String(e)}` })
    })
    if (o.key !== undefined && typeof o.key !== "function") {
      return yield* Result.fail({ field: "key", reason: `must be a function of the payload, got ${describe(o.key)}` })
    }
    const dedupe = o.dedupe ?? "in-flight"
    if (dedupe !== "in-flight" && dedupe !== "ever") {
      return yield* Result.fail({ field: "dedupe", reason: `must be "in-flight" or "ever", got ${describe(dedupe)}` })
    }
    const maxAttempts = yield* field(
      "maxAttempts",
      o.maxAttempts === undefined ? Result.succeed(defaultMaxAttempts) : positiveInt(o.maxAttempts)
    )
    let retry = defaultRetry
    if (o.retry !== undefined) {
      if (!Schedule.isSchedule(o.retry)) {
        return yield* Result.fail({ field: "retry", reason: `must be a Schedule, got ${describe(o.retry)}` })
      }
      // A Backoff built with bad options carries its problem: report it under `retry`.
      const checked = Backoff.validate(o.retry)
      if (Result.isFailure(checked)) {
        const inner = checked.failure.field.replace(/^backoff\.?/, "")
        return yield* Result.fail({ field: inner === "" ? "retry" : `retry.${inner}`, reason: checked.failure.reason })
      }
      retry = o.retry as Schedule.Schedule<unknown, RetryInput>
    }
    const timeoutMs = o.timeout === undefined ? 0 : yield* field("timeout", durationMillis(o.timeout))
    const concurrency = yield* field(
      "concurrency",
      o.concurrency === undefined ? Result.succeed(1) : positiveInt(o.concurrency)
    )
    if (o.redact !== undefined && typeof o.redact !== "function") {
      return yield* Result.fail({
        field: "redact",
        reason: `must be a function of the payload, got ${describe(o.redact)}`
      })
    }
    return {
      name: kindName,
      codec,
      key: o.key as ((payload: unknown) => string) | undefined,
      dedupe,
      maxAttempts,
      retry,
      timeoutMs: timeoutMs === 0 ? undefined : timeoutMs,
      concurrency,
      redact: (o.redact as ((payload: unknown) => unknown) | undefined) ?? keysOnly
    }
  })

const field = <A>(name: string, result: Result.Result<A, string>): Result.Result<A, Problem> =>
  Result.mapError(result, (reason) => ({ field: name, reason }))
