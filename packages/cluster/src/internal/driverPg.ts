/**
 * The Postgres driver of the lease store: the only module that imports `@effect/sql-pg`, loaded
 * by `ClusterSupervisor.layerPostgres` on demand (so users without the driver never load it).
 *
 * Data flow: options → a small `PgClient` pool in the layer's scope (its sessions named
 * `applicationName`) → `leaseSql.make("pg", table)`.
 *
 * @internal
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Reactivity from "effect/reactivity/Reactivity"
import { LeaseStoreError } from "../ClusterError.js"
import type { PostgresOptions } from "../ClusterSupervisor.js"
import * as leaseSql from "./leaseSql.js"
import type { LeaseStore } from "./leaseStore.js"

/** A lease store on a Postgres pool of its own. */
export const make = (
  options: PostgresOptions,
  table: string,
  applicationName: string
): Effect.Effect<LeaseStore, LeaseStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* PgClient.make({
      ...(options.url === undefined ? {} : { url: options.url }),
      host: options.host ?? (options.url === undefined ? "127.0.0.1" : undefined),
      port: options.port ?? (options.url === undefined ? 5432 : undefined),
      database: options.database ?? (options.url === undefined ? "postgres" : undefined),
      username: options.username ?? (options.url === undefined ? "postgres" : undefined),
      ...(options.password === undefined ? {} : { password: options.password }),
      applicationName,
      maxConnections: 2,
      connectTimeout: "5 seconds"
    }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((error) => new LeaseStoreError({ operation: "connect", reason: error.message }))
    )
    return yield* leaseSql.make(sql, "pg", table)
  })
