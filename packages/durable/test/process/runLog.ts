/**
 * The observation log of the real-process tests: one row per handler run in the `offload_runs`
 * table of the test file's own Postgres database, written by the fixture workers (a row at the start
 * of a run, updated at its end) and read back by the tests. It lives in Postgres even when the
 * store under test is SQLite, so what a killed worker wrote before it died is there to check.
 *
 * Times are epoch milliseconds from the writing process's clock (one machine, one clock).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { SqlClient } from "effect/sql"

/** How a run ended, as the handler saw it; `running` while it has not ended (or its process died). */
export type RunOutcome = "running" | "completed" | "failed" | "interrupted"

/** One handler run of one attempt. */
export interface Run {
  readonly kind: string
  readonly key: string
  /** The attempt number the worker was given (1-based). */
  readonly attempt: number
  readonly worker: string
  readonly pid: number
  readonly startedAt: number
  readonly finishedAt: number | null
  readonly outcome: RunOutcome
}

export const createRunsTable = `CREATE TABLE IF NOT EXISTS offload_runs (
  id bigserial PRIMARY KEY,
  kind text NOT NULL,
  key text NOT NULL,
  attempt integer NOT NULL,
  worker text NOT NULL,
  pid integer NOT NULL,
  started_at bigint NOT NULL,
  finished_at bigint,
  outcome text NOT NULL
)`

/** Gates: a slow run on its `slowOn` worker ends early once its key's gate is open (kinds.ts). */
export const createGatesTable = `CREATE TABLE IF NOT EXISTS offload_gates (key text PRIMARY KEY)`

export const pgLayer = (url: string) =>
  PgClient.layer({ url: Redacted.make(url), maxConnections: 4, applicationName: "fv-durable-process-test" })

interface RunRow {
  readonly kind: string
  readonly key: string
  readonly attempt: number
  readonly worker: string
  readonly pid: number
  readonly started_at: number
  readonly finished_at: number | null
  readonly outcome: RunOutcome
}

/** The test side of the log: create the table, read the runs of some keys. */
export interface RunLog {
  /** Every run whose key starts with `prefix`, in start order. */
  readonly runs: (prefix: string) => Promise<ReadonlyArray<Run>>
  /** Opens the gate of `key`: its slow run ends at the next check (within ~100 ms). */
  readonly openGate: (key: string) => Promise<void>
  readonly close: () => Promise<void>
}

export const openRunLog = async (url: string): Promise<RunLog> => {
  const runtime = ManagedRuntime.make(Layer.orDie(pgLayer(url)))
  await runtime.runPromise(
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(createRunsTable)
      yield* sql.unsafe(createGatesTable)
    })
  )
  return {
    runs: (prefix) =>
      runtime.runPromise(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql.unsafe<RunRow>(
            `SELECT kind, key, attempt, worker, pid, started_at::float8 AS started_at,
                    finished_at::float8 AS finished_at, outcome
               FROM offload_runs WHERE starts_with(key, $1) ORDER BY started_at, id`,
            [prefix]
          )
          return rows.map((row): Run => ({
            kind: row.kind,
            key: row.key,
            attempt: row.attempt,
            worker: row.worker,
            pid: row.pid,
            startedAt: row.started_at,
            finishedAt: row.finished_at,
            outcome: row.outcome
          }))
        })
      ),
    openGate: (key) =>
      runtime.runPromise(
        Effect.gen(function* () {
          const sql = yield* SqlClient.SqlClient
          yield* sql.unsafe(`INSERT INTO offload_gates (key) VALUES ($1) ON CONFLICT DO NOTHING`, [key])
        })
      ),
    close: () => runtime.dispose()
  }
}
