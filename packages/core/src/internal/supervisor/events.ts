/**
 * Builders for the supervisor events that more than one place emits, or whose shape takes more
 * than a line (`TaskFinished` with its optional `reason`/`exitCode`, the supervisor's failure).
 *
 * **Owns** nothing: pure functions from an entry (or an error) to an `EventInput`; the bus stamps
 * `seq` and `at` when the event is emitted.
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
import * as TaskOutcome from "../../TaskOutcome.js"
import type { EventInput } from "../bus.js"
import type { Entry } from "../entry.js"

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
