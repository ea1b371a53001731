/**
 * Where cluster singletons keep their leases, and the replica's identity: the `ClusterSupervisor`
 * service that `Task.singleton` needs, and its layers (Postgres for several hosts, SQLite for
 * several processes on one host, memory for tests).
 *
 * @since 1.0.0
 */
import { Inputs } from "@fibervisor/core"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { InvalidClusterOptions, type LeaseStoreError } from "./ClusterError.js"
import * as leaseStore from "./internal/leaseStore.js"
import { type LeaseSettings, resolveLease, tableName } from "./internal/options.js"

/**
 * A lease store: one lease per singleton name, with a strictly increasing epoch (see the
 * invariants in the docs, "Guarantees"). `ClusterSupervisor.memoryLeases`, the Postgres and the
 * SQLite layers make one; `ClusterSupervisor.layer` takes any.
 *
 * @since 1.0.0
 * @category models
 */
export interface LeaseStore {
  /** Take the lease of `name` for `runner` for `ttlMs` if nobody holds a live one. */
  acquire(name: string, runner: string, ttlMs: number): Effect.Effect<AcquireResult, LeaseStoreError>
  /** Extend the lease if `runner` still holds it with `epoch` and it has not expired; `false` if not. */
  refresh(name: string, runner: string, epoch: number, ttlMs: number): Effect.Effect<boolean, LeaseStoreError>
  /** Give the lease up if `runner` still holds it with `epoch`. */
  release(name: string, runner: string, epoch: number): Effect.Effect<void, LeaseStoreError>
}

/**
 * What `acquire` on a lease store found: acquired (with the new epoch), held by another runner, or
 * free but lost to a race (try again).
 *
 * @since 1.0.0
 * @category models
 */
export type AcquireResult =
  | { readonly _tag: "Acquired"; readonly epoch: number }
  | { readonly _tag: "Held"; readonly owner: string; readonly epoch: number }
  | { readonly _tag: "Free" }

/**
 * The replica's view of the cluster: its runner id, the lease settings, the lease store.
 *
 * @since 1.0.0
 * @category models
 */
export interface ClusterSupervisor {
  /** This replica's id (`runnerId` option; random by default), shown in events as `runner`. */
  readonly runnerId: string
  /** How often an owner extends its lease, and a replica in standby polls for it. */
  readonly refreshIntervalMs: number
  /** How long a lease lives without a refresh. */
  readonly expiryMs: number
  /** Where the leases are. */
  readonly leases: LeaseStore
}

/**
 * The tag of the `ClusterSupervisor` service.
 *
 * @since 1.0.0
 * @category tags
 */
export const ClusterSupervisor: Context.Service<ClusterSupervisor, ClusterSupervisor> =
  Context.Service<ClusterSupervisor>("@fibervisor/cluster/ClusterSupervisor")

/**
 * The lease settings every layer takes.
 *
 * - `refreshInterval` (default 5 s): how often an owner extends its lease and a standby replica
 *   polls; must be shorter than `expiry`.
 * - `expiry` (default 15 s): a lease not refreshed for this long is free. Failover after a crash
 *   takes at most `expiry + refreshInterval` (plus the store's latency).
 * - `runnerId` (default random): this replica's id.
 *
 * @since 1.0.0
 * @category models
 */
export interface LeaseOptions {
  readonly refreshInterval?: Duration.Input | undefined
  readonly expiry?: Duration.Input | undefined
  readonly runnerId?: string | undefined
}

/**
 * Options of `layerMemory`: the lease settings, and `leases` to share one in-memory store between
 * several replicas of one process (tests).
 *
 * @since 1.0.0
 * @category models
 */
export interface MemoryOptions extends LeaseOptions {
  readonly leases?: LeaseStore | undefined
}

/**
 * Options of `layerPostgres`: the lease settings, the connection (`url`, or `host` / `port` /
 * `database` / `username` / `password`; defaults 127.0.0.1:5432, database and user `postgres`),
 * `table` (default `fibervisor_singleton`, created if missing) and `applicationName` (default
 * `fibervisor-<runnerId>`: how the sessions show in `pg_stat_activity`).
 *
 * @since 1.0.0
 * @category models
 */
export interface PostgresOptions extends LeaseOptions {
  readonly url?: Redacted.Redacted | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted | undefined
  readonly table?: string | undefined
  readonly applicationName?: string | undefined
}

/**
 * Options of `layerSqlite`: the lease settings, `filename` (the database file every process of
 * the host opens) and `table` (default `fibervisor_singleton`, created if missing).
 *
 * @since 1.0.0
 * @category models
 */
