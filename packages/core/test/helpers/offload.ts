/**
 * Shared helpers of the `Offload*.test.ts` files (not a test file itself).
 */
import { TestTime } from "@fibervisor/vitest"
import { Cause, Clock, Deferred, Effect, Layer, Logger, Metric, References, Tracer } from "effect"

export { TestTime }

/**
 * Lets every runnable fiber (including the offloaded root fibers) run until it suspends again; the
 * clock does not move. (Effect 3's `TestClock.adjust(0)` did this; Effect 4's gives fibers one turn.)
 */
export const flush = TestTime.settle()

/**
 * Runs `effect` in a new root fiber that starts at once, inside the caller's turn, until it first
 * suspends (`Effect.forkChild` would start it on the scheduler's next turn, after the offloaded
 * fibers forked before it).
 */
export const startNow = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.context<never>(), (context) => Effect.runForkWith(context)(effect))

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
      Effect.andThen(Deferred.succeed(started, undefined)),
      Effect.andThen(Deferred.await(released)),
      Effect.andThen(then),
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

/** One captured log line (`level` is Effect 4's `LogLevel`: `"Warn"`, `"Info"`, …). */
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
  const layer = Logger.layer([
    Logger.make(({ cause, fiber, logLevel, message }) => {
      lines.push({
        level: logLevel,
        message: Array.isArray(message) && message.length === 1 ? message[0] : message,
        annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
        cause: cause.reasons.length === 0 ? "" : Cause.pretty(cause)
      })
    })
  ])
  return { lines, layer }
}

/**
 * The state of an offload metric for `kind` (`undefined` = no label), read from the global registry
 * by name, so the metric's description and boundaries do not matter.
 */
const metricSnapshot = (name: string, kind: string | undefined) =>
  Effect.map(Metric.snapshot, (snapshots) =>
    snapshots.find((s) => {
      if (s.id !== name) return false
      const attributes = Object.entries(s.attributes ?? {})
      return kind === undefined
        ? attributes.length === 0
        : attributes.length === 1 && attributes[0]![0] === "kind" && attributes[0]![1] === kind
    })
  )

/** A counter's value (0 when it was never touched). */
export const count = (name: string, kind: string | undefined) =>
  Effect.map(metricSnapshot(name, kind), (s) => (s?.type === "Counter" ? Number(s.state.count) : 0))

/** The active gauge (0 when it was never touched). */
export const active = (kind: string) =>
  Effect.map(metricSnapshot("fibervisor_offload_active", kind), (s) =>
    s?.type === "Gauge" ? Number(s.state.value) : 0
  )

/** The duration histogram's count and sum (seconds). */
export const durations = (kind: string) =>
  Effect.map(metricSnapshot("fibervisor_offload_duration_seconds", kind), (s) =>
    s?.type === "Histogram" ? { count: s.state.count, sum: s.state.sum } : { count: 0, sum: 0 }
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
    span(options) {
      const span = native.span(options)
      spans.push(span)
      return span
    },
    context: native.context
  })
  return { spans, tracer, layer: Layer.succeed(Tracer.Tracer, tracer) }
})
