import { Effect, FiberSet } from "effect"
import { Supervisor, Task, Offload } from "@fibervisor/core"
const N = 50_000
const tasks = Array.from({ length: N }, (_, i) => Task.once(`t${i}`, Effect.void))
const sup = Effect.scoped(Effect.gen(function* () {
  const s = yield* Supervisor.make()
  for (let i = 0; i < N; i++) yield* s.add(tasks[i])
  yield* s.awaitEmpty
}))
const fs = Effect.scoped(Effect.gen(function* () {
  const set = yield* FiberSet.make()
  for (let i = 0; i < N; i++) yield* FiberSet.run(set, Effect.void)
  yield* FiberSet.awaitEmpty(set)
}))
const off = Effect.gen(function* () {
  for (let i = 0; i < N; i++) yield* Offload.spawn("k", Effect.void)
  yield* Offload.awaitIdle()
}).pipe(Effect.provide(Offload.layer()))
const t = async (e) => { const t0 = performance.now(); await Effect.runPromise(e); return (performance.now() - t0) * 1000 / N }
for (let r = 0; r < 5; r++) {
  const a = await t(fs), b = await t(sup), c = await t(off)
  console.log(`FiberSet ${a.toFixed(2)}  sup ${b.toFixed(2)} (${(b / a).toFixed(2)}x)  offload ${c.toFixed(2)} (${(c / a).toFixed(2)}x)`)
}
