/**
 * Helpers of the offload tests against the real PostgreSQL (not a test file): a replica =
 * `Offload.layerCluster` on `ClusterOffload.layerPostgres` on its own `PgClient`, and a look at
 * `pg_locks` for fibervisor's lock classes.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Context, Effect, Layer } from "effect"
import type * as Scope from "effect/Scope"
import { Offload } from "@fibervisor/core"
import * as ClusterOffload from "../../src/ClusterOffload.js"
import { classId } from "../../src/internal/offload/postgres.js"
import { pgHost, pgPort, type TestDatabase } from "../harness/index.js"

/** The class ids (as `pg_locks.classid` shows them, unsigned) of a namespace's key and slot locks. */
export const lockClasses = (namespace = "default") => ({
  key: classId(`fibervisor-offload:key:${namespace}`) >>> 0,
  slot: classId(`fibervisor-offload:slot:${namespace}`) >>> 0
})

/** The `PgClient` layer of one replica (a pool of its own). */
export const pgLayer = (db: TestDatabase, name: string) =>
  PgClient.layer({
    host: pgHost,
    port: pgPort,
    username: "postgres",
    database: db.name,
    applicationName: `fv-pool-${name}`,
    maxConnections: 3,
    connectTimeout: "10 seconds"
  })

/** One replica on the real database, built in the caller's scope. Its claims session is `fv-offload-<name>`. */
export const pgReplica = (
  db: TestDatabase,
  name: string,
  config: Offload.OffloadClusterConfig = {},
  options: ClusterOffload.PostgresOptions = {}
): Effect.Effect<Offload.Offload, unknown, Scope.Scope> =>
  Effect.map(
    Layer.build(
      Offload.layerCluster({ grace: "2 seconds", ...config }).pipe(
        Layer.provide(ClusterOffload.layerPostgres({ applicationName: `fv-offload-${name}`, ...options })),
        Layer.provide(pgLayer(db, name))
      )
    ),
    (context) => Context.get(context, Offload.Offload)
  )

export interface HeldLock {
  readonly app: string
  readonly space: "key" | "slot"
}

/**
 * fibervisor's advisory locks held in `db` now (advisory locks are per database: other test files'
 * locks are not seen), with the holder's application_name, sorted.
 */
export const heldLocks = async (db: TestDatabase, namespace = "default"): Promise<Array<HeldLock>> => {
  const classes = lockClasses(namespace)
  const rows = await db.query<{ app: string; classid: string | number }>(
    `SELECT a.application_name AS app, l.classid::int8 AS classid
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid::int8 = ANY($1::int8[])
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1, 2`,
    [`{${classes.key},${classes.slot}}`]
  )
  return rows.map((row) => ({ app: row.app, space: Number(row.classid) === classes.key ? "key" : "slot" }))
}
