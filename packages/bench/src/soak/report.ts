/** The soak's checks, its results (the JSON written to results/soak.json) and its table. */
import { maxTaskLabels } from "@fibervisor/core/internal/taskMetrics"
import { bytes, num, pad } from "../table.js"
import { type Check, check, equals, type PhaseResult, READINGS, SETTLE, type SettledHeap } from "./measure.js"
import { HEAP_GROWTH_LIMIT_PERCENT, type Sizes } from "./profile.js"
import type { Registries, SoakRun } from "./run.js"

export const checksOf = (r: SoakRun): Array<Check> => {
  const growth = heapGrowthPercent(r)
  const reg = r.registriesEnd
  return [
    ...r.phases.flatMap((phase) => phase.checks),
    check(
      `heap growth ≤ ${HEAP_GROWTH_LIMIT_PERCENT}%`,
      growth <= HEAP_GROWTH_LIMIT_PERCENT,
      `${bytes(r.heapAfterWarmup.heapUsedBytes)} → ${bytes(r.heapEnd.heapUsedBytes)} (${signed(growth)}%)`
    ),
    equals("supervisor: size", reg.supervisorSize, 0),
    equals("supervisor: list", reg.supervisorList, 0),
    equals("supervisor: busy slots", reg.supervisorSlots, 0),
    equals("offload: activeCount", reg.offloadActive, 0),
    equals("offload: queuedCount", reg.offloadQueued, 0),
    equals("live.fibers (supervisor and offload open, idle)", reg.liveFibers, 0),
    equals("live.fibers (after close)", r.liveFibersAfterClose, 0),
    check(
      `task labels ≤ cap (${maxTaskLabels}) + "_other"`,
      r.taskLabelsEnd <= maxTaskLabels + 1,
      `${r.taskLabelsEnd} (${r.taskLabelsAfterWarmup} after the warm-up)`
    ),
    equals("task labels: no growth since the warm-up", r.taskLabelsEnd, r.taskLabelsAfterWarmup),
    equals("gauge fibervisor_task_running", r.taskRunningGauge, 0),
    equals("gauge fibervisor_offload_active", r.offloadActiveGauge, 0)
  ]
}

export const heapGrowthPercent = (r: SoakRun): number =>
  ((r.heapEnd.heapUsedBytes - r.heapAfterWarmup.heapUsedBytes) / r.heapAfterWarmup.heapUsedBytes) * 100

export const signed = (value: number): string => `${value >= 0 ? "+" : ""}${value.toFixed(2)}`

export interface SoakResults {
  readonly schemaVersion: 1
  readonly quick: boolean
  readonly core: "source" | "dist"
  readonly versions: { readonly effect: string }
  readonly revision: { readonly commit: string; readonly coreDirty: boolean | null }
  readonly machine: {
    readonly node: string
    readonly v8: string
    readonly platform: string
    readonly arch: string
    readonly cpuModel: string
    readonly cores: number
    readonly totalMemoryBytes: number
    readonly date: string
    /** 1/5/15-minute load averages when the run started and ended: other work on the machine skews timings. */
    readonly loadAverageStart: ReadonlyArray<number>
    readonly loadAverageEnd: ReadonlyArray<number>
  }
  readonly durationSeconds: number
  readonly sizes: Sizes
  readonly warmup: Sizes & { readonly seconds: number }
  readonly subscriber: boolean
  readonly eventsSeen: number | null
  readonly heap: {
    readonly afterWarmup: SettledHeap
    readonly end: SettledHeap
    readonly afterClose: SettledHeap
    readonly growthPercent: number
    readonly limitPercent: number
  }
  readonly phases: ReadonlyArray<PhaseResult>
  readonly registries: Registries & { readonly liveFibersAfterClose: number }
  readonly metrics: {
    readonly taskLabelCap: number
    readonly taskLabelsAfterWarmup: number
    readonly taskLabelsEnd: number
    readonly taskRunningGauge: number
    readonly offloadActiveGauge: number
  }
  readonly checks: ReadonlyArray<Check>
  readonly ok: boolean
}

