import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { TestOffload, TestTime } from "@fibervisor/vitest"
import { makeSwrCache, Upstream } from "../src/docs/offload-swr.js"

/** An upstream that counts fetches and answers `<key>@v<n>`. */
const countingUpstream = Effect.gen(function* () {
  const fetches = yield* Ref.make(0)
  const layer = Layer.succeed(Upstream, {
    fetch: (key) => Ref.updateAndGet(fetches, (n) => n + 1).pipe(Effect.map((n) => `${key}@v${n}`))
  })
  return { fetches, layer }
})

const options = { freshFor: "10 seconds", expireAfter: "1 minute" } as const

describe("stale-while-revalidate on Offload", () => {
  it.effect("real layer: stale hits are served at once and start exactly one refresh", () =>
    Effect.gen(function* () {
      const { fetches, layer } = yield* countingUpstream
      const cache = makeSwrCache(options)
      const gate = yield* Deferred.make<void>()
      const slowLayer = Layer.succeed(Upstream, {
        fetch: (key) =>
          Deferred.await(gate).pipe(
            Effect.andThen(Ref.updateAndGet(fetches, (n) => n + 1)),
            Effect.map((n) => `${key}@v${n}`)
          )
      })
      const offload = yield* Layer.build(Offload.layer())
      const run = <A>(effect: Effect.Effect<A, never, Upstream | Offload.Offload>, upstream: typeof layer) =>
        effect.pipe(Effect.provide(upstream), Effect.provide(offload))

      expect(yield* run(cache.get("user:1"), layer)).toEqual({ value: "user:1@v1", status: "MISS" })
      yield* TestTime.adjust("5 seconds")
      expect(yield* run(cache.get("user:1"), layer)).toEqual({ value: "user:1@v1", status: "HIT" })
      yield* TestTime.adjust("6 seconds")
      // 100 concurrent stale hits while the refresh is parked on the gate
      const results = yield* Effect.all(
        Array.from({ length: 100 }, () => run(cache.get("user:1"), slowLayer)),
        { concurrency: "unbounded" }
      )
      expect(results.every((r) => r.status === "STALE" && r.value === "user:1@v1")).toBe(true)
      const service = Offload.Offload.pipe(Effect.provide(offload))
      expect(yield* Effect.flatMap(service, (o) => o.activeCount)).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Effect.flatMap(service, (o) => o.awaitIdle())).toBe(true)
      expect(yield* Ref.get(fetches)).toBe(2)
      expect(yield* run(cache.get("user:1"), layer)).toEqual({ value: "user:1@v2", status: "HIT" })
    })
  )

  it.effect("layerDisabled: stale is served and never refreshed", () =>
    Effect.gen(function* () {
      const { fetches, layer } = yield* countingUpstream
      const cache = makeSwrCache(options)
      const get = (key: string) => cache.get(key).pipe(Effect.provide(layer), Effect.provide(Offload.layerDisabled))
      expect((yield* get("k")).status).toBe("MISS")
      yield* TestTime.adjust("11 seconds")
      expect(yield* get("k")).toEqual({ value: "k@v1", status: "STALE" })
      expect(yield* get("k")).toEqual({ value: "k@v1", status: "STALE" })
      expect(yield* Ref.get(fetches)).toBe(1)
      yield* TestTime.adjust("1 minute")
      expect(yield* get("k")).toEqual({ value: "k@v2", status: "MISS" })
    })
  )

  it.effect("TestOffload: the refresh is registered once; running it updates the cache", () =>
    Effect.gen(function* () {
      const { fetches, layer } = yield* countingUpstream
      const cache = makeSwrCache(options)
      const get = (key: string) => cache.get(key).pipe(Effect.provide(layer))
      yield* get("k")
      yield* TestTime.adjust("11 seconds")
      yield* get("k")
      yield* get("k")
      const entries = yield* TestOffload.entries
      expect(entries.map((e) => OffloadKey.format(e.key))).toEqual(["revalidate:k"])
      expect(yield* Ref.get(fetches)).toBe(1)
      yield* TestOffload.runAll
      expect(yield* Ref.get(fetches)).toBe(2)
      expect(yield* get("k")).toEqual({ value: "k@v2", status: "HIT" })
    }).pipe(Effect.provide(TestOffload.layer()))
  )
})
