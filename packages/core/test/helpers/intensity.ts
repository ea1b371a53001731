/**
 * Shared by the intensity, escalation and tree-options tests (test/tree): attempts that fail or
 * park, compact one-line views of recorded events, and readers of outcomes and errors.
 */
import { Cause, Effect, Result } from "effect"
import { Backoff, TaskError, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import type { Ev } from "./recorder.js"
import { flush } from "./tasks.js"

/** An attempt that fails at once with a retryable `TaskError.fail(reason)`. */
export const boom = (reason = "boom") => Effect.fail(TaskError.fail(reason))

/** An attempt that runs until it is stopped. */
export const forever = Effect.never

/** An attempt that sleeps `ms` on the (test) clock, then fails with `TaskError.fail(reason)`. */
export const failsAfter = (ms: number, reason = "boom") => Effect.andThen(Effect.sleep(ms), boom(reason))

/** An attempt that runs until stopped, and records `name` in `log` when its scope closes. */
export const recordsStop = (log: Array<string>, name: string) =>
  Effect.acquireRelease(Effect.void, () => Effect.sync(() => log.push(name))).pipe(
    Effect.andThen(Effect.never),
    Effect.scoped
  )

/** `"<at> <tag> <path>"` per event, optionally only the events with one of the given tags. */
export const trace = (events: ReadonlyArray<Ev>, only?: ReadonlyArray<Ev["_tag"]>): Array<string> =>
  events
    .filter((event) => only === undefined || only.includes(event._tag))
    .map((event) => `${event.at} ${event._tag} ${"path" in event ? event.path : ""}`)

/** The recorded events at `path` or below it. */
export const under = (events: ReadonlyArray<Ev>, path: string): Array<Ev> =>
  events.filter((event) => "path" in event && (event.path === path || event.path.startsWith(`${path}/`)))

/** Own enumerable fields of an error (a plain object, for exact `toEqual`s). */
export const fieldsOf = (error: unknown): Record<string, unknown> => ({ ...(error as object) })

/** The typed failure inside a `Failed`/`Fatal` outcome's cause (`undefined` when there is none). */
export const failureOf = (outcome: TaskOutcome.TaskOutcome): unknown => {
  if (outcome._tag !== "Failed" && outcome._tag !== "Fatal") return undefined
  if (outcome.cause === undefined) return undefined
  return Result.getOrUndefined(Cause.findError(outcome.cause))
}

/** The reason a refused restart adds to the trigger's `Failed` outcome. */
export const notRestarted = (reason: string, maxRestarts: number, withinMs: number) =>
  `${reason} (not restarted: the restart intensity of its supervisor (${maxRestarts} in ${withinMs} ms) was exceeded)`

/** `RestartIntensityExceeded`'s message, also the reason a parent reads for the failed supervisor task. */
export const intensityMessage = (
  path: string,
  maxRestarts: number,
  withinMs: number,
  trigger: string,
  reason: string
) =>
  `supervisor "${path}" exceeded its restart intensity of ${maxRestarts} in ${withinMs} ms (last: "${trigger}": ${reason})`

/** `Escalated`'s message, also the reason a parent reads for the failed supervisor task. */
export const escalatedMessage = (path: string, task: string, reason: string) =>
  `supervisor "${path}" failed: child "${task}" escalated: ${reason}`

/** A constant backoff of `ms`. */
export const every = (ms: number) => Backoff.constant(`${ms} millis`)

/** Moves the test clock, then lets every fiber (and the event recorder) catch up. */
export const advance = (ms: number) => Effect.andThen(TestTime.adjust(`${ms} millis`), flush)
