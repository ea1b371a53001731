/**
 * What a cluster singleton's tree knows about its ownership: the lease epoch it runs under, and a
 * way to confirm, before a critical write, that the lease is still held.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { OwnershipLost } from "./ClusterError.js"

/**
 * Provided by `Task.singleton` to its tree, on the replica that owns the singleton.
 *
 * - `epoch` is strictly increasing across owners (taken on acquisition, one per acquisition).
 *   Fence external writes with it: a store that rejects a write whose epoch is lower than the
 *   highest it has seen can never take a write from a former owner after a newer one wrote.
 * - `confirmOwnership` re-checks the lease in the store (and extends it). It fails with
 *   `OwnershipLost` once the lease is gone, or when the store cannot confirm it; a failure also
 *   stops the tree, within its hand-off grace.
 *
 * @since 1.0.0
 * @category models
 */
export interface SingletonContext {
  /** The singleton's lease name. */
  readonly name: string
  /** This ownership's epoch. */
  readonly epoch: number
  /** This replica's runner id. */
  readonly runner: string
  /** Succeeds while the lease is held with `epoch`; fails with `OwnershipLost` otherwise. */
  readonly confirmOwnership: Effect.Effect<void, OwnershipLost>
}

/**
 * The tag of the `SingletonContext` service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SingletonContext } from "@fibervisor/cluster"
 *
 * const tick = Effect.gen(function* () {
 *   const { epoch, confirmOwnership } = yield* SingletonContext.SingletonContext
 *   yield* confirmOwnership
 *   yield* Effect.log(`writing as epoch ${epoch}`)
 * })
 * ```
 *
 * @since 1.0.0
 * @category tags
 */
export const SingletonContext: Context.Service<SingletonContext, SingletonContext> = Context.Service<SingletonContext>(
  "@fibervisor/cluster/SingletonContext"
)
