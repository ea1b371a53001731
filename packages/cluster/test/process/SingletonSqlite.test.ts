/**
 * `Task.singleton` on `ClusterSupervisor.layerSqlite`: two processes, one SQLite file. One owns,
 * the other stands by; killing the owner moves the singleton to the other within expiry + refresh
 * + slack, with a higher epoch; a SIGTERM hands it back at once. Lease settings: refresh 500 ms,
 * expiry 3 s.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fixturePath, type Proc, ProcessGroup, waitUntil } from "../harness/index.js"
import { eventsOf, expiryMs, graceMs, refreshMs, waitStandby } from "./scenario.js"

const slackMs = 2_000
const group = new ProcessGroup()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fv-singleton-sqlite-"))
const filename = path.join(dir, "leases.db")

afterAll(async () => {
  await group.killAll()
  fs.rmSync(dir, { recursive: true, force: true })
})

const start = async (name: string): Promise<Proc> => {
  const proc = group.spawn({
    name,
    script: fixturePath("singleton-runner.ts"),
    env: {
      FV_BACKEND: "sqlite",
      FV_SQLITE_FILE: filename,
      FV_REFRESH_MS: String(refreshMs),
      FV_EXPIRY_MS: String(expiryMs)
    }
  })
  await proc.waitForLine("READY", 60_000)
  return proc
}

/** The epoch `proc` acquired last, waiting (bounded) for one above `after`; with the time it printed it. */
const acquired = async (proc: Proc, after: number, timeout: number) => {
  let found: Record<string, unknown> | undefined
  await waitUntil(
    () => {
      found = eventsOf(proc).find((event) => event._tag === "SingletonAcquired" && (event.epoch as number) > after)
      return found !== undefined
    },
    { timeout, message: () => `${proc.name} never acquired an epoch above ${after}\n${group.describe()}` }
  )
  return { epoch: found!.epoch as number, at: found!.at as number }
}

describe("Task.singleton on SQLite, two processes, one file", () => {
  it("one owner; SIGKILL moves it to the other (higher epoch); SIGTERM hands it back within grace", async () => {
    const a = await start("a")
    const first = await acquired(a, 0, 30_000)
    const b = await start("b")
    await waitStandby(b)
    expect(eventsOf(b).find((event) => event._tag === "SingletonStandby")?.owner).toBe("a")
    expect(eventsOf(b).some((event) => event._tag === "SingletonAcquired")).toBe(false)

    const killedAt = Date.now()
    await a.kill()
    const second = await acquired(b, first.epoch, expiryMs + refreshMs + slackMs + 10_000)
    expect(second.epoch).toBeGreaterThan(first.epoch)
    const failover = second.at - killedAt
    expect(failover).toBeLessThanOrEqual(expiryMs + refreshMs + slackMs)

    const c = await start("c")
    await waitStandby(c)
    const termAt = Date.now()
    expect((await b.stop()).code).toBe(0)
    const third = await acquired(c, second.epoch, graceMs + refreshMs + slackMs + 10_000)
    expect(third.epoch).toBeGreaterThan(second.epoch)
    const released = eventsOf(b).find((event) => event._tag === "SingletonReleased")!
    expect(released.reason).toBe("handoff")
    expect(third.at).toBeGreaterThanOrEqual(released.at as number)
    const handoff = third.at - termAt
    expect(handoff).toBeLessThanOrEqual(graceMs + refreshMs + slackMs)
    process.stdout.write(`FIGURES sqlite ${JSON.stringify({ failoverMs: failover, handoffMs: handoff })}\n`)
  })
})
