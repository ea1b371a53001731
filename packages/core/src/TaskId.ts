/**
 * Task identity: a process-wide, increasing number that is never reused.
 *
 * @since 0.1.0
 */
import type * as Brand from "effect/Brand"
import * as Schema from "effect/Schema"

/**
 * A task's id. It stays the same across attempts; a name reused later gets a new id.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskId = number & Brand.Brand<"@fibervisor/core/TaskId">

/**
 * The schema of a `TaskId` (a non-negative integer).
 *
 * @since 0.1.0
 * @category schemas
 */
export const TaskId: Schema.brand<Schema.Int, "@fibervisor/core/TaskId"> = Schema.Int.check(
  Schema.isGreaterThanOrEqualTo(0)
).pipe(Schema.brand("@fibervisor/core/TaskId"))

let next = 0

/**
 * Allocates the next id (process-wide, so ids of different supervisors never collide).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unsafeNext = (): TaskId => ++next as TaskId

/**
 * Renders an id as `#N`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (id: TaskId): string => `#${id}`
