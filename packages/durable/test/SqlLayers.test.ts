/**
 * `DurableOffload.layerSqlite` and `layerPostgres` end to end: the service and workers on the real
 * stores (a temp SQLite file; a Postgres database of this file's own). Real time (the drivers'
 * I/O and pools need it): every wait is bounded and on an observable condition, never a duration.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import * as TestDatabase from "@fibervisor/vitest/TestDatabase"
import { Context, Deferred, Effect, Exit, Layer, Option, Schedule, Schema, Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { DurableStore } from "../src/internal/store.js"

const Kind = DurableOffload.kind("sql-e2e", {
  payload: Schema.Struct({ n: Schema.Number, at: Schema.Date }),
  key: (p) => `k${p.n}`,
  maxAttempts: 2,
  retry: Backoff.constant("20 millis")
})

/** Waits until `check` holds, polling every 20 ms, for at most 30 s (then fails with `what`). */
const until = (what: string, check: Effect.Effect<boolean, unknown>) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet"))),
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 1500 }))),
    Effect.mapError(() => new Error(`timed out waiting for: ${what}`))
  )

const scenario = (durable: Layer.Layer<DurableOffload.DurableOffload | DurableStore, unknown>) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(durable)
    const service = Context.get(context, DurableOffload.DurableOffload)
    const blocked = yield* Deferred.make<void>()
    const seen: Array<number> = []
    const workersScope = yield* Scope.make()
    yield* Layer.buildWithScope(
      DurableOffload.workers(
        [
          Kind.handle(({ n, at }) =>
            Effect.gen(function* () {
              expect(at).toBeInstanceOf(Date)
              seen.push(n)
              if (n === 13) return yield* Effect.fail(`unlucky ${n}`)
              if (n === 99) {
                yield* Deferred.succeed(blocked, undefined)
                return yield* Effect.never
              }
            })
          )
        ],
        { pollInterval: "50 millis", lease: "10 seconds", grace: 0 }
      ),
      workersScope
    ).pipe(Effect.provide(context))
    for (const n of [1, 2, 3, 13]) expect(yield* service.enqueue(Kind, { n, at: new Date(n) })).toBe("enqueued")
    expect(yield* service.enqueue(Kind, { n: 1, at: new Date(1) })).toMatch(/^(deduplicated|enqueued)$/)
    expect(yield* service.enqueue(Kind, { n: 7, at: new Date(7) }, { delay: "1 hour" })).toBe("enqueued")
    expect(yield* service.cancel(Kind, "k7")).toBe("cancelled")
    yield* until(
      "3 completed, 1 dead letter",
      Effect.map(service.counts(Kind), (c) => c.completed >= 3 && c.failed === 1)
    )
    const dead = Option.getOrThrow(yield* service.inspect(Kind, "k13"))
    expect(dead).toMatchObject({ status: "failed", attempts: 2 })
    expect(dead.lastError).toContain("unlucky 13")
    expect(dead.payload).toEqual(Option.some({ n: 13, at: new Date(13) }))
    expect(Option.getOrThrow(yield* service.inspect(Kind, "k7")).status).toBe("cancelled")
    // Shutdown releases a running job without counting its attempt.
    yield* service.enqueue(Kind, { n: 99, at: new Date(99) })
    yield* Deferred.await(blocked)
    expect(Option.getOrThrow(yield* service.inspect(Kind, "k99"))).toMatchObject({ status: "running", attempts: 1 })
    yield* Scope.close(workersScope, Exit.void)
    expect(Option.getOrThrow(yield* service.inspect(Kind, "k99"))).toMatchObject({ status: "pending", attempts: 0 })
    expect(yield* service.retryFailed(Kind)).toBe(1)
    expect((yield* service.counts(Kind)).pending).toBe(2)
  })

