/**
 * The errors of `@fibervisor/cluster`'s singletons and layers.
 *
 * @since 1.0.0
 */
import * as Schema from "effect/Schema"

/**
 * The lease of singleton `name` for `epoch` is gone (taken by another replica, expired, or it could
 * not be confirmed in time): what `SingletonContext.confirmOwnership` fails with. `reason` says which.
 * Code that gets it must not perform the write it was about to fence.
 *
 * @since 1.0.0
 * @category errors
 */
export class OwnershipLost extends Schema.TaggedError<OwnershipLost>("@fibervisor/cluster/OwnershipLost")(
  "OwnershipLost",
  { name: Schema.String, epoch: Schema.Number, reason: Schema.String }
) {
  /** @since 1.0.0 */
  override get message(): string {
    return `ownership of singleton "${this.name}" (epoch ${this.epoch}) lost: ${this.reason}`
  }
}

/**
 * An option of `Task.singleton` is refused: `field` names it, `reason` says why (starting with the
 * field's name, so a task outcome, which shows only the reason, still names it). A singleton task
 * with a bad option ends `Fatal` at its first attempt with this error (it is never restarted).
 *
 * @since 1.0.0
 * @category errors
 */
export class InvalidSingletonOptions extends Schema.TaggedError<InvalidSingletonOptions>(
  "@fibervisor/cluster/InvalidSingletonOptions"
)("InvalidSingletonOptions", { task: Schema.String, field: Schema.String, reason: Schema.String }) {
  /** @since 1.0.0 */
  override get message(): string {
    return `invalid singleton options for "${this.task}": ${this.reason}`
  }
}

/**
 * An option of a `ClusterSupervisor` layer is refused: `field` names it, `reason` says why. The
 * layer fails to build with it.
 *
 * @since 1.0.0
 * @category errors
 */
export class InvalidClusterOptions extends Schema.TaggedError<InvalidClusterOptions>(
  "@fibervisor/cluster/InvalidClusterOptions"
)("InvalidClusterOptions", { field: Schema.String, reason: Schema.String }) {
  /** @since 1.0.0 */
  override get message(): string {
    return `invalid cluster options: ${this.field} ${this.reason}`
  }
}

/**
 * The lease store (Postgres, SQLite) failed: `operation` is what was asked, `reason` what the
 * driver said. Singletons log it and retry; a layer that cannot create its table fails with it.
 *
 * @since 1.0.0
 * @category errors
 */
export class LeaseStoreError extends Schema.TaggedError<LeaseStoreError>("@fibervisor/cluster/LeaseStoreError")(
  "LeaseStoreError",
  { operation: Schema.String, reason: Schema.String }
) {
  /** @since 1.0.0 */
  override get message(): string {
    return `lease store ${this.operation} failed: ${this.reason}`
  }
}
