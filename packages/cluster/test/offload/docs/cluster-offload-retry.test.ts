import { expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { ClusterOffload } from "@fibervisor/cluster"

const table = ClusterOffload.memoryTable()
const replica = (name: string) =>
  Effect.map(
    Layer.build(
      Offload.layerCluster({ logFailures: false }).pipe(
        Layer.provide(ClusterOffload.layerMemory(table, { replica: name }))
      )
    ),
    (context) => Context.get(context, Offload.Offload)
  )

it.effect("a retried failure claims its key again", () =>
  Effect.gen(function* () {
    const a = yield* replica("a")
    const b = yield* replica("b")
    const key = OffloadKey.keyed("invoice:7", "render-pdf")
    let attempts = 0
    const render = Effect.suspend(() => (++attempts === 1 ? Effect.fail("renderer busy") : Effect.void))

    yield* a.register(key, render)
    yield* a.awaitIdle()
    const summary = yield* a.summary!
    const failed = summary.kinds.find((kind) => kind.kind === "render-pdf")!.recentFailures[0]!

    // Replica b holds the key now: the retry is deduplicated, and the failure stays retryable.
    const done = yield* Deferred.make<void>()
    yield* b.register(key, Deferred.await(done))
    expect(yield* a.retry!(failed.id)).toEqual(Option.some("deduplicated"))

    yield* Deferred.succeed(done, undefined)
    yield* b.awaitIdle()
    expect(yield* a.retry!(failed.id)).toEqual(Option.some("spawned"))
    yield* a.awaitIdle()
    expect(attempts).toBe(2)
  })
)
