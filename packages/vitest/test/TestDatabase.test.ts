import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql/SqlClient"
import * as TestDatabase from "../src/TestDatabase.js"

/** A session on the server's `postgres` database, to look at databases from outside. */
const admin = PgClient.layer({ host: "127.0.0.1", port: 5432, username: "postgres", database: "postgres" })

const exists = (name: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient
    const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${name}`
    return rows[0]!.n === 1
  })

const currentDatabase = (url: Redacted.Redacted<string>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* PgClient.makeClient({ url })
      const rows = yield* sql<{ db: string }>`SELECT current_database() AS db`
      return rows[0]!.db
    })
  ).pipe(Effect.provide(Reactivity.layer))

const failure = <A>(exit: Exit.Exit<A, TestDatabase.TestDatabaseError>): TestDatabase.TestDatabaseError => {
  assert.isTrue(Exit.isFailure(exit))
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") throw new Error("expected a typed failure")
  return error.error
}

describe("TestDatabase", () => {
  layer(admin)((it) => {
    it.effect("creates a database reachable through its URL, and drops it when the scope closes", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const db = yield* TestDatabase.make("tdb-create").pipe(Scope.provide(scope))
        assert.match(db.name, /^fv_tdb_create_[0-9a-f]{12}$/)
        assert.strictEqual(db.url, `postgres://postgres@127.0.0.1:5432/${db.name}`)
        assert.strictEqual(Redacted.value(db.redactedUrl), db.url)
        assert.isTrue(yield* exists(db.name))
        assert.strictEqual(yield* currentDatabase(db.redactedUrl), db.name)
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(yield* exists(db.name))
      })
    )

    it.effect("gives each call its own database, even with the same label", () =>
      Effect.gen(function* () {
        const [a, b] = yield* Effect.all([TestDatabase.make("tdb-same"), TestDatabase.make("tdb-same")], {
          concurrency: 2
        })
        assert.notStrictEqual(a.name, b.name)
        assert.isTrue(yield* exists(a.name))
        assert.isTrue(yield* exists(b.name))
      }).pipe(Effect.scoped)
    )

    it.effect("drops the database even while a session is still connected to it", () =>
      Effect.gen(function* () {
        const outer = yield* Scope.make()
        const inner = yield* Scope.make()
        const db = yield* TestDatabase.make("tdb-force").pipe(Scope.provide(inner))
        // A session that outlives the database's scope (a pool still closing, a killed child's backend).
        const session = yield* PgClient.makeClient({ url: db.redactedUrl }).pipe(
          Scope.provide(outer),
          TestClock.withLive,
          Effect.provide(Reactivity.layer)
        )
        yield* session`SELECT 1`
        yield* Scope.close(inner, Exit.void)
        assert.isFalse(yield* exists(db.name))
        yield* Scope.close(outer, Exit.void)
      })
    )

    it.effect("closes cleanly when the database is already gone", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const db = yield* TestDatabase.make("tdb-gone").pipe(Scope.provide(scope))
        const sql = yield* SqlClient
        yield* sql.unsafe(`DROP DATABASE "${db.name}" WITH (FORCE)`).unprepared
        // IF EXISTS: the finalizer finds nothing to drop and succeeds.
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(yield* exists(db.name))
      })
    )
  })

  layer(TestDatabase.layerClient("tdb-layer"))((it) => {
    it.effect("layerClient: the service and a pool on the same database", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.TestDatabase
        const sql = yield* SqlClient
        const rows = yield* sql<{ db: string }>`SELECT current_database() AS db`
        assert.strictEqual(rows[0]!.db, db.name)
        yield* sql`CREATE TABLE t (x int)`
        yield* sql`INSERT INTO t VALUES (1)`
        const pg = yield* PgClient.PgClient
        assert.strictEqual((yield* pg<{ x: number }>`SELECT x FROM t`)[0]!.x, 1)
      })
    )
  })

  it.effect("a server that does not answer is a typed Unavailable error naming host and port", () =>
    Effect.gen(function* () {
      const exit = yield* TestDatabase.make("tdb-down", { port: 1, connectTimeout: "2 seconds" }).pipe(
        Effect.scoped,
        Effect.exit
      )
      const error = failure(exit)
      assert.strictEqual(error.reason, "Unavailable")
      assert.include(error.message, "127.0.0.1:1")
      assert.include(error.message, "did not answer")
    })
  )

  it.effect("the layer fails with the same error when the server does not answer", () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(TestDatabase.layer("tdb-down", { port: 1 })).pipe(Effect.scoped, Effect.exit)
      assert.strictEqual(failure(exit).reason, "Unavailable")
    })
  )

  it.effect("layerClient refuses a pool size that is not a positive integer", () =>
    Effect.gen(function* () {
      for (const maxConnections of [0, -1, 2.5]) {
        const exit = yield* Layer.build(TestDatabase.layerClient("tdb-pool", { port: 1, maxConnections })).pipe(
          Effect.scoped,
          Effect.exit
        )
        const error = failure(exit)
        assert.strictEqual(error.reason, "InvalidInput")
        assert.include(error.message, "maxConnections:")
      }
    })
  )

  const invalid: ReadonlyArray<readonly [string, string, TestDatabase.Options | undefined, string]> = [
    ["an empty label", "", undefined, "label:"],
    ["a label with a quote", 'a"b', undefined, "label:"],
    ["a label too long", "x".repeat(41), undefined, "label:"],
    ["an unknown option", "ok", { hots: "127.0.0.1" } as TestDatabase.Options, "hots: unknown option"],
    ["a port out of range", "ok", { port: 70000 }, "port:"],
    ["a fractional port", "ok", { port: 5432.5 }, "port:"],
    ["an empty host", "ok", { host: "" }, "host:"],
    ["a user with a quote", "ok", { user: 'post"gres' }, "user:"],
    ["an admin database with a space", "ok", { adminDatabase: "my db" }, "adminDatabase:"],
    ["a zero connect timeout", "ok", { connectTimeout: 0 }, "connectTimeout:"],
    ["a negative connect timeout", "ok", { connectTimeout: -5 }, "connectTimeout:"]
  ]
  for (const [what, label, options, field] of invalid) {
    it.effect(`refuses ${what} before connecting (InvalidInput naming the field)`, () =>
      Effect.gen(function* () {
        // Port 1 would be Unavailable: InvalidInput proves nothing was attempted.
        const exit = yield* TestDatabase.make(label, { port: 1, ...options }).pipe(Effect.scoped, Effect.exit)
        const error = failure(exit)
        assert.strictEqual(error.reason, "InvalidInput")
        assert.include(error.message, field)
      })
    )
  }
})