describe("DurableOffload.layerSqlite", () => {
  it.live("runs, retries, dead-letters, cancels and releases on a SQLite file", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "fv-durable-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      yield* scenario(DurableOffload.layerSqlite({ filename: join(dir, "jobs.db") }))
    }).pipe(Effect.scoped)
  )

  it.live("nothing is lost across a restart: jobs released at shutdown run on the next start, on the same file", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "fv-durable-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "restart.db")
      const Slow = DurableOffload.kind("restart", {
        payload: Schema.Struct({ n: Schema.Number }),
        key: (p) => `n${p.n}`,
        concurrency: 4
      })
      const done = new Map<number, number>()
      const run = (handler: (n: number) => Effect.Effect<void>) =>
        Effect.gen(function* () {
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(
            Layer.provideMerge(
              DurableOffload.workers([Slow.handle(({ n }) => handler(n))], { pollInterval: "20 millis", grace: 0 }),
              DurableOffload.layerSqlite({ filename })
            ),
            scope
          )
          return { service: Context.get(context, DurableOffload.DurableOffload), close: Scope.close(scope, Exit.void) }
        })
      // First process: runs 4 at a time, each blocked; closed while they run.
      const first = yield* run(() => Effect.never)
      for (let n = 0; n < 20; n++) yield* first.service.enqueue(Slow, { n })
      yield* until(
        "4 running",
        Effect.map(first.service.counts(Slow), (c) => c.running === 4)
      )
      yield* first.close
      // Second process, a new service and store on the same file: everything completes.
      const second = yield* run((n) => Effect.sync(() => done.set(n, (done.get(n) ?? 0) + 1)))
      yield* until(
        "20 completed",
        Effect.map(second.service.counts(Slow), (c) => c.completed === 20)
      )
      expect([...done.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n))
      expect([...done.values()].every((count) => count === 1)).toBe(true)
      const jobs = yield* second.service.list(Slow, "completed", { limit: 20 })
      // The four cut off at shutdown were released, not counted: every job completed on attempt 1.
      expect(jobs.map((job) => job.attempts)).toEqual(Array.from({ length: 20 }, () => 1))
      yield* second.close
    }).pipe(Effect.scoped)
  )

  it.effect("bad store options are InvalidOptions naming the field", () =>
    Effect.gen(function* () {
      // A file of its own: the driver may open it before the table name is checked.
      const dir = mkdtempSync(join(tmpdir(), "fv-durable-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const filename = join(dir, "x.db")
      const error = yield* Effect.flip(Layer.build(DurableOffload.layerSqlite({ filename, tableName: "no spaces" })))
      expect(error).toMatchObject({ _tag: "InvalidOptions", operation: "layerSqlite", field: "tableName" })
      const unknown = yield* Effect.flip(Layer.build(DurableOffload.layerSqlite({ file: filename } as never)))
      expect(unknown).toMatchObject({ _tag: "InvalidOptions", operation: "layerSqlite" })
    }).pipe(Effect.scoped)
  )

  it.effect("migrationSql gives the idempotent DDL of either backend, and refuses a bad table name", () =>
    Effect.gen(function* () {
      expect(yield* DurableOffload.migrationSql({ backend: "sqlite", tableName: "jobs" })).toContain(
        'CREATE TABLE IF NOT EXISTS "jobs"'
      )
      expect(yield* DurableOffload.migrationSql({ backend: "postgres", tableName: "jobs", schema: "ops" })).toContain(
        "CREATE TABLE IF NOT EXISTS"
      )
      expect(yield* Effect.flip(DurableOffload.migrationSql({ backend: "postgres", tableName: "a;b" }))).toMatchObject({
        _tag: "InvalidOptions",
        field: "tableName"
      })
    })
  )
})

describe("DurableOffload.layerPostgres", () => {
  it.live("runs, retries, dead-letters, cancels and releases on Postgres", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase.make("durable_layer")
      yield* scenario(DurableOffload.layerPostgres({ url: db.redactedUrl, maxConnections: 4 }))
    }).pipe(Effect.scoped)
  )

  it.effect("bad store options are InvalidOptions naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(DurableOffload.layerPostgres({ url: "postgres://127.0.0.1/x", maxConnections: 0 }))
      )
      expect(error).toMatchObject({ _tag: "InvalidOptions", operation: "layerPostgres", field: "maxConnections" })
    }).pipe(Effect.scoped)
  )
})
