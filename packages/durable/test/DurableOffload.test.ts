import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { DurableOffload } from "@fibervisor/durable"
import { memory, startWorkers, TestTime } from "./helpers.js"

const Refresh = DurableOffload.kind("refresh", {
  payload: Schema.Struct({ url: Schema.String }),
  key: (p) => p.url
})

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
})
