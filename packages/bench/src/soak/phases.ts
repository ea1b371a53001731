/** The soak's three phases: restart cycles, offloaded effects, distinct tasks. */
import { Backoff, Offload, RestartPolicy, type Supervisor, Task } from "@fibervisor/core"
import * as Effect from "effect/Effect"
import { times } from "../effects.js"
import { equals, phaseResult, Segments } from "./measure.js"
import type { Sizes } from "./profile.js"

export const failure = { _tag: "SoakFailure" } as const

/** `sizes.parallel` tasks failing `sizes.restarts` times in all; their handles are awaited. */
export const restartPhase = (sup: Supervisor.Supervisor, sizes: Sizes, name: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    const share = sizes.restarts / sizes.parallel
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      if (attempts % sizes.segment === 0) recorder.boundary(attempts)
      return Effect.fail(failure)
    })
    const tasks = Array.from({ length: sizes.parallel }, (_, k) =>
      Task.make(sizes.parallel === 1 ? name : `${name}-${k}`, attempt, {
        restart: RestartPolicy.onFailure,
        backoff: Backoff.none,
        maxRetries: share - 1
      })
    )
    recorder.start()
    const handles = yield* Effect.orDie(Effect.forEach(tasks, (task) => sup.add(task)))
    const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)
    yield* sup.awaitEmpty
    const failed = outcomes.filter((outcome) => outcome._tag === "Failed").length
    return phaseResult(
      "restart",
      "restart cycles",
      `failed attempt + restart (${sizes.parallel} task${sizes.parallel === 1 ? "" : "s"}, onFailure, Backoff.none, maxRetries ${share - 1})`,
      sizes.restarts,
      recorder,
      [
        equals("restart: attempts", attempts, sizes.restarts),
        equals("restart: outcomes Failed", failed, sizes.parallel)
      ]
    )
  })

/** `Offload.spawn` × `sizes.offloads`, in batches awaited with `Offload.awaitIdle()`. */
export const offloadPhase = (sizes: Sizes, kind: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    let ran = 0
    const work = Effect.sync(() => {
      ran++
    })
    recorder.start()
    for (let done = 0; done < sizes.offloads;) {
      yield* times(sizes.offloadBatch, () => Offload.spawn(kind, work))
      yield* Effect.orDie(Offload.awaitIdle())
      done += sizes.offloadBatch
      if (done % sizes.segment === 0) recorder.boundary(done)
    }
    const offload = yield* Offload.Offload
    return phaseResult(
      "offload",
      "offloaded effects",
      `Offload.spawn(kind, counting Effect.sync) + its share of awaitIdle (batches of ${sizes.offloadBatch})`,
      sizes.offloads,
      recorder,
      [
        equals("offload: effects run", ran, sizes.offloads),
        equals("offload: activeCount after awaitIdle", yield* offload.activeCount, 0)
      ]
    )
  })

/** `sizes.distinct` uniquely named tasks failing twice each, in batches awaited with `sup.awaitEmpty`. */
export const distinctPhase = (sup: Supervisor.Supervisor, sizes: Sizes, prefix: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return Effect.fail(failure)
    })
    const options = { restart: RestartPolicy.onFailure, backoff: Backoff.none, maxRetries: 1 }
    // One segment per tenth of the phase (at least one batch).
    const every = Math.max(
      sizes.distinctBatch,
      Math.floor(sizes.distinct / 10 / sizes.distinctBatch) * sizes.distinctBatch
    )
    recorder.start()
    for (let done = 0; done < sizes.distinct;) {
      const from = done
      yield* Effect.orDie(
        times(sizes.distinctBatch, (i) => sup.add(Task.make(`${prefix}-${from + i}`, attempt, options)))
      )
      yield* sup.awaitEmpty
      done += sizes.distinctBatch
      if (done % every === 0 || done === sizes.distinct) recorder.boundary(done)
    }
    return phaseResult(
      "distinct",
      "distinct tasks",
      `add a uniquely named task that fails twice (one restart) + its share of awaitEmpty (batches of ${sizes.distinctBatch})`,
      sizes.distinct,
      recorder,
      [equals("distinct: attempts", attempts, 2 * sizes.distinct)]
    )
  })
