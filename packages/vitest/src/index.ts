/**
 * @since 0.1.0
 */
export * as EventLog from "./EventLog.js"

/**
 * @since 0.1.0
 */
export * as TestOffload from "./TestOffload.js"

/**
 * @since 1.0.0
 */
export * as TestTime from "./TestTime.js"
