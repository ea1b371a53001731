import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { Clock, Deferred, Effect, Option, Schedule, Schema } from "effect"
import { gate, memory, startWorkers, TestTime } from "./helpers.js"

const payload = Schema.Struct({ url: Schema.String })

/** Attempts recorded by a handler: (attempt, time). */
const recorder = () => {
  const calls: Array<{ readonly attempt: number; readonly at: number; readonly key: string }> = []
  const record = (job: DurableOffload.JobContext) =>
    Effect.map(Clock.currentTimeMillis, (at) => {
      calls.push({ attempt: job.attempt, at, key: job.key })
    })
  return { calls, record }
}

const job = <A>(o: Option.Option<DurableOffload.Job<A>>) => Option.getOrThrow(o)

describe("DurableOffload workers: retries, timeouts, dead letters", () => {
  it.effect("a failing job is retried at exactly the times its Schedule gives, then dead-lettered at maxAttempts", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("retrying", {
        payload,
        key: (p) => p.url,
        maxAttempts: 4,
        retry: Backoff.exponential({ first: "1 second", factor: 2, max: "1 minute", jitter: "none" })
      })
      const { service, context } = yield* memory
      const r = recorder()
      yield* startWorkers(context, [
        Kind.handle((_, j) => Effect.andThen(r.record(j), Effect.fail(new Error(`boom ${j.attempt}`))))
      ])
      const t0 = yield* Clock.currentTimeMillis
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
      yield* TestTime.settle()
      const after1 = job(yield* service.inspect(Kind, "a"))
      expect(after1).toMatchObject({ status: "pending", attempts: 1, runAt: t0 + 1000 })
      expect(after1.lastError).toContain("boom 1")
      for (let i = 0; i < 7; i++) yield* TestTime.adjust("1 second")
      expect(r.calls.map((c) => [c.attempt, c.at - t0])).toEqual([
        [1, 0],
        [2, 1000],
        [3, 3000],
        [4, 7000]
      ])
      const dead = job(yield* service.inspect(Kind, "a"))
      expect(dead).toMatchObject({ status: "failed", attempts: 4, finishedAt: t0 + 7000 })
      expect(dead.lastError).toContain("boom 4")
      expect(yield* service.counts(Kind)).toEqual({ pending: 0, running: 0, failed: 1, completed: 0, cancelled: 0 })
      // Dead letters stay dead: nothing more runs.
      yield* TestTime.adjust("10 minutes")
      expect(r.calls).toHaveLength(4)
    })
  )

  it.effect("a schedule that ends dead-letters the job before maxAttempts, saying so", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("short-schedule", {
        payload,
        key: (p) => p.url,
        maxAttempts: 10,
        retry: Schedule.spaced("2 seconds").pipe(Schedule.upTo({ times: 1 }))
      })
      const { service, context } = yield* memory
      const r = recorder()
      yield* startWorkers(context, [Kind.handle((_, j) => Effect.andThen(r.record(j), Effect.fail("nope")))])
      yield* service.enqueue(Kind, { url: "a" })
      for (let i = 0; i < 6; i++) yield* TestTime.adjust("1 second")
      expect(r.calls.map((c) => c.attempt)).toEqual([1, 2])
      const dead = job(yield* service.inspect(Kind, "a"))
      expect(dead).toMatchObject({ status: "failed", attempts: 2 })
      expect(dead.lastError).toContain("the retry schedule ended")
    })
  )

  it.effect("a timed-out attempt is a failed attempt: counted, retried, and the next one can succeed", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("slow", {
        payload,
        key: (p) => p.url,
        timeout: "5 seconds",
        retry: Backoff.constant("1 second")
      })
      const { service, context } = yield* memory
      const r = recorder()
      let interrupted = 0
      yield* startWorkers(context, [
        Kind.handle((_, j) =>
          Effect.andThen(
            r.record(j),
            j.attempt === 1
              ? Effect.sleep("1 hour").pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
              : Effect.void
          )
        )
      ])
      const t0 = yield* Clock.currentTimeMillis
      yield* service.enqueue(Kind, { url: "a" })
      yield* TestTime.adjust("4999 millis")
      expect(job(yield* service.inspect(Kind, "a")).status).toBe("running")
      yield* TestTime.adjust("1 millis")
      const failed = job(yield* service.inspect(Kind, "a"))
      expect(failed).toMatchObject({
        status: "pending",
        attempts: 1,
        lastError: "timed out after 5000 ms",
        runAt: t0 + 6000
      })
      expect(interrupted).toBe(1)
      yield* TestTime.adjust("1 second")
      expect(r.calls.map((c) => [c.attempt, c.at - t0])).toEqual([
        [1, 0],
        [2, 6000]
      ])
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "completed", attempts: 2 })
    })
  )

  it.effect("a defect, a thrown exception and a self-interruption are failed attempts with their reason", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("faulty", {
        payload,
        key: (p) => p.url,
        maxAttempts: 1
      })
      const { service, context } = yield* memory
      yield* startWorkers(context, [
        Kind.handle(({ url }) => {
          if (url === "die") return Effect.die(new Error("kaput"))
          if (url === "throw") throw new Error("thrown")
          return Effect.interrupt
        })
      ])
      yield* service.enqueue(Kind, { url: "die" })
      yield* service.enqueue(Kind, { url: "throw" })
      yield* service.enqueue(Kind, { url: "self" })
      yield* TestTime.adjust("1 second")
      expect(job(yield* service.inspect(Kind, "die")).lastError).toContain("kaput")
      expect(job(yield* service.inspect(Kind, "throw")).lastError).toContain("thrown")
      expect(job(yield* service.inspect(Kind, "self")).lastError).toMatch(/interrupt/i)
      expect((yield* service.counts(Kind)).failed).toBe(3)
    })
  )

  it.effect("a stored payload that no longer decodes is dead-lettered with the reason; the handler never runs", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("schema-changed", { payload, key: (p) => p.url })
      const { service, store, context } = yield* memory
      let ran = 0
      yield* startWorkers(context, [Kind.handle(() => Effect.sync(() => ran++))])
      const now = yield* Clock.currentTimeMillis
      yield* store.enqueue({
        kind: "schema-changed",
        key: "old",
        payload: JSON.stringify({ v: 1, payload: { href: "x" } }),
        dedupe: "in-flight",
        maxAttempts: 5,
        runAt: now,
        now
      })
      yield* store.enqueue({
        kind: "schema-changed",
        key: "garbage",
        payload: "not json",
        dedupe: "in-flight",
        maxAttempts: 5,
        runAt: now,
        now
      })
      yield* TestTime.adjust("1 second")
      expect(ran).toBe(0)
      const old = job(yield* service.inspect(Kind, "old"))
      expect(old).toMatchObject({ status: "failed", attempts: 1, payload: Option.none() })
      expect(old.lastError).toMatch(/^payload does not decode: .*url/s)
      expect(job(yield* service.inspect(Kind, "garbage")).lastError).toMatch(/not JSON/)
    })
  )
})

