/**
 * A Postgres database of the benchmark's own on the local server (127.0.0.1:5432, trust auth):
 * `fv_bench_durable_<random>`, created when a run starts and dropped (`WITH (FORCE)`) when it
 * ends, so DurableOffload's and pg-boss's tables never meet other work's.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

const server = "postgres://postgres@127.0.0.1:5432"

const onAdmin = (statement: string): Promise<ReadonlyArray<Record<string, unknown>>> =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.unsafe<Record<string, unknown>>(statement)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(`${server}/postgres`), maxConnections: 1 })),
    Effect.runPromise
  )

/** A created database: its name and URL, and how to drop it. */
export interface BenchDatabase {
  readonly name: string
  readonly url: string
  readonly drop: () => Promise<void>
}

/** Creates `fv_bench_durable_<suffix>`; the suffix must be lowercase letters and digits. */
export const createDatabase = async (suffix: string): Promise<BenchDatabase> => {
  if (!/^[a-z0-9]+$/.test(suffix)) throw new Error(`database suffix ${JSON.stringify(suffix)}: letters and digits only`)
  const name = `fv_bench_durable_${suffix}`
  await onAdmin(`CREATE DATABASE ${name}`)
  return {
    name,
    url: `${server}/${name}`,
    drop: async () => {
      await onAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  }
}

/** The server's version, e.g. `15.20 (Debian 15.20-0+deb12u1)`. */
export const postgresVersion = async (): Promise<string> =>
  String((await onAdmin(`SHOW server_version`))[0]?.["server_version"] ?? "unknown")
