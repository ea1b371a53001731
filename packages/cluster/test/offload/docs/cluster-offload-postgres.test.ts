import { PgClient } from "@effect/sql-pg"
import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { ClusterOffload } from "@fibervisor/cluster"
import { TestDatabase } from "../../harness/index.js"

// The application's layer, on every replica: the claims session comes from the app's own pool.
const OffloadLive = (database: string) =>
  Offload.layerCluster({
    maxConcurrent: 64,
    perKind: { "rebuild-search-index": { cluster: { maxConcurrent: 2 } } }
  }).pipe(
    Layer.provide(ClusterOffload.layerPostgres({ applicationName: "api-offload", idleSessionTimeout: "30 seconds" })),
    Layer.provide(PgClient.layer({ host: "127.0.0.1", username: "postgres", database }))
  )

// A request handler: refresh a stale entry once across the fleet, answer at once.
const onStaleHit = (productId: string) =>
  Offload.register(OffloadKey.keyed(productId, "revalidate"), Effect.log(`refreshing ${productId}`))

let db: TestDatabase
beforeAll(async () => {
  db = await TestDatabase.create("docs_offload")
})
afterAll(() => db.drop())

it.live("wires Offload.layerCluster to PostgreSQL", () =>
  Effect.gen(function* () {
    expect(yield* onStaleHit("p-1")).toBe("spawned")
    expect(yield* Offload.awaitIdle("10 seconds")).toBe(true)
  }).pipe(Effect.provide(OffloadLive(db.name)))
)
