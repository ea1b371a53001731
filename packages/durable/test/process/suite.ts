/**
 * The real-process suite for one backend: each scenario of scenarios.ts run `loops` times (fresh
 * store table or file each time), every invariant asserted after each run, plus the scenario's own
 * expectations (who ran what, which attempt). A summary of the runs (counts, lease overlaps, drain
 * times) is printed at the end of the file, for the docs.
 */
import * as TestDatabase from "@fibervisor/vitest/TestDatabase"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { killAllChildren } from "./harness.js"
import type { Verdict } from "./invariants.js"
import { openRunLog, type RunLog } from "./runLog.js"
import { type Backend, crowdScenario, killScenario, pauseScenario, settings, stopScenario } from "./scenarios.js"

export const loops = 3

/** Registers the suite; `location` maps a scenario table to the store's location. */
export const processSuite = (
  store: Backend["store"],
  location: (databaseUrl: string, table: string) => string,
  cleanup: () => void = () => {}
) => {
  let scope: Scope.Closeable
  let databaseUrl = ""
  let log: RunLog
  const summary: Array<{ scenario: string; verdict: Verdict }> = []
  const backend = (): Backend => ({
    store,
    location: (table) => location(databaseUrl, table),
    logUrl: databaseUrl,
    log
  })

  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    const database = await Effect.runPromise(Scope.provide(TestDatabase.make(`durable_process_${store}`), scope))
    databaseUrl = database.url
    log = await openRunLog(databaseUrl)
  }, 60_000)

  afterAll(async () => {
    console.info(
      `[process ${store}] ${JSON.stringify({
        settings,
        runs: summary.map(({ scenario, verdict }) => ({
          scenario,
          handlerRuns: verdict.runs,
          violations: verdict.violations.length,
          leaseOverlaps: verdict.leaseOverlaps.map((o) => o.afterPauseMs),
          unloggedAttempts: verdict.unloggedAttempts.length,
          drainsMs: verdict.drains.map((d) => d.ms),
          startedAfterStop: verdict.drains.map((d) => d.startedAfter)
        }))
      })}`
    )
    await killAllChildren()
    await log?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    cleanup()
  }, 60_000)

  const record = (scenario: string, verdict: Verdict) => {
    summary.push({ scenario, verdict })
    expect(verdict.violations).toEqual([])
    return verdict
  }

  const runsOf = (table: string, key: string) => log.runs(`${table}-${key}`)

  describe(`real worker processes on ${store === "pg" ? "Postgres" : "SQLite"}`, () => {
    for (let loop = 1; loop <= loops; loop++) {
      it(`SIGKILL mid-job: re-run after the lease, dead letters, none lost (run ${loop})`, async () => {
        const table = `kill_${loop}`
        record(`kill #${loop}`, await killScenario(backend(), table))
        // The held `work` jobs: a's attempt 1 died with a; b ran attempt 2.
        for (const key of ["held-work-1", "held-work-2"]) {
          expect((await runsOf(table, key)).map((r) => [r.worker, r.attempt, r.outcome])).toEqual([
            ["a", 1, "running"],
            ["b", 2, "completed"]
          ])
        }
        // The held `once` job (maxAttempts 1): dead-lettered at the lease expiry, never run again.
        expect((await runsOf(table, "held-once")).map((r) => [r.worker, r.attempt])).toEqual([["a", 1]])
        expect((await runsOf(table, "fails")).filter((r) => r.key.endsWith("-fails")).map((r) => r.attempt)).toEqual([
          1, 2, 3
        ])
      }, 240_000)

      it(`SIGTERM mid-job: drain within grace, release without counting, resumed elsewhere (run ${loop})`, async () => {
        const table = `stop_${loop}`
        const verdict = record(`stop #${loop}`, await stopScenario(backend(), table))
        expect((await runsOf(table, "short")).map((r) => [r.worker, r.attempt, r.outcome])).toEqual([
          ["a", 1, "completed"]
        ])
        expect((await runsOf(table, "long")).map((r) => [r.worker, r.attempt, r.outcome])).toEqual([
          ["a", 1, "interrupted"],
          ["b", 1, "completed"]
        ])
        // a's slots were full at the signal: nothing of its started after it.
        expect(verdict.drains.map((d) => d.startedAfter)).toEqual([0])
      }, 240_000)

      it(`SIGSTOP past the lease, then SIGCONT: re-run elsewhere, the late run fenced (run ${loop})`, async () => {
        const table = `pause_${loop}`
        const verdict = record(`pause #${loop}`, await pauseScenario(backend(), table))
        const held = await runsOf(table, "held")
        expect(held.map((r) => [r.worker, r.attempt])).toEqual([
          ["a", 1],
          ["b", 2]
        ])
        expect(verdict.leaseOverlaps).toHaveLength(1)
        expect(verdict.leaseOverlaps[0]!.afterPauseMs).toBeGreaterThan(0)
      }, 240_000)

      it(`a crowd: 3 workers, 150 keys offered twice, one SIGKILL and one SIGTERM (run ${loop})`, async () => {
        const verdict = record(`crowd #${loop}`, await crowdScenario(backend(), `crowd_${loop}`))
        expect(verdict.runs).toBeGreaterThanOrEqual(150)
      }, 240_000)
    }
  })
}
