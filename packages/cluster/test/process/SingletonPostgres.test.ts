/**
 * `Task.singleton` across real processes on the real Postgres (lease settings: refresh 500 ms,
 * expiry 3 s): crash (SIGKILL) fail-over within expiry + refresh + slack (I2), graceful hand-off
 * on SIGTERM within grace, a paused owner (SIGSTOP / SIGCONT) bounded as documented, dropped
 * database sessions, and a tree that dies restarted (I3). The invariants (I1, `checkInvariants`)
 * are checked after every scenario; each fault scenario runs 3 times and prints its figures
 * (`FIGURES …` lines).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { type Proc, ProcessGroup, sleep, TestDatabase, waitUntil } from "../harness/index.js"
import {
  checkInvariants,
  createTables,
  dbNow,
  eventsOf,
  expiryMs,
  graceMs,
  ownerships,
  refreshMs,
  startReplica,
  waitOwner,
  waitStandby
} from "./scenario.js"

/** Slack on top of the lease bounds: process scheduling and SQL round trips on a loaded 2-core host. */
const slackMs = 2_000
const runs = 3

const group = new ProcessGroup()
let db: TestDatabase
/** Epochs whose owner was frozen (see `checkInvariants`). */
const paused = new Set<number>()

beforeAll(async () => {
  db = await TestDatabase.create("singleton_pg")
  await createTables(db)
}, 60_000)

afterAll(async () => {
  await group.killAll()
  await db?.drop()
}, 60_000)

const figures = (scenario: string, values: Record<string, unknown>) =>
  process.stdout.write(`FIGURES ${scenario} ${JSON.stringify(values)}\n`)

/** The current owner among `procs` (by the last ownership's runner). */
const ownerOf = async (procs: ReadonlyArray<Proc>) => {
  const own = await ownerships(db)
  const last = own.at(-1)!
  const proc = procs.find((candidate) => candidate.name === last.runner)
  if (proc === undefined) throw new Error(`owner ${last.runner} is not one of ${procs.map((p) => p.name).join(", ")}`)
  return { proc, epoch: last.epoch }
}

