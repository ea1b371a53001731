/**
 * One attempt of a task, from its start to its closed scope: the attempt's context (`TaskContext`,
 * its `Scope`, log annotations), its body (with the task's timeout), its span, and its metrics
 * (`attemptEnded`); also the outcome of a task stopped on request (`stopped`, `untilStopped`).
 *
 * Data flow: the task loop (taskLoop.ts) runs `attempt` under the supervisor's permit (or
 * `attemptIn`, from its own step, when there is no permit to take);
 * `beginAttempt` opens the attempt (state, context, metrics, `AttemptStarting`) and returns its
 * body, which ends it (`attemptScope.endAttempt`) and resumes with its exit or `TIMED_OUT`; the
 * loop then decides what follows. The steps find their task through the running fiber (`currentEntry`).
 *
 * Invariants:
 * - No attempt starts once a stop was requested or the supervisor is shutting down.
 * - Each attempt's context is rebuilt from the caller's, never from the previous attempt's.
 * - The attempt's scope is closed before its exit is returned; the body is uninterruptible but
 *   for the task's effect itself.
 * - Hot path: an untimed, untraced attempt is two shared frames under the task's effect
 *   (`attemptEnd`, `compat.regionEnd`); tasks with a timeout share one body builder; a span is made
 *   only when a tracer exports.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { hasProperty } from "effect/Predicate"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { TaskContext } from "../TaskContext.js"
import * as TaskOutcome from "../TaskOutcome.js"
import { TIMED_OUT } from "./attempt.js"
import { endAttempt, endInterrupted, endVoid, makeAttemptScope } from "./attemptScope.js"
import {
  addThree,
  currentFiber,
  currentFiberInterrupted,
  enterUninterruptible,
  frame,
  isInterruptible,
  keepInterruption,
  parentSpan,
  pushFrame,
  regionEnd,
  runsNativeTracer,
  unsafeCurrentService,
  watchedTarget
} from "./compat.js"
import { maxTimerMs, sleepMillis } from "./duration.js"
import { type Entry, entryOf, type LoopResult } from "./entry.js"
import { attemptStarting } from "./supervisor/events.js"

/** What an attempt resumes with: its exit, or `TIMED_OUT` when its timeout fired first. */
export type AttemptExit = Exit.Exit<unknown, unknown> | typeof TIMED_OUT

/**
 * The outcome of a task stopped on request, one value per reason (outcomes are immutable values, and
 * a shutdown settles every task with one: no string and object per task).
 */
export const stopped = (entry: Entry): TaskOutcome.TaskOutcome => {
  const reason = entry.stopReason ?? "request"
  let outcome = stoppedBy.get(reason)
  if (outcome === undefined) {
    outcome = new TaskOutcome.Canceled({ reason: `stopped by ${reason}` })
    stoppedBy.set(reason, outcome)
  }
  return outcome
}

const stoppedBy = new Map<string, TaskOutcome.Canceled>()

/**
 * The context of one attempt: the caller's, with the task's `TaskContext`, the attempt's `Scope`,
 * and log annotations naming the task, its path and the attempt, so that every log line of the
 * attempt — its effect, its finalizers, fibers it forks, and the loop's own lines after it —
 * carries them. Built from the caller's context each time (not from the fiber's current one), so
 * that a task that restarts forever does not pile up layers of context.
 */
const attemptContext = (entry: Entry, scope: Scope.Scope, attempt: number): Context.Context<never> => {
  const caller = entry.caller as Context.Context<never>
  const annotations = Context.get(caller, References.CurrentLogAnnotations)
  const path = entry.path
  // `TaskContext` last: the newest overlay is found first, and the loop looks the task up a few
  // times per attempt (the scope once, the annotations only when a line is logged).
  return addThree(
    caller,
    References.CurrentLogAnnotations,
    isEmpty(annotations) ? { task: entry.name, path, attempt } : { ...annotations, task: entry.name, path, attempt },
    Scope.Scope,
    scope,
    TaskContext,
    entry
  )
}

/** The last annotations record found empty (most callers share Effect's default one). */
let emptyAnnotations: object | undefined = undefined

