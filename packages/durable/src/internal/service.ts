/**
 * The `DurableOffload` service over a `Store`: `enqueue` (checks, encoding, dedupe through the
 * store, metrics), the operator calls (`inspect`, `list`, `cancel`, `retryFailed`, `counts`,
 * `cleanup`), and the state it shares with the workers of the same process (`Internals`).
 *
 * Data flow: a producer's `enqueue` → the kind's checks → the key → the envelope (payload +
 * traceparent) → `store.enqueue` → the local poller of that kind is woken. `cancel` asks the store
 * first; a job the store reports `running` is interrupted here when this process runs it (the
 * worker's settle step then releases and cancels the row).
 *
 * Invariants: time is read from `Clock` only; a closed service (its scope closed) rejects every
 * enqueue; payloads never reach a log line (keys only, or the kind's `redact`).
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { CancelOutcome, DurableOffload, Job, Kind } from "../DurableOffload.js"
import { KindTypeId } from "../DurableOffload.js"
import { InvalidKind, InvalidOptions, PayloadError } from "../DurableOffloadError.js"
import * as envelope from "./envelope.js"
import { maxKeyLength, type ResolvedKind } from "./kind.js"
import * as metrics from "./metrics.js"
import { durationMillis, knownKeys, label, positiveInt } from "./options.js"
import type { DurableStore, JobRow, JobStatus } from "./store.js"
import type { StoreError } from "./storeError.js"
import { Store } from "./store.js"

/** Why a local run was interrupted from outside: the settle step reads it to end the row. */
export type StopReason = "shutdown" | "cancel" | "lease-lost"

/** A job this process is running. */
export interface LocalRun {
  readonly row: JobRow
  /** Set before the run's fiber is interrupted from outside. */
  reason: StopReason | undefined
  /** What the cancel step found (set by the run when `reason` is `"cancel"`). */
  cancelled: CancelOutcome | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
}

/** What the service shares with the workers of this process. */
export interface Internals {
  readonly store: DurableStore
  closed: boolean
  /** Per kind, the runs of this process by job id. */
  readonly runs: Map<string, Map<string, LocalRun>>
  /** Per kind, wakes its poller (a local enqueue, a freed slot). */
  readonly wakers: Map<string, () => void>
  /**
   * Per kind, the times (ascending, at most `maxDueTimes`) at which jobs this process stored become
   * due (delayed enqueues, retries): the poller wakes then rather than at its next interval, so
   * delays are exact. Past the cap the latest are dropped: the poll interval still finds them.
   */
  readonly due: Map<string, Array<number>>
  /** Kinds that have workers on this service (one `workers` layer per kind). */
  readonly served: Set<string>
}

/** Notes that a job of `kind` becomes due at `at`: wakes the poller now, or then. */
export const noteDue = (internals: Internals, kind: string, at: number, now: number): void => {
  if (at <= now) {
    internals.wakers.get(kind)?.()
    return
  }
  let times = internals.due.get(kind)
  if (times === undefined) {
    times = []
    internals.due.set(kind, times)
  }
  let lo = 0
  let hi = times.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (times[mid]! < at) lo = mid + 1
    else hi = mid
  }
  if (times[lo] === at) return
  times.splice(lo, 0, at)
  if (times.length > maxDueTimes) times.pop()
  // The poller may be asleep for a whole interval: wake it so that it sleeps until the earliest.
  if (lo === 0) internals.wakers.get(kind)?.()
}

/** @see Internals.due */
export const maxDueTimes = 1_000

/** Drops the due times that have passed; the earliest one left, if any. */
export const nextDue = (internals: Internals, kind: string, now: number): number | undefined => {
  const times = internals.due.get(kind)
  if (times === undefined) return undefined
  let passed = 0
  while (passed < times.length && times[passed]! <= now) passed++
  if (passed > 0) times.splice(0, passed)
  return times[0]
}

/** Where the service keeps its `Internals`: not part of the public interface. */
export const InternalsKey: unique symbol = Symbol.for("@fibervisor/durable/internal/Internals")

/** The internals of a service built here, or `undefined` for another implementation (a test double). */
export const internalsOf = (service: DurableOffload): Internals | undefined =>
  (service as DurableOffload & { readonly [InternalsKey]?: Internals })[InternalsKey]

