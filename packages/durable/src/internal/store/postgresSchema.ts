/**
 * The Postgres schema of the durable store, and its migration: idempotent DDL
 * (`CREATE … IF NOT EXISTS`), run under a transaction-scoped advisory lock so replicas starting
 * together do not race on the catalog (two concurrent `CREATE TABLE IF NOT EXISTS` can still fail
 * with a duplicate-type error without it). The statements are exported as text too, so operators
 * can run them as an owner role in a deploy step and start the service with `migrate: false`.
 *
 * Tables (both in `schema` when given, else in the session's `search_path`):
 * - `<table>`: one row per job. `id` is an identity (insertion order, the claim's tie-break).
 *   Times are epoch-ms `bigint`s written by the caller, never `now()`.
 * - `<table>_keys`: the "ever" ledger, one row per (kind, key) ever accepted with `dedupe: "ever"`.
 *
 * Indexes and what they serve:
 * - `<table>_inflight_key`: unique (kind, key) where pending or running — the in-flight dedupe,
 *   enforced by the database so concurrent enqueues cannot both insert.
 * - `<table>_due`: (kind, status, run_at, id) — the claim's ordered scan of due pending rows,
 *   the running rows a claim checks for expired leases, `counts` and `list`.
 * - `<table>_key`: (kind, key, id) — `inspect`, `cancel`, `retryFailed` by key.
 * - `<table>_finished`: finished_at where completed or cancelled — retention `cleanup`.
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { StoreError } from "../storeError.js"
import { defaultTableName, identifier, type InvalidStoreOptions, quote } from "./sqlOptions.js"
import { indexNames, type IndexNames, indexStatements } from "./sqlSchema.js"

/**
 * Where the store's tables live.
 * @since 1.0.0
 * @category models
 */
export interface PostgresTableOptions {
  /** Default `fibervisor_durable_jobs`; the ledger is `<tableName>_keys`. */
  readonly tableName?: string
  /** A Postgres schema for both tables (created if missing); default: the session's `search_path`. */
  readonly schema?: string
}

/** Quoted, schema-qualified names of everything the store creates. */
export interface PostgresNames extends IndexNames {
  readonly schema: string | undefined
  readonly table: string
  readonly keys: string
  readonly tableName: string
}

/** Validates the names (`tableName`, `schema`) and quotes them. */
export const postgresNames = (options: PostgresTableOptions): Effect.Effect<PostgresNames, InvalidStoreOptions> =>
  Effect.gen(function* () {
    const tableName = yield* identifier("tableName", options.tableName ?? defaultTableName)
    const schema = options.schema === undefined ? undefined : yield* identifier("schema", options.schema)
    const qualify = (name: string) => (schema === undefined ? quote(name) : `${quote(schema)}.${quote(name)}`)
    return {
      schema,
      tableName,
      table: qualify(tableName),
      keys: qualify(`${tableName}_keys`),
      ...indexNames(tableName)
    }
  })

/** The DDL, in order. Every statement is idempotent. */
export const postgresMigrationStatements = (names: PostgresNames): ReadonlyArray<string> => [
  ...(names.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS ${quote(names.schema)}`]),
  `CREATE TABLE IF NOT EXISTS ${names.table} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL,
  key text NOT NULL,
  payload text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  run_at bigint NOT NULL,
  token text,
  locked_by text,
  locked_until bigint,
  last_error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  finished_at bigint
)`,
  ...indexStatements(names.table, names),
  `CREATE TABLE IF NOT EXISTS ${names.keys} (
  kind text NOT NULL,
  key text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (kind, key)
)`
]

/**
 * The migration as SQL text, for a deploy step (`psql -f`): the statements of
 * `migratePostgresStore`, in one transaction.
 *
 * @since 1.0.0
 * @category migrations
 */
export const postgresMigrationSql = (options: PostgresTableOptions = {}): Effect.Effect<string, InvalidStoreOptions> =>
  Effect.map(postgresNames(options), (names) =>
    ["BEGIN;", ...postgresMigrationStatements(names).map((statement) => `${statement};`), "COMMIT;", ""].join("\n")
  )

/**
 * Creates the tables and indexes if they are missing (idempotent; safe to run from several
 * replicas at once: they serialise on an advisory lock named after the table).
 *
 * @since 1.0.0
 * @category migrations
 */
export const migratePostgresStore = (
  sql: SqlClient,
  options: PostgresTableOptions = {}
): Effect.Effect<void, StoreError | InvalidStoreOptions> =>
  Effect.flatMap(postgresNames(options), (names) => migrateNames(sql, names))

/** The migration over validated names. */
export const migrateNames = (sql: SqlClient, names: PostgresNames): Effect.Effect<void, StoreError> =>
  sql
    .withTransaction(
      Effect.gen(function* () {
        yield* sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`fibervisor_durable_migrate:${names.table}`])
          .raw
        for (const statement of postgresMigrationStatements(names)) {
          yield* sql.unsafe(statement).unprepared
        }
      })
    )
    .pipe(Effect.mapError((cause) => new StoreError({ operation: "migrate", cause })))
