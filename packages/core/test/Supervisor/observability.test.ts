/**
 * Task observability: the `fibervisor_task_*` metrics (tag `task` = the task's path) and the
 * `fibervisor.task.attempt` spans. Every timing runs on the TestClock, so durations are exact.
 * The metric registry is global: every test names its own root supervisor, so every task path is
 * used by one test only and metric values are absolute.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Metric, Option } from "effect"
import type { Tracer } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task, TaskContext, TaskError, TaskOutcome } from "@fibervisor/core"
import { maxTaskLabels, taskLabel } from "../../src/internal/taskMetrics.js"
import { recordingTracer } from "../helpers/offload.js"
import { script, setup } from "../helpers/recorder.js"
import { flush, parked, TestTime } from "../helpers/tasks.js"

let roots = 0

/** A root supervisor name no other test uses (so the paths under it are unique). */
const uniqueRoot = (prefix: string): string => `${prefix}-${++roots}`

const NAMES = {
  attempts: "fibervisor_task_attempts_total",
  failures: "fibervisor_task_failures_total",
  timeouts: "fibervisor_task_timeouts_total",
  restarts: "fibervisor_task_restarts_total",
  running: "fibervisor_task_running",
  duration: "fibervisor_task_attempt_duration_seconds"
} as const

/** The value of a series' only attribute, `task` (`undefined` when its attributes are anything else). */
const taskTagOf = (metric: Metric.Metric.Snapshot): string | undefined => {
  const attributes = Object.entries(metric.attributes ?? {})
  return attributes.length === 1 && attributes[0]![0] === "task" ? attributes[0]![1] : undefined
}

/** Every task metric of one `task` label. */
interface Reading {
  readonly attempts: number
  readonly failures: number
  readonly timeouts: number
  readonly restarts: number
  readonly running: number
  /** The duration histogram's count and sum (seconds). */
  readonly durations: number
  readonly seconds: number
}

const none: Reading = { attempts: 0, failures: 0, timeouts: 0, restarts: 0, running: 0, durations: 0, seconds: 0 }

const reading = (fields: Partial<Reading>): Reading => ({ ...none, ...fields })

/** The task metrics of `task` (0 for a metric never touched), read from the global registry by name. */
const read = (task: string): Effect.Effect<Reading> =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const series = (name: string) => snapshots.find((metric) => metric.id === name && taskTagOf(metric) === task)
    const count = (name: string) => {
      const s = series(name)
      return s !== undefined && s.type === "Counter" ? Number(s.state.count) : 0
    }
    const gauge = series(NAMES.running)
    const histogram = series(NAMES.duration)
    const h = histogram !== undefined && histogram.type === "Histogram" ? histogram.state : undefined
    return {
      attempts: count(NAMES.attempts),
      failures: count(NAMES.failures),
      timeouts: count(NAMES.timeouts),
      restarts: count(NAMES.restarts),
      running: gauge !== undefined && gauge.type === "Gauge" ? Number(gauge.state.value) : 0,
      durations: h?.count ?? 0,
      seconds: h?.sum ?? 0
    }
  })

/** `after - before`, metric by metric (for a label other tests share, like `"_other"`). */
const delta = (before: Reading, after: Reading): Reading =>
  Object.fromEntries(Object.keys(none).map((k) => [k, after[k as keyof Reading] - before[k as keyof Reading]])) as never

/** Attempt `n` sleeps 250 ms, then fails with "boom". */
const failsAfter250 = Effect.andThen(Effect.sleep("250 millis"), Effect.fail(TaskError.fail("boom")))

