/**
 * The fault matrix for supervised tasks (issue 7): every fault × every restart policy is a test.
 * Each cell asserts the exact outcome, the exact events of the faulty task (instant, tag, attempt,
 * reason), the task's state at a fixed instant, that the supervisor keeps serving other tasks (a
 * healthy probe added after the fault completes), and that nothing leaks: once the supervisor has
 * shut down, `live.fibers` is back to its value before the test and the `fibervisor_task_running`
 * gauge of every path the test used is 0.
 *
 * Every timing runs on the TestClock (which starts at 0), so every instant is exact. The faulty
 * task retries after a constant 100 ms backoff, at most twice (`maxRetries: 2`); supervisors have a
 * grace of 1 s; regions and finalizers that "hang" take 5 s.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, Metric, Option, Result, Scope } from "effect"
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  SupervisorEvent,
  Task,
  TaskContext,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { live } from "../../src/internal/compat.js"
import { script, setup } from "../helpers/recorder.js"
import type { Ev } from "../helpers/recorder.js"

type Policy = "never" | "onFailure" | "always"
type Services = TaskContext.TaskContext | Scope.Scope

const POLICIES: ReadonlyArray<readonly [Policy, RestartPolicy.RestartPolicy]> = [
  ["never", RestartPolicy.never],
  ["onFailure", RestartPolicy.onFailure],
  ["always", RestartPolicy.always()]
]

/** Restart settings of every faulty task: retries 100 ms after a failure, at most twice. */
const RETRY = { backoff: Backoff.constant("100 millis"), maxRetries: 2 } as const

let roots = 0

/** A root supervisor name no other test uses, so the metric paths under it are this test's own. */
const uniqueRoot = (prefix: string): string => `faults-${prefix}-${++roots}`

// ---- reading events, outcomes, metrics ----

/** `"<at> <tag> <where>[#attempt] <details>"`; `where` is the path below the root (`sup` for the root). */
const line =
  (root: string) =>
  (event: Ev): string => {
    const rel = (path: string) => (path === root ? "sup" : path.slice(root.length + 1))
    const where = rel(event.path)
    const head = `${event.at} ${event._tag} ${"attempt" in event ? `${where}#${event.attempt}` : where}`
    switch (event._tag) {
      case "AttemptFailed":
        return `${head} ${event.reason}${event.fatal ? " (fatal)" : ""}${event.exitCode === undefined ? "" : ` exit=${event.exitCode}`}`
      case "AttemptTimedOut":
        return `${head} after ${event.timeoutMs} ms`
      case "AttemptCanceled":
        return `${head} ${event.reason}`
      case "BackoffScheduled":
        return `${head} ${event.source} ${event.delayMs} ms`
      case "TaskRemoveRequested":
        return `${head} ${event.reason}`
      case "TaskAddFailed":
        return `${head} ${event.task} ${event.rejection}`
      case "TaskFinished":
        return event.reason === undefined ? `${head} ${event.outcome}` : `${head} ${event.outcome}: ${event.reason}`
      case "GraceExceeded":
        return `${head} stuck=${event.stuck.join(",")} paths=${event.paths.map(rel).join(",")}`
      default:
        return head
    }
  }

/** An outcome without its `cause` (which holds fiber ids): tag, reason, exit code. */
const brief = (outcome: TaskOutcome.TaskOutcome) => {
  const reason = TaskOutcome.reason(outcome)
  const exitCode = TaskOutcome.exitCode(outcome)
  return {
    _tag: outcome._tag,
    ...(reason === undefined ? {} : { reason }),
    ...(exitCode === undefined ? {} : { exitCode })
  }
}

type Brief = ReturnType<typeof brief>

/** `get(name)` reduced to what the matrix checks at its fixed instant (`undefined`: not in the registry). */
const stateOf = (sup: Supervisor.Supervisor, name: string) =>
  Effect.map(sup.get(name), (info) =>
    Option.match(info, {
      onNone: () => undefined,
      onSome: (i) => ({
        state: i.state,
        attempt: i.attempt,
        restarts: i.restarts,
        nextAttemptAt: Option.getOrUndefined(i.nextAttemptAt)
      })
    })
  )

type State = Effect.Success<ReturnType<typeof stateOf>>

const taskTagOf = (snapshot: Metric.Metric.Snapshot): string | undefined => {
  const attributes = Object.entries(snapshot.attributes ?? {})
  return attributes.length === 1 && attributes[0]![0] === "task" ? attributes[0]![1] : undefined
}

/** The `fibervisor_task_running` gauge of every path under `root`, by path. */
const runningUnder = (root: string): Effect.Effect<Record<string, number>> =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const values: Record<string, number> = {}
    for (const snapshot of snapshots) {
      const path = taskTagOf(snapshot)
      if (snapshot.id !== "fibervisor_task_running" || path === undefined) continue
      if (!path.startsWith(`${root}/`)) continue
      values[path] = snapshot.type === "Gauge" ? Number(snapshot.state.value) : Number.NaN
    }
    return values
  })

// ---- the harness every cell runs in ----

interface Harness {
  readonly root: string
  readonly sup: Supervisor.Supervisor
  /** Every recorded event so far, as lines (see `line`), the probe's left out. */
  readonly timeline: Effect.Effect<Array<string>>
  /** The lines of the events whose path is exactly `path` (below the root; `sup` for the root). */
  readonly timelineOf: (path: string) => Effect.Effect<Array<string>>
  /** Adds a healthy one-shot task that sleeps 10 ms, moves the clock 10 ms and checks it completed. */
  readonly probe: Effect.Effect<void>
}

