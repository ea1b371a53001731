import { existsSync } from "node:fs"
import * as Result from "effect/Result"
import { beforeAll, describe, expect, it } from "vitest"
import { runScenario } from "../src/harness.js"
import { savedResults } from "../src/paths.js"
import {
  compare,
  consistencyProblems,
  decodeResults,
  decodeResultsV1,
  encodeResults,
  readResults,
  type Results,
  type ResultsV1,
  type ScenarioResult
} from "../src/results.js"
import { quickProfile, scenarios } from "../src/scenarios.js"
import { effect3Variant, renderSvg } from "../src/svg.js"
import { report } from "../src/table.js"
import { targetsOf, versusEffect3 } from "../src/targets.js"

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

/** What both lines' results files share, around `scenarios`. */
const run = (scenarios: ReadonlyArray<ScenarioResult>) => ({
  quick: true,
  core: "source" as const,
  versions: { effect: "test", pQueue: "test" },
  revision: { commit: "test", coreDirty: null },
  machine,
  durationSeconds: 1,
  scenarios: [scenarios[0]!, ...scenarios.slice(1)] as const,
  targets: targetsOf(scenarios)
})

/** The same figures with every per-op cost multiplied by `factor`: a stand-in for the Effect 3 line's run. */
const scaled = (scenarios: ReadonlyArray<ScenarioResult>, factor: number): Array<ScenarioResult> =>
  scenarios.map((scenario) => ({
    ...scenario,
    sizes: [scenario.sizes[0]!, ...scenario.sizes.slice(1)].map((size) => ({
      ...size,
      variants: size.variants.map((v) => ({
        ...v,
        perOp: { ...v.perOp, median: v.perOp.median * factor }
      }))
    })) as unknown as ScenarioResult["sizes"]
  }))

describe("bench results", () => {
  const done: Array<ScenarioResult> = []
  beforeAll(async () => {
    for (const scenario of scenarios(tiny)) done.push(await runScenario(scenario, () => {}))
  }, 60_000)

  it("a tiny run of every scenario produces a well-formed, plottable results file", () => {
    expect(done.map((s) => s.id)).toEqual([
      "one-shot",
      "restart",
      "idle-memory",
      "offload",
      "shutdown",
      "events",
      "churn"
    ])
    const results: Results = { schemaVersion: 2, ...run(done), effect3: null, comparison: [] }
    // Through JSON and back, as `check-results` reads it.
    const decoded = decodeResults(JSON.parse(JSON.stringify(encodeResults(results))))
    expect(Result.isSuccess(decoded)).toBe(true)
    expect(consistencyProblems(results)).toEqual([])
    for (const scenario of done) {
      for (const size of scenario.sizes) {
        expect(size.ratios.length).toBeGreaterThan(0)
        for (const v of size.variants) expect(v.samples).toHaveLength(2)
      }
    }
    expect(done.find((s) => s.id === "churn")!.flatness.map((f) => f.variant)).toEqual(["fibervisor", "FiberSet"])
    expect(report(results)).toContain("## targets")
    expect(report(results)).toContain("Effect 3 line: not run")
    const svg = renderSvg(results)
    expect(svg.startsWith("<svg")).toBe(true)
    expect(svg.match(/<circle /g)?.length).toBeGreaterThan(20)
  })

  it("with the Effect 3 line's results of the same run: the comparison, its targets, table and plot", () => {
    // A stand-in for the Effect 3 line's run: the same figures at 4× the cost per operation.
    const line: ResultsV1 = { schemaVersion: 1, ...run(scaled(done, 4)) }
    expect(Result.isSuccess(decodeResultsV1(JSON.parse(JSON.stringify(line))))).toBe(true)
    const comparison = compare(done, line.scenarios)
    const both: Results = {
      schemaVersion: 2,
      ...run(done),
      targets: targetsOf(done, comparison),
      effect3: { cwd: "packages/effect3/bench", command: ["node", "src/main.ts"], results: line },
      comparison
    }
    const decodedBoth = decodeResults(JSON.parse(JSON.stringify(encodeResults(both))))
    expect(Result.isSuccess(decodedBoth)).toBe(true)
    expect(consistencyProblems(both)).toEqual([])
    // Every scenario at every size, in this line's order.
    expect(comparison.map((c) => `${c.scenario}@${c.n}`)).toEqual(
      done.flatMap((s) => s.sizes.map((size) => `${s.id}@${size.n}`))
    )
    for (const c of comparison) {
      expect(c.ratio).toBeCloseTo(0.25, 10)
      const size = done.find((s) => s.id === c.scenario)!.sizes.find((s) => s.n === c.n)!
      expect(c.effect4.fibervisor).toBe(size.variants.find((v) => v.name === "fibervisor")!.perOp.median)
      expect(c.effect4.baselines.map((b) => b.name)).toEqual(
        size.variants.filter((v) => v.role === "baseline").map((v) => v.name)
      )
      expect(c.effect3.baselines.map((b) => b.ratio)).toEqual(c.effect4.baselines.map((b) => b.ratio))
    }
    // The must against the Effect 3 line, once per scenario, at its largest size.
    const versus = both.targets.filter((t) => t.versus === versusEffect3)
    expect(versus.map((t) => t.scenario)).toEqual(done.map((s) => s.id))
    for (const t of versus) {
      expect(t.must).toBe(1)
      expect(t.meetsMust).toBe(true)
      expect(t.n).toBe(done.find((s) => s.id === t.scenario)!.sizes.at(-1)!.n)
    }
    const text = report(both)
    expect(text).toContain("against the Effect 3 line")
    expect(text).toContain("v4 ÷ v3")
    expect(text).toContain("0.250×")
    expect(renderSvg(both)).toContain(effect3Variant)

    // A comparison that does not match the figures, or a line run with another profile, is refused.
    const tampered: Results = { ...both, comparison: [{ ...comparison[0]!, ratio: 0.5 }, ...comparison.slice(1)] }
    expect(consistencyProblems(tampered)).toEqual(["comparison: does not match the figures of the two lines"])
    const otherProfile: Results = { ...both, effect3: { ...both.effect3!, results: { ...line, quick: false } } }
    expect(consistencyProblems(otherProfile)).toEqual(["effect3: quick false, this run quick true"])
    expect(consistencyProblems({ ...both, effect3: null })).toEqual([
      "a comparison without the Effect 3 line's results"
    ])
  })

  it("rejects a malformed file", () => {
    expect(Result.isFailure(decodeResults({ schemaVersion: 1, quick: true }))).toBe(true)
    expect(Result.isFailure(decodeResults({ schemaVersion: 2 }))).toBe(true)
    expect(Result.isFailure(decodeResultsV1({ schemaVersion: 2 }))).toBe(true)
  })

  it.runIf(existsSync(savedResults))("the results kept for the docs are well-formed", () => {
    // Either schema: a full run of this line writes schema 2; the file kept from before the Effect 3 comparison is schema 1.
    expect(consistencyProblems(readResults(savedResults))).toEqual([])
  })
})
