/**
 * The SQLite store: the `DurableStore` contract (see ../store.ts) in one database file, the
 * embedded default (no server). Same tables, indexes and rules as the Postgres store.
 *
 * Concurrency: SQLite has one writer at a time per file. Every statement is atomic, and the
 * operations that need two statements (claim = dead-letter expired rows + claim due rows; "ever"
 * enqueue = ledger + row; cancel) run in one `BEGIN IMMEDIATE` transaction, which takes the write
 * lock up front, so several processes on one file never interleave inside an operation and never
 * deadlock on a read-to-write upgrade. WAL mode lets readers run beside the writer; `busy_timeout`
 * makes a process wait for the lock instead of failing (the wait blocks its event loop:
 * `node:sqlite` is synchronous). Concurrent writes of one process (enqueue, complete, fail,
 * release) are grouped by `sqlBatch.ts` into one transaction: one commit, one fsync.
 *
 * How each invariant is kept:
 * - In-flight dedupe: the unique partial index on (kind, key) where pending or running;
 *   `INSERT … ON CONFLICT DO NOTHING`.
 * - Claims: one `UPDATE … WHERE id IN (due rows, oldest first, LIMIT n) RETURNING`; the write lock
 *   makes the select-and-update atomic, so a row is handed to one claimer per lease.
 * - Fencing: complete / fail / release / refresh match `status = 'running' AND token = ?`.
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Duration, Effect, Layer, type Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type DurableStore, type EnqueueInput, Store } from "../store.js"
import { StoreError } from "../storeError.js"
import { migrateSqliteNames, type SqliteNames, sqliteNames, type SqliteTableOptions } from "./sqliteSchema.js"
import { InvalidStoreOptions, knownKeys } from "./sqlOptions.js"
import { type FailItem, type LeaseItem, makeBatcher } from "./sqlBatch.js"
import { checkMigrate, countsOf, fencedWrites, leasesJson, sqlStoreLayer, storeOver } from "./sqlStore.js"
import { byDueThenId, columns, decodeRow, leaseExpiredSql } from "./sqlRow.js"

/**
 * Options of the SQLite store: the database file (or a `client` you already have) and the table.
 *
 * @since 1.0.0
 * @category models
 */
export interface SqliteStoreOptions extends SqliteTableOptions {
  /** The database file (created if missing). Exclusive with `client`. */
  readonly filename?: string
  /** A client you own; the store does not close it. Exclusive with `filename`. */
  readonly client?: SqlClient
  /** Run the idempotent migration when the layer starts; default `true`. */
  readonly migrate?: boolean
  /** How long a process waits for another's write lock; default 5 seconds. Only with `filename`. */
  readonly busyTimeout?: Duration.Input
  /**
   * `"full"` (default): a commit survives a power loss. `"normal"`: in WAL mode a commit survives a
   * crash of the process but the last ones may be lost on power loss; fewer fsyncs, more
   * throughput. Only with `filename`.
   */
  readonly synchronous?: "full" | "normal"
}

const optionKeys = ["filename", "client", "migrate", "busyTimeout", "synchronous", "tableName"]

const cleanupBatch = 5000

