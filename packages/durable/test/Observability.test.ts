import { describe, expect, it } from "@effect/vitest"
import { DurableOffload } from "@fibervisor/durable"
import { Backoff } from "@fibervisor/core"
import { Effect, Layer, Metric, Option, Schema, Tracer } from "effect"
import { captureLogs, memory, startWorkers, TestTime } from "./helpers.js"

const payload = Schema.Struct({ url: Schema.String, token: Schema.String })

/** A durable metric of `kind` (attributes kind + backend="durable"): a counter's count or a gauge's value. */
const metric = (name: string, kind: string) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const s = snapshots.find(
      (s) => s.id === name && s.attributes?.["kind"] === kind && s.attributes?.["backend"] === "durable"
    )
    if (s === undefined) return 0
    if (s.type === "Counter") return Number(s.state.count)
    if (s.type === "Gauge") return Number(s.state.value)
    if (s.type === "Histogram") return s.state.count
    return -1
  })

const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span(options) {
      const span = native.span(options)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { spans, tracer }
})

describe("DurableOffload metrics", () => {
  it.effect(
    'fibervisor_offload_* with backend="durable": spawned, deduplicated, rejected, completed, failed, timeout, dead, interrupted, active, queued, duration',
    () =>
      Effect.gen(function* () {
        const kind = "metered"
        const Kind = DurableOffload.kind(kind, {
          payload,
          key: (p) => p.url,
          maxAttempts: 2,
          concurrency: 4,
          timeout: "10 seconds",
          retry: Backoff.constant("1 second")
        })
        const { service, context } = yield* memory
        yield* startWorkers(
          context,
          [
            Kind.handle(({ url }) =>
              url === "ok"
                ? Effect.sleep("2 seconds")
                : url === "slow"
                  ? Effect.sleep("1 hour")
                  : url === "cancel"
                    ? Effect.never
                    : Effect.fail("bad")
            )
          ],
          { grace: 0 }
        )
        yield* service.enqueue(Kind, { url: "ok", token: "t" })
        yield* service.enqueue(Kind, { url: "ok", token: "t" })
        yield* service.enqueue(Kind, { url: "", token: "t" })
        yield* service.enqueue(Kind, { url: "bad", token: "t" })
        yield* service.enqueue(Kind, { url: "slow", token: "t" })
        yield* service.enqueue(Kind, { url: "cancel", token: "t" })
        yield* service.enqueue(Kind, { url: "later", token: "t" }, { delay: "1 hour" })
        yield* TestTime.settle()
        expect(yield* metric("fibervisor_offload_active", kind)).toBe(3)
        expect(yield* service.counts(Kind)).toMatchObject({ running: 3, pending: 2 })
        expect(yield* metric("fibervisor_offload_queued", kind)).toBe(2)
        for (let i = 0; i < 5; i++) yield* TestTime.adjust("1 second")
        expect(yield* service.cancel(Kind, "cancel")).toBe("cancelled")
        for (let i = 0; i < 25; i++) yield* TestTime.adjust("1 second")
        expect({
          spawned: yield* metric("fibervisor_offload_spawned_total", kind),
          deduplicated: yield* metric("fibervisor_offload_deduplicated_total", kind),
          rejected: yield* metric("fibervisor_offload_rejected_total", kind),
          completed: yield* metric("fibervisor_offload_completed_total", kind),
          failed: yield* metric("fibervisor_offload_failed_total", kind),
          timeout: yield* metric("fibervisor_offload_timeout_total", kind),
          dead: yield* metric("fibervisor_offload_dead_total", kind),
          interrupted: yield* metric("fibervisor_offload_interrupted_total", kind),
          active: yield* metric("fibervisor_offload_active", kind),
          durations: yield* metric("fibervisor_offload_duration_seconds", kind)
        }).toEqual({
          spawned: 5,
          deduplicated: 1,
          rejected: 1,
          completed: 1,
          // "bad" twice; "slow" timed out twice (counted as timeouts)
          failed: 2,
          timeout: 2,
          dead: 2,
          interrupted: 1,
          active: 0,
          durations: 6
        })
      })
  )
})

