/** The plain-text report printed on stdout. */
import type { Comparison, LineFigures, Results, ScenarioResult, VariantResult } from "./results.js"

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : String(value)

/** 3 significant figures, without exponents for the usual ranges. */
export const num = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  if (value === 0) return "0"
  const abs = Math.abs(value)
  if (abs >= 100) return fixed(value, 0)
  if (abs >= 10) return fixed(value, 1)
  if (abs >= 1) return fixed(value, 2)
  return fixed(value, 3)
}

export const bytes = (value: number): string => {
  const abs = Math.abs(value)
  if (abs >= 1024 * 1024) return `${num(value / (1024 * 1024))} MiB`
  if (abs >= 1024) return `${num(value / 1024)} KiB`
  return `${num(value)} B`
}

/** Pads the cells of `rows` into columns (the `rightAligned` ones to the right), two spaces apart. */
export const pad = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): Array<string> => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows.map((row) =>
    row
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd()
  )
}

const raw = (scenario: ScenarioResult, value: number): string =>
  scenario.metric === "time" ? `${num(value)} ms` : bytes(value)

const perOp = (scenario: ScenarioResult, v: VariantResult): string =>
  scenario.metric === "time" ? `${num(v.perOp.median)} µs` : bytes(v.perOp.median)

const cost = (c: Comparison, value: number): string => (c.unit === "us" ? `${num(value)} µs` : bytes(value))

const baselinesOf = (c: Comparison, figures: LineFigures): string =>
  figures.baselines
    .map((b) => `${b.name} ${cost(c, b.perOp)}${b.ratio === null ? "" : ` (${num(b.ratio)}×)`}`)
    .join(", ")

/** fibervisor's per-op cost on each line; "ok" when the Effect 4 edition costs no more than the Effect 3 line. */
const verdict = (c: Comparison): string =>
  c.ratio === null ? "–" : c.ratio <= 1 ? "ok" : c.metric === "time" ? "SLOWER" : "HEAVIER"

const comparisonRows = (rows: ReadonlyArray<Comparison>, withScenario: boolean): Array<Array<string>> => [
  [
    ...(withScenario ? ["scenario"] : []),
    "N",
    "Effect 4 edition",
    "Effect 4 baselines (fibervisor ÷ it)",
    "Effect 3 line",
    "Effect 3 baselines (fibervisor ÷ it)",
    "v4 ÷ v3",
    ""
  ],
  ...rows.map((c) => [
    ...(withScenario ? [c.scenario] : []),
    String(c.n),
    cost(c, c.effect4.fibervisor),
    baselinesOf(c, c.effect4),
    cost(c, c.effect3.fibervisor),
    baselinesOf(c, c.effect3),
    c.ratio === null ? "–" : `${num(c.ratio)}×`,
    verdict(c)
  ])
]

export const scenarioTable = (scenario: ScenarioResult, comparison: ReadonlyArray<Comparison> = []): Array<string> => {
  const rows: Array<Array<string>> = [
    ["N", "variant", "median", "min–max", "IQR", "per op", "ops/s", "fibervisor ÷ baseline"]
  ]
  for (const size of scenario.sizes) {
    for (const v of size.variants) {
      const ratio = size.ratios.find((r) => r.baseline === v.name)
      rows.push([
        String(size.n),
        v.name,
        raw(scenario, v.median),
        `${raw(scenario, v.min)} – ${raw(scenario, v.max)}`,
        `${raw(scenario, v.q1)} – ${raw(scenario, v.q3)}`,
        perOp(scenario, v),
        v.opsPerSecond === undefined ? "" : Math.round(v.opsPerSecond).toLocaleString("en-US"),
        ratio === undefined ? "" : `${num(ratio.ratio)}×`
      ])
    }
  }
  const lines = [`## ${scenario.title} (${scenario.id}) — per op: ${scenario.op}; N = ${scenario.nMeans}`]
  lines.push(`   ${scenario.description}`)
  lines.push(...pad(rows, new Set([0, 2, 3, 4, 5, 6, 7])).map((line) => `   ${line}`))
  if (scenario.flatness.length > 0) {
    const flat = scenario.flatness.map((f) => `${f.variant} ${num(f.ratio)}×`).join(", ")
    const f = scenario.flatness[0]!
    lines.push(`   growth of the per-op cost from N=${f.fromN} to N=${f.toN}: ${flat}`)
  }
  const versus = comparison.filter((c) => c.scenario === scenario.id)
  if (versus.length > 0) {
    lines.push(
      `   against the Effect 3 line (median per op; v4 ÷ v3: fibervisor's cost on the Effect 4 edition ÷ on the Effect 3 line):`
    )
    lines.push(...pad(comparisonRows(versus, false), new Set([0, 1, 3, 5])).map((line) => `   ${line}`))
  }
  return lines
}

