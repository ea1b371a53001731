/**
 * A hand-written SVG of the per-operation cost against N, one panel per scenario: the median per
 * variant, with a bar from the fastest to the slowest round. N is on a log scale, the cost on a linear
 * scale from zero, so a flat line means a constant cost per operation.
 */
import type { AnyResults, ScenarioResult, SizeResult } from "./results.js"
import { bytes, num } from "./table.js"

const PANEL_W = 460
const PANEL_H = 290
const COLUMNS = 2
const MARGIN = { top: 54, right: 16, bottom: 42, left: 70 }
const HEADER = 64
const COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b"]

const escape = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Round tick values from 0 to at least `max`. */
export const niceTicks = (max: number, count = 5): Array<number> => {
  if (!(max > 0)) return [0, 1]
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
  const ticks: Array<number> = []
  for (let t = 0; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)))
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)))
  return ticks
}

const compactN = (n: number): string =>
  n >= 1_000_000 && n % 1_000_000 === 0 ? `${n / 1_000_000}M` : n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n)

const panel = (scenario: ScenarioResult, x0: number, y0: number): string => {
  const out: Array<string> = []
  const plotW = PANEL_W - MARGIN.left - MARGIN.right
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom
  const left = x0 + MARGIN.left
  const top = y0 + MARGIN.top
  const names = [...new Set(scenario.sizes.flatMap((s) => s.variants.map((v) => v.name)))]
  const ns = scenario.sizes.map((s) => s.n)
  const maxCost = Math.max(...scenario.sizes.flatMap((s) => s.variants.map((v) => v.perOp.max)))
  // Heap costs get ticks on round KiB.
  const tickUnit = scenario.metric === "heap" && maxCost >= 1024 ? 1024 : 1
  const ticks = niceTicks(maxCost / tickUnit).map((t) => t * tickUnit)
  const yMax = ticks[ticks.length - 1]!
  const logMin = Math.log10(Math.min(...ns))
  const logMax = Math.log10(Math.max(...ns))
  const x = (n: number) =>
    logMax === logMin ? left + plotW / 2 : left + 30 + ((Math.log10(n) - logMin) / (logMax - logMin)) * (plotW - 60)
  const y = (v: number) => top + plotH - (v / yMax) * plotH
  const unit = scenario.metric === "time" ? "µs" : "bytes"
  const label = (v: number) => (scenario.metric === "time" ? `${num(v)} µs` : bytes(v))

  out.push(`<g font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#333">`)
  out.push(
    `<text x="${x0 + 12}" y="${y0 + 18}" font-size="14" font-weight="bold">${escape(scenario.title)}</text>`,
    `<text x="${x0 + 12}" y="${y0 + 34}" fill="#666">${escape(`per op (${unit}): ${scenario.op}`)}</text>`
  )
  for (const t of ticks) {
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${escape(label(t))}</text>`
    )
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`)
  for (const n of ns) {
    out.push(
      `<line x1="${x(n)}" x2="${x(n)}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#999"/>`,
      `<text x="${x(n)}" y="${top + plotH + 16}" text-anchor="middle">${compactN(n)}</text>`
    )
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#666">${escape(`N (${scenario.nMeans}), log scale`)}</text>`
  )
  names.forEach((name, i) => {
    const color = COLORS[i % COLORS.length]!
    const width = i === 0 ? 2.5 : 1.5
    const offset = (i - (names.length - 1) / 2) * 5
    const points = scenario.sizes.flatMap((s) => {
      const v = s.variants.find((w) => w.name === name)
      return v === undefined ? [] : [{ n: s.n, v }]
    })
    if (points.length > 1) {
      const d = points.map((p, j) => `${j === 0 ? "M" : "L"}${x(p.n).toFixed(1)},${y(p.v.perOp.median).toFixed(1)}`)
      out.push(`<path d="${d.join(" ")}" fill="none" stroke="${color}" stroke-width="${width}"/>`)
    }
    for (const p of points) {
      const px = x(p.n) + offset
      out.push(
        `<line x1="${px}" x2="${px}" y1="${y(p.v.perOp.min)}" y2="${y(p.v.perOp.max)}" stroke="${color}" stroke-width="1"/>`,
        `<circle cx="${px}" cy="${y(p.v.perOp.median)}" r="3.5" fill="${color}"><title>${escape(`${name} at N=${p.n}: median ${label(p.v.perOp.median)}, min–max ${label(p.v.perOp.min)} – ${label(p.v.perOp.max)}`)}</title></circle>`
      )
    }
    // The legend sits right of the title, above the plot.
    const lx = x0 + PANEL_W - MARGIN.right - 160
    const ly = y0 + 14 + i * 12
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="${width}"/>`,
      `<text x="${lx + 24}" y="${ly}">${escape(name)}</text>`
    )
  })
  out.push(`</g>`)
  return out.join("\n")
}

/** The Effect 3 line's fibervisor, drawn beside the Effect 4 edition's variants. */
export const effect3Variant = "fibervisor (Effect 3 line)"

/** Each scenario with the Effect 3 line's fibervisor variant added at the sizes both lines ran. */
const withEffect3 = (results: AnyResults): ReadonlyArray<ScenarioResult> => {
  if (results.schemaVersion === 1 || results.effect3 === null) return results.scenarios
  const other = results.effect3.results.scenarios
  return results.scenarios.map((scenario) => {
    const v3 = other.find((s) => s.id === scenario.id)
    const withV3 = (size: SizeResult): SizeResult => {
      const fibervisor = v3?.sizes.find((s) => s.n === size.n)?.variants.find((v) => v.role === "fibervisor")
      return fibervisor === undefined
        ? size
        : { ...size, variants: [...size.variants, { ...fibervisor, name: effect3Variant }] }
    }
    return { ...scenario, sizes: [withV3(scenario.sizes[0]), ...scenario.sizes.slice(1).map(withV3)] }
  })
}

export const renderSvg = (results: AnyResults): string => {
  const scenarios = withEffect3(results)
  const rows = Math.ceil(scenarios.length / COLUMNS)
  const width = COLUMNS * PANEL_W
  const height = HEADER + rows * PANEL_H
  const m = results.machine
  const subtitle = `node ${m.node} · ${m.cpuModel} · ${m.cores} cores · ${m.date.slice(0, 10)}${results.quick ? " · QUICK RUN (smoke test, not a measurement)" : ""} · dot: median, bar: min–max over the measured rounds`
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="26" font-family="Helvetica, Arial, sans-serif" font-size="18" font-weight="bold" fill="#222">fibervisor: cost per operation against N</text>`,
    `<text x="12" y="46" font-family="Helvetica, Arial, sans-serif" font-size="11" fill="#666">${escape(subtitle)}</text>`
  ]
  scenarios.forEach((scenario, i) => {
    parts.push(panel(scenario, (i % COLUMNS) * PANEL_W, HEADER + Math.floor(i / COLUMNS) * PANEL_H))
  })
  parts.push(`</svg>`)
  return parts.join("\n") + "\n"
}
