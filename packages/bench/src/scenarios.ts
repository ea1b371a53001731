/**
 * The seven scenarios of issue 6. Each fibervisor variant uses only `@fibervisor/core`'s public API;
 * each baseline is the hand-rolled Effect code (or library) a user would write instead. Only the
 * operation under test is timed: building the supervisor, the `FiberSet` or the offload layer, and
 * tearing them down afterwards, happen outside the clock.
 */
import { Backoff, Offload, RestartPolicy, Supervisor, Task } from "@fibervisor/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as PubSub from "effect/PubSub"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import PQueue from "p-queue"
import { run, timed, times, waitUntil } from "./effects.js"
import { fullGc, heapUsed } from "./gc.js"
import type { Measurement, Plan, Scenario, Session, Variant } from "./harness.js"

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
const fresh =
  (sample: (n: number) => Promise<Measurement>) =>
  (n: number): Promise<Session> =>
    Promise.resolve({ sample: () => sample(n) })

const variant = (name: string, role: Variant["role"], open: Variant["open"]): Variant => ({ name, role, open })

const plans = (profile: Profile, sizes: ReadonlyArray<number> = profile.sizes): ReadonlyArray<Plan> =>
  sizes.map((n) => ({ n, ...profile.plan(n) }))

const check = (ok: boolean, what: string): Effect.Effect<void> =>
  ok ? Effect.void : Effect.die(new Error(`benchmark sanity check failed: ${what}`))

/** An idle task body that says when it has started, so a measurement never catches fibers not yet running. */
const idleCounting = () => {
  const counter = { started: 0 }
  const body = Effect.andThen(
    Effect.sync(() => {
      counter.started++
    }),
    Effect.never
  )
  return { counter, body }
}

// ---- 1. one-shot tasks ----------------------------------------------------------------------------

const fiberSetRunAll = (n: number) =>
  run(
    Effect.scoped(
      Effect.gen(function* () {
        const set = yield* FiberSet.make()
        const ms = yield* timed(
          Effect.andThen(
            times(n, () => FiberSet.run(set, Effect.void)),
            FiberSet.awaitEmpty(set)
          )
        )
        return { value: ms, ops: n }
      })
    )
  )

const oneShot = (profile: Profile): Scenario => ({
  id: "one-shot",
  title: "one-shot tasks",
  description:
    "sup.add(Task.once(name_i, Effect.void)) N times, then sup.awaitEmpty — vs FiberSet.run(set, Effect.void) N times, then FiberSet.awaitEmpty",
  metric: "time",
  nMeans: "tasks",
  op: "task added and completed",
  plans: plans(profile),
  variants: [
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) =>
        run(
          Effect.scoped(
            Effect.gen(function* () {
              const sup = yield* Supervisor.make()
              const ms = yield* timed(
                Effect.andThen(
                  times(n, (i) => sup.add(Task.once(`task-${i}`, Effect.void))),
                  sup.awaitEmpty
                )
              )
              yield* check((yield* sup.size) === 0, "tasks left after awaitEmpty")
              return { value: ms, ops: n }
            })
          )
        )
      )
    ),
    variant("FiberSet.run", "baseline", fresh(fiberSetRunAll))
  ]
})

// ---- 2. restart cycles --------------------------------------------------------------------------

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

const restarts = (profile: Profile): Scenario => ({
  id: "restart",
  title: "restart cycles",
  description:
    "one task failing N times: restart onFailure, Backoff.none, maxRetries N-1, await its handle — vs Effect.retry(failing, Schedule.recurs(N-1))",
  metric: "time",
  nMeans: "failed attempts",
  op: "failed attempt + restart",
  plans: plans(profile),
  variants: [
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) =>
        run(
          Effect.scoped(
            Effect.gen(function* () {
              const sup = yield* Supervisor.make()
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
          )
        )
      )
    ),
    variant(
      "Effect.retry",
      "baseline",
      fresh((n) =>
        run(
          Effect.gen(function* () {
            const { counter, effect } = countingFailure()
            const ms = yield* timed(Effect.result(Effect.retry(effect, Schedule.recurs(n - 1))))
            yield* check(counter.attempts === n, `expected ${n} attempts, saw ${counter.attempts}`)
            return { value: ms, ops: n }
          })
        )
      )
    )
  ]
})

