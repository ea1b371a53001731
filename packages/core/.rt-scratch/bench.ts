import { Effect, Exit, Fiber, FiberSet, Logger, Scope, Duration, Schedule } from "effect"
import * as Supervisor from "../src/Supervisor.js"
import * as Task from "../src/Task.js"
import * as Backoff from "../src/Backoff.js"
import * as RestartPolicy from "../src/RestartPolicy.js"

const times = <E, R>(n: number, body: (i: number) => Effect.Effect<unknown, E, R>) =>
  Effect.suspend(() => {
    let i = 0
    return Effect.whileLoop({ while: () => i < n, body: () => body(i), step: () => { i++ } })
  })
const timed = <E, R>(self: Effect.Effect<unknown, E, R>) =>
  Effect.suspend(() => {
    const t = performance.now()
    return Effect.map(self, () => performance.now() - t)
  })
const waitUntil = (c: () => boolean) =>
  Effect.suspend(() => (c() ? Effect.void : Effect.sleep(Duration.millis(1)))).pipe(Effect.repeat({ until: () => c() }), Effect.asVoid)
const run = <A, E>(self: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromise(Effect.provideService(self, Logger.CurrentLoggers, new Set()))
const gc = () => { for (let i = 0; i < 2; i++) (globalThis as any).gc() }
const heap = () => process.memoryUsage().heapUsed

const oneShot = (n: number) => run(Effect.scoped(Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  return yield* timed(Effect.andThen(times(n, (i) => sup.add(Task.once(`task-${i}`, Effect.void))), sup.awaitEmpty))
})))
const fiberSet = (n: number) => run(Effect.scoped(Effect.gen(function* () {
  const set = yield* FiberSet.make()
  return yield* timed(Effect.andThen(times(n, () => FiberSet.run(set, Effect.void)), FiberSet.awaitEmpty(set)))
})))
const idle = (n: number) => run(Effect.gen(function* () {
  const scope = yield* Scope.make()
  const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
  const counter = { started: 0 }
  const body = Effect.andThen(Effect.sync(() => { counter.started++ }), Effect.never)
  gc()
  const before = heap()
  yield* times(n, (i) => sup.add(Task.once(`idle-${i}`, body)))
  yield* waitUntil(() => counter.started >= n)
  gc()
  const after = heap()
  yield* Scope.close(scope, Exit.void)
  return (after - before) / n
}))
const rawIdle = (n: number) => run(Effect.gen(function* () {
  const counter = { started: 0 }
  const body = Effect.andThen(Effect.sync(() => { counter.started++ }), Effect.never)
  const fibers: Array<Fiber.Fiber<never>> = new Array(n).fill(undefined)
  gc()
  const before = heap()
  yield* times(n, (i) => Effect.map(Effect.forkDetach(body), (f) => void (fibers[i] = f)))
  yield* waitUntil(() => counter.started >= n)
  gc()
  const after = heap()
  yield* Fiber.interruptAll(fibers)
  return (after - before) / n
}))
const restart = (n: number) => run(Effect.scoped(Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  const task = Task.make("flaky", Effect.fail("x"), { restart: RestartPolicy.onFailure, backoff: Backoff.none, maxRetries: n - 1, logFailures: "none" })
  return yield* timed(Effect.flatMap(sup.add(task), (h) => h.await))
})))
const retry = (n: number) => run(Effect.gen(function* () {
  return yield* timed(Effect.result(Effect.retry(Effect.fail("x"), Schedule.recurs(n - 1))))
}))
const shutdown = (n: number) => run(Effect.gen(function* () {
  const scope = yield* Scope.make()
  const sup = yield* Supervisor.make().pipe(Scope.provide(scope))
  const counter = { started: 0 }
  const body = Effect.andThen(Effect.sync(() => { counter.started++ }), Effect.never)
  yield* times(n, (i) => sup.add(Task.once(`idle-${i}`, body)))
  yield* waitUntil(() => counter.started >= n)
  return yield* timed(Scope.close(scope, Exit.void))
}))

const N = Number(process.argv[2] ?? 100_000)
const which = process.argv[3] ?? "all"
const main = async () => {
  for (let round = 0; round < 3; round++) {
    if (which === "all" || which === "one-shot") {
      const a = await oneShot(N); const b = await fiberSet(N)
      console.log(`one-shot: ${(a * 1000 / N).toFixed(2)} µs/task  FiberSet.run ${(b * 1000 / N).toFixed(2)} µs  ratio ${(a / b).toFixed(2)}`)
    }
    if (which === "all" || which === "idle") {
      const a = await idle(N); const b = await rawIdle(N)
      console.log(`idle: ${a.toFixed(0)} B/task  raw fiber ${b.toFixed(0)} B  ratio ${(a / b).toFixed(2)}`)
    }
    if (which === "all" || which === "restart") {
      const a = await restart(N); const b = await retry(N)
      console.log(`restart: ${(a * 1000 / N).toFixed(2)} µs/attempt  retry ${(b * 1000 / N).toFixed(2)} µs  ratio ${(a / b).toFixed(2)}`)
    }
    if (which === "all" || which === "shutdown") {
      const a = await shutdown(N)
      console.log(`shutdown: ${(a * 1000 / N).toFixed(2)} µs/task`)
    }
  }
}
main()
