/**
 * What every scenario shares: the sizes and rounds (full and `--quick`), variants, the sanity check, the idle
 * body, a supervisor (scoped, or in a scope the scenario closes), N idle tasks or fibers started, the
 * `FiberSet.run` baseline.
 */
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { Supervisor, Task } from "@fibervisor/core"
import { run, timed, times, waitUntil } from "../effects.js"
import type { Measurement, Plan, Session, Variant } from "../harness.js"

export interface Profile {
  readonly quick: boolean
  /** Sizes of the scaling scenarios. */
  readonly sizes: ReadonlyArray<number>
  /** Warm-up and measured rounds at a size. */
  readonly plan: (n: number) => { readonly warmup: number; readonly rounds: number }
  /** Idle tasks in the memory scenario, and its rounds. */
  readonly memoryN: number
  readonly memoryPlan: { readonly warmup: number; readonly rounds: number }
  /** add+remove cycles in one sample of the churn scenario. */
  readonly churnOps: number
}

export const fullProfile: Profile = {
  quick: false,
  sizes: [1_000, 10_000, 100_000],
  plan: (n) =>
    n <= 1_000 ? { warmup: 5, rounds: 15 } : n <= 10_000 ? { warmup: 3, rounds: 9 } : { warmup: 2, rounds: 9 },
  memoryN: 100_000,
  memoryPlan: { warmup: 0, rounds: 3 },
  churnOps: 2_000
}

export const quickProfile: Profile = {
  quick: true,
  sizes: [100, 500],
  plan: () => ({ warmup: 1, rounds: 3 }),
  memoryN: 500,
  memoryPlan: { warmup: 0, rounds: 2 },
  churnOps: 100
}

/** A session whose every sample is independent (set up and torn down inside `sample`). */
export const fresh =
  (sample: (n: number) => Promise<Measurement>) =>
  (n: number): Promise<Session> =>
    Promise.resolve({ sample: () => sample(n) })

export const variant = (name: string, role: Variant["role"], open: Variant["open"]): Variant => ({ name, role, open })

/** A variant whose every sample is one run of `sample(n)`, set up and torn down inside it. */
export const freshVariant = (
  name: string,
  role: Variant["role"],
  sample: (n: number) => Effect.Effect<Measurement, unknown>
): Variant =>
  variant(
    name,
    role,
    fresh((n) => run(sample(n)))
  )

/** The `fibervisor` variant whose every sample gets a supervisor of its own, closed with the sample. */
export const supervisedVariant = (
  sample: (sup: Supervisor.Supervisor, n: number) => Effect.Effect<Measurement, unknown>
): Variant =>
  freshVariant("fibervisor", "fibervisor", (n) =>
    Effect.scoped(Effect.flatMap(Supervisor.make(), (sup) => sample(sup, n)))
  )

/** A supervisor in a scope the scenario closes itself (the close may be what it measures, or outlive a sample). */
export const openSupervisor = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
  return { scope, sup }
})

/** A `FiberSet` in a scope the scenario closes itself. */
export const openFiberSet = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const set = yield* FiberSet.make().pipe(Scope.provide(scope))
  return { scope, set }
})

export const plans = (profile: Profile, sizes: ReadonlyArray<number> = profile.sizes): ReadonlyArray<Plan> =>
  sizes.map((n) => ({ n, ...profile.plan(n) }))

export const check = (ok: boolean, what: string): Effect.Effect<void> =>
  ok ? Effect.void : Effect.die(new Error(`benchmark sanity check failed: ${what}`))

/** An idle task body that says when it has started, so a measurement never catches fibers not yet running. */
export const idleCounting = () => {
  const counter = { started: 0 }
  const body = Effect.andThen(
    Effect.sync(() => {
      counter.started++
    }),
    Effect.never
  )
  return { counter, body }
}

/**
 * Adds `n` idle tasks to `sup`, then waits until every one has started. The counter and body are allocated
 * when this is called, not when it runs: a heap reading taken in between does not count them.
 */
export const addIdleTasks = (sup: Supervisor.Supervisor, n: number): Effect.Effect<void, unknown> => {
  const { counter, body } = idleCounting()
  return Effect.andThen(
    times(n, (i) => sup.add(Task.once(`idle-${i}`, body))),
    waitUntil(() => counter.started >= n, "idle tasks to start")
  )
}

/** Runs `n` idle fibers in `set`, then waits until every one has started. */
export const runIdleFibers = (set: FiberSet.FiberSet, n: number): Effect.Effect<void> => {
  const { counter, body } = idleCounting()
  return Effect.andThen(
    times(n, () => FiberSet.run(set, body)),
    waitUntil(() => counter.started >= n, "idle fibers to start")
  )
}

/** The `FiberSet.run` baseline of the one-shot and offload scenarios: N jobs of `Effect.void`, then `awaitEmpty`. */
export const fiberSetRunAll = (n: number, options?: { readonly startImmediately: boolean }) =>
  run(
    Effect.scoped(
      Effect.gen(function* () {
        const set = yield* FiberSet.make()
        const ms = yield* timed(
          Effect.andThen(
            times(n, () => FiberSet.run(set, Effect.void, options)),
            FiberSet.awaitEmpty(set)
          )
        )
        return { value: ms, ops: n }
      })
    )
  )
