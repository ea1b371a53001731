/**
 * The one place each supervisor event is built, the task loop's attempt events included: a
 * builder per event, named after it.
 *
 * **Owns** nothing: pure functions from an entry (or an error, a slot, a request) to an
 * `EventInput`; the bus stamps `seq` and `at` when the event is emitted.
 *
 * **Data flow**: a caller checks `listening` first, then builds and emits in one expression:
 * `if (host.listening) host.emit(attemptCanceled(entry, ms, reason))`, so that nothing is built
 * when nobody listens (see `EventBus.listening`).
 *
 * **Invariants**
 * - Field order is the schema's (`_tag`, then `id`, `task`, `path`, then the event's own): events
 *   are compared and printed as they are built.
 * - Optional fields are left out, never set to `undefined` (`withExitCode`, `reason`).
 *
 * @internal
 */
import type { SupervisorFailure } from "../../SupervisorError.js"
import type * as SupervisorEvent from "../../SupervisorEvent.js"
import type { TaskId } from "../../TaskId.js"
import * as TaskOutcome from "../../TaskOutcome.js"
import type { EventInput } from "../bus.js"
import type { Entry } from "../entry.js"
import type { StopReason } from "../entryLifecycle.js"

/** The fields of an event `E` besides its tag (what a builder takes). */
type Fields<T extends SupervisorEvent.Tag> = Omit<SupervisorEvent.Of<T>, "_tag" | "seq" | "at">

/** `TaskAdded`: `entry` is registered (its fiber starts next). */
export const taskAdded = (entry: Entry): EventInput => ({
  _tag: "TaskAdded",
  id: entry.id,
  task: entry.name,
  path: entry.path
})

/** `TaskAddFailed`: `add` (or `addAll`, a static child) refused the task named `task`. */
export const taskAddFailed = (
  path: string,
  task: string,
  rejection: Fields<"TaskAddFailed">["rejection"],
  reason: string
): EventInput => ({ _tag: "TaskAddFailed", path, task, rejection, reason })

/** `TaskRemoveRequested`: the stop of `entry` is claimed, for `reason`. */
export const taskRemoveRequested = (entry: Entry, reason: Exclude<StopReason, "restart-now">): EventInput => ({
  _tag: "TaskRemoveRequested",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  reason
})

/** `TaskRestartRequested`: `restartNow` stops `entry`, which was in `state`, to start it again. */
export const taskRestartRequested = (entry: Entry, state: Fields<"TaskRestartRequested">["state"]): EventInput => ({
  _tag: "TaskRestartRequested",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  state
})

/** `TaskRemoved`: `entry` left the registry (its name is free again). */
export const taskRemoved = (entry: Entry): EventInput => ({
  _tag: "TaskRemoved",
  id: entry.id,
  task: entry.name,
  path: entry.path
})

/** `fields` with `exitCode` when there is one (left out otherwise). */
export const withExitCode = <A extends object>(fields: A, exitCode: number | undefined): A & { exitCode?: number } =>
  exitCode === undefined ? fields : { ...fields, exitCode }

/** `TaskFinished`: `entry`'s outcome is decided. */
export const taskFinished = (entry: Entry, outcome: TaskOutcome.TaskOutcome): EventInput => {
  const reason = TaskOutcome.reason(outcome)
  const exitCode = TaskOutcome.exitCode(outcome)
  const which = { id: entry.id, task: entry.name, path: entry.path }
  return withExitCode(
    reason === undefined
      ? { _tag: "TaskFinished", ...which, outcome: outcome._tag }
      : { _tag: "TaskFinished", ...which, outcome: outcome._tag, reason },
    exitCode
  )
}

/**
 * `AttemptCanceled`: the running attempt ended interrupted — read from its exit by the task loop,
 * or, when a stop interrupted the task's fiber before the loop could read it, by the fiber's exit.
 */
export const attemptCanceled = (entry: Entry, durationMs: number, reason: string): EventInput => ({
  _tag: "AttemptCanceled",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  attempt: entry.attempt,
  durationMs,
  reason
})

/** `AttemptStarting`: the task's next attempt begins (`entry.attempt` is already its number). */
export const attemptStarting = (entry: Entry): EventInput => ({
  _tag: "AttemptStarting",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  attempt: entry.attempt
})

/** `AttemptSucceeded`: the current attempt returned after `durationMs`. */
export const attemptSucceeded = (entry: Entry, durationMs: number): EventInput => ({
  _tag: "AttemptSucceeded",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  attempt: entry.attempt,
  durationMs
})

/** `AttemptTimedOut`: the current attempt ran past the task's `timeoutMs`. */
export const attemptTimedOut = (entry: Entry, durationMs: number, timeoutMs: number): EventInput => ({
  _tag: "AttemptTimedOut",
  id: entry.id,
  task: entry.name,
  path: entry.path,
  attempt: entry.attempt,
  durationMs,
  timeoutMs
})