// ---- 3. idle memory -----------------------------------------------------------------------------

const memory = (profile: Profile): Scenario => ({
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
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) =>
        run(
          Effect.gen(function* () {
            const scope = yield* Scope.make()
            const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
            const { counter, body } = idleCounting()
            fullGc(2)
            const before = heapUsed()
            yield* times(n, (i) => sup.add(Task.once(`idle-${i}`, body)))
            yield* waitUntil(() => counter.started >= n, "idle tasks to start")
            fullGc(2)
            const after = heapUsed()
            yield* check((yield* sup.size) === n, "not every idle task is registered")
            yield* Scope.close(scope, Exit.void)
            return { value: after - before, ops: n }
          })
        )
      )
    ),
    variant(
      "raw fiber",
      "baseline",
      fresh((n) =>
        run(
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
      )
    )
  ]
})

// ---- 4. offload ---------------------------------------------------------------------------------

const offload = (profile: Profile): Scenario => ({
  id: "offload",
  title: "offload",
  description:
    'Offload.spawn("bench", Effect.void) N times, then Offload.awaitIdle(), under Offload.layer() (no limit) — vs FiberSet.run + awaitEmpty, and vs p-queue (concurrency Infinity): queue.add(async () => {}) N times, then queue.onIdle()',
  metric: "time",
  nMeans: "jobs",
  op: "job spawned and completed",
  plans: plans(profile),
  variants: [
    variant(
      "fibervisor",
      "fibervisor",
      fresh((n) =>
        run(
          Effect.gen(function* () {
            const ms = yield* timed(
              Effect.andThen(
                times(n, () => Offload.spawn("bench", Effect.void)),
                Offload.awaitIdle()
              )
            )
            return { value: ms, ops: n }
          }).pipe(Effect.provide(Offload.layer()))
        )
      )
    ),
    variant("FiberSet.run", "baseline", fresh(fiberSetRunAll)),
    variant(
      "p-queue",
      "baseline",
      fresh(async (n) => {
        const queue = new PQueue({ concurrency: Infinity })
        const started = performance.now()
        for (let i = 0; i < n; i++) void queue.add(async () => {})
        await queue.onIdle()
        return { value: performance.now() - started, ops: n }
      })
    )
  ]
})

// ---- 5. shutdown --------------------------------------------------------------------------------

const shutdown = (profile: Profile): Scenario => ({
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

// ---- 6. events ----------------------------------------------------------------------------------

const EVENTS_PER_TASK_GUESS = 5
const SENTINEL = "bench-sentinel"

const events = (profile: Profile): Scenario => ({
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

// ---- 7. add/remove churn ------------------------------------------------------------------------

const churn = (profile: Profile): Scenario => ({
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
          const scope = yield* Scope.make()
          const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
          const { counter, body } = idleCounting()
          yield* times(n, (i) => sup.add(Task.once(`idle-${i}`, body)))
          yield* waitUntil(() => counter.started >= n, "idle tasks to start")
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
          const scope = yield* Scope.make()
          const set = yield* FiberSet.make().pipe(Scope.provide(scope))
          const { counter, body } = idleCounting()
          yield* times(n, () => FiberSet.run(set, body))
          yield* waitUntil(() => counter.started >= n, "idle fibers to start")
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

export const scenarios = (profile: Profile): ReadonlyArray<Scenario> => [
  oneShot(profile),
  restarts(profile),
  memory(profile),
  offload(profile),
  shutdown(profile),
  events(profile),
  churn(profile)
]