describe("Task.singleton on Postgres, real processes", () => {
  let counter = 0
  const next = (prefix: string) => `${prefix}${++counter}`
  let replicas: Array<Proc> = []

  it("one owner, the other stands by; crash (SIGKILL) of the owner fails over within expiry + refresh + slack (×3)", async () => {
    const first = await startReplica(group, db, next("r"))
    await waitOwner(db, 0, 30_000, group)
    const second = await startReplica(group, db, next("r"))
    await waitStandby(second)
    replicas = [first, second]
    const failovers: Array<number> = []
    for (let run = 0; run < runs; run++) {
      const { proc: owner, epoch } = await ownerOf(replicas)
      const standby = replicas.find((proc) => proc !== owner)!
      await waitStandby(standby)
      const killedAt = await dbNow(db)
      await owner.kill()
      const taken = await waitOwner(db, epoch, expiryMs + refreshMs + slackMs + 10_000, group)
      const failover = taken.started - killedAt
      failovers.push(Math.round(failover))
      expect(taken.runner).toBe(standby.name)
      expect(failover).toBeLessThanOrEqual(expiryMs + refreshMs + slackMs)
      // Not before the lease could have expired: the last refresh was at most one interval before the kill.
      expect(failover).toBeGreaterThanOrEqual(expiryMs - refreshMs - 100)
      await checkInvariants(db, paused)
      // A new replica replaces the killed one, in standby.
      const fresh = await startReplica(group, db, next("r"))
      await waitStandby(fresh)
      replicas = [standby, fresh]
    }
    figures("sigkill-failover-ms", { runs, failovers, bound: expiryMs + refreshMs + slackMs })
  })

  it("SIGTERM hands off: the tree's finalizers finish before the next owner starts, within grace + refresh + slack (×3)", async () => {
    const handoffs: Array<number> = []
    for (let run = 0; run < runs; run++) {
      const { proc: owner, epoch } = await ownerOf(replicas)
      const standby = replicas.find((proc) => proc !== owner)!
      await waitStandby(standby)
      const termAt = await dbNow(db)
      const exit = await owner.stop(30_000)
      expect(exit.code).toBe(0)
      const taken = await waitOwner(db, epoch, graceMs + refreshMs + slackMs + 10_000, group)
      const previous = (await ownerships(db)).find((row) => row.epoch === epoch)!
      expect(previous.stopped).not.toBeNull()
      expect(taken.started).toBeGreaterThanOrEqual(previous.stopped!)
      const handoff = taken.started - termAt
      handoffs.push(Math.round(handoff))
      expect(handoff).toBeLessThanOrEqual(graceMs + refreshMs + slackMs)
      expect(
        eventsOf(owner)
          .filter((event) => event._tag === "SingletonReleased")
          .at(-1)?.reason
      ).toBe("handoff")
      await checkInvariants(db, paused)
      const fresh = await startReplica(group, db, next("r"))
      await waitStandby(fresh)
      replicas = [standby, fresh]
    }
    figures("sigterm-handoff-ms", { runs, handoffs, bound: graceMs + refreshMs + slackMs })
  })

  it("a paused owner (SIGSTOP past expiry): the other takes over; after SIGCONT the stale owner's confirmOwnership fails and the fence refuses its writes (×3)", async () => {
    const results: Array<Record<string, number>> = []
    let staleBefore = { unfenced: 0, confirmed: 0 }
    for (let run = 0; run < runs; run++) {
      const { proc: owner, epoch } = await ownerOf(replicas)
      const standby = replicas.find((proc) => proc !== owner)!
      await waitStandby(standby)
      const frozenAt = await dbNow(db)
      paused.add(epoch)
      owner.freeze()
      const taken = await waitOwner(db, epoch, expiryMs + refreshMs + slackMs + 10_000, group)
      expect(taken.runner).toBe(standby.name)
      const takeover = taken.started - frozenAt
      expect(takeover).toBeLessThanOrEqual(expiryMs + refreshMs + slackMs)
      // Let the new owner write for a while, then resume the stale one (frozen 2× expiry in all).
      await sleep(Math.max(0, 2 * expiryMs - ((await dbNow(db)) - frozenAt)))
      owner.resume()
      await waitUntil(
        () => eventsOf(owner).some((event) => event._tag === "SingletonReleased" && event.epoch === epoch),
        { timeout: 20_000, message: () => `the resumed owner never released epoch ${epoch}\n${owner.describe()}` }
      )
      const released = eventsOf(owner).find((event) => event._tag === "SingletonReleased" && event.epoch === epoch)!
      expect(released.reason).toBe("lock-lost")
      // It does not take the lease back: the new owner keeps it.
      await sleep(2 * refreshMs)
      expect((await ownerships(db)).at(-1)!.epoch).toBe(taken.epoch)
      const { staleConfirmed, staleUnfenced } = await checkInvariants(db, paused)
      // The documented bound, per pause: at most one unfenced act after resuming (a tick whose
      // timer was due), and at most one confirmed one (a confirmation just before the pause).
      const unfenced = staleUnfenced - staleBefore.unfenced
      const confirmed = staleConfirmed - staleBefore.confirmed
      staleBefore = { unfenced: staleUnfenced, confirmed: staleConfirmed }
      expect(unfenced).toBeLessThanOrEqual(1)
      expect(confirmed).toBeLessThanOrEqual(1)
      results.push({ takeoverMs: Math.round(takeover), staleUnfenced: unfenced, staleConfirmed: confirmed })
      replicas = [standby, owner]
      await waitStandby(owner)
    }
    const fenced = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM fenced_effects")
    figures("sigstop-resume", { runs, results, fencedWrites: Number(fenced[0]!.n) })
  })

  it("dropped database sessions (pg_terminate_backend by application_name): no second owner, invariants hold (×3)", async () => {
    const outcomes: Array<string> = []
    for (let run = 0; run < runs; run++) {
      const { proc: owner, epoch } = await ownerOf(replicas)
      let dropped = 0
      await waitUntil(
        async () => {
          dropped += await db.dropSession(`fibervisor-${owner.name}`)
          return dropped > 0
        },
        { timeout: 10_000, message: "no lease session to drop" }
      )
      await sleep(expiryMs + 2 * refreshMs)
      const last = (await ownerships(db)).at(-1)!
      outcomes.push(last.epoch === epoch ? "kept" : `moved to ${last.runner}`)
      await checkInvariants(db, paused)
    }
    figures("drop-session", { runs, outcomes })
  })

  it("a tree that dies (escalates) releases the lease and is taken again after the outer backoff (I3)", async () => {
    await group.killAll()
    replicas = []
    await sleep(expiryMs + refreshMs) // the killed replicas' lease expires
    const before = (await ownerships(db)).at(-1)?.epoch ?? 0
    const dying = await startReplica(group, db, next("die"), { FV_DIE_AFTER: "2" })
    await waitUntil(async () => (await ownerships(db)).filter((row) => row.epoch > before).length >= 3, {
      timeout: 60_000,
      message: () => dying.describe()
    })
    const events = eventsOf(dying)
    const failed = events.filter((event) => event._tag === "SingletonReleased" && event.reason === "failed")
    const acquired = events.filter((event) => event._tag === "SingletonAcquired")
    expect(failed.length).toBeGreaterThanOrEqual(2)
    expect(acquired.length).toBeGreaterThanOrEqual(3)
    // Each re-acquisition comes after the failure and the outer backoff (1 s).
    const gaps = failed
      .map((release) => {
        const again = acquired.find((event) => (event.epoch as number) > (release.epoch as number))
        return again === undefined ? undefined : (again.at as number) - (release.at as number)
      })
      .filter((gap): gap is number => gap !== undefined)
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1_000)
    await checkInvariants(db, paused)
    figures("tree-dies", { restarts: failed.length, gapsMs: gaps })
    await dying.kill()
  })
})
