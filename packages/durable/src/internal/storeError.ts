/**
 * The one error a store raises: the backend failed (connection, SQL, lock). Owns nothing else;
 * the service maps it to its public errors.
 */
import { Data } from "effect"

/**
 * @since 1.0.0
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
}> {}
