/**
 * Shared by the supervision-tree tests (Strategies, Ordering): a log of attempt starts and scope
 * finalizers with their TestClock instants, attempts built on it, and compact views of events.
 */
import { Clock, Effect, Fiber, Metric, Stream } from "effect"
import type { Duration, Scope } from "effect"
import { Supervisor, SupervisorEvent, TaskContext } from "@fibervisor/core"
import type { Task } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { flush } from "./tasks.js"

import type { Ev } from "./recorder.js"

export type { Ev }

/** `flush` lets every runnable fiber run (and fires the sleeps due now) without moving the clock. */
export { flush, TestTime }

/**
 * Counts the fibers started under it that have not exited yet: what the tests used Effect 3's
 * `Supervisor.track` for (Effect 4 has no fiber supervisors). Provided as the fiber runtime
 * metrics service, it is inherited by every fiber forked (or run with the caller's context) below
 * the effect it is provided to.
 */
export interface FiberTracker {
  /** Fibers started under the tracker that have not exited. */
  readonly live: () => number
  /** Runs `effect` (and every fiber it starts) under the tracker. */
  readonly track: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const makeTracker = (): FiberTracker => {
  let started = 0
  let ended = 0
  const service: Metric.FiberRuntimeMetricsService = {
    recordFiberStart: () => {
      started++
    },
    recordFiberEnd: () => {
      ended++
    }
  }
  return {
    live: () => started - ended,
    track: (effect) => Effect.provideService(effect, Metric.FiberRuntimeMetrics, service)
  }
}

/**
 * A root supervisor and a recorder of its (whole tree's) events, subscribed before any task. With
 * `tracker`, the supervisor and every task added through `add` run under Effect's fiber tracking.
 */
export const setupTree = (options?: Supervisor.SupervisorOptions, tracker?: FiberTracker) =>
  Effect.gen(function* () {
    // Runs after the supervisor's shutdown (finalizers run in reverse): stops the clock mover below,
    // so it does not go on adjusting the TestClock (and its real-time timers) after the test.
    let mover: Fiber.Fiber<unknown, unknown> | undefined
    yield* Effect.addFinalizer(() => (mover === undefined ? Effect.void : Fiber.interrupt(mover)))
    const make = Supervisor.make(options)
    const sup = tracker === undefined ? yield* make : yield* tracker.track(make)
    // If a test fails before its tasks' slow finalizers have run, the shutdown that closing the scope
    // runs would wait on a TestClock nobody moves: move it in the background (a no-op otherwise).
    // Interruptible: a fiber forked by a finalizer would inherit its uninterruptibility.
    yield* Effect.addFinalizer(() =>
      Effect.map(
        Effect.forkDetach(Effect.interruptible(Effect.repeat(TestTime.adjust("1 minute"), { times: 120 }))),
        (fiber) => {
          mover = fiber
        }
      )
    )
    const stream = yield* sup.subscribe
    const recorded: Array<Ev> = []
    yield* Effect.forkScoped(Stream.runForEach(stream, (event) => Effect.sync(() => recorded.push(event))))
    /** Every event recorded so far (after letting the recorder catch up). */
    const events = Effect.andThen(
      flush,
      Effect.sync(() => recorded.slice())
    )
    const add = <E, R>(task: Task.Task<E, R>) => (tracker === undefined ? sup.add(task) : tracker.track(sup.add(task)))
    return { sup, events, add }
  })

/** A log of `[instant, what]` entries, e.g. `[1000, "stop root/g/b#1"]`. */
export interface Log {
  readonly entries: Array<readonly [number, string]>
  readonly push: (what: string) => Effect.Effect<void>
  /** The entries whose text starts with `prefix` (e.g. `"stop"`), as `"<at> <text>"`. */
  readonly lines: (prefix?: string) => Array<string>
}

export const makeLog = (): Log => {
  const entries: Array<readonly [number, string]> = []
  return {
    entries,
    push: (what) => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => entries.push([at, what]))),
    lines: (prefix = "") => entries.filter(([, what]) => what.startsWith(prefix)).map(([at, what]) => `${at} ${what}`)
  }
}

export interface RecordedOptions {
  /** How long the attempt's scope finalizer takes (it logs `stop` when it begins, `stopped` when done). */
  readonly stopTakes?: Duration.Input
}

/**
 * An attempt that logs `start <path>#<attempt>`, registers a scope finalizer that logs
 * `stop <path>#<attempt>` (and `stopped …` after `stopTakes`, if set), then runs `body(attempt)`
 * (default: forever).
 */
export const recorded = <E = never>(
  log: Log,
  body: (attempt: number) => Effect.Effect<unknown, E> = () => Effect.never,
  options: RecordedOptions = {}
): Effect.Effect<unknown, E, TaskContext.TaskContext | Scope.Scope> =>
  Effect.flatMap(TaskContext.TaskContext, (ctx) => {
    const me = `${ctx.path}#${ctx.attempt}`
    const release =
      options.stopTakes === undefined
        ? log.push(`stop ${me}`)
        : log
            .push(`stop ${me}`)
            .pipe(Effect.andThen(Effect.sleep(options.stopTakes)), Effect.andThen(log.push(`stopped ${me}`)))
    const attempt = ctx.attempt
    return Effect.andThen(
      Effect.acquireRelease(log.push(`start ${me}`), () => release),
      body(attempt)
    )
  })

/** `"<at> <tag> <path>"` plus the details that matter per tag, for exact timelines. */
export const line = (event: Ev): string => {
  const head = `${event.at} ${event._tag} ${event.path}`
  switch (event._tag) {
    case "AttemptStarting":
      return `${head} #${event.attempt}`
    case "AttemptFailed":
      return `${head} #${event.attempt} ${event.reason}`
    case "AttemptCanceled":
      return `${head} #${event.attempt} ${event.reason}`
    case "BackoffScheduled":
      return `${head} ${event.source} ${event.delayMs}`
    case "TaskRemoveRequested":
      return `${head} ${event.reason}`
    case "TaskFinished":
      return event.reason === undefined ? `${head} ${event.outcome}` : `${head} ${event.outcome} ${event.reason}`
    case "GroupRestart":
      return `${head} ${event.strategy} trigger=${event.trigger} affected=${event.affected.join(",")}`
    case "GraceExceeded":
      return `${head} stuck=${event.stuck.join(",")} paths=${event.paths.join(",")}`
    default:
      return head
  }
}

/** The lines of the events whose tag is in `tags` (all events when omitted). */
export const timeline = (events: ReadonlyArray<Ev>, tags?: ReadonlyArray<SupervisorEvent.Tag>): Array<string> =>
  events.filter((event) => tags === undefined || tags.includes(event._tag)).map(line)

/** The lines of the events under `prefix` (a path and everything below it). */
export const under = (events: ReadonlyArray<Ev>, prefix: string): Array<Ev> =>
  events.filter((event) => event.path === prefix || event.path.startsWith(`${prefix}/`))
