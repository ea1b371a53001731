/**
 * The claims store behind `Offload.layerCluster` (from `@fibervisor/core`): once per key across
 * every replica while the work is in flight, and per-kind cluster-wide slots.
 *
 * - `layerPostgres(options?)`: PostgreSQL session-level advisory locks on ONE connection reserved
 *   from the application's `PgClient` per replica. A crash ends the session and frees every key
 *   at once; a frozen replica is bounded by `idleSessionTimeout`.
 * - `layerMemory(table, options?)`: a shared in-memory table, one "replica" per layer, so tests
 *   can run several replicas in one process (and drop a replica's session).
 *
 * When the session is lost while work runs, the work keeps running; its claims are taken again on
 * a new session, and those another replica took meanwhile are logged and counted
 * (`fibervisor_offload_cluster_claims_lost_total`). docs/cluster.md has the whole story.
 *
 * @example
 * ```ts
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer } from "effect"
 * import { Offload } from "@fibervisor/core"
 * import { ClusterOffload } from "@fibervisor/cluster"
 *
 * const OffloadLive = Offload.layerCluster({ perKind: { revalidate: { cluster: { maxConcurrent: 4 } } } }).pipe(
 *   Layer.provide(ClusterOffload.layerPostgres({ applicationName: "api-offload" })),
 *   Layer.provide(PgClient.layer({ host: "127.0.0.1", database: "app" }))
 * )
 * ```
 *
 * @since 1.0.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { Offload } from "@fibervisor/core"
import * as claims from "./internal/offload/claims.js"
import * as memory from "./internal/offload/memory.js"
import * as options from "./internal/offload/options.js"
import * as postgres from "./internal/offload/postgres.js"

/**
 * The options of `layerPostgres` or `layerMemory` cannot be used: names the field and why.
 *
 * @since 1.0.0
 * @category errors
 */
export class InvalidClusterOffloadOptions extends Schema.TaggedError<InvalidClusterOffloadOptions>(
  "@fibervisor/cluster/InvalidClusterOffloadOptions"
)("InvalidClusterOffloadOptions", { field: Schema.String, reason: Schema.String }) {
  /** @since 1.0.0 */
  override get message(): string {
    return `invalid cluster offload options: ${this.field} ${this.reason}`
  }
}

/**
 * Options of `layerPostgres`. Every field is optional.
 *
 * @since 1.0.0
 * @category models
 */
export interface PostgresOptions {
  /**
   * Separates the locks of applications that share a database (default `"default"`): replicas
   * of one application must use the same namespace.
   */
  readonly namespace?: string
  /** `application_name` of the claims session, as `pg_stat_activity` shows it (default `"fibervisor-offload"`). */
  readonly applicationName?: string
  /**
   * The session's `idle_session_timeout` (default 30 seconds): a replica frozen longer than this
   * loses its session, and with it its claims. The heartbeat runs every third of it.
   */
  readonly idleSessionTimeout?: Duration.Input
  /** Deadline of one claim, slot or unlock round trip (default 5 seconds); an overrun replaces the session. */
  readonly operationTimeout?: Duration.Input
}

/**
 * Options of `layerMemory`. Every field is optional.
 *
 * @since 1.0.0
 * @category models
 */
export interface MemoryOptions {
  /** The replica's name in the table (default: a fresh one per layer). */
  readonly replica?: string
  /** How often the session is proven alive (default 1 second). */
  readonly heartbeat?: Duration.Input
  /** Deadline of one operation (default 5 seconds). */
  readonly operationTimeout?: Duration.Input
}

/**
 * The table `layerMemory` layers share: one per simulated cluster.
 *
 * @since 1.0.0
 * @category models
 */
export interface MemoryTable {
  /**
   * Ends `replica`'s session as the server would (`pg_terminate_backend`): its locks are freed at
   * once and its next call fails, after which it opens a new session. `false` when it has none.
   */
  readonly dropSession: (replica: string) => boolean
  /** The locks held now (`kind:key`, `kind#slotN`), sorted; of one replica only when named. */
  readonly held: (replica?: string) => ReadonlyArray<string>
}

/**
 * A new, empty shared table for `layerMemory`.
 *
 * @since 1.0.0
 * @category constructors
 */
