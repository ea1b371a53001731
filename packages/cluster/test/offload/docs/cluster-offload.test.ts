import { expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { ClusterOffload } from "@fibervisor/cluster"

// Two replicas in one process: each is `Offload.layerCluster` on its own claims session of one
// shared table (in production: `ClusterOffload.layerPostgres`, one session per replica).
const table = ClusterOffload.memoryTable()
const replica = (name: string) =>
  Effect.map(
    Layer.build(
      Offload.layerCluster({ perKind: { report: { cluster: { maxConcurrent: 1 } } } }).pipe(
        Layer.provide(ClusterOffload.layerMemory(table, { replica: name }))
      )
    ),
    (context) => Context.get(context, Offload.Offload)
  )

it.effect("a key runs on one replica at a time; a kind's cluster slots hold across replicas", () =>
  Effect.gen(function* () {
    const a = yield* replica("a")
    const b = yield* replica("b")
    const done = yield* Deferred.make<void>()
    const refresh = OffloadKey.keyed("user:42", "revalidate")

    expect(yield* a.register(refresh, Deferred.await(done))).toBe("spawned")
    // Replica b sees the same stale key: a holds it, so b does not refresh it again.
    expect(yield* b.register(refresh, Effect.void)).toBe("deduplicated")

    // One "report" at a time across the cluster; the default `onFull: "reject"` refuses the rest.
    expect(yield* a.register(OffloadKey.auto("report"), Deferred.await(done))).toBe("spawned")
    expect(yield* b.register(OffloadKey.auto("report"), Effect.void)).toBe("rejected")
    expect(table.held()).toEqual(["report#slot0", "revalidate:user:42"])

    // Every exit releases: once a's work has ended, b may run the key.
    yield* Deferred.succeed(done, undefined)
    yield* a.awaitIdle()
    expect(table.held()).toEqual([])
    expect(yield* b.register(refresh, Effect.void)).toBe("spawned")
  })
)
