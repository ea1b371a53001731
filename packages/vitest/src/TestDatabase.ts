/**
 * A Postgres database of its own for each test file: created under a unique name
 * (`fv_<label>_<random>`), handed to the test as a URL, dropped when the scope closes.
 *
 * Test files run in parallel processes against one server; a database per file keeps their
 * tables, advisory locks and sessions apart, and `DROP DATABASE … WITH (FORCE)` removes it even
 * when a test left sessions open (a killed child process, a pool still closing).
 *
 * This module needs `@effect/sql-pg` at run time, so it is only reachable through the subpath
 * `@fibervisor/vitest/TestDatabase` (the package index does not re-export it: `@effect/sql-pg`
 * is an optional peer).
 *
 * @since 1.0.0
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Reactivity from "effect/reactivity/Reactivity"
import type * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import { randomBytes } from "node:crypto"

/**
 * A database created for one test file.
 *
 * @since 1.0.0
 * @category models
 */
export interface TestDatabase {
  /** The database's name, `fv_<label>_<random>`. */
  readonly name: string
  /** `postgres://<user>@<host>:<port>/<name>`: give it to `PgClient.layer({ url })` or a child process. */
  readonly url: string
  /** The same URL, redacted, as `PgClient`'s `url` option takes it. */
  readonly redactedUrl: Redacted.Redacted<string>
}

/**
 * The service holding the current test file's database (provided by `layer` and `layerClient`).
 *
 * @since 1.0.0
 * @category services
 */
export const TestDatabase: Context.Service<TestDatabase, TestDatabase> = Context.Service<TestDatabase>(
  "@fibervisor/vitest/TestDatabase"
)

/**
 * Where the server is and who creates the databases. Every field is optional.
 *
 * @since 1.0.0
 * @category models
 */
export interface Options {
  /** Default `127.0.0.1`. */
  readonly host?: string
  /** Default `5432`. */
  readonly port?: number
  /** A role allowed to `CREATE DATABASE`; default `postgres` (trust authentication). */
  readonly user?: string
  /** The database the creating session connects to; default `postgres`. */
  readonly adminDatabase?: string
  /** How long to wait for the server to answer; default 5 seconds. */
  readonly connectTimeout?: Duration.Input
}

/**
 * Why a test database could not be made: a bad label or option (`reason: "InvalidInput"`, the
 * message names the field), a server that does not answer (`"Unavailable"`), or a server that
 * refused the `CREATE DATABASE` (`"CreateFailed"`).
 *
 * @since 1.0.0
 * @category errors
 */
export class TestDatabaseError extends Data.TaggedError("TestDatabaseError")<{
  readonly reason: "InvalidInput" | "Unavailable" | "CreateFailed"
  readonly message: string
  readonly cause?: unknown
}> {}

const optionKeys: ReadonlySet<string> = new Set(["host", "port", "user", "adminDatabase", "connectTimeout"])

/** Postgres truncates identifiers at 63 bytes; `fv_` + label + `_` + 12 hex digits stays below. */
const labelPattern = /^[A-Za-z0-9_-]{1,40}$/
const rolePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

interface Resolved {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly adminDatabase: string
  readonly connectTimeout: Duration.Duration
}

const invalid = (message: string) => new TestDatabaseError({ reason: "InvalidInput", message })

const resolve = (label: string, options: Options | undefined): Effect.Effect<Resolved, TestDatabaseError> =>
  Effect.suspend(() => {
    if (typeof label !== "string" || !labelPattern.test(label)) {
      return Effect.fail(
        invalid(`label: expected 1 to 40 characters among letters, digits, "_" and "-", got ${JSON.stringify(label)}`)
      )
    }
    const given = options ?? {}
    for (const key of Object.keys(given)) {
      if (!optionKeys.has(key)) {
        return Effect.fail(invalid(`${key}: unknown option (known: ${[...optionKeys].join(", ")})`))
      }
    }
    const host = given.host ?? "127.0.0.1"
    if (typeof host !== "string" || host.length === 0 || /[\s/@]/.test(host)) {
      return Effect.fail(invalid(`host: expected a host name or address, got ${JSON.stringify(host)}`))
    }
    const port = given.port ?? 5432
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return Effect.fail(invalid(`port: expected an integer from 1 to 65535, got ${String(port)}`))
    }
    const user = given.user ?? "postgres"
    if (typeof user !== "string" || !rolePattern.test(user)) {
      return Effect.fail(invalid(`user: expected a plain role name, got ${JSON.stringify(user)}`))
    }
    const adminDatabase = given.adminDatabase ?? "postgres"
    if (typeof adminDatabase !== "string" || !rolePattern.test(adminDatabase)) {
      return Effect.fail(invalid(`adminDatabase: expected a plain database name, got ${JSON.stringify(adminDatabase)}`))
    }
    const connectTimeout = Duration.fromInput(given.connectTimeout ?? "5 seconds")
    if (
      connectTimeout._tag === "None" ||
      !Duration.isPositive(connectTimeout.value) ||
      !Duration.isFinite(connectTimeout.value)
    ) {
      return Effect.fail(
        invalid(`connectTimeout: expected a positive finite duration, got ${JSON.stringify(given.connectTimeout)}`)
      )
    }
    return Effect.succeed({ host, port, user, adminDatabase, connectTimeout: connectTimeout.value })
  })

