/**
 * `Offload.retry`: a recent failure of `summary` is registered again by its id — the same key, the
 * same work, the registering caller's services — through the normal admission.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { flush } from "../helpers/offload.js"

class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

const failuresOf = (offload: Offload.Offload, kind: string) =>
  Effect.map(offload.summary!, (summary) => summary.kinds.find((k) => k.kind === kind)?.recentFailures ?? [])

describe("Offload.retry", () => {
  it.effect("runs the work again with the registering caller's services; the retried failure leaves the list", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      const seen: Array<string> = []
      let runs = 0
      const work = Effect.gen(function* () {
        runs += 1
        seen.push(yield* Greeting)
        if (runs === 1) return yield* Effect.fail("first run fails")
      })
      yield* offload.register(OffloadKey.keyed("k1", "mail"), work).pipe(Effect.provideService(Greeting, "hello"))
      yield* flush
      const [failure] = yield* failuresOf(offload, "mail")
      expect(failure).toMatchObject({ reason: "first run fails" })
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.some("spawned"))
      yield* flush
      expect(seen).toEqual(["hello", "hello"])
      expect(yield* failuresOf(offload, "mail")).toEqual([])
      expect((yield* offload.summary!).kinds[0]).toMatchObject({ completed: 1, failed: 1 })
      // Gone from the list: unknown now.
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.none())
    })
  )

  it.effect("an unknown id is Option.none(); ids of failures pushed out of the bounded list are unknown", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      expect(yield* offload.retry!("nope")).toEqual(Option.none())
      for (let i = 0; i < 12; i++) yield* offload.spawn("flaky", Effect.fail(`failure ${i}`))
      yield* flush
      const failures = yield* failuresOf(offload, "flaky")
      expect(failures).toHaveLength(Offload.recentFailuresPerKind)
      expect(failures[0]!.reason).toBe("failure 2")
      expect(yield* offload.retry!("f1")).toEqual(Option.none())
      expect(yield* offload.retry!("f2")).toEqual(Option.none())
      expect(yield* offload.retry!("f3")).toEqual(Option.some("spawned"))
      yield* flush
      // It failed again: a new failure with a new id, at the end of the list.
      const after = yield* failuresOf(offload, "flaky")
      expect(after).toHaveLength(10)
      expect(after.at(-1)).toMatchObject({ id: "f13", reason: "failure 2" })
      expect(after.map((f) => f.id)).not.toContain("f3")
    })
  )

  it.effect("deduplicated against the same key running now: the failure stays retryable", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      const key = OffloadKey.keyed("user-1", "sync")
      yield* offload.register(key, Effect.fail("boom"))
      yield* flush
      const [failure] = yield* failuresOf(offload, "sync")
      const hold = yield* Deferred.make<void>()
      expect(yield* offload.register(key, Deferred.await(hold))).toBe("spawned")
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.some("deduplicated"))
      expect((yield* failuresOf(offload, "sync")).map((f) => f.id)).toEqual([failure!.id])
      yield* Deferred.succeed(hold, undefined)
      yield* flush
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.some("spawned"))
    })
  )

  it.effect("goes through the limits: rejected when full, and stays in the list", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false, perKind: { one: { maxConcurrent: 1 } } })
      yield* offload.spawn("one", Effect.fail("boom"))
      yield* flush
      const [failure] = yield* failuresOf(offload, "one")
      const hold = yield* Deferred.make<void>()
      yield* offload.spawn("one", Deferred.await(hold))
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.some("rejected"))
      expect(yield* failuresOf(offload, "one")).toHaveLength(1)
      yield* Deferred.succeed(hold, undefined)
    })
  )

  it.effect("the inline layer waits for the retried work; the disabled layer has nothing to retry", () =>
    Effect.gen(function* () {
      const inline = Context.get(yield* Layer.build(Offload.layerInlineWith({ logFailures: false })), Offload.Offload)
      let runs = 0
      yield* inline.spawn(
        "once",
        Effect.suspend(() => (++runs === 1 ? Effect.fail("boom") : Effect.void))
      )
      const [failure] = yield* failuresOf(inline, "once")
      expect(yield* inline.retry!(failure!.id)).toEqual(Option.some("spawned"))
      // Waited for: already ran.
      expect(runs).toBe(2)
      const disabled = Context.get(yield* Layer.build(Offload.layerDisabled), Offload.Offload)
      expect(yield* disabled.retry!("f1")).toEqual(Option.none())
      expect(yield* Offload.retry("f1").pipe(Effect.provideService(Offload.Offload, disabled))).toEqual(Option.none())
    })
  )

  it.effect("a submitted piece of work is retried as registered: the first handle keeps its own exit", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      let runs = 0
      const handle = yield* offload.submit(
        OffloadKey.keyed("job", "submitted"),
        Effect.suspend(() => (++runs === 1 ? Effect.fail("first") : Effect.succeed("second")))
      )
      const first = yield* handle.await
      expect(Option.isSome(first) && first.value._tag).toBe("Failure")
      const [failure] = yield* failuresOf(offload, "submitted")
      expect(yield* offload.retry!(failure!.id)).toEqual(Option.some("spawned"))
      yield* flush
      expect(runs).toBe(2)
      expect(yield* handle.await).toEqual(first)
    })
  )
})
