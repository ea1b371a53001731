/**
 * `@fibervisor/durable`: durable background work for fibervisor (work as data, at least once,
 * on Postgres, SQLite or memory).
 *
 * @since 1.0.0
 */

/**
 * The `DurableOffload` service, kinds, workers and layers.
 *
 * @since 1.0.0
 */
export * as DurableOffload from "./DurableOffload.js"

/**
 * The errors of `DurableOffload`.
 *
 * @since 1.0.0
 */
export * as DurableOffloadError from "./DurableOffloadError.js"
