/**
 * @since 0.1.0
 */
export * as EventLog from "./EventLog.js"
