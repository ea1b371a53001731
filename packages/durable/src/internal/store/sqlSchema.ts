/**
 * The part of the schema both SQL dialects (postgresSchema.ts, sqliteSchema.ts) write the same
 * way: the four indexes of the jobs table, their names derived from the table name, and their DDL.
 * The columns differ by dialect (types, identity), so the tables stay in each dialect's module.
 *
 * Invariant: index names are quoted and never schema-qualified (Postgres creates an index in its
 * table's schema; SQLite has none).
 */
import { quote } from "./sqlOptions.js"

/** The quoted index names of a jobs table. */
export interface IndexNames {
  readonly inflightIndex: string
  readonly dueIndex: string
  readonly keyIndex: string
  readonly finishedIndex: string
}

/** The index names of the table `tableName` (already validated by `identifier`). */
export const indexNames = (tableName: string): IndexNames => ({
  inflightIndex: quote(`${tableName}_inflight_key`),
  dueIndex: quote(`${tableName}_due`),
  keyIndex: quote(`${tableName}_key`),
  finishedIndex: quote(`${tableName}_finished`)
})

/**
 * The indexes' DDL on `table` (the quoted, possibly qualified table name), idempotent. What each
 * serves is listed in postgresSchema.ts's header.
 */
export const indexStatements = (table: string, names: IndexNames): ReadonlyArray<string> => [
  `CREATE UNIQUE INDEX IF NOT EXISTS ${names.inflightIndex} ON ${table} (kind, key) WHERE status IN ('pending', 'running')`,
  `CREATE INDEX IF NOT EXISTS ${names.dueIndex} ON ${table} (kind, status, run_at, id)`,
  `CREATE INDEX IF NOT EXISTS ${names.keyIndex} ON ${table} (kind, key, id)`,
  `CREATE INDEX IF NOT EXISTS ${names.finishedIndex} ON ${table} (finished_at) WHERE status IN ('completed', 'cancelled')`
]