const effect3Header = (results: Results): string => {
  const line = results.effect3
  if (line === null) return "Effect 3 line: not run (--no-effect3)"
  const r = line.results
  const node =
    r.machine.node === results.machine.node
      ? `the same node ${r.machine.node}`
      : `node ${r.machine.node} (NOT the same node as the Effect 4 edition)`
  return `Effect 3 line (${line.cwd}, in a child process after the Effect 4 edition): effect ${r.versions.effect} · ${node} · @fibervisor/core ${r.core === "dist" ? "from dist" : "from source"} · ${num(r.durationSeconds)} s`
}

export const report = (results: Results): string => {
  const m = results.machine
  const lines = [
    `fibervisor bench${results.quick ? " (--quick: smoke run, small N, timings meaningless)" : ""}`,
    `node ${m.node} (V8 ${m.v8}) ${m.platform}/${m.arch} · ${m.cpuModel} · ${m.cores} cores · ${bytes(m.totalMemoryBytes)} · ${m.date}`,
    `Effect 4 edition: effect ${results.versions.effect} · p-queue ${results.versions.pQueue} · @fibervisor/core from ${results.core} at ${results.revision.commit}${results.revision.coreDirty ? " (+ uncommitted changes in packages/core)" : ""} · ${num(results.durationSeconds)} s`,
    effect3Header(results),
    ""
  ]
  for (const scenario of results.scenarios) lines.push(...scenarioTable(scenario, results.comparison), "")
  if (results.comparison.length > 0) {
    // One row per scenario, at the largest size both lines ran.
    const last = results.scenarios.flatMap((s) => {
      const rows = results.comparison.filter((c) => c.scenario === s.id)
      return rows.length === 0 ? [] : [rows[rows.length - 1]!]
    })
    lines.push(
      `## the Effect 4 edition against the Effect 3 line, at the largest N (median per op; must: v4 ÷ v3 ≤ 1×, never slower or heavier)`
    )
    lines.push(...pad(comparisonRows(last, true), new Set([1, 2, 4, 6])).map((line) => `   ${line}`), "")
  }
  if (results.targets.length > 0) {
    const verdict = (meets: boolean | null, limit: number | null) =>
      meets === null || limit === null ? "–" : `${meets ? "ok" : "MISSED"} (≤ ${limit}×)`
    const rows = [["scenario", "N", "fibervisor vs", "ratio", "must", "aim", ""]]
    for (const t of results.targets) {
      rows.push([
        t.scenario,
        String(t.n),
        t.versus,
        `${num(t.ratio)}×`,
        verdict(t.meetsMust, t.must),
        verdict(t.meetsAim, t.aim),
        t.note ?? ""
      ])
    }
    lines.push(
      "## targets (docs/benchmarks.md, at the largest N; reported, never asserted; growth = per op at the largest N ÷ at the smallest)"
    )
    lines.push(...pad(rows, new Set([1, 3])).map((line) => `   ${line}`))
  }
  return lines.join("\n")
}
