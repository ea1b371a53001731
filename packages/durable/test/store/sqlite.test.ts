import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient } from "effect/sql/SqlClient"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { type DurableStore, Store } from "../../src/internal/store.js"
import {
  layerSqliteStore,
  layerSqliteStoreFromClient,
  makeSqliteStore,
  type SqliteStoreOptions
} from "../../src/internal/store/sqlite.js"
import { migrateSqliteStore, sqliteMigrationSql } from "../../src/internal/store/sqliteSchema.js"
import { conformance, job, t0 } from "./conformance.js"

/** A directory of its own for this file's databases, removed after. */
const dir = mkdtempSync(join(tmpdir(), "fv-store-sqlite-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const shared = join(dir, "shared.db")

let tables = 0
const nextTable = () => `jobs_${++tables}`

const build = <E>(layer: Layer.Layer<DurableStore, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, Store))

const fresh = Effect.flatMap(Effect.service(SqlClient), (sql) =>
  build(layerSqliteStore({ client: sql, tableName: nextTable() }))
)

const failure = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure: ${String(exit.cause)}`)
  return reason.error
}

const tableExists = (name: string) =>
  Effect.flatMap(Effect.service(SqlClient), (sql) =>
    Effect.map(
      sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${name}`,
      (rows) => Number(rows[0]!.n) === 1
    )
  )

const packageDir = fileURLToPath(new URL("../..", import.meta.url))
const worker = fileURLToPath(new URL("./fixtures/sqliteWorker.ts", import.meta.url))

