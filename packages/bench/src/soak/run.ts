/** One soak run: the warm-up, the baseline heap, the three phases, the final readings, the close. */
import { Offload, Supervisor } from "@fibervisor/core"
import { live } from "@fibervisor/core/internal/compat"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { bytes, num } from "../table.js"
import { gaugeSum, type PhaseResult, type SettledHeap, settledHeap, taskLabelCount } from "./measure.js"
import { distinctPhase, offloadPhase, restartPhase } from "./phases.js"
import type { Sizes } from "./profile.js"

export interface Registries {
  readonly supervisorSize: number
  readonly supervisorList: number
  readonly supervisorSlots: number
  readonly offloadActive: number
  readonly offloadQueued: number
  readonly liveFibers: number
}

export interface SoakRun {
  readonly warmupSeconds: number
  readonly heapAfterWarmup: SettledHeap
  readonly heapEnd: SettledHeap
  readonly heapAfterClose: SettledHeap
  readonly phases: ReadonlyArray<PhaseResult>
  readonly registriesEnd: Registries
  readonly liveFibersAfterClose: number
  readonly taskLabelsAfterWarmup: number
  readonly taskLabelsEnd: number
  readonly taskRunningGauge: number
  readonly offloadActiveGauge: number
  readonly eventsSeen: number | null
}

export const soak = (sizes: Sizes, warmup: Sizes, subscribe: boolean, progress: (line: string) => void) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const sup = yield* Effect.orDie(Supervisor.make({ name: "soak" }).pipe(Scope.provide(scope)))
    const offloadContext = yield* Effect.orDie(Layer.buildWithScope(Offload.layer(), scope))
    const offload = Context.get(offloadContext, Offload.Offload)
    let events = 0
    if (subscribe) {
      const stream = yield* sup.subscribe.pipe(Scope.provide(scope))
      yield* Effect.forkIn(
        Stream.runForEach(stream, () =>
          Effect.sync(() => {
            events++
          })
        ),
        scope
      )
    }
    const registries = Effect.gen(function* () {
      return {
        supervisorSize: yield* sup.size,
        supervisorList: (yield* sup.list).length,
        supervisorSlots: (yield* sup.slots).length,
        offloadActive: yield* offload.activeCount,
        offloadQueued: yield* offload.queuedCount,
        liveFibers: live.fibers
      } satisfies Registries
    })

    progress(
      `warm-up: ${warmup.restarts} restarts, ${warmup.offloads} offloaded effects, ${warmup.distinct} distinct tasks`
    )
    const warmupStarted = performance.now()
    yield* restartPhase(sup, warmup, "warmup-restart")
    yield* Effect.provide(offloadPhase(warmup, "soak-warmup"), offloadContext)
    yield* distinctPhase(sup, warmup, "warmup-distinct")
    const warmupSeconds = (performance.now() - warmupStarted) / 1000
    const heapAfterWarmup = yield* settledHeap
    const taskLabelsAfterWarmup = yield* taskLabelCount
    progress(`heap after warm-up: ${bytes(heapAfterWarmup.heapUsedBytes)} (${num(warmupSeconds)} s)`)

    const phases: Array<PhaseResult> = []
    const report = (phase: PhaseResult) => {
      phases.push(phase)
      progress(`${phase.id}: ${phase.ops} in ${num(phase.totalMs / 1000)} s (${num(phase.usPerOp)} µs/op)`)
    }
    progress(`restart: ${sizes.restarts} failed attempts across ${sizes.parallel} task(s)`)
    report(yield* restartPhase(sup, sizes, "soak-restart"))
    progress(`offload: ${sizes.offloads} offloaded effects in batches of ${sizes.offloadBatch}`)
    report(yield* Effect.provide(offloadPhase(sizes, "soak"), offloadContext))
    if (sizes.distinct > 0) {
      progress(`distinct: ${sizes.distinct} uniquely named tasks`)
      report(yield* distinctPhase(sup, sizes, "soak-distinct"))
    }

    // The same live objects as at the warm-up reading: the supervisor and the offload service, open and idle.
    yield* sup.awaitEmpty
    yield* Effect.orDie(offload.awaitIdle())
    const registriesEnd = yield* registries
    const taskLabelsEnd = yield* taskLabelCount
    const taskRunningGauge = yield* gaugeSum("fibervisor_task_running")
    const offloadActiveGauge = yield* gaugeSum("fibervisor_offload_active")
    const heapEnd = yield* settledHeap
    progress(`heap at the end: ${bytes(heapEnd.heapUsedBytes)}`)

    yield* Scope.close(scope, Exit.void)
    const liveFibersAfterClose = live.fibers
    const heapAfterClose = yield* settledHeap
    return {
      warmupSeconds,
      heapAfterWarmup,
      heapEnd,
      heapAfterClose,
      phases,
      registriesEnd,
      liveFibersAfterClose,
      taskLabelsAfterWarmup,
      taskLabelsEnd,
      taskRunningGauge,
      offloadActiveGauge,
      eventsSeen: subscribe ? events : null
    } satisfies SoakRun
  })
