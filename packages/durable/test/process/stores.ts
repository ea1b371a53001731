/**
 * The store layer a fixture worker and the test's producer side build for a backend: Postgres (a
 * table in the test file's database, a small pool per process) or SQLite (a file per scenario run,
 * shared by every process; the store sets WAL and a busy timeout).
 */
import { Layer } from "effect"
import { layerPostgresStore } from "../../src/internal/store/postgres.js"
import { layerSqliteStore } from "../../src/internal/store/sqlite.js"

export const storeLayer = (store: "pg" | "sqlite", location: string, tableName: string) =>
  Layer.orDie(
    store === "pg"
      ? layerPostgresStore({ url: location, tableName, maxConnections: 4 })
      : layerSqliteStore({ filename: location, tableName })
  )
