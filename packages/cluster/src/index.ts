/**
 * @since 1.0.0
 */

/**
 * Everything of `@fibervisor/core`'s `Task`, plus `Task.singleton`: a tree that runs on exactly one
 * replica per lease epoch.
 *
 * @since 1.0.0
 */
export * as Task from "./Task.js"

/**
 * The `ClusterSupervisor` service (runner id, lease settings, lease store) and its layers:
 * Postgres, SQLite, memory.
 *
 * @since 1.0.0
 */
export * as ClusterSupervisor from "./ClusterSupervisor.js"

/**
 * What a singleton's tree knows about its ownership: `epoch` and `confirmOwnership`.
 *
 * @since 1.0.0
 */
export * as SingletonContext from "./SingletonContext.js"

/**
 * `OwnershipLost`, `InvalidSingletonOptions`, `InvalidClusterOptions`, `LeaseStoreError`.
 *
 * @since 1.0.0
 */
export * as ClusterError from "./ClusterError.js"

/**
 * The claims store behind `Offload.layerCluster` (once per key across replicas, cluster-wide
 * slots): PostgreSQL advisory locks (`layerPostgres`) or a shared in-memory table (`layerMemory`).
 *
 * @since 1.0.0
 */
export * as ClusterOffload from "./ClusterOffload.js"
