/**
 * The errors of `DurableOffload`: a kind or an options object that cannot be used (naming the field
 * and why), a payload that does not encode, and the store failing.
 *
 * @since 1.0.0
 */
import * as Schema from "effect/Schema"
import { StoreError } from "./internal/storeError.js"

export {
  /**
   * The store failed (connection, SQL, lock): `operation` names the store call, `cause` is the
   * backend's error.
   *
   * @since 1.0.0
   * @category errors
   */
  StoreError
}

/**
 * A kind's declaration cannot be used: `field` names the option (`maxAttempts`, `retry.first`…),
 * `reason` says why. Raised by every use of the kind (`enqueue`, `workers`, `validateKind`), never
 * thrown by `DurableOffload.kind` itself.
 *
 * @since 1.0.0
 * @category errors
 */
export class InvalidKind extends Schema.TaggedError<InvalidKind>("@fibervisor/durable/InvalidKind")("InvalidKind", {
  kind: Schema.String,
  field: Schema.String,
  reason: Schema.String
}) {
  /** @since 1.0.0 */
  override get message(): string {
    return `invalid durable kind "${this.kind}": ${this.field} ${this.reason}`
  }
}

/**
 * The options of an operation (`enqueue`, `workers`, `layer`, `cleanup`) cannot be used: `field`
 * names the option, `reason` says why (an unknown option is refused by name).
 *
 * @since 1.0.0
 * @category errors
 */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>("@fibervisor/durable/InvalidOptions")(
  "InvalidOptions",
  { operation: Schema.String, field: Schema.String, reason: Schema.String }
) {
  /** @since 1.0.0 */
  override get message(): string {
    return `invalid ${this.operation} options: ${this.field} ${this.reason}`
  }
}

/**
 * A payload given to `enqueue` does not encode with its kind's `payload` schema (or its encoded
 * form is not JSON): nothing was stored.
 *
 * @since 1.0.0
 * @category errors
 */
export class PayloadError extends Schema.TaggedError<PayloadError>("@fibervisor/durable/PayloadError")("PayloadError", {
  kind: Schema.String,
  reason: Schema.String
}) {
  /** @since 1.0.0 */
  override get message(): string {
    return `payload of durable kind "${this.kind}" does not encode: ${this.reason}`
  }
}