export const tableOf = (results: SoakResults): string => {
  const m = results.machine
  const lines = [
    `fibervisor soak${results.quick ? " (--quick: smoke run, small N)" : ""}`,
    `node ${m.node} (V8 ${m.v8}) ${m.platform}/${m.arch} · ${m.cpuModel} · ${m.cores} cores · ${bytes(m.totalMemoryBytes)} · ${m.date}`,
    `effect ${results.versions.effect} · @fibervisor/core from ${results.core} at ${results.revision.commit}${results.revision.coreDirty ? " (+ uncommitted changes in packages/core)" : ""} · ${num(results.durationSeconds)} s (warm-up ${num(results.warmup.seconds)} s)`,
    `load average (1/5/15 min) at start ${m.loadAverageStart.map(num).join(" ")}, at end ${m.loadAverageEnd.map(num).join(" ")} — timings are noisy when the machine is busy`,
    ""
  ]
  for (const phase of results.phases) {
    lines.push(`## ${phase.title} (${phase.id}) — one op: ${phase.op}`)
    const rows = [["ops", "segment", "time", "per op", "ops/s", "CPU per op", "heap after GC", "live fibers"]]
    for (const s of phase.segments) {
      rows.push([
        s.upTo.toLocaleString("en-US"),
        s.ops.toLocaleString("en-US"),
        `${num(s.ms)} ms`,
        `${num(s.usPerOp)} µs`,
        Math.round((s.ops * 1000) / s.ms).toLocaleString("en-US"),
        `${num(s.cpuUsPerOp)} µs`,
        bytes(s.heapUsedBytes),
        String(s.liveFibers)
      ])
    }
    rows.push([
      "total",
      phase.ops.toLocaleString("en-US"),
      `${num(phase.totalMs)} ms`,
      `${num(phase.usPerOp)} µs`,
      Math.round(phase.opsPerSecond).toLocaleString("en-US"),
      `${num(phase.cpuUsPerOp)} µs`,
      "",
      ""
    ])
    lines.push(...pad(rows, new Set([0, 1, 2, 3, 4, 5, 6, 7])).map((line) => `   ${line}`))
    const s = phase.steadiness
    if (s !== null) {
      lines.push(
        `   steady: last segment ${num(s.lastUsPerOp)} µs/op ÷ first ${num(s.firstUsPerOp)} µs/op = ${num(s.ratio)}× — ${s.steady ? "yes" : "NO"} (≤ ${s.limit}×; reported, never asserted); CPU time per op: ${num(s.cpuRatio)}×`
      )
    }
    lines.push("")
  }
  const h = results.heap
  lines.push(`## heap (heapUsed after a full GC; the lowest of ${READINGS} readings ${SETTLE} apart)`)
  lines.push(
    ...pad(
      [
        ["reading", "heapUsed (lowest)", "readings", "heapTotal", "rss"],
        ...(
          [
            ["after warm-up (supervisor + offload open)", h.afterWarmup],
            ["at the end (supervisor + offload open)", h.end],
            ["after closing them", h.afterClose]
          ] as const
        ).map(([name, r]) => [
          name,
          bytes(r.heapUsedBytes),
          r.readingsBytes.map(bytes).join(", "),
          bytes(r.heapTotalBytes),
          bytes(r.rssBytes)
        ])
      ],
      new Set([1, 2, 3, 4])
    ).map((line) => `   ${line}`)
  )
  lines.push(`   growth: ${signed(h.growthPercent)}% (limit ${h.limitPercent}%)`, "")
  lines.push("## checks")
  lines.push(
    ...pad(
      [["check", "", "value"], ...results.checks.map((c) => [c.name, c.ok ? "ok" : "FAILED", c.detail])],
      new Set()
    ).map((line) => `   ${line}`)
  )
  if (results.eventsSeen !== null)
    lines.push(`   (an event subscriber ran throughout: ${results.eventsSeen} events seen)`)
  lines.push("", results.ok ? "soak: ok" : "soak: FAILED")
  return lines.join("\n")
}