describe("DurableOffload queued gauge", () => {
  it.effect("each kind's poller reads its pending count every 15 seconds", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("gauged", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      yield* startWorkers(context, [Kind.handle(() => Effect.void)])
      for (const url of ["a", "b", "c"]) yield* service.enqueue(Kind, { url, token: "t" }, { delay: "1 hour" })
      expect(yield* metric("fibervisor_offload_queued", "gauged")).toBe(0)
      for (let i = 0; i < 14; i++) yield* TestTime.adjust("1 second")
      expect(yield* metric("fibervisor_offload_queued", "gauged")).toBe(0)
      yield* TestTime.adjust("1 second")
      expect(yield* metric("fibervisor_offload_queued", "gauged")).toBe(3)
    })
  )
})

describe("DurableOffload tracing and logs", () => {
  it.effect('a run is a root span "fibervisor.durable_offload" linked to the span that enqueued it', () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const Kind = DurableOffload.kind("traced", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      yield* startWorkers(context, [Kind.handle(() => Effect.sleep("1 second").pipe(Effect.withSpan("inner")))]).pipe(
        Effect.withTracer(recorder.tracer)
      )
      let request: Tracer.Span | undefined
      yield* Effect.gen(function* () {
        request = yield* Effect.currentSpan
        yield* service.enqueue(Kind, { url: "a", token: "t" })
      }).pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
      yield* TestTime.adjust("1 second")
      const run = recorder.spans.find((s) => s.name === "fibervisor.durable_offload")!
      expect(run).toBeDefined()
      expect(run.parent).toEqual(Option.none())
      expect(run.traceId).not.toBe(request!.traceId)
      expect(run.links.map((l) => [l.span.traceId, l.span.spanId])).toEqual([[request!.traceId, request!.spanId]])
      expect(Object.fromEntries(run.attributes)).toMatchObject({ kind: "traced", key: "a", attempt: 1 })
      const inner = recorder.spans.find((s) => s.name === "inner")!
      expect(Option.map(inner.parent, (p) => p.spanId)).toEqual(Option.some(run.spanId))
      expect(run.status._tag).toBe("Ended")
    })
  )

  it.effect("without a producer span the run has no link", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const Kind = DurableOffload.kind("untraced", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      yield* startWorkers(context, [Kind.handle(() => Effect.void)]).pipe(Effect.withTracer(recorder.tracer))
      yield* service.enqueue(Kind, { url: "a", token: "t" })
      yield* TestTime.settle()
      const run = recorder.spans.find((s) => s.name === "fibervisor.durable_offload")!
      expect(run.links).toEqual([])
    })
  )

  it.effect("log lines show a payload's keys, never its values (or what the kind's redact returns)", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const Kind = DurableOffload.kind("secretive", { payload, key: (p) => p.url, maxAttempts: 1 })
      const Custom = DurableOffload.kind("custom-redact", {
        payload,
        key: (p) => p.url,
        maxAttempts: 1,
        redact: (p) => ({ url: p.url })
      })
      const { service, context } = yield* memory
      yield* startWorkers(context, [Kind.handle(() => Effect.fail("no")), Custom.handle(() => Effect.fail("no"))]).pipe(
        Effect.provide(logs.layer)
      )
      yield* service.enqueue(Kind, { url: "u1", token: "s3cr3t" })
      yield* service.enqueue(Custom, { url: "u2", token: "s3cr3t" })
      yield* service.enqueue(Kind, { url: "", token: "s3cr3t" }).pipe(Effect.provide(logs.layer))
      yield* TestTime.adjust("1 second")
      const text = JSON.stringify(logs.lines)
      expect(text).not.toContain("s3cr3t")
      const dead = logs.lines.filter((l) => l.message.includes("dead-lettered"))
      expect(dead.map((l) => l.annotations["payload"])).toEqual(
        expect.arrayContaining([{ keys: ["url", "token"] }, { url: "u2" }])
      )
      const rejected = logs.lines.find((l) => l.message.includes("rejected"))!
      expect(rejected.annotations).toMatchObject({ kind: "secretive", payload: { keys: ["url", "token"] } })
      expect(dead[0]!.annotations).toMatchObject({ fibervisor: "durable", attempt: 1 })
      expect(Layer).toBeDefined()
    })
  )
})