/** The statements, built once per store from validated names (`?N` parameters are 1-based). */
const statements = (n: SqliteNames) => {
  const unlock = `token = NULL, locked_by = NULL, locked_until = NULL`
  const fenced = `id = ?1 AND token = ?2 AND status = 'running'`
  return {
    enqueue: `INSERT INTO ${n.table} (kind, key, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING RETURNING id`,
    // Taken only by a key with no row at all ("ever": accepted once until its rows are deleted).
    ledger: `INSERT INTO ${n.keys} (kind, key, created_at)
SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM ${n.table} WHERE kind = ?1 AND key = ?2)
ON CONFLICT DO NOTHING RETURNING 1`,
    deadLetterExpired: `UPDATE ${n.table} SET status = 'failed', ${unlock}, last_error = ${leaseExpiredSql(n.table)}, finished_at = ?2, updated_at = ?2
WHERE kind = ?1 AND status = 'running' AND locked_until <= ?2 AND attempts >= max_attempts`,
    // Each branch is an ordered index scan with its own LIMIT; the merge keeps (run_at, id) order.
    claim: `UPDATE ${n.table} SET status = 'running', attempts = attempts + 1, token = lower(hex(randomblob(16))),
  locked_by = ?4, locked_until = ?5, updated_at = ?2
WHERE id IN (
  SELECT id FROM (
    SELECT * FROM (SELECT id, run_at FROM ${n.table} WHERE kind = ?1 AND status = 'pending' AND run_at <= ?2 ORDER BY run_at, id LIMIT ?3)
    UNION ALL
    SELECT * FROM (SELECT id, run_at FROM ${n.table} WHERE kind = ?1 AND status = 'running' AND locked_until <= ?2 ORDER BY run_at, id LIMIT ?3)
  ) ORDER BY run_at, id LIMIT ?3
)
RETURNING ${columns()}`,
    refresh: `UPDATE ${n.table} SET locked_until = ?2, updated_at = ?3
FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token FROM json_each(?1)) AS lease
WHERE ${n.table}.id = lease.id AND ${n.table}.token = lease.token AND ${n.table}.status = 'running'
RETURNING ${n.table}.id`,
    complete: `UPDATE ${n.table} SET status = 'completed', ${unlock}, finished_at = ?3, updated_at = ?3 WHERE ${fenced} RETURNING id`,
    deadLetter: `UPDATE ${n.table} SET status = 'failed', ${unlock}, last_error = ?3, finished_at = ?4, updated_at = ?4
WHERE ${fenced} RETURNING id`,
    retry: `UPDATE ${n.table} SET status = 'pending', ${unlock}, last_error = ?3, run_at = ?5, updated_at = ?4
WHERE ${fenced} RETURNING id`,
    release: `UPDATE ${n.table} SET status = 'pending', ${unlock}, attempts = max(attempts - 1, 0), updated_at = ?3
WHERE ${fenced} RETURNING id`,
    inspect: `SELECT ${columns()} FROM ${n.table} WHERE kind = ?1 AND key = ?2 ORDER BY id DESC LIMIT 1`,
    list: `SELECT ${columns()} FROM ${n.table} WHERE kind = ?1 AND status = ?2 ORDER BY id DESC LIMIT ?3`,
    cancelPending: `UPDATE ${n.table} SET status = 'cancelled', finished_at = ?3, updated_at = ?3
WHERE kind = ?1 AND key = ?2 AND status = 'pending' RETURNING id`,
    running: `SELECT count(*) FROM ${n.table} WHERE kind = ?1 AND key = ?2 AND status = 'running'`,
    // The newest dead letter of each key, unless the key has a row in flight again.
    retryFailed: `UPDATE ${n.table} SET status = 'pending', attempts = 0, ${unlock}, run_at = ?3, finished_at = NULL, updated_at = ?3
WHERE id IN (
  SELECT max(f.id) FROM ${n.table} AS f
  WHERE f.kind = ?1 AND f.status = 'failed' AND (?2 IS NULL OR f.key = ?2)
    AND NOT EXISTS (
      SELECT 1 FROM ${n.table} AS a WHERE a.kind = f.kind AND a.key = f.key AND a.status IN ('pending', 'running')
    )
  GROUP BY f.key
)
RETURNING id`,
    counts: `SELECT status, count(*) FROM ${n.table} WHERE kind = ?1 GROUP BY status`,
    cleanup: `DELETE FROM ${n.table} WHERE id IN (
  SELECT id FROM ${n.table} WHERE status IN ('completed', 'cancelled') AND finished_at < ?1 LIMIT ?2
)`
  }
}

/**
 * The store over a client, on tables that already exist (`migrateSqliteStore` creates them).
 * Scoped: the store's write batching (group commit) lives until the scope closes.
 *
 * @since 1.0.0
 * @category constructors
 */
export const makeSqliteStore = (
  sql: SqlClient,
  options: SqliteTableOptions = {}
): Effect.Effect<DurableStore, InvalidStoreOptions, Scope.Scope> =>
  Effect.flatMap(sqliteNames(options), (names) => make(sql, names))

/** Writes per batch transaction. */
const maxBatch = 256

