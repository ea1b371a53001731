/**
 * A registry of the root supervisors a program makes, for process-level tooling: a hard shutdown
 * deadline that reports what is still stuck (and is derived from the roots' grace), an exit code
 * that tells whether a shutdown exceeded its grace or a root supervisor failed, health endpoints. Provide one around a program (`@fibervisor/platform-node`'s
 * `runMain` does) and every `Supervisor.make` / `Supervisor.layer` / `Supervisor.run` under it
 * registers its supervisor.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Layer from "effect/Layer"
import * as LayerModule from "effect/Layer"
import type { Supervisor } from "./Supervisor.js"
import type { GraceExceeded, SupervisorFailure } from "./SupervisorError.js"

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
  /**
   * The longest `grace` (in milliseconds) among the roots whose shutdown has not finished;
   * `undefined` when there is none. `runMain` derives its exit deadline from it.
   *
   * @since 0.2.0
   */
  readonly graceMs: number | undefined
  /**
   * Every failure (`RestartIntensityExceeded`, `Escalated`) a root made by `Supervisor.make` or
   * `Supervisor.layer` failed with, in order. (`Supervisor.run` returns its root's failure to its
   * caller instead.)
   *
   * @since 0.2.0
   */
  readonly failed: ReadonlyArray<SupervisorFailure>
  /**
   * Calls `listener` on every later failure of such a root, synchronously, as it fails (its
   * shutdown has just started). Returns a function that removes the listener.
   *
   * @since 0.2.0
   */
  onFailure(listener: (failure: SupervisorFailure, supervisor: Supervisor) => void): () => void
  /** Called by a root supervisor when it is made (with its grace in milliseconds). */
  register(supervisor: Supervisor, graceMs?: number): void
  /**
   * Called by a root supervisor made by `Supervisor.make` or `Supervisor.layer` when it fails.
   *
   * @since 0.2.0
   */
  reportFailure(supervisor: Supervisor, failure: SupervisorFailure): void
  /** Called by a root supervisor when its shutdown has finished. */
  unregister(supervisor: Supervisor, exceeded: GraceExceeded | undefined): void
}

/**
 * @since 0.2.0
 * @category tags
 */
export const SupervisorRegistry: Context.Service<SupervisorRegistry, SupervisorRegistry> =
  Context.Service<SupervisorRegistry>("@fibervisor/core/SupervisorRegistry")

class RegistryImpl implements SupervisorRegistry {
  private readonly live = new Set<Supervisor>()
  private readonly failures: Array<GraceExceeded> = []
  /** Each live root's grace, when it gave one. */
  private readonly graces = new Map<Supervisor, number>()
  private readonly rootFailures: Array<SupervisorFailure> = []
  private readonly listeners = new Set<(failure: SupervisorFailure, supervisor: Supervisor) => void>()
  get roots(): ReadonlyArray<Supervisor> {
    return Array.from(this.live)
  }
  get exceeded(): ReadonlyArray<GraceExceeded> {
    return this.failures.slice()
  }
  get graceMs(): number | undefined {
    let longest: number | undefined
    for (const graceMs of this.graces.values()) if (longest === undefined || graceMs > longest) longest = graceMs
    return longest
  }
  get failed(): ReadonlyArray<SupervisorFailure> {
    return this.rootFailures.slice()
  }
  onFailure(listener: (failure: SupervisorFailure, supervisor: Supervisor) => void): () => void {
    // A wrapper, so that the same function added twice is two listeners.
    const added = (failure: SupervisorFailure, supervisor: Supervisor) => listener(failure, supervisor)
    this.listeners.add(added)
    return () => {
      this.listeners.delete(added)
    }
  }
  register(supervisor: Supervisor, graceMs?: number): void {
    this.live.add(supervisor)
    if (graceMs !== undefined) this.graces.set(supervisor, graceMs)
  }
  reportFailure(supervisor: Supervisor, failure: SupervisorFailure): void {
    this.rootFailures.push(failure)
    for (const listener of Array.from(this.listeners)) listener(failure, supervisor)
  }
  unregister(supervisor: Supervisor, exceeded: GraceExceeded | undefined): void {
    this.live.delete(supervisor)
    this.graces.delete(supervisor)
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
