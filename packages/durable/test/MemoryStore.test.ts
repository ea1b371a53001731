/**
 * The memory store against the contract of internal/store.ts (the shared conformance suite, in
 * test/store/, runs the same scenarios over every backend; these are the memory store's own).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as memory from "../src/internal/store/memory.js"
import type { EnqueueInput } from "../src/internal/store.js"

const input = (key: string, extra: Partial<EnqueueInput> = {}): EnqueueInput => ({
  kind: "k",
  key,
  payload: `{"v":1,"payload":"${key}"}`,
  dedupe: "in-flight",
  maxAttempts: 3,
  runAt: 0,
  now: 0,
  ...extra
})

const claimOne = (store: ReturnType<typeof memory.make>, now: number, worker = "w") =>
  Effect.map(store.claim({ kind: "k", worker, limit: 1, now, lockFor: 100 }), (rows) => rows[0])

describe("memory store", () => {
  it.effect("claims due rows oldest first (runAt, then insertion), up to the limit, each with a fresh token", () =>
    Effect.gen(function* () {
      const store = memory.make()
      yield* store.enqueue(input("late", { runAt: 50 }))
      yield* store.enqueue(input("b", { runAt: 10 }))
      yield* store.enqueue(input("a", { runAt: 10 }))
      yield* store.enqueue(input("future", { runAt: 1_000 }))
      const rows = yield* store.claim({ kind: "k", worker: "w", limit: 10, now: 100, lockFor: 30 })
      expect(rows.map((r) => r.key)).toEqual(["b", "a", "late"])
      expect(rows.every((r) => r.status === "running" && r.attempts === 1 && r.lockedUntil === 130)).toBe(true)
      expect(new Set(rows.map((r) => r.token)).size).toBe(3)
      expect(yield* store.claim({ kind: "k", worker: "w", limit: 10, now: 100, lockFor: 30 })).toEqual([])
      expect(yield* store.claim({ kind: "other", worker: "w", limit: 10, now: 10_000, lockFor: 30 })).toEqual([])
      expect(yield* store.claim({ kind: "k", worker: "w", limit: 0, now: 10_000, lockFor: 30 })).toEqual([])
    })
  )

  it.effect("tokens fence complete, fail, release and refresh; a re-claimed row ignores its old worker", () =>
    Effect.gen(function* () {
      const store = memory.make()
      yield* store.enqueue(input("a"))
      const first = (yield* claimOne(store, 0))!
      expect(yield* store.refresh([{ id: first.id, token: first.token! }], 50, 100)).toEqual([first.id])
      // Lease (until 150) expires; another worker takes it over as attempt 2.
      const second = (yield* claimOne(store, 150, "w2"))!
      expect(second).toMatchObject({ attempts: 2, lockedBy: "w2" })
      expect(yield* store.complete(first.id, first.token!, 151)).toBe(false)
      expect(yield* store.fail(first.id, first.token!, { error: "x", retryAt: null, now: 151 })).toBe(false)
      expect(yield* store.release(first.id, first.token!, 151)).toBe(false)
      expect(yield* store.refresh([{ id: first.id, token: first.token! }], 151, 100)).toEqual([])
      expect(yield* store.complete(second.id, second.token!, 152)).toBe(true)
      expect(yield* store.inspect("k", "a")).toMatchObject({ status: "completed", token: null, finishedAt: 152 })
    })
  )

  it.effect("fail retries at retryAt or dead-letters; release keeps runAt and un-counts the attempt", () =>
    Effect.gen(function* () {
      const store = memory.make()
      yield* store.enqueue(input("a", { runAt: 5 }))
      const row = (yield* claimOne(store, 10))!
      expect(yield* store.fail(row.id, row.token!, { error: "boom", retryAt: 500, now: 20 })).toBe(true)
      expect(yield* store.inspect("k", "a")).toMatchObject({
        status: "pending",
        runAt: 500,
        attempts: 1,
        lastError: "boom"
      })
      expect(yield* claimOne(store, 499)).toBeUndefined()
      const again = (yield* claimOne(store, 500))!
      expect(yield* store.release(again.id, again.token!, 501)).toBe(true)
      expect(yield* store.inspect("k", "a")).toMatchObject({ status: "pending", runAt: 500, attempts: 1 })
      const third = (yield* claimOne(store, 600))!
      expect(yield* store.fail(third.id, third.token!, { error: "dead", retryAt: null, now: 610 })).toBe(true)
      expect(yield* store.inspect("k", "a")).toMatchObject({ status: "failed", finishedAt: 610, lastError: "dead" })
    })
  )

  it.effect("an expired lease at maxAttempts is dead-lettered, not claimed", () =>
    Effect.gen(function* () {
      const store = memory.make()
      yield* store.enqueue(input("a", { maxAttempts: 1 }))
      yield* claimOne(store, 0)
      expect(yield* claimOne(store, 100)).toBeUndefined()
      const row = yield* store.inspect("k", "a")
      expect(row).toMatchObject({ status: "failed", attempts: 1, finishedAt: 100 })
      expect(row!.lastError).toMatch(/lease expired/)
    })
  )

  it.effect('dedupe: "in-flight" frees a finished key, "ever" never does (not even after cleanup)', () =>
    Effect.gen(function* () {
      const store = memory.make()
      expect(yield* store.enqueue(input("a"))).toBe("enqueued")
      expect(yield* store.enqueue(input("a"))).toBe("deduplicated")
      const row = (yield* claimOne(store, 0))!
      expect(yield* store.enqueue(input("a"))).toBe("deduplicated")
      yield* store.complete(row.id, row.token!, 1)
      expect(yield* store.enqueue(input("a", { now: 2 }))).toBe("enqueued")
      expect((yield* store.inspect("k", "a"))!.createdAt).toBe(2)

      expect(yield* store.enqueue(input("e", { dedupe: "ever" }))).toBe("enqueued")
      const e = (yield* store.claim({ kind: "k", worker: "w", limit: 5, now: 3, lockFor: 10 })).find(
        (r) => r.key === "e"
      )!
      yield* store.complete(e.id, e.token!, 4)
      expect(yield* store.enqueue(input("e", { dedupe: "ever" }))).toBe("deduplicated")
      expect(yield* store.cleanup(1_000)).toBeGreaterThan(0)
      expect(yield* store.inspect("k", "e")).toBeUndefined()
      expect(yield* store.enqueue(input("e", { dedupe: "ever" }))).toBe("deduplicated")
    })
  )

  it.effect("cancel, retryFailed, counts, list and cleanup", () =>
    Effect.gen(function* () {
      const store = memory.make()
      for (const k of ["p", "r", "f", "c"]) yield* store.enqueue(input(k))
      expect(yield* store.cancel("k", "c", 1)).toBe("cancelled")
      expect(yield* store.cancel("k", "c", 1)).toBe("absent")
      const rows = yield* store.claim({ kind: "k", worker: "w", limit: 2, now: 2, lockFor: 100 })
      expect(rows.map((r) => r.key)).toEqual(["p", "r"])
      expect(yield* store.cancel("k", "r", 3)).toBe("running")
      yield* store.complete(rows[0]!.id, rows[0]!.token!, 3)
      const f = (yield* claimOne(store, 4))!
      yield* store.fail(f.id, f.token!, { error: "x", retryAt: null, now: 5 })
      expect(yield* store.counts("k")).toEqual({ pending: 0, running: 1, failed: 1, completed: 1, cancelled: 1 })
      expect((yield* store.list("k", "failed", 10)).map((r) => r.key)).toEqual(["f"])
      // A failed key enqueued again keeps its one live row: retryFailed leaves the dead letter.
      yield* store.enqueue(input("f", { now: 6 }))
      expect(yield* store.retryFailed("k", "f", 7)).toBe(0)
      const live = (yield* store.claim({ kind: "k", worker: "w", limit: 1, now: 8, lockFor: 100 }))[0]!
      yield* store.complete(live.id, live.token!, 9)
      expect(yield* store.retryFailed("k", undefined, 10)).toBe(1)
      expect((yield* store.list("k", "pending", 10))[0]).toMatchObject({
        key: "f",
        attempts: 0,
        runAt: 10,
        finishedAt: null
      })
      expect(yield* store.cleanup(4)).toBe(2)
      expect(yield* store.counts("k")).toEqual({ pending: 1, running: 1, failed: 0, completed: 1, cancelled: 0 })
    })
  )

  it.effect("retryFailed brings back the newest dead letter of a key (the one inspect shows), once", () =>
    Effect.gen(function* () {
      const store = memory.make()
      for (const [payload, at] of [
        ["old", 0],
        ["new", 10]
      ] as const) {
        yield* store.enqueue(input("a", { payload, now: at, runAt: at }))
        const row = (yield* claimOne(store, at))!
        yield* store.fail(row.id, row.token!, { error: payload, retryAt: null, now: at + 1 })
      }
      expect(yield* store.retryFailed("k", "a", 20)).toBe(1)
      expect(yield* store.inspect("k", "a")).toMatchObject({ status: "pending", payload: "new" })
      expect(yield* store.counts("k")).toMatchObject({ pending: 1, failed: 1 })
    })
  )
})
