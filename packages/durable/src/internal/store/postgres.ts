/**
 * The Postgres store: the `DurableStore` contract (see ../store.ts) over one table and its "ever"
 * ledger, each operation one statement (no per-row round trips).
 *
 * Data flow: the service calls an operation with the times it read from `Clock` → one SQL
 * statement with bound parameters (table names are validated identifiers spliced into the text)
 * → rows read positionally (`sqlRow.ts`). Writes that many fibers make at once (enqueue,
 * complete, fail, release) go through `sqlBatch.ts`: concurrent calls share one statement
 * (`postgresBatch.ts`), so they share one commit.
 *
 * How each invariant of the contract is kept:
 * - In-flight dedupe: the unique partial index on (kind, key) where pending or running; enqueue is
 *   `INSERT … ON CONFLICT DO NOTHING`, so concurrent enqueues of one key insert one row.
 * - "ever" dedupe: a ledger insert in the same statement (a data-modifying CTE), made only when
 *   the key has no row at all; the job row is inserted only if the ledger row was new.
 * - Claims: `FOR UPDATE SKIP LOCKED` on the due pending rows and on the running rows whose lease
 *   expired, at most `limit` of each, merged in (run_at, id) order; concurrent claimers skip each
 *   other's rows instead of waiting, so a row is handed to one claimer per lease. Every expired
 *   row at `maxAttempts` is dead-lettered by the same statement, whatever `limit`.
 * - Fencing: complete / fail / release / refresh match `status = 'running' AND token = $token`; a
 *   late worker's token no longer matches after a re-claim, and its update changes nothing.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type DurableStore, type EnqueueInput, Store } from "../store.js"
import { StoreError } from "../storeError.js"
import { migrateNames, type PostgresNames, postgresNames, type PostgresTableOptions } from "./postgresSchema.js"
import { InvalidStoreOptions, knownKeys } from "./sqlOptions.js"
import { type FailItem, type LeaseItem, makeBatcher } from "./sqlBatch.js"
import { checkMigrate, countsOf, fencedWrites, leasesJson, sqlStoreLayer, storeOver } from "./sqlStore.js"
import { byDueThenId, columns, decodeRow, leaseExpiredSql } from "./sqlRow.js"
import { postgresBatches } from "./postgresBatch.js"

/**
 * Options of the Postgres store: where the database is (`url`, or a `client` you already have)
 * and where its tables are.
 *
 * @since 1.0.0
 * @category models
 */
export interface PostgresStoreOptions extends PostgresTableOptions {
  /** A connection URL; the store opens (and closes) its own pool. Exclusive with `client`. */
  readonly url?: string | Redacted.Redacted<string>
  /** A client you own (shared pool); the store does not close it. Exclusive with `url`. */
  readonly client?: SqlClient
  /** Pool size when the store opens its own pool from `url`; default the driver's (10). */
  readonly maxConnections?: number
  /** Run the idempotent migration when the layer starts; default `true`. Set `false` when a deploy step runs it as an owner role. */
  readonly migrate?: boolean
}

const optionKeys = ["url", "client", "maxConnections", "migrate", "tableName", "schema"]

/** Rows deleted per `cleanup` statement: bounded transactions on a large backlog. */
const cleanupBatch = 5000

