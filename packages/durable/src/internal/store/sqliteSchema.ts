/**
 * The SQLite schema of the durable store, and its migration: the same tables and indexes as the
 * Postgres store (see postgresSchema.ts for what each index serves), in SQLite's types, created
 * with idempotent DDL inside one `BEGIN IMMEDIATE` transaction, so processes opening the same file
 * together take turns on the write lock instead of racing.
 *
 * `id` is `INTEGER PRIMARY KEY AUTOINCREMENT`: ids are never reused after a delete, so an id
 * remembered by a worker or an operator cannot come to name another job. The ledger is a
 * `WITHOUT ROWID` table: it is only ever looked up by its key.
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { StoreError } from "../storeError.js"
import { defaultTableName, identifier, type InvalidStoreOptions, quote } from "./sqlOptions.js"
import { indexNames, type IndexNames, indexStatements } from "./sqlSchema.js"

/**
 * Where the store's tables live in the database file.
 * @since 1.0.0
 * @category models
 */
export interface SqliteTableOptions {
  /** Default `fibervisor_durable_jobs`; the ledger is `<tableName>_keys`. */
  readonly tableName?: string
}

/** Quoted names of everything the store creates (SQLite index names are per database). */
export interface SqliteNames extends IndexNames {
  readonly tableName: string
  readonly table: string
  readonly keys: string
}

/** Validates `tableName` and quotes the derived names. */
export const sqliteNames = (options: SqliteTableOptions): Effect.Effect<SqliteNames, InvalidStoreOptions> =>
  Effect.map(identifier("tableName", options.tableName ?? defaultTableName), (tableName) => ({
    tableName,
    table: quote(tableName),
    keys: quote(`${tableName}_keys`),
    ...indexNames(tableName)
  }))

/** The DDL, in order. Every statement is idempotent. */
export const sqliteMigrationStatements = (names: SqliteNames): ReadonlyArray<string> => [
  `CREATE TABLE IF NOT EXISTS ${names.table} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  run_at INTEGER NOT NULL,
  token TEXT,
  locked_by TEXT,
  locked_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
)`,
  ...indexStatements(names.table, names),
  `CREATE TABLE IF NOT EXISTS ${names.keys} (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (kind, key)
) WITHOUT ROWID`
]

/**
 * The migration as SQL text (for `sqlite3 file.db < migration.sql`): the statements of
 * `migrateSqliteStore`, in one transaction.
 *
 * @since 1.0.0
 * @category migrations
 */
export const sqliteMigrationSql = (options: SqliteTableOptions = {}): Effect.Effect<string, InvalidStoreOptions> =>
  Effect.map(sqliteNames(options), (names) =>
    ["BEGIN IMMEDIATE;", ...sqliteMigrationStatements(names).map((statement) => `${statement};`), "COMMIT;", ""].join(
      "\n"
    )
  )

/**
 * Creates the tables and indexes if they are missing (idempotent; processes opening the same file
 * at once serialise on SQLite's write lock).
 *
 * @since 1.0.0
 * @category migrations
 */
export const migrateSqliteStore = (
  sql: SqlClient,
  options: SqliteTableOptions = {}
): Effect.Effect<void, StoreError | InvalidStoreOptions> =>
  Effect.flatMap(sqliteNames(options), (names) => migrateSqliteNames(sql, names))

/** The migration over validated names. */
export const migrateSqliteNames = (sql: SqlClient, names: SqliteNames): Effect.Effect<void, StoreError> =>
  sql
    .withTransaction(
      Effect.forEach(sqliteMigrationStatements(names), (statement) => sql.unsafe(statement).raw, { discard: true })
    )
    .pipe(Effect.mapError((cause) => new StoreError({ operation: "migrate", cause })))