/**
 * Runs `body` against a fresh root supervisor (grace 1 s) with a recorder of its events, then shuts
 * the supervisor down, lets every stuck fiber finish, and checks that nothing leaked: `live.fibers`
 * is back to its value before the test, and the running gauge is 0 for every path in `paths`
 * (relative to the root) and for no other path under the root.
 */
const cell = (prefix: string, paths: ReadonlyArray<string>, body: (h: Harness) => Effect.Effect<void, unknown>) =>
  Effect.gen(function* () {
    const fibersBefore = live.fibers
    const root = uniqueRoot(prefix)
    const scope = yield* Scope.make()
    // If the test fails half-way, the test's scope closes this one; a task stuck on the TestClock
    // would make that wait forever, so the clock is moved in the background then.
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    yield* Effect.addFinalizer((exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : Effect.asVoid(Effect.forkDetach(Effect.repeat(TestTime.adjust("1 minute"), { times: 120 })))
    )
    const { events, sup } = yield* Scope.provide(setup({ name: root, grace: "1 second" }), scope)
    const probePath = `${root}/probe`
    const timeline = Effect.map(Effect.andThen(TestTime.adjust(0), events), (all) =>
      all.filter((event) => event.path !== probePath).map(line(root))
    )
    const timelineOf = (path: string) =>
      Effect.map(timeline, (lines) => lines.filter((l) => l.split(" ")[2]!.split("#")[0] === path))
    let probes = 0
    const probe = Effect.gen(function* () {
      const handle = yield* sup.add(Task.once("probe", Effect.sleep("10 millis")))
      yield* TestTime.adjust("10 millis")
      expect(yield* handle.poll).toEqual(Option.some(TaskOutcome.completed))
      probes += 1
    }).pipe(Effect.orDie)
    yield* body({ root, sup, timeline, timelineOf, probe })
    expect(probes).toBeGreaterThan(0)

    // Shut down (a cell may have done it already: shutdown is one cached operation), let stuck
    // fibers run to their end, close the supervisor's scope.
    const shutdown = yield* Effect.forkChild(Effect.result(sup.shutdown))
    yield* TestTime.adjust("10 seconds")
    yield* Fiber.join(shutdown)
    yield* Scope.close(scope, Exit.void)
    yield* TestTime.adjust("1 minute")
    expect(live.fibers).toBe(fibersBefore)
    expect(yield* runningUnder(root)).toEqual(
      Object.fromEntries([...paths, "probe"].map((path) => [`${root}/${path}`, 0]))
    )
  })

// ---- faults that end an attempt by themselves ----

/** What one cell expects. */
interface Expected {
  /** The outcome of the faulty task. */
  readonly outcome: Brief
  /** Its registry state at 150 ms (`undefined`: already gone). */
  readonly at150: State
  /** Its events (and the supervisor's), in order. */
  readonly timeline: ReadonlyArray<string>
}

interface SelfEndingFault {
  readonly fault: string
  readonly attempt: Effect.Effect<unknown, unknown, Services>
  readonly options?: { readonly timeout?: Duration.Input }
  /** When the task has ended under every policy. */
  readonly endsBy: number
  readonly expected: Record<Policy, Expected>
}

/**
 * The events of a task whose attempts fail at once with `failed` (a line tail, after `t#n`), under
 * `never` (one attempt) or a restarting policy (attempts at 0, 100 and 200 ms, then giving up).
 */
const instantFailure = (failed: string, reason: string, exitCode?: number, t = "t"): Record<Policy, Expected> => {
  const code = exitCode === undefined ? {} : { exitCode }
  const once: Expected = {
    outcome: { _tag: "Failed", reason, ...code },
    at150: undefined,
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `0 AttemptFailed ${t}#1 ${failed}`,
      `0 TaskFinished ${t} Failed: ${reason}`,
      `0 TaskRemoved ${t}`
    ]
  }
  const given = `retry limit reached after 2 of 2 retries: ${reason}`
  const restarted: Expected = {
    outcome: { _tag: "Failed", reason: given, ...code },
    at150: { state: "backing-off", attempt: 2, restarts: 2, nextAttemptAt: 200 },
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `0 AttemptFailed ${t}#1 ${failed}`,
      `0 BackoffScheduled ${t}#1 failure 100 ms`,
      `100 AttemptStarting ${t}#2`,
      `100 AttemptFailed ${t}#2 ${failed}`,
      `100 BackoffScheduled ${t}#2 failure 100 ms`,
      `200 AttemptStarting ${t}#3`,
      `200 AttemptFailed ${t}#3 ${failed}`,
      `200 TaskFinished ${t} Failed: ${given}`,
      `200 TaskRemoved ${t}`
    ]
  }
  return { never: once, onFailure: restarted, always: restarted }
}

const fatalOf = (t: string): Expected => ({
  outcome: { _tag: "Fatal", reason: "config missing", exitCode: 78 },
  at150: undefined,
  timeline: [
    `0 TaskAdded ${t}`,
    `0 AttemptStarting ${t}#1`,
    `0 AttemptFailed ${t}#1 config missing (fatal) exit=78`,
    `0 TaskFinished ${t} Fatal: config missing`,
    `0 TaskRemoved ${t}`
  ]
})

const fatal = fatalOf("t")

