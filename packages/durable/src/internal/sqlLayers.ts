/**
 * The SQL store layers behind `DurableOffload.layerPostgres` / `layerSqlite`, loaded on demand.
 *
 * The drivers (`@effect/sql-pg`, `@effect/sql-sqlite-node`) are optional peers: the store modules
 * that import them are loaded with a dynamic `import()` when the layer is built, so a program that
 * uses one backend (or only memory) never loads the other driver. A missing driver is a
 * `StoreError` (operation `"load"`) that names the package to install; a store option that cannot
 * be used is the public `InvalidOptions` (the store's own `InvalidStoreOptions` does not leak).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { InvalidOptions } from "../DurableOffloadError.js"
import type { PostgresStoreOptions } from "./store/postgres.js"
import type { SqliteStoreOptions } from "./store/sqlite.js"
import type { InvalidStoreOptions } from "./store/sqlOptions.js"
import { type DurableStore, Store } from "./store.js"
import { StoreError } from "./storeError.js"

const onDemand = <M>(
  operation: string,
  driver: string,
  load: () => Promise<M>,
  build: (module: M) => Layer.Layer<DurableStore, StoreError | InvalidStoreOptions>
): Layer.Layer<DurableStore, StoreError | InvalidOptions> =>
  Layer.effect(
    Store,
    Effect.gen(function* () {
      const module = yield* Effect.tryPromise({
        try: load,
        catch: (cause) =>
          new StoreError({
            operation: "load",
            cause: new Error(`${operation} needs the package ${driver} (install it): ${String(cause)}`)
          })
      })
      const context = yield* Layer.build(build(module)).pipe(
        Effect.mapError((e) =>
          e._tag === "InvalidStoreOptions" ? new InvalidOptions({ operation, field: e.field, reason: e.reason }) : e
        )
      )
      return Context.get(context, Store)
    })
  )

/** The Postgres store, its module loaded when the layer is built. */
export const postgres = (options: PostgresStoreOptions): Layer.Layer<DurableStore, StoreError | InvalidOptions> =>
  onDemand(
    "layerPostgres",
    "@effect/sql-pg",
    () => import("./store/postgres.js"),
    (m) => m.layerPostgresStore(options)
  )

/** The SQLite store, its module loaded when the layer is built. */
export const sqlite = (options: SqliteStoreOptions): Layer.Layer<DurableStore, StoreError | InvalidOptions> =>
  onDemand(
    "layerSqlite",
    "@effect/sql-sqlite-node",
    () => import("./store/sqlite.js"),
    (m) => m.layerSqliteStore(options)
  )
