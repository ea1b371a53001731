import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { DurableOffload, type DurableOffloadError } from "@fibervisor/durable"
import { Context, Effect, type Layer, Option, Schema } from "effect"
import { memory, startWorkers, TestTime } from "./helpers.js"

const Refresh = DurableOffload.kind("refresh", {
  payload: Schema.Struct({ url: Schema.String }),
  key: (p) => p.url
})

class Http extends Context.Service<Http, { readonly get: (url: string) => Effect.Effect<string> }>()("test/Http") {}
class Db extends Context.Service<Db, { readonly put: (value: string) => Effect.Effect<void> }>()("test/Db") {}

describe("DurableOffload (memory)", () => {
  it.effect("an enqueued job runs once and completes", () =>
    Effect.gen(function* () {
      const { service, context } = yield* memory
      const seen: Array<string> = []
      yield* startWorkers(context, [Refresh.handle(({ url }) => Effect.sync(() => seen.push(url)))])
      expect(yield* service.enqueue(Refresh, { url: "a" })).toBe("enqueued")
      yield* TestTime.settle()
      expect(seen).toEqual(["a"])
      const job = yield* service.inspect(Refresh, "a")
      expect(Option.getOrThrow(job).status).toBe("completed")
      expect(Option.getOrThrow(job).payload).toEqual(Option.some({ url: "a" }))
    })
  )

  it("types: payloads are typed by the kind's schema; the workers layer requires what its handlers require", () => {
    const Store = DurableOffload.kind("store", { payload: Schema.Struct({ id: Schema.Number }) })
    const a = Refresh.handle(({ url }) =>
      Effect.gen(function* () {
        return yield* (yield* Http).get(url)
      })
    )
    const b = Store.handle(({ id }) =>
      Effect.gen(function* () {
        yield* (yield* Db).put(String(id))
      })
    )
    const workers = DurableOffload.workers([a, b])
    expectTypeOf(workers).toEqualTypeOf<
      Layer.Layer<
        never,
        DurableOffloadError.InvalidKind | DurableOffloadError.InvalidOptions,
        DurableOffload.DurableOffload | Http | Db
      >
    >()
    expectTypeOf(DurableOffload.enqueue(Refresh, { url: "x" })).toEqualTypeOf<
      Effect.Effect<
        DurableOffload.EnqueueOutcome,
        | DurableOffloadError.InvalidKind
        | DurableOffloadError.InvalidOptions
        | DurableOffloadError.PayloadError
        | DurableOffloadError.StoreError,
        DurableOffload.DurableOffload
      >
    >()
    // @ts-expect-error: the payload must match the kind's schema
    DurableOffload.enqueue(Refresh, { href: "x" })
    expect(workers).toBeDefined()
  })
})
