/**
 * The store layer a fixture worker, the test's producer side and the benchmark build for a
 * backend: Postgres (a table in the test file's database) or SQLite (a file of its own).
 */
import { Layer } from "effect"
import { layerPostgresStore } from "../../src/internal/store/postgres.js"

export const storeLayer = (store: "pg" | "sqlite", location: string, tableName: string) => {
  if (store === "sqlite") throw new Error("the SQLite store is not merged yet")
  return Layer.orDie(layerPostgresStore({ url: location, tableName, maxConnections: 4 }))
}