/** The statements, built once per store from validated names. */
const statements = (n: PostgresNames) => {
  const insertValues = `$1::text, $2::text, $3::text, 'pending', 0, $4::int, $5::bigint, $6::bigint, $6::bigint`
  const insertInto = `INSERT INTO ${n.table} (kind, key, payload, status, attempts, max_attempts, run_at, created_at, updated_at)`
  const unlock = `token = NULL, locked_by = NULL, locked_until = NULL`
  const fenced = `id = $1::bigint AND token = $2::text AND status = 'running'`
  return {
    enqueueInFlight: `${insertInto} VALUES (${insertValues}) ON CONFLICT DO NOTHING RETURNING id`,
    enqueueEver: `WITH ledger AS (
  INSERT INTO ${n.keys} (kind, key, created_at)
  SELECT $1::text, $2::text, $6::bigint WHERE NOT EXISTS (SELECT 1 FROM ${n.table} WHERE kind = $1::text AND key = $2::text)
  ON CONFLICT DO NOTHING RETURNING 1
)
${insertInto} SELECT ${insertValues} FROM ledger ON CONFLICT DO NOTHING RETURNING id`,
    // Every expired row at its last attempt is dead-lettered, whatever `limit` (running rows are
    // few: at most the replicas' concurrency); then at most `limit` of the other expired rows and
    // of the due pending rows, merged in (run_at, id) order.
    claim: `WITH dead AS (
  UPDATE ${n.table} AS d SET status = 'failed', ${unlock}, last_error = ${leaseExpiredSql("d")}, finished_at = $2::bigint, updated_at = $2::bigint
  WHERE d.id IN (
    SELECT id FROM ${n.table}
    WHERE kind = $1::text AND status = 'running' AND locked_until <= $2::bigint AND attempts >= max_attempts
    FOR UPDATE SKIP LOCKED
  )
  RETURNING d.id
), expired AS (
  SELECT id, run_at FROM ${n.table}
  WHERE kind = $1::text AND status = 'running' AND locked_until <= $2::bigint AND attempts < max_attempts
  ORDER BY run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED
), due AS (
  SELECT id, run_at FROM ${n.table}
  WHERE kind = $1::text AND status = 'pending' AND run_at <= $2::bigint
  ORDER BY run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id FROM (SELECT id, run_at FROM expired UNION ALL SELECT id, run_at FROM due) AS candidates
  ORDER BY run_at, id LIMIT $3::int
)
UPDATE ${n.table} AS t SET status = 'running', attempts = t.attempts + 1, token = gen_random_uuid()::text,
  locked_by = $4::text, locked_until = $5::bigint, updated_at = $2::bigint
FROM picked WHERE t.id = picked.id
RETURNING ${columns("t")}`,
    refresh: `UPDATE ${n.table} AS t SET locked_until = $2::bigint, updated_at = $3::bigint
FROM jsonb_to_recordset($1::jsonb) AS lease(id bigint, token text)
WHERE t.id = lease.id AND t.token = lease.token AND t.status = 'running'
RETURNING t.id`,
    complete: `UPDATE ${n.table} SET status = 'completed', ${unlock}, finished_at = $3::bigint, updated_at = $3::bigint
WHERE ${fenced} RETURNING id`,
    deadLetter: `UPDATE ${n.table} SET status = 'failed', ${unlock}, last_error = $3::text, finished_at = $4::bigint, updated_at = $4::bigint
WHERE ${fenced} RETURNING id`,
    retry: `UPDATE ${n.table} SET status = 'pending', ${unlock}, last_error = $3::text, run_at = $5::bigint, updated_at = $4::bigint
WHERE ${fenced} RETURNING id`,
    release: `UPDATE ${n.table} SET status = 'pending', ${unlock}, attempts = GREATEST(attempts - 1, 0), updated_at = $3::bigint
WHERE ${fenced} RETURNING id`,
    inspect: `SELECT ${columns()} FROM ${n.table} WHERE kind = $1::text AND key = $2::text ORDER BY id DESC LIMIT 1`,
    list: `SELECT ${columns()} FROM ${n.table} WHERE kind = $1::text AND status = $2::text ORDER BY id DESC LIMIT $3::int`,
    cancel: `WITH cancelled AS (
  UPDATE ${n.table} SET status = 'cancelled', finished_at = $3::bigint, updated_at = $3::bigint
  WHERE kind = $1::text AND key = $2::text AND status = 'pending'
  RETURNING id
)
SELECT (SELECT count(*) FROM cancelled)::int,
  (SELECT count(*) FROM ${n.table} WHERE kind = $1::text AND key = $2::text AND status = 'running')::int`,
    // The newest dead letter of each key, unless the key has a row in flight again (its unique
    // index admits one pending-or-running row per key).
    retryFailed: `UPDATE ${n.table} SET status = 'pending', attempts = 0, ${unlock}, run_at = $3::bigint, finished_at = NULL, updated_at = $3::bigint
WHERE id IN (
  SELECT max(f.id) FROM ${n.table} AS f
  WHERE f.kind = $1::text AND f.status = 'failed' AND ($2::text IS NULL OR f.key = $2::text)
    AND NOT EXISTS (
      SELECT 1 FROM ${n.table} AS a WHERE a.kind = f.kind AND a.key = f.key AND a.status IN ('pending', 'running')
    )
  GROUP BY f.key
)
RETURNING id`,
    counts: `SELECT status, count(*)::int FROM ${n.table} WHERE kind = $1::text GROUP BY status`,
    cleanup: `WITH gone AS (
  DELETE FROM ${n.table} WHERE id IN (
    SELECT id FROM ${n.table} WHERE status IN ('completed', 'cancelled') AND finished_at < $1::bigint LIMIT $2::int
  ) RETURNING 1
)
SELECT count(*)::int FROM gone`
  }
}

