import { existsSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { runScenario } from "../src/harness.js"
import { savedResults } from "../src/paths.js"
import { consistencyProblems, decodeResults, encodeResults, type Results } from "../src/results.js"
import { quickProfile, scenarios } from "../src/scenarios.js"
import { renderSvg } from "../src/svg.js"
import { targetsOf } from "../src/targets.js"
import { report } from "../src/table.js"

/** The quick profile made smaller still: every scenario runs, one round, no warm-up. */
const tiny = {
  ...quickProfile,
  sizes: [20, 60],
  plan: () => ({ warmup: 0, rounds: 2 }),
  memoryN: 50,
  memoryPlan: { warmup: 0, rounds: 2 },
  churnOps: 10
}

const machine = {
  node: process.version,
  v8: process.versions.v8,
  platform: process.platform,
  arch: process.arch,
  cpuModel: "test",
  cores: 1,
  totalMemoryBytes: 1024,
  date: new Date(0).toISOString()
}

describe("bench results", () => {
  it("a tiny run of every scenario produces a well-formed, plottable results file", { timeout: 60_000 }, async () => {
    const done = []
    for (const scenario of scenarios(tiny)) done.push(await runScenario(scenario, () => {}))
    expect(done.map((s) => s.id)).toEqual([
      "one-shot",
      "restart",
      "idle-memory",
      "offload",
      "shutdown",
      "events",
      "churn"
    ])
    const results: Results = {
      schemaVersion: 1,
      quick: true,
      core: "source",
      versions: { effect: "test", pQueue: "test" },
      revision: { commit: "test", coreDirty: null },
      machine,
      durationSeconds: 1,
      scenarios: [done[0]!, ...done.slice(1)],
      targets: targetsOf(done)
    }
    // Through JSON and back, as `check-results` reads it.
    const decoded = decodeResults(JSON.parse(JSON.stringify(encodeResults(results))))
    expect(decoded._tag).toBe("Right")
    expect(consistencyProblems(results)).toEqual([])
    for (const scenario of done) {
      for (const size of scenario.sizes) {
        expect(size.ratios.length).toBeGreaterThan(0)
        for (const v of size.variants) expect(v.samples).toHaveLength(2)
      }
    }
    expect(done.find((s) => s.id === "churn")!.flatness.map((f) => f.variant)).toEqual(["fibervisor", "FiberSet"])
    expect(report(results)).toContain("## targets")
    const svg = renderSvg(results)
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg.match(/<circle /g)?.length).toBeGreaterThan(20)
  })

  it("rejects a malformed file", () => {
    expect(decodeResults({ schemaVersion: 1, quick: true })._tag).toBe("Left")
    expect(decodeResults({ schemaVersion: 2 })._tag).toBe("Left")
  })

  it.runIf(existsSync(savedResults))("the results kept for the docs are well-formed", () => {
    const decoded = decodeResults(JSON.parse(readFileSync(savedResults, "utf8")))
    expect(decoded._tag).toBe("Right")
    if (decoded._tag === "Right") expect(consistencyProblems(decoded.right)).toEqual([])
  })
})