describe("Task metrics (tag task = the task's path)", () => {
  it.effect("a successful attempt: one attempt, running while it runs, its duration exact", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("ok")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      const handle = yield* sup.add(Task.once("worker", Effect.sleep("250 millis")))
      expect(yield* read(path)).toEqual(none)
      yield* flush
      expect(yield* read(path)).toEqual(reading({ attempts: 1, running: 1 }))
      yield* TestTime.adjust("249 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, running: 1 }))
      yield* TestTime.adjust("1 millis")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.25 }))
      // Nothing is tagged with the bare task name.
      expect(yield* read("worker")).toEqual(none)
    })
  )

  it.effect("failed attempts: one failure each, one restart per retry, none after the last failure", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("failing")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      // Attempts run 0–250, 350–600, 700–950; the third failure exceeds maxRetries 2.
      const handle = yield* sup.add(
        Task.make("worker", failsAfter250, { backoff: Backoff.constant("100 millis"), maxRetries: 2 })
      )
      yield* flush
      expect(yield* read(path)).toEqual(reading({ attempts: 1, running: 1 }))
      yield* TestTime.adjust("250 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, failures: 1, restarts: 1, durations: 1, seconds: 0.25 }))
      yield* TestTime.adjust("100 millis")
      expect(yield* read(path)).toEqual(
        reading({ attempts: 2, failures: 1, restarts: 1, running: 1, durations: 1, seconds: 0.25 })
      )
      yield* TestTime.adjust("600 millis")
      const outcome = yield* handle.await
      expect(outcome._tag).toBe("Failed")
      expect(yield* read(path)).toEqual(reading({ attempts: 3, failures: 3, restarts: 2, durations: 3, seconds: 0.75 }))
      yield* TestTime.adjust("1 hour")
      expect((yield* read(path)).attempts).toBe(3)
    })
  )

  it.effect("a defect and a typed failure under RestartPolicy.never: a failure each, no restart", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("never")
      const { sup } = yield* setup({ name: root })
      const defect = yield* sup.add(
        Task.once("defect", Effect.andThen(Effect.sleep("500 millis"), Effect.die("kaput")))
      )
      const failure = yield* sup.add(Task.once("failure", Effect.fail(TaskError.fail("boom"))))
      yield* TestTime.adjust("500 millis")
      expect((yield* defect.await)._tag).toBe("Failed")
      expect((yield* failure.await)._tag).toBe("Failed")
      expect(yield* read(`${root}/defect`)).toEqual(reading({ attempts: 1, failures: 1, durations: 1, seconds: 0.5 }))
      expect(yield* read(`${root}/failure`)).toEqual(reading({ attempts: 1, failures: 1, durations: 1, seconds: 0 }))
    })
  )

  it.effect("a defect under onFailure is restarted like a typed failure", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("defect-restart")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      const handle = yield* sup.add(
        Task.make("worker", script(Effect.die("kaput"), Effect.die("again"), Effect.void), {
          backoff: Backoff.constant("100 millis")
        })
      )
      yield* TestTime.adjust("200 millis")
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(yield* read(path)).toEqual(reading({ attempts: 3, failures: 2, restarts: 2, durations: 3, seconds: 0 }))
    })
  )

  it.effect("the supervisor's per-attempt timeout: a failure and a timeout per timed-out attempt", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("timeout")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/slow`
      // Attempts run 0–1000 and 1500–2500, both cut by the timeout; maxRetries 1 ends it.
      const handle = yield* sup.add(
        Task.make("slow", Effect.never, { timeout: "1 second", backoff: Backoff.constant("500 millis"), maxRetries: 1 })
      )
      yield* TestTime.adjust("1 second")
      expect(yield* read(path)).toEqual(
        reading({ attempts: 1, failures: 1, timeouts: 1, restarts: 1, durations: 1, seconds: 1 })
      )
      yield* TestTime.adjust("500 millis")
      expect(yield* read(path)).toEqual(
        reading({ attempts: 2, failures: 1, timeouts: 1, restarts: 1, running: 1, durations: 1, seconds: 1 })
      )
      yield* TestTime.adjust("1 second")
      expect((yield* handle.await)._tag).toBe("Failed")
      expect(yield* read(path)).toEqual(
        reading({ attempts: 2, failures: 2, timeouts: 2, restarts: 1, durations: 2, seconds: 2 })
      )
    })
  )

  it.effect("a TaskError.timeout returned by the task is a failure, not a timeout", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("own-timeout")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      const handle = yield* sup.add(
        Task.make("worker", Effect.andThen(Effect.sleep("500 millis"), Effect.fail(TaskError.timeout("upstream"))), {
          restart: RestartPolicy.never,
          // The supervisor's own timeout is set but never reached.
          timeout: "1 second"
        })
      )
      yield* TestTime.adjust("500 millis")
      expect((yield* handle.await)._tag).toBe("Failed")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, failures: 1, durations: 1, seconds: 0.5 }))
    })
  )

  it.effect("TaskError.canceled ends the task: an attempt, but neither a failure nor a restart", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("canceled")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      const handle = yield* sup.add(
        Task.restartable("worker", Effect.andThen(Effect.sleep("250 millis"), Effect.fail(TaskError.canceled("done"))))
      )
      yield* TestTime.adjust("250 millis")
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.25 }))
    })
  )

  it.effect("RestartPolicy.always: a re-run after a success is an attempt but no restart; one after a failure is", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("always")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/tick`
      const ok = Effect.sleep("250 millis")
      // Attempt 1 runs 0–250 (ok), 2 runs 1250–1500 (fails), 3 runs 2000–2250 (ok), 4 would start at 3250.
      const handle = yield* sup.add(
        Task.make("tick", script(ok, failsAfter250, ok), {
          restart: RestartPolicy.always({ interval: "1 second" }),
          backoff: Backoff.constant("500 millis")
        })
      )
      yield* TestTime.adjust("1250 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 2, running: 1, durations: 1, seconds: 0.25 }))
      yield* TestTime.adjust("1750 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 3, failures: 1, restarts: 1, durations: 3, seconds: 0.75 }))
      // A stop while it waits for its next run: no attempt is running, the gauge stays at 0.
      expect(yield* sup.remove("tick")).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(yield* read(path)).toEqual(reading({ attempts: 3, failures: 1, restarts: 1, durations: 3, seconds: 0.75 }))
    })
  )

  it.effect("an instant RestartPolicy.always task: 11 attempts in 10 ms, no restart", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("hot")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/hot`
      yield* sup.add(Task.make("hot", Effect.void, { restart: RestartPolicy.always() }))
      yield* TestTime.adjust("10 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 11, durations: 11, seconds: 0 }))
      expect(yield* sup.remove("hot")).toBe(true)
    })
  )

  for (const how of ["remove", "cancel", "shutdown"] as const) {
    it.effect(`a ${how} that interrupts a running attempt: running back to 0, its duration recorded once`, () =>
      Effect.gen(function* () {
        const root = uniqueRoot(`stop-${how}`)
        const { sup } = yield* setup({ name: root })
        const path = `${root}/worker`
        const started = yield* Deferred.make<void>()
        const handle = yield* sup.add(Task.restartable("worker", parked(started)))
        yield* Deferred.await(started)
        yield* TestTime.adjust("750 millis")
        expect(yield* read(path)).toEqual(reading({ attempts: 1, running: 1 }))
        if (how === "remove") expect(yield* sup.remove("worker")).toBe(true)
        if (how === "cancel") expect(yield* sup.cancel("worker")).toBe(true)
        if (how === "shutdown") yield* sup.shutdown
        expect((yield* handle.await)._tag).toBe("Canceled")
        expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.75 }))
        yield* TestTime.adjust("1 hour")
        expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.75 }))
      })
    )
  }

  it.effect("an attempt abandoned after its grace still runs (and is measured) until its fiber exits", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("abandoned")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/stubborn`
      const handle = yield* sup.add(
        Task.make("stubborn", Effect.uninterruptible(Effect.sleep("2 seconds")), { grace: "1 second" })
      )
      yield* flush
      expect(yield* sup.remove("stubborn")).toBe(true)
      yield* TestTime.adjust("1 second")
      expect((yield* handle.await)._tag).toBe("ForceAborted")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, running: 1 }))
      yield* TestTime.adjust("1 second")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 2 }))
      yield* TestTime.adjust("1 hour")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, durations: 1, seconds: 2 }))
    })
  )

  it.effect("a stop during the backoff leaves the gauge alone (no attempt was running)", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("stop-backoff")
      const { sup } = yield* setup({ name: root })
      const path = `${root}/worker`
      const handle = yield* sup.add(Task.make("worker", failsAfter250, { backoff: Backoff.constant("1 second") }))
      yield* TestTime.adjust("500 millis")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, failures: 1, restarts: 1, durations: 1, seconds: 0.25 }))
      expect(yield* sup.remove("worker")).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(yield* read(path)).toEqual(reading({ attempts: 1, failures: 1, restarts: 1, durations: 1, seconds: 0.25 }))
    })
  )

  it.effect("an attempt waiting for a permit is neither counted nor running; its duration excludes the wait", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("permits")
      const { sup } = yield* setup({ name: root, maxConcurrent: 1 })
      const a = yield* sup.add(Task.once("a", Effect.sleep("500 millis")))
      const b = yield* sup.add(Task.once("b", Effect.sleep("250 millis")))
      yield* flush
      expect(yield* read(`${root}/a`)).toEqual(reading({ attempts: 1, running: 1 }))
      expect(yield* read(`${root}/b`)).toEqual(none)
      yield* TestTime.adjust("500 millis")
      expect(yield* a.await).toEqual(TaskOutcome.completed)
      expect(yield* read(`${root}/a`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.5 }))
      expect(yield* read(`${root}/b`)).toEqual(reading({ attempts: 1, running: 1 }))
      yield* TestTime.adjust("250 millis")
      expect(yield* b.await).toEqual(TaskOutcome.completed)
      expect(yield* read(`${root}/b`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.25 }))
    })
  )

  it.effect(
    "a one-for-all group restart counts one restart per task it starts again (as TaskInfo.restarts); its siblings' attempts end",
    () =>
      Effect.gen(function* () {
        const root = uniqueRoot("one-for-all")
        const { sup } = yield* setup({ name: root, strategy: "one-for-all" })
        const backoff = Backoff.constant("500 millis")
        const trigger = script(
          Effect.andThen(Effect.sleep("1 second"), Effect.fail(TaskError.fail("boom"))),
          Effect.never
        )
        yield* sup.addAll([
          Task.make("a", trigger, { backoff }),
          Task.make("b", Effect.never, { backoff }),
          Task.make("c", Effect.never, { backoff })
        ])
        yield* flush
        for (const name of ["a", "b", "c"]) {
          expect(yield* read(`${root}/${name}`)).toEqual(reading({ attempts: 1, running: 1 }))
        }
        yield* TestTime.adjust("1 second")
        expect(yield* read(`${root}/a`)).toEqual(
          reading({ attempts: 1, failures: 1, restarts: 1, durations: 1, seconds: 1 })
        )
        for (const name of ["b", "c"]) {
          expect(yield* read(`${root}/${name}`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 1 }))
        }
        yield* TestTime.adjust("500 millis")
        expect(yield* read(`${root}/a`)).toEqual(
          reading({ attempts: 2, failures: 1, restarts: 1, running: 1, durations: 1, seconds: 1 })
        )
        for (const name of ["b", "c"]) {
          expect(yield* read(`${root}/${name}`)).toEqual(
            reading({ attempts: 2, restarts: 1, running: 1, durations: 1, seconds: 1 })
          )
        }
        expect((yield* sup.list).map((info) => [info.name, info.restarts])).toEqual([
          ["a", 1],
          ["b", 1],
          ["c", 1]
        ])
        // Every live task is in the registry: the group restart did start them all again.
        expect((yield* sup.list).map((info) => [info.name, info.attempt])).toEqual([
          ["a", 2],
          ["b", 2],
          ["c", 2]
        ])
      })
  )

  it.effect("a restart refused by the restart intensity is not counted", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("intensity")
      const { sup } = yield* setup({ name: root, intensity: { maxRestarts: 1, within: "1 minute" } })
      const path = `${root}/worker`
      // Attempt 1 fails at 250 and is restarted; attempt 2 fails at 600 and its restart is refused.
      const handle = yield* sup.add(Task.make("worker", failsAfter250, { backoff: Backoff.constant("100 millis") }))
      yield* TestTime.adjust("600 millis")
      expect((yield* handle.await)._tag).toBe("Failed")
      expect(yield* read(path)).toEqual(reading({ attempts: 2, failures: 2, restarts: 1, durations: 2, seconds: 0.5 }))
      expect((yield* Effect.exit(sup.join))._tag).toBe("Failure")
    })
  )

  it.effect("nested tasks are tagged with their full path; stopping the parent ends their attempts", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("nested")
      const { sup } = yield* setup({ name: root })
      const started = yield* Deferred.make<void>()
      const handle = yield* sup.add(Supervisor.task("db", [Task.restartable("pool", parked(started))]))
      yield* Deferred.await(started)
      yield* TestTime.adjust("500 millis")
      expect(yield* read(`${root}/db`)).toEqual(reading({ attempts: 1, running: 1 }))
      expect(yield* read(`${root}/db/pool`)).toEqual(reading({ attempts: 1, running: 1 }))
      expect(yield* read("db/pool")).toEqual(none)
      expect(yield* sup.remove("db")).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(yield* read(`${root}/db`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.5 }))
      expect(yield* read(`${root}/db/pool`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.5 }))
    })
  )
})

