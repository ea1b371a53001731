/**
 * Durable background work: work as data (a kind and a Schema-encoded payload) kept in a store
 * (Postgres, SQLite, memory), run at least once by supervised workers, retried on a `Schedule`,
 * dead-lettered after `maxAttempts`, drained on shutdown without losing anything.
 *
 * - `kind(name, options)` declares a kind once, shared by producers and workers;
 * - `enqueue(kind, payload)` stores a job: `"enqueued" | "deduplicated" | "rejected"`;
 * - `workers([kind.handle(handler)])` is a Layer running the handlers in a fibervisor supervisor;
 * - `inspect`, `cancel`, `retryFailed`, `counts`, `list`, `cleanup` operate on stored jobs;
 * - `layer` runs the service on any store; `layerMemory` on a memory store (tests).
 *
 * Guarantees: at-least-once. A job whose worker crashed is run again once its lease expires
 * (counting a new attempt), so handlers must be idempotent. See docs/durable-offload.md.
 *
 * @since 1.0.0
 */
import type { Backoff } from "@fibervisor/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { InvalidKind, InvalidOptions, PayloadError, type StoreError } from "./DurableOffloadError.js"
import * as envelope from "./internal/envelope.js"
import * as kindInternal from "./internal/kind.js"
import * as service from "./internal/service.js"
import * as sqlLayers from "./internal/sqlLayers.js"
import type { PostgresStoreOptions } from "./internal/store/postgres.js"
import { postgresMigrationSql, type PostgresTableOptions } from "./internal/store/postgresSchema.js"
import type { SqliteStoreOptions } from "./internal/store/sqlite.js"
import { sqliteMigrationSql, type SqliteTableOptions } from "./internal/store/sqliteSchema.js"
import type { ClaimInput, Counts, DurableStore, EnqueueInput, JobRow, JobStatus } from "./internal/store.js"
import { Store } from "./internal/store.js"
import * as memory from "./internal/store/memory.js"
import * as worker from "./internal/worker.js"

/**
 * @since 1.0.0
 * @category type ids
 */
export const KindTypeId: unique symbol = Symbol.for("@fibervisor/durable/Kind")

/**
 * @since 1.0.0
 * @category type ids
 */
export type KindTypeId = typeof KindTypeId

/**
 * What the `retry` schedule of a kind is stepped with, once per failed attempt: a core
 * `Backoff.TaskFailure` (so every `Backoff` works) naming the kind (`task`) and the attempt, plus
 * the job.
 *
 * @since 1.0.0
 * @category models
 */
export interface RetryInput extends Backoff.TaskFailure {
  readonly kind: string
  readonly key: string
  readonly jobId: string
}

/**
 * The declaration of a kind of durable work.
 *
 * @since 1.0.0
 * @category models
 */
export interface KindOptions<A, I = unknown> {
  /** The payload's schema; payloads are stored in its JSON form (`Schema.toCodecJson`). */
  readonly payload: Schema.Codec<A, I>
  /**
   * The job's key, from its payload: the dedupe key (and, with `dedupe: "ever"`, the idempotency
   * key). Without it every enqueue gets a fresh key (never deduplicated). `enqueue`'s `key` option
   * overrides it.
   */
  readonly key?: ((payload: A) => string) | undefined
  /**
   * `"in-flight"` (default): a key pending or running is not enqueued again; once it has finished
   * (completed, failed, cancelled) it can be. `"ever"`: a key is accepted once, for as long as the
   * store keeps its record (retention `cleanup` does not free it).
   */
  readonly dedupe?: "in-flight" | "ever" | undefined
  /** Attempts before the job is dead-lettered (default 5). */
  readonly maxAttempts?: number | undefined
  /**
   * The delay before attempt `n + 1` after attempt `n` failed: the schedule's `n`-th delay,
   * replayed from the stored attempt count (so the same after a restart or on another replica).
   * When the schedule ends, the job is dead-lettered. Default: `Backoff.exponential({ first:
   * "1 second", max: "5 minutes", jitter: "equal" })`.
   */
  readonly retry?: Schedule.Schedule<unknown, RetryInput> | undefined
  /** Per-attempt timeout; a timed-out attempt is a failed attempt (retried, counted). Default none. */
  readonly timeout?: Duration.Input | undefined
  /** Handlers of this kind running at once, per replica (default 1). */
  readonly concurrency?: number | undefined
  /** What logs show of a payload (default: its field names only, never values). */
  readonly redact?: ((payload: A) => unknown) | undefined
}

