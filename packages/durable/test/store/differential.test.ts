/**
 * Differential test of the three stores: random sequences of operations (fast-check) run against
 * memory, SQLite and Postgres, and every answer must be the same once ids and tokens are relabelled
 * by order of first appearance (each backend numbers rows and draws tokens its own way).
 *
 * The conformance suite checks the invariants one scenario at a time; this finds the corners no
 * scenario names (a release after a refresh after an expiry, "ever" keys cleaned up and offered
 * again…). A failure prints the seed and the shrunk sequence of operations.
 */
import * as TestDatabase from "@fibervisor/vitest/TestDatabase"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlClient } from "effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import { type DurableStore, type JobRow, type JobStatus, Store } from "../../src/internal/store.js"
import { make as makeMemory } from "../../src/internal/store/memory.js"
import { layerPostgresStore } from "../../src/internal/store/postgres.js"
import { layerSqliteStore } from "../../src/internal/store/sqlite.js"
import { t0 } from "./conformance.js"

const kinds = ["a", "b"] as const
/** Kind `a` deduplicates in flight, kind `b` ever. */
const dedupeOf = (kind: (typeof kinds)[number]) => (kind === "a" ? "in-flight" : "ever")
const statuses: ReadonlyArray<JobStatus> = ["pending", "running", "completed", "failed", "cancelled"]

type Op =
  | {
      readonly op: "enqueue"
      readonly kind: "a" | "b"
      readonly key: number
      readonly max: number
      readonly delay: number
    }
  | { readonly op: "claim"; readonly kind: "a" | "b"; readonly limit: number; readonly lockFor: number }
  | { readonly op: "complete" | "release"; readonly lease: number; readonly stale: boolean }
  | { readonly op: "fail"; readonly lease: number; readonly stale: boolean; readonly retry: number | null }
  | { readonly op: "refresh"; readonly leases: ReadonlyArray<number>; readonly lockFor: number }
  | { readonly op: "cancel" | "inspect"; readonly kind: "a" | "b"; readonly key: number }
  | { readonly op: "retryFailed"; readonly kind: "a" | "b"; readonly key: number | null }
  | { readonly op: "cleanup"; readonly back: number }
  | { readonly op: "counts"; readonly kind: "a" | "b" }
  | { readonly op: "list"; readonly kind: "a" | "b"; readonly status: JobStatus; readonly limit: number }
  | { readonly op: "tick"; readonly by: number }

const kind = fc.constantFrom(...kinds)
const key = fc.integer({ min: 0, max: 3 })
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("enqueue" as const),
      kind,
      key,
      max: fc.integer({ min: 1, max: 3 }),
      delay: fc.constantFrom(0, 0, 0, 1, 2)
    })
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("claim" as const),
      kind,
      limit: fc.integer({ min: 1, max: 3 }),
      lockFor: fc.integer({ min: 1, max: 4 })
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom("complete" as const, "release" as const),
      lease: fc.nat(4),
      stale: fc.constantFrom(false, false, false, true)
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("fail" as const),
      lease: fc.nat(4),
      stale: fc.constantFrom(false, false, false, true),
      retry: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("refresh" as const),
      leases: fc.array(fc.nat(4), { maxLength: 3 }),
      lockFor: fc.integer({ min: 1, max: 4 })
    })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom("cancel" as const, "inspect" as const), kind, key }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("retryFailed" as const), kind, key: fc.option(key, { nil: null }) })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("cleanup" as const), back: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("counts" as const), kind }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("list" as const),
      kind,
      status: fc.constantFrom(...statuses),
      limit: fc.integer({ min: 1, max: 3 })
    })
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("tick" as const), by: fc.integer({ min: 1, max: 3 }) }) }
)

/** Relabels backend-specific ids and tokens as `#n` / `tok-n`, in order of first appearance. */
const relabeller = () => {
  const ids = new Map<string, string>()
  const tokens = new Map<string, string>()
  const label = (map: Map<string, string>, prefix: string, value: string) => {
    let found = map.get(value)
    if (found === undefined) {
      found = `${prefix}${map.size}`
      map.set(value, found)
    }
    return found
  }
  const id = (value: string) => label(ids, "#", value)
  const row = (value: JobRow | undefined) =>
    value === undefined
      ? null
      : { ...value, id: id(value.id), token: value.token === null ? null : label(tokens, "tok-", value.token) }
  return { id, row }
}

