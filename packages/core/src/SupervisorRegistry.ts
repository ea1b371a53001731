/**
 * A registry of the root supervisors a program makes, for process-level tooling: a hard shutdown
 * deadline that reports what is still stuck, an exit code that tells whether a shutdown exceeded
 * its grace, health endpoints. Provide one around a program (`@fibervisor/platform-node`'s
 * `runMain` does) and every `Supervisor.make` / `Supervisor.layer` / `Supervisor.run` under it
 * registers its supervisor.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Layer from "effect/Layer"
import * as LayerModule from "effect/Layer"
import type { Supervisor } from "./Supervisor.js"
import type { GraceExceeded } from "./SupervisorError.js"

/**
 * The root supervisors made under this registry. Plain (synchronous) reads, so that a signal handler
 * or a timer outside any fiber can use them.
 *
 * @since 0.2.0
 * @category models
 */
export interface SupervisorRegistry {
  /** Root supervisors whose shutdown has not finished, oldest first. */
  readonly roots: ReadonlyArray<Supervisor>
  /** Every `GraceExceeded` a registered root's shutdown ended with, in order. */
  readonly exceeded: ReadonlyArray<GraceExceeded>
  /** Called by a root supervisor when it is made. */
  register(supervisor: Supervisor): void
  /** Called by a root supervisor when its shutdown has finished. */
  unregister(supervisor: Supervisor, exceeded: GraceExceeded | undefined): void
}

/**
 * @since 0.2.0
 * @category tags
 */
export const SupervisorRegistry: Context.Tag<SupervisorRegistry, SupervisorRegistry> =
  Context.GenericTag<SupervisorRegistry>("@fibervisor/core/SupervisorRegistry")

class RegistryImpl implements SupervisorRegistry {
  private readonly live = new Set<Supervisor>()
  private readonly failures: Array<GraceExceeded> = []
  get roots(): ReadonlyArray<Supervisor> {
    return Array.from(this.live)
  }
  get exceeded(): ReadonlyArray<GraceExceeded> {
    return this.failures.slice()
  }
  register(supervisor: Supervisor): void {
    this.live.add(supervisor)
  }
  unregister(supervisor: Supervisor, exceeded: GraceExceeded | undefined): void {
    this.live.delete(supervisor)
    if (exceeded !== undefined) this.failures.push(exceeded)
  }
}

/**
 * Makes an empty registry.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (): SupervisorRegistry => new RegistryImpl()

/**
 * Provides a fresh registry.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<SupervisorRegistry> = LayerModule.sync(SupervisorRegistry, make)