/**
 * The admin statements run on the live clock: a test usually runs under `TestClock`, where the
 * driver's connect timeout would never fire and a silent server would hang the test.
 */
const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, Clock.Clock, Clock.Clock.defaultValue())

/** One short-lived admin session: create and drop must not hold a connection for the whole file. */
const withAdmin = <A, E>(
  config: Resolved,
  use: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>
): Effect.Effect<A, E | TestDatabaseError> =>
  live(
    Effect.scoped(
      Effect.flatMap(
        PgClient.makeClient({
          host: config.host,
          port: config.port,
          username: config.user,
          database: config.adminDatabase,
          connectTimeout: config.connectTimeout,
          applicationName: "fibervisor-test-database"
        }).pipe(
          Effect.mapError(
            (cause) =>
              new TestDatabaseError({
                reason: "Unavailable",
                message:
                  `Postgres at ${config.host}:${config.port} (user ${config.user}, database ${config.adminDatabase}) ` +
                  `did not answer: ${cause.message}. Is it running? (pg_ctlcluster 15 main start)`,
                cause
              })
          )
        ),
        use
      )
    ).pipe(Effect.provide(Reactivity.layer))
  )

const quote = (identifier: string) => `"${identifier}"`

/**
 * Creates `fv_<label>_<random>` (the label lower-cased, `-` as `_`) and returns its URL; closing
 * the scope drops it with `WITH (FORCE)`, which ends the sessions still connected to it. A drop
 * that fails is logged as a warning (a finalizer cannot fail).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TestDatabase } from "@fibervisor/vitest/TestDatabase"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const db = yield* TestDatabase.make("my_store")
 *     console.log(db.url) // postgres://postgres@127.0.0.1:5432/fv_my_store_…
 *   })
 * )
 * ```
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = (label: string, options?: Options): Effect.Effect<TestDatabase, TestDatabaseError, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* resolve(label, options)
    // node:crypto, not Effect's Random: parallel test files under a seeded Random would collide.
    const name = `fv_${label.toLowerCase().replaceAll("-", "_")}_${randomBytes(6).toString("hex")}`
    const drop = withAdmin(
      config,
      (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`).unprepared
    )
    yield* Effect.acquireRelease(
      withAdmin(config, (sql) =>
        sql.unsafe(`CREATE DATABASE ${quote(name)}`).unprepared.pipe(
          Effect.mapError(
            (cause) =>
              new TestDatabaseError({
                reason: "CreateFailed",
                message: `CREATE DATABASE ${name} failed: ${cause.message}`,
                cause
              })
          )
        )
      ),
      () =>
        drop.pipe(
          Effect.catchCause((cause) => Effect.logWarning(`TestDatabase: could not drop ${name}`, cause)),
          Effect.asVoid
        )
    )
    const url = `postgres://${config.user}@${config.host}:${config.port}/${name}`
    return { name, url, redactedUrl: Redacted.make(url) }
  })

/**
 * The `TestDatabase` service over a database made by `make`, dropped when the layer is released.
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = (label: string, options?: Options): Layer.Layer<TestDatabase, TestDatabaseError> =>
  Layer.effect(TestDatabase, make(label, options))

/**
 * A fresh database and a `PgClient` pool connected to it: `TestDatabase`, `PgClient.PgClient` and
 * `SqlClient` in one layer. The pool closes before the database is dropped. `maxConnections`
 * defaults to 4: test files run in parallel against one server, whose connection limit
 * (`max_connections`, 100 by default) they share.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerClient = (
  label: string,
  options?: Options & { readonly maxConnections?: number }
): Layer.Layer<TestDatabase | PgClient.PgClient | SqlClient.SqlClient, TestDatabaseError> => {
  const { maxConnections = 4, ...rest } = options ?? {}
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    return Layer.effect(
      TestDatabase,
      Effect.fail(invalid(`maxConnections: expected a positive integer, got ${String(maxConnections)}`))
    ) as Layer.Layer<TestDatabase | PgClient.PgClient | SqlClient.SqlClient, TestDatabaseError>
  }
  const database = layer(label, rest)
  const client = Layer.unwrap(
    Effect.map(Effect.service(TestDatabase), (db) =>
      PgClient.layerFrom(
        PgClient.make({ url: db.redactedUrl, applicationName: `fibervisor-test-${label}`, maxConnections }).pipe(
          Effect.mapError(
            (cause) =>
              new TestDatabaseError({
                reason: "Unavailable",
                message: `Postgres did not accept a session on ${db.name}: ${cause.message}`,
                cause
              })
          )
        )
      )
    )
  )
  return Layer.provideMerge(client, database)
}
