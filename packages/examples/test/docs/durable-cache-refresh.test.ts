import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { TestTime } from "@fibervisor/vitest"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"

// --- The application -------------------------------------------------------------------------

/** Where fresh values come from (an HTTP API in the demo). */
class Upstream extends Context.Service<Upstream, { readonly fetch: (key: string) => Effect.Effect<string, string> }>()(
  "docs/Upstream"
) {}

/** The cache the refresh writes to (Redis in production). */
class Cache extends Context.Service<Cache, Map<string, { readonly value: string; readonly storedAt: number }>>()(
  "docs/Cache"
) {}

/** Declared once, shared by the request handlers (producers) and the workers. */
const Revalidate = DurableOffload.kind("revalidate", {
  payload: Schema.Struct({ key: Schema.String }),
  key: (p) => p.key, // one refresh per cache key while one is pending or running
  maxAttempts: 3,
  retry: Backoff.exponential({ first: "1 second", max: "1 minute", jitter: "none" }),
  timeout: "10 seconds"
})

/** The handler: idempotent (it may run more than once for one enqueue), it just reloads the key. */
const refresh = Revalidate.handle(({ key }) =>
  Effect.gen(function* () {
    const value = yield* (yield* Upstream).fetch(key)
    ;(yield* Cache).set(key, { value, storedAt: yield* Clock.currentTimeMillis })
  })
)

/** A request: serve what the cache has; when it is older than 1 minute, enqueue a durable refresh. */
const getRate = (key: string) =>
  Effect.gen(function* () {
    const cache = yield* Cache
    const entry = cache.get(key)
    const now = yield* Clock.currentTimeMillis
    if (entry === undefined || now - entry.storedAt > 60_000) {
      const outcome = yield* DurableOffload.enqueue(Revalidate, { key })
      return { value: entry?.value, refresh: outcome }
    }
    return { value: entry.value, refresh: "fresh" as const }
  })

// --- Wiring: the store decides where the queue lives ----------------------------------------

/** An upstream that answers 503 while `down()` says so. */
const upstream = (down: (call: number) => boolean) => {
  let calls = 0
  return Layer.succeed(Upstream, {
    fetch: (key) => (down(++calls) ? Effect.fail("503 from upstream") : Effect.succeed(`${key}=1.08 (call ${calls})`))
  })
}

const app = (upstream: Layer.Layer<Upstream>) =>
  Layer.provideMerge(
    DurableOffload.workers([refresh], { pollInterval: "1 second", grace: "5 seconds" }),
    // Memory here; `DurableOffload.layerSqlite({ filename })` or `layerPostgres({ url })` in production.
    Layer.mergeAll(
      DurableOffload.layerMemory,
      upstream,
      Layer.sync(Cache, () => new Map())
    )
  )

// --- The tests, under TestClock ---------------------------------------------------------------

describe("a durable cache refresh", () => {
  it.effect("stale requests enqueue one refresh; a failed attempt is retried after the Schedule's delay", () =>
    Effect.gen(function* () {
      // 50 concurrent requests for a missing key: one job, 49 deduplicated.
      const outcomes = yield* Effect.all(
        Array.from({ length: 50 }, () => getRate("EURUSD")),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter((o) => o.refresh === "enqueued")).toHaveLength(1)
      expect(outcomes.filter((o) => o.refresh === "deduplicated")).toHaveLength(49)

      // The worker runs it at once; upstream fails: attempt 1 failed, retry in 1 second.
      yield* TestTime.settle()
      const job = Option.getOrThrow(yield* DurableOffload.inspect(Revalidate, "EURUSD"))
      expect(job).toMatchObject({ status: "pending", attempts: 1, lastError: "503 from upstream" })

      yield* TestTime.adjust("1 second")
      expect(yield* getRate("EURUSD")).toEqual({ value: "EURUSD=1.08 (call 2)", refresh: "fresh" })
      expect(yield* DurableOffload.counts(Revalidate)).toMatchObject({ completed: 1, pending: 0, failed: 0 })
    }).pipe(Effect.provide(app(upstream((call) => call === 1))))
  )

  let healthy = false
  it.effect("after maxAttempts a job is a dead letter; retryFailed brings it back once the upstream is healthy", () =>
    Effect.gen(function* () {
      yield* getRate("GBPUSD")
      for (let i = 0; i < 5; i++) yield* TestTime.adjust("1 second") // 3 attempts: t=0, 1 s, 3 s
      const dead = yield* DurableOffload.list(Revalidate, "failed")
      expect(dead.map((job) => [job.key, job.attempts, job.lastError])).toEqual([["GBPUSD", 3, "503 from upstream"]])

      healthy = true
      expect(yield* DurableOffload.retryFailed(Revalidate)).toBe(1)
      yield* TestTime.settle()
      expect((yield* getRate("GBPUSD")).value).toBe("GBPUSD=1.08 (call 4)")
    }).pipe(Effect.provide(app(upstream(() => !healthy))))
  )
})
