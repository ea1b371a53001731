/**
 * `pnpm bench:durable --quick`: the durable throughput benchmark runs end to end (every system,
 * 1 and 4 workers, a tiny N) and writes a well-formed results file — so it cannot rot — and the
 * results checker names what a broken file lacks.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { type DurableResults, problems, summarize, table } from "../src/durable/results.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

const runQuick = (out: string): Promise<{ code: number | null; output: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", "src/durable/main.ts", "--quick", "--out", out],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    const bound = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`bench:durable --quick did not end in time:\n${output}`))
    }, 280_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(bound)
      resolve({ code, output })
    })
  })

describe("bench:durable", () => {
  it("--quick runs every system with 1 and 4 workers and writes a complete results file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fv-bench-durable-test-"))
    try {
      const out = join(dir, "durable.json")
      const run = await runQuick(out)
      expect(run.code, run.output).toBe(0)
      const results = JSON.parse(readFileSync(out, "utf8")) as DurableResults
      expect(problems(results)).toEqual([])
      expect(results.quick).toBe(true)
      expect(results.systems.map((s) => s.id)).toEqual(["durable-pg", "durable-sqlite", "bullmq", "pg-boss"])
      expect(results.rounds.map((r) => `${r.system}×${r.workers}`).sort()).toEqual(
        ["durable-pg", "durable-sqlite", "bullmq", "pg-boss"].flatMap((s) => [`${s}×1`, `${s}×4`]).sort()
      )
      for (const r of results.rounds) expect(r.extraRuns).toBeGreaterThanOrEqual(0)
      expect(run.output).toContain("enqueue→complete jobs/s")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)

  it("the results checker names a missing round and a rate that is not positive", () => {
    const rate = { jobs: 10, seconds: 1, jobsPerSecond: 10 }
    const round = (system: string, workers: number) => ({
      system,
      workers,
      repeat: 1,
      enqueue: rate,
      drain: rate,
      endToEnd: rate,
      extraRuns: 0
    })
    const results: DurableResults = {
      version: 1,
      quick: true,
      date: new Date(0).toISOString(),
      durableFrom: "source",
      machine: { node: "v22", cpuModel: "test", cores: 2, loadAverage: { start: 1, end: 1 } },
      versions: {},
      settings: {
        n: 10,
        repeats: 1,
        workers: [1, 4],
        concurrency: 10,
        producers: 8,
        durablePollMs: 100,
        sqliteSynchronous: "full",
        placement: "in-process"
      },
      systems: [{ id: "bullmq", label: "BullMQ" }],
      rounds: [round("bullmq", 1), round("bullmq", 4)]
    }
    expect(problems(results)).toEqual([])
    expect(table(results)).toContain("BullMQ")
    expect(problems({ ...results, rounds: [round("bullmq", 1)] })).toEqual(["bullmq × 4 workers: 0 of 1 rounds"])
    expect(
      problems({
        ...results,
        rounds: [round("bullmq", 1), { ...round("bullmq", 4), drain: { ...rate, jobsPerSecond: 0 } }]
      })
    ).toEqual(["rounds[1].drain is not a positive rate"])
    expect(problems(null)).toEqual(["not an object"])
  })

  it("the table gives the median and range of the repeats", () => {
    const at = (jobsPerSecond: number, repeat: number) => {
      const rate = { jobs: 10, seconds: 10 / jobsPerSecond, jobsPerSecond }
      return { system: "bullmq", workers: 1, repeat, enqueue: rate, drain: rate, endToEnd: rate, extraRuns: 0 }
    }
    expect(summarize([at(300, 1), at(100, 2), at(200, 3)], "drain")).toEqual({ median: 200, min: 100, max: 300 })
    expect(summarize([at(300, 1), at(100, 2)], "enqueue")).toEqual({ median: 200, min: 100, max: 300 })
    const results: DurableResults = {
      version: 1,
      quick: false,
      date: new Date(0).toISOString(),
      durableFrom: "dist",
      machine: { node: "v22", cpuModel: "test", cores: 2, loadAverage: { start: 1, end: 1 } },
      versions: {},
      settings: {
        n: 10,
        repeats: 3,
        workers: [1],
        concurrency: 10,
        producers: 8,
        durablePollMs: 100,
        sqliteSynchronous: "full",
        placement: "in-process"
      },
      systems: [{ id: "bullmq", label: "BullMQ" }],
      rounds: [at(300, 1), at(100, 2), at(200, 3)]
    }
    expect(problems(results)).toEqual([])
    expect(table(results)).toContain("200 (100–300)")
    expect(problems({ ...results, rounds: [at(300, 1)] })).toEqual(["bullmq × 1 workers: 1 of 3 rounds"])
  })
})