/**
 * What a handler learns about the job it runs.
 *
 * @since 1.0.0
 * @category models
 */
export interface JobContext {
  readonly id: string
  readonly kind: string
  readonly key: string
  /** 1-based; a job released at shutdown runs the same attempt again. */
  readonly attempt: number
  readonly maxAttempts: number
}

/**
 * A kind's handler registered for `workers`.
 *
 * @since 1.0.0
 * @category models
 */
export interface Registration<R> {
  readonly kind: Kind<any, any>
  readonly handler: (payload: unknown, job: JobContext) => Effect.Effect<unknown, unknown, R>
}

/**
 * A kind of durable work: a name, a payload schema and policies. Declare it once and share it
 * between producers (`enqueue`) and workers (`kind.handle`).
 *
 * @since 1.0.0
 * @category models
 */
export interface Kind<A, I = unknown> {
  readonly [KindTypeId]: {
    /** The checked declaration (internal), or the problem every use reports. */
    readonly resolved: Result.Result<unknown, InvalidKind>
    readonly _A: (a: A) => A
    readonly _I: (i: I) => I
  }
  readonly name: string
  /** Registers the handler of this kind, for `DurableOffload.workers`. */
  handle<E, R>(handler: (payload: A, job: JobContext) => Effect.Effect<unknown, E, R>): Registration<R>
}

/**
 * Declares a kind. The declaration is checked here, once; a bad one (an unknown option, a
 * non-positive `maxAttempts`, a `retry` that is not a Schedule…) is reported as `InvalidKind`,
 * naming the field, by every use of the kind (`enqueue`, `workers`, `validateKind`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Backoff } from "@fibervisor/core"
 * import { DurableOffload } from "@fibervisor/durable"
 *
 * export const Revalidate = DurableOffload.kind("revalidate", {
 *   payload: Schema.Struct({ url: Schema.String }),
 *   key: (p) => p.url,
 *   maxAttempts: 5,
 *   retry: Backoff.exponential({ first: "1 second", max: "5 minutes" }),
 *   timeout: "30 seconds",
 *   concurrency: 4
 * })
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const kind = <A, I>(name: string, options: KindOptions<A, I>): Kind<A, I> => {
  const resolved = Result.mapError(
    kindInternal.resolve(name, options),
    (problem) => new InvalidKind({ kind: typeof name === "string" ? name : String(name), ...problem })
  )
  const self: Kind<A, I> = {
    [KindTypeId]: { resolved, _A: (a) => a, _I: (i) => i },
    name,
    handle: (handler) => ({
      kind: self,
      handler: handler as (payload: unknown, job: JobContext) => Effect.Effect<unknown, unknown, never>
    })
  }
  return self
}

/**
 * The kind's declaration checked: the kind, or `InvalidKind` naming the field.
 *
 * @since 1.0.0
 * @category validation
 */
export const validateKind = <A, I>(self: Kind<A, I>): Effect.Effect<Kind<A, I>, InvalidKind> =>
  Result.match(self[KindTypeId].resolved, { onFailure: Effect.fail, onSuccess: () => Effect.succeed(self) })

/**
 * What `enqueue` decided: stored; skipped because the key is in flight (or, under `dedupe:
 * "ever"`, was ever stored); refused (the service is closed, or the key is invalid).
 *
 * @since 1.0.0
 * @category models
 */
export type EnqueueOutcome = "enqueued" | "deduplicated" | "rejected"

/**
 * @since 1.0.0
 * @category models
 */
export interface EnqueueOptions {
  /** Run no earlier than this long from now (default: at once). */
  readonly delay?: Duration.Input | undefined
  /** The job's key, replacing the kind's `key` function. */
  readonly key?: string | undefined
}

/**
 * What `cancel` did: a pending job (or one running in this process, interrupted) is `cancelled`;
 * `"running"` when it runs on another replica (it cannot be interrupted from here and will finish
 * or fail there); `"absent"` when no job of this key is pending or running.
 *
 * @since 1.0.0
 * @category models
 */
export type CancelOutcome = "cancelled" | "running" | "absent"