/** The supervisor's own timeout (50 ms) on an attempt that never ends: attempts at 0, 150 and 300 ms. */
const timedOut = (t = "t"): Record<Policy, Expected> => {
  const reason = "attempt timed out after 50 ms"
  const given = `retry limit reached after 2 of 2 retries: ${reason}`
  const restarted: Expected = {
    outcome: { _tag: "Failed", reason: given },
    at150: { state: "running", attempt: 2, restarts: 1, nextAttemptAt: undefined },
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `50 AttemptTimedOut ${t}#1 after 50 ms`,
      `50 BackoffScheduled ${t}#1 failure 100 ms`,
      `150 AttemptStarting ${t}#2`,
      `200 AttemptTimedOut ${t}#2 after 50 ms`,
      `200 BackoffScheduled ${t}#2 failure 100 ms`,
      `300 AttemptStarting ${t}#3`,
      `350 AttemptTimedOut ${t}#3 after 50 ms`,
      `350 TaskFinished ${t} Failed: ${given}`,
      `350 TaskRemoved ${t}`
    ]
  }
  return {
    never: {
      outcome: { _tag: "Failed", reason },
      at150: undefined,
      timeline: [
        `0 TaskAdded ${t}`,
        `0 AttemptStarting ${t}#1`,
        `50 AttemptTimedOut ${t}#1 after 50 ms`,
        `50 TaskFinished ${t} Failed: ${reason}`,
        `50 TaskRemoved ${t}`
      ]
    },
    onFailure: restarted,
    always: restarted
  }
}

/**
 * The 50 ms timeout of an attempt that is uninterruptible for 500 ms: the timeout fires, but the
 * attempt only stops (and the timeout is reported) when the region ends; attempts at 0, 600, 1200 ms.
 */
const timedOutLate = (t = "t"): Record<Policy, Expected> => {
  const reason = "attempt timed out after 50 ms"
  const given = `retry limit reached after 2 of 2 retries: ${reason}`
  const restarted: Expected = {
    outcome: { _tag: "Failed", reason: given },
    at150: { state: "running", attempt: 1, restarts: 0, nextAttemptAt: undefined },
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `500 AttemptTimedOut ${t}#1 after 50 ms`,
      `500 BackoffScheduled ${t}#1 failure 100 ms`,
      `600 AttemptStarting ${t}#2`,
      `1100 AttemptTimedOut ${t}#2 after 50 ms`,
      `1100 BackoffScheduled ${t}#2 failure 100 ms`,
      `1200 AttemptStarting ${t}#3`,
      `1700 AttemptTimedOut ${t}#3 after 50 ms`,
      `1700 TaskFinished ${t} Failed: ${given}`,
      `1700 TaskRemoved ${t}`
    ]
  }
  return {
    never: {
      outcome: { _tag: "Failed", reason },
      at150: { state: "running", attempt: 1, restarts: 0, nextAttemptAt: undefined },
      timeline: [
        `0 TaskAdded ${t}`,
        `0 AttemptStarting ${t}#1`,
        `500 AttemptTimedOut ${t}#1 after 50 ms`,
        `500 TaskFinished ${t} Failed: ${reason}`,
        `500 TaskRemoved ${t}`
      ]
    },
    onFailure: restarted,
    always: restarted
  }
}

/** A scope finalizer of the attempt that takes 5 s (finalizers run uninterruptibly). */
const slowFinalizer = Effect.addFinalizer(() => Effect.sleep("5 seconds"))

/**
 * A failing attempt whose finalizer takes 5 s: the failure is only read once the finalizer is
 * done, and the next attempt starts 100 ms after that (attempts never overlap).
 */
const failsAfterSlowFinalizer = (t = "t"): Record<Policy, Expected> => {
  const given = "retry limit reached after 2 of 2 retries: upstream 503"
  const restarted: Expected = {
    outcome: { _tag: "Failed", reason: given, exitCode: 75 },
    at150: { state: "running", attempt: 1, restarts: 0, nextAttemptAt: undefined },
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `5000 AttemptFailed ${t}#1 upstream 503 exit=75`,
      `5000 BackoffScheduled ${t}#1 failure 100 ms`,
      `5100 AttemptStarting ${t}#2`,
      `10100 AttemptFailed ${t}#2 upstream 503 exit=75`,
      `10100 BackoffScheduled ${t}#2 failure 100 ms`,
      `10200 AttemptStarting ${t}#3`,
      `15200 AttemptFailed ${t}#3 upstream 503 exit=75`,
      `15200 TaskFinished ${t} Failed: ${given}`,
      `15200 TaskRemoved ${t}`
    ]
  }
  return {
    never: {
      outcome: { _tag: "Failed", reason: "upstream 503", exitCode: 75 },
      at150: { state: "running", attempt: 1, restarts: 0, nextAttemptAt: undefined },
      timeline: [
        `0 TaskAdded ${t}`,
        `0 AttemptStarting ${t}#1`,
        `5000 AttemptFailed ${t}#1 upstream 503 exit=75`,
        `5000 TaskFinished ${t} Failed: upstream 503`,
        `5000 TaskRemoved ${t}`
      ]
    },
    onFailure: restarted,
    always: restarted
  }
}

const typed503 = Effect.fail(TaskError.fail("upstream 503", { exitCode: 75 }))