/**
 * The store over a client, on tables that already exist (`migratePostgresStore` creates them).
 * Scoped: the store's write batching (group commit) lives until the scope closes.
 *
 * @since 1.0.0
 * @category constructors
 */
export const makePostgresStore = (
  sql: SqlClient,
  options: PostgresTableOptions = {}
): Effect.Effect<DurableStore, InvalidStoreOptions, Scope.Scope> =>
  Effect.flatMap(postgresNames(options), (names) => make(sql, names))

/** Rows per batched write statement. */
const maxBatch = 256

const make = Effect.fnUntraced(function* (sql: SqlClient, names: PostgresNames) {
  const q = statements(names)
  const values = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
    sql.unsafe(text, params).values.pipe(Effect.mapError((cause) => new StoreError({ operation, cause })))
  const changed = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
    Effect.map(values(operation, text, params), (rows) => rows.length > 0)

  const enqueueOne = (input: EnqueueInput) =>
    Effect.map(
      values("enqueue", input.dedupe === "ever" ? q.enqueueEver : q.enqueueInFlight, [
        input.kind,
        input.key,
        input.payload,
        input.maxAttempts,
        input.runAt,
        input.now
      ]),
      (rows) => (rows.length > 0 ? ("enqueued" as const) : ("deduplicated" as const))
    )
  const batches = postgresBatches(sql, names)
  // One batcher per statement shape: a batch is one statement, so it succeeds or fails whole.
  const enqueueInFlight = yield* makeBatcher({
    operation: "enqueue",
    maxBatch,
    one: enqueueOne,
    many: batches.enqueueInFlight
  })
  const enqueueEver = yield* makeBatcher({ operation: "enqueue", maxBatch, one: enqueueOne, many: batches.enqueueEver })
  const complete = yield* makeBatcher({
    operation: "complete",
    maxBatch,
    one: (item: LeaseItem) => changed("complete", q.complete, [item.id, item.token, item.now]),
    many: batches.complete
  })
  const fail = yield* makeBatcher({
    operation: "fail",
    maxBatch,
    one: (item: FailItem) =>
      item.retryAt === null
        ? changed("fail", q.deadLetter, [item.id, item.token, item.error, item.now])
        : changed("fail", q.retry, [item.id, item.token, item.error, item.now, item.retryAt]),
    many: batches.fail
  })
  const release = yield* makeBatcher({
    operation: "release",
    maxBatch,
    one: (item: LeaseItem) => changed("release", q.release, [item.id, item.token, item.now]),
    many: batches.release
  })

  const store: DurableStore = {
    enqueue: (input) => (input.dedupe === "ever" ? enqueueEver(input) : enqueueInFlight(input)),
    claim: (input) =>
      input.limit < 1
        ? Effect.succeed([])
        : Effect.map(
            values("claim", q.claim, [input.kind, input.now, input.limit, input.worker, input.now + input.lockFor]),
            (rows) => rows.map(decodeRow).sort(byDueThenId)
          ),
    refresh: (leases, now, lockFor) => {
      const json = leasesJson(leases)
      if (json === undefined) return Effect.succeed([])
      return Effect.map(values("refresh", q.refresh, [json, now + lockFor, now]), (rows) =>
        rows.map((row) => String(row[0]))
      )
    },
    ...fencedWrites({ complete, fail, release }),
    inspect: (kind, key) =>
      Effect.map(values("inspect", q.inspect, [kind, key]), (rows) =>
        rows.length === 0 ? undefined : decodeRow(rows[0]!)
      ),
    list: (kind, status, limit) =>
      limit < 1
        ? Effect.succeed([])
        : Effect.map(values("list", q.list, [kind, status, limit]), (rows) => rows.map(decodeRow)),
    cancel: (kind, key, now) =>
      Effect.map(values("cancel", q.cancel, [kind, key, now]), (rows) => {
        const [cancelled, running] = rows[0] ?? [0, 0]
        return Number(cancelled) > 0 ? "cancelled" : Number(running) > 0 ? "running" : "absent"
      }),
    retryFailed: (kind, key, now) =>
      Effect.map(values("retryFailed", q.retryFailed, [kind, key ?? null, now]), (rows) => rows.length),
    counts: (kind) => Effect.map(values("counts", q.counts, [kind]), countsOf),
    cleanup: (before) =>
      Effect.gen(function* () {
        let total = 0
        while (true) {
          const rows = yield* values("cleanup", q.cleanup, [before, cleanupBatch])
          const deleted = Number(rows[0]?.[0] ?? 0)
          total += deleted
          if (deleted < cleanupBatch) return total
        }
      })
  }
  return store
})

