import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { Clock, Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Scope } from "effect"
import type { DurableStore } from "../src/internal/store.js"
import { Store } from "../src/internal/store.js"
import { StoreError } from "../src/internal/storeError.js"
import { gate, memory, startWorkers, TestTime } from "./helpers.js"

const payload = Schema.Struct({ url: Schema.String })
const job = <A>(o: Option.Option<DurableOffload.Job<A>>) => Option.getOrThrow(o)

/** A second service (another replica) on the same store. */
const replica = (store: DurableStore) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(DurableOffload.layer).pipe(Effect.provideService(Store, store))
    return { service: Context.get(context, DurableOffload.DurableOffload), context: Context.add(context, Store, store) }
  })

describe("DurableOffload workers: shutdown drains, then releases", () => {
  it.effect("closing the workers stops claiming and waits for running handlers within grace", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("drain-ok", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      let done = 0
      const workers = yield* startWorkers(
        context,
        [
          Kind.handle(() =>
            Effect.andThen(
              Effect.sleep("3 seconds"),
              Effect.sync(() => done++)
            )
          )
        ],
        { grace: "10 seconds" }
      )
      yield* service.enqueue(Kind, { url: "a" })
      yield* TestTime.settle()
      const stopping = yield* Effect.forkChild(workers.stop)
      yield* TestTime.settle()
      // Enqueued during the drain: stored, but not claimed by workers that are stopping.
      expect(yield* service.enqueue(Kind, { url: "b" })).toBe("enqueued")
      yield* TestTime.adjust("2999 millis")
      expect(stopping.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      yield* Fiber.join(stopping)
      expect(done).toBe(1)
      expect(job(yield* service.inspect(Kind, "a")).status).toBe("completed")
      expect(job(yield* service.inspect(Kind, "b"))).toMatchObject({ status: "pending", attempts: 0 })
    })
  )

  it.effect(
    "a handler still running at the end of grace is interrupted and released: the attempt is not counted, the next start resumes it",
    () =>
      Effect.gen(function* () {
        const Kind = DurableOffload.kind("drain-cut", { payload, key: (p) => p.url })
        const { service, context } = yield* memory
        let interrupted = 0
        const workers = yield* startWorkers(
          context,
          [Kind.handle(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++))))],
          { grace: "5 seconds" }
        )
        yield* service.enqueue(Kind, { url: "a" })
        yield* TestTime.settle()
        expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "running", attempts: 1 })
        const stopping = yield* Effect.forkChild(workers.stop)
        yield* TestTime.adjust("4999 millis")
        expect(interrupted).toBe(0)
        yield* TestTime.adjust("1 millis")
        yield* Fiber.join(stopping)
        expect(interrupted).toBe(1)
        expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({
          status: "pending",
          attempts: 0,
          lockedBy: null
        })
        // The next start (or another replica) runs it, as attempt 1 again.
        const attempts: Array<number> = []
        yield* startWorkers(context, [Kind.handle((_, j) => Effect.sync(() => attempts.push(j.attempt)))])
        yield* TestTime.settle()
        expect(attempts).toEqual([1])
        expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "completed", attempts: 1 })
      })
  )

  it.effect("with grace 0 running handlers are interrupted at once and released", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("drain-zero", { payload, key: (p) => p.url, concurrency: 3 })
      const { service, context } = yield* memory
      const workers = yield* startWorkers(context, [Kind.handle(() => Effect.never)], { grace: 0 })
      for (const k of ["a", "b", "c"]) yield* service.enqueue(Kind, { url: k })
      yield* TestTime.settle()
      expect((yield* service.counts(Kind)).running).toBe(3)
      yield* workers.stop
      expect(yield* service.counts(Kind)).toMatchObject({ running: 0, pending: 3 })
    })
  )

  it.effect("a closed service rejects enqueues", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("closed", { payload, key: (p) => p.url })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(DurableOffload.layerMemory, scope)
      const service = Context.get(context, DurableOffload.DurableOffload)
      expect(yield* service.enqueue(Kind, { url: "a" })).toBe("enqueued")
      yield* Scope.close(scope, Exit.void)
      expect(yield* service.enqueue(Kind, { url: "b" })).toBe("rejected")
    })
  )
})

