/**
 * The demo's live table at the widths of a narrow (80) and a wide (160) terminal: below 130 columns
 * the compact layout keeps every line within the terminal, so nothing wraps.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backoff, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { Effect } from "effect"
import { Stats } from "../src/demo/service.js"
import { COMPACT_BELOW, frame } from "../src/demo/table.js"

/** The demo's tree, with the same names, strategies and a failure with a long reason. */
const demoTree = Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  const worker = (name: string) => Task.restartable(name, Effect.never)
  yield* sup.add(
    Supervisor.task("app", [
      Task.make(
        "connector",
        Effect.andThen(Effect.sleep("50 millis"), TaskError.fail("connection reset by peer while reading the feed")),
        { ready: true, backoff: Backoff.constant("500 millis") }
      ),
      Task.periodic("heartbeat", Effect.void, "1 second"),
      Supervisor.task("workers", [worker("worker-1"), worker("worker-2"), worker("worker-3")], {
        strategy: "one-for-all"
      })
    ])
  )
  yield* sup.add(Task.restartable("traffic", Effect.never))
  yield* TestTime.adjust("100 millis")
  return yield* sup.tree
})

const stats = () => {
  const stats = new Stats()
  Object.assign(stats, { requests: 12345, fresh: 10000, stale: 2345, refreshesRun: 99, refreshesDeduplicated: 2246 })
  return stats
}

const draw = (columns: number) =>
  Effect.map(demoTree, (tree) =>
    frame(tree, stats(), {
      url: "http://127.0.0.1:35673/rate",
      elapsedMs: 3300,
      durationMs: 10000,
      seed: 42,
      status: "running",
      now: 100,
      columns
    })
  )

describe("demo: the live table's layout", () => {
  it.effect("80 columns: the compact layout, every line shorter than the terminal", () =>
    Effect.gen(function* () {
      expect(80).toBeLessThan(COMPACT_BELOW)
      const lines = (yield* draw(80)).split("\n")
      expect(lines.filter((line) => line.length >= 80)).toEqual([])
      const text = lines.join("\n")
      expect(text).toContain("│ att │ rst │     next │ failure")
      expect(text).not.toContain("next attempt in")
      const row = (name: string) => lines.find((line) => line.startsWith(`│ ${name} `)) ?? ""
      expect(row("  app (one-for-one)")).toMatch(/│ running\s+│\s+1 │\s+0 │/)
      expect(row("    connector (ready)")).toMatch(/│ backing-off\s+│\s+1 │\s+1 │\s+450 ms │ connectio… │$/)
      expect(row("    workers (one-for-all)")).toMatch(/│ running /)
      expect(row("      worker-3")).toMatch(/│ running /)
      expect(row("  traffic")).toMatch(/│ running /)
      // The status lines are split at " · " rather than wrapped by the terminal.
      expect(lines[0]).toBe("fibervisor demo · running · 3.3 s of 10.0 s · seed 42")
      expect(lines[1]).toBe("http://127.0.0.1:35673/rate")
      expect(text).toContain(
        "http: 12345 requests (10000 fresh, 2345 stale, 0 miss)\nrefreshes: 99 run, 2246 deduplicated"
      )
      // 18 lines: fits a 24-line terminal with room for the shell prompt.
      expect(lines.length).toBeLessThanOrEqual(20)
    })
  )

  it.effect("160 columns: the full layout, with paths and every header", () =>
    Effect.gen(function* () {
      const lines = (yield* draw(160)).split("\n")
      expect(lines.filter((line) => line.length >= 160)).toEqual([])
      const text = lines.join("\n")
      expect(text).toContain("│ task ")
      expect(text).toContain("│ attempt │ restarts │ next attempt in │ last failure")
      expect(text).toContain("│ root/app/workers (one-for-all) │ running")
      expect(text).toContain(
        "│ root/app/connector (ready)     │ backing-off │       1 │        1 │          450 ms │ connection reset by peer while readin… │"
      )
      expect(lines[0]).toBe("fibervisor demo · running · 3.3 s of 10.0 s · seed 42 · http://127.0.0.1:35673/rate")
    })
  )
})