/** Runs the fixture in a child process; resolves with its stdout lines. */
const spawnWorker = (filename: string, tableName: string, name: string, mode: "claim" | "enqueue") =>
  Effect.callback<ReadonlyArray<string>, Error>((resume) => {
    const child = execFile(
      process.execPath,
      ["--no-warnings", "--import", "tsx", worker, filename, tableName, name, mode],
      { cwd: packageDir, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null) resume(Effect.fail(new Error(`${name} failed: ${error.message}\n${stderr}`)))
        else resume(Effect.succeed(stdout.split("\n").filter((line) => line.length > 0)))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("SQLite store", () => {
  layer(SqliteClient.layer({ filename: shared }), { excludeTestServices: true })((it) => {
    describe("conformance", () => {
      conformance(it, fresh)
    })

    it.effect("the migration is idempotent, and its SQL text makes the tables a `migrate: false` store uses", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        yield* migrateSqliteStore(sql, { tableName: "twice" })
        yield* migrateSqliteStore(sql, { tableName: "twice" })
        assert.isTrue(yield* tableExists("twice"))
        assert.isTrue(yield* tableExists("twice_keys"))
        const text = yield* sqliteMigrationSql({ tableName: "by_ops" })
        assert.match(text, /^BEGIN IMMEDIATE;/)
        assert.include(text, 'CREATE TABLE IF NOT EXISTS "by_ops"')
        // As an operator's script (`sqlite3 file.db < migration.sql`), twice: idempotent as a script too.
        const operator = new DatabaseSync(shared)
        try {
          operator.exec("PRAGMA busy_timeout = 10000")
          operator.exec(text)
          operator.exec(text)
        } finally {
          operator.close()
        }
        const store = yield* build(layerSqliteStore({ client: sql, tableName: "by_ops", migrate: false }))
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        const direct = yield* makeSqliteStore(sql, { tableName: "by_ops" })
        assert.strictEqual((yield* direct.counts("k")).pending, 1)
      })
    )

    it.effect("with `migrate: false` and no tables, operations fail with a StoreError naming the operation", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const store = yield* build(layerSqliteStore({ client: sql, tableName: "never_made", migrate: false }))
        for (const [operation, effect] of [
          ["enqueue", store.enqueue(job("a"))],
          ["claim", store.claim({ kind: "k", worker: "w", limit: 1, now: t0, lockFor: 1 })],
          ["cancel", store.cancel("k", "a", t0)],
          ["cleanup", store.cleanup(t0)]
        ] as const) {
          const error = failure(yield* Effect.exit(effect as Effect.Effect<unknown, { _tag: string }>))
          assert.strictEqual(error._tag, "StoreError")
          assert.strictEqual((error as unknown as { operation: string }).operation, operation)
        }
        assert.isFalse(yield* tableExists("never_made"))
      })
    )

    it.effect("layerSqliteStoreFromClient uses the SqlClient in context", () =>
      Effect.gen(function* () {
        const store = yield* build(
          layerSqliteStoreFromClient({ tableName: "from_context" }).pipe(
            Layer.provide(Layer.succeed(SqlClient, yield* SqlClient))
          )
        )
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        assert.isTrue(yield* tableExists("from_context"))
      })
    )

    it.effect("refused table names and options: InvalidStoreOptions naming the field, nothing created", () =>
      Effect.gen(function* () {
        const sql = yield* SqlClient
        const bad: ReadonlyArray<readonly [SqliteStoreOptions, string]> = [
          [{ client: sql, tableName: "Jobs" }, "tableName"],
          [{ client: sql, tableName: 'jobs"; DROP TABLE x; --' }, "tableName"],
          [{ client: sql, tableName: "" }, "tableName"],
          [{ client: sql, tableName: "9lives" }, "tableName"],
          [{ client: sql, tableName: "a".repeat(41) }, "tableName"],
          [{ client: sql, tableName: "refused", filenam: "x.db" } as SqliteStoreOptions, "filenam"],
          [{ tableName: "refused" }, "filename"],
          [{ client: sql, filename: join(dir, "x.db") }, "filename"],
          [{ filename: "" }, "filename"],
          [{ client: sql, tableName: "refused", busyTimeout: "1 second" }, "busyTimeout"],
          [{ client: sql, tableName: "refused", synchronous: "normal" }, "synchronous"],
          [{ filename: join(dir, "x.db"), busyTimeout: -1 }, "busyTimeout"],
          [{ filename: join(dir, "x.db"), synchronous: "off" as "full" }, "synchronous"],
          [{ client: sql, tableName: "refused", migrate: 1 as unknown as boolean }, "migrate"]
        ]
        for (const [options, field] of bad) {
          const error = failure(yield* Effect.exit(build(layerSqliteStore(options))))
          assert.strictEqual(error._tag, "InvalidStoreOptions", field)
          if (error._tag === "InvalidStoreOptions") {
            assert.strictEqual(error.field, field)
            assert.include(error.message, `${field}: `)
          }
        }
        const fromClient = failure(
          yield* Effect.exit(
            build(layerSqliteStoreFromClient({ tableName: "Bad" }).pipe(Layer.provide(Layer.succeed(SqlClient, sql))))
          )
        )
        assert.strictEqual(fromClient._tag, "InvalidStoreOptions")
        assert.isFalse(yield* tableExists("refused"))
        // Checked before the file is opened: a refused table name leaves no file behind.
        const never = join(dir, "never-created.db")
        assert.strictEqual(
          failure(yield* Effect.exit(build(layerSqliteStore({ filename: never, tableName: "no spaces" }))))._tag,
          "InvalidStoreOptions"
        )
        assert.isFalse(existsSync(never))
      })
    )
  })

  describe("a database file the store opens itself", () => {
    layer(Layer.empty, { excludeTestServices: true })((it) => {
      it.effect("`filename`: opened in WAL mode, with the synchronous level asked for, closed with the layer", () =>
        Effect.gen(function* () {
          for (const synchronous of ["full", "normal", undefined] as const) {
            const filename = join(dir, `own-${synchronous ?? "default"}.db`)
            const store = yield* build(
              layerSqliteStore({ filename, ...(synchronous === undefined ? {} : { synchronous }) })
            )
            assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
            // Read back from another connection: the row is committed to the file.
            const peek = yield* SqliteClient.make({ filename }).pipe(Effect.provide(Reactivity.layer))
            const mode = yield* peek<{ journal_mode: string }>`PRAGMA journal_mode`
            assert.strictEqual(mode[0]!.journal_mode, "wal")
            const rows = yield* peek<{ n: number }>`SELECT count(*) AS n FROM fibervisor_durable_jobs`
            assert.strictEqual(Number(rows[0]!.n), 1)
          }
        })
      )

      it.effect("a file that cannot be opened fails the layer with StoreError", () =>
        Effect.gen(function* () {
          const error = failure(
            yield* Effect.exit(build(layerSqliteStore({ filename: join(dir, "missing-dir", "x.db") })))
          )
          assert.strictEqual(error._tag, "StoreError")
          if (error._tag === "StoreError") assert.strictEqual(error.operation, "connect")
        })
      )

      it.effect(
        "several processes on one file: 4 enqueuers (50 offers each over 10 keys) insert 10 rows; 4 claimers each get distinct rows",
        () =>
          Effect.gen(function* () {
            const filename = join(dir, "processes.db")
            // Migrate first, so the children only race on the jobs themselves.
            const setup = yield* build(layerSqliteStore({ filename, tableName: "shared" }))
            const offers = yield* Effect.forEach(
              ["e1", "e2", "e3", "e4"],
              (name) => spawnWorker(filename, "shared", name, "enqueue"),
              { concurrency: "unbounded" }
            ).pipe(Effect.map((lines) => lines.flat()))
            assert.strictEqual(offers.length, 200)
            assert.strictEqual(offers.filter((line) => line.endsWith(" enqueued")).length, 10)
            assert.strictEqual((yield* setup.counts("k")).pending, 10)
            // More rows, so the claimers overlap for a while.
            for (let i = 10; i < 150; i++) yield* setup.enqueue(job(`key-${i}`))
            const claims = yield* Effect.forEach(
              ["c1", "c2", "c3", "c4"],
              (name) => spawnWorker(filename, "shared", name, "claim"),
              { concurrency: "unbounded" }
            ).pipe(Effect.map((lines) => lines.flat()))
            const ids = claims.map((line) => line.split(" ")[0])
            assert.strictEqual(ids.length, 150)
            assert.strictEqual(new Set(ids).size, 150)
            assert.isTrue(claims.every((line) => line.endsWith(" 1")))
            assert.strictEqual((yield* setup.counts("k")).running, 150)
          }),
        120_000
      )
    })
  })
})