const SELF_ENDING: ReadonlyArray<SelfEndingFault> = [
  {
    fault: "synchronous throw inside Effect.sync",
    attempt: Effect.sync(() => {
      throw new Error("sync boom")
    }),
    endsBy: 200,
    expected: instantFailure("defect: Error: sync boom", "defect: Error: sync boom")
  },
  {
    fault: "Effect.die",
    attempt: Effect.die(new Error("died")),
    endsBy: 200,
    expected: instantFailure("defect: Error: died", "defect: Error: died")
  },
  {
    // Effect 3's `Effect.dieMessage(message)`; Effect 4 has no such helper.
    fault: "Effect.die(new Error(message))",
    attempt: Effect.die(new Error("kaput")),
    endsBy: 200,
    expected: instantFailure("defect: Error: kaput", "defect: Error: kaput")
  },
  {
    fault: "typed failure",
    attempt: typed503,
    endsBy: 200,
    expected: instantFailure("upstream 503 exit=75", "upstream 503", 75)
  },
  {
    fault: "TaskError.Fatal",
    attempt: Effect.fail(TaskError.fatal("config missing", { exitCode: 78 })),
    endsBy: 0,
    expected: { never: fatal, onFailure: fatal, always: fatal }
  },
  {
    fault: "self-interruption (Effect.interrupt)",
    attempt: Effect.interrupt,
    endsBy: 200,
    expected: instantFailure(
      "the attempt was interrupted without a stop request",
      "the attempt was interrupted without a stop request"
    )
  },
  {
    fault: "the supervisor's per-attempt timeout",
    attempt: Effect.never,
    options: { timeout: "50 millis" },
    endsBy: 350,
    expected: timedOut()
  },
  {
    fault: "the supervisor's per-attempt timeout on an uninterruptible region (reported when the region ends)",
    attempt: Effect.uninterruptible(Effect.sleep("500 millis")),
    options: { timeout: "50 millis" },
    endsBy: 1700,
    expected: timedOutLate()
  },
  {
    fault: "a scope finalizer that fails (the attempt itself succeeds)",
    attempt: Effect.andThen(
      Effect.addFinalizer(() => Effect.die(new Error("finalizer failed"))),
      Effect.void
    ),
    endsBy: 200,
    expected: instantFailure("defect: Error: finalizer failed", "defect: Error: finalizer failed")
  },
  {
    fault: "a scope finalizer that fails after a typed failure (the typed failure decides)",
    attempt: Effect.andThen(
      Effect.addFinalizer(() => Effect.die(new Error("finalizer failed"))),
      typed503
    ),
    endsBy: 200,
    expected: instantFailure("upstream 503 exit=75", "upstream 503", 75)
  },
  {
    fault: "a scope finalizer that takes 5 s after a typed failure",
    attempt: Effect.andThen(slowFinalizer, typed503),
    endsBy: 15_200,
    expected: failsAfterSlowFinalizer()
  }
]

describe("Task faults: attempts that end by themselves", () => {
  for (const row of SELF_ENDING) {
    describe(row.fault, () => {
      for (const [policy, restart] of POLICIES) {
        const expected = row.expected[policy]
        it.effect(`${policy}: ${expected.outcome._tag}`, () =>
          cell(policy, ["t"], ({ probe, sup, timeline }) =>
            Effect.gen(function* () {
              const handle = yield* sup.add(Task.make("t", row.attempt, { restart, ...RETRY, ...row.options }))
              yield* TestTime.adjust("150 millis")
              expect(yield* stateOf(sup, "t")).toEqual(expected.at150)
              // The supervisor serves other tasks while the faulty one fails (or after it ended).
              yield* probe
              yield* TestTime.adjust(Math.max(0, row.endsBy - 160))
              expect(Option.map(yield* handle.poll, brief)).toEqual(Option.some(expected.outcome))
              expect(yield* timeline).toEqual(expected.timeline)
              // Nothing more happens to it.
              yield* TestTime.adjust("1 minute")
              expect(yield* timeline).toEqual(expected.timeline)
              expect(yield* sup.list).toEqual([])
            })
          )
        )
      }
    })
  }
})

// ---- faults that only show when the supervisor stops the task ----

/** An attempt inside an uninterruptible region for 5 s. */
const uninterruptible5s = Effect.uninterruptible(Effect.sleep("5 seconds"))

/** An attempt that runs forever; its scope finalizer takes 5 s. */
const hangingFinalizer = Effect.andThen(slowFinalizer, Effect.never)

interface StopFault {
  readonly fault: string
  readonly attempt: Effect.Effect<unknown, unknown, Services>
  readonly stop: "remove" | "cancel" | "shutdown"
  /** When its fiber finally exits (the region or the finalizer ends). */
  readonly exitsAt: number
}

const STOPPED: ReadonlyArray<StopFault> = [
  {
    fault: "an uninterruptible region longer than grace, hit by remove",
    attempt: uninterruptible5s,
    stop: "remove",
    exitsAt: 5000
  },
  {
    fault: "an uninterruptible region longer than grace, hit by cancel",
    attempt: uninterruptible5s,
    stop: "cancel",
    exitsAt: 5000
  },
  {
    fault: "an uninterruptible region longer than grace, hit by shutdown",
    attempt: uninterruptible5s,
    stop: "shutdown",
    exitsAt: 5000
  },
  {
    fault: "a finalizer that hangs longer than grace, hit by remove",
    attempt: hangingFinalizer,
    stop: "remove",
    exitsAt: 5100
  },
  {
    fault: "a finalizer that hangs longer than grace, hit by cancel",
    attempt: hangingFinalizer,
    stop: "cancel",
    exitsAt: 5100
  },
  {
    fault: "a finalizer that hangs longer than grace, hit by shutdown",
    attempt: hangingFinalizer,
    stop: "shutdown",
    exitsAt: 5100
  }
]

