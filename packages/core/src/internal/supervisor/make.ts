/**
 * How supervisors are made: a root (`Supervisor.make`, `Supervisor.run`) and a nested one (each
 * attempt of a `Supervisor.task`).
 *
 * **Owns** the wiring, nothing at run time: options decoded once, the event bus (a root's own; a
 * nested supervisor publishes on its root's), the permit semaphore of `maxConcurrent`, the scope
 * finalizers, and the link to an enclosing `SupervisorRegistry`.
 *
 * **Data flow**: `make` / `makeForRun` → `resolveOptions` → the bus (closed by the scope) → `build`
 * (`SupervisorImpl` with the caller's context and fiber id, its shutdown as a scope finalizer) →
 * under a `SupervisorRegistry`: registered, its failure reported (not for `run`, whose caller gets
 * it), unregistered once its shutdown has finished. `makeNested` (`tree.ts`) → `build` with the
 * parent's bus and the tree's readiness record.
 *
 * **Invariants**
 * - Scope finalizers run in reverse order: the supervisor's shutdown runs before its bus closes, so
 *   every event of the shutdown is published.
 * - A supervisor's own fibers (grace clocks, the shutdown, group restarts) run with the context it
 *   was made in; its stops are interruptions by the fiber that made it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { Supervisor, SupervisorOptions } from "../../Supervisor.js"
import { InvalidSupervisorOptions } from "../../SupervisorError.js"
import { SupervisorRegistry } from "../../SupervisorRegistry.js"
import { type EventBus, makeBus } from "../bus.js"
import { context as currentContext } from "../compat.js"
import { type Config, resolveConfig } from "../options.js"
import type { ReadinessRecord } from "../readiness.js"
import { SupervisorImpl } from "../supervisor.js"

/** Decodes and checks the options of a root supervisor. */
export const resolveOptions = (
  options: SupervisorOptions | undefined
): Result.Result<Config, InvalidSupervisorOptions> =>
  Result.mapError(
    resolveConfig(options, { nested: false, defaults: undefined }, "root"),
    (problem) => new InvalidSupervisorOptions(problem)
  )

/** Builds a supervisor around `bus`; closing the scope shuts it down. */
const build = (
  config: Config,
  bus: EventBus,
  readiness?: ReadinessRecord
): Effect.Effect<SupervisorImpl, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* currentContext<never>()
    const fiberId = yield* Effect.fiberId
    const semaphore = config.maxConcurrent === undefined ? undefined : yield* Semaphore.make(config.maxConcurrent)
    const supervisor = new SupervisorImpl(config, context, bus, semaphore, fiberId, readiness)
    yield* Effect.addFinalizer(() => Effect.ignore(supervisor.shutdown))
    return supervisor
  })

/** Builds a root supervisor whose graceful shutdown runs when the scope closes. */
export const make = (options?: SupervisorOptions): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =>
  makeRoot(options, true)

/** `Supervisor.run`'s root: its failure goes to `run`'s caller, so it is not reported to the registry. */
export const makeForRun = (
  options?: SupervisorOptions
): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> => makeRoot(options, false)

const makeRoot = (
  options: SupervisorOptions | undefined,
  reportFailure: boolean
): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* Effect.fromResult(resolveOptions(options))
    const bus = yield* makeBus(config.eventBuffer)
    yield* Effect.addFinalizer(() => bus.close)
    const registry = yield* Effect.serviceOption(SupervisorRegistry)
    const supervisor = yield* build(config, bus)
    if (Option.isSome(registry)) {
      registry.value.register(supervisor, config.graceMs)
      if (reportFailure) supervisor.onFailed = (error) => registry.value.reportFailure(supervisor, error)
      // Listed until its shutdown has finished, whether its scope, `shutdown` or a failure started it.
      supervisor.onShutdownDone((exceeded) => registry.value.unregister(supervisor, exceeded))
    }
    return supervisor
  })

/** Builds a nested supervisor publishing on its parent's bus and recording readiness in its tree's record. */
export const makeNested = (
  config: Config,
  bus: EventBus,
  readiness: ReadinessRecord | undefined
): Effect.Effect<SupervisorImpl, never, Scope.Scope> =>
  Effect.map(build(config, bus, readiness), (supervisor) => {
    supervisor.isNested = true
    return supervisor
  })