const make = Effect.fnUntraced(function* (sql: SqlClient, names: SqliteNames) {
  const q = statements(names)
  const failed = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })
  // Errors are mapped by each operation (below), so a transaction sees the raw SqlError.
  const values = (text: string, params: ReadonlyArray<unknown>) => sql.unsafe(text, params).values
  const changed = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
    values(text, params).pipe(
      Effect.map((rows) => rows.length > 0),
      Effect.mapError(failed(operation))
    )

  /**
   * Group commit: a batch is one transaction running each item's own statements, so it has one
   * commit (one fsync with `synchronous = FULL`) and exactly the single-item semantics.
   */
  const batched = <I, O>(operation: string, one: (item: I) => Effect.Effect<O, StoreError>) =>
    makeBatcher({
      operation,
      maxBatch,
      one,
      many: (items: ReadonlyArray<I>) =>
        sql.withTransaction(Effect.forEach(items, one)).pipe(Effect.mapError(failed(operation)))
    })

  const enqueue = yield* batched("enqueue", (input: EnqueueInput) => {
    const insert = Effect.map(
      values(q.enqueue, [input.kind, input.key, input.payload, input.maxAttempts, input.runAt, input.now]),
      (rows) => (rows.length > 0 ? ("enqueued" as const) : ("deduplicated" as const))
    )
    const operation =
      input.dedupe === "ever"
        ? sql.withTransaction(
            Effect.flatMap(values(q.ledger, [input.kind, input.key, input.now]), (taken) =>
              taken.length === 0 ? Effect.succeed("deduplicated" as const) : insert
            )
          )
        : insert
    return Effect.mapError(operation, failed("enqueue"))
  })
  const complete = yield* batched("complete", (item: LeaseItem) =>
    changed("complete", q.complete, [Number(item.id), item.token, item.now])
  )
  const fail = yield* batched("fail", (item: FailItem) =>
    item.retryAt === null
      ? changed("fail", q.deadLetter, [Number(item.id), item.token, item.error, item.now])
      : changed("fail", q.retry, [Number(item.id), item.token, item.error, item.now, item.retryAt])
  )
  const release = yield* batched("release", (item: LeaseItem) =>
    changed("release", q.release, [Number(item.id), item.token, item.now])
  )

  const store: DurableStore = {
    enqueue,
    claim: (input) =>
      input.limit < 1
        ? Effect.succeed([])
        : sql
            .withTransaction(
              Effect.andThen(
                values(q.deadLetterExpired, [input.kind, input.now]),
                values(q.claim, [input.kind, input.now, input.limit, input.worker, input.now + input.lockFor])
              )
            )
            .pipe(
              Effect.map((rows) => rows.map(decodeRow).sort(byDueThenId)),
              Effect.mapError(failed("claim"))
            ),
    refresh: (leases, now, lockFor) => {
      const json = leasesJson(leases)
      if (json === undefined) return Effect.succeed([])
      return values(q.refresh, [json, now + lockFor, now]).pipe(
        Effect.map((rows) => rows.map((row) => String(row[0]))),
        Effect.mapError(failed("refresh"))
      )
    },
    ...fencedWrites({ complete, fail, release }),
    inspect: (kind, key) =>
      values(q.inspect, [kind, key]).pipe(
        Effect.map((rows) => (rows.length === 0 ? undefined : decodeRow(rows[0]!))),
        Effect.mapError(failed("inspect"))
      ),
    list: (kind, status, limit) =>
      limit < 1
        ? Effect.succeed([])
        : values(q.list, [kind, status, limit]).pipe(
            Effect.map((rows) => rows.map(decodeRow)),
            Effect.mapError(failed("list"))
          ),
    cancel: (kind, key, now) =>
      sql
        .withTransaction(
          Effect.flatMap(values(q.cancelPending, [kind, key, now]), (cancelled) =>
            cancelled.length > 0
              ? Effect.succeed("cancelled" as const)
              : Effect.map(values(q.running, [kind, key]), (rows) =>
                  Number(rows[0]?.[0] ?? 0) > 0 ? ("running" as const) : ("absent" as const)
                )
          )
        )
        .pipe(Effect.mapError(failed("cancel"))),
    retryFailed: (kind, key, now) =>
      values(q.retryFailed, [kind, key ?? null, now]).pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(failed("retryFailed"))
      ),
    counts: (kind) => values(q.counts, [kind]).pipe(Effect.map(countsOf), Effect.mapError(failed("counts"))),
    cleanup: (before) =>
      Effect.gen(function* () {
        let total = 0
        while (true) {
          const result = (yield* sql.unsafe(q.cleanup, [before, cleanupBatch]).raw) as { readonly changes?: unknown }
          const deleted = Number(result.changes ?? 0)
          total += deleted
          if (deleted < cleanupBatch) return total
        }
      }).pipe(Effect.mapError(failed("cleanup")))
  }
  return store
})

