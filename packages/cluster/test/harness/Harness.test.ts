/**
 * The harness itself, against real processes and the real Postgres: signals reach the child,
 * output is collected, a session is dropped by application_name, the database is dropped, and
 * `waitUntil` fails with its message at its deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { fixturePath, ProcessGroup, TestDatabase, waitUntil } from "./index.js"

const group = new ProcessGroup()
let db: TestDatabase

beforeAll(async () => {
  db = await TestDatabase.create("harness")
})

afterAll(async () => {
  await group.killAll()
  await db?.drop()
})

const ticks = (lines: ReadonlyArray<string>) => lines.filter((line) => line.startsWith("TICK")).length

describe("harness", () => {
  it("SIGKILL ends a child at once; SIGTERM lets it run its handler", async () => {
    const a = group.spawn({ name: "a", script: fixturePath("harness-probe.ts") })
    const b = group.spawn({ name: "b", script: fixturePath("harness-probe.ts") })
    await a.waitForLine("READY")
    await b.waitForLine("READY")
    expect((await a.kill()).signal).toBe("SIGKILL")
    const exit = await b.stop()
    expect(exit.code).toBe(0)
    expect(b.hasLine("STOPPING")).toBe(true)
    expect(a.hasLine("STOPPING")).toBe(false)
  })

  it("SIGSTOP freezes a child (no output), SIGCONT resumes it", async () => {
    const c = group.spawn({ name: "c", script: fixturePath("harness-probe.ts") })
    await c.waitForLine("READY")
    await waitUntil(() => ticks(c.stdout) >= 3, { timeout: 20_000, message: () => c.describe() })
    c.freeze()
    // Output already in the pipe may still arrive: wait until the count is stable, then check
    // that it stays put while frozen.
    let seen = -1
    await waitUntil(
      () => {
        const now = ticks(c.stdout)
        const stable = now === seen
        seen = now
        return stable
      },
      { timeout: 10_000, interval: 300, message: "output never settled while frozen" }
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(ticks(c.stdout)).toBe(seen)
    c.resume()
    await waitUntil(() => ticks(c.stdout) > seen + 2, { timeout: 20_000, message: () => c.describe() })
    await c.kill()
  })

  it("dropSession terminates a child's Postgres session by application_name", async () => {
    const d = group.spawn({ name: "d", script: fixturePath("harness-probe.ts"), env: db.env })
    await d.waitForLine("SESSION-OPEN")
    expect(await db.dropSession("probe-nobody")).toBe(0)
    await waitUntil(async () => (await db.dropSession("probe-d")) > 0, {
      timeout: 10_000,
      message: "the session never showed in pg_stat_activity"
    })
    await d.waitForLine("SESSION-LOST")
    await d.kill()
  })

  it("query runs in the file's own database", async () => {
    const rows = await db.query<{ name: string }>("SELECT current_database() AS name")
    expect(rows).toEqual([{ name: db.name }])
    await db.query("CREATE TABLE t (x int)")
    await db.query("INSERT INTO t VALUES ($1), ($2)", [1, 2])
    expect(await db.query<{ n: string }>("SELECT count(*)::text AS n FROM t")).toEqual([{ n: "2" }])
  })

  it("a database is dropped even while a session is open (WITH FORCE)", async () => {
    const other = await TestDatabase.create("harness_drop")
    const e = group.spawn({ name: "e", script: fixturePath("harness-probe.ts"), env: other.env })
    await e.waitForLine("SESSION-OPEN")
    await other.drop()
    expect(await db.query("SELECT 1 FROM pg_database WHERE datname = $1", [other.name])).toEqual([])
    await e.waitForLine("SESSION-LOST")
    await e.kill()
  })

  it("waitUntil fails with its message at the deadline", async () => {
    await expect(waitUntil(() => false, { timeout: 100, message: "never true" })).rejects.toThrow(
      /timed out after 100 ms: never true/
    )
  })

  it("killAll leaves no child alive", async () => {
    const f = group.spawn({ name: "f", script: fixturePath("harness-probe.ts") })
    await f.waitForLine("READY")
    f.freeze()
    await group.killAll()
    expect(group.alive).toEqual([])
    expect(f.exitInfo?.signal).toBe("SIGKILL")
  })
})
