/**
 * `pnpm soak [--quick] [--restarts N] [--offloads N] [--distinct N] [--parallel K] [--subscribe] [--out file] [--no-save]`
 *
 * The soak of issue 7, in one process, against one long-lived supervisor and one `Offload.layer()`:
 *
 * 1. restart cycles: `--parallel` tasks (default 1) failing `--restarts` times in all (default
 *    1,000,000) with `RestartPolicy.onFailure`, `Backoff.none`, `maxRetries` = their share − 1;
 *    their handles are awaited;
 * 2. offloaded effects: `Offload.spawn("soak", effect)` × `--offloads` (default 1,000,000) under the real
 *    `Offload.layer()`, in batches of 10k with `Offload.awaitIdle()` between them; `effect` is an
 *    `Effect.sync` that counts its runs (as cheap as `Effect.void`, and every run is checked);
 * 3. distinct tasks: `--distinct` uniquely named tasks (default 100,000), each failing twice (one
 *    restart), added in batches of 1,000 with `sup.awaitEmpty` between them — they churn the
 *    registry's names and push the `task` metric label past its cap.
 *
 * A warm-up runs the same three phases (smaller, other names; enough distinct tasks to fill the
 * label cap) before the baseline heap is taken. Every segment (100k operations; 5k with `--quick`)
 * is timed and followed by a full GC and a heap reading, off the clock.
 *
 * Correctness checks (exit code 1 when one fails): heap after the final full GC within 5% of the heap
 * after the warm-up (same live objects: the supervisor and the offload service still open); the
 * supervisor's registry (`sup.size`, `sup.list`), the offload service (`activeCount`, `queuedCount`)
 * and `live.fibers` back to 0; the `task` label count bounded by the cap and unchanged since the
 * warm-up; the running/active gauges back to 0; every attempt and every offloaded effect ran.
 * Timings are reported ("steady": the last segment within 1.5× of the first), never asserted; CPU
 * time per segment is shown beside the wall-clock time, since other load on the machine skews the latter.
 * Sensitivity: 5% of a ~28 MiB heap is ~1.4 MiB, i.e. ~1.5 bytes retained per operation over a full
 * run; the `--quick` run (CI) only catches leaks of roughly 70 bytes per operation or more.
 *
 * `--parallel K` spreads the restarts over K tasks running at once; `--subscribe` keeps one event
 * subscriber draining `sup.subscribe` throughout. Neither is part of the default run.
 *
 * Output: a table on stdout (progress on stderr); the JSON figures to `results/soak.json` for a full
 * run at the default sizes (or to `--out`).
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { dirname, relative, resolve } from "node:path"
import { Backoff, Offload, RestartPolicy, Supervisor, Task } from "@fibervisor/core"
import { live } from "@fibervisor/core/internal/compat"
import { maxTaskLabels } from "@fibervisor/core/internal/taskMetrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { run, times } from "./effects.js"
import { fullGc, heapUsed } from "./gc.js"
import { packageDir, rootDir } from "./paths.js"
import { bytes, num } from "./table.js"

const usage =
  "usage: pnpm soak [--quick] [--restarts N] [--offloads N] [--distinct N] [--parallel K] [--subscribe] [--out file] [--no-save]"

/** Where a full run at the default sizes writes its figures (kept for docs/reliability.md). */
const savedSoak = `${packageDir}results/soak.json`

/** Heap after the final GC may exceed the heap after the warm-up by at most this much. */
const HEAP_GROWTH_LIMIT_PERCENT = 5
/** "Steady": the last segment took at most this many times the first one (reported, never asserted). */
const STEADY_LIMIT = 1.5
/** Passes of `gc()` per reading: a second pass collects what the first one's finalizers released. */
const GC_PASSES = 3

interface Sizes {
  readonly restarts: number
  readonly parallel: number
  readonly offloads: number
  readonly offloadBatch: number
  readonly distinct: number
  readonly distinctBatch: number
  /** Operations per timed segment (and per heap reading). */
  readonly segment: number
}

interface Profile {
  readonly run: Sizes
  readonly warmup: Sizes
}

const fullProfile: Profile = {
  run: {
    restarts: 1_000_000,
    parallel: 1,
    offloads: 1_000_000,
    offloadBatch: 10_000,
    distinct: 100_000,
    distinctBatch: 1_000,
    segment: 100_000
  },
  warmup: {
    restarts: 100_000,
    parallel: 1,
    offloads: 100_000,
    offloadBatch: 10_000,
    distinct: 2_000,
    distinctBatch: 1_000,
    segment: 100_000
  }
}

