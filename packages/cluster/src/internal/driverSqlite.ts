/**
 * The SQLite driver of the lease store: the only module that imports `@effect/sql-sqlite-node`,
 * loaded by `ClusterSupervisor.layerSqlite` on demand.
 *
 * Data flow: filename → a `SqliteClient` in the layer's scope (WAL, busy timeout 5 s: several
 * processes open the same file) → `leaseSql.make("sqlite", table)`.
 *
 * @internal
 */
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Reactivity from "effect/reactivity/Reactivity"
import { LeaseStoreError } from "../ClusterError.js"
import * as leaseSql from "./leaseSql.js"
import type { LeaseStore } from "./leaseStore.js"

/** A lease store on a SQLite file. */
export const make = (filename: string, table: string): Effect.Effect<LeaseStore, LeaseStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* SqliteClient.make({ filename, busyTimeout: "5 seconds" }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((error) => new LeaseStoreError({ operation: "open", reason: error.message }))
    )
    return yield* leaseSql.make(sql, "sqlite", table)
  })
