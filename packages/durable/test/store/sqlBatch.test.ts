import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { StoreError } from "../../src/internal/storeError.js"
import { makeBatcher } from "../../src/internal/store/sqlBatch.js"

/** A fake backend recording how it was called: `one` doubles, `many` doubles each item. */
const recorder = (options: {
  readonly failMany?: boolean
  readonly badItem?: number
  readonly gate?: Deferred.Deferred<void>
}) => {
  const calls: Array<readonly ["one" | "many", ReadonlyArray<number>]> = []
  const bad = (item: number) => new StoreError({ operation: "test", cause: `bad ${item}` })
  return {
    calls,
    one: (item: number) =>
      Effect.suspend(() => {
        calls.push(["one", [item]])
        return item === options.badItem ? Effect.fail(bad(item)) : Effect.succeed(item * 2)
      }),
    many: (items: ReadonlyArray<number>) =>
      Effect.gen(function* () {
        calls.push(["many", items])
        if (options.gate !== undefined) yield* Deferred.await(options.gate)
        if (options.failMany === true || items.includes(options.badItem ?? Number.NaN)) {
          return yield* Effect.fail(bad(-1))
        }
        return items.map((item) => item * 2)
      })
  }
}

const failureOf = <A>(exit: Exit.Exit<A, StoreError>): StoreError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure: ${String(exit.cause)}`)
  return reason.error
}

describe("sqlBatch (group commit)", () => {
  it.effect("a lone call runs `one`; concurrent calls share `many`, each getting its own result", () =>
    Effect.gen(function* () {
      const backend = recorder({})
      const submit = yield* makeBatcher({ operation: "test", maxBatch: 100, ...backend })
      assert.strictEqual(yield* submit(21), 42)
      assert.deepStrictEqual(backend.calls, [["one", [21]]])
      backend.calls.length = 0
      const items = Array.from({ length: 20 }, (_, i) => i)
      const results = yield* Effect.forEach(items, submit, { concurrency: "unbounded" })
      assert.deepStrictEqual(
        results,
        items.map((i) => i * 2)
      )
      // Every item went to the backend once, and at least some of them together.
      assert.deepStrictEqual(
        backend.calls.flatMap(([, batch]) => batch).sort((a, b) => a - b),
        items
      )
      assert.isTrue(backend.calls.some(([kind, batch]) => kind === "many" && batch.length > 1))
      assert.isBelow(backend.calls.length, 20)
    }).pipe(Effect.scoped)
  )

  it.effect("batches hold at most `maxBatch` items", () =>
    Effect.gen(function* () {
      const backend = recorder({})
      const submit = yield* makeBatcher({ operation: "test", maxBatch: 4, ...backend })
      yield* Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        submit,
        { concurrency: "unbounded" }
      )
      assert.isTrue(backend.calls.every(([, batch]) => batch.length <= 4))
      assert.strictEqual(backend.calls.flatMap(([, batch]) => batch).length, 30)
    }).pipe(Effect.scoped)
  )

  it.effect("calls arriving while a statement runs form the next batch", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const backend = recorder({ gate })
      const submit = yield* makeBatcher({ operation: "test", maxBatch: 100, ...backend })
      const first = yield* Effect.forkChild(Effect.forEach([1, 2], submit, { concurrency: "unbounded" }))
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      const second = yield* Effect.forkChild(Effect.forEach([3, 4, 5], submit, { concurrency: "unbounded" }))
      yield* Effect.yieldNow
      yield* Deferred.succeed(gate, undefined)
      assert.deepStrictEqual(yield* Fiber.join(first), [2, 4])
      assert.deepStrictEqual(yield* Fiber.join(second), [6, 8, 10])
      assert.deepStrictEqual(backend.calls, [
        ["many", [1, 2]],
        ["many", [3, 4, 5]]
      ])
    }).pipe(Effect.scoped)
  )

  it.effect("a failed batch is retried item by item: only the bad item's caller fails", () =>
    Effect.gen(function* () {
      const backend = recorder({ badItem: 3 })
      const submit = yield* makeBatcher({ operation: "test", maxBatch: 100, ...backend })
      const exits = yield* Effect.forEach([1, 2, 3, 4], (item) => Effect.exit(submit(item)), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(exits.slice(0, 2), [Exit.succeed(2), Exit.succeed(4)])
      assert.deepStrictEqual(exits[3], Exit.succeed(8))
      assert.strictEqual(failureOf(exits[2]!).cause, "bad 3")
      assert.deepStrictEqual(
        backend.calls.filter(([kind]) => kind === "one").map(([, batch]) => batch[0]),
        [1, 2, 3, 4]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("closing the scope fails the calls in flight and waiting, and every later call", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const backend = recorder({ gate })
      const scope = yield* Scope.make()
      const submit = yield* makeBatcher({ operation: "test", maxBatch: 2, ...backend }).pipe(Scope.provide(scope))
      const fiber = yield* Effect.forkChild(
        Effect.forEach([1, 2, 3, 4, 5], (item) => Effect.exit(submit(item)), { concurrency: "unbounded" })
      )
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(backend.calls, [["many", [1, 2]]])
      yield* Scope.close(scope, Exit.void)
      const exits = yield* Fiber.join(fiber)
      for (const exit of exits) assert.include(String(failureOf(exit).cause), "the store was closed")
      assert.include(String(failureOf(yield* Effect.exit(submit(6))).cause), "the store was closed")
    })
  )
})
