/**
 * Shared helpers of the `Offload*.test.ts` files (not a test file itself).
 */
import {
  Cause,
  Clock,
  Deferred,
  Effect,
  HashMap,
  Layer,
  Logger,
  Metric,
  MetricState,
  Runtime,
  TestClock,
  Tracer
} from "effect"

/** Lets every runnable fiber (including the offloaded root fibers) run; the clock does not move. */
export const flush = TestClock.adjust(0)

/**
 * Runs `effect` in a new fiber that starts at once, inside the caller's turn, until it first suspends
 * (`Effect.fork` would start it on the scheduler's next turn, after the offloaded fibers forked before it).
 */
export const startNow = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.runtime<never>(), (runtime) => Runtime.runFork(runtime)(effect))

let kinds = 0

/** A kind no other test uses (the metric registry is global). */
export const uniqueKind = (prefix: string): string => `${prefix}-${++kinds}`

/**
 * A piece of work that counts its runs, signals `started`, then waits for `release`. `interruptedAt`
 * is the TestClock time at which it was interrupted, if it was.
 */
export interface Gate {
  readonly work: Effect.Effect<void, unknown>
  readonly started: Deferred.Deferred<void>
  readonly release: Effect.Effect<void>
  readonly runs: () => number
  readonly interruptedAt: () => number | undefined
}

export const gate = (then: Effect.Effect<void, unknown> = Effect.void): Effect.Effect<Gate> =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void>()
    const released = yield* Deferred.make<void>()
    let runs = 0
    let interruptedAt: number | undefined = undefined
    const work = Effect.sync(() => {
      runs += 1
    }).pipe(
      Effect.zipRight(Deferred.succeed(started, undefined)),
      Effect.zipRight(Deferred.await(released)),
      Effect.zipRight(then),
      Effect.onInterrupt(() =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            interruptedAt = now
          })
        )
      )
    )
    return {
      work,
      started,
      release: Effect.asVoid(Deferred.succeed(released, undefined)),
      runs: () => runs,
      interruptedAt: () => interruptedAt
    }
  })

/**
 * Work that only counts its runs. It is synchronous, but `register` returns before it runs: the job's
 * fiber starts on the scheduler's next turn, so it has run after a `flush`.
 */
export const counter = () => {
  let runs = 0
  return {
    work: Effect.sync(() => {
      runs += 1
    }),
    runs: () => runs
  }
}

/** One captured log line. */
export interface Line {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
  readonly cause: string
}

/**
 * A test logger: provide `layer` around a `register` call (the work inherits the caller's logger)
 * and read `lines`.
 */
export const captureLogs = () => {
  const lines: Array<Line> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, cause, logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: Array.isArray(message) && message.length === 1 ? message[0] : message,
        annotations: Object.fromEntries(HashMap.toEntries(annotations)),
        cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause)
      })
    })
  )
  return { lines, layer }
}

/**
 * The state of an offload metric for `kind` (`undefined` = no label), read from the global registry
 * by name, so the metric's description and boundaries do not matter.
 */
const metricState = (name: string, kind: string | undefined) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const pair = pairs.find(
      (p) =>
        p.metricKey.name === name &&
        (kind === undefined
          ? p.metricKey.tags.length === 0
          : p.metricKey.tags.length === 1 && p.metricKey.tags[0]!.key === "kind" && p.metricKey.tags[0]!.value === kind)
    )
    return pair?.metricState
  })

/** A counter's value (0 when it was never touched). */
export const count = (name: string, kind: string | undefined) =>
  Effect.map(metricState(name, kind), (state) =>
    state !== undefined && MetricState.isCounterState(state) ? Number(state.count) : 0
  )

/** The active gauge (0 when it was never touched). */
export const active = (kind: string) =>
  Effect.map(metricState("fibervisor_offload_active", kind), (state) =>
    state !== undefined && MetricState.isGaugeState(state) ? Number(state.value) : 0
  )

/** The duration histogram's count and sum (seconds). */
export const durations = (kind: string) =>
  Effect.map(metricState("fibervisor_offload_duration_seconds", kind), (state) =>
    state !== undefined && MetricState.isHistogramState(state)
      ? { count: state.count, sum: state.sum }
      : { count: 0, sum: 0 }
  )

export const COUNTERS = [
  "spawned",
  "completed",
  "failed",
  "timeout",
  "deduplicated",
  "rejected",
  "interrupted"
] as const

export type Counts = Record<(typeof COUNTERS)[number], number>

/** Every offload counter of `kind`. */
export const counts = (kind: string): Effect.Effect<Counts> =>
  Effect.map(
    Effect.forEach(COUNTERS, (c) => count(`fibervisor_offload_${c}_total`, kind)),
    (values) => Object.fromEntries(COUNTERS.map((c, i) => [c, values[i]!])) as Counts
  )

/** `after - before`, counter by counter. */
export const delta = (before: Counts, after: Counts): Counts =>
  Object.fromEntries(COUNTERS.map((c) => [c, after[c] - before[c]])) as Counts

export const zero: Counts = {
  spawned: 0,
  completed: 0,
  failed: 0,
  timeout: 0,
  deduplicated: 0,
  rejected: 0,
  interrupted: 0
}

/** A tracer that records every span it creates (on top of the current native tracer). */
export const recordingTracer = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = native.span(name, parent, context, links, startTime, kind, options)
      spans.push(span)
      return span
    },
    context: (f, fiber) => native.context(f, fiber)
  })
  return { spans, tracer, layer: Layer.setTracer(tracer) }
})