describe("Task faults: tasks that do not stop within their grace", () => {
  for (const row of STOPPED) {
    describe(row.fault, () => {
      for (const [policy, restart] of POLICIES) {
        it.effect(`${policy}: ForceAborted, the name stays taken until the fiber exits`, () =>
          cell(policy, ["t"], ({ probe, root, sup, timeline }) =>
            Effect.gen(function* () {
              const handle = yield* sup.add(Task.make("t", row.attempt, { restart, ...RETRY }))
              // The supervisor serves other tasks while this one is stuck (0 to 10 ms).
              yield* probe
              yield* TestTime.adjust("90 millis")
              // A stop at 100 ms; grace 1 s (the task's for remove/cancel, the supervisor's for shutdown).
              const stop: Effect.Effect<Result.Result<boolean, { readonly _tag: string }>> =
                row.stop === "remove"
                  ? Effect.result(sup.remove("t"))
                  : row.stop === "cancel"
                    ? Effect.result(sup.cancel("t"))
                    : Effect.result(Effect.as(sup.shutdown, true))
              const stopping = yield* Effect.forkChild(stop)
              yield* TestTime.adjust("999 millis")
              expect(yield* handle.poll).toEqual(Option.none())
              expect(yield* stateOf(sup, "t")).toEqual({
                state: "stopping",
                attempt: 1,
                restarts: 0,
                nextAttemptAt: undefined
              })
              yield* TestTime.adjust("1 millis")
              const during = row.stop === "shutdown" ? "the shutdown grace" : "its grace"
              expect(Option.map(yield* handle.poll, brief)).toEqual(
                Option.some({ _tag: "ForceAborted", reason: `did not stop within ${during} of 1000 ms` })
              )
              const stopped = yield* Fiber.join(stopping)
              if (row.stop === "shutdown") {
                expect(Result.map(stopped, () => "ok")).toEqual(
                  Result.fail(
                    expect.objectContaining({
                      _tag: "GraceExceeded",
                      stuck: ["t"],
                      paths: [`${root}/t`]
                    })
                  )
                )
              } else {
                expect(stopped).toEqual(Result.succeed(true))
                // The abandoned fiber keeps the name: a second instance never overlaps the first.
                const again = yield* Effect.result(sup.add(Task.once("t", Effect.void)))
                expect(Result.map(Result.flip(again), (error) => error._tag)).toEqual(
                  Result.succeed("TaskAlreadyExists")
                )
                // The supervisor goes on serving other tasks while the abandoned fiber runs.
                yield* probe
              }
              yield* TestTime.adjust(row.exitsAt - 1100 - (row.stop === "shutdown" ? 0 : 10) - 1)
              expect(Option.isSome(yield* sup.get("t"))).toBe(true)
              yield* TestTime.adjust("1 millis")
              expect(yield* sup.get("t")).toEqual(Option.none())
              const by = row.stop
              expect(yield* timeline).toEqual([
                "0 TaskAdded t",
                "0 AttemptStarting t#1",
                ...(by === "shutdown" ? ["100 ShutdownRequested sup"] : []),
                `100 TaskRemoveRequested t ${by}`,
                `1100 TaskFinished t ForceAborted: did not stop within ${during} of 1000 ms`,
                ...(by === "shutdown"
                  ? ["1100 GraceExceeded sup stuck=t paths=t"]
                  : ["1100 TaskAddFailed sup t AlreadyExists"]),
                `${row.exitsAt} AttemptCanceled t#1 stopped by ${by}`,
                `${row.exitsAt} TaskRemoved t`
              ])
              // The outcome decided at the end of the grace stays.
              expect(Option.map(yield* handle.poll, brief)).toEqual(
                Option.some({ _tag: "ForceAborted", reason: `did not stop within ${during} of 1000 ms` })
              )
            })
          )
        )
      }
    })
  }
})

// ---- a task that forks its own children ----

/**
 * Children that record when they are interrupted; every child waits on `release`, so a test can
 * end children that nothing else will ever interrupt (a daemon, or one that leaked).
 */
const makeChildren = Effect.gen(function* () {
  const release = yield* Deferred.make<void>()
  const alive = new Set<string>()
  const interrupted: Array<string> = []
  const child = (name: string) =>
    Effect.andThen(
      Effect.sync(() => alive.add(name)),
      Deferred.await(release)
    ).pipe(
      Effect.onInterrupt(() =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          Effect.sync(() => {
            alive.delete(name)
            interrupted.push(`${at} ${name}`)
          })
        )
      ),
      Effect.ensuring(Effect.sync(() => alive.delete(name)))
    )
  /** Ends every child still waiting, and lets them finish. */
  const releaseAll = Effect.andThen(Deferred.succeed(release, undefined), TestTime.adjust(0))
  return { alive, interrupted, child, releaseAll }
})

/** The events of a task whose attempts fail 50 ms after they start with `failed`: attempts at 0, 150 and 300 ms. */
const failsAfter50 = (failed: string, reason: string, t = "t"): Record<Policy, Expected> => {
  const given = `retry limit reached after 2 of 2 retries: ${reason}`
  const restarted: Expected = {
    outcome: { _tag: "Failed", reason: given },
    at150: { state: "running", attempt: 2, restarts: 1, nextAttemptAt: undefined },
    timeline: [
      `0 TaskAdded ${t}`,
      `0 AttemptStarting ${t}#1`,
      `50 AttemptFailed ${t}#1 ${failed}`,
      `50 BackoffScheduled ${t}#1 failure 100 ms`,
      `150 AttemptStarting ${t}#2`,
      `200 AttemptFailed ${t}#2 ${failed}`,
      `200 BackoffScheduled ${t}#2 failure 100 ms`,
      `300 AttemptStarting ${t}#3`,
      `350 AttemptFailed ${t}#3 ${failed}`,
      `350 TaskFinished ${t} Failed: ${given}`,
      `350 TaskRemoved ${t}`
    ]
  }
  return {
    never: {
      outcome: { _tag: "Failed", reason },
      at150: undefined,
      timeline: [
        `0 TaskAdded ${t}`,
        `0 AttemptStarting ${t}#1`,
        `50 AttemptFailed ${t}#1 ${failed}`,
        `50 TaskFinished ${t} Failed: ${reason}`,
        `50 TaskRemoved ${t}`
      ]
    },
    onFailure: restarted,
    always: restarted
  }
}