const quickProfile: Profile = {
  run: {
    restarts: 20_000,
    parallel: 1,
    offloads: 20_000,
    offloadBatch: 1_000,
    distinct: 5_000,
    distinctBatch: 1_000,
    segment: 5_000
  },
  warmup: {
    restarts: 10_000,
    parallel: 1,
    offloads: 10_000,
    offloadBatch: 1_000,
    // More than the label cap: the cap is reached before the baseline.
    distinct: 2_000,
    distinctBatch: 1_000,
    segment: 5_000
  }
}

interface Args {
  readonly quick: boolean
  readonly restarts: number | undefined
  readonly offloads: number | undefined
  readonly distinct: number | undefined
  readonly parallel: number | undefined
  readonly subscribe: boolean
  readonly out: string | undefined
  readonly save: boolean
}

const fail = (message: string): never => {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

const count = (flag: string, value: string | undefined, min: number): number => {
  const n = Number(value?.replaceAll("_", ""))
  return Number.isSafeInteger(n) && n >= min ? n : fail(`${flag} needs an integer ≥ ${min}, got ${value}`)
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: { -readonly [K in keyof Args]: Args[K] } = {
    quick: false,
    restarts: undefined,
    offloads: undefined,
    distinct: undefined,
    parallel: undefined,
    subscribe: false,
    out: undefined,
    save: true
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") continue
    else if (arg === "--quick") args.quick = true
    else if (arg === "--subscribe") args.subscribe = true
    else if (arg === "--no-save") args.save = false
    else if (arg === "--restarts") args.restarts = count(arg, argv[++i], 1)
    else if (arg === "--offloads") args.offloads = count(arg, argv[++i], 1)
    else if (arg === "--distinct") args.distinct = count(arg, argv[++i], 0)
    else if (arg === "--parallel") args.parallel = count(arg, argv[++i], 1)
    // pnpm runs the script in the package folder: a relative --out is taken from where pnpm was called.
    else if (arg === "--out" && argv[i + 1] !== undefined)
      args.out = resolve(process.env.INIT_CWD ?? rootDir, argv[++i]!)
    else if (arg === "--help" || arg === "-h") {
      console.log(usage)
      process.exit(0)
    } else fail(`unknown argument ${arg}`)
  }
  return args
}

const sizesOf = (args: Args): Sizes => {
  const base = (args.quick ? quickProfile : fullProfile).run
  const sizes: Sizes = {
    ...base,
    restarts: args.restarts ?? base.restarts,
    offloads: args.offloads ?? base.offloads,
    distinct: args.distinct ?? base.distinct,
    parallel: args.parallel ?? base.parallel
  }
  if (sizes.restarts % sizes.segment !== 0 || sizes.offloads % sizes.segment !== 0) {
    fail(`--restarts and --offloads must be multiples of ${sizes.segment}`)
  }
  if (sizes.restarts % sizes.parallel !== 0) fail("--restarts must be a multiple of --parallel")
  if (sizes.distinct % sizes.distinctBatch !== 0) fail(`--distinct must be a multiple of ${sizes.distinctBatch}`)
  return sizes
}

// ---- measurements ---------------------------------------------------------------------------------

interface HeapReading {
  readonly heapUsedBytes: number
  readonly heapTotalBytes: number
  readonly rssBytes: number
  readonly externalBytes: number
}

/** A full GC, then the heap. */
const readHeap = (): HeapReading => {
  fullGc(GC_PASSES)
  const m = process.memoryUsage()
  return { heapUsedBytes: heapUsed(), heapTotalBytes: m.heapTotal, rssBytes: m.rss, externalBytes: m.external }
}

/** The heap readings compared by the check: this many, `SETTLE` apart, the lowest one counts. */
const READINGS = 3
const SETTLE = "50 millis"

interface SettledHeap extends HeapReading {
  /** heapUsed of every reading; the reading above is the lowest. */
  readonly readingsBytes: ReadonlyArray<number>
}

/**
 * The lowest of a few full-GC readings with the event loop turning in between: what a leak holds
 * stays in every reading, what is only transiently reachable (a scheduler turn, compiled code not yet
 * flushed) does not. The same on both sides of the comparison.
 */
const settledHeap: Effect.Effect<SettledHeap> = Effect.gen(function* () {
  const readings: Array<HeapReading> = []
  for (let i = 0; i < READINGS; i++) {
    if (i > 0) yield* Effect.sleep(SETTLE)
    readings.push(readHeap())
  }
  const lowest = readings.reduce((a, b) => (b.heapUsedBytes < a.heapUsedBytes ? b : a))
  return { ...lowest, readingsBytes: readings.map((r) => r.heapUsedBytes) }
})

interface Segment {
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

const cpuNow = (): number => {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

/** Times segments; `boundary` is synchronous, so it may run inside a task's attempt. */
class Segments {
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

interface Steadiness {
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

const steadinessOf = (segments: ReadonlyArray<Segment>): Steadiness | null => {
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

interface PhaseResult {
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

interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail })

const equals = (name: string, actual: number, expected: number): Check =>
  check(name, actual === expected, `${actual} (expected ${expected})`)

const phaseResult = (
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
const taskLabelCount: Effect.Effect<number> = Effect.map(Metric.snapshot, (snapshot) => {
  const values = new Set<string>()
  for (const metric of snapshot) {
    if (!metric.id.startsWith("fibervisor_task_")) continue
    const task = metric.attributes?.["task"]
    if (task !== undefined) values.add(task)
  }
  return values.size
})

/** Sum of a gauge over all its attribute sets. */
const gaugeSum = (name: string): Effect.Effect<number> =>
  Effect.map(Metric.snapshot, (snapshot) => {
    let sum = 0
    for (const metric of snapshot) {
      if (metric.id === name && metric.type === "Gauge") sum += Number(metric.state.value)
    }
    return sum
  })

// ---- the phases -----------------------------------------------------------------------------------

const failure = { _tag: "SoakFailure" } as const

/** `sizes.parallel` tasks failing `sizes.restarts` times in all; their handles are awaited. */
const restartPhase = (sup: Supervisor.Supervisor, sizes: Sizes, name: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    const share = sizes.restarts / sizes.parallel
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      if (attempts % sizes.segment === 0) recorder.boundary(attempts)
      return Effect.fail(failure)
    })
    const tasks = Array.from({ length: sizes.parallel }, (_, k) =>
      Task.make(sizes.parallel === 1 ? name : `${name}-${k}`, attempt, {
        restart: RestartPolicy.onFailure,
        backoff: Backoff.none,
        maxRetries: share - 1
      })
    )
    recorder.start()
    const handles = yield* Effect.orDie(Effect.forEach(tasks, (task) => sup.add(task)))
    const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)
    yield* sup.awaitEmpty
    const failed = outcomes.filter((outcome) => outcome._tag === "Failed").length
    return phaseResult(
      "restart",
      "restart cycles",
      `failed attempt + restart (${sizes.parallel} task${sizes.parallel === 1 ? "" : "s"}, onFailure, Backoff.none, maxRetries ${share - 1})`,
      sizes.restarts,
      recorder,
      [
        equals("restart: attempts", attempts, sizes.restarts),
        equals("restart: outcomes Failed", failed, sizes.parallel)
      ]
    )
  })

/** `Offload.spawn` × `sizes.offloads`, in batches awaited with `Offload.awaitIdle()`. */
const offloadPhase = (sizes: Sizes, kind: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    let ran = 0
    const work = Effect.sync(() => {
      ran++
    })
    recorder.start()
    for (let done = 0; done < sizes.offloads;) {
      yield* times(sizes.offloadBatch, () => Offload.spawn(kind, work))
      yield* Effect.orDie(Offload.awaitIdle())
      done += sizes.offloadBatch
      if (done % sizes.segment === 0) recorder.boundary(done)
    }
    const offload = yield* Offload.Offload
    return phaseResult(
      "offload",
      "offloaded effects",
      `Offload.spawn(kind, counting Effect.sync) + its share of awaitIdle (batches of ${sizes.offloadBatch})`,
      sizes.offloads,
      recorder,
      [
        equals("offload: effects run", ran, sizes.offloads),
        equals("offload: activeCount after awaitIdle", yield* offload.activeCount, 0)
      ]
    )
  })

/** `sizes.distinct` uniquely named tasks failing twice each, in batches awaited with `sup.awaitEmpty`. */
const distinctPhase = (sup: Supervisor.Supervisor, sizes: Sizes, prefix: string) =>
  Effect.gen(function* () {
    const recorder = new Segments()
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return Effect.fail(failure)
    })
    const options = { restart: RestartPolicy.onFailure, backoff: Backoff.none, maxRetries: 1 }
    // One segment per tenth of the phase (at least one batch).
    const every = Math.max(
      sizes.distinctBatch,
      Math.floor(sizes.distinct / 10 / sizes.distinctBatch) * sizes.distinctBatch
    )
    recorder.start()
    for (let done = 0; done < sizes.distinct;) {
      const from = done
      yield* Effect.orDie(
        times(sizes.distinctBatch, (i) => sup.add(Task.make(`${prefix}-${from + i}`, attempt, options)))
      )
      yield* sup.awaitEmpty
      done += sizes.distinctBatch
      if (done % every === 0 || done === sizes.distinct) recorder.boundary(done)
    }
    return phaseResult(
      "distinct",
      "distinct tasks",
      `add a uniquely named task that fails twice (one restart) + its share of awaitEmpty (batches of ${sizes.distinctBatch})`,
      sizes.distinct,
      recorder,
      [equals("distinct: attempts", attempts, 2 * sizes.distinct)]
    )
  })

