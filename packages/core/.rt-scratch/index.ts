/**
 * @since 0.1.0
 */
export * as Backoff from "../src/Backoff.js"

/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as RestartPolicy from "../src/RestartPolicy.js"

/**
 * @since 0.1.0
 */
export * as Supervisor from "../src/Supervisor.js"

/**
 * @since 0.1.0
 */
export * as SupervisorError from "../src/SupervisorError.js"

/**
 * @since 0.1.0
 */
export * as SupervisorEvent from "../src/SupervisorEvent.js"

/**
 * @since 0.1.0
 */
export * as Task from "../src/Task.js"

/**
 * @since 0.1.0
 */
export * as TaskContext from "../src/TaskContext.js"

/**
 * @since 0.1.0
 */
export * as TaskError from "../src/TaskError.js"

/**
 * @since 0.1.0
 */
export * as TaskId from "../src/TaskId.js"

/**
 * @since 0.1.0
 */
export * as TaskOutcome from "../src/TaskOutcome.js"

/**
 * @since 0.2.0
 */
export * as SupervisorTree from "../src/SupervisorTree.js"

/**
 * @since 0.2.0
 */
export * as SupervisorRegistry from "../src/SupervisorRegistry.js"