/**
 * Jobs of a kind per status, and the status of a job.
 *
 * @since 1.0.0
 * @category models
 */
export type { Counts, JobStatus }

/**
 * The store contract (for custom stores provided under `StoreTag`): what a backend must do; the
 * memory, Postgres and SQLite stores implement it.
 *
 * @since 1.0.0
 * @category store
 */
export type { ClaimInput, DurableStore, EnqueueInput, JobRow }

/**
 * A stored job, as `inspect` and `list` show it.
 *
 * @since 1.0.0
 * @category models
 */
export interface Job<A> {
  readonly id: string
  readonly kind: string
  readonly key: string
  /** The decoded payload; `Option.none()` when it no longer decodes with the kind's schema. */
  readonly payload: Option.Option<A>
  readonly status: JobStatus
  /** Attempts started and counted (a released attempt is not counted). */
  readonly attempts: number
  readonly maxAttempts: number
  /** Earliest time (epoch ms) the job may run (the next retry's time while it waits). */
  readonly runAt: number
  /** The replica running it, while `running`. */
  readonly lockedBy: string | null
  /** Why the last attempt failed (a dead letter's reason). */
  readonly lastError: string | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly finishedAt: number | null
}

/**
 * The durable offload service.
 *
 * @since 1.0.0
 * @category models
 */
export interface DurableOffload {
  enqueue<A, I>(
    kind: Kind<A, I>,
    payload: A,
    options?: EnqueueOptions
  ): Effect.Effect<EnqueueOutcome, InvalidKind | InvalidOptions | PayloadError | StoreError>
  /** The latest job of this key, if the store still has it. */
  inspect<A, I>(kind: Kind<A, I>, key: string): Effect.Effect<Option.Option<Job<A>>, InvalidKind | StoreError>
  /** Jobs of a kind in a status, newest first (default limit 100). */
  list<A, I>(
    kind: Kind<A, I>,
    status: JobStatus,
    options?: { readonly limit?: number | undefined }
  ): Effect.Effect<ReadonlyArray<Job<A>>, InvalidKind | InvalidOptions | StoreError>
  /** Cancels the pending or locally running job of this key (see `CancelOutcome`). */
  cancel<A, I>(kind: Kind<A, I>, key: string): Effect.Effect<CancelOutcome, InvalidKind | StoreError>
  /** Dead letters of the kind (one key, or all) back to `pending` with their attempts reset; how many. */
  retryFailed<A, I>(kind: Kind<A, I>, key?: string): Effect.Effect<number, InvalidKind | StoreError>
  /** Jobs of the kind per status (also sets the `fibervisor_offload_queued` gauge). */
  counts<A, I>(kind: Kind<A, I>): Effect.Effect<Counts, InvalidKind | StoreError>
  /**
   * Retention: deletes completed and cancelled jobs (of every kind) finished more than `olderThan`
   * ago; returns how many. Dead letters are kept until retried.
   */
  cleanup(options: { readonly olderThan: Duration.Input }): Effect.Effect<number, InvalidOptions | StoreError>
}

/**
 * The `DurableOffload` service tag.
 *
 * @since 1.0.0
 * @category tags
 */
export const DurableOffload: Context.Service<DurableOffload, DurableOffload> = Context.Service<DurableOffload>(
  "@fibervisor/durable/DurableOffload"
)

/**
 * Builds the service on the `Store` in context; closing the scope closes it (`enqueue` then
 * answers `"rejected"`).
 *
 * @since 1.0.0
 * @category constructors
 */
export const make: Effect.Effect<DurableOffload, never, DurableStore | Scope.Scope> = service.make

/**
 * The service on any store: provide a store layer (`layerMemory` does it for you; the Postgres
 * and SQLite stores are layers of the same `Store`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layer: Layer.Layer<DurableOffload, never, DurableStore> = Layer.effect(DurableOffload, service.make)

/**
 * The service on a fresh memory store: for tests and for work that may be lost with the process.
 * The store is also provided (as the internal `Store`), so `workers` find it.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory: Layer.Layer<DurableOffload | DurableStore> = Layer.provideMerge(layer, memory.layer)

/**
 * Options of `layerPostgres` (`url` or a `client` you own, `tableName`, `schema`, `maxConnections`,
 * `migrate`) and `layerSqlite` (`filename` or `client`, `tableName`, `busyTimeout`, `synchronous`,
 * `migrate`), and the table options of `migrationSql`.
 *
 * @since 1.0.0
 * @category models
 */
