/** 6. events: lifecycle events drained by one subscriber — vs a raw `PubSub`. */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import { Supervisor, Task } from "@fibervisor/core"
import { run, timed, times } from "../effects.js"
import { check, fresh, plans, variant } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

const EVENTS_PER_TASK_GUESS = 5
const SENTINEL = "bench-sentinel"

export const events = (profile: Profile): Scenario => ({
  id: "events",
  title: "events",
  description:
    "≈N lifecycle events: N/5 one-shot tasks added and awaited while one subscriber (sup.subscribe, forked Stream drain) counts them, up to a sentinel task's first event — vs N items published to a raw PubSub (sliding, same capacity) and drained by one subscriber",
  metric: "time",
  nMeans: "events (≈ 5 per one-shot task)",
  op: "event published and delivered",
  plans: plans(profile),
  variants: [
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) => {
        const tasks = Math.max(1, Math.round(n / EVENTS_PER_TASK_GUESS))
        return run(
          Effect.scoped(
            Effect.gen(function* () {
              // Large enough that the sliding bus never drops an event of this run.
              const sup = yield* Supervisor.make({ eventBuffer: 4 * n + 1024 })
              const done = yield* Deferred.make<void>()
              let delivered = 0
              let finished = false
              const stream = yield* sup.subscribe
              yield* Effect.forkScoped(
                Stream.runForEachArray(stream, (chunk) => {
                  if (finished) return Effect.void
                  for (const event of chunk) {
                    if ("task" in event && event.task === SENTINEL) {
                      finished = true
                      return Deferred.succeed(done, undefined)
                    }
                    delivered++
                  }
                  return Effect.void
                })
              )
              const ms = yield* timed(
                times(tasks, (i) => sup.add(Task.once(`task-${i}`, Effect.void))).pipe(
                  Effect.andThen(sup.awaitEmpty),
                  Effect.andThen(sup.add(Task.once(SENTINEL, Effect.void))),
                  Effect.andThen(Deferred.await(done)),
                  Effect.timeoutOrElse({
                    duration: "2 minutes",
                    orElse: () => Effect.die(new Error("events never delivered"))
                  })
                )
              )
              yield* check(delivered >= tasks, `only ${delivered} events delivered for ${tasks} tasks`)
              return { value: ms, ops: delivered }
            })
          )
        )
      })
    ),
    variant(
      "PubSub",
      "baseline",
      fresh((n) =>
        run(
          Effect.scoped(
            Effect.gen(function* () {
              const pubsub = yield* PubSub.sliding<{
                readonly _tag: string
                readonly seq: number
                readonly at: number
              }>(4 * n + 1024)
              const done = yield* Deferred.make<void>()
              let delivered = 0
              const subscription = yield* PubSub.subscribe(pubsub)
              yield* Effect.forkScoped(
                Stream.runForEachArray(Stream.fromSubscription(subscription), (chunk) => {
                  delivered += chunk.length
                  return delivered >= n ? Deferred.succeed(done, undefined) : Effect.void
                })
              )
              const ms = yield* timed(
                Effect.andThen(
                  times(n, (i) => PubSub.publish(pubsub, { _tag: "Item", seq: i, at: Date.now() })),
                  Deferred.await(done)
                )
              )
              return { value: ms, ops: n }
            })
          )
        )
      )
    )
  ]
})