/** No annotation of the caller's to copy: the attempt's record is a literal, not a spread (hot path). */
const isEmpty = (annotations: object): boolean => {
  if (annotations === emptyAnnotations) return true
  for (const _ in annotations) return false
  emptyAnnotations = annotations
  return true
}

/**
 * The task whose fiber is running (or whose attempt's timeout fiber is: it inherits the context).
 * The loop's steps find their task here, so they are built once for all tasks instead of closing
 * over each task's entry (closures that every idle task would keep alive). A task's own fiber
 * finds it in its observer list (`compat.watchedTarget`): before its first attempt the fiber runs
 * in its caller's context, which holds no `TaskContext` of this task (or its caller's own, when a
 * task adds tasks); a timeout fiber finds it in the attempt's context.
 */
export const currentEntry = (): Entry =>
  watchedTarget<Entry>(currentFiber()) ?? entryOf(unsafeCurrentService(TaskContext)!)!

/**
 * The running attempt's scope: the one its context holds (`attemptContext`), which the body's
 * continuation runs in again once the task's effect has ended (no field on the entry for it).
 */
const currentScope = (): Scope.Closeable => unsafeCurrentService(Scope.Scope) as Scope.Closeable

/** As `attemptEnd`'s `onFailure` it also gets the failed exit; as `bodyOf`'s handler, the cause only. */
const endFailed = (
  cause: Cause.Cause<unknown>,
  _fiber?: unknown,
  exit?: Exit.Exit<unknown, unknown>
): Effect.Effect<AttemptExit> => {
  if (!currentFiberInterrupted()) return endAttempt(currentScope(), Exit.failCause(cause))
  // The fiber exits with its interruption when the attempt's region ends: with this exit again.
  keepInterruption(exit)
  return endInterrupted(currentScope(), cause)
}

const endSucceeded = (value: unknown): Effect.Effect<AttemptExit> =>
  value === undefined ? endVoid(currentScope()) : endAttempt(currentScope(), Exit.succeed(value))

/**
 * The end of an attempt run in frames (`beginAttempt`): popped when the task's effect ends, it
 * makes the fiber uninterruptible and ends the attempt; `regionEnd`, under it, makes the fiber
 * interruptible again once the end is over (a stop that came meanwhile takes effect there).
 */
const attemptEnd = frame({ enter: enterUninterruptible, onSuccess: endSucceeded, onFailure: endFailed })

const bodyOf = (effect: Effect.Effect<unknown, unknown>): Effect.Effect<AttemptExit> =>
  Effect.uninterruptible(
    Effect.matchCauseEffect(Effect.interruptible(effect), { onFailure: endFailed, onSuccess: endSucceeded })
  )

/** The body of every task without a timeout: the task's effect is looked up when the attempt runs. */
const sharedBody: Effect.Effect<AttemptExit> = bodyOf(
  Effect.suspend(() => currentEntry().effect as Effect.Effect<unknown, unknown>)
)

const timedOut: Effect.Effect<AttemptExit> = Effect.succeed(TIMED_OUT)

/**
 * One attempt of `entry`'s effect, resuming with its exit (or `TIMED_OUT`) once its scope is closed:
 * `Effect.exit(Effect.onExit(effect, end))` in one step. The task's fiber is always interruptible
 * here, so the fixed uninterruptible/interruptible pair is what `uninterruptibleMask` would build.
 */
const attemptBody = (entry: Entry): Effect.Effect<AttemptExit> => {
  const spec = entry.spec
  if (spec.timeoutMs <= 0) return sharedBody
  const body = bodyOf(entry.effect as Effect.Effect<unknown, unknown>)
  if (spec.timeoutMs <= maxTimerMs) {
    return Effect.timeoutOrElse(body, {
      duration: Duration.millis(spec.timeoutMs),
      orElse: () => timedOut
    })
  }
  // Past Node's timer limit Effect's clock never fires: race a chained sleep instead.
  return Effect.raceFirst(body, Effect.as(sleepMillis(spec.timeoutMs), TIMED_OUT as AttemptExit))
}

/**
 * One attempt of the running task: `undefined` when a stop was requested before it could start (it
 * waited for a permit), else its exit, or `TIMED_OUT`. The attempt's scope is closed before this returns.
 */