export type { PostgresStoreOptions, PostgresTableOptions, SqliteStoreOptions, SqliteTableOptions }

/**
 * The service on Postgres (`@effect/sql-pg`, an optional peer, loaded when the layer is built):
 * many replicas share one table; claims use `FOR UPDATE SKIP LOCKED`. The table is created (an
 * idempotent migration) unless `migrate: false` — then run `migrationSql` in a deploy step. Also
 * provides the store, so `workers` find it.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerPostgres = (
  options: PostgresStoreOptions
): Layer.Layer<DurableOffload | DurableStore, StoreError | InvalidOptions> =>
  Layer.provideMerge(layer, sqlLayers.postgres(options))

/**
 * The service on SQLite (`@effect/sql-sqlite-node`, an optional peer, loaded when the layer is
 * built): the embedded default, one machine; several processes may share the file (WAL mode).
 * Also provides the store, so `workers` find it.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerSqlite = (
  options: SqliteStoreOptions
): Layer.Layer<DurableOffload | DurableStore, StoreError | InvalidOptions> =>
  Layer.provideMerge(layer, sqlLayers.sqlite(options))

/**
 * The SQL that creates the store's table and indexes (idempotent), for a deploy step that runs
 * migrations as an owner role (`psql -f`, `sqlite3`); then build the layer with `migrate: false`.
 *
 * @since 1.0.0
 * @category utils
 */
export const migrationSql = (
  options:
    ({ readonly backend: "postgres" } & PostgresTableOptions) | ({ readonly backend: "sqlite" } & SqliteTableOptions)
): Effect.Effect<string, InvalidOptions> => {
  const { backend, ...table } = options
  const sql = backend === "postgres" ? postgresMigrationSql(table) : sqliteMigrationSql(table)
  return Effect.mapError(
    sql,
    (e) => new InvalidOptions({ operation: "migrationSql", field: e.field, reason: e.reason })
  )
}

/**
 * Options of `workers`.
 *
 * @since 1.0.0
 * @category models
 */
export interface WorkersOptions {
  /** How often each kind looks for due jobs when idle (default 1 second). Local enqueues wake it at once. */
  readonly pollInterval?: Duration.Input | undefined
  /** The lease on a claimed job (default 30 seconds): another replica may take it once it expires. */
  readonly lease?: Duration.Input | undefined
  /** How often running jobs' leases are extended (default a third of `lease`). */
  readonly refreshEvery?: Duration.Input | undefined
  /** How long shutdown waits for running handlers before interrupting and releasing them (default 10 seconds). */
  readonly grace?: Duration.Input | undefined
  /** This replica's name in the store (`lockedBy`; default a random id). */
  readonly workerId?: string | undefined
}

/**
 * Runs the handlers: one supervised claiming task per kind (a fibervisor `Supervisor`), each
 * running up to the kind's `concurrency` handlers at once. Closing the layer stops claiming, waits
 * up to `grace` for running handlers, then interrupts the rest and releases their jobs (the
 * attempt is not counted) so that the next start, or another replica, resumes them.
 *
 * Fails to build with `InvalidKind` or `InvalidOptions` (also for two handlers of one kind).
 *
 * @since 1.0.0
 * @category layers
 */
export const workers = <const Registrations extends ReadonlyArray<Registration<any>>>(
  registrations: Registrations,
  options?: WorkersOptions
): Layer.Layer<
  never,
  InvalidKind | InvalidOptions,
  DurableOffload | (Registrations[number] extends Registration<infer R> ? R : never)
> =>
  Layer.effectDiscard(
    worker.start(
      registrations as ReadonlyArray<Registration<Registrations[number] extends Registration<infer R> ? R : never>>,
      options
    )
  )

/**
 * Stores a job of `kind` (see `DurableOffload.enqueue`).
 *
 * @since 1.0.0
 * @category accessors
 */
export const enqueue = <A, I>(
  kind: Kind<A, I>,
  payload: A,
  options?: EnqueueOptions
): Effect.Effect<EnqueueOutcome, InvalidKind | InvalidOptions | PayloadError | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.enqueue(kind, payload, options))

/**
 * @since 1.0.0
 * @category accessors
 */