/** `AttemptFailed`: the current attempt failed with `reason` (its `exitCode` only when it has one). */
export const attemptFailed = (
  entry: Entry,
  durationMs: number,
  reason: string,
  fatal: boolean,
  exitCode: number | undefined
): EventInput =>
  withExitCode(
    {
      _tag: "AttemptFailed" as const,
      id: entry.id,
      task: entry.name,
      path: entry.path,
      attempt: entry.attempt,
      durationMs,
      reason,
      fatal
    },
    exitCode
  )

/**
 * `BackoffScheduled`: the next attempt starts in `delayMs` — after a success (a task's `interval`),
 * or after a failure, whose `reason` it carries.
 */
export const backoffScheduled = (
  entry: Entry,
  delayMs: number,
  ...source: readonly ["success"] | readonly ["failure", string]
): EventInput =>
  source[0] === "success"
    ? {
        _tag: "BackoffScheduled",
        id: entry.id,
        task: entry.name,
        path: entry.path,
        attempt: entry.attempt,
        delayMs,
        source: "success"
      }
    : {
        _tag: "BackoffScheduled",
        id: entry.id,
        task: entry.name,
        path: entry.path,
        attempt: entry.attempt,
        delayMs,
        source: "failure",
        reason: source[1]
      }

/** The event of a supervisor's failure: `RestartIntensityExceeded` or `Escalated`. */
export const supervisorFailed = (error: SupervisorFailure): EventInput =>
  error._tag === "RestartIntensityExceeded"
    ? {
        _tag: "RestartIntensityExceeded",
        path: error.path,
        maxRestarts: error.maxRestarts,
        withinMs: error.withinMs,
        trigger: error.trigger,
        reason: error.reason
      }
    : { _tag: "Escalated", path: error.path, task: error.task, reason: error.reason }

/** `GroupRestart`: a `one-for-all` / `rest-for-one` restart of `affected` (in start order) after `trigger`'s failure. */
export const groupRestart = (
  path: string,
  strategy: Fields<"GroupRestart">["strategy"],
  trigger: Entry,
  affected: ReadonlyArray<Entry>
): EventInput => ({
  _tag: "GroupRestart",
  path,
  strategy,
  trigger: trigger.name,
  affected: affected.map((entry) => entry.name)
})

/** `AutoShutdown`: the significant child `trigger` ended, and the supervisor's `autoShutdown` shuts it down. */
export const autoShutdown = (path: string, mode: Fields<"AutoShutdown">["mode"], trigger: Entry): EventInput => ({
  _tag: "AutoShutdown",
  path,
  mode,
  trigger: trigger.name
})

/** `ShutdownRequested`: someone asked the supervisor at `path` to shut down. */
export const shutdownRequested = (path: string): EventInput => ({ _tag: "ShutdownRequested", path })

/** `AllStoppedWithinGrace`: the shutdown of the supervisor at `path` ended with every fiber exited. */
export const allStoppedWithinGrace = (path: string): EventInput => ({ _tag: "AllStoppedWithinGrace", path })

/** `GraceExceeded`: the shutdown abandoned `stuck` (`paths`: the deepest tasks still running); `elapsedMs` when decided before the deadline. */
export const graceExceeded = (
  path: string,
  graceMs: number,
  stuck: ReadonlyArray<string>,
  paths: ReadonlyArray<string>,
  elapsedMs: number | undefined
): EventInput =>
  elapsedMs === undefined
    ? { _tag: "GraceExceeded", path, graceMs, stuck, paths }
    : { _tag: "GraceExceeded", path, graceMs, stuck, paths, elapsedMs }

/** `SlotSubmitted`: a controller submission (its id reserved) arrived at `slot`. */
export const slotSubmitted = (
  id: TaskId,
  task: string,
  path: string,
  slot: string,
  admission: Fields<"SlotSubmitted">["admission"]
): EventInput => ({ _tag: "SlotSubmitted", id, task, path, slot, admission })

/** `SlotRejected`: a controller submission will never start. */
export const slotRejected = (
  id: TaskId,
  task: string,
  path: string,
  slot: string,
  kind: Fields<"SlotRejected">["kind"],
  reason: string
): EventInput => ({ _tag: "SlotRejected", id, task, path, slot, kind, reason })

/** `SlotTransition`: a slot's status changed (`owner`: the name of the task that holds it, if any). */
export const slotTransition = (
  path: string,
  slot: string,
  from: Fields<"SlotTransition">["from"],
  to: Fields<"SlotTransition">["to"],
  queued: number,
  reason: string,
  owner: string | undefined
): EventInput => {
  const fields = { _tag: "SlotTransition", path, slot, from, to, queued, reason } as const
  return owner === undefined ? fields : { ...fields, owner }
}

/** `OperatorActionRequested`: the audit of one operator action (texts already bounded by the caller). */
export const operatorActionRequested = (fields: Fields<"OperatorActionRequested">): EventInput => ({
  _tag: "OperatorActionRequested",
  ...fields
})
