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
    /** Rounds per system × workers; the table gives their median and range. */
    readonly repeats: number
    readonly workers: ReadonlyArray<number>
    readonly concurrency: number
    readonly producers: number
    /** DurableOffload's idle poll interval (its workers cannot be woken by another client's enqueue). */
    readonly durablePollMs: number
    /** DurableOffload on SQLite: `PRAGMA synchronous` (`full` by default). */
    readonly sqliteSynchronous: "full" | "normal"
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
      const repeats = results.settings?.repeats ?? 1
      if (found.length !== repeats) out.push(`${system.id} × ${w} workers: ${found.length} of ${repeats} rounds`)
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

type Phase = "enqueue" | "drain" | "endToEnd"

/** The median (and min, max) jobs/s of one phase over a system × workers' rounds. */
export const summarize = (rounds: ReadonlyArray<RoundResult>, phase: Phase) => {
  const values = rounds.map((r) => r[phase].jobsPerSecond).sort((a, b) => a - b)
  const mid = values.length >> 1
  const median = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2
  return { median, min: values[0]!, max: values[values.length - 1]! }
}

const cell = (rounds: ReadonlyArray<RoundResult>, phase: Phase): string => {
  const { median, min, max } = summarize(rounds, phase)
  return rounds.length === 1 ? num(median) : `${num(median)} (${num(min)}–${num(max)})`
}

/** The table printed on stdout: one line per system and worker count, medians and ranges over the repeats. */
export const table = (results: DurableResults): string => {
  const rows: Array<Array<string>> = [
    ["system", "workers", "enqueue jobs/s", "drain jobs/s", "enqueue→complete jobs/s", "extra runs"]
  ]
  for (const w of results.settings.workers) {
    for (const system of results.systems) {
      const rounds = results.rounds.filter((r) => r.system === system.id && r.workers === w)
      if (rounds.length === 0) continue
      rows.push([
        system.label,
        String(w),
        cell(rounds, "enqueue"),
        cell(rounds, "drain"),
        cell(rounds, "endToEnd"),
        String(rounds.reduce((sum, r) => sum + r.extraRuns, 0))
      ])
    }
  }
  const s = results.settings
  return (
    `${pad(rows)}\n` +
    `N = ${s.n} jobs per phase, median (min–max) of ${s.repeats} round(s); ${s.producers} concurrent producers, ` +
    `consumers ${s.placement} (each with local concurrency ${s.concurrency}); trivial handler; ` +
    `DurableOffload polls every ${s.durablePollMs} ms.\n` +
    `Load average (1 min) ${results.machine.loadAverage.start.toFixed(1)} at the start, ` +
    `${results.machine.loadAverage.end.toFixed(1)} at the end, on ${results.machine.cores} cores.`
  )
}
