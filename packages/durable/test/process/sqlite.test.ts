/**
 * Real worker processes on the SQLite store: every process opens the same file (one per scenario
 * run, in a temporary folder removed at the end); SIGKILL, SIGTERM and SIGSTOP/SIGCONT mid-job,
 * each run 3 times, every invariant checked (suite.ts, scenarios.ts, invariants.ts). The run log
 * lives in this file's own Postgres database, so it survives the kills independently of the store.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { processSuite } from "./suite.js"

const dir = mkdtempSync(join(tmpdir(), "fv-durable-process-"))

processSuite(
  "sqlite",
  (_databaseUrl, table) => join(dir, `${table}.db`),
  () => rmSync(dir, { recursive: true, force: true })
)
