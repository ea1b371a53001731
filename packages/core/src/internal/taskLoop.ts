/**
 * The task loop: the whole life of a task's fiber (attempt, read the exit, decide, back off or
 * run again) as one effect shared by task fibers: `unlimitedLoop` for every supervisor without a
 * concurrency limit, `supervisorLoop(withPermit)` built once for a supervisor with one.
 *
 * Data flow: `SupervisorImpl.startFiber` forks `host.loop` in the caller's context, and each step
 * finds its entry through the running fiber (`currentEntry`: its observer list, see
 * taskAttempt.ts): an idle task holds no closure.
 * Under the permit, `attempt` (taskAttempt.ts) opens the attempt (scope, context, metrics,
 * `AttemptStarting`) and its body runs and ends it (`attemptScope.endAttempt`); then, here,
 * `classify` reads the exit, and `afterAttempt` /
 * `onSuccess` / `onFailure` apply the decision table (docs/ARCHITECTURE.md, "The attempt-exit
 * decision table"). The fiber ends with an outcome, or with `RESTART` when a group restart takes
 * over. The supervisor is reached only through `LoopHost`.
 *
 * Invariants:
 * - The permit is held for the attempt only, never while backing off.
 * - No attempt starts once a stop was requested or the supervisor is shutting down.
 * - A stop's interruption takes effect when the attempt's uninterruptible end is over, before the
 *   decision: the supervisor's exit handler reports an interrupted attempt, not this loop.
 * - Each attempt's context is rebuilt from the caller's, never from the previous attempt's.
 * - Hot path: `flatMap`s, no generator; an event is built only when someone listens.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Schedule from "effect/Schedule"
import type { TaskFailure } from "../Backoff.js"
import * as TaskOutcome from "../TaskOutcome.js"
import type { EventInput } from "./bus.js"
import { type AttemptResult, classify } from "./attempt.js"
import { frame, makeStepper, pushFrame, type Stepper, stepSchedule } from "./compat.js"
import { describeCause } from "./describe.js"
import { sleepMillis } from "./duration.js"
import { type Entry, type LoopResult, RESTART } from "./entry.js"
import {
  attemptCanceled,
  attemptFailed,
  attemptSucceeded,
  attemptTimedOut,
  backoffScheduled,
  withExitCode
} from "./supervisor/events.js"
import {
  attempt,
  attemptEnded,
  type AttemptExit,
  attemptIn,
  currentEntry,
  stopped,
  untilStopped
} from "./taskAttempt.js"

export { attemptEnded, stopped } from "./taskAttempt.js"

/** What a task's loop needs from its supervisor. */
export interface LoopHost {
  now(): number
  emit(event: EventInput): void
  /** Whether anyone listens; read once per event, right before building it (see `EventBus.listening`). */
  readonly listening: boolean
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** `supervisorLoop(withPermit)`, built once per supervisor. */
  readonly loop: Effect.Effect<LoopResult>
  /**
   * A failed attempt is about to be retried: `"restart"` lets the task retry by itself, `"group"`
   * hands the restart to the supervisor's strategy, `"join"` hands it to a group restart already
   * pending that starts this task again anyway (not counted again), a string refuses it (the
   * restart intensity is exceeded) and says why.
   */
  restartVerdict(entry: Entry, reason: string): RestartVerdict
  /** Once set, no attempt starts again: a task waits for its stop (OTP's `sup_stop_race`). */
  readonly shuttingDown: boolean
}

/** See `LoopHost.restartVerdict`. */
export type RestartVerdict = "restart" | "group" | "join" | { readonly refused: string }

export type { EventInput }

/** Failures nobody may be watching are logged, so they never pass silently (unless `logFailures: "none"`). */
const logged = (
  entry: Entry,
  outcome: TaskOutcome.Failed | TaskOutcome.Fatal
): Effect.Effect<TaskOutcome.TaskOutcome> =>
  entry.spec.logFailures === undefined
    ? Effect.succeed(outcome)
    : Effect.as(
        Effect.logWarning(`task "${entry.name}" ended ${outcome._tag}: ${outcome.reason}`).pipe(
          Effect.annotateLogs({ fibervisor: "task", task: entry.name, taskId: entry.id })
        ),
        outcome
      )

