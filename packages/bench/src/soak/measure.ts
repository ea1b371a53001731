/** What the soak measures: heap readings after full GCs, timed segments (wall and CPU), steadiness, a phase's result and its checks, the metric registry's label and gauge readings. */
import { live } from "@fibervisor/core/internal/compat"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { fullGc, heapUsed } from "../gc.js"
import { GC_PASSES, STEADY_LIMIT } from "./profile.js"

export interface HeapReading {
  readonly heapUsedBytes: number
  readonly heapTotalBytes: number
  readonly rssBytes: number
  readonly externalBytes: number
}

/** A full GC, then the heap. */
export const readHeap = (): HeapReading => {
  fullGc(GC_PASSES)
  const m = process.memoryUsage()
  return { heapUsedBytes: heapUsed(), heapTotalBytes: m.heapTotal, rssBytes: m.rss, externalBytes: m.external }
}

/** The heap readings compared by the check: this many, `SETTLE` apart, the lowest one counts. */
export const READINGS = 3
export const SETTLE = "50 millis"

export interface SettledHeap extends HeapReading {
  /** heapUsed of every reading; the reading above is the lowest. */
  readonly readingsBytes: ReadonlyArray<number>
}

/**
 * The lowest of a few full-GC readings with the event loop turning in between: what a leak holds
 * stays in every reading, what is only transiently reachable (a scheduler turn, compiled code not yet
 * flushed) does not. The same on both sides of the comparison.
 */
export const settledHeap: Effect.Effect<SettledHeap> = Effect.gen(function* () {
  const readings: Array<HeapReading> = []
  for (let i = 0; i < READINGS; i++) {
    if (i > 0) yield* Effect.sleep(SETTLE)
    readings.push(readHeap())
  }
  const lowest = readings.reduce((a, b) => (b.heapUsedBytes < a.heapUsedBytes ? b : a))
  return { ...lowest, readingsBytes: readings.map((r) => r.heapUsedBytes) }
})

export interface Segment {
  /** Operations done at the end of this segment (cumulative within the phase). */
  readonly upTo: number
  readonly ops: number
  /** Wall-clock time of the segment. */
  readonly ms: number
  readonly usPerOp: number
  /** CPU time (user + system, all of the process's threads) of the segment: less sensitive to other load. */
  readonly cpuMs: number
  readonly cpuUsPerOp: number
  /** heapUsed after a full GC at the end of the segment (the phase's own objects may still be alive). */
  readonly heapUsedBytes: number
  readonly liveFibers: number
}

export const cpuNow = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Times segments; `boundary` is synchronous, so it may run inside a task's attempt. */
export class Segments {
  readonly segments: Array<Segment> = []
  private wallStart = 0
  private cpuStart = 0
  private wallAt = 0
  private cpuAt = 0
  private lastUpTo = 0
  private readingWall = 0
  private readingCpu = 0

  start(): void {
    this.wallStart = this.wallAt = performance.now()
    this.cpuStart = this.cpuAt = cpuNow()
  }

  /** Ends the current segment at `upTo` operations; the GC and the reading are off the clock. */
  boundary(upTo: number): void {
    const wall = performance.now()
    const cpu = cpuNow()
    const ms = wall - this.wallAt
    const cpuMs = cpu - this.cpuAt
    const heapUsedBytes = readHeap().heapUsedBytes
    const ops = upTo - this.lastUpTo
    this.segments.push({
      upTo,
      ops,
      ms,
      usPerOp: (ms * 1000) / ops,
      cpuMs,
      cpuUsPerOp: (cpuMs * 1000) / ops,
      heapUsedBytes,
      liveFibers: live.fibers
    })
    this.lastUpTo = upTo
    this.wallAt = performance.now()
    this.cpuAt = cpuNow()
    this.readingWall += this.wallAt - wall
    this.readingCpu += this.cpuAt - cpu
  }

  /** Wall-clock and CPU time since `start`, the readings between segments excluded. */
  finish(): { readonly wallMs: number; readonly cpuMs: number } {
    return {
      wallMs: performance.now() - this.wallStart - this.readingWall,
      cpuMs: cpuNow() - this.cpuStart - this.readingCpu
    }
  }
}

export interface Steadiness {
  readonly firstUsPerOp: number
  readonly lastUsPerOp: number
  /** last ÷ first, wall-clock */
  readonly ratio: number
  /** last ÷ first, CPU time */
  readonly cpuRatio: number
  readonly limit: number
  /** From the wall-clock ratio. */
  readonly steady: boolean
}

export const steadinessOf = (segments: ReadonlyArray<Segment>): Steadiness | null => {
  if (segments.length < 2) return null
  const first = segments[0]!
  const last = segments[segments.length - 1]!
  const ratio = last.usPerOp / first.usPerOp
  return {
    firstUsPerOp: first.usPerOp,
    lastUsPerOp: last.usPerOp,
    ratio,
    cpuRatio: last.cpuUsPerOp / first.cpuUsPerOp,
    limit: STEADY_LIMIT,
    steady: ratio <= STEADY_LIMIT
  }
}

export interface PhaseResult {
  readonly id: "restart" | "offload" | "distinct"
  readonly title: string
  readonly op: string
  readonly ops: number
  /** Wall-clock time of the phase, readings between segments excluded. */
  readonly totalMs: number
  readonly usPerOp: number
  readonly opsPerSecond: number
  /** CPU time of the phase, readings excluded. */
  readonly cpuMs: number
  readonly cpuUsPerOp: number
  readonly segments: ReadonlyArray<Segment>
  readonly steadiness: Steadiness | null
  /** What the phase itself checked (attempt counts, outcomes). */
  readonly checks: ReadonlyArray<Check>
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail })

export const equals = (name: string, actual: number, expected: number): Check =>
  check(name, actual === expected, `${actual} (expected ${expected})`)

export const phaseResult = (
  id: PhaseResult["id"],
  title: string,
  op: string,
  ops: number,
  recorder: Segments,
  checks: ReadonlyArray<Check>
): PhaseResult => {
  const { cpuMs, wallMs } = recorder.finish()
  return {
    id,
    title,
    op,
    ops,
    totalMs: wallMs,
    usPerOp: (wallMs * 1000) / ops,
    opsPerSecond: (ops * 1000) / wallMs,
    cpuMs,
    cpuUsPerOp: (cpuMs * 1000) / ops,
    segments: recorder.segments,
    steadiness: steadinessOf(recorder.segments),
    checks
  }
}

/** Distinct values of the `task` attribute across fibervisor's task metrics in Effect's global registry. */
export const taskLabelCount: Effect.Effect<number> = Effect.map(Metric.snapshot, (snapshot) => {
  const values = new Set<string>()
  for (const metric of snapshot) {
    if (!metric.id.startsWith("fibervisor_task_")) continue
    const task = metric.attributes?.["task"]
    if (task !== undefined) values.add(task)
  }
  return values.size
})

/** Sum of a gauge over all its attribute sets. */
export const gaugeSum = (name: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (snapshot) => {
    let sum = 0
    for (const metric of snapshot) {
      if (metric.id === name && metric.type === "Gauge") sum += Number(metric.state.value)
    }
    return sum
  })
