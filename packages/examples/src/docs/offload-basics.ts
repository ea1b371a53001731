import { Effect } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"

const refresh = (id: string) => Effect.sleep("50 millis").pipe(Effect.andThen(Effect.log(`refreshed ${id}`)))

export const program = Effect.gen(function* () {
  // Keyed work is deduplicated while in flight: identity is the key AND the kind.
  const first = yield* Offload.register(OffloadKey.keyed("user:1", "revalidate"), refresh("user:1"))
  const again = yield* Offload.register(OffloadKey.keyed("user:1", "revalidate"), refresh("user:1"))
  const otherKind = yield* Offload.register(OffloadKey.keyed("user:1", "warmup"), refresh("user:1"))

  // Fire and forget: an auto key is never deduplicated.
  yield* Offload.spawn("telemetry", Effect.log("flushed"))
  // Failures never reach the caller: they are logged at warning level and counted.
  yield* Offload.spawn("telemetry", Effect.fail("collector unreachable"))

  // Limits: one "report" runs at a time, one more may wait in the queue, the rest is rejected.
  const outcomes = [first, again, otherKind]
  for (let i = 0; i < 3; i++) outcomes.push(yield* Offload.register(OffloadKey.auto("report"), refresh(`r${i}`)))

  const idle = yield* Offload.awaitIdle("1 second")
  return { outcomes, idle }
}).pipe(
  Effect.provide(
    Offload.layer({
      perKind: { report: { maxConcurrent: 1 } },
      onFull: { queue: 1 },
      timeout: { after: "500 millis", policy: "cancel" },
      grace: "1 second"
    })
  )
)
// { outcomes: ["spawned", "deduplicated", "spawned", "spawned", "spawned", "rejected"], idle: true }

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