/** The kind's declaration, or its `InvalidKind`. */
export const resolved = (kind: Kind<any, any>): Effect.Effect<ResolvedKind, InvalidKind> => {
  const state = kind?.[KindTypeId]
  if (state === undefined) {
    return Effect.fail(
      new InvalidKind({ kind: String(kind?.name), field: "kind", reason: "is not a DurableOffload kind" })
    )
  }
  return Result.match(state.resolved, {
    onFailure: Effect.fail,
    onSuccess: (k) => Effect.succeed(k as ResolvedKind)
  })
}

const toJob = <A>(kind: ResolvedKind, row: JobRow): Effect.Effect<Job<A>> =>
  Effect.map(Effect.option(envelope.decode(kind.codec, row.payload)), (decoded) => ({
    id: row.id,
    kind: row.kind,
    key: row.key,
    payload: Option.map(decoded, (d) => d.payload as A),
    status: row.status,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    runAt: row.runAt,
    lockedBy: row.lockedBy,
    lastError: row.lastError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    finishedAt: row.finishedAt
  }))

const enqueueOptions = (options: unknown): Result.Result<{ delayMs: number; key: unknown }, InvalidOptions> => {
  const fail = (field: string, reason: string) =>
    Result.fail(new InvalidOptions({ operation: "enqueue", field, reason }))
  const checked = knownKeys(options, ["delay", "key"])
  if (Result.isFailure(checked)) return fail(checked.failure.field, checked.failure.reason)
  const o = checked.success
  if (o.delay === undefined) return Result.succeed({ delayMs: 0, key: o.key })
  const delay = durationMillis(o.delay)
  if (Result.isFailure(delay)) return fail("delay", delay.failure)
  return Result.succeed({ delayMs: delay.success, key: o.key })
}

/**
 * The key of a job: the `key` option, else the kind's key function, else a fresh unique key; or
 * why it cannot be used (the job is then rejected).
 */