const ATTEMPT = "fibervisor.task.attempt"

/** The span's run time in ns (`undefined` while it has not ended). */
const ranFor = (span: Tracer.Span): bigint | undefined =>
  span.status._tag === "Ended" ? span.status.endTime - span.status.startTime : undefined

const exitOf = (span: Tracer.Span): Exit.Exit<unknown, unknown> | undefined =>
  span.status._tag === "Ended" ? span.status.exit : undefined

describe("Task attempt spans", () => {
  it.effect("with Effect's default tracer, no attempt span is made; the task runs and is measured", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("native")
      const { sup } = yield* setup({ name: root })
      let seen: Option.Option<string> | undefined = undefined
      const task = Task.once(
        "worker",
        Effect.map(Effect.option(Effect.currentSpan), (span) => {
          seen = Option.map(span, (s) => s.name)
        })
      )
      const handle = yield* sup.add(task).pipe(Effect.withSpan("request"))
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(seen).toBeDefined()
      expect(seen).not.toEqual(Option.some(ATTEMPT))
      expect(yield* read(`${root}/worker`)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0 }))
    })
  )

  it.effect(
    `an attempt is a root span "${ATTEMPT}" linked to the caller's span; the task's spans are its children`,
    () =>
      Effect.gen(function* () {
        const recorder = yield* recordingTracer
        const root = uniqueRoot("traced")
        const { sup } = yield* setup({ name: root })
        const work = Effect.sleep("250 millis").pipe(Effect.withSpan("inner"))
        let request: Tracer.Span | undefined = undefined
        const handle = yield* Effect.gen(function* () {
          request = yield* Effect.currentSpan
          return yield* sup.add(Task.once("worker", work))
        }).pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
        yield* flush
        yield* TestTime.adjust("250 millis")
        expect(yield* handle.await).toEqual(TaskOutcome.completed)
        expect(recorder.spans.map((s) => s.name)).toEqual(["request", ATTEMPT, "inner"])
        const span = recorder.spans[1]!
        expect(span.parent).toEqual(Option.none())
        expect(Object.fromEntries(span.attributes)).toEqual({
          task: "worker",
          path: `${root}/worker`,
          attempt: 1,
          outcome: "succeeded"
        })
        expect(span.links.length).toBe(1)
        expect(span.links[0]!.span.spanId).toBe(request!.spanId)
        expect(span.links[0]!.span.traceId).toBe(request!.traceId)
        // A new trace: the attempt outlives the request, so it is not its child.
        expect(span.traceId).not.toBe(request!.traceId)
        const inner = recorder.spans[2]!
        expect(Option.map(inner.parent, (p) => p.spanId)).toEqual(Option.some(span.spanId))
        expect(inner.traceId).toBe(span.traceId)
        expect(ranFor(span)).toBe(250_000_000n)
        expect(Exit.isSuccess(exitOf(span)!)).toBe(true)
      })
  )

  it.effect("without a caller span, the attempt span has no links", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("unlinked")
      const { sup } = yield* setup({ name: root })
      const handle = yield* sup.add(Task.once("worker", Effect.void)).pipe(Effect.withTracer(recorder.tracer))
      expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(recorder.spans.map((s) => s.name)).toEqual([ATTEMPT])
      const span = recorder.spans[0]!
      expect(span.links).toEqual([])
      expect(span.parent).toEqual(Option.none())
      expect(Object.fromEntries(span.attributes)).toEqual({
        task: "worker",
        path: `${root}/worker`,
        attempt: 1,
        outcome: "succeeded"
      })
      expect(ranFor(span)).toBe(0n)
    })
  )

  it.effect("each attempt has its own span with its number and outcome, all linked to the caller's span", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("outcomes")
      const { sup } = yield* setup({ name: root })
      let request: Tracer.Span | undefined = undefined
      // Attempts start at 0, 100, 200, 300 (cut by the timeout at 1300) and 1400 ms.
      const handle = yield* Effect.gen(function* () {
        request = yield* Effect.currentSpan
        return yield* sup.add(
          Task.make(
            "worker",
            script(
              Effect.fail(TaskError.fail("boom")),
              Effect.die("kaput"),
              Effect.fail(TaskError.timeout("upstream")),
              Effect.never,
              Effect.fail(TaskError.canceled("done"))
            ),
            { timeout: "1 second", backoff: Backoff.constant("100 millis") }
          )
        )
      }).pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
      yield* flush
      yield* TestTime.adjust("1400 millis")
      expect((yield* handle.await)._tag).toBe("Canceled")
      const spans = recorder.spans.filter((s) => s.name === ATTEMPT)
      expect(recorder.spans.map((s) => s.name)).toEqual(["request", ATTEMPT, ATTEMPT, ATTEMPT, ATTEMPT, ATTEMPT])
      expect(spans.map((s) => Object.fromEntries(s.attributes))).toEqual(
        [
          [1, "failed"],
          [2, "failed"],
          [3, "failed"],
          [4, "timed-out"],
          [5, "canceled"]
        ].map(([attempt, outcome]) => ({ task: "worker", path: `${root}/worker`, attempt, outcome }))
      )
      expect(spans.map((s) => s.status._tag)).toEqual(["Ended", "Ended", "Ended", "Ended", "Ended"])
      expect(spans.map((s) => ranFor(s))).toEqual([0n, 0n, 0n, 1_000_000_000n, 0n])
      const first = spans[0]!.status.startTime
      expect(spans.map((s) => s.status.startTime - first)).toEqual([
        0n,
        100_000_000n,
        200_000_000n,
        300_000_000n,
        1_400_000_000n
      ])
      for (const span of spans) {
        expect(span.parent).toEqual(Option.none())
        expect(span.links.map((link) => link.span.spanId)).toEqual([request!.spanId])
        expect(span.traceId).not.toBe(request!.traceId)
      }
      // One trace per attempt.
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(5)
      expect(yield* read(`${root}/worker`)).toEqual(
        reading({ attempts: 5, failures: 4, timeouts: 1, restarts: 4, durations: 5, seconds: 1 })
      )
    })
  )

  it.effect("RestartPolicy.always: every re-run has its own span, linked to the span that added the task", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("periodic")
      const { sup } = yield* setup({ name: root })
      let request: Tracer.Span | undefined = undefined
      yield* Effect.gen(function* () {
        request = yield* Effect.currentSpan
        yield* sup.add(Task.periodic("tick", TaskContext.TaskContext, "1 second"))
      }).pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
      yield* flush
      yield* TestTime.adjust("2 seconds")
      const spans = recorder.spans.filter((s) => s.name === ATTEMPT)
      expect(spans.map((s) => [s.attributes.get("attempt"), s.attributes.get("outcome"), s.status._tag])).toEqual([
        [1, "succeeded", "Ended"],
        [2, "succeeded", "Ended"],
        [3, "succeeded", "Ended"]
      ])
      for (const span of spans) {
        expect(span.links.map((link) => link.span.spanId)).toEqual([request!.spanId])
      }
      expect(yield* sup.remove("tick")).toBe(true)
    })
  )

  it.effect("an attempt interrupted by remove ends its span, with an interrupted exit", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("removed")
      const { sup } = yield* setup({ name: root })
      const started = yield* Deferred.make<void>()
      const handle = yield* sup
        .add(Task.restartable("worker", parked(started)))
        .pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
      yield* Deferred.await(started)
      yield* TestTime.adjust("400 millis")
      const span = recorder.spans.find((s) => s.name === ATTEMPT)!
      expect(span.status._tag).toBe("Started")
      expect(yield* sup.remove("worker")).toBe(true)
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(recorder.spans.filter((s) => s.name === ATTEMPT)).toEqual([span])
      expect(span.status._tag).toBe("Ended")
      expect(ranFor(span)).toBe(400_000_000n)
      const exit = exitOf(span)!
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      expect([span.attributes.get("task"), span.attributes.get("attempt"), span.attributes.get("outcome")]).toEqual([
        "worker",
        1,
        "canceled"
      ])
    })
  )

  it.effect("a nested task's attempt span is linked to the attempt span of the supervisor task that started it", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("nested-spans")
      const { sup } = yield* setup({ name: root })
      const started = yield* Deferred.make<void>()
      yield* sup
        .add(Supervisor.task("db", [Task.restartable("pool", parked(started))]))
        .pipe(Effect.withSpan("request"), Effect.withTracer(recorder.tracer))
      yield* Deferred.await(started)
      expect(recorder.spans.map((s) => [s.name, s.attributes.get("path")])).toEqual([
        ["request", undefined],
        [ATTEMPT, `${root}/db`],
        [ATTEMPT, `${root}/db/pool`]
      ])
      const [request, db, pool] = recorder.spans as [Tracer.Span, Tracer.Span, Tracer.Span]
      expect(Object.fromEntries(pool.attributes)).toEqual({ task: "pool", path: `${root}/db/pool`, attempt: 1 })
      expect(db.links.map((link) => link.span.spanId)).toEqual([request.spanId])
      expect(pool.links.map((link) => link.span.spanId)).toEqual([db.spanId])
      expect([db.parent, pool.parent]).toEqual([Option.none(), Option.none()])
      expect(yield* sup.remove("db")).toBe(true)
      yield* flush
      expect([db.status._tag, pool.status._tag]).toEqual(["Ended", "Ended"])
    })
  )

  it.effect("a one-for-all group restart ends the siblings' attempt spans; the restarted attempts get new ones", () =>
    Effect.gen(function* () {
      const recorder = yield* recordingTracer
      const root = uniqueRoot("group-spans")
      const { sup } = yield* setup({ name: root, strategy: "one-for-all" })
      const backoff = Backoff.constant("500 millis")
      const trigger = script(
        Effect.andThen(Effect.sleep("1 second"), Effect.fail(TaskError.fail("boom"))),
        Effect.never
      )
      yield* sup
        .addAll([Task.make("a", trigger, { backoff }), Task.make("b", Effect.never, { backoff })])
        .pipe(Effect.withTracer(recorder.tracer))
      yield* flush
      yield* TestTime.adjust("1500 millis")
      const view = recorder.spans
        .filter((s) => s.name === ATTEMPT)
        .map((s) => {
          const exit = exitOf(s)
          const ended =
            exit === undefined
              ? "running"
              : Exit.isSuccess(exit)
                ? "success"
                : Cause.hasInterruptsOnly(exit.cause)
                  ? "interrupted"
                  : "failure"
          return [s.attributes.get("task"), s.attributes.get("attempt"), s.attributes.get("outcome"), ended]
        })
      expect(view).toEqual([
        ["a", 1, "failed", "success"],
        ["b", 1, "canceled", "interrupted"],
        ["a", 2, undefined, "running"],
        ["b", 2, undefined, "running"]
      ])
    })
  )
})

