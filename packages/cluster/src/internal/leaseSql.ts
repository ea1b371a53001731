/**
 * The lease store on SQL: every engine-specific statement of `@fibervisor/cluster`'s singletons
 * lives here, for Postgres and SQLite, over `effect/sql`'s `SqlClient` (the drivers are loaded by
 * `driverPg.ts` / `driverSqlite.ts`, which import nothing else of ours but this).
 *
 * Data flow: `make(dialect, table)` creates the table if it is missing, then returns a
 * `LeaseStore` whose operations are one statement each (acquire may add one read to say who
 * holds the lease).
 *
 * Invariants (see `leaseStore.ts`): `acquire` is one `INSERT … ON CONFLICT DO UPDATE … WHERE`
 * statement, atomic on the row, that bumps `epoch` only when the lease is free or expired;
 * `refresh` and `release` match owner and epoch. Postgres compares against the server's
 * `clock_timestamp()` (replicas on several hosts share one clock); SQLite against the host clock
 * read through Effect's `Clock` (one machine). `table` is checked as an identifier before it is
 * spliced into SQL.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { LeaseStoreError } from "../ClusterError.js"
import type { AcquireResult, LeaseStore } from "./leaseStore.js"

/** The SQL engines the lease store speaks. */
export type Dialect = "pg" | "sqlite"

interface Statements {
  readonly create: string
  /** params: name, runner, ttlMs, nowMs (every list ends with the host's now, which only SQLite reads) */
  readonly acquire: string
  /** params: name, nowMs */
  readonly holder: string
  /** params: name, runner, epoch, ttlMs, nowMs */
  readonly refresh: string
  /** params: name, runner, epoch, nowMs */
  readonly release: string
}

const statements = (dialect: Dialect, t: string): Statements =>
  dialect === "pg"
    ? {
        create: `CREATE TABLE IF NOT EXISTS ${t} (name text PRIMARY KEY, owner text, epoch bigint NOT NULL, expires_at timestamptz NOT NULL)`,
        acquire: `INSERT INTO ${t} AS t (name, owner, epoch, expires_at)
          VALUES ($1, $2, 1, clock_timestamp() + $3::float8 * interval '1 millisecond')
          ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = t.epoch + 1, expires_at = excluded.expires_at
          WHERE t.owner IS NULL OR t.expires_at <= clock_timestamp()
          RETURNING epoch::float8 AS epoch`,
        holder: `SELECT owner, epoch::float8 AS epoch FROM ${t}
          WHERE name = $1 AND owner IS NOT NULL AND expires_at > clock_timestamp()`,
        refresh: `UPDATE ${t} SET expires_at = clock_timestamp() + $4::float8 * interval '1 millisecond'
          WHERE name = $1 AND owner = $2 AND epoch = $3::float8 AND expires_at > clock_timestamp()
          RETURNING epoch::float8 AS epoch`,
        release: `UPDATE ${t} SET owner = NULL, expires_at = clock_timestamp()
          WHERE name = $1 AND owner = $2 AND epoch = $3::float8`
      }
    : {
        create: `CREATE TABLE IF NOT EXISTS ${t} (name TEXT PRIMARY KEY, owner TEXT, epoch INTEGER NOT NULL, expires_at INTEGER NOT NULL)`,
        acquire: `INSERT INTO ${t} (name, owner, epoch, expires_at) VALUES (?1, ?2, 1, ?4 + ?3)
          ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = ${t}.epoch + 1, expires_at = excluded.expires_at
          WHERE ${t}.owner IS NULL OR ${t}.expires_at <= ?4
          RETURNING epoch`,
        holder: `SELECT owner, epoch FROM ${t} WHERE name = ?1 AND owner IS NOT NULL AND expires_at > ?2`,
        refresh: `UPDATE ${t} SET expires_at = ?5 + ?4
          WHERE name = ?1 AND owner = ?2 AND epoch = ?3 AND expires_at > ?5
          RETURNING epoch`,
        release: `UPDATE ${t} SET owner = NULL, expires_at = ?4 WHERE name = ?1 AND owner = ?2 AND epoch = ?3`
      }

const storeError = (operation: string) => (error: unknown) =>
  new LeaseStoreError({
    operation,
    reason: error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)
  })

interface EpochRow {
  readonly epoch: number | string
}
interface HolderRow extends EpochRow {
  readonly owner: string
}

/** Creates the lease table if it is missing, and returns the store over it. */
export const make = (sql: SqlClient, dialect: Dialect, table: string): Effect.Effect<LeaseStore, LeaseStoreError> => {
  const s = statements(dialect, table)
  // Postgres reads its own clock: the host's `now`, always last, is only passed to SQLite.
  const run = <A extends object>(operation: string, text: string, params: ReadonlyArray<unknown>) =>
    sql
      .unsafe<A>(text, (dialect === "pg" ? params.slice(0, -1) : params) as Array<unknown>)
      .pipe(Effect.mapError(storeError(operation)))
  const store: LeaseStore = {
    acquire: (name, runner, ttlMs) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          run<EpochRow>("acquire", s.acquire, [name, runner, ttlMs, now]),
          (rows): Effect.Effect<AcquireResult, LeaseStoreError> =>
            rows.length > 0
              ? Effect.succeed({ _tag: "Acquired", epoch: Number(rows[0]!.epoch) })
              : Effect.map(run<HolderRow>("acquire", s.holder, [name, now]), (held): AcquireResult =>
                  held.length > 0
                    ? { _tag: "Held", owner: held[0]!.owner, epoch: Number(held[0]!.epoch) }
                    : { _tag: "Free" }
                )
        )
      ),
    refresh: (name, runner, epoch, ttlMs) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(run<EpochRow>("refresh", s.refresh, [name, runner, epoch, ttlMs, now]), (rows) => rows.length > 0)
      ),
    release: (name, runner, epoch) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.asVoid(run("release", s.release, [name, runner, epoch, now]))
      )
  }
  return Effect.as(run("create table", s.create, []), store)
}
