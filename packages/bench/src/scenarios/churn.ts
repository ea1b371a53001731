/** 7. add/remove churn with N idle tasks registered — vs `FiberSet.run` + `Fiber.interrupt`. */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { Task } from "@fibervisor/core"
import { run, timed, times } from "../effects.js"
import { addIdleTasks, check, openFiberSet, openSupervisor, plans, runIdleFibers, variant } from "./common.js"
import type { Scenario, Session } from "../harness.js"
import type { Profile } from "./common.js"

export const churn = (profile: Profile): Scenario => ({
  id: "churn",
  title: "add/remove churn",
  description: `with N idle tasks registered, ${profile.churnOps} × (sup.add(Task.once(name, Effect.never)), sup.remove, await its handle) — vs FiberSet.run(set, Effect.never) + Fiber.interrupt with N idle fibers in the set`,
  metric: "time",
  nMeans: "idle tasks registered",
  op: "add + remove of one more task",
  plans: plans(profile),
  variants: [
    variant("fibervisor", "fibervisor", (n) =>
      run(
        Effect.gen(function* () {
          const { scope, sup } = yield* openSupervisor
          yield* addIdleTasks(sup, n)
          let next = 0
          const k = profile.churnOps
          const cycle = Effect.suspend(() =>
            Effect.flatMap(sup.add(Task.once(`churn-${next++}`, Effect.never)), (handle) =>
              Effect.andThen(sup.remove(handle.id), handle.await)
            )
          )
          const session: Session = {
            sample: () =>
              run(
                Effect.gen(function* () {
                  const ms = yield* timed(times(k, () => cycle))
                  yield* check((yield* sup.size) === n, "churned tasks left in the registry")
                  return { value: ms, ops: k }
                })
              ),
            close: () => run(Scope.close(scope, Exit.void))
          }
          return session
        })
      )
    ),
    variant("FiberSet", "baseline", (n) =>
      run(
        Effect.gen(function* () {
          const { scope, set } = yield* openFiberSet
          yield* runIdleFibers(set, n)
          const k = profile.churnOps
          const cycle = Effect.flatMap(FiberSet.run(set, Effect.never), Fiber.interrupt)
          const session: Session = {
            sample: () =>
              run(
                Effect.gen(function* () {
                  const ms = yield* timed(times(k, () => cycle))
                  yield* check((yield* FiberSet.size(set)) === n, "churned fibers left in the set")
                  return { value: ms, ops: k }
                })
              ),
            close: () => run(Scope.close(scope, Exit.void))
          }
          return session
        })
      )
    )
  ]
})