// Last in this file: once the label cap is reached, every new path shares "_other".
describe("Task metric labels are capped", () => {
  it.effect(`after ${maxTaskLabels} distinct paths, new paths share task="_other"; labelled paths keep theirs`, () =>
    Effect.gen(function* () {
      expect(maxTaskLabels).toBe(1_000)
      const root = uniqueRoot("capped")
      const early = `${root}/early`
      // A path labelled before the cap (this file has used far fewer than 1,000 paths so far).
      const earlyLabel = taskLabel(root, "early")
      expect(earlyLabel.path).toBe(early)
      // Every task metric of the path carries the attribute task = the path.
      for (const [key, name] of Object.entries(NAMES)) {
        const metric = earlyLabel[key as keyof typeof NAMES]
        expect([metric.id, metric.attributes]).toEqual([name, { task: early }])
      }
      // Labels handed out so far (each task's label is made when its first attempt starts, and counted then).
      const snapshots = yield* Metric.snapshot
      const labelled = new Set(
        snapshots
          .filter((metric) => metric.id === NAMES.attempts)
          .map(taskTagOf)
          .filter((tag) => tag !== undefined && tag !== "_other")
      )
      labelled.add(early)
      // 1,000 fresh paths: enough to reach the cap whatever other tests labelled before.
      const fresh = Array.from({ length: maxTaskLabels }, (_, i) => `${root}/fill-${i}`)
      const values = fresh.map((_, i) => taskLabel(root, `fill-${i}`).path)
      const own = values.filter((value, i) => value === fresh[i]).length
      // Own labels first, then only "_other".
      expect(values).toEqual(fresh.map((path, i) => (i < own ? path : "_other")))
      expect(own).toBe(maxTaskLabels - labelled.size)
      const lateLabel = taskLabel(root, "late")
      expect([lateLabel.path, lateLabel.attempts.attributes]).toEqual(["_other", { task: "_other" }])
      expect(taskLabel(root, "early")).toBe(earlyLabel)
      if (own > 0) expect(taskLabel(root, "fill-0").path).toBe(fresh[0])

      // A task on a new path is counted under "_other"; one on a labelled path under its own.
      const other = yield* read("_other")
      const { sup } = yield* setup({ name: root })
      const late = yield* sup.add(Task.once("late", Effect.sleep("250 millis")))
      const known = yield* sup.add(Task.once("early", Effect.sleep("500 millis")))
      yield* TestTime.adjust("500 millis")
      expect(yield* late.await).toEqual(TaskOutcome.completed)
      expect(yield* known.await).toEqual(TaskOutcome.completed)
      expect(delta(other, yield* read("_other"))).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.25 }))
      expect(yield* read(`${root}/late`)).toEqual(none)
      expect(yield* read(early)).toEqual(reading({ attempts: 1, durations: 1, seconds: 0.5 }))
    })
  )
})