export const attempt: Effect.Effect<AttemptExit | undefined> = Effect.withFiber((fiber) => attemptIn(fiber))

/** `attempt`, from a step of the task's fiber that has it at hand (`taskLoop.unlimitedLoop`). */
export const attemptIn = (fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<AttemptExit | undefined> =>
  beginAttempt(watchedTarget<Entry>(fiber)!, fiber)

const beginAttempt = (entry: Entry, fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<AttemptExit | undefined> => {
  // A task waiting for a permit never starts once its stop was requested.
  if (entry.stopRequested) return noAttempt
  const host = entry.owner
  if (host.shuttingDown) return Effect.as(untilStopped(entry), undefined)
  entry.attempt += 1
  entry.nextAttemptAt = undefined
  entry.setState("running")
  entry.attemptStartedAt = host.now()
  entry.attemptRunning = true
  // The fiber started in its caller's context: the attempt's is made now, not when the task was
  // added, so a task waiting for its first turn holds none (and a short one's dies young).
  fiber.setContext(attemptContext(entry, makeAttemptScope(), entry.attempt))
  entry.markStarted()
  const metrics = entry.metrics
  const caller = entry.caller as Context.Context<never>
  metrics.attempts.update(1, caller, entry.series)
  metrics.running.modify(1, caller, entry.series)
  if (host.listening) {
    host.emit(attemptStarting(entry))
  }
  // Effect's built-in tracer records nothing: the span is only made when someone exports spans.
  // The attempt's context carries the caller's tracer: the fiber's cache of it says which it is.
  const untraced = runsNativeTracer(fiber)
  if (untraced && entry.spec.timeoutMs <= 0 && isInterruptible(fiber)) {
    // Most attempts: `bodyOf(effect)` as two shared frames under the task's effect, without the
    // primitives of `uninterruptible`, `matchCauseEffect` and `interruptible` (the hot path).
    pushFrame(fiber, regionEnd)
    pushFrame(fiber, attemptEnd)
    return entry.effect as Effect.Effect<AttemptExit>
  }
  // Tasks without a timeout share one body; a timed one is built per attempt (no field per entry).
  const body = attemptBody(entry)
  return untraced ? body : traced(entry, body, parentSpan(caller))
}

const noAttempt: Effect.Effect<undefined> = Effect.succeed(undefined)

/**
 * Its supervisor is shutting down but has not asked this task to stop yet (static children are
 * stopped one by one): no new attempt starts, the task waits for its turn.
 */
export const untilStopped = (entry: Entry): Effect.Effect<LoopResult> => {
  entry.setState("waiting")
  entry.nextAttemptAt = undefined
  return Effect.map(entry.cancelled, () => stopped(entry))
}

/** What the attempt span reports as `outcome`. */
const spanOutcome = (exit: AttemptExit): string => {
  if (exit === TIMED_OUT) return "timed-out"
  if (Exit.isSuccess(exit)) return "succeeded"
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    return hasProperty(error, "_tag") && error._tag === "TaskCanceled" ? "canceled" : "failed"
  }
  return Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"
}

/**
 * The attempt in a root span `fibervisor.task.attempt`, linked to the span of the caller that
 * added the task (an attempt outlives the request that added it, so it is not its child).
 */
const traced = (
  entry: Entry,
  timed: Effect.Effect<AttemptExit>,
  parent: Tracer.AnySpan | undefined
): Effect.Effect<AttemptExit> =>
  Effect.withSpan(
    Effect.onInterrupt(
      Effect.tap(timed, (exit) => Effect.annotateCurrentSpan("outcome", spanOutcome(exit))),
      () => Effect.annotateCurrentSpan("outcome", "canceled")
    ),
    "fibervisor.task.attempt",
    {
      root: true,
      attributes: { task: entry.name, path: entry.path, attempt: entry.attempt },
      links: parent === undefined ? [] : [{ span: parent, attributes: {} }]
    }
  )

/** Records the end of an attempt in the metrics (also called when a stop interrupts it). */
export const attemptEnded = (entry: Entry, durationMs: number): void => {
  const metrics = entry.metrics
  const caller = entry.caller as Context.Context<never>
  metrics.running.modify(-1, caller, entry.series)
  metrics.duration.update(durationMs / 1000, caller, entry.series)
}