const checkOptions = (options: SqliteStoreOptions): Effect.Effect<void, InvalidStoreOptions> =>
  Effect.gen(function* () {
    yield* knownKeys(options, optionKeys)
    const hasFile = options.filename !== undefined
    const hasClient = options.client !== undefined
    if (hasFile === hasClient) {
      return yield* new InvalidStoreOptions({
        field: "filename",
        reason: "give exactly one of `filename` and `client`"
      })
    }
    if (hasFile && (typeof options.filename !== "string" || options.filename.length === 0)) {
      return yield* new InvalidStoreOptions({
        field: "filename",
        reason: `expected a non-empty path, got ${JSON.stringify(options.filename)}`
      })
    }
    for (const field of ["busyTimeout", "synchronous"] as const) {
      if (hasClient && options[field] !== undefined) {
        return yield* new InvalidStoreOptions({
          field,
          reason: "only applies to the database the store opens from `filename`; configure your own client instead"
        })
      }
    }
    if (options.busyTimeout !== undefined) {
      const timeout = Duration.fromInput(options.busyTimeout)
      if (timeout._tag === "None" || Duration.isNegative(timeout.value)) {
        return yield* new InvalidStoreOptions({
          field: "busyTimeout",
          reason: `expected a duration of zero or more, got ${JSON.stringify(options.busyTimeout)}`
        })
      }
    }
    if (options.synchronous !== undefined && options.synchronous !== "full" && options.synchronous !== "normal") {
      return yield* new InvalidStoreOptions({
        field: "synchronous",
        reason: `expected "full" or "normal", got ${JSON.stringify(options.synchronous)}`
      })
    }
    yield* checkMigrate(options.migrate)
    // Names too, before anything is opened: a refused table name must not leave a connection or a file behind.
    yield* sqliteNames(options)
  })

const over = storeOver<SqliteStoreOptions, SqliteNames>({ names: sqliteNames, migrate: migrateSqliteNames, make })

/**
 * The `Store` on SQLite. With `filename` the layer opens the database (WAL mode, `busy_timeout`,
 * closed with the layer); with `client` it uses yours. Runs the idempotent migration first unless
 * `migrate: false`. Bad options fail the layer with `InvalidStoreOptions` (naming the option); a
 * file that cannot be opened fails it with `StoreError` (`operation: "connect"`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerSqliteStore = (
  options: SqliteStoreOptions
): Layer.Layer<DurableStore, StoreError | InvalidStoreOptions> =>
  sqlStoreLayer(options, {
    check: checkOptions,
    open: ({ busyTimeout, filename, synchronous }) =>
      SqliteClient.make({
        filename: filename!,
        ...(busyTimeout === undefined ? {} : { busyTimeout })
      }).pipe(
        Effect.tap(
          (client) => client.unsafe(`PRAGMA synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`).raw
        )
      ),
    over
  })

/**
 * The `Store` on SQLite over the `SqlClient` in context (e.g. `SqliteClient.layer`).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerSqliteStoreFromClient = (
  options: Pick<SqliteStoreOptions, "tableName" | "migrate"> = {}
): Layer.Layer<DurableStore, StoreError | InvalidStoreOptions, SqlClient> =>
  Layer.effect(
    Store,
    Effect.gen(function* () {
      const sql = yield* SqlClient
      yield* checkOptions({ ...options, client: sql })
      return yield* over(sql, options)
    })
  )