const checkOptions = (options: PostgresStoreOptions): Effect.Effect<void, InvalidStoreOptions> =>
  Effect.gen(function* () {
    yield* knownKeys(options, optionKeys)
    const hasUrl = options.url !== undefined
    const hasClient = options.client !== undefined
    if (hasUrl === hasClient) {
      return yield* new InvalidStoreOptions({ field: "url", reason: "give exactly one of `url` and `client`" })
    }
    if (hasUrl) {
      const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
      if (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url)) {
        return yield* new InvalidStoreOptions({
          field: "url",
          reason: "expected a postgres:// or postgresql:// URL"
        })
      }
    }
    if (hasClient && options.maxConnections !== undefined) {
      return yield* new InvalidStoreOptions({
        field: "maxConnections",
        reason: "only applies to the pool the store opens from `url`; size your own client's pool instead"
      })
    }
    if (
      options.maxConnections !== undefined &&
      (!Number.isInteger(options.maxConnections) || options.maxConnections < 1)
    ) {
      return yield* new InvalidStoreOptions({
        field: "maxConnections",
        reason: `expected a positive integer, got ${String(options.maxConnections)}`
      })
    }
    yield* checkMigrate(options.migrate)
    // Names too, before anything is opened: a refused table name must not leave a connection or a file behind.
    yield* postgresNames(options)
  })

const over = storeOver<PostgresStoreOptions, PostgresNames>({ names: postgresNames, migrate: migrateNames, make })

/**
 * The `Store` on Postgres. With `url` the layer opens a pool (closed with the layer); with
 * `client` it uses yours. Runs the idempotent migration first unless `migrate: false`.
 * Bad options fail the layer with `InvalidStoreOptions` (naming the option); a database that
 * cannot be reached fails it with `StoreError` (`operation: "connect"` or `"migrate"`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerPostgresStore = (
  options: PostgresStoreOptions
): Layer.Layer<DurableStore, StoreError | InvalidStoreOptions> =>
  sqlStoreLayer(options, {
    check: checkOptions,
    open: ({ maxConnections, url }) =>
      PgClient.make({
        url: Redacted.isRedacted(url!) ? url! : Redacted.make(url!),
        applicationName: "fibervisor-durable",
        ...(maxConnections === undefined ? {} : { maxConnections })
      }),
    over
  })

/**
 * The `Store` on Postgres over the `SqlClient` in context (for an application that already
 * provides one, e.g. `PgClient.layer`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerPostgresStoreFromClient = (
  options: Omit<PostgresStoreOptions, "url" | "client" | "maxConnections"> = {}
): Layer.Layer<DurableStore, StoreError | InvalidStoreOptions, SqlClient> =>
  Layer.effect(
    Store,
    Effect.gen(function* () {
      yield* knownKeys(options, ["migrate", "tableName", "schema"])
      yield* checkMigrate(options.migrate)
      return yield* over(yield* SqlClient, options)
    })
  )
