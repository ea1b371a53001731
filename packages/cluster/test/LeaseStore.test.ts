/**
 * The lease store contract, on each store: memory (under TestClock), Postgres (its own database)
 * and SQLite (a temporary file). Acquire only when free or expired, epochs strictly increasing,
 * refresh and release only for the same owner and epoch, expiry ends a lease for its holder.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as TestClock from "effect/testing/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ClusterSupervisor } from "../src/index.js"
import { TestDatabase } from "./harness/index.js"

type Store = ClusterSupervisor.LeaseStore

/** The contract; `wait(ms)` lets `ms` pass on the store's clock. */
const contract = (store: Store, name: string, wait: (ms: number) => Effect.Effect<void>) =>
  Effect.gen(function* () {
    const ttl = 300
    expect(yield* store.acquire(name, "a", ttl)).toEqual({ _tag: "Acquired", epoch: 1 })
    // Held: another runner cannot take it, and neither can the same runner (one acquisition per epoch).
    expect(yield* store.acquire(name, "b", ttl)).toEqual({ _tag: "Held", owner: "a", epoch: 1 })
    expect(yield* store.acquire(name, "a", ttl)).toEqual({ _tag: "Held", owner: "a", epoch: 1 })
    // Refresh: only the holder with its epoch.
    expect(yield* store.refresh(name, "a", 1, ttl)).toBe(true)
    expect(yield* store.refresh(name, "b", 1, ttl)).toBe(false)
    expect(yield* store.refresh(name, "a", 2, ttl)).toBe(false)
    // A stale release (wrong runner or epoch) changes nothing.
    yield* store.release(name, "b", 1)
    yield* store.release(name, "a", 0)
    expect(yield* store.acquire(name, "b", ttl)).toEqual({ _tag: "Held", owner: "a", epoch: 1 })
    // Release frees it at once; the next acquisition has the next epoch.
    yield* store.release(name, "a", 1)
    expect(yield* store.acquire(name, "b", ttl)).toEqual({ _tag: "Acquired", epoch: 2 })
    expect(yield* store.refresh(name, "a", 1, ttl)).toBe(false)
    // Expiry: once past its ttl, the lease is gone for its holder and free for others.
    yield* wait(ttl + 50)
    expect(yield* store.refresh(name, "b", 2, ttl)).toBe(false)
    expect(yield* store.acquire(name, "c", ttl)).toEqual({ _tag: "Acquired", epoch: 3 })
    // Names are independent.
    expect(yield* store.acquire(`${name}-other`, "a", ttl)).toEqual({ _tag: "Acquired", epoch: 1 })
  })

/** Real time passing, for the SQL stores (their clock is the server's or the host's). */
const realWait = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Runs `f` on the store of `layer`, while the layer (its connection) is open. */
const withStore = <A, E>(
  layer: Layer.Layer<ClusterSupervisor.ClusterSupervisor, unknown>,
  f: (store: Store) => Effect.Effect<A, E>
) =>
  Effect.gen(function* () {
    const cluster = yield* ClusterSupervisor.ClusterSupervisor
    return yield* f(cluster.leases)
  }).pipe(Effect.provide(layer))

describe("lease store contract", () => {
  it.effect("memory (TestClock)", () =>
    contract(ClusterSupervisor.memoryLeases(), "m", (ms) => TestClock.adjust(`${ms} millis`))
  )

  describe("Postgres", () => {
    let db: TestDatabase
    beforeAll(async () => {
      db = await TestDatabase.create("lease_store")
    }, 60_000)
    afterAll(async () => {
      await db?.drop()
    }, 60_000)

    it.live("the contract, and a table name of one's own", () =>
      Effect.gen(function* () {
        const layer = ClusterSupervisor.layerPostgres({ database: db.name, table: "my_leases", runnerId: "a" })
        yield* withStore(layer, (store) => contract(store, "p", realWait))
        const rows = yield* Effect.promise(() =>
          db.query<{ name: string; epoch: number }>("SELECT name, epoch::float8 AS epoch FROM my_leases ORDER BY name")
        )
        expect(rows).toEqual([
          { name: "p", epoch: 3 },
          { name: "p-other", epoch: 1 }
        ])
      })
    )

    it.live("a layer that cannot connect fails with LeaseStoreError", () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(
          Layer.build(ClusterSupervisor.layerPostgres({ database: `${db.name}_missing` })).pipe(Effect.scoped)
        )
        expect(error._tag).toBe("LeaseStoreError")
      })
    )
  })

  describe("SQLite", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fv-lease-store-"))
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

    it.live("the contract, on a file", () =>
      Effect.gen(function* () {
        const layer = ClusterSupervisor.layerSqlite({ filename: path.join(dir, "leases.db") })
        yield* withStore(layer, (store) => contract(store, "s", realWait))
      })
    )
  })
})