describe("Task faults: a task that forks its own children (Effect.forkChild and Effect.forkDetach)", () => {
  const expected = failsAfter50("parent failed", "parent failed")
  for (const [policy, restart] of POLICIES) {
    const attempts = policy === "never" ? 1 : 3
    const end = policy === "never" ? 50 : 350
    it.effect(
      `${policy}: Effect.forkChild children do not outlive the task; forkDaemon children escape by design`,
      () =>
        Effect.gen(function* () {
          const { alive, child, interrupted, releaseAll } = yield* makeChildren
          const attempt = Effect.gen(function* () {
            const { attempt: n } = yield* TaskContext.TaskContext
            yield* Effect.forkChild(child(`fork#${n}`))
            yield* Effect.forkDetach(child(`daemon#${n}`))
            yield* Effect.sleep("50 millis")
            return yield* TaskError.fail("parent failed")
          })
          yield* cell(policy, ["t"], ({ probe, sup, timeline }) =>
            Effect.gen(function* () {
              const handle = yield* sup.add(Task.make("t", attempt, { restart, ...RETRY }))
              yield* TestTime.adjust("150 millis")
              expect(yield* stateOf(sup, "t")).toEqual(expected[policy].at150)
              yield* probe
              yield* TestTime.adjust(end - 160)
              expect(Option.map(yield* handle.poll, brief)).toEqual(Option.some(expected[policy].outcome))
              expect(yield* timeline).toEqual(expected[policy].timeline)
              // Every child forked with Effect.forkChild was interrupted, at the latest when the task ended.
              const forks = interrupted.filter((entry) => entry.includes("fork#"))
              expect(forks.map((entry) => entry.split(" ")[1]).sort()).toEqual(
                Array.from({ length: attempts }, (_, i) => `fork#${i + 1}`)
              )
              expect(forks.every((entry) => Number(entry.split(" ")[0]) <= end)).toBe(true)
              // Daemons are forked in the global scope: the supervisor cannot see them, one per attempt lives on.
              expect([...alive].sort()).toEqual(Array.from({ length: attempts }, (_, i) => `daemon#${i + 1}`))
            })
          )
          // Shutting the supervisor down does not reach daemons either (nor does the leak check: they are not fibervisor's).
          expect([...alive].sort()).toEqual(Array.from({ length: attempts }, (_, i) => `daemon#${i + 1}`))
          yield* releaseAll
          expect([...alive]).toEqual([])
        })
    )
  }
})

// ---- TaskHandle.await after the task is long gone ----

describe("Task faults: TaskHandle.await called after the task is long gone", () => {
  const expected: Record<Policy, { outcome: Brief; timeline: ReadonlyArray<string> }> = {
    never: {
      outcome: { _tag: "Failed", reason: "boom" },
      timeline: [
        "0 TaskAdded t",
        "0 AttemptStarting t#1",
        "0 AttemptFailed t#1 boom",
        "0 TaskFinished t Failed: boom",
        "0 TaskRemoved t"
      ]
    },
    onFailure: {
      outcome: { _tag: "Completed" },
      timeline: [
        "0 TaskAdded t",
        "0 AttemptStarting t#1",
        "0 AttemptFailed t#1 boom",
        "0 BackoffScheduled t#1 failure 100 ms",
        "100 AttemptStarting t#2",
        "100 AttemptSucceeded t#2",
        "100 TaskFinished t Completed",
        "100 TaskRemoved t"
      ]
    },
    always: {
      outcome: { _tag: "Canceled", reason: "done" },
      timeline: [
        "0 TaskAdded t",
        "0 AttemptStarting t#1",
        "0 AttemptFailed t#1 boom",
        "0 BackoffScheduled t#1 failure 100 ms",
        "100 AttemptStarting t#2",
        "100 AttemptSucceeded t#2",
        "101 AttemptStarting t#3",
        "101 AttemptCanceled t#3 done",
        "101 TaskFinished t Canceled: done",
        "101 TaskRemoved t"
      ]
    }
  }
  // Attempt 1 fails, attempt 2 succeeds, attempt 3 (only under `always`) cancels itself.
  const attempt = script(Effect.fail(TaskError.fail("boom")), Effect.void, Effect.fail(TaskError.canceled("done")))
  for (const [policy, restart] of POLICIES) {
    it.effect(
      `${policy}: await and poll return the same outcome, also after the name was reused and the supervisor closed`,
      () =>
        Effect.gen(function* () {
          let handle: Supervisor.TaskHandle | undefined = undefined
          let first: TaskOutcome.TaskOutcome | undefined = undefined
          yield* cell(policy, ["t"], ({ probe, sup, timeline }) =>
            Effect.gen(function* () {
              handle = yield* sup.add(Task.make("t", attempt, { restart, ...RETRY }))
              yield* TestTime.adjust("1 hour")
              // Long gone: out of the registry.
              expect(yield* sup.get(handle.id)).toEqual(Option.none())
              expect(yield* sup.list).toEqual([])
              // The name goes to another task, which ends differently.
              const next = yield* sup.add(Task.once("t", Effect.fail(TaskError.fail("another"))))
              expect(next.id).not.toBe(handle.id)
              expect(brief(yield* next.await)).toEqual({ _tag: "Failed", reason: "another" })
              yield* probe
              // The first await, an hour later.
              first = yield* handle.await
              expect(brief(first)).toEqual(expected[policy].outcome)
              expect(yield* handle.await).toBe(first)
              expect(Option.getOrThrow(yield* handle.poll)).toBe(first)
              expect(yield* timeline).toEqual([
                ...expected[policy].timeline,
                "3600000 TaskAdded t",
                "3600000 AttemptStarting t#1",
                "3600000 AttemptFailed t#1 another",
                "3600000 TaskFinished t Failed: another",
                "3600000 TaskRemoved t"
              ])
            })
          )
          // After the supervisor is gone too.
          expect(yield* handle!.await).toBe(first)
          expect(Option.getOrThrow(yield* handle!.poll)).toBe(first)
        })
    )
  }
})

