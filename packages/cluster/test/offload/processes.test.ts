/**
 * `Offload.layerCluster` across real processes on the real PostgreSQL (fixture
 * `fixtures/offload-replica.ts`; every run is a row of `offload_runs`, written by the replica into
 * the test's database, so a killed replica's runs survive it). After every scenario:
 *
 * - I5: no key runs twice at once — the runs of one key never overlap in time;
 * - I8: never more than the cluster limit of a kind running at once across the replicas, and a
 *   SIGKILLed replica's slots are taken by the others at once (its session ends with it).
 *
 * A killed replica is frozen (SIGSTOP) first and its end taken from the database's clock then: a
 * frozen process does nothing more, so that instant bounds its runs exactly (its locks stay held
 * until the SIGKILL ends its session). Each scenario runs `repeats` times; the counts and timings
 * are printed (`FIGURES …`) for the docs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { fileURLToPath } from "node:url"
import { Effect, Exit } from "effect"
import * as Scope from "effect/Scope"
import { OffloadKey } from "@fibervisor/core"
import { type Proc, ProcessGroup, TestDatabase, waitUntil } from "../harness/index.js"
import { heldLocks, pgReplica } from "./pgHelpers.js"

const script = fileURLToPath(new URL("./fixtures/offload-replica.ts", import.meta.url))
const repeats = 3

const group = new ProcessGroup()
let db: TestDatabase

beforeAll(async () => {
  db = await TestDatabase.create("offload_procs")
  await db.query(`CREATE TABLE offload_runs (
    id bigserial PRIMARY KEY, kind text NOT NULL, key text NOT NULL, runner text NOT NULL,
    started_at timestamptz NOT NULL, finished_at timestamptz)`)
}, 60_000)

afterEach(async () => {
  await group.killAll()
})

afterAll(async () => {
  await group.killAll()
  await db?.drop()
}, 60_000)

interface Run {
  readonly kind: string
  readonly key: string
  readonly runner: string
  readonly start: number
  readonly end: number
  readonly open: boolean
}

/** The database's clock now (ms), the one `offload_runs` is written with. */
const dbNow = async (): Promise<number> => {
  const rows = await db.query<{ now: Date | string }>("SELECT clock_timestamp() AS now")
  return new Date(rows[0]!.now).getTime()
}

/** Freezes `proc`, reads the database's clock, then kills it: the instant bounds every run of it. */
const freezeKill = async (proc: Proc): Promise<number> => {
  proc.freeze()
  const at = await dbNow()
  await proc.kill()
  return at
}

/** Every run of `kind`; an unfinished run ends when its replica was frozen for the kill. */
const runs = async (kind: string, endOf: ReadonlyMap<string, number>): Promise<Array<Run>> => {
  const rows = await db.query<{
    kind: string
    key: string
    runner: string
    started_at: Date
    finished_at: Date | null
  }>("SELECT kind, key, runner, started_at, finished_at FROM offload_runs WHERE kind = $1 ORDER BY started_at", [kind])
  return rows.map((row) => {
    const start = new Date(row.started_at).getTime()
    const open = row.finished_at === null
    const killed = endOf.get(row.runner)
    if (open && killed === undefined) throw new Error(`run of ${row.key} on ${row.runner} has no end`)
    return {
      kind: row.kind,
      key: row.key,
      runner: row.runner,
      start,
      end: open ? Math.max(start, killed!) : new Date(row.finished_at!).getTime(),
      open
    }
  })
}

/** I5: pairs of runs of one key that overlap in time (half-open intervals). */
const overlaps = (all: ReadonlyArray<Run>): Array<[Run, Run]> => {
  const byKey = new Map<string, Array<Run>>()
  for (const run of all) byKey.set(run.key, [...(byKey.get(run.key) ?? []), run])
  const found: Array<[Run, Run]> = []
  for (const list of byKey.values()) {
    const sorted = [...list].sort((a, b) => a.start - b.start)
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.start < sorted[i - 1]!.end) found.push([sorted[i - 1]!, sorted[i]!])
  }
  return found
}

/** I8: the largest number of runs in flight at one instant (an end before a start at the same ms). */
const maxConcurrent = (all: ReadonlyArray<Run>): number => {
  const points = all.flatMap(
    (run) =>
      [
        [run.start, 1],
        [run.end, -1]
      ] as const
  )
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let max = 0
  for (const [, delta] of points) {
    now += delta
    max = Math.max(max, now)
  }
  return max
}