// ---- the run --------------------------------------------------------------------------------------

interface Registries {
  readonly supervisorSize: number
  readonly supervisorList: number
  readonly supervisorSlots: number
  readonly offloadActive: number
  readonly offloadQueued: number
  readonly liveFibers: number
}

interface SoakRun {
  readonly warmupSeconds: number
  readonly heapAfterWarmup: SettledHeap
  readonly heapEnd: SettledHeap
  readonly heapAfterClose: SettledHeap
  readonly phases: ReadonlyArray<PhaseResult>
  readonly registriesEnd: Registries
  readonly liveFibersAfterClose: number
  readonly taskLabelsAfterWarmup: number
  readonly taskLabelsEnd: number
  readonly taskRunningGauge: number
  readonly offloadActiveGauge: number
  readonly eventsSeen: number | null
}

const soak = (sizes: Sizes, warmup: Sizes, subscribe: boolean, progress: (line: string) => void) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const sup = yield* Effect.orDie(Supervisor.make({ name: "soak" }).pipe(Scope.provide(scope)))
    const offloadContext = yield* Effect.orDie(Layer.buildWithScope(Offload.layer(), scope))
    const offload = Context.get(offloadContext, Offload.Offload)
    let events = 0
    if (subscribe) {
      const stream = yield* sup.subscribe.pipe(Scope.provide(scope))
      yield* Effect.forkIn(
        Stream.runForEach(stream, () =>
          Effect.sync(() => {
            events++
          })
        ),
        scope
      )
    }
    const registries = Effect.gen(function* () {
      return {
        supervisorSize: yield* sup.size,
        supervisorList: (yield* sup.list).length,
        supervisorSlots: (yield* sup.slots).length,
        offloadActive: yield* offload.activeCount,
        offloadQueued: yield* offload.queuedCount,
        liveFibers: live.fibers
      } satisfies Registries
    })

    progress(
      `warm-up: ${warmup.restarts} restarts, ${warmup.offloads} offloaded effects, ${warmup.distinct} distinct tasks`
    )
    const warmupStarted = performance.now()
    yield* restartPhase(sup, warmup, "warmup-restart")
    yield* Effect.provide(offloadPhase(warmup, "soak-warmup"), offloadContext)
    yield* distinctPhase(sup, warmup, "warmup-distinct")
    const warmupSeconds = (performance.now() - warmupStarted) / 1000
    const heapAfterWarmup = yield* settledHeap
    const taskLabelsAfterWarmup = yield* taskLabelCount
    progress(`heap after warm-up: ${bytes(heapAfterWarmup.heapUsedBytes)} (${num(warmupSeconds)} s)`)

    const phases: Array<PhaseResult> = []
    const report = (phase: PhaseResult) => {
      phases.push(phase)
      progress(`${phase.id}: ${phase.ops} in ${num(phase.totalMs / 1000)} s (${num(phase.usPerOp)} µs/op)`)
    }
    progress(`restart: ${sizes.restarts} failed attempts across ${sizes.parallel} task(s)`)
    report(yield* restartPhase(sup, sizes, "soak-restart"))
    progress(`offload: ${sizes.offloads} offloaded effects in batches of ${sizes.offloadBatch}`)
    report(yield* Effect.provide(offloadPhase(sizes, "soak"), offloadContext))
    if (sizes.distinct > 0) {
      progress(`distinct: ${sizes.distinct} uniquely named tasks`)
      report(yield* distinctPhase(sup, sizes, "soak-distinct"))
    }

    // The same live objects as at the warm-up reading: the supervisor and the offload service, open and idle.
    yield* sup.awaitEmpty
    yield* Effect.orDie(offload.awaitIdle())
    const registriesEnd = yield* registries
    const taskLabelsEnd = yield* taskLabelCount
    const taskRunningGauge = yield* gaugeSum("fibervisor_task_running")
    const offloadActiveGauge = yield* gaugeSum("fibervisor_offload_active")
    const heapEnd = yield* settledHeap
    progress(`heap at the end: ${bytes(heapEnd.heapUsedBytes)}`)

    yield* Scope.close(scope, Exit.void)
    const liveFibersAfterClose = live.fibers
    const heapAfterClose = yield* settledHeap
    return {
      warmupSeconds,
      heapAfterWarmup,
      heapEnd,
      heapAfterClose,
      phases,
      registriesEnd,
      liveFibersAfterClose,
      taskLabelsAfterWarmup,
      taskLabelsEnd,
      taskRunningGauge,
      offloadActiveGauge,
      eventsSeen: subscribe ? events : null
    } satisfies SoakRun
  })

