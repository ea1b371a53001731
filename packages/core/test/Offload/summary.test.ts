/**
 * `Offload.summary`: per kind, what runs and waits now, how much completed, failed and timed out,
 * and a bounded list of the latest failures (what the dashboard shows). On the TestClock, so the
 * failures' `at` are exact.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Logger } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { flush, TestTime } from "../helpers/offload.js"

/** The summary of `offload` (present on the real layer). */
const summaryOf = (offload: Offload.Offload) => offload.summary!

/** Failures are logged by default; the tests do not need the lines. */
const quiet = Effect.provide(Logger.layer([]))

describe("Offload.summary", () => {
  it.effect("counts per kind: active and queued now, completed, failed (failures and defects) and timed out", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({
        perKind: { slow: { maxConcurrent: 1 }, capped: { timeout: { after: "1 second", policy: "cancel" } } },
        onFull: { queue: 10 }
      })
      const hold = yield* Deferred.make<void>()
      yield* offload.spawn("slow", Deferred.await(hold))
      yield* offload.spawn("slow", Deferred.await(hold))
      yield* offload.spawn("slow", Deferred.await(hold))
      yield* offload.spawn("fine", Effect.void)
      yield* offload.spawn("fine", Effect.void)
      yield* offload.spawn("bad", Effect.fail("nope"))
      yield* offload.spawn("bad", Effect.die(new Error("kaboom")))
      yield* offload.spawn("capped", Effect.never)
      yield* flush
      yield* TestTime.adjust("2 seconds")
      const summary = yield* summaryOf(offload)
      expect(summary.kinds.map((kind) => kind.kind)).toEqual(["bad", "capped", "fine", "slow"])
      const byKind = Object.fromEntries(summary.kinds.map(({ recentFailures: _, ...counts }) => [counts.kind, counts]))
      expect(byKind).toEqual({
        bad: { kind: "bad", active: 0, queued: 0, completed: 0, failed: 2, timedOut: 0 },
        capped: { kind: "capped", active: 0, queued: 0, completed: 0, failed: 0, timedOut: 1 },
        fine: { kind: "fine", active: 0, queued: 0, completed: 2, failed: 0, timedOut: 0 },
        slow: { kind: "slow", active: 1, queued: 2, completed: 0, failed: 0, timedOut: 0 }
      })
      expect(summary.kinds.find((kind) => kind.kind === "bad")!.recentFailures).toEqual([
        { id: "f1", at: 0, reason: "nope" },
        { id: "f2", at: 0, reason: "defect: Error: kaboom" }
      ])
      expect(summary.kinds.find((kind) => kind.kind === "capped")!.recentFailures).toEqual([
        { id: "f3", at: 1000, reason: "timed out after 1000 ms and was interrupted" }
      ])
      yield* Deferred.succeed(hold, undefined)
      yield* flush
      expect((yield* summaryOf(offload)).kinds.find((kind) => kind.kind === "slow")).toMatchObject({
        active: 0,
        queued: 0,
        completed: 3
      })
    }).pipe(quiet)
  )

  it.effect("keeps the latest 10 failures per kind, oldest first, each cut to 500 characters", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      for (let i = 1; i <= 15; i++) {
        yield* offload.spawn("flaky", Effect.fail(`failure ${i}`))
        yield* flush
        yield* TestTime.adjust("1 second")
      }
      yield* offload.spawn("long", Effect.fail("x".repeat(2_000)))
      yield* flush
      const summary = yield* summaryOf(offload)
      const flaky = summary.kinds.find((kind) => kind.kind === "flaky")!
      expect(Offload.recentFailuresPerKind).toBe(10)
      expect(flaky.failed).toBe(15)
      expect(flaky.recentFailures).toEqual(
        Array.from({ length: 10 }, (_, i) => ({ id: `f${i + 6}`, at: (i + 5) * 1000, reason: `failure ${i + 6}` }))
      )
      const [long] = summary.kinds.find((kind) => kind.kind === "long")!.recentFailures
      expect(long!.reason).toHaveLength(500)
      expect(long!.reason.endsWith("…")).toBe(true)
    })
  )

  it.effect("counts survive a kind's bookkeeping being forgotten; past 1,000 kinds, new ones count as _other", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ logFailures: false })
      for (let i = 0; i < 1_000; i++) yield* offload.spawn(`kind-${String(i).padStart(4, "0")}`, Effect.void)
      yield* flush
      const hold = yield* Deferred.make<void>()
      yield* offload.spawn("late-1", Effect.fail("late failure"))
      yield* offload.spawn("late-2", Deferred.await(hold))
      yield* offload.spawn("kind-0000", Effect.void)
      yield* flush
      const summary = yield* summaryOf(offload)
      expect(summary.kinds).toHaveLength(1_001)
      expect(summary.kinds.find((kind) => kind.kind === "kind-0000")).toMatchObject({ completed: 2 })
      expect(summary.kinds.find((kind) => kind.kind === "_other")).toEqual({
        kind: "_other",
        active: 1,
        queued: 0,
        completed: 0,
        failed: 1,
        timedOut: 0,
        recentFailures: [{ id: "f1", at: 0, reason: "late failure" }]
      })
      yield* Deferred.succeed(hold, undefined)
    })
  )

  it.effect("the inline layer reports too; the disabled layer reports no kind", () =>
    Effect.gen(function* () {
      const inline = Context.get(yield* Layer.build(Offload.layerInline), Offload.Offload)
      yield* inline.register(OffloadKey.keyed("k", "sync"), Effect.void)
      expect((yield* summaryOf(inline)).kinds).toMatchObject([{ kind: "sync", completed: 1 }])
      const disabled = Context.get(yield* Layer.build(Offload.layerDisabled), Offload.Offload)
      yield* disabled.spawn("anything", Effect.void)
      expect(yield* summaryOf(disabled)).toEqual({ kinds: [] })
    })
  )
})