/**
 * The line of a failed attempt, at the task's `logFailures` level, then `next`. Written by the task's
 * fiber after the attempt, so it carries the attempt's `task`, `path` and `attempt` annotations (no
 * more: each `annotateLogs` costs two copies of the fiber's refs, on the path of every restart).
 */
const loggedFailure = <A>(entry: Entry, reason: string, then: string, next: Effect.Effect<A>): Effect.Effect<A> => {
  const level = entry.spec.logFailures
  return level === undefined
    ? next
    : Effect.andThen(
        Effect.logWithLevel(level)(`task "${entry.path}" attempt ${entry.attempt} failed: ${reason}; ${then}`),
        next
      )
}

/**
 * The whole life of one task — attempts, decisions per the attempt-exit table, backoff — as a
 * loop of `flatMap`s (no generator: this is the hot path of every supervised task). One effect per
 * supervisor: its steps find their task through the running fiber, so a task costs no closure here.
 */
export const taskLoop = (host: LoopHost): Effect.Effect<LoopResult> => host.loop

/** Builds the `taskLoop` of a supervisor with a concurrency limit. */
export const supervisorLoop = (withPermit: LoopHost["withPermit"]): Effect.Effect<LoopResult> =>
  Effect.flatMap(withPermit(attempt), afterCurrentAttempt)

const afterCurrentAttempt = (exit: AttemptExit | undefined): Effect.Effect<LoopResult> => {
  const entry = currentEntry()
  return afterAttempt(entry.owner, entry, exit)
}

/** `afterCurrentAttempt` as a shared frame: what `Effect.flatMap` would push, without its primitive. */
const afterAttemptFrame = frame({ onSuccess: afterCurrentAttempt })

/**
 * The `taskLoop` of every supervisor without a concurrency limit (most): `supervisorLoop` with no
 * permit to take, the attempt begun in the same step that pushes the decision's frame.
 */
export const unlimitedLoop: Effect.Effect<LoopResult> = Effect.withFiber((fiber) => {
  pushFrame(fiber, afterAttemptFrame)
  // The attempt's exit goes to `afterAttemptFrame`, which resumes the fiber with the loop's result.
  return attemptIn(fiber) as Effect.Effect<unknown> as Effect.Effect<LoopResult>
})

const loopOf = (entry: Entry): Effect.Effect<LoopResult> => entry.owner.loop

/**
 * After a success (`scheduled`: the next run, not a restart) or a retried failure (`backing-off`):
 * wait `delayMs`, then the next attempt.
 */
const again = (
  host: LoopHost,
  entry: Entry,
  delayMs: number,
  waiting: "backing-off" | "scheduled"
): Effect.Effect<LoopResult> => {
  if (delayMs <= 0) {
    entry.setState("waiting")
    return loopOf(entry)
  }
  entry.setState(waiting)
  entry.nextAttemptAt = host.now() + delayMs
  return Effect.andThen(
    sleepMillis(delayMs),
    Effect.suspend(() => {
      entry.nextAttemptAt = undefined
      entry.setState("waiting")
      return loopOf(entry)
    })
  )
}

/**
 * The next attempt at once, after a turn of the event loop: zero backoff with no retry limit must
 * not starve the process, and an attempt that fails at once never suspends (nor does the loop,
 * when the caller's context turns off Effect's own yielding: `Scheduler.PreventSchedulerYield`).
 * So every 1024th immediate restart in a row yields to the fiber's scheduler, whose next turn
 * comes after timers and I/O (a macrotask); no wait on the clock.
 */
const yieldThenAgain = (host: LoopHost, entry: Entry): Effect.Effect<LoopResult> =>
  Effect.andThen(Effect.yieldNow, again(host, entry, 0, "backing-off"))

const afterAttempt = (host: LoopHost, entry: Entry, exit: AttemptExit | undefined): Effect.Effect<LoopResult> => {
  if (exit === undefined) return Effect.succeed(stopped(entry))
  entry.attemptRunning = false
  const spec = entry.spec
  const durationMs = host.now() - entry.attemptStartedAt
  attemptEnded(entry, durationMs)
  const result = classify(exit, spec.timeoutMs, spec.isFatal)
  switch (result._tag) {
    case "Succeeded":
      return onSuccess(host, entry, durationMs, (exit as Exit.Success<unknown, unknown>).value)
    case "Canceled":
      if (host.listening) host.emit(attemptCanceled(entry, durationMs, result.reason))
      return Effect.succeed(new TaskOutcome.Canceled(withExitCode({ reason: result.reason }, result.exitCode)))
    default:
      return onFailure(host, entry, result, durationMs)
  }
}

