/** 1. one-shot tasks: `sup.add(Task.once(…))` × N, then `awaitEmpty` — vs `FiberSet.run`. */
import * as Effect from "effect/Effect"
import { Task } from "@fibervisor/core"
import { timed, times } from "../effects.js"
import { check, fiberSetRunAll, fresh, plans, supervisedVariant, variant } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

const nextTurn = { startImmediately: false } as const

export const oneShot = (profile: Profile): Scenario => ({
  id: "one-shot",
  title: "one-shot tasks",
  description:
    "sup.add(Task.once(name_i, Effect.void)) N times, then sup.awaitEmpty — vs FiberSet.run(set, Effect.void) N times, then FiberSet.awaitEmpty (the target's baseline: each fiber runs at once, inside the caller's step), and the same with { startImmediately: false } (each fiber starts on the next turn, as a task does)",
  metric: "time",
  nMeans: "tasks",
  op: "task added and completed",
  plans: plans(profile),
  variants: [
    supervisedVariant((sup, n) =>
      Effect.gen(function* () {
        const ms = yield* timed(
          Effect.andThen(
            times(n, (i) => sup.add(Task.once(`task-${i}`, Effect.void))),
            sup.awaitEmpty
          )
        )
        yield* check((yield* sup.size) === 0, "tasks left after awaitEmpty")
        return { value: ms, ops: n }
      })
    ),
    variant("FiberSet.run", "baseline", fresh(fiberSetRunAll)),
    // Not the target's baseline: a fiber started on the scheduler's next turn, in the async context
    // of its forker, as a task's fiber is (docs: "first step on the scheduler's next turn").
    // FiberSet.run's default runs the fiber at once, inside the caller's step.
    variant(
      "FiberSet.run next turn",
      "baseline",
      fresh((n) => fiberSetRunAll(n, nextTurn))
    )
  ]
})