// ---- the same faults for a child of a nested supervisor ----

/** The registry state of a child of the root's supervisor task `group` (`undefined`: not there). */
const childState = (sup: Supervisor.Supervisor, child: string) =>
  Effect.map(sup.tree, (tree) => {
    const node = tree.tasks.find((task) => task.name === "group")?.supervisor?.tasks.find((task) => task.name === child)
    return node === undefined
      ? undefined
      : { state: node.state, attempt: node.attempt, restarts: node.restarts, nextAttemptAt: node.nextAttemptAt }
  })

const running1 = { state: "running", attempt: 1, restarts: 0, nextAttemptAt: undefined }

interface NestedFault {
  readonly fault: string
  readonly bad: Effect.Effect<unknown, unknown, Services>
  readonly endsBy: number
  readonly expected: Record<Policy, Expected>
}

const NESTED: ReadonlyArray<NestedFault> = [
  {
    fault: "typed failure",
    bad: typed503,
    endsBy: 200,
    expected: instantFailure("upstream 503 exit=75", "upstream 503", 75, "group/bad")
  },
  {
    fault: "Effect.die",
    bad: Effect.die(new Error("died")),
    endsBy: 200,
    expected: instantFailure("defect: Error: died", "defect: Error: died", undefined, "group/bad")
  },
  {
    fault: "synchronous throw inside Effect.sync",
    bad: Effect.sync(() => {
      throw new Error("sync boom")
    }),
    endsBy: 200,
    expected: instantFailure("defect: Error: sync boom", "defect: Error: sync boom", undefined, "group/bad")
  },
  {
    fault: "TaskError.Fatal",
    bad: Effect.fail(TaskError.fatal("config missing", { exitCode: 78 })),
    endsBy: 0,
    expected: { never: fatalOf("group/bad"), onFailure: fatalOf("group/bad"), always: fatalOf("group/bad") }
  },
  {
    fault: "a scope finalizer that takes 5 s after a typed failure",
    bad: Effect.andThen(slowFinalizer, typed503),
    endsBy: 15_200,
    expected: failsAfterSlowFinalizer("group/bad")
  }
]

describe("Task faults: a child of a nested Supervisor.task (the tree isolates the fault)", () => {
  for (const row of NESTED) {
    describe(row.fault, () => {
      for (const [policy, restart] of POLICIES) {
        const expected = row.expected[policy]
        it.effect(`${policy}: the child ends ${expected.outcome._tag}; its sibling and its supervisor run on`, () =>
          cell(policy, ["group", "group/bad", "group/good"], ({ probe, sup, timelineOf }) =>
            Effect.gen(function* () {
              const handle = yield* sup.add(
                Supervisor.task("group", [
                  Task.make("bad", row.bad, { restart, ...RETRY }),
                  Task.make("good", Effect.never)
                ])
              )
              yield* TestTime.adjust("150 millis")
              expect(yield* childState(sup, "bad")).toEqual(expected.at150)
              yield* probe
              yield* TestTime.adjust(Math.max(0, row.endsBy - 160))
              expect(yield* timelineOf("group/bad")).toEqual(expected.timeline)
              expect(yield* childState(sup, "bad")).toEqual(undefined)
              // Isolated: the sibling and the supervisor task never noticed.
              expect(yield* childState(sup, "good")).toEqual(running1)
              expect(yield* stateOf(sup, "group")).toEqual(running1)
              expect(yield* timelineOf("group/good")).toEqual([
                "0 TaskAdded group/good",
                "0 AttemptStarting group/good#1"
              ])
              expect(yield* timelineOf("group")).toEqual(["0 TaskAdded group", "0 AttemptStarting group#1"])
              // The group still stops cleanly.
              const at = Math.max(row.endsBy, 160)
              expect(yield* sup.remove("group")).toBe(true)
              expect(brief(yield* handle.await)).toEqual({ _tag: "Canceled", reason: "stopped by remove" })
              expect(yield* timelineOf("group/good")).toEqual([
                "0 TaskAdded group/good",
                "0 AttemptStarting group/good#1",
                `${at} TaskRemoveRequested group/good shutdown`,
                `${at} AttemptCanceled group/good#1 stopped by shutdown`,
                `${at} TaskFinished group/good Canceled: stopped by shutdown`,
                `${at} TaskRemoved group/good`
              ])
              expect(yield* timelineOf("group")).toEqual([
                "0 TaskAdded group",
                "0 AttemptStarting group#1",
                `${at} TaskRemoveRequested group remove`,
                `${at} ShutdownRequested group`,
                `${at} AllStoppedWithinGrace group`,
                `${at} AttemptCanceled group#1 stopped by remove`,
                `${at} TaskFinished group Canceled: stopped by remove`,
                `${at} TaskRemoved group`
              ])
            })
          )
        )
      }
    })
  }

  describe("a finalizer that hangs longer than grace, hit by the removal of its supervisor task", () => {
    for (const [policy, restart] of POLICIES) {
      it.effect(`${policy}: the child and the group are abandoned after 1 s; the root serves on`, () =>
        cell(policy, ["group", "group/bad", "group/good"], ({ probe, sup, timeline }) =>
          Effect.gen(function* () {
            const handle = yield* sup.add(
              Supervisor.task(
                "group",
                [Task.make("bad", hangingFinalizer, { restart, ...RETRY }), Task.make("good", Effect.never)],
                { grace: "1 second" }
              )
            )
            yield* probe
            const root = (yield* sup.tree).path
            yield* TestTime.adjust("90 millis")
            expect(yield* sup.remove("group")).toBe(true)
            yield* TestTime.adjust("1 second")
            expect(Option.map(yield* handle.poll, brief)).toEqual(
              // Its grace and its nested supervisor's deadline end together: the subtree is decided.
              Option.some({
                _tag: "ForceAborted",
                reason: `did not stop: tasks under it were abandoned (${root}/group/bad)`
              })
            )
            yield* probe
            // The abandoned group keeps its name until its subtree is really gone.
            const again = yield* Effect.result(sup.add(Task.once("group", Effect.void)))
            expect(Result.map(Result.flip(again), (error) => error._tag)).toEqual(Result.succeed("TaskAlreadyExists"))
            yield* TestTime.adjust("3989 millis")
            expect(Option.map(yield* sup.get("group"), (info) => info.state)).toEqual(Option.some("stopping"))
            yield* TestTime.adjust("1 millis")
            expect(yield* sup.list).toEqual([])
            expect(yield* timeline).toEqual([
              "0 TaskAdded group",
              "0 AttemptStarting group#1",
              "0 TaskAdded group/bad",
              "0 AttemptStarting group/bad#1",
              "0 TaskAdded group/good",
              "0 AttemptStarting group/good#1",
              "100 TaskRemoveRequested group remove",
              "100 ShutdownRequested group",
              // Reverse start order: the sibling stops at once, then the hanging child is asked.
              "100 TaskRemoveRequested group/good shutdown",
              "100 AttemptCanceled group/good#1 stopped by shutdown",
              "100 TaskFinished group/good Canceled: stopped by shutdown",
              "100 TaskRemoved group/good",
              "100 TaskRemoveRequested group/bad shutdown",
              // One deadline (the group's grace, 1 s) for the nested shutdown and for the root's wait.
              "1100 TaskFinished group/bad ForceAborted: did not stop within the shutdown grace of 1000 ms",
              "1100 GraceExceeded group stuck=bad paths=group/bad",
              `1100 TaskFinished group ForceAborted: did not stop: tasks under it were abandoned (${root}/group/bad)`,
              "1110 TaskAddFailed sup group AlreadyExists",
              // The finalizer ends: the child's fiber exits, then the group's.
              "5100 AttemptCanceled group/bad#1 stopped by shutdown",
              "5100 TaskRemoved group/bad",
              "5100 AttemptCanceled group#1 stopped by remove",
              "5100 TaskRemoved group"
            ])
          })
        )
      )
    }
  })
})

