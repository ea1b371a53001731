/**
 * @since 0.2.0
 */
export * as NodeSupervisor from "./NodeSupervisor.js"

/**
 * @since 0.2.0
 */
export * as HealthServer from "./HealthServer.js"