describe("DurableOffload workers: scheduling, concurrency, dedupe", () => {
  it.effect("retry delays and delayed enqueues are exact even when they are shorter than the poll interval", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("exact", {
        payload,
        key: (p) => p.url,
        maxAttempts: 3,
        retry: Backoff.exponential({ first: "300 millis", factor: 2, max: "1 minute", jitter: "none" })
      })
      const { service, context } = yield* memory
      const r = recorder()
      yield* startWorkers(
        context,
        [Kind.handle((_, j) => Effect.andThen(r.record(j), j.key === "fails" ? Effect.fail("x") : Effect.void))],
        { pollInterval: "1 hour" }
      )
      const t0 = yield* Clock.currentTimeMillis
      yield* service.enqueue(Kind, { url: "fails" })
      yield* service.enqueue(Kind, { url: "later" }, { delay: "450 millis" })
      for (let i = 0; i < 20; i++) yield* TestTime.adjust("50 millis")
      expect(r.calls.map((c) => [c.key, c.attempt, c.at - t0])).toEqual([
        ["fails", 1, 0],
        ["fails", 2, 300],
        ["later", 1, 450],
        ["fails", 3, 900]
      ])
    })
  )

  it.effect("at most `concurrency` handlers of a kind run at once per replica; the rest wait, then run", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("limited", { payload, key: (p) => p.url, concurrency: 2 })
      const { service, context } = yield* memory
      const gates = new Map<string, Effect.Success<ReturnType<typeof gate>>>()
      for (const k of ["a", "b", "c", "d", "e"]) gates.set(k, yield* gate())
      let running = 0
      let peak = 0
      yield* startWorkers(context, [
        Kind.handle(({ url }) =>
          Effect.gen(function* () {
            running++
            peak = Math.max(peak, running)
            yield* gates.get(url)!.wait
            running--
          })
        )
      ])
      for (const k of gates.keys()) yield* service.enqueue(Kind, { url: k })
      yield* TestTime.adjust("1 second")
      expect(running).toBe(2)
      expect((yield* service.counts(Kind)).running).toBe(2)
      expect((yield* service.counts(Kind)).pending).toBe(3)
      for (const g of gates.values()) yield* g.release
      for (let i = 0; i < 3; i++) yield* TestTime.adjust("1 second")
      expect(peak).toBe(2)
      expect((yield* service.counts(Kind)).completed).toBe(5)
    })
  )

  it.effect("a delayed job runs at its time, not before; handlers see id, key and attempt", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("later", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      const r = recorder()
      yield* startWorkers(context, [Kind.handle((_, j) => r.record(j))])
      const t0 = yield* Clock.currentTimeMillis
      yield* service.enqueue(Kind, { url: "a" }, { delay: "10 seconds" })
      yield* service.enqueue(Kind, { url: "b" }, { key: "custom" })
      yield* TestTime.settle()
      expect(r.calls.map((c) => c.key)).toEqual(["custom"])
      for (let i = 0; i < 9; i++) yield* TestTime.adjust("1 second")
      expect(r.calls).toHaveLength(1)
      yield* TestTime.adjust("1 second")
      expect(r.calls.map((c) => [c.key, c.attempt, c.at - t0])).toEqual([
        ["custom", 1, 0],
        ["a", 1, 10000]
      ])
    })
  )

  it.effect('dedupe "in-flight": deduplicated while pending or running, enqueued again once finished', () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("inflight", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      const g = yield* gate()
      yield* startWorkers(context, [Kind.handle(() => g.wait)])
      expect(yield* service.enqueue(Kind, { url: "a" }, { delay: "1 second" })).toBe("enqueued")
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("deduplicated")
      yield* TestTime.adjust("1 second")
      yield* Deferred.await(g.started)
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("deduplicated")
      yield* g.release
      yield* TestTime.settle()
      expect(job(yield* service.inspect(Kind, "a")).status).toBe("completed")
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
    })
  )

  it.effect('dedupe "ever": a key is accepted once, even after it completed and retention cleaned it up', () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("once", { payload, key: (p) => p.url, dedupe: "ever" })
      const { service, context } = yield* memory
      let runs = 0
      yield* startWorkers(context, [Kind.handle(() => Effect.sync(() => runs++))])
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
      yield* TestTime.settle()
      expect(runs).toBe(1)
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("deduplicated")
      yield* TestTime.adjust("2 seconds")
      expect(yield* service.cleanup({ olderThan: "1 second" })).toBe(1)
      expect(yield* service.inspect(Kind, "a")).toEqual(Option.none())
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("deduplicated")
      expect(yield* service.enqueue(Kind, { url: "b" })).toBe("enqueued")
    })
  )

  it.effect("without a key every enqueue is a job of its own", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("keyless", { payload })
      const { service } = yield* memory
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
      expect((yield* service.counts(Kind)).pending).toBe(2)
    })
  )
})

