/**
 * Shared pieces of the DurableOffload tests: a memory-backed service with workers in a scope the
 * test closes itself (to observe the drain), a gate a handler waits on, and log capture.
 */
import { TestTime } from "@fibervisor/vitest"
import { Context, Deferred, Effect, Exit, Layer, Logger, References, Scope } from "effect"
import { DurableOffload } from "@fibervisor/durable"
import type { DurableStore } from "../src/internal/store.js"
import { Store } from "../src/internal/store.js"

export { TestTime }

/** The service and its store, built in the test's scope. */
export const memory = Effect.gen(function* () {
  const context = yield* Layer.build(DurableOffload.layerMemory)
  return {
    service: Context.get(context, DurableOffload.DurableOffload),
    store: Context.get(context, Store) as DurableStore,
    context
  }
})

/**
 * Starts workers on the given service context in a scope of their own: `stop` closes it (the
 * drain) and resumes when the drain is over. `grace: 0` unless a test says otherwise, so that a
 * test ending with a handler still parked does not make the drain wait on the TestClock.
 */
export const startWorkers = <R>(
  context: Context.Context<DurableOffload.DurableOffload | DurableStore>,
  registrations: ReadonlyArray<DurableOffload.Registration<R>>,
  options: DurableOffload.WorkersOptions = {}
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    yield* Layer.buildWithScope(
      DurableOffload.workers(registrations, { pollInterval: "1 second", grace: 0, ...options }),
      scope
    ).pipe(Effect.provide(context))
    yield* TestTime.settle()
    return { stop: Scope.close(scope, Exit.void), scope }
  })

/** A handler gate: `started` resolves when a run begins, `release` lets it finish. */
export const gate = () =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void>()
    const open = yield* Deferred.make<void>()
    return {
      started,
      wait: Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(open)),
      release: Deferred.succeed(open, undefined)
    }
  })

/** Collects the log lines written while `effect` runs (message and annotations). */
export const captureLogs = () => {
  const lines: Array<{
    readonly message: string
    readonly level: string
    readonly annotations: Record<string, unknown>
  }> = []
  const logger = Logger.make<unknown, void>((options) => {
    const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
    lines.push({
      message,
      level: options.logLevel,
      annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  return { lines, layer: Logger.layer([logger]) }
}