/** Runs the operations on one store; returns every answer, relabelled. */
const play = (store: DurableStore, ops: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const names = relabeller()
    const leases: Array<{ readonly id: string; readonly token: string }> = []
    const answers: Array<unknown> = []
    let now = t0
    const lease = (index: number, stale: boolean) => {
      // Counted from the newest lease: recent ones are the ones still likely to be held.
      const found = leases[leases.length - 1 - (index % Math.max(leases.length, 1))]
      return found === undefined ? undefined : stale ? { ...found, token: `${found.token}-stale` } : found
    }
    for (const [i, op] of ops.entries()) {
      switch (op.op) {
        case "enqueue": {
          answers.push(
            yield* store.enqueue({
              kind: op.kind,
              key: `k${op.key}`,
              payload: `p${i}`,
              dedupe: dedupeOf(op.kind),
              maxAttempts: op.max,
              runAt: now + op.delay,
              now
            })
          )
          break
        }
        case "claim": {
          const rows = yield* store.claim({ kind: op.kind, worker: "w", limit: op.limit, now, lockFor: op.lockFor })
          for (const row of rows) leases.push({ id: row.id, token: row.token! })
          answers.push(rows.map(names.row))
          break
        }
        case "complete":
        case "release":
        case "fail": {
          const held = lease(op.lease, op.stale)
          if (held === undefined) {
            answers.push("no lease")
            break
          }
          if (op.op === "complete") answers.push(yield* store.complete(held.id, held.token, now))
          else if (op.op === "release") answers.push(yield* store.release(held.id, held.token, now))
          else {
            const { retry } = op as Extract<Op, { readonly op: "fail" }>
            const retryAt = retry === null ? null : now + retry
            answers.push(yield* store.fail(held.id, held.token, { error: `e${i}`, retryAt, now }))
          }
          break
        }
        case "refresh": {
          const chosen = op.leases.flatMap((index) => {
            const held = lease(index, false)
            return held === undefined ? [] : [held]
          })
          const extended = yield* store.refresh(chosen, now, op.lockFor)
          // A set: which leases were extended (order and repeats are not part of the contract).
          answers.push([...new Set(extended.map(names.id))].sort())
          break
        }
        case "cancel":
          answers.push(yield* store.cancel(op.kind, `k${op.key}`, now))
          break
        case "inspect":
          answers.push(names.row(yield* store.inspect(op.kind, `k${op.key}`)))
          break
        case "retryFailed":
          answers.push(yield* store.retryFailed(op.kind, op.key === null ? undefined : `k${op.key}`, now))
          break
        case "cleanup":
          answers.push(yield* store.cleanup(now - op.back))
          break
        case "counts":
          answers.push(yield* store.counts(op.kind))
          break
        case "list":
          answers.push((yield* store.list(op.kind, op.status, op.limit)).map(names.row))
          break
        case "tick":
          now += op.by
          answers.push(now - t0)
          break
      }
    }
    return answers
  })

const dir = mkdtempSync(join(tmpdir(), "fv-store-diff-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let tables = 0

const storeOf = <E>(layer: Layer.Layer<DurableStore, E>) =>
  Effect.map(Layer.build(layer), (context) => Context.get(context, Store))

describe("stores agree (differential, fast-check)", () => {
  layer(
    Layer.mergeAll(
      TestDatabase.layerClient("store_diff", { maxConnections: 4 }),
      SqliteClient.layer({ filename: join(dir, "diff.db") })
    ),
    { excludeTestServices: true }
  )((it) => {
    it.effect(
      "memory, SQLite and Postgres give the same answers to the same operations",
      () =>
        Effect.gen(function* () {
          const pgSql: SqlClient = yield* Effect.service(PgClient.PgClient)
          const sqliteSql: SqlClient = yield* Effect.service(SqliteClient.SqliteClient)
          const run = (ops: ReadonlyArray<Op>) =>
            Effect.scoped(
              Effect.gen(function* () {
                const table = `diff_${++tables}`
                const stores = {
                  memory: makeMemory(),
                  sqlite: yield* storeOf(layerSqliteStore({ client: sqliteSql, tableName: table })),
                  postgres: yield* storeOf(layerPostgresStore({ client: pgSql, tableName: table }))
                }
                const memory = yield* play(stores.memory, ops)
                const sqlite = yield* play(stores.sqlite, ops)
                const postgres = yield* play(stores.postgres, ops)
                return { memory, sqlite, postgres }
              })
            )
          const runPromise = Effect.runPromiseWith(yield* Effect.context<never>())
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(fc.array(opArbitrary, { minLength: 10, maxLength: 60 }), async (ops) => {
                const answers = await runPromise(run(ops).pipe(Effect.provide(Reactivity.layer)))
                assert.deepStrictEqual(answers.postgres, answers.sqlite, "postgres vs sqlite")
                assert.deepStrictEqual(answers.memory, answers.sqlite, "memory vs sqlite")
              }),
              { numRuns: 60 }
            )
          )
        }),
      180_000
    )
  })
})