const completed: Effect.Effect<LoopResult> = Effect.succeed(TaskOutcome.completed)
const restartResult: Effect.Effect<LoopResult> = Effect.succeed(RESTART)

const onSuccess = (host: LoopHost, entry: Entry, durationMs: number, value: unknown): Effect.Effect<LoopResult> => {
  const spec = entry.spec
  if (host.listening) host.emit(attemptSucceeded(entry, durationMs))
  entry.streak = 0
  entry.backoff = undefined
  if (entry.stopRequested) return Effect.succeed(stopped(entry))
  const restart = spec.restart
  if (restart._tag === "Repeat") {
    if (host.shuttingDown) return untilStopped(entry)
    return repeatAfter(host, entry, restart.schedule, durationMs, value)
  }
  if (restart._tag !== "Always") return completed
  if (host.shuttingDown) return untilStopped(entry)
  const interval = restart.intervalMs
  // At least 1 ms between consecutive starts, so a task that returns at once cannot spin.
  const delayMs = Math.max(interval ?? 0, 1 - durationMs, 0)
  if (interval !== undefined && host.listening) nextRunScheduled(host, entry, delayMs)
  return again(host, entry, delayMs, "scheduled")
}

const nextRunScheduled = (host: LoopHost, entry: Entry, delayMs: number): void =>
  host.emit(backoffScheduled(entry, delayMs, "success"))

/** `Task.repeat`: steps its schedule with the run's value; the task completes when the schedule ends. */
const repeatAfter = (
  host: LoopHost,
  entry: Entry,
  schedule: Schedule.Schedule<unknown, unknown, unknown, unknown>,
  durationMs: number,
  value: unknown
): Effect.Effect<LoopResult> =>
  Effect.matchCauseEffect(
    Effect.flatMap(stepperOf(entry.repeatStepper, schedule), (stepper) => {
      entry.repeatStepper = stepper
      return Effect.flatMap(Clock.currentTimeMillis, (now) => stepSchedule(stepper, now, value))
    }) as Effect.Effect<ScheduleStepOrDone>,
    {
      // A schedule that fails or dies when stepped ends the task (logged, like every Failed outcome).
      onFailure: (cause) =>
        logged(entry, new TaskOutcome.Failed({ reason: `the repeat schedule failed: ${describeCause(cause)}`, cause })),
      onSuccess: (step) => {
        if (step === undefined) return completed
        // At least 1 ms between consecutive starts, as with `always`.
        const delayMs = Math.max(step.delayMs, 1 - durationMs, 0)
        if (host.listening) nextRunScheduled(host, entry, delayMs)
        return again(host, entry, delayMs, "scheduled")
      }
    }
  )

type ScheduleStepOrDone = { readonly output: unknown; readonly delayMs: number } | undefined

/** The running stepper, or a new one of `schedule` (the services it needs come from the task's fiber). */
const stepperOf = (
  stepper: Stepper<unknown, unknown> | undefined,
  schedule: Schedule.Schedule<unknown, any, unknown, unknown>
): Effect.Effect<Stepper<unknown, unknown>, never, unknown> =>
  stepper === undefined ? makeStepper(schedule) : Effect.succeed(stepper)