const spawn = (name: string, env: Record<string, string>) =>
  group.spawn({ name, script, env: { ...db.env, FV_RUNNER: name, ...env } })

const figures = (scenario: string, data: Record<string, unknown>) =>
  process.stdout.write(`FIGURES ${scenario} ${JSON.stringify(data)}\n`)

describe("I5: no key runs twice at once across replicas", () => {
  it("3 replicas × 150 keys × 3 offers each, all at once", { timeout: 300_000 }, async () => {
    for (let repeat = 0; repeat < repeats; repeat++) {
      const kind = "refresh"
      await db.query("DELETE FROM offload_runs")
      const procs = ["a", "b", "c"].map((name) =>
        spawn(`i5-${repeat}-${name}`, { FV_MODE: "keys", FV_KEYS: "150", FV_OFFERS: "3", FV_WORK_MS: "20" })
      )
      for (const proc of procs) await proc.waitForLine("DONE", 120_000)
      const all = await runs(kind, new Map())
      const outcomes = procs.map((proc) => JSON.parse(proc.stdout.find((l) => l.startsWith("OUTCOMES"))!.slice(9)))
      const keys = new Set(all.map((run) => run.key))
      expect(overlaps(all)).toEqual([])
      expect(keys.size).toBe(150)
      expect(all.every((run) => !run.open)).toBe(true)
      figures("I5", { repeat, runs: all.length, keys: keys.size, outcomes })
      for (const proc of procs) await proc.kill()
    }
  })

  it(
    "a replica SIGKILLed mid-run: its keys are free at once, and still no key overlaps",
    { timeout: 300_000 },
    async () => {
      for (let repeat = 0; repeat < repeats; repeat++) {
        const kind = "refresh"
        await db.query("DELETE FROM offload_runs")
        const env = { FV_MODE: "keys", FV_KEYS: "100", FV_OFFERS: "2", FV_ROUNDS: "4", FV_WORK_MS: "30" }
        const victim = spawn(`i5k-${repeat}-a`, env)
        const others = ["b", "c"].map((name) => spawn(`i5k-${repeat}-${name}`, env))
        await waitUntil(
          async () =>
            Number(
              (
                await db.query<{ n: string }>("SELECT count(*) AS n FROM offload_runs WHERE runner = $1", [victim.name])
              )[0]!.n
            ) >= 20,
          { timeout: 120_000, message: () => victim.describe() }
        )
        const killedAt = await freezeKill(victim)
        // Its session ended with it: every key it held is free (polled in pg_locks, an upper bound).
        await waitUntil(async () => !(await heldLocks(db)).some((lock) => lock.app === `fv-offload-${victim.name}`), {
          timeout: 30_000,
          message: "the killed replica's locks were not freed"
        })
        const freedMs = (await dbNow()) - killedAt
        for (const proc of others) await proc.waitForLine("DONE", 180_000)
        const all = await runs(kind, new Map([[victim.name, killedAt]]))
        const cut = all.filter((run) => run.open)
        const after = all.filter((run) => run.start >= killedAt && cut.some((c) => c.key === run.key))
        expect(overlaps(all)).toEqual([])
        figures("I5-kill", {
          repeat,
          runs: all.length,
          cutOff: cut.length,
          victimLocksFreedWithinMs: freedMs,
          // How soon a key the victim held ran elsewhere (ms after the freeze that preceded the kill).
          takenOverAfterMs: after
            .map((run) => run.start - killedAt)
            .sort((a, b) => a - b)
            .slice(0, 3)
        })
        for (const proc of others) await proc.kill()
      }
    }
  )
})