describe("DurableOffload: cancel, retryFailed, counts, list", () => {
  it.effect("cancel: a pending job never runs; an absent one says so", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("cancel-pending", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      let runs = 0
      yield* startWorkers(context, [Kind.handle(() => Effect.sync(() => runs++))])
      yield* service.enqueue(Kind, { url: "a" }, { delay: "5 seconds" })
      expect(yield* service.cancel(Kind, "a")).toBe("cancelled")
      expect(yield* service.cancel(Kind, "a")).toBe("absent")
      expect(yield* service.cancel(Kind, "never")).toBe("absent")
      yield* TestTime.adjust("10 seconds")
      expect(runs).toBe(0)
      expect(job(yield* service.inspect(Kind, "a")).status).toBe("cancelled")
    })
  )

  it.effect("cancel: a job running here is interrupted (its finalizers run) and cancelled, not retried", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("cancel-running", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      const g = yield* gate()
      let finalized = 0
      yield* startWorkers(context, [Kind.handle(() => g.wait.pipe(Effect.ensuring(Effect.sync(() => finalized++))))])
      yield* service.enqueue(Kind, { url: "a" })
      yield* Deferred.await(g.started)
      expect(yield* service.cancel(Kind, "a")).toBe("cancelled")
      expect(finalized).toBe(1)
      const cancelled = job(yield* service.inspect(Kind, "a"))
      expect(cancelled).toMatchObject({ status: "cancelled", attempts: 0 })
      yield* TestTime.adjust("1 minute")
      expect((yield* service.counts(Kind)).running).toBe(0)
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
    })
  )

  it.effect('cancel: a job running on another replica is left to it ("running")', () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("cancel-remote", { payload, key: (p) => p.url })
      const { service, store } = yield* memory
      yield* service.enqueue(Kind, { url: "a" })
      const now = yield* Clock.currentTimeMillis
      const claimed = yield* store.claim({ kind: "cancel-remote", worker: "other", limit: 1, now, lockFor: 30_000 })
      expect(claimed).toHaveLength(1)
      expect(yield* service.cancel(Kind, "a")).toBe("running")
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "running", lockedBy: "other" })
    })
  )

  it.effect("retryFailed: dead letters (one key, or all) run again from attempt 1", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("revive", { payload, key: (p) => p.url, maxAttempts: 1 })
      const { service, context } = yield* memory
      let healthy = false
      const r = recorder()
      yield* startWorkers(context, [
        Kind.handle((_, j) => Effect.andThen(r.record(j), healthy ? Effect.void : Effect.fail("down")))
      ])
      for (const k of ["a", "b", "c"]) yield* service.enqueue(Kind, { url: k })
      yield* TestTime.adjust("1 second")
      expect((yield* service.counts(Kind)).failed).toBe(3)
      const dead = yield* service.list(Kind, "failed")
      expect(dead.map((j) => j.key)).toEqual(["c", "b", "a"])
      expect(dead[0]!.payload).toEqual(Option.some({ url: "c" }))
      healthy = true
      expect(yield* service.retryFailed(Kind, "a")).toBe(1)
      yield* TestTime.adjust("1 second")
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "completed", attempts: 1 })
      expect(yield* service.retryFailed(Kind)).toBe(2)
      expect(yield* service.retryFailed(Kind)).toBe(0)
      yield* TestTime.adjust("1 second")
      expect(yield* service.counts(Kind)).toEqual({ pending: 0, running: 0, failed: 0, completed: 3, cancelled: 0 })
      expect(r.calls.map((c) => c.attempt)).toEqual([1, 1, 1, 1, 1, 1])
      expect((yield* service.list(Kind, "completed", { limit: 2 })).length).toBe(2)
    })
  )
})