export const keyFor = (kind: ResolvedKind, payload: unknown, override: unknown): Result.Result<string, string> => {
  let key: unknown = override
  if (key === undefined && kind.key !== undefined) {
    try {
      key = kind.key(payload)
    } catch (e) {
      return Result.fail(`the kind's key function threw: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  if (key === undefined) return Result.succeed(`auto:${randomUUID()}`)
  return Result.mapError(label(key, maxKeyLength), (reason) => `invalid key: ${reason}`)
}

/** Checks `enqueue`'s options: the delay in ms and the key override (checked by `keyFor`). */
export const checkEnqueueOptions = (
  options: unknown
): Result.Result<{ delayMs: number; key: unknown }, InvalidOptions> => enqueueOptions(options)

/** Logs a refused enqueue; the payload appears only through the kind's `redact`. */
const logRejected = (kind: ResolvedKind, reason: string, payload: unknown) =>
  Effect.logWarning(`durable enqueue rejected: ${reason}`).pipe(
    Effect.annotateLogs({ fibervisor: "durable", kind: kind.name, payload: safeRedact(kind, payload) })
  )

/** The kind's `redact`, guarded: a throwing redactor shows nothing rather than failing the caller. */
export const safeRedact = (kind: ResolvedKind, payload: unknown): unknown => {
  try {
    return kind.redact(payload)
  } catch {
    return "<redact failed>"
  }
}

const bump = (counter: Metric.Counter<number>) => Metric.update(counter, 1)

/** Builds the service on the `Store` in context. */
export const make: Effect.Effect<DurableOffload, never, DurableStore | Scope.Scope> = Effect.gen(function* () {
  const store = yield* Store
  const internals: Internals = {
    store,
    closed: false,
    runs: new Map(),
    wakers: new Map(),
    due: new Map(),
    served: new Set()
  }
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      internals.closed = true
    })
  )

  const enqueue: DurableOffload["enqueue"] = (kind, payload, options) =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const opts = yield* Result.match(enqueueOptions(options), { onFailure: Effect.fail, onSuccess: Effect.succeed })
      const m = metrics.of(k.name)
      if (internals.closed) {
        yield* bump(m.rejected)
        yield* logRejected(k, "the service is closed", payload)
        return "rejected" as const
      }
      const checkedKey = keyFor(k, payload, opts.key)
      if (Result.isFailure(checkedKey)) {
        yield* bump(m.rejected)
        yield* logRejected(k, checkedKey.failure, payload)
        return "rejected" as const
      }
      const traceparent = yield* envelope.currentTraceparent
      const text = yield* Effect.mapError(
        envelope.encode(k.codec, payload, traceparent),
        (reason) => new PayloadError({ kind: k.name, reason })
      )
      const now = yield* Clock.currentTimeMillis
      const outcome = yield* store.enqueue({
        kind: k.name,
        key: checkedKey.success,
        payload: text,
        dedupe: k.dedupe,
        maxAttempts: k.maxAttempts,
        runAt: now + opts.delayMs,
        now
      })
      if (outcome === "enqueued") {
        yield* bump(m.spawned)
        noteDue(internals, k.name, now + opts.delayMs, now)
      } else {
        yield* bump(m.deduplicated)
      }
      return outcome
    })

  const inspect = <A, I>(
    kind: Kind<A, I>,
    key: string
  ): Effect.Effect<Option.Option<Job<A>>, InvalidKind | StoreError> =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const row = yield* store.inspect(k.name, key)
      return row === undefined ? Option.none() : Option.some(yield* toJob<A>(k, row))
    })

  const list = <A, I>(
    kind: Kind<A, I>,
    status: JobStatus,
    options?: { readonly limit?: number | undefined }
  ): Effect.Effect<ReadonlyArray<Job<A>>, InvalidKind | InvalidOptions | StoreError> =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const checked = knownKeys(options, ["limit"])
      if (Result.isFailure(checked)) return yield* new InvalidOptions({ operation: "list", ...checked.failure })
      const limit = checked.success.limit === undefined ? Result.succeed(100) : positiveInt(checked.success.limit)
      if (Result.isFailure(limit))
        return yield* new InvalidOptions({ operation: "list", field: "limit", reason: limit.failure })
      const statuses = ["pending", "running", "completed", "failed", "cancelled"]
      if (!statuses.includes(status)) {
        return yield* new InvalidOptions({
          operation: "list",
          field: "status",
          reason: `must be one of ${statuses.join(", ")}, got ${String(status)}`
        })
      }
      const rows = yield* store.list(k.name, status, limit.success)
      return yield* Effect.forEach(rows, (row) => toJob<A>(k, row))
    })

  const cancel: DurableOffload["cancel"] = (kind, key) =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const now = yield* Clock.currentTimeMillis
      const outcome = yield* store.cancel(k.name, key, now)
      if (outcome !== "running") return outcome
      const local = findLocal(internals, k.name, key)
      if (local === undefined || local.fiber === undefined) return "running" as const
      local.reason = "cancel"
      yield* Fiber.interrupt(local.fiber)
      return local.cancelled ?? ("running" as const)
    })

  const retryFailed: DurableOffload["retryFailed"] = (kind, key) =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const now = yield* Clock.currentTimeMillis
      const count = yield* store.retryFailed(k.name, key, now)
      if (count > 0) internals.wakers.get(k.name)?.()
      return count
    })

  const counts: DurableOffload["counts"] = (kind) =>
    Effect.gen(function* () {
      const k = yield* resolved(kind)
      const counts = yield* store.counts(k.name)
      yield* Metric.update(metrics.of(k.name).queued, counts.pending)
      return counts
    })

  const cleanup: DurableOffload["cleanup"] = (options) =>
    Effect.gen(function* () {
      const checked = knownKeys(options, ["olderThan"])
      if (Result.isFailure(checked)) return yield* new InvalidOptions({ operation: "cleanup", ...checked.failure })
      const olderThan = durationMillis(checked.success.olderThan)
      if (Result.isFailure(olderThan)) {
        return yield* new InvalidOptions({ operation: "cleanup", field: "olderThan", reason: olderThan.failure })
      }
      const now = yield* Clock.currentTimeMillis
      return yield* store.cleanup(now - olderThan.success)
    })

  const service: DurableOffload & { readonly [InternalsKey]: Internals } = {
    [InternalsKey]: internals,
    enqueue,
    inspect,
    list,
    cancel,
    retryFailed,
    counts,
    cleanup
  }
  return service
})

/** The local run of (kind, key), if this process runs it. */
export const findLocal = (internals: Internals, kind: string, key: string): LocalRun | undefined => {
  const runs = internals.runs.get(kind)
  if (runs === undefined) return undefined
  for (const run of runs.values()) if (run.row.key === key) return run
  return undefined
}
