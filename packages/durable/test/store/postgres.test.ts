import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as TestDatabase from "@fibervisor/vitest/TestDatabase"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { type DurableStore, Store } from "../../src/internal/store.js"
import {
  layerPostgresStore,
  layerPostgresStoreFromClient,
  makePostgresStore,
  type PostgresStoreOptions
} from "../../src/internal/store/postgres.js"
import { migratePostgresStore, postgresMigrationSql } from "../../src/internal/store/postgresSchema.js"
import { conformance, job, t0 } from "./conformance.js"

let tables = 0
const nextTable = () => `jobs_${++tables}`

const build = <E>(layer: Layer.Layer<DurableStore, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, Store))

/** Each scenario gets its own tables in the file's database, through the public layer. */
const fresh = Effect.flatMap(Effect.service(SqlClient), (sql) =>
  build(layerPostgresStore({ client: sql, tableName: nextTable() }))
)

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure: ${String(exit.cause)}`)
  return reason.error
}

const tableExists = (name: string, schema = "public") =>
  Effect.flatMap(Effect.service(SqlClient), (sql) =>
    Effect.map(
      sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = ${schema} AND tablename = ${name}`,
      (rows) => rows[0]!.n === 1
    )
  )

describe("Postgres store", () => {
  // Real time: nothing here reads the clock, and the pool's timers must run.
  layer(TestDatabase.layerClient("store_pg", { maxConnections: 6 }), { excludeTestServices: true })((it) => {
    describe("conformance", () => {
      conformance(it, fresh)
    })

    it.effect("the migration is idempotent and safe to run from several replicas at once", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* Effect.all(
          Array.from({ length: 4 }, () => migratePostgresStore(sql, { tableName: "concurrent", schema: "ops" })),
          { concurrency: "unbounded" }
        )
        yield* migratePostgresStore(sql, { tableName: "concurrent", schema: "ops" })
        assert.isTrue(yield* tableExists("concurrent", "ops"))
        assert.isTrue(yield* tableExists("concurrent_keys", "ops"))
        assert.isFalse(yield* tableExists("concurrent"))
        const store = yield* makePostgresStore(sql, { tableName: "concurrent", schema: "ops" })
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
      })
    )

    it.effect("the migration as SQL text, run by an operator, makes the tables a `migrate: false` store uses", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const text = yield* postgresMigrationSql({ tableName: "by_ops" })
        assert.match(text, /^BEGIN;/)
        assert.include(text, 'CREATE TABLE IF NOT EXISTS "by_ops"')
        assert.include(text, 'CREATE TABLE IF NOT EXISTS "by_ops_keys"')
        const db = yield* TestDatabase.TestDatabase
        // As a deploy step would: psql, twice (idempotent as a script too).
        for (let i = 0; i < 2; i++) {
          execFileSync("psql", [db.url, "-v", "ON_ERROR_STOP=1", "-q", "-f", "-"], { input: text, timeout: 30_000 })
        }
        const store = yield* build(layerPostgresStore({ client: sql, tableName: "by_ops", migrate: false }))
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        assert.strictEqual((yield* store.counts("k")).pending, 1)
      })
    )

    it.effect("with `migrate: false` and no tables, operations fail with a StoreError naming the operation", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const store = yield* build(layerPostgresStore({ client: sql, tableName: "never_made", migrate: false }))
        const error = failure(yield* Effect.exit(store.enqueue(job("a"))))
        assert.strictEqual(error._tag, "StoreError")
        assert.strictEqual(error.operation, "enqueue")
        assert.isFalse(yield* tableExists("never_made"))
      })
    )

    it.effect("`url`: the store opens its own pool on the database", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.TestDatabase
        for (const url of [db.url, db.redactedUrl]) {
          const store = yield* build(layerPostgresStore({ url, tableName: "by_url", maxConnections: 2 }))
          assert.include(["enqueued", "deduplicated"], yield* store.enqueue(job("a")))
        }
        assert.isTrue(yield* tableExists("by_url"))
      })
    )

    it.effect("layerPostgresStoreFromClient uses the SqlClient in context", () =>
      Effect.gen(function* () {
        const store = yield* build(
          layerPostgresStoreFromClient({ tableName: "from_context" }).pipe(
            Layer.provide(Layer.succeed(SqlClient, yield* SqlClient))
          )
        )
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        assert.isTrue(yield* tableExists("from_context"))
      })
    )

    it.effect("stores on different tables do not see each other's jobs", () =>
      Effect.gen(function* () {
        const one = yield* fresh
        const two = yield* fresh
        yield* one.enqueue(job("a"))
        assert.strictEqual(yield* two.enqueue(job("a")), "enqueued")
        assert.strictEqual((yield* two.claim({ kind: "k", worker: "w", limit: 5, now: t0, lockFor: 10 })).length, 1)
        assert.strictEqual((yield* one.counts("k")).pending, 1)
      })
    )

    it.effect("a write the database refuses fails its own call only, even inside a batch", () =>
      Effect.gen(function* () {
        const store = yield* fresh
        // Postgres text cannot hold NUL: this enqueue fails alone, the nine beside it succeed.
        const outcomes = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => job(`key-${i}`, { payload: i === 4 ? "nul\u0000" : "ok" })),
          (input) => Effect.exit(store.enqueue(input)),
          { concurrency: "unbounded" }
        )
        outcomes.forEach((exit, i) => {
          if (i === 4) {
            const error = failure(exit)
            assert.strictEqual(error._tag, "StoreError")
            assert.strictEqual(error.operation, "enqueue")
          } else assert.deepStrictEqual(exit, Exit.succeed("enqueued"))
        })
        assert.strictEqual((yield* store.counts("k")).pending, 9)
        // The same for a lease operation: a NUL in one error message.
        const rows = yield* store.claim({ kind: "k", worker: "w", limit: 9, now: t0, lockFor: 1000 })
        const fails = yield* Effect.forEach(
          rows,
          (row, i) =>
            Effect.exit(
              store.fail(row.id, row.token!, { error: i === 2 ? "bad\u0000" : "e", retryAt: null, now: t0 + 1 })
            ),
          { concurrency: "unbounded" }
        )
        fails.forEach((exit, i) => {
          if (i === 2) assert.strictEqual(failure(exit)._tag, "StoreError")
          else assert.deepStrictEqual(exit, Exit.succeed(true))
        })
        assert.strictEqual((yield* store.counts("k")).failed, 8)
      })
    )

    it.effect("migrated by an owner, run by a role that may only read and write the two tables", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.TestDatabase
        const sql = yield* SqlClient
        yield* migratePostgresStore(sql, { tableName: "least_privilege" })
        // Roles are server-wide: a unique name, dropped with its grants when the test ends.
        const role = `fv_runtime_${randomBytes(5).toString("hex")}`
        yield* Effect.acquireRelease(sql.unsafe(`CREATE ROLE ${role} LOGIN`).raw, () =>
          Effect.ignore(
            Effect.andThen(sql.unsafe(`DROP OWNED BY ${role}`).raw, sql.unsafe(`DROP ROLE IF EXISTS ${role}`).raw)
          )
        )
        yield* sql.unsafe(
          `GRANT SELECT, INSERT, UPDATE, DELETE ON "least_privilege", "least_privilege_keys" TO ${role}`
        ).raw
        const url = db.url.replace("postgres://postgres@", `postgres://${role}@`)
        const store = yield* build(
          layerPostgresStore({ url, tableName: "least_privilege", migrate: false, maxConnections: 2 })
        )
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        assert.strictEqual(yield* store.enqueue(job("b", { dedupe: "ever" })), "enqueued")
        const rows = yield* store.claim({ kind: "k", worker: "w", limit: 2, now: t0, lockFor: 1000 })
        assert.strictEqual(rows.length, 2)
        assert.isTrue(yield* store.complete(rows[0]!.id, rows[0]!.token!, t0 + 1))
        assert.isTrue(yield* store.release(rows[1]!.id, rows[1]!.token!, t0 + 1))
        assert.strictEqual(yield* store.cleanup(t0 + 10), 1)
        // The role cannot create tables: a store that migrates on start fails with StoreError.
        const refused = failure(
          yield* Effect.exit(build(layerPostgresStore({ url, tableName: "not_allowed", maxConnections: 1 })))
        )
        assert.strictEqual(refused._tag, "StoreError")
        if (refused._tag === "StoreError") assert.strictEqual(refused.operation, "migrate")
      })
    )

    it.effect("sessions killed under the store: typed StoreErrors, then the pool reconnects", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.TestDatabase
        const sql = yield* SqlClient
        const store = yield* build(layerPostgresStore({ url: db.url, tableName: "killed", maxConnections: 2 }))
        assert.strictEqual(yield* store.enqueue(job("before")), "enqueued")
        const killed = yield* sql<{ n: number }>`
          SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = ${db.name} AND application_name = 'fibervisor-durable'`
        assert.isAbove(killed[0]!.n, 0)
        // Each call either fails with a StoreError (never a defect) or succeeds on a fresh session;
        // a bounded number of calls gets through.
        let outcome: string | undefined
        for (let i = 0; i < 20 && outcome === undefined; i++) {
          const exit = yield* Effect.exit(store.enqueue(job("after")))
          if (Exit.isSuccess(exit)) outcome = exit.value
          else assert.strictEqual(failure(exit)._tag, "StoreError")
        }
        assert.strictEqual(outcome, "enqueued")
        assert.strictEqual((yield* store.counts("k")).pending, 2)
      })
    )

    it.effect("refused table names and options: InvalidStoreOptions naming the field, nothing created", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const bad: ReadonlyArray<readonly [PostgresStoreOptions, string]> = [
          [{ client: sql, tableName: "Jobs" }, "tableName"],
          [{ client: sql, tableName: 'jobs"; DROP TABLE x; --' }, "tableName"],
          [{ client: sql, tableName: "" }, "tableName"],
          [{ client: sql, tableName: "1jobs" }, "tableName"],
          [{ client: sql, tableName: "a".repeat(41) }, "tableName"],
          [{ client: sql, tableName: "jobs-1" }, "tableName"],
          [{ client: sql, schema: "Ops" }, "schema"],
          [{ client: sql, tableName: "refused", tabelName: "x" } as PostgresStoreOptions, "tabelName"],
          [{ tableName: "refused" }, "url"],
          [{ client: sql, url: "postgres://127.0.0.1/x" }, "url"],
          [{ url: "mysql://127.0.0.1/x" }, "url"],
          [{ client: sql, tableName: "refused", maxConnections: 3 }, "maxConnections"],
          [{ url: "postgres://127.0.0.1/x", maxConnections: 0 }, "maxConnections"],
          [{ url: "postgres://127.0.0.1/x", maxConnections: 2.5 }, "maxConnections"],
          [{ client: sql, tableName: "refused", migrate: "yes" as unknown as boolean }, "migrate"]
        ]
        for (const [options, field] of bad) {
          const error = failure(yield* Effect.exit(build(layerPostgresStore(options))))
          assert.strictEqual(error._tag, "InvalidStoreOptions", field)
          if (error._tag === "InvalidStoreOptions") {
            assert.strictEqual(error.field, field)
            assert.include(error.message, `${field}: `)
          }
        }
        const fromClient = failure(
          yield* Effect.exit(
            build(layerPostgresStoreFromClient({ tableName: "Bad" }).pipe(Layer.provide(Layer.succeed(SqlClient, sql))))
          )
        )
        assert.strictEqual(fromClient._tag, "InvalidStoreOptions")
        assert.isFalse(yield* tableExists("refused"))
        // Checked before connecting: with a server that does not answer, the name is still what fails.
        const early = failure(
          yield* Effect.exit(build(layerPostgresStore({ url: "postgres://postgres@127.0.0.1:1/x", tableName: "Bad" })))
        )
        assert.strictEqual(early._tag, "InvalidStoreOptions")
      })
    )

    it.effect("a server that does not answer fails the layer with StoreError", () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          build(
            layerPostgresStore({ url: Redacted.make("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2") })
          )
        )
        const error = failure(exit)
        assert.strictEqual(error._tag, "StoreError")
        if (error._tag === "StoreError") assert.include(["connect", "migrate"], error.operation)
      })
    )
  })
})
