/** 5. shutdown: closing a supervisor of N idle tasks — vs closing a `FiberSet`. */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { Supervisor, Task } from "@fibervisor/core"
import { run, timed, times, waitUntil } from "../effects.js"
import { check, fresh, idleCounting, plans, variant } from "./common.js"
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
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) =>
        run(
          Effect.gen(function* () {
            const scope = yield* Scope.make()
            const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
            const { counter, body } = idleCounting()
            yield* times(n, (i) => sup.add(Task.once(`idle-${i}`, body)))
            yield* waitUntil(() => counter.started >= n, "idle tasks to start")
            const ms = yield* timed(Scope.close(scope, Exit.void))
            yield* check((yield* sup.size) === 0, "tasks left after shutdown")
            return { value: ms, ops: n }
          })
        )
      )
    ),
    variant(
      "FiberSet",
      "baseline",
      fresh((n) =>
        run(
          Effect.gen(function* () {
            const scope = yield* Scope.make()
            const set = yield* FiberSet.make().pipe(Scope.provide(scope))
            const { counter, body } = idleCounting()
            yield* times(n, () => FiberSet.run(set, body))
            yield* waitUntil(() => counter.started >= n, "idle fibers to start")
            const ms = yield* timed(Scope.close(scope, Exit.void))
            return { value: ms, ops: n }
          })
        )
      )
    )
  ]
})
