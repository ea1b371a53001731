/**
 * A Postgres database of its own for each test file.
 *
 * Owns: creating `fv_<name>_<random>` on the local server (127.0.0.1:5432, user postgres, trust
 * auth), plain SQL against it from test code, terminating a process's sessions by
 * `application_name` (the harness's `dropSession`), and dropping the database `WITH (FORCE)`.
 *
 * Data flow: `TestDatabase.create(name)` opens an admin client on the `postgres` database, runs
 * `CREATE DATABASE`, then opens a client on the new database. `query` runs one statement there.
 * `drop` closes both clients (their scopes) and drops the database, ending whatever sessions the
 * fixtures left (killed or frozen processes).
 *
 * Invariants: only 127.0.0.1; the name is generated (lower-case letters, digits, `_`), never
 * taken from input; `drop` is idempotent and never throws past a clean-up failure it can log.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"

/** Where the tests' Postgres listens. */
export const pgHost = "127.0.0.1"
/** Its port. */
export const pgPort = 5432

type Client = PgClient.PgClient

const clientRuntime = (database: string, applicationName: string) =>
  ManagedRuntime.make(
    PgClient.layer({
      host: pgHost,
      port: pgPort,
      username: "postgres",
      database,
      applicationName,
      maxConnections: 2,
      connectTimeout: "10 seconds"
    }).pipe(Layer.orDie)
  )

const run = <A>(
  runtime: ManagedRuntime.ManagedRuntime<Client | SqlClient, never>,
  f: (sql: Client) => Effect.Effect<A, unknown>
) =>
  runtime.runPromise(
    Effect.gen(function* () {
      return yield* f(yield* PgClient.PgClient)
    })
  )

/** A database created for one test file. */
export class TestDatabase {
  private dropped = false

  private constructor(
    /** The database name, `fv_<name>_<random>`. */
    readonly name: string,
    private readonly admin: ManagedRuntime.ManagedRuntime<Client | SqlClient, never>,
    private readonly client: ManagedRuntime.ManagedRuntime<Client | SqlClient, never>
  ) {}

  /** Creates `fv_<prefix>_<random>` and connects to it. */
  static async create(prefix: string): Promise<TestDatabase> {
    const safe = prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]/g, "_")
      .slice(0, 30)
    const name = `fv_${safe}_${Math.random().toString(36).slice(2, 10)}`
    const admin = clientRuntime("postgres", `fv-admin-${name}`)
    await run(admin, (sql) => sql.unsafe(`CREATE DATABASE ${name}`))
    const client = clientRuntime(name, `fv-test-${name}`)
    return new TestDatabase(name, admin, client)
  }

  /** The connection settings fixtures use (they read them from the environment). */
  get env(): Record<string, string> {
    return { FV_PG_HOST: pgHost, FV_PG_PORT: String(pgPort), FV_PG_DATABASE: this.name }
  }

  /** Runs one statement (`$1`… placeholders) and returns its rows. */
  query<A extends object = Record<string, unknown>>(
    text: string,
    params: ReadonlyArray<unknown> = []
  ): Promise<Array<A>> {
    return run(this.client, (sql) => sql.unsafe<A>(text, params as Array<unknown>)) as Promise<Array<A>>
  }

  /**
   * Terminates every session of this database whose `application_name` is `applicationName`
   * (a runner's lease session): the process sees its connection drop. Returns how many ended.
   */
  async dropSession(applicationName: string): Promise<number> {
    const rows = await run(this.admin, (sql) =>
      sql.unsafe<{ ended: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
        [this.name, applicationName]
      )
    )
    return rows.filter((row) => row.ended).length
  }

  /** Closes the clients and drops the database `WITH (FORCE)`. Idempotent. */
  async drop(): Promise<void> {
    if (this.dropped) return
    this.dropped = true
    await this.client.dispose().catch(() => undefined)
    const name = this.name
    const exit = await this.admin.runPromiseExit(
      Effect.gen(function* () {
        const sql = yield* PgClient.PgClient
        yield* sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      })
    )
    await this.admin.dispose().catch(() => undefined)
    if (Exit.isFailure(exit)) {
      process.stderr.write(`TestDatabase.drop(${this.name}) failed: ${String(exit.cause)}\n`)
    }
  }
}
