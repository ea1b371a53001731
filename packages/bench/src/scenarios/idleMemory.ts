/** 3. idle memory: heap per idle supervised task — vs an idle fiber. */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { times, waitUntil } from "../effects.js"
import { fullGc, heapUsed } from "../gc.js"
import { addIdleTasks, check, freshVariant, idleCounting, openSupervisor } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

export const memory = (profile: Profile): Scenario => ({
  id: "idle-memory",
  title: "idle memory",
  description:
    "heapUsed after - before (full GC each side) / N for N idle supervised tasks (Effect.never) — vs N idle fibers (Effect.forkDetach(Effect.never))",
  metric: "heap",
  nMeans: "idle tasks",
  op: "idle task",
  // Heap deltas barely vary between rounds (and a round at 100k costs several full GCs of a large heap).
  plans: [{ n: profile.memoryN, ...profile.memoryPlan }],
  variants: [
    freshVariant("fibervisor", "fibervisor", (n) =>
      Effect.gen(function* () {
        const { scope, sup } = yield* openSupervisor
        const addAll = addIdleTasks(sup, n)
        fullGc(2)
        const before = heapUsed()
        yield* addAll
        fullGc(2)
        const after = heapUsed()
        yield* check((yield* sup.size) === n, "not every idle task is registered")
        yield* Scope.close(scope, Exit.void)
        return { value: after - before, ops: n }
      })
    ),
    freshVariant("raw fiber", "baseline", (n) =>
      Effect.gen(function* () {
        const { counter, body } = idleCounting()
        // Allocated before the first reading: the slots holding the fibers are not part of their cost.
        const fibers: Array<Fiber.Fiber<never>> = new Array(n).fill(undefined)
        fullGc(2)
        const before = heapUsed()
        yield* times(n, (i) => Effect.map(Effect.forkDetach(body), (fiber) => void (fibers[i] = fiber)))
        yield* waitUntil(() => counter.started >= n, "idle fibers to start")
        fullGc(2)
        const after = heapUsed()
        yield* Fiber.interruptAll(fibers)
        return { value: after - before, ops: n }
      })
    )
  ]
})
