/** 2. restart cycles: one task failing N times with zero backoff — vs `Effect.retry`. */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Backoff, RestartPolicy, Task } from "@fibervisor/core"
import { timed } from "../effects.js"
import { check, freshVariant, plans, supervisedVariant } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

const failure = { _tag: "BenchFailure" } as const

/** An effect that always fails, counting its attempts. */
const countingFailure = () => {
  const counter = { attempts: 0 }
  const effect = Effect.suspend(() => {
    counter.attempts++
    return Effect.fail(failure)
  })
  return { counter, effect }
}

export const restarts = (profile: Profile): Scenario => ({
  id: "restart",
  title: "restart cycles",
  description:
    "one task failing N times: restart onFailure, Backoff.none, maxRetries N-1, await its handle — vs Effect.retry(failing, Schedule.recurs(N-1))",
  metric: "time",
  nMeans: "failed attempts",
  op: "failed attempt + restart",
  plans: plans(profile),
  variants: [
    supervisedVariant((sup, n) =>
      Effect.gen(function* () {
        const { counter, effect } = countingFailure()
        const task = Task.make("flaky", effect, {
          restart: RestartPolicy.onFailure,
          backoff: Backoff.none,
          maxRetries: n - 1
        })
        let tag = ""
        const ms = yield* timed(
          Effect.flatMap(sup.add(task), (handle) => Effect.map(handle.await, (outcome) => (tag = outcome._tag)))
        )
        yield* check(counter.attempts === n, `expected ${n} attempts, saw ${counter.attempts}`)
        yield* check(tag === "Failed", `expected the outcome Failed, got ${tag}`)
        return { value: ms, ops: n }
      })
    ),
    freshVariant("Effect.retry", "baseline", (n) =>
      Effect.gen(function* () {
        const { counter, effect } = countingFailure()
        const ms = yield* timed(Effect.result(Effect.retry(effect, Schedule.recurs(n - 1))))
        yield* check(counter.attempts === n, `expected ${n} attempts, saw ${counter.attempts}`)
        return { value: ms, ops: n }
      })
    )
  ]
})
