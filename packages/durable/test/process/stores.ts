/**
 * The DurableOffload layer (service + store) a fixture worker and the test's producer side build
 * for a backend, through the public layers: Postgres (a table in the test file's database, a small
 * pool per process) or SQLite (a file per scenario run, shared by every process; the store sets
 * WAL and a busy timeout).
 */
import { Layer } from "effect"
import { DurableOffload } from "../../src/index.js"

export const durableLayer = (store: "pg" | "sqlite", location: string, tableName: string) =>
  Layer.orDie(
    store === "pg"
      ? DurableOffload.layerPostgres({ url: location, tableName, maxConnections: 4 })
      : DurableOffload.layerSqlite({ filename: location, tableName })
  )