// ---- report ---------------------------------------------------------------------------------------

const checksOf = (r: SoakRun): Array<Check> => {
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

const heapGrowthPercent = (r: SoakRun): number =>
  ((r.heapEnd.heapUsedBytes - r.heapAfterWarmup.heapUsedBytes) / r.heapAfterWarmup.heapUsedBytes) * 100

const signed = (value: number): string => `${value >= 0 ? "+" : ""}${value.toFixed(2)}`

const pad = (rows: ReadonlyArray<ReadonlyArray<string>>, rightAligned: ReadonlySet<number>): Array<string> => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return rows.map((row) =>
    row
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd()
  )
}

interface SoakResults {
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

const tableOf = (results: SoakResults): string => {
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

// ---- main -----------------------------------------------------------------------------------------

const versionOf = (name: string): string => {
  const pkg = JSON.parse(readFileSync(`${packageDir}node_modules/${name}/package.json`, "utf8")) as { version: string }
  return pkg.version
}

const git = (...args: Array<string>): string | undefined => {
  try {
    return execFileSync("git", args, { cwd: rootDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

const revision = () => {
  const commit = git("rev-parse", "--short=12", "HEAD")
  const status = git("status", "--porcelain", "--", "packages/core")
  return { commit: commit ?? "unknown", coreDirty: status === undefined ? null : status !== "" }
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof globalThis.gc !== "function") {
    console.error("note: run with node --expose-gc (pnpm soak does); exposing gc at run time instead")
  }
  const profile = args.quick ? quickProfile : fullProfile
  const sizes = sizesOf(args)
  const defaults =
    args.restarts === undefined &&
    args.offloads === undefined &&
    args.distinct === undefined &&
    args.parallel === undefined
  const progress = (line: string) => process.stderr.write(`${line}\n`)
  const date = new Date().toISOString()
  const loadAverageStart = loadavg()
  const started = performance.now()
  const r = await run(soak(sizes, profile.warmup, args.subscribe, progress))
  const durationSeconds = (performance.now() - started) / 1000
  const cpu = cpus()
  const partial = {
    schemaVersion: 1 as const,
    quick: args.quick,
    core: import.meta.resolve("@fibervisor/core").endsWith(".ts") ? ("source" as const) : ("dist" as const),
    versions: { effect: versionOf("effect") },
    revision: revision(),
    machine: {
      node: process.version,
      v8: process.versions.v8,
      platform: process.platform,
      arch: process.arch,
      cpuModel: cpu[0]?.model.trim() ?? "unknown",
      cores: Math.max(1, cpu.length),
      totalMemoryBytes: totalmem(),
      date,
      loadAverageStart,
      loadAverageEnd: loadavg()
    },
    durationSeconds,
    sizes,
    warmup: { ...profile.warmup, seconds: r.warmupSeconds },
    subscriber: args.subscribe,
    eventsSeen: r.eventsSeen,
    heap: {
      afterWarmup: r.heapAfterWarmup,
      end: r.heapEnd,
      afterClose: r.heapAfterClose,
      growthPercent: heapGrowthPercent(r),
      limitPercent: HEAP_GROWTH_LIMIT_PERCENT
    },
    phases: r.phases,
    registries: { ...r.registriesEnd, liveFibersAfterClose: r.liveFibersAfterClose },
    metrics: {
      taskLabelCap: maxTaskLabels,
      taskLabelsAfterWarmup: r.taskLabelsAfterWarmup,
      taskLabelsEnd: r.taskLabelsEnd,
      taskRunningGauge: r.taskRunningGauge,
      offloadActiveGauge: r.offloadActiveGauge
    }
  }
  const checks = checksOf(r)
  const results: SoakResults = { ...partial, checks, ok: checks.every((c) => c.ok) }
  console.log(tableOf(results))
  const out = args.out ?? (!args.quick && defaults && !args.subscribe && args.save ? savedSoak : undefined)
  if (out !== undefined) {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
    progress(`\nwrote ${relative(process.cwd(), out)}`)
  }
  process.exitCode = results.ok ? 0 : 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