export const memoryTable = (): MemoryTable => {
  const table = new memory.MemoryTable()
  const shared: MemoryTable = {
    dropSession: (replica) => table.dropSession(replica),
    held: (replica) => table.held(replica)
  }
  tables.set(shared, table)
  return shared
}

/** `memoryTable` keeps its table out of the public shape: this finds it again. */
const tables = new WeakMap<MemoryTable, memory.MemoryTable>()

let replicas = 0

const fail = (problem: options.Problem) => Effect.fail(new InvalidClusterOffloadOptions(problem))

/**
 * The in-memory claims store: one replica on `table`. Closing the layer ends its session (all its
 * claims go at once, as a crash would).
 *
 * @since 1.0.0
 * @category layers
 */
export const layerMemory = (
  table: MemoryTable,
  memoryOptions?: MemoryOptions
): Layer.Layer<Offload.OffloadClaims, InvalidClusterOffloadOptions> =>
  Layer.effect(
    Offload.OffloadClaims,
    Effect.gen(function* () {
      const given = yield* Result.match(options.record(memoryOptions, ["replica", "heartbeat", "operationTimeout"]), {
        onFailure: fail,
        onSuccess: Effect.succeed
      })
      const settings = Result.all({
        replica: options.name("replica", given.replica, `replica-${++replicas}`, 200),
        heartbeatMs: options.millis("heartbeat", given.heartbeat, 1_000),
        operationTimeoutMs: options.millis("operationTimeout", given.operationTimeout, 5_000)
      })
      if (Result.isFailure(settings)) return yield* fail(settings.failure)
      const shared = tables.get(table)
      if (shared === undefined)
        return yield* fail({ field: "table", reason: "must be made by ClusterOffload.memoryTable()" })
      const store = memory.backend(shared, settings.success.replica)
      yield* Effect.addFinalizer(() => store.close)
      return yield* claims.make(store, settings.success)
    })
  )

/**
 * The PostgreSQL claims store: reserves one connection from the `SqlClient` (a `PgClient` from
 * `@effect/sql-pg`) for this replica's claims. Fails with `OffloadClaimsUnavailable` when the
 * session cannot be opened. Closing the layer unlocks everything and returns the connection.
 *
 * @since 1.0.0
 * @category layers
 */
export const layerPostgres = (
  postgresOptions?: PostgresOptions
): Layer.Layer<
  Offload.OffloadClaims,
  InvalidClusterOffloadOptions | Offload.OffloadClaimsUnavailable,
  SqlClient.SqlClient
> =>
  Layer.effect(
    Offload.OffloadClaims,
    Effect.gen(function* () {
      const given = yield* Result.match(
        options.record(postgresOptions, ["namespace", "applicationName", "idleSessionTimeout", "operationTimeout"]),
        { onFailure: fail, onSuccess: Effect.succeed }
      )
      const settings = Result.all({
        namespace: options.name("namespace", given.namespace, "default", 200),
        // PostgreSQL keeps the first 63 bytes of application_name.
        applicationName: options.name("applicationName", given.applicationName, "fibervisor-offload", 63),
        idleSessionTimeoutMs: options.millis("idleSessionTimeout", given.idleSessionTimeout, 30_000),
        operationTimeoutMs: options.millis("operationTimeout", given.operationTimeout, 5_000)
      })
      if (Result.isFailure(settings)) return yield* fail(settings.failure)
      const { idleSessionTimeoutMs } = settings.success
      if (idleSessionTimeoutMs < 1_000 || idleSessionTimeoutMs > 2_147_483_647) {
        return yield* fail({
          field: "idleSessionTimeout",
          reason: `must be between 1 second and 2147483647 ms, got ${idleSessionTimeoutMs} ms`
        })
      }
      const sql = yield* SqlClient.SqlClient
      const store = postgres.backend(sql, settings.success)
      yield* Effect.acquireRelease(
        Effect.mapError(store.open, (error) => new Offload.OffloadClaimsUnavailable({ reason: error.reason })),
        () => store.close
      )
      return yield* claims.make(store, {
        operationTimeoutMs: settings.success.operationTimeoutMs,
        heartbeatMs: Math.max(1, Math.floor(idleSessionTimeoutMs / 3))
      })
    })
  )
