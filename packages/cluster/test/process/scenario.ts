/**
 * The shared part of the multi-process singleton tests on Postgres: the observation tables, the
 * replicas (fixture `singleton-runner.ts`), reading ownerships on the database's clock, and the
 * invariant checks run after every scenario:
 * - I1: one row per epoch in `ownership_log`; epochs strictly increase in the order ownerships
 *   started; one runner per epoch in `side_effects`; an ownership that ended (stopped_at) ended
 *   before the next one started; `fenced_effects` never goes back to a lower epoch.
 * - the count of unfenced writes made with an epoch lower than one already written (the paused
 *   former owner's "one more act"), returned for the scenario to bound and report.
 */
import { expect } from "@effect/vitest"
import { fixturePath, type Proc, type ProcessGroup, type TestDatabase, waitUntil } from "../harness/index.js"

/** Lease settings of the process tests: refresh 500 ms, expiry 3 s (hand-off grace 1250 ms). */
export const refreshMs = 500
export const expiryMs = 3_000
export const graceMs = (expiryMs - refreshMs) / 2

export const createTables = async (db: TestDatabase) => {
  for (const statement of [
    "CREATE TABLE ownership_log (name text, epoch bigint, runner text, started_at timestamptz, stopped_at timestamptz, PRIMARY KEY (name, epoch))",
    "CREATE TABLE side_effects (id bigserial PRIMARY KEY, name text, epoch bigint, runner text, at timestamptz)",
    "CREATE TABLE confirmed_effects (id bigserial PRIMARY KEY, name text, epoch bigint, runner text, at timestamptz)",
    "CREATE TABLE fenced_effects (id bigserial PRIMARY KEY, name text, epoch bigint, runner text, at timestamptz)",
    "CREATE TABLE fence (name text PRIMARY KEY, epoch bigint NOT NULL)",
    "INSERT INTO fence VALUES ('billing', 0)"
  ]) {
    await db.query(statement)
  }
}

/** The database's clock, in epoch milliseconds. */
export const dbNow = async (db: TestDatabase): Promise<number> =>
  (await db.query<{ ms: number }>("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms"))[0]!.ms

/** One ownership, times in epoch milliseconds of the database's clock. */
export interface Ownership {
  readonly epoch: number
  readonly runner: string
  readonly started: number
  readonly stopped: number | null
}

export const ownerships = (db: TestDatabase): Promise<Array<Ownership>> =>
  db.query<Ownership>(`
    SELECT epoch::float8 AS epoch, runner,
      (extract(epoch FROM started_at) * 1000)::float8 AS started,
      (extract(epoch FROM stopped_at) * 1000)::float8 AS stopped
    FROM ownership_log ORDER BY started_at, epoch`)

/** Starts one replica and waits for its READY line. */
export const startReplica = async (
  group: ProcessGroup,
  db: TestDatabase,
  name: string,
  env: Record<string, string> = {}
): Promise<Proc> => {
  const proc = group.spawn({
    name,
    script: fixturePath("singleton-runner.ts"),
    env: {
      ...db.env,
      FV_BACKEND: "pg",
      FV_REFRESH_MS: String(refreshMs),
      FV_EXPIRY_MS: String(expiryMs),
      FV_STOP_MS: "200",
      ...env
    }
  })
  await proc.waitForLine("READY", 60_000)
  return proc
}

/** The singleton events a replica printed, decoded. */
export const eventsOf = (proc: Proc): Array<Record<string, unknown> & { readonly _tag: string }> =>
  proc.stdout
    .filter((line) => line.startsWith("EVENT "))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))) as Record<string, unknown> & { readonly _tag: string })

/** Waits (bounded) until `proc` owns a lease (epoch above `after`); returns the ownership. */
export const waitOwner = async (db: TestDatabase, after: number, timeout: number, group: ProcessGroup) => {
  let found: Ownership | undefined
  await waitUntil(
    async () => {
      found = (await ownerships(db)).find((row) => row.epoch > after)
      return found !== undefined
    },
    { timeout, interval: 50, message: () => `no ownership after epoch ${after}\n${group.describe()}` }
  )
  return found!
}

/** Waits (bounded) until `proc` printed a SingletonStandby event. */
export const waitStandby = (proc: Proc, timeout = 30_000) =>
  waitUntil(() => eventsOf(proc).some((event) => event._tag === "SingletonStandby"), {
    timeout,
    message: () => `${proc.name} never stood by\n${proc.describe()}`
  })

/**
 * Checks I1 on the database; returns the count of stale unfenced and confirmed writes. `paused`
 * are the epochs whose owner was frozen (SIGSTOP): their end is recorded after they resume, past
 * the next owner's start, which is the documented caveat, so the no-overlap check skips them.
 */
export const checkInvariants = async (db: TestDatabase, paused: ReadonlySet<number> = new Set()) => {
  const own = await ownerships(db)
  const epochs = own.map((row) => row.epoch)
  // Epochs strictly increase in the order ownerships started (one row per epoch: the key).
  for (let i = 1; i < epochs.length; i++) expect(epochs[i]!).toBeGreaterThan(epochs[i - 1]!)
  // An ownership that ended ended before the next one started (no overlap).
  for (let i = 1; i < own.length; i++) {
    const previous = own[i - 1]!
    if (previous.stopped !== null && !paused.has(previous.epoch)) {
      expect(own[i]!.started).toBeGreaterThanOrEqual(previous.stopped)
    }
  }
  // At most one writer per epoch.
  expect(await db.query("SELECT epoch FROM side_effects GROUP BY epoch HAVING count(DISTINCT runner) > 1")).toEqual([])
  expect(await db.query("SELECT epoch FROM fenced_effects GROUP BY epoch HAVING count(DISTINCT runner) > 1")).toEqual(
    []
  )
  // The fenced store never goes back to a lower epoch.
  expect(
    await db.query(
      "SELECT s.id FROM fenced_effects s WHERE EXISTS (SELECT 1 FROM fenced_effects t WHERE t.id < s.id AND t.epoch > s.epoch)"
    )
  ).toEqual([])
  const stale = async (table: string) =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${table} s WHERE EXISTS (SELECT 1 FROM ${table} t WHERE t.id < s.id AND t.epoch > s.epoch)`
        )
      )[0]!.n
    )
  return {
    ownerships: own.length,
    staleUnfenced: await stale("side_effects"),
    staleConfirmed: await stale("confirmed_effects")
  }
}
