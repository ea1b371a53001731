import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope, Tracer } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import {
  active,
  captureLogs,
  count,
  counter,
  counts,
  delta,
  durations,
  flush,
  gate,
  recordingTracer,
  TestTime,
  uniqueKind,
  zero
} from "../helpers/offload.js"

const make = (config: Offload.OffloadConfig = {}) => Offload.make({ grace: 0, ...config })

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

/** Silences the warnings of failing work (the test environment has no logger, but be explicit). */
const quiet = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, captureLogs().layer)

describe("Offload metrics (deltas, tag kind)", () => {
  it.effect("successful work: spawned, active while running, completed, and its duration", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const kind = uniqueKind("ok")
      const before = yield* counts(kind)
      const durationsBefore = yield* durations(kind)
      const activeBefore = yield* active(kind)
      yield* offload.spawn(kind, Effect.sleep("2 seconds"))
      yield* offload.register(keyed("k", kind), Effect.sleep("500 millis"))
      yield* flush
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2 })
      expect((yield* active(kind)) - activeBefore).toBe(2)
      yield* TestTime.adjust("500 millis")
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, completed: 1 })
      expect((yield* active(kind)) - activeBefore).toBe(1)
      yield* TestTime.adjust("1500 millis")
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, completed: 2 })
      expect((yield* active(kind)) - activeBefore).toBe(0)
      const after = yield* durations(kind)
      expect(after.count - durationsBefore.count).toBe(2)
      expect(after.sum - durationsBefore.sum).toBe(2.5)
    })
  )

  it.effect("failures and defects count as failed, not completed", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const kind = uniqueKind("failing")
      const before = yield* counts(kind)
      const durationsBefore = yield* durations(kind)
      yield* quiet(offload.spawn(kind, Effect.fail("boom")))
      yield* quiet(offload.spawn(kind, Effect.die("kaput")))
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, failed: 2 })
      expect((yield* durations(kind)).count - durationsBefore.count).toBe(2)
      expect(yield* active(kind)).toBe(0)
    })
  )

  it.effect('a "cancel" timeout counts as timeout; a "warn" overrun still counts as completed', () =>
    Effect.gen(function* () {
      const cancelKind = uniqueKind("cancel-timeout")
      const warnKind = uniqueKind("warn-timeout")
      const offload = yield* make({
        perKind: {
          [cancelKind]: { timeout: { after: "1 second", policy: "cancel" } },
          [warnKind]: { timeout: { after: "1 second", policy: "warn" } }
        }
      })
      const cancelBefore = yield* counts(cancelKind)
      const warnBefore = yield* counts(warnKind)
      const durationsBefore = yield* durations(cancelKind)
      yield* quiet(offload.spawn(cancelKind, Effect.never))
      yield* quiet(offload.spawn(warnKind, Effect.sleep("2 seconds")))
      yield* flush
      yield* TestTime.adjust("2 seconds")
      expect(delta(cancelBefore, yield* counts(cancelKind))).toEqual({ ...zero, spawned: 1, timeout: 1 })
      expect(delta(warnBefore, yield* counts(warnKind))).toEqual({ ...zero, spawned: 1, completed: 1 })
      const after = yield* durations(cancelKind)
      expect([after.count - durationsBefore.count, after.sum - durationsBefore.sum]).toEqual([1, 1])
      expect(yield* active(cancelKind)).toBe(0)
    })
  )

  it.effect("deduplicated and rejected registrations are counted and never spawned", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("busy")
      const offload = yield* make({ perKind: { [kind]: { maxConcurrent: 1 } } })
      const before = yield* counts(kind)
      const a = yield* gate()
      yield* offload.register(keyed("k", kind), a.work)
      expect(yield* offload.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      expect(yield* offload.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      expect(yield* offload.register(auto(kind), Effect.void)).toBe("rejected")
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, deduplicated: 2, rejected: 1 })
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({
        ...zero,
        spawned: 1,
        completed: 1,
        deduplicated: 2,
        rejected: 1
      })
    })
  )

  it.effect("an invalid key counts as rejected, without a kind", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const before = yield* count("fibervisor_offload_rejected_total", undefined)
      yield* quiet(offload.register(auto(""), Effect.void))
      yield* quiet(offload.spawn("", Effect.void))
      expect((yield* count("fibervisor_offload_rejected_total", undefined)) - before).toBe(2)
    })
  )

  it.effect("queued work is spawned but not active until it starts; cancel counts as interrupted", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("queued")
      const offload = yield* make({ maxConcurrent: 1, onFull: { queue: 1 } })
      const before = yield* counts(kind)
      const durationsBefore = yield* durations(kind)
      const [a, b] = yield* Effect.all([gate(), gate()])
      yield* offload.register(keyed("a", kind), a.work)
      yield* offload.register(keyed("b", kind), b.work)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2 })
      expect(yield* active(kind)).toBe(1)
      // The queued piece is dropped: interrupted, never run, no duration.
      expect(yield* offload.cancel(keyed("b", kind))).toBe(true)
      expect(yield* offload.cancel(keyed("a", kind))).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, interrupted: 2 })
      expect(yield* active(kind)).toBe(0)
      expect((yield* durations(kind)).count - durationsBefore.count).toBe(1)
      expect(b.runs()).toBe(0)
    })
  )

  it.effect("work cut off by the drain counts as interrupted", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("drained")
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(quiet(Offload.make({ grace: "1 second" })), scope)
      const before = yield* counts(kind)
      const a = yield* gate()
      yield* offload.spawn(kind, a.work)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      yield* TestTime.adjust("1 second")
      yield* Fiber.await(closing)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(yield* active(kind)).toBe(0)
    })
  )

  it.effect("the inline layer counts spawned, completed, failed and deduplicated", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("inline")
      const before = yield* counts(kind)
      const a = yield* gate()
      const first = yield* Effect.forkChild(Offload.register(keyed("k", kind), a.work))
      yield* Deferred.await(a.started)
      expect(yield* Offload.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      yield* a.release
      yield* Fiber.await(first)
      yield* quiet(Offload.spawn(kind, Effect.fail("boom")))
      expect(delta(before, yield* counts(kind))).toEqual({
        ...zero,
        spawned: 2,
        completed: 1,
        failed: 1,
        deduplicated: 1
      })
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("the disabled layer counts nothing", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("disabled")
      const before = yield* counts(kind)
      const work = counter()
      expect(yield* Offload.register(keyed("k", kind), work.work)).toBe("disabled")
      expect(delta(before, yield* counts(kind))).toEqual(zero)
    }).pipe(Effect.provide(Offload.layerDisabled))
  )
})