export interface SqliteOptions extends LeaseOptions {
  readonly filename: string
  readonly table?: string | undefined
}

const invalid = (problem: { readonly field: string; readonly reason: string }) => new InvalidClusterOptions(problem)

const settings = (
  options: unknown,
  known: ReadonlyArray<string>
): Effect.Effect<LeaseSettings, InvalidClusterOptions> => {
  const resolved = resolveLease(options, known)
  return Result.isFailure(resolved) ? Effect.fail(invalid(resolved.failure)) : Effect.succeed(resolved.success)
}

const service = (lease: LeaseSettings, leases: LeaseStore): ClusterSupervisor => ({
  runnerId: lease.runnerId,
  refreshIntervalMs: lease.refreshIntervalMs,
  expiryMs: lease.expiryMs,
  leases
})

/**
 * A new in-memory lease store. Give the same one to several `layerMemory` replicas of one process
 * to test fail-over without a database; its time is Effect's `Clock` (so `TestClock` drives it).
 *
 * @since 1.0.0
 * @category constructors
 */
export const memoryLeases = (): LeaseStore => leaseStore.makeMemory()

/**
 * The service over any lease store, with checked lease settings (unknown keys refused).
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = (
  leases: LeaseStore,
  options?: LeaseOptions
): Layer.Layer<ClusterSupervisor, InvalidClusterOptions> =>
  Layer.effect(
    ClusterSupervisor,
    Effect.map(settings(options, []), (lease) => service(lease, leases))
  )

/**
 * Leases in memory: one process. With `leases` from `memoryLeases()` shared by several layers,
 * each layer is one replica (tests).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory = (options?: MemoryOptions): Layer.Layer<ClusterSupervisor, InvalidClusterOptions> =>
  Layer.effect(
    ClusterSupervisor,
    Effect.map(settings(options, ["leases"]), (lease) => service(lease, options?.leases ?? leaseStore.makeMemory()))
  )

const postgresKeys = ["url", "host", "port", "database", "username", "password", "table", "applicationName"]

/**
 * Leases in a Postgres table (replicas on any number of hosts). The layer opens its own small
 * connection pool (`@effect/sql-pg`, loaded only by this layer) and creates the table if it is
 * missing. Epochs come from the row's counter, bumped atomically on acquisition; expiry is judged
 * by the server's clock.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerPostgres = (
  options: PostgresOptions
): Layer.Layer<ClusterSupervisor, InvalidClusterOptions | LeaseStoreError> =>
  Layer.effect(
    ClusterSupervisor,
    Effect.gen(function* () {
      const lease = yield* settings(options, postgresKeys)
      const table = yield* checkTable(options.table)
      if (
        options.port !== undefined &&
        (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535)
      ) {
        return yield* Effect.fail(
          invalid({ field: "port", reason: `must be an integer port, got ${Inputs.describe(options.port)}` })
        )
      }
      const driver = yield* Effect.promise(() => import("./internal/driverPg.js"))
      const leases = yield* driver.make(options, table, options.applicationName ?? `fibervisor-${lease.runnerId}`)
      return service(lease, leases)
    })
  )

/**
 * Leases in a SQLite file (several processes of one host). The layer opens the file with
 * `@effect/sql-sqlite-node` (on `node:sqlite`, loaded only by this layer; WAL, busy timeout 5 s)
 * and creates the table if it is missing. Expiry is judged by the host's clock.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerSqlite = (
  options: SqliteOptions
): Layer.Layer<ClusterSupervisor, InvalidClusterOptions | LeaseStoreError> =>
  Layer.effect(
    ClusterSupervisor,
    Effect.gen(function* () {
      const lease = yield* settings(options, ["filename", "table"])
      if (typeof options.filename !== "string" || options.filename.length === 0) {
        return yield* Effect.fail(
          invalid({ field: "filename", reason: `must be a non-empty path, got ${Inputs.describe(options.filename)}` })
        )
      }
      const table = yield* checkTable(options.table)
      const driver = yield* Effect.promise(() => import("./internal/driverSqlite.js"))
      const leases = yield* driver.make(options.filename, table)
      return service(lease, leases)
    })
  )

const checkTable = (table: unknown): Effect.Effect<string, InvalidClusterOptions> => {
  const checked = tableName("table", table ?? "fibervisor_singleton")
  return Result.isFailure(checked) ? Effect.fail(invalid(checked.failure)) : Effect.succeed(checked.success)
}
