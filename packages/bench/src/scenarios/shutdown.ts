/** 5. shutdown: closing a supervisor of N idle tasks — vs closing a `FiberSet`. */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { timed } from "../effects.js"
import { addIdleTasks, check, freshVariant, openFiberSet, openSupervisor, plans, runIdleFibers } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

export const shutdown = (profile: Profile): Scenario => ({
  id: "shutdown",
  title: "shutdown",
  description:
    "closing the scope of a supervisor holding N idle tasks (Effect.never, all started) — vs closing a scope holding a FiberSet of N fibers running Effect.never; only the close is timed",
  metric: "time",
  nMeans: "idle tasks",
  op: "task stopped",
  plans: plans(profile),
  variants: [
    freshVariant("fibervisor", "fibervisor", (n) =>
      Effect.gen(function* () {
        const { scope, sup } = yield* openSupervisor
        yield* addIdleTasks(sup, n)
        const ms = yield* timed(Scope.close(scope, Exit.void))
        yield* check((yield* sup.size) === 0, "tasks left after shutdown")
        return { value: ms, ops: n }
      })
    ),
    freshVariant("FiberSet", "baseline", (n) =>
      Effect.gen(function* () {
        const { scope, set } = yield* openFiberSet
        yield* runIdleFibers(set, n)
        const ms = yield* timed(Scope.close(scope, Exit.void))
        return { value: ms, ops: n }
      })
    )
  ]
})
