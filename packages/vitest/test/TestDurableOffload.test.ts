import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { Context, Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import * as TestTime from "../src/TestTime.js"
import { layer, TestDurableOffload } from "../src/TestDurableOffload.js"

const Email = DurableOffload.kind("email", {
  payload: Schema.Struct({ to: Schema.String, at: Schema.Date }),
  key: (p) => p.to,
  maxAttempts: 2,
  retry: Backoff.constant("1 second")
})
const Once = DurableOffload.kind("once", { payload: Schema.String, key: (s) => s, dedupe: "ever" })
const Slow = DurableOffload.kind("slow", {
  payload: Schema.String,
  key: (s) => s,
  timeout: "5 seconds",
  maxAttempts: 1
})
const Unhandled = DurableOffload.kind("unhandled", { payload: Schema.String })

class Outbox extends Context.Service<Outbox, Array<string>>()("test/Outbox") {}

const kit = (sent: Array<string>) =>
  layer([
    Email.handle(({ to }, job) =>
      Effect.gen(function* () {
        const outbox = yield* Outbox
        if (to.startsWith("fail")) return yield* Effect.fail(`bounce ${job.attempt}`)
        outbox.push(to)
      })
    ),
    Once.handle(() => Effect.void),
    Slow.handle(() => Effect.sleep("1 hour"))
  ]).pipe(Layer.provide(Layer.succeed(Outbox, sent)))

describe("TestDurableOffload", () => {
  it.effect(
    "records kind, key and payload; runAll runs the due jobs under the test clock, with the handler's services",
    () => {
      const sent: Array<string> = []
      return Effect.gen(function* () {
        const test = yield* TestDurableOffload
        const at = new Date(0)
        expect(yield* DurableOffload.enqueue(Email, { to: "ada", at })).toBe("enqueued")
        expect(yield* DurableOffload.enqueue(Email, { to: "bob", at }, { delay: "10 seconds" })).toBe("enqueued")
        expect(yield* DurableOffload.enqueue(Email, { to: "ada", at })).toBe("deduplicated")
        const entries = yield* test.entries
        expect(entries.map((e) => [e.kind, e.key, e.payload])).toEqual([
          ["email", "ada", { to: "ada", at }],
          ["email", "bob", { to: "bob", at }]
        ])
        // The payload went through its stored form: a Date comes back a Date.
        expect((entries[0]!.payload as { at: unknown }).at).toBeInstanceOf(Date)
        expect((yield* test.runAll).map(Exit.isSuccess)).toEqual([true])
        expect(sent).toEqual(["ada"])
        yield* TestTime.adjust("10 seconds")
        yield* test.runAll
        expect(sent).toEqual(["ada", "bob"])
        expect(Option.getOrThrow(yield* DurableOffload.inspect(Email, "bob")).status).toBe("completed")
        expect(yield* DurableOffload.enqueue(Email, { to: "ada", at })).toBe("enqueued")
        expect((yield* test.history).length).toBe(3)
      }).pipe(Effect.provide(kit(sent)))
    }
  )

  it.effect("failures: back to pending until maxAttempts, then a dead letter; retryFailed revives it", () =>
    Effect.gen(function* () {
      const test = yield* TestDurableOffload
      yield* DurableOffload.enqueue(Email, { to: "fail@x", at: new Date(0) })
      const [first] = yield* test.runAll
      expect(first).toStrictEqual(Exit.fail("bounce 1"))
      expect(yield* DurableOffload.counts(Email)).toMatchObject({ pending: 1, failed: 0 })
      yield* test.runAll
      const dead = Option.getOrThrow(yield* DurableOffload.inspect(Email, "fail@x"))
      expect(dead).toMatchObject({ status: "failed", attempts: 2 })
      expect(dead.lastError).toContain("bounce 2")
      expect((yield* DurableOffload.list(Email, "failed")).map((j) => j.key)).toEqual(["fail@x"])
      expect(yield* DurableOffload.retryFailed(Email)).toBe(1)
      expect(yield* DurableOffload.counts(Email)).toMatchObject({ pending: 1, failed: 0 })
    }).pipe(Effect.provide(kit([])))
  )

  it.effect('the kind\'s timeout applies under the test clock; dedupe "ever" holds after cleanup', () =>
    Effect.gen(function* () {
      const test = yield* TestDurableOffload
      yield* DurableOffload.enqueue(Slow, "s")
      const running = yield* Effect.forkChild(test.runAll)
      yield* TestTime.adjust("5 seconds")
      const exits = yield* Fiber.join(running)
      expect(exits.map(Exit.isFailure)).toEqual([true])
      const slow = Option.getOrThrow(yield* DurableOffload.inspect(Slow, "s"))
      expect(slow.status).toBe("failed")
      expect(slow.lastError).toContain("timed out after 5000 ms")
      expect(yield* DurableOffload.enqueue(Once, "x")).toBe("enqueued")
      yield* test.runAll
      yield* TestTime.adjust("1 day")
      expect(yield* DurableOffload.cleanup({ olderThan: "1 hour" })).toBe(1)
      expect(yield* DurableOffload.enqueue(Once, "x")).toBe("deduplicated")
      yield* test.clear
      expect(yield* DurableOffload.enqueue(Once, "x")).toBe("enqueued")
    }).pipe(Effect.provide(kit([])))
  )

  it.effect("cancel, jobs without a handler, bad input, and a closed layer", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(kit([]), scope)
      const service = Context.get(context, DurableOffload.DurableOffload)
      const test = Context.get(context, TestDurableOffload)
      yield* service.enqueue(Unhandled, "u")
      yield* service.enqueue(Email, { to: "c", at: new Date(0) })
      expect(yield* service.cancel(Email, "c")).toBe("cancelled")
      expect(yield* service.cancel(Email, "c")).toBe("absent")
      expect(yield* test.runAll).toEqual([])
      expect((yield* test.entries).map((e) => e.kind)).toEqual(["unhandled"])
      expect(yield* service.enqueue(Email, { to: "", at: new Date(0) })).toBe("rejected")
      expect(yield* Effect.flip(service.enqueue(Email, { to: "a", at: "no" } as never))).toMatchObject({
        _tag: "PayloadError"
      })
      expect(yield* Effect.flip(service.enqueue(Email, { to: "a", at: new Date(0) }, { delay: -1 }))).toMatchObject({
        _tag: "InvalidOptions",
        field: "delay"
      })
      const bad = DurableOffload.kind("bad", { payload: Schema.String, concurrency: 0 })
      expect(yield* Effect.flip(service.enqueue(bad, "x"))).toMatchObject({ _tag: "InvalidKind", field: "concurrency" })
      expect(yield* Effect.flip(service.cleanup({ olderThan: -1 }))).toMatchObject({ field: "olderThan" })
      const failed = yield* Effect.exit(Layer.build(layer([bad.handle(() => Effect.void)])))
      expect(Exit.isFailure(failed)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(yield* service.enqueue(Email, { to: "late", at: new Date(0) })).toBe("rejected")
    })
  )
})
