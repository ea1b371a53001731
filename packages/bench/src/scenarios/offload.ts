/** 4. offload: `Offload.spawn` × N, then `awaitIdle` — vs `FiberSet.run` and p-queue. */
import * as Effect from "effect/Effect"
import PQueue from "p-queue"
import { Offload } from "@fibervisor/core"
import { timed, times } from "../effects.js"
import { fiberSetRunAll, fresh, freshVariant, plans, variant } from "./common.js"
import type { Scenario } from "../harness.js"
import type { Profile } from "./common.js"

export const offload = (profile: Profile): Scenario => ({
  id: "offload",
  title: "offload",
  description:
    'Offload.spawn("bench", Effect.void) N times, then Offload.awaitIdle(), under Offload.layer() (no limit) — vs FiberSet.run + awaitEmpty, and vs p-queue (concurrency Infinity): queue.add(async () => {}) N times, then queue.onIdle()',
  metric: "time",
  nMeans: "jobs",
  op: "job spawned and completed",
  plans: plans(profile),
  variants: [
    freshVariant("fibervisor", "fibervisor", (n) =>
      Effect.map(
        timed(
          Effect.andThen(
            times(n, () => Offload.spawn("bench", Effect.void)),
            Offload.awaitIdle()
          )
        ),
        (ms) => ({ value: ms, ops: n })
      ).pipe(Effect.provide(Offload.layer()))
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
