/**
 * The multi-process test harness of `@fibervisor/cluster` (also used by the offload tests).
 *
 * - `ProcessGroup` / `Proc` (processes.ts): spawn fixture scripts under the project's Node with
 *   tsx and the workspace sources; `kill` (SIGKILL), `stop` (SIGTERM), `freeze` / `resume`
 *   (SIGSTOP / SIGCONT); output lines; `killAll` for `afterAll`.
 * - `TestDatabase` (database.ts): a Postgres database per test file, `query`, `dropSession`
 *   (pg_terminate_backend by application_name), `drop` WITH (FORCE).
 * - `waitUntil(predicate, { timeout, message })`: a bounded wait on an observable condition.
 */
export * from "./database.js"
export * from "./processes.js"
