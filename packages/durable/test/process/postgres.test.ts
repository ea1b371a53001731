/**
 * Real worker processes on the Postgres store: SIGKILL, SIGTERM and SIGSTOP/SIGCONT mid-job, each
 * run 3 times, every invariant checked (suite.ts, scenarios.ts, invariants.ts). The store's tables
 * and the run log live in this file's own database (dropped at the end).
 */
import { processSuite } from "./suite.js"

processSuite("pg", (databaseUrl) => databaseUrl)