// ---- bugs: focused tests that fail until the bug is fixed ----

describe("Task faults: bugs", () => {
  it.effect(
    "BUG: Effect.forkScoped inside an attempt forks into the attempt's scope (the child ends with the attempt)",
    () =>
      Effect.gen(function* () {
        const { alive, child, interrupted, releaseAll } = yield* makeChildren
        const attempt = Effect.gen(function* () {
          const { attempt: n } = yield* TaskContext.TaskContext
          yield* Effect.forkScoped(child(`scoped#${n}`))
          yield* Effect.sleep("50 millis")
          return yield* TaskError.fail("parent failed")
        })
        const { events, sup } = yield* setup({ name: uniqueRoot("forkScoped") })
        const handle = yield* sup.add(Task.once("t", attempt))
        yield* TestTime.adjust("50 millis")
        const outcome = Option.map(yield* handle.poll, brief)
        const failed = (yield* events).filter(SupervisorEvent.is("AttemptFailed")).map((e) => `${e.at} ${e.reason}`)
        const leaked = [...alive]
        yield* releaseAll
        expect({ outcome, failed, interrupted, leaked }).toEqual({
          outcome: Option.some({ _tag: "Failed", reason: "parent failed" }),
          failed: ["50 parent failed"],
          interrupted: ["50 scoped#1"],
          leaked: []
        })
      })
  )

  it.effect("BUG: children forked with Effect.forkChild end with their attempt, not only with the task", () =>
    Effect.gen(function* () {
      const { child, interrupted, releaseAll } = yield* makeChildren
      const attempt = Effect.gen(function* () {
        const { attempt: n } = yield* TaskContext.TaskContext
        yield* Effect.forkChild(child(`fork#${n}`))
        yield* Effect.sleep("50 millis")
        return yield* TaskError.fail("parent failed")
      })
      const { sup } = yield* setup({ name: uniqueRoot("fork-per-attempt") })
      const handle = yield* sup.add(Task.make("t", attempt, { restart: RestartPolicy.onFailure, ...RETRY }))
      yield* TestTime.adjust("350 millis")
      expect((yield* handle.await)._tag).toBe("Failed")
      yield* releaseAll
      expect(interrupted).toEqual(["50 fork#1", "200 fork#2", "350 fork#3"])
    })
  )

  it.effect("(contrast) with a per-attempt timeout, Effect.forkChild children already end with their attempt", () =>
    Effect.gen(function* () {
      const { child, interrupted, releaseAll } = yield* makeChildren
      const attempt = Effect.gen(function* () {
        const { attempt: n } = yield* TaskContext.TaskContext
        yield* Effect.forkChild(child(`fork#${n}`))
        yield* Effect.sleep("50 millis")
        return yield* TaskError.fail("parent failed")
      })
      const { sup } = yield* setup({ name: uniqueRoot("fork-with-timeout") })
      const handle = yield* sup.add(
        Task.make("t", attempt, { restart: RestartPolicy.onFailure, ...RETRY, timeout: "1 hour" })
      )
      yield* TestTime.adjust("350 millis")
      expect((yield* handle.await)._tag).toBe("Failed")
      yield* releaseAll
      expect(interrupted).toEqual(["50 fork#1", "200 fork#2", "350 fork#3"])
    })
  )
})
