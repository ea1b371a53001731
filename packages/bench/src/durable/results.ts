/**
 * The durable benchmark's results file (`packages/bench/results/durable.json`): its shape, how it
 * is checked when read back, and the plain-text table printed after a run.
 */
import { num } from "../table.js"
import type { RoundResult } from "./measure.js"

export interface DurableResults {
  readonly version: 1
  readonly quick: boolean
  readonly date: string
  /** Whether @fibervisor/durable ran from its TypeScript sources (`bench:durable:source`) or its build. */
  readonly durableFrom: "source" | "dist"
  readonly machine: {
    readonly node: string
    readonly cpuModel: string
    readonly cores: number
    /** 1-minute load average when the run started and when it ended: a shared machine's noise, stated. */
    readonly loadAverage: { readonly start: number; readonly end: number }
  }
  readonly versions: Readonly<Record<string, string>>
  readonly settings: {
    readonly n: number
    readonly workers: ReadonlyArray<number>
    readonly concurrency: number
    readonly producers: number
    /** DurableOffload's idle poll interval (its workers cannot be woken by another client's enqueue). */
    readonly durablePollMs: number
    /** Where the consumers run: every consumer is an in-process instance with its own connections. */
    readonly placement: "in-process"
  }
  readonly systems: ReadonlyArray<{ readonly id: string; readonly label: string }>
  readonly rounds: ReadonlyArray<RoundResult>
}

const isRate = (value: unknown): boolean => {
  const rate = value as { jobs?: unknown; seconds?: unknown; jobsPerSecond?: unknown } | null
  return (
    typeof rate === "object" &&
    rate !== null &&
    typeof rate.jobs === "number" &&
    typeof rate.seconds === "number" &&
    typeof rate.jobsPerSecond === "number" &&
    rate.jobsPerSecond > 0
  )
}

/** What is wrong with a parsed results file (empty when it is well-formed and complete). */
export const problems = (value: unknown): Array<string> => {
  const out: Array<string> = []
  const results = value as Partial<DurableResults> | null
  if (typeof results !== "object" || results === null) return ["not an object"]
  if (results.version !== 1) out.push("version is not 1")
  if (!Array.isArray(results.systems) || results.systems.length === 0) out.push("no systems")
  if (!Array.isArray(results.rounds)) return [...out, "no rounds"]
  const workers = results.settings?.workers ?? []
  for (const system of results.systems ?? []) {
    for (const w of workers) {
      const found = results.rounds.filter((r) => r.system === system.id && r.workers === w)
      if (found.length !== 1) out.push(`${system.id} × ${w} workers: ${found.length} rounds`)
    }
  }
  results.rounds.forEach((r, i) => {
    for (const phase of ["enqueue", "drain", "endToEnd"] as const) {
      if (!isRate(r[phase])) out.push(`rounds[${i}].${phase} is not a positive rate`)
    }
  })
  return out
}

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows
    .map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "))
    .join("\n")
}

/** The table printed on stdout: one line per system and worker count. */
export const table = (results: DurableResults): string => {
  const label = new Map(results.systems.map((s) => [s.id, s.label]))
  const rows = [
    ["system", "workers", "enqueue jobs/s", "drain jobs/s", "enqueue→complete jobs/s", "extra runs"],
    ...results.rounds.map((r) => [
      label.get(r.system) ?? r.system,
      String(r.workers),
      num(r.enqueue.jobsPerSecond),
      num(r.drain.jobsPerSecond),
      num(r.endToEnd.jobsPerSecond),
      String(r.extraRuns)
    ])
  ]
  const s = results.settings
  return (
    `${pad(rows)}\n` +
    `N = ${s.n} jobs per phase, ${s.producers} concurrent producers, consumers ${s.placement} ` +
    `(each with local concurrency ${s.concurrency}); trivial handler; DurableOffload polls every ${s.durablePollMs} ms.\n` +
    `Load average (1 min) ${results.machine.loadAverage.start.toFixed(1)} at the start, ` +
    `${results.machine.loadAverage.end.toFixed(1)} at the end, on ${results.machine.cores} cores.`
  )
}