describe("Offload tracing", () => {
  it.effect(
    'an offloaded run is a root span "fibervisor.offload" with kind and key, linked to the caller\'s span',
    () =>
      Effect.gen(function* () {
        const recorder = yield* recordingTracer
        const offload = yield* make()
        const work = Effect.sleep("2 seconds").pipe(Effect.withSpan("inner"))
        let request: Tracer.Span | undefined = undefined
        yield* Effect.gen(function* () {
          request = yield* Effect.currentSpan
          expect(yield* offload.register(keyed("user:1", "revalidate"), work)).toBe("spawned")
        }).pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
        yield* flush
        yield* TestTime.adjust("2 seconds")
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(recorder.spans.map((s) => s.name)).toEqual(["request", "fibervisor.offload", "inner"])
        const span = recorder.spans[1]!
        expect(span.parent).toEqual(Option.none())
        expect(span.kind).toBe("internal")
        expect(Object.fromEntries(span.attributes)).toEqual({ kind: "revalidate", key: "revalidate:user:1" })
        expect(span.links.length).toBe(1)
        expect(span.links[0]!.span.spanId).toBe(request!.spanId)
        expect(span.links[0]!.span.traceId).toBe(request!.traceId)
        // A new trace: the work's span outlives the request, so it is not its child.
        expect(span.traceId).not.toBe(request!.traceId)
        // The work runs inside it.
        const inner = recorder.spans[2]!
        expect(Option.map(inner.parent, (p) => p.spanId)).toEqual(Option.some(span.spanId))
        expect(span.status._tag).toBe("Ended")
        if (span.status._tag === "Ended") {
          expect(span.status.endTime - span.status.startTime).toBe(2_000_000_000n)
          expect(Exit.isSuccess(span.status.exit)).toBe(true)
        }
      })
  )

  it.effect("without a caller span, the offload span has no links; an auto key is formatted kind:*", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const offload = yield* make()
      yield* offload.spawn("race_loser", Effect.void).pipe(Effect.withTracer(recorder.tracer))
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(recorder.spans.map((s) => s.name)).toEqual(["fibervisor.offload"])
      const span = recorder.spans[0]!
      expect(span.links).toEqual([])
      expect(span.parent).toEqual(Option.none())
      expect(Object.fromEntries(span.attributes)).toEqual({ kind: "race_loser", key: "race_loser:*" })
    })
  )

  it.effect("a failing or timed-out run ends its span too", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const offload = yield* make({ perKind: { slow: { timeout: { after: "1 second", policy: "cancel" } } } })
      yield* quiet(offload.spawn("failing", Effect.fail("boom"))).pipe(Effect.withTracer(recorder.tracer))
      yield* quiet(offload.spawn("slow", Effect.never)).pipe(Effect.withTracer(recorder.tracer))
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(recorder.spans.map((s) => [s.name, s.attributes.get("kind"), s.status._tag])).toEqual([
        ["fibervisor.offload", "failing", "Ended"],
        ["fibervisor.offload", "slow", "Ended"]
      ])
    })
  )
})