describe("DurableOffload workers: leases, crashes, replicas", () => {
  it.effect("a crashed replica's job is claimed again once its lease expires, as a new attempt", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("crash", { payload, key: (p) => p.url })
      const { service, store, context } = yield* memory
      yield* service.enqueue(Kind, { url: "a" })
      const now = yield* Clock.currentTimeMillis
      // A replica claims it and dies: nothing refreshes its 30 s lease.
      expect(yield* store.claim({ kind: "crash", worker: "ghost", limit: 1, now, lockFor: 30_000 })).toHaveLength(1)
      const attempts: Array<readonly [number, number]> = []
      yield* startWorkers(context, [
        Kind.handle((_, j) => Effect.map(Clock.currentTimeMillis, (at) => attempts.push([j.attempt, at - now])))
      ])
      for (let i = 0; i < 29; i++) yield* TestTime.adjust("1 second")
      expect(attempts).toEqual([])
      yield* TestTime.adjust("1 second")
      expect(attempts).toEqual([[2, 30_000]])
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({ status: "completed", attempts: 2 })
    })
  )

  it.effect("a crashed replica's last attempt is dead-lettered at lease expiry, not run again", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("crash-last", { payload, key: (p) => p.url, maxAttempts: 1 })
      const { service, store, context } = yield* memory
      yield* service.enqueue(Kind, { url: "a" })
      const now = yield* Clock.currentTimeMillis
      yield* store.claim({ kind: "crash-last", worker: "ghost", limit: 1, now, lockFor: 5_000 })
      let runs = 0
      yield* startWorkers(context, [Kind.handle(() => Effect.sync(() => runs++))])
      for (let i = 0; i < 6; i++) yield* TestTime.adjust("1 second")
      expect(runs).toBe(0)
      const dead = job(yield* service.inspect(Kind, "a"))
      expect(dead.status).toBe("failed")
      expect(dead.lastError).toMatch(/lease expired/)
    })
  )

  it.effect("leases of running handlers are refreshed: a long handler keeps its job", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("long", { payload, key: (p) => p.url })
      const { service, context } = yield* memory
      yield* startWorkers(context, [Kind.handle(() => Effect.sleep("1 minute"))], { lease: "3 seconds" })
      yield* service.enqueue(Kind, { url: "a" })
      const t0 = yield* Clock.currentTimeMillis
      for (let i = 0; i < 59; i++) yield* TestTime.adjust("1 second")
      const running = job(yield* service.inspect(Kind, "a"))
      expect(running).toMatchObject({ status: "running", attempts: 1 })
      yield* TestTime.adjust("1 second")
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({
        status: "completed",
        attempts: 1,
        finishedAt: t0 + 60_000
      })
    })
  )

  it.effect("a handler whose lease could not be extended is interrupted and leaves the row to its new owner", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("lost", { payload, key: (p) => p.url })
      const { service, store, context } = yield* memory
      // Every refresh answers "not yours any more" (as when another replica re-claimed the row).
      const lossy: DurableStore = { ...store, refresh: () => Effect.succeed([]) }
      const other = yield* replica(lossy)
      let interrupted = 0
      yield* startWorkers(
        other.context,
        [Kind.handle(() => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++))))],
        { lease: "10 seconds", refreshEvery: "1 second", workerId: "lossy" }
      )
      yield* other.service.enqueue(Kind, { url: "a" })
      yield* TestTime.settle()
      yield* TestTime.adjust("1 second")
      expect(interrupted).toBe(1)
      // The row was not touched: still running under the lost lease until it expires.
      expect(job(yield* service.inspect(Kind, "a"))).toMatchObject({
        status: "running",
        attempts: 1,
        lockedBy: "lossy"
      })
      expect(context).toBeDefined()
    })
  )

  it.effect("concurrency is per replica: two replicas with concurrency 1 run two jobs at once, each its own", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("replicas", { payload, key: (p) => p.url, concurrency: 1 })
      const { service, store, context } = yield* memory
      const other = yield* replica(store)
      const gates = [yield* gate(), yield* gate(), yield* gate()]
      const byWorker: Array<string> = []
      let next = 0
      const handler = (name: string) =>
        Kind.handle(() => Effect.suspend(() => (byWorker.push(name), gates[next++]!.wait)))
      yield* startWorkers(context, [handler("one")], { workerId: "one" })
      yield* startWorkers(other.context, [handler("two")], { workerId: "two" })
      for (const k of ["a", "b", "c"]) yield* service.enqueue(Kind, { url: k })
      yield* TestTime.adjust("1 second")
      expect([...byWorker].sort()).toEqual(["one", "two"])
      expect(yield* service.counts(Kind)).toMatchObject({ running: 2, pending: 1 })
      const running = yield* service.list(Kind, "running")
      expect(running.map((j) => j.lockedBy).sort()).toEqual(["one", "two"])
      for (const g of gates) yield* g.release
      for (let i = 0; i < 3; i++) yield* TestTime.adjust("1 second")
      expect((yield* service.counts(Kind)).completed).toBe(3)
      yield* Deferred.await(gates[2]!.started)
    })
  )

  it.effect("an idle poller claims once per interval (no busy loop around due times or full slots)", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("idle", {
        payload,
        key: (p) => p.url,
        maxAttempts: 2,
        retry: Backoff.constant("300 millis")
      })
      const { store } = yield* memory
      let claims = 0
      const counting: DurableStore = {
        ...store,
        claim: (input) => Effect.suspend(() => (claims++, store.claim(input)))
      }
      const other = yield* replica(counting)
      const g = yield* gate()
      yield* startWorkers(other.context, [Kind.handle(({ url }) => (url === "busy" ? g.wait : Effect.fail("x")))], {
        pollInterval: "1 second"
      })
      yield* other.service.enqueue(Kind, { url: "fails" })
      yield* other.service.enqueue(Kind, { url: "later" }, { delay: "5 seconds" })
      for (let i = 0; i < 20; i++) yield* TestTime.adjust("500 millis")
      // 10 s: ~10 interval polls, plus the wakes (2 enqueues, 2 runs ending, 3 due times).
      expect(claims).toBeGreaterThanOrEqual(10)
      expect(claims).toBeLessThanOrEqual(20)
      // With the only slot busy, a due time does not make it spin either.
      const before = claims
      yield* other.service.enqueue(Kind, { url: "busy" })
      yield* TestTime.settle()
      yield* other.service.enqueue(Kind, { url: "waiting" }, { delay: "1 second" })
      for (let i = 0; i < 10; i++) yield* TestTime.adjust("500 millis")
      expect(claims - before).toBeLessThanOrEqual(10)
      yield* g.release
    })
  )

  it.effect("a poller whose store fails is restarted by its supervisor; the work still runs", () =>
    Effect.gen(function* () {
      const Kind = DurableOffload.kind("flaky-store", { payload, key: (p) => p.url })
      const { service, store } = yield* memory
      let failures = 2
      const flaky: DurableStore = {
        ...store,
        claim: (input) =>
          failures-- > 0
            ? Effect.fail(new StoreError({ operation: "claim", cause: "connection reset" }))
            : store.claim(input)
      }
      const other = yield* replica(flaky)
      let runs = 0
      yield* startWorkers(other.context, [Kind.handle(() => Effect.sync(() => runs++))])
      yield* other.service.enqueue(Kind, { url: "a" })
      for (let i = 0; i < 5; i++) yield* TestTime.adjust("1 second")
      expect(runs).toBe(1)
      expect(failures).toBeLessThan(0)
      expect(job(yield* service.inspect(Kind, "a")).status).toBe("completed")
    })
  )
})