describe("I8: cluster slots across replicas", () => {
  it(
    "never more than 2 of a kind at once across 3 replicas; a SIGKILLed replica's slots are taken at once",
    { timeout: 300_000 },
    async () => {
      for (let repeat = 0; repeat < repeats; repeat++) {
        const kind = "report"
        await db.query("DELETE FROM offload_runs")
        const env = { FV_MODE: "slots", FV_SLOTS: "2", FV_WORK_MS: "40", FV_EVERY_MS: "15" }
        const procs = ["a", "b", "c"].map((name) => spawn(`i8-${repeat}-${name}`, env))
        const count = async (where = "", params: Array<unknown> = []) =>
          Number(
            (
              await db.query<{ n: string }>(
                `SELECT count(*) AS n FROM offload_runs WHERE kind = 'report' ${where}`,
                params
              )
            )[0]!.n
          )
        await waitUntil(async () => (await count()) >= 60, {
          timeout: 120_000,
          message: () => procs.map((p) => p.describe(5)).join("\n")
        })
        // The victim: a replica whose session holds a slot, checked while it is frozen (so it cannot
        // let the slot go between the check and the kill).
        const slotHolders = async () =>
          (await heldLocks(db)).filter((lock) => lock.space === "slot").map((lock) => lock.app)
        let victim: Proc | undefined
        await waitUntil(
          async () => {
            const holders = await slotHolders()
            const candidate = procs.find((p) => holders.includes(`fv-offload-${p.name}`))
            if (candidate === undefined) return false
            candidate.freeze()
            if ((await slotHolders()).includes(`fv-offload-${candidate.name}`)) {
              victim = candidate
              return true
            }
            candidate.resume()
            return false
          },
          { timeout: 30_000, message: "no replica holds a slot" }
        )
        const killedAt = await dbNow()
        await victim!.kill()
        // Its slot is taken again by another replica: both slots held by the others.
        await waitUntil(
          async () => (await slotHolders()).filter((app) => app !== `fv-offload-${victim!.name}`).length === 2,
          { timeout: 30_000, message: "the victim's slot was not taken again" }
        )
        const slotBackMs = (await dbNow()) - killedAt
        const before = await count("AND started_at >= $1", [new Date(killedAt)])
        await waitUntil(async () => (await count("AND started_at >= $1", [new Date(killedAt)])) >= before + 20, {
          timeout: 60_000,
          message: "the other replicas did not go on"
        })
        const ends = new Map([[victim!.name, killedAt]])
        for (const proc of procs) if (proc !== victim) ends.set(proc.name, await freezeKill(proc))
        const all = await runs(kind, ends)
        const firstAfter = all.filter((run) => run.runner !== victim!.name && run.start >= killedAt)[0]
        expect(maxConcurrent(all)).toBeLessThanOrEqual(2)
        expect(firstAfter).toBeDefined()
        figures("I8", {
          repeat,
          runs: all.length,
          maxConcurrent: maxConcurrent(all),
          victimOpenRuns: all.filter((run) => run.runner === victim!.name && run.open).length,
          firstRunElsewhereAfterKillMs: firstAfter!.start - killedAt,
          // Polled in pg_locks every 50 ms from the kill: an upper bound.
          victimSlotTakenAgainWithinMs: slotBackMs
        })
      }
    }
  )
})

describe("a frozen replica is bounded by idle_session_timeout", () => {
  it(
    "SIGSTOP: the server ends the frozen session, another replica takes the key; on SIGCONT the loss is reported",
    { timeout: 300_000 },
    async () => {
      for (let repeat = 0; repeat < repeats; repeat++) {
        await db.query("DELETE FROM offload_runs")
        const frozen = spawn(`freeze-${repeat}`, { FV_MODE: "hold", FV_WORK_MS: "6000", FV_IDLE_MS: "2000" })
        await frozen.waitForLine("HOLDING spawned")
        const scope = Effect.runSync(Scope.make())
        try {
          const other = await Effect.runPromise(Scope.provide(pgReplica(db, `freeze-other-${repeat}`), scope))
          const key = OffloadKey.keyed("held", "refresh")
          expect(await Effect.runPromise(other.register(key, Effect.void))).toBe("deduplicated")
          frozen.freeze()
          const frozenAt = Date.now()
          let takenAt = 0
          // The other replica keeps the key until the frozen one has resumed and reported.
          let letGo = () => {}
          const held = Effect.promise(() => new Promise<void>((resolve) => (letGo = resolve)))
          await waitUntil(
            async () => {
              const outcome = await Effect.runPromise(other.register(key, held))
              if (outcome === "spawned") takenAt = Date.now()
              return outcome === "spawned"
            },
            { timeout: 60_000, interval: 50, message: "the frozen replica's key was never freed" }
          )
          frozen.resume()
          await frozen.waitForLine("0 claim(s) taken again, 1 lost", 60_000)
          letGo()
          await frozen.waitForLine("DONE", 60_000)
          expect(frozen.hasLine("offload claim lost with the session")).toBe(true)
          figures("freeze", { repeat, idleSessionTimeoutMs: 2000, keyFreeAfterFreezeMs: takenAt - frozenAt })
          await frozen.kill()
        } finally {
          await Effect.runPromise(Scope.close(scope, Exit.void))
        }
      }
    }
  )
})
