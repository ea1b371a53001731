import { it, expect } from "@effect/vitest"
import { Effect, Exit, Scope, Stream, Fiber } from "effect"
import { Backoff, Supervisor, SupervisorRegistry, Task } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"

it.effect("registry", () => Effect.gen(function* () {
  const registry = SupervisorRegistry.make()
  const scope = yield* Scope.make()
  yield* Effect.provideService(Scope.provide(Effect.gen(function* () {
    const sup = yield* Supervisor.make({ grace: "200 millis" })
    yield* sup.add(Task.make("stuck", Effect.uninterruptible(Effect.never)))
  }), scope), SupervisorRegistry.SupervisorRegistry, registry)
  yield* TestTime.settle()
  expect(registry.graceMs).toBe(200)
  const f = yield* Effect.forkChild(Scope.close(scope, Exit.void))
  yield* TestTime.adjust("200 millis")
  yield* Fiber.join(f)
  expect(registry.exceeded.length).toBe(1)
  expect(registry.graceMs).toBe(undefined)
}))

it.effect("run intensity", () => Effect.gen(function* () {
  const exit = yield* Effect.exit(Supervisor.run([Task.make("flaky", Effect.fail("crash"), { backoff: Backoff.constant(0) })], { intensity: { maxRestarts: 0, within: "1 second" } }))
  expect(Exit.isFailure(exit)).toBe(true)
  console.log(JSON.stringify(exit))
}))

it.effect("events on root shutdown", () => Effect.gen(function* () {
  const tags: Array<string> = []
  const scope = yield* Scope.make()
  const sup = yield* Scope.provide(Supervisor.make({ grace: "5 seconds" }), scope)
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(Stream.runForEach(events, (e) => Effect.sync(() => tags.push(e._tag))))
  yield* sup.add(Task.make("t", Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep("1 second")))))
  yield* TestTime.settle()
  const f = yield* Effect.forkChild(Scope.close(scope, Exit.void))
  yield* TestTime.adjust("1 second")
  yield* Fiber.join(f)
  yield* Fiber.join(collector)
  console.log(tags)
  expect(tags).toContain("TaskRemoved")
}))