const onFailure = (
  host: LoopHost,
  entry: Entry,
  result: Extract<AttemptResult, { _tag: "Failed" | "TimedOut" }>,
  durationMs: number
): Effect.Effect<LoopResult> => {
  const spec = entry.spec
  const metrics = entry.metrics
  const caller = entry.caller as Context.Context<never>
  metrics.failures.update(1, caller, entry.series)
  if (result._tag === "TimedOut") metrics.timeouts.update(1, caller, entry.series)
  if (host.listening) {
    host.emit(
      result._tag === "TimedOut"
        ? attemptTimedOut(entry, durationMs, spec.timeoutMs)
        : attemptFailed(entry, durationMs, result.reason, result.fatal, result.exitCode)
    )
  }
  entry.lastFailure = result.reason
  const exitCode = result._tag === "Failed" ? result.exitCode : undefined
  const give = (reason: string) =>
    logged(entry, new TaskOutcome.Failed(withExitCode({ reason, cause: result.cause }, exitCode)))
  if (result._tag === "Failed" && result.fatal) {
    if (result.escalate) entry.escalating = true
    return logged(entry, new TaskOutcome.Fatal(withExitCode({ reason: result.reason, cause: result.cause }, exitCode)))
  }
  if (spec.restart._tag === "Never") return give(result.reason)
  // A stop requested while the attempt ran (it was uninterruptible) wins over a restart.
  if (entry.stopRequested) return Effect.succeed(stopped(entry))
  if (host.shuttingDown) return untilStopped(entry)
  if (spec.resetAfterMs > 0 && durationMs >= spec.resetAfterMs) {
    entry.streak = 0
    entry.backoff = undefined
  }
  entry.streak += 1
  const retries = entry.streak - 1
  if (entry.streak > spec.maxRetries) {
    return give(`retry limit reached after ${retries} of ${spec.maxRetries} retries: ${result.reason}`)
  }
  // The schedule's input has carried the task's path too (untyped) since it was built from the
  // events' fields: kept as it was.
  const which = { id: entry.id, task: entry.name, path: entry.path, attempt: entry.attempt }
  const failure: TaskFailure = {
    ...which,
    streak: entry.streak,
    reason: result.reason,
    timedOut: result._tag === "TimedOut",
    cause: result.cause
  }
  // A schedule that fails or dies when stepped ends the task (logged, like every Failed outcome).
  const broken = (cause: Cause.Cause<unknown>) =>
    give(`the backoff schedule failed: ${describeCause(cause)} (after: ${result.reason})`)
  return Effect.matchCauseEffect(
    Effect.flatMap(stepperOf(entry.backoff, spec.backoff), (stepper) => {
      entry.backoff = stepper
      return Effect.flatMap(Clock.currentTimeMillis, (now) => stepSchedule(stepper, now, failure))
    }) as Effect.Effect<ScheduleStepOrDone>,
    {
      onFailure: broken,
      onSuccess: (step) => {
        if (step === undefined) {
          return give(`retry budget exhausted: the backoff schedule ended after ${retries} retries: ${result.reason}`)
        }
        // An infinite delay is a retry that never comes (and has no JSON form for the events).
        if (!Number.isFinite(step.delayMs)) {
          return give(`the backoff schedule asked for an infinite delay after ${retries} retries: ${result.reason}`)
        }
        const verdict = host.restartVerdict(entry, result.reason)
        if (typeof verdict === "object") return give(`${result.reason} (not restarted: ${verdict.refused})`)
        if (verdict === "join") {
          // Restarted with the pending group restart, after its trigger's backoff: its own delay is not used.
          metrics.restarts.update(1, caller, entry.series)
          entry.restarts += 1
          entry.restartCounted = true
          entry.restartDelayMs = step.delayMs
          entry.setState("waiting")
          entry.nextAttemptAt = undefined
          return loggedFailure(entry, result.reason, "it restarts with its group's restart under way", restartResult)
        }
        if (host.listening) {
          host.emit(backoffScheduled(entry, step.delayMs, "failure", result.reason))
        }
        metrics.restarts.update(1, caller, entry.series)
        entry.restarts += 1
        if (verdict === "restart") {
          const next =
            step.delayMs <= 0 && entry.streak % 1024 === 0
              ? yieldThenAgain(host, entry)
              : again(host, entry, step.delayMs, "backing-off")
          return loggedFailure(entry, result.reason, `next attempt in ${step.delayMs} ms`, next)
        }
        entry.restartCounted = true
        entry.restartDelayMs = step.delayMs
        entry.setState("backing-off")
        entry.nextAttemptAt = step.delayMs > 0 ? host.now() + step.delayMs : undefined
        return loggedFailure(
          entry,
          result.reason,
          `its group restarts, next attempt after ${step.delayMs} ms`,
          restartResult
        )
      }
    }
  )
}
