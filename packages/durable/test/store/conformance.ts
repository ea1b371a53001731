/**
 * The store conformance suite: one table of scenarios run against every `DurableStore` backend
 * (memory, Postgres, SQLite), each checking an invariant of the contract in src/internal/store.ts.
 *
 * A backend's test file calls `conformance(it, fresh)` with an `it` from @effect/vitest and an
 * effect that builds an empty store (its own table, database or instance) for each scenario.
 * Times are explicit epoch milliseconds, as the contract says, so no scenario reads a clock.
 */
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type * as Scope from "effect/Scope"
import type { DurableStore, EnqueueInput, JobRow } from "../../src/internal/store.js"

/** A fixed origin well past 2^31 ms, so the 64-bit time columns are exercised. */
export const t0 = 1_700_000_000_000

const lockFor = 30_000

export const job = (key: string, overrides: Partial<EnqueueInput> = {}): EnqueueInput => ({
  kind: "k",
  key,
  payload: JSON.stringify({ key }),
  dedupe: "in-flight",
  maxAttempts: 3,
  runAt: t0,
  now: t0,
  ...overrides
})

export const claimOne = (store: DurableStore, now: number, kind = "k", worker = "w1") =>
  Effect.map(store.claim({ kind, worker, limit: 1, now, lockFor }), (rows) => rows[0])

const claimOneOrFail = (store: DurableStore, now: number, kind = "k", worker = "w1") =>
  Effect.flatMap(claimOne(store, now, kind, worker), (row) =>
    row === undefined ? Effect.die(new Error(`nothing to claim at ${now - t0} ms`)) : Effect.succeed(row)
  )

const inspectOrFail = (store: DurableStore, key: string, kind = "k") =>
  Effect.flatMap(store.inspect(kind, key), (row) =>
    row === undefined ? Effect.die(new Error(`no row for ${kind}/${key}`)) : Effect.succeed(row)
  )

type Scenario = (store: DurableStore) => Effect.Effect<void, unknown>

