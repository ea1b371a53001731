import { Effect, Fiber, FiberSet } from "effect"
import { Supervisor, Task } from "@fibervisor/core"
const N = 100_000
const mode = process.argv[2] ?? "sup"
const heap = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed }
const tasks = Array.from({ length: N }, (_, i) => Task.make(`t${i}`, Effect.never))
const prog = Effect.scoped(Effect.gen(function* () {
  const before = heap()
  if (mode === "sup") {
    const s = yield* Supervisor.make()
    for (let i = 0; i < N; i++) yield* s.add(tasks[i])
  } else {
    const set = yield* FiberSet.make()
    for (let i = 0; i < N; i++) yield* FiberSet.run(set, Effect.never)
  }
  yield* Effect.sleep(50)
  const after = heap()
  console.log(mode, ((after - before) / N / 1024).toFixed(2), "KiB/task")
  if (process.env.SNAP) { const v8 = await import("node:v8"); v8.writeHeapSnapshot(process.env.SNAP) }
}))
await Effect.runPromise(prog)
