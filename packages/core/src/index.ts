/**
 * @since 0.1.0
 */
export * as Backoff from "./Backoff.js"

/**
 * @since 0.1.0
 */
export * as Offload from "./Offload.js"

/**
 * @since 0.1.0
 */
export * as OffloadKey from "./OffloadKey.js"

/**
 * @since 0.1.0
 */
export * as RestartPolicy from "./RestartPolicy.js"

/**
 * @since 0.1.0
 */
export * as Supervisor from "./Supervisor.js"

/**
 * @since 0.1.0
 */
export * as SupervisorError from "./SupervisorError.js"

/**
 * @since 0.1.0
 */
export * as SupervisorEvent from "./SupervisorEvent.js"

/**
 * @since 0.1.0
 */
export * as Task from "./Task.js"

/**
 * @since 0.1.0
 */
export * as TaskContext from "./TaskContext.js"

/**
 * @since 0.1.0
 */
export * as TaskError from "./TaskError.js"

/**
 * @since 0.1.0
 */
export * as TaskId from "./TaskId.js"

/**
 * @since 0.1.0
 */
export * as TaskOutcome from "./TaskOutcome.js"

/**
 * @since 0.2.0
 */
export * as SupervisorTree from "./SupervisorTree.js"

/**
 * @since 0.2.0
 */
export * as SupervisorRegistry from "./SupervisorRegistry.js"

/**
 * @since 1.0.0
 */
export * as DurationInput from "./DurationInput.js"

/**
 * @since 1.0.0
 */
export * as Inputs from "./Inputs.js"