const scenarios: ReadonlyArray<readonly [string, Scenario]> = [
  [
    "enqueue stores a pending row with every field as given",
    (store) =>
      Effect.gen(function* () {
        assert.strictEqual(yield* store.enqueue(job("a", { maxAttempts: 4, runAt: t0 + 500 })), "enqueued")
        const row = yield* inspectOrFail(store, "a")
        assert.deepStrictEqual({ ...row, id: "?" } satisfies JobRow, {
          id: "?",
          kind: "k",
          key: "a",
          payload: JSON.stringify({ key: "a" }),
          status: "pending",
          attempts: 0,
          maxAttempts: 4,
          runAt: t0 + 500,
          token: null,
          lockedBy: null,
          lockedUntil: null,
          lastError: null,
          createdAt: t0,
          updatedAt: t0,
          finishedAt: null
        })
        assert.strictEqual(yield* store.inspect("k", "missing"), undefined)
        assert.strictEqual(yield* store.inspect("other", "a"), undefined)
      })
  ],
  [
    "in-flight: a key is deduplicated while pending or running, and accepted again once finished",
    (store) =>
      Effect.gen(function* () {
        assert.strictEqual(yield* store.enqueue(job("a")), "enqueued")
        assert.strictEqual(yield* store.enqueue(job("a", { payload: "other" })), "deduplicated")
        const first = yield* claimOneOrFail(store, t0)
        assert.strictEqual(yield* store.enqueue(job("a")), "deduplicated")
        assert.isTrue(yield* store.complete(first.id, first.token!, t0 + 1))
        assert.strictEqual(yield* store.enqueue(job("a", { now: t0 + 2 })), "enqueued")
        const second = yield* inspectOrFail(store, "a")
        assert.notStrictEqual(second.id, first.id)
        assert.strictEqual(second.status, "pending")
        // A dead letter and a cancelled row free the key as well.
        const claimed = yield* claimOneOrFail(store, t0 + 3)
        assert.isTrue(yield* store.fail(claimed.id, claimed.token!, { error: "boom", retryAt: null, now: t0 + 4 }))
        assert.strictEqual(yield* store.enqueue(job("a", { now: t0 + 5 })), "enqueued")
        assert.strictEqual(yield* store.cancel("k", "a", t0 + 6), "cancelled")
        assert.strictEqual(yield* store.enqueue(job("a", { now: t0 + 7 })), "enqueued")
        // The same key under another kind is another job.
        assert.strictEqual(yield* store.enqueue(job("a", { kind: "k2" })), "enqueued")
      })
  ],
  [
    "ever: a key is accepted once, even after it completed, was cleaned up or retried",
    (store) =>
      Effect.gen(function* () {
        const ever = (now: number) => job("a", { dedupe: "ever", now, runAt: now })
        assert.strictEqual(yield* store.enqueue(ever(t0)), "enqueued")
        assert.strictEqual(yield* store.enqueue(ever(t0)), "deduplicated")
        const row = yield* claimOneOrFail(store, t0)
        assert.strictEqual(yield* store.enqueue(ever(t0 + 1)), "deduplicated")
        assert.isTrue(yield* store.complete(row.id, row.token!, t0 + 2))
        assert.strictEqual(yield* store.enqueue(ever(t0 + 3)), "deduplicated")
        assert.strictEqual(yield* store.cleanup(t0 + 10), 1)
        assert.strictEqual(yield* store.inspect("k", "a"), undefined)
        assert.strictEqual(yield* store.enqueue(ever(t0 + 11)), "deduplicated")
        // A dead letter retried keeps the key taken.
        assert.strictEqual(yield* store.enqueue(job("b", { dedupe: "ever" })), "enqueued")
        const b = yield* claimOneOrFail(store, t0 + 12)
        assert.isTrue(yield* store.fail(b.id, b.token!, { error: "x", retryAt: null, now: t0 + 13 }))
        assert.strictEqual(yield* store.enqueue(job("b", { dedupe: "ever", now: t0 + 14 })), "deduplicated")
        assert.strictEqual(yield* store.retryFailed("k", "b", t0 + 15), 1)
        assert.strictEqual(yield* store.enqueue(job("b", { dedupe: "ever", now: t0 + 16 })), "deduplicated")
        // Other kinds have their own keys.
        assert.strictEqual(yield* store.enqueue(job("a", { kind: "k2", dedupe: "ever" })), "enqueued")
      })
  ],
  [
    "claim takes due rows only, oldest runAt first, then insertion order, at most `limit`, of its kind",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("late", { runAt: t0 + 100 }))
        yield* store.enqueue(job("second", { runAt: t0 + 10 }))
        yield* store.enqueue(job("first", { runAt: t0 }))
        yield* store.enqueue(job("third", { runAt: t0 + 10 }))
        yield* store.enqueue(job("other-kind", { kind: "k2", runAt: t0 }))
        const claimed = yield* store.claim({ kind: "k", worker: "w1", limit: 3, now: t0 + 99, lockFor })
        assert.deepStrictEqual(
          claimed.map((row) => row.key),
          ["first", "second", "third"]
        )
        assert.deepStrictEqual(yield* store.claim({ kind: "k", worker: "w1", limit: 5, now: t0 + 99, lockFor }), [])
        // runAt is inclusive.
        const late = yield* store.claim({ kind: "k", worker: "w1", limit: 5, now: t0 + 100, lockFor })
        assert.deepStrictEqual(
          late.map((row) => row.key),
          ["late"]
        )
        assert.deepStrictEqual(yield* store.claim({ kind: "k", worker: "w1", limit: 0, now: t0 + 200, lockFor }), [])
        assert.strictEqual((yield* inspectOrFail(store, "other-kind", "k2")).status, "pending")
      })
  ],
  [
    "a claimed row is running under a fresh token, with its lease and the attempt counted",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        yield* store.enqueue(job("b"))
        const claimed = yield* store.claim({ kind: "k", worker: "replica-7", limit: 2, now: t0 + 5, lockFor: 1234 })
        assert.strictEqual(claimed.length, 2)
        for (const row of claimed) {
          assert.strictEqual(row.status, "running")
          assert.strictEqual(row.attempts, 1)
          assert.strictEqual(row.lockedBy, "replica-7")
          assert.strictEqual(row.lockedUntil, t0 + 5 + 1234)
          assert.strictEqual(row.updatedAt, t0 + 5)
          assert.isString(row.token)
          assert.isAbove(row.token!.length, 0)
          assert.deepStrictEqual(yield* store.inspect("k", row.key), row)
        }
        assert.notStrictEqual(claimed[0]!.token, claimed[1]!.token)
        // A live lease is not claimable, up to the instant before it expires.
        assert.deepStrictEqual(
          yield* store.claim({ kind: "k", worker: "w2", limit: 5, now: t0 + 5 + 1233, lockFor }),
          []
        )
      })
  ],
  [
    "complete acts once, and only with the row's current token",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const row = yield* claimOneOrFail(store, t0)
        assert.isFalse(yield* store.complete(row.id, "not-the-token", t0 + 1))
        assert.isFalse(yield* store.complete("999999", row.token!, t0 + 1))
        assert.isFalse(yield* store.complete("not-an-id", row.token!, t0 + 1))
        assert.strictEqual((yield* inspectOrFail(store, "a")).status, "running")
        assert.isTrue(yield* store.complete(row.id, row.token!, t0 + 2))
        const done = yield* inspectOrFail(store, "a")
        assert.strictEqual(done.status, "completed")
        assert.strictEqual(done.finishedAt, t0 + 2)
        assert.strictEqual(done.updatedAt, t0 + 2)
        assert.strictEqual(done.attempts, 1)
        assert.isNull(done.token)
        assert.isNull(done.lockedUntil)
        assert.isFalse(yield* store.complete(row.id, row.token!, t0 + 3))
        assert.isFalse(yield* store.fail(row.id, row.token!, { error: "late", retryAt: null, now: t0 + 3 }))
        assert.isFalse(yield* store.release(row.id, row.token!, t0 + 3))
        assert.strictEqual((yield* inspectOrFail(store, "a")).status, "completed")
      })
  ],
  [
    "fail with retryAt: pending again at that time, the attempt kept, the error recorded",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const row = yield* claimOneOrFail(store, t0)
        assert.isFalse(yield* store.fail(row.id, "wrong", { error: "boom", retryAt: t0 + 1000, now: t0 + 1 }))
        assert.isTrue(yield* store.fail(row.id, row.token!, { error: "boom", retryAt: t0 + 1000, now: t0 + 1 }))
        const failed = yield* inspectOrFail(store, "a")
        assert.strictEqual(failed.status, "pending")
        assert.strictEqual(failed.attempts, 1)
        assert.strictEqual(failed.runAt, t0 + 1000)
        assert.strictEqual(failed.lastError, "boom")
        assert.isNull(failed.token)
        assert.isNull(failed.lockedBy)
        assert.isNull(failed.finishedAt)
        assert.strictEqual(yield* claimOne(store, t0 + 999), undefined)
        const again = yield* claimOneOrFail(store, t0 + 1000)
        assert.strictEqual(again.attempts, 2)
        assert.notStrictEqual(again.token, row.token)
      })
  ],
  [
    "fail with retryAt null dead-letters the row",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const row = yield* claimOneOrFail(store, t0)
        assert.isTrue(yield* store.fail(row.id, row.token!, { error: "gave up", retryAt: null, now: t0 + 7 }))
        const dead = yield* inspectOrFail(store, "a")
        assert.strictEqual(dead.status, "failed")
        assert.strictEqual(dead.lastError, "gave up")
        assert.strictEqual(dead.finishedAt, t0 + 7)
        assert.strictEqual(dead.attempts, 1)
        assert.isNull(dead.token)
        assert.strictEqual(yield* claimOne(store, t0 + 1_000_000), undefined)
      })
  ],
  [
    "release puts the row back without counting the attempt, keeping runAt",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a", { runAt: t0 + 3 }))
        const row = yield* claimOneOrFail(store, t0 + 10)
        assert.strictEqual(row.attempts, 1)
        assert.isFalse(yield* store.release(row.id, "wrong", t0 + 11))
        assert.isTrue(yield* store.release(row.id, row.token!, t0 + 11))
        const released = yield* inspectOrFail(store, "a")
        assert.strictEqual(released.status, "pending")
        assert.strictEqual(released.attempts, 0)
        assert.strictEqual(released.runAt, t0 + 3)
        assert.strictEqual(released.updatedAt, t0 + 11)
        assert.isNull(released.token)
        assert.isNull(released.lockedUntil)
        assert.isFalse(yield* store.release(row.id, row.token!, t0 + 12))
        const again = yield* claimOneOrFail(store, t0 + 12)
        assert.strictEqual(again.attempts, 1)
      })
  ],
  [
    "refresh extends only the leases still held, and returns their ids",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        yield* store.enqueue(job("b"))
        yield* store.enqueue(job("c"))
        const [a, b, c] = yield* store.claim({ kind: "k", worker: "w1", limit: 3, now: t0, lockFor: 1000 })
        assert.isTrue(yield* store.complete(c!.id, c!.token!, t0 + 1))
        const extended = yield* store.refresh(
          [
            { id: a!.id, token: a!.token! },
            { id: b!.id, token: "stale" },
            { id: c!.id, token: c!.token! },
            { id: "not-an-id", token: "x" }
          ],
          t0 + 500,
          1000
        )
        assert.deepStrictEqual(extended, [a!.id])
        assert.strictEqual((yield* inspectOrFail(store, "a")).lockedUntil, t0 + 1500)
        assert.strictEqual((yield* inspectOrFail(store, "b")).lockedUntil, t0 + 1000)
        assert.deepStrictEqual(yield* store.refresh([], t0 + 600, 1000), [])
        // At the old expiry only b is claimable again; a is past it at t0 + 1500.
        const expired = yield* store.claim({ kind: "k", worker: "w2", limit: 5, now: t0 + 1000, lockFor })
        assert.deepStrictEqual(
          expired.map((row) => row.key),
          ["b"]
        )
        assert.strictEqual((yield* claimOneOrFail(store, t0 + 1500, "k", "w2")).key, "a")
      })
  ],
  [
    "an expired lease is claimable again (the attempt counted), and the late worker is fenced off",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a", { maxAttempts: 5 }))
        const first = yield* store.claim({ kind: "k", worker: "w1", limit: 1, now: t0, lockFor: 1000 })
        const late = first[0]!
        const second = yield* store.claim({ kind: "k", worker: "w2", limit: 1, now: t0 + 1000, lockFor: 1000 })
        assert.strictEqual(second.length, 1)
        const current = second[0]!
        assert.strictEqual(current.id, late.id)
        assert.strictEqual(current.attempts, 2)
        assert.strictEqual(current.lockedBy, "w2")
        assert.notStrictEqual(current.token, late.token)
        // The first worker wakes up: every lease operation with its token changes nothing.
        assert.deepStrictEqual(yield* store.refresh([{ id: late.id, token: late.token! }], t0 + 1001, 1000), [])
        assert.isFalse(yield* store.complete(late.id, late.token!, t0 + 1001))
        assert.isFalse(yield* store.fail(late.id, late.token!, { error: "late", retryAt: t0, now: t0 + 1001 }))
        assert.isFalse(yield* store.fail(late.id, late.token!, { error: "late", retryAt: null, now: t0 + 1001 }))
        assert.isFalse(yield* store.release(late.id, late.token!, t0 + 1001))
        const row = yield* inspectOrFail(store, "a")
        assert.strictEqual(row.status, "running")
        assert.strictEqual(row.token, current.token)
        assert.strictEqual(row.attempts, 2)
        assert.isNull(row.lastError)
        assert.isTrue(yield* store.complete(current.id, current.token!, t0 + 1002))
      })
  ],
  [
    "a lease past its expiry that nobody re-claimed still holds: its worker may refresh or complete it",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        yield* store.enqueue(job("b"))
        const [a, b] = yield* store.claim({ kind: "k", worker: "w1", limit: 2, now: t0, lockFor: 100 })
        // Expired at t0 + 100; no claim has run since.
        assert.deepStrictEqual(yield* store.refresh([{ id: a!.id, token: a!.token! }], t0 + 150, 100), [a!.id])
        assert.isTrue(yield* store.complete(b!.id, b!.token!, t0 + 150))
        // a's lease now runs to t0 + 250: not claimable before.
        assert.deepStrictEqual(yield* store.claim({ kind: "k", worker: "w2", limit: 2, now: t0 + 249, lockFor }), [])
        const again = yield* store.claim({ kind: "k", worker: "w2", limit: 2, now: t0 + 250, lockFor })
        assert.deepStrictEqual(
          again.map((row) => [row.key, row.attempts]),
          [["a", 2]]
        )
      })
  ],
  [
    "an expired lease at maxAttempts is dead-lettered by the claim, not claimed",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a", { maxAttempts: 2 }))
        yield* store.enqueue(job("b", { maxAttempts: 2, runAt: t0 + 1 }))
        const claim = (now: number, limit = 1) => store.claim({ kind: "k", worker: "w", limit, now, lockFor: 100 })
        assert.strictEqual((yield* claim(t0))[0]!.key, "a")
        assert.strictEqual((yield* claim(t0 + 100))[0]!.attempts, 2)
        // a expired at its last attempt: the claim dead-letters it and takes b instead.
        const next = yield* claim(t0 + 200)
        assert.deepStrictEqual(
          next.map((row) => row.key),
          ["b"]
        )
        const dead = yield* inspectOrFail(store, "a")
        assert.strictEqual(dead.status, "failed")
        assert.strictEqual(dead.attempts, 2)
        assert.strictEqual(dead.finishedAt, t0 + 200)
        assert.isNull(dead.token)
        assert.strictEqual(dead.lastError, "lease expired during attempt 2 of 2")
        assert.strictEqual((yield* store.counts("k")).failed, 1)
      })
  ],
  [
    "a claim dead-letters every expired row at maxAttempts, whatever its limit",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("first", { maxAttempts: 3 }))
        yield* store.enqueue(job("last-a", { maxAttempts: 1 }))
        yield* store.enqueue(job("last-b", { maxAttempts: 1 }))
        assert.strictEqual((yield* store.claim({ kind: "k", worker: "w", limit: 3, now: t0, lockFor: 10 })).length, 3)
        // All three leases expired. The claim's one slot goes to "first"; both others are dead.
        const claimed = yield* store.claim({ kind: "k", worker: "w", limit: 1, now: t0 + 10, lockFor: 10 })
        assert.deepStrictEqual(
          claimed.map((row) => [row.key, row.attempts]),
          [["first", 2]]
        )
        const counts = yield* store.counts("k")
        assert.strictEqual(counts.failed, 2)
        assert.strictEqual(counts.running, 1)
        assert.strictEqual((yield* inspectOrFail(store, "last-b")).lastError, "lease expired during attempt 1 of 1")
      })
  ],
  [
    "an expired row is claimed in runAt order among the pending ones",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("old", { runAt: t0 }))
        assert.strictEqual((yield* claimOneOrFail(store, t0)).key, "old")
        yield* store.enqueue(job("newer", { runAt: t0 + 10, now: t0 + 10 }))
        const rows = yield* store.claim({ kind: "k", worker: "w2", limit: 1, now: t0 + lockFor, lockFor })
        assert.deepStrictEqual(
          rows.map((row) => [row.key, row.attempts]),
          [["old", 2]]
        )
      })
  ],
  [
    "inspect returns the latest row of a key",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const first = yield* claimOneOrFail(store, t0)
        yield* store.complete(first.id, first.token!, t0 + 1)
        yield* store.enqueue(job("a", { payload: "second", now: t0 + 2 }))
        const latest = yield* inspectOrFail(store, "a")
        assert.strictEqual(latest.payload, "second")
        assert.strictEqual(latest.status, "pending")
      })
  ],
  [
    "list: rows of a kind in a status, newest first, at most `limit`",
    (store) =>
      Effect.gen(function* () {
        for (const key of ["a", "b", "c", "d"]) yield* store.enqueue(job(key))
        yield* store.enqueue(job("x", { kind: "k2" }))
        const pending = yield* store.list("k", "pending", 3)
        assert.deepStrictEqual(
          pending.map((row) => row.key),
          ["d", "c", "b"]
        )
        assert.deepStrictEqual(yield* store.list("k", "failed", 10), [])
        assert.deepStrictEqual(yield* store.list("k", "pending", 0), [])
        const running = yield* store.claim({ kind: "k", worker: "w", limit: 1, now: t0, lockFor })
        assert.deepStrictEqual(yield* store.list("k", "running", 10), running)
      })
  ],
  [
    "cancel: a pending row becomes cancelled; a running one is left to its worker; else absent",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        yield* store.enqueue(job("b"))
        const running = yield* claimOneOrFail(store, t0)
        assert.strictEqual(running.key, "a")
        assert.strictEqual(yield* store.cancel("k", "a", t0 + 1), "running")
        assert.strictEqual((yield* inspectOrFail(store, "a")).status, "running")
        assert.strictEqual(yield* store.cancel("k", "b", t0 + 2), "cancelled")
        const cancelled = yield* inspectOrFail(store, "b")
        assert.strictEqual(cancelled.status, "cancelled")
        assert.strictEqual(cancelled.finishedAt, t0 + 2)
        assert.strictEqual(yield* store.cancel("k", "b", t0 + 3), "absent")
        assert.strictEqual(yield* store.cancel("k", "missing", t0 + 3), "absent")
        assert.strictEqual(yield* store.cancel("k2", "b", t0 + 3), "absent")
        assert.isTrue(yield* store.complete(running.id, running.token!, t0 + 4))
        assert.strictEqual(yield* store.cancel("k", "a", t0 + 5), "absent")
        assert.strictEqual(yield* claimOne(store, t0 + 10), undefined)
      })
  ],
  [
    "retryFailed: dead letters of a kind (one key or all) back to pending with attempts 0",
    (store) =>
      Effect.gen(function* () {
        for (const key of ["a", "b", "c"]) yield* store.enqueue(job(key))
        yield* store.enqueue(job("z", { kind: "k2" }))
        const rows = yield* store.claim({ kind: "k", worker: "w", limit: 3, now: t0, lockFor })
        for (const row of rows) yield* store.fail(row.id, row.token!, { error: "e", retryAt: null, now: t0 + 1 })
        const z = yield* claimOneOrFail(store, t0, "k2")
        yield* store.fail(z.id, z.token!, { error: "e", retryAt: null, now: t0 + 1 })
        assert.strictEqual(yield* store.retryFailed("k", "a", t0 + 10), 1)
        const a = yield* inspectOrFail(store, "a")
        assert.strictEqual(a.status, "pending")
        assert.strictEqual(a.attempts, 0)
        assert.isNull(a.finishedAt)
        assert.isAtMost(a.runAt, t0 + 10)
        assert.strictEqual(yield* store.retryFailed("k", undefined, t0 + 11), 2)
        assert.strictEqual(yield* store.retryFailed("k", undefined, t0 + 12), 0)
        assert.strictEqual(yield* store.retryFailed("k", "missing", t0 + 12), 0)
        assert.strictEqual((yield* inspectOrFail(store, "z", "k2")).status, "failed")
        const again = yield* store.claim({ kind: "k", worker: "w", limit: 5, now: t0 + 12, lockFor })
        assert.deepStrictEqual(
          again.map((row) => [row.key, row.attempts]),
          [
            ["a", 1],
            ["b", 1],
            ["c", 1]
          ]
        )
      })
  ],
  [
    "retryFailed keeps the in-flight rule: a key enqueued again after its dead letter is not doubled",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const row = yield* claimOneOrFail(store, t0)
        yield* store.fail(row.id, row.token!, { error: "e", retryAt: null, now: t0 + 1 })
        assert.strictEqual(yield* store.enqueue(job("a", { now: t0 + 2 })), "enqueued")
        assert.strictEqual(yield* store.retryFailed("k", undefined, t0 + 3), 0)
        const counts = yield* store.counts("k")
        assert.strictEqual(counts.pending, 1)
        assert.strictEqual(counts.failed, 1)
      })
  ],
  [
    "retryFailed brings back the newest dead letter of a key, the one inspect shows",
    (store) =>
      Effect.gen(function* () {
        for (const [payload, now] of [
          ["first", t0],
          ["second", t0 + 10]
        ] as const) {
          yield* store.enqueue(job("a", { payload, now, runAt: now }))
          const row = yield* claimOneOrFail(store, now)
          yield* store.fail(row.id, row.token!, { error: payload, retryAt: null, now: now + 1 })
        }
        assert.strictEqual(yield* store.retryFailed("k", "a", t0 + 20), 1)
        const latest = yield* inspectOrFail(store, "a")
        assert.strictEqual(latest.payload, "second")
        assert.strictEqual(latest.status, "pending")
        assert.strictEqual((yield* store.list("k", "failed", 10))[0]!.payload, "first")
        assert.strictEqual(yield* store.retryFailed("k", "a", t0 + 21), 0)
      })
  ],
  [
    "ever: a key that already has rows (from in-flight enqueues) is deduplicated until they are deleted",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const row = yield* claimOneOrFail(store, t0)
        yield* store.complete(row.id, row.token!, t0 + 1)
        assert.strictEqual(yield* store.enqueue(job("a", { dedupe: "ever", now: t0 + 2 })), "deduplicated")
        assert.strictEqual(yield* store.cleanup(t0 + 5), 1)
        assert.strictEqual(yield* store.enqueue(job("a", { dedupe: "ever", now: t0 + 6 })), "enqueued")
        assert.strictEqual(yield* store.enqueue(job("a", { dedupe: "ever", now: t0 + 7 })), "deduplicated")
      })
  ],
  [
    "counts: rows of a kind per status",
    (store) =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* store.counts("k"), {
          pending: 0,
          running: 0,
          failed: 0,
          completed: 0,
          cancelled: 0
        })
        for (const key of ["a", "b", "c", "d", "e", "f"]) yield* store.enqueue(job(key))
        yield* store.enqueue(job("x", { kind: "k2" }))
        const [a, b, c] = yield* store.claim({ kind: "k", worker: "w", limit: 3, now: t0, lockFor })
        yield* store.complete(a!.id, a!.token!, t0 + 1)
        yield* store.fail(b!.id, b!.token!, { error: "e", retryAt: null, now: t0 + 1 })
        void c
        yield* store.cancel("k", "d", t0 + 1)
        assert.deepStrictEqual(yield* store.counts("k"), {
          pending: 2,
          running: 1,
          failed: 1,
          completed: 1,
          cancelled: 1
        })
      })
  ],
  [
    "cleanup deletes completed and cancelled rows finished before the cutoff, nothing else",
    (store) =>
      Effect.gen(function* () {
        for (const key of ["done-early", "done-late", "cancelled", "dead", "running", "pending"]) {
          yield* store.enqueue(job(key))
        }
        const claimed = yield* store.claim({ kind: "k", worker: "w", limit: 6, now: t0, lockFor })
        const byKey = new Map(claimed.map((row) => [row.key, row]))
        const early = byKey.get("done-early")!
        const late = byKey.get("done-late")!
        const dead = byKey.get("dead")!
        yield* store.complete(early.id, early.token!, t0 + 10)
        yield* store.complete(late.id, late.token!, t0 + 20)
        yield* store.fail(dead.id, dead.token!, { error: "e", retryAt: null, now: t0 + 10 })
        const cancelled = byKey.get("cancelled")!
        yield* store.release(cancelled.id, cancelled.token!, t0 + 1)
        yield* store.cancel("k", "cancelled", t0 + 10)
        const pending = byKey.get("pending")!
        yield* store.release(pending.id, pending.token!, t0 + 1)
        // The cutoff is exclusive: finished at t0 + 20 is kept by a cutoff of t0 + 20.
        assert.strictEqual(yield* store.cleanup(t0 + 20), 2)
        assert.strictEqual(yield* store.inspect("k", "done-early"), undefined)
        assert.strictEqual(yield* store.inspect("k", "cancelled"), undefined)
        for (const key of ["done-late", "dead", "running", "pending"]) {
          assert.isDefined(yield* store.inspect("k", key), key)
        }
        assert.strictEqual(yield* store.cleanup(t0 + 20), 0)
        assert.strictEqual(yield* store.cleanup(t0 + 21), 1)
      })
  ],
  [
    "50 concurrent enqueues of 10 keys insert 10 rows (in-flight) and 10 rows (ever)",
    (store) =>
      Effect.gen(function* () {
        for (const dedupe of ["in-flight", "ever"] as const) {
          const kind = `k-${dedupe}`
          const outcomes = yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => job(`key-${i % 10}`, { kind, dedupe, payload: `offer-${i}` })),
            (input) => store.enqueue(input),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(outcomes.filter((outcome) => outcome === "enqueued").length, 10, dedupe)
          assert.strictEqual(outcomes.filter((outcome) => outcome === "deduplicated").length, 40, dedupe)
          assert.strictEqual((yield* store.counts(kind)).pending, 10, dedupe)
          for (let i = 0; i < 10; i++) assert.isDefined(yield* store.inspect(kind, `key-${i}`))
        }
      })
  ],
  [
    "concurrent claimers: each row is handed to exactly one claimer per lease",
    (store) =>
      Effect.gen(function* () {
        const rows = 120
        for (let i = 0; i < rows; i++) yield* store.enqueue(job(`key-${String(i).padStart(3, "0")}`))
        const claimers = 8
        const claimedBy = yield* Effect.forEach(
          Array.from({ length: claimers }, (_, i) => `w${i}`),
          (worker) =>
            Effect.gen(function* () {
              const mine: Array<JobRow> = []
              // Bounded: every round either claims or finds the table drained.
              for (let round = 0; round < rows; round++) {
                const batch = yield* store.claim({ kind: "k", worker, limit: 7, now: t0, lockFor })
                if (batch.length === 0) break
                mine.push(...batch)
                yield* Effect.yieldNow
              }
              return mine
            }),
          { concurrency: "unbounded" }
        )
        const all = claimedBy.flat()
        assert.strictEqual(all.length, rows)
        assert.strictEqual(new Set(all.map((row) => row.id)).size, rows)
        assert.isTrue(all.every((row) => row.attempts === 1))
        assert.strictEqual((yield* store.counts("k")).running, rows)
        // Once every lease expired, a second round hands each row out once more, attempt 2.
        const again = yield* Effect.forEach(
          Array.from({ length: claimers }, (_, i) => `v${i}`),
          (worker) =>
            Effect.gen(function* () {
              const mine: Array<JobRow> = []
              for (let round = 0; round < rows; round++) {
                const batch = yield* store.claim({ kind: "k", worker, limit: 7, now: t0 + lockFor, lockFor })
                if (batch.length === 0) break
                mine.push(...batch)
                yield* Effect.yieldNow
              }
              return mine
            }),
          { concurrency: "unbounded" }
        ).pipe(Effect.map((lists) => lists.flat()))
        assert.strictEqual(again.length, rows)
        assert.strictEqual(new Set(again.map((row) => row.id)).size, rows)
        assert.isTrue(again.every((row) => row.attempts === 2))
      })
  ],
  [
    "a burst of concurrent lease operations: each call gets its own answer",
    (store) =>
      Effect.gen(function* () {
        for (let i = 0; i < 24; i++) yield* store.enqueue(job(`key-${String(i).padStart(2, "0")}`))
        const rows = yield* store.claim({ kind: "k", worker: "w", limit: 24, now: t0, lockFor })
        assert.strictEqual(rows.length, 24)
        const at = t0 + 5
        // 0-5 complete, 6-8 complete with a wrong token, 9-11 fail and retry, 12-14 dead-letter,
        // 15-17 release, 18-20 complete twice with the right token, 21-23 untouched.
        const calls: Array<Effect.Effect<readonly [number, boolean], unknown>> = []
        const call = (i: number, effect: Effect.Effect<boolean, unknown>) =>
          calls.push(Effect.map(effect, (ok) => [i, ok]))
        rows.forEach((row, i) => {
          if (i < 6) call(i, store.complete(row.id, row.token!, at))
          else if (i < 9) call(i, store.complete(row.id, `${row.token}-stale`, at))
          else if (i < 12) call(i, store.fail(row.id, row.token!, { error: `e${i}`, retryAt: at + i, now: at }))
          else if (i < 15) call(i, store.fail(row.id, row.token!, { error: `e${i}`, retryAt: null, now: at }))
          else if (i < 18) call(i, store.release(row.id, row.token!, at))
          else if (i < 21) {
            call(i, store.complete(row.id, row.token!, at))
            call(i, store.complete(row.id, row.token!, at))
          }
        })
        const answers = yield* Effect.all(calls, { concurrency: "unbounded" })
        const trues = (from: number, to: number) => answers.filter(([i, ok]) => i >= from && i < to && ok).length
        assert.strictEqual(trues(0, 6), 6)
        assert.strictEqual(trues(6, 9), 0)
        assert.strictEqual(trues(9, 18), 9)
        // Twice each: exactly one of the two completes of a row acted.
        assert.strictEqual(trues(18, 21), 3)
        assert.strictEqual(answers.filter(([i]) => i >= 18 && i < 21).length, 6)
        const state = yield* Effect.forEach(rows, (row) => inspectOrFail(store, row.key))
        state.forEach((row, i) => {
          const expected =
            i < 6 || (i >= 18 && i < 21)
              ? "completed"
              : i < 9 || i >= 21
                ? "running"
                : i < 12 || (i >= 15 && i < 18)
                  ? "pending"
                  : "failed"
          assert.strictEqual(row.status, expected, `row ${i}`)
          if (i >= 9 && i < 12) {
            assert.strictEqual(row.runAt, at + i)
            assert.strictEqual(row.lastError, `e${i}`)
            assert.strictEqual(row.attempts, 1)
          }
          if (i >= 12 && i < 15) {
            assert.strictEqual(row.finishedAt, at)
            assert.strictEqual(row.lastError, `e${i}`)
          }
          if (i >= 15 && i < 18) assert.strictEqual(row.attempts, 0)
          if (expected === "completed") assert.strictEqual(row.finishedAt, at)
        })
      })
  ],
  [
    "concurrent completes of one row by two tokens: only the holder's counts",
    (store) =>
      Effect.gen(function* () {
        yield* store.enqueue(job("a"))
        const first = yield* store.claim({ kind: "k", worker: "w1", limit: 1, now: t0, lockFor: 10 })
        const second = yield* store.claim({ kind: "k", worker: "w2", limit: 1, now: t0 + 10, lockFor })
        const results = yield* Effect.all(
          [
            store.complete(first[0]!.id, first[0]!.token!, t0 + 11),
            store.complete(second[0]!.id, second[0]!.token!, t0 + 11)
          ],
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results, [false, true])
      })
  ]
]

/** How many scenarios `conformance` registers (for a backend's test to check it ran them all). */
export const scenarioCount = scenarios.length

/**
 * Registers every scenario with `it`, each on the store `fresh` builds for it.
 *
 * `knownGaps` names scenarios a backend does not pass yet, each with the reason: they run as
 * `it.effect.fails`, so the suite stays green while the gap is open and turns red the moment the
 * backend is fixed (the entry must then be removed). A name that matches no scenario throws.
 */
export const conformance = <R>(
  it: Vitest.MethodsNonLive<R>,
  fresh: Effect.Effect<DurableStore, unknown, R | Scope.Scope>,
  knownGaps: Readonly<Record<string, string>> = {}
): void => {
  for (const name of Object.keys(knownGaps)) {
    if (!scenarios.some(([scenario]) => scenario === name)) throw new Error(`knownGaps: no scenario named ${name}`)
  }
  for (const [name, scenario] of scenarios) {
    const gap = knownGaps[name]
    if (gap === undefined) it.effect(name, () => Effect.flatMap(fresh, scenario))
    else it.effect.fails(`${name} (known gap: ${gap})`, () => Effect.flatMap(fresh, scenario))
  }
}