export const inspect = <A, I>(
  kind: Kind<A, I>,
  key: string
): Effect.Effect<Option.Option<Job<A>>, InvalidKind | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.inspect(kind, key))

/**
 * @since 1.0.0
 * @category accessors
 */
export const list = <A, I>(
  kind: Kind<A, I>,
  status: JobStatus,
  options?: { readonly limit?: number | undefined }
): Effect.Effect<ReadonlyArray<Job<A>>, InvalidKind | InvalidOptions | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.list(kind, status, options))

/**
 * @since 1.0.0
 * @category accessors
 */
export const cancel = <A, I>(
  kind: Kind<A, I>,
  key: string
): Effect.Effect<CancelOutcome, InvalidKind | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.cancel(kind, key))

/**
 * @since 1.0.0
 * @category accessors
 */
export const retryFailed = <A, I>(
  kind: Kind<A, I>,
  key?: string
): Effect.Effect<number, InvalidKind | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.retryFailed(kind, key))

/**
 * @since 1.0.0
 * @category accessors
 */
export const counts = <A, I>(kind: Kind<A, I>): Effect.Effect<Counts, InvalidKind | StoreError, DurableOffload> =>
  DurableOffload.use((s) => s.counts(kind))

/**
 * @since 1.0.0
 * @category accessors
 */
export const cleanup = (options: {
  readonly olderThan: Duration.Input
}): Effect.Effect<number, InvalidOptions | StoreError, DurableOffload> => DurableOffload.use((s) => s.cleanup(options))

/**
 * What a kind declares, defaults applied: for tooling (dashboards) and test doubles.
 *
 * @since 1.0.0
 * @category models
 */
export interface KindInfo {
  readonly name: string
  readonly dedupe: "in-flight" | "ever"
  readonly maxAttempts: number
  /** Per-attempt timeout in milliseconds; `undefined` when none. */
  readonly timeoutMs: number | undefined
  readonly concurrency: number
}

/**
 * The kind's policies, defaults applied, or its `InvalidKind`.
 *
 * @since 1.0.0
 * @category getters
 */
export const describeKind = <A, I>(self: Kind<A, I>): Effect.Effect<KindInfo, InvalidKind> =>
  Effect.map(service.resolved(self), (k) => ({
    name: k.name,
    dedupe: k.dedupe,
    maxAttempts: k.maxAttempts,
    timeoutMs: k.timeoutMs,
    concurrency: k.concurrency
  }))

/**
 * How `enqueue` would file a payload, without storing it (for test doubles): the key (`Result`
 * failure: why `enqueue` would answer `"rejected"`), the delay in milliseconds, and the payload's
 * stored form. Fails as `enqueue` does for a bad kind, bad options or a payload that does not encode.
 *
 * @since 1.0.0
 * @category utils
 */
export const prepare = <A, I>(
  self: Kind<A, I>,
  payload: A,
  options?: EnqueueOptions
): Effect.Effect<
  { readonly key: Result.Result<string, string>; readonly delayMs: number; readonly stored: string },
  InvalidKind | InvalidOptions | PayloadError
> =>
  Effect.gen(function* () {
    const k = yield* service.resolved(self)
    const opts = yield* Result.match(service.checkEnqueueOptions(options), {
      onFailure: Effect.fail,
      onSuccess: Effect.succeed
    })
    const key = service.keyFor(k, payload, opts.key)
    const stored = yield* Effect.mapError(
      envelope.encode(k.codec, payload, undefined),
      (reason) => new PayloadError({ kind: k.name, reason })
    )
    return { key, delayMs: opts.delayMs, stored }
  })

/**
 * Reads a payload back from its stored form (as a worker does before calling the handler).
 *
 * @since 1.0.0
 * @category utils
 */
export const decodeStored = <A, I>(self: Kind<A, I>, stored: string): Effect.Effect<A, InvalidKind | PayloadError> =>
  Effect.gen(function* () {
    const k = yield* service.resolved(self)
    const decoded = yield* Effect.mapError(
      envelope.decode(k.codec, stored),
      (reason) => new PayloadError({ kind: k.name, reason })
    )
    return decoded.payload as A
  })

/**
 * The store tag the layers read and the store layers provide (for custom stores and tests).
 *
 * @since 1.0.0
 * @category tags
 */
export const StoreTag: Context.Service<DurableStore, DurableStore> = Store
