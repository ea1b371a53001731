/**
 * Shared by the controller tests: tasks that record when they start, gates, and compact views of
 * slot snapshots and slot events.
 */
import { Clock, Deferred, type Duration, Effect, Option } from "effect"
import { type Supervisor, Task } from "@fibervisor/core"
import type { Ev } from "./recorder.js"

/** An attempt that logs `"<name>@<instant>"` in `log` when it starts, then runs `body`. */
export const logStart = <A, E, R>(log: Array<string>, name: string, body: Effect.Effect<A, E, R>) =>
  Effect.andThen(
    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => log.push(`${name}@${now}`))),
    body
  )

/** A task (never restarted) that logs its start in `log`, then runs `body` (default: forever). */
export const logged = <A = never, E = never, R = never>(
  log: Array<string>,
  name: string,
  body: Effect.Effect<A, E, R> = Effect.never as Effect.Effect<A, E, R>
) => Task.once(name, logStart(log, name, body))

/** A task (never restarted) that logs its start, then waits for `gate` and completes. */
export const gated = (log: Array<string>, name: string, gate: Deferred.Deferred<void>) =>
  logged(log, name, Deferred.await(gate))

/** The `SlotInfo` `sup.slots` reports for a busy slot. */
export const slotInfo = (
  slot: string,
  status: "running" | "terminating",
  owner: Supervisor.TaskHandle | undefined,
  queued: number
): Supervisor.SlotInfo => ({
  slot,
  status,
  owner: owner === undefined ? Option.none() : Option.some({ id: owner.id, name: owner.name }),
  queued
})

/** An event without its `seq` (the sequence number depends on every event before it). */
export const unseq = (event: Ev): Omit<Ev, "seq"> => {
  const copy: Record<string, unknown> = { ...event }
  delete copy.seq
  return copy as Omit<Ev, "seq">
}

const slotTags: ReadonlyArray<Ev["_tag"]> = ["SlotSubmitted", "SlotRejected", "SlotTransition", "TaskRemoveRequested"]

/**
 * One line per controller event (and per `TaskRemoveRequested`), by task name:
 * `"<at> submitted <task> <slot> <admission>"`, `"<at> rejected <task> <kind>"`,
 * `"<at> <slot> <from>-><to> owner=<owner|-> queued=<n> (<reason>)"`, `"<at> stop <task> (<reason>)"`.
 */
export const slotTrace = (events: ReadonlyArray<Ev>): Array<string> =>
  events.flatMap((event): Array<string> => {
    if (!slotTags.includes(event._tag)) return []
    switch (event._tag) {
      case "SlotSubmitted":
        return [`${event.at} submitted ${event.task} ${event.slot} ${event.admission}`]
      case "SlotRejected":
        return [`${event.at} rejected ${event.task} ${event.kind}`]
      case "SlotTransition":
        return [
          `${event.at} ${event.slot} ${event.from}->${event.to} owner=${event.owner ?? "-"} queued=${event.queued} (${event.reason})`
        ]
      case "TaskRemoveRequested":
        return [`${event.at} stop ${event.task} (${event.reason})`]
      default:
        return []
    }
  })

/**
 * A slot owner's attempt: signals `started`, then runs until stopped; its scope's finalizer takes
 * `stopTakes` (1 s by default), so a stop (`replace`, `remove`, a shutdown) waits that long for it.
 */
export const slowToStop = (started: Deferred.Deferred<void>, stopTakes: Duration.Input = "1 second") =>
  Effect.andThen(
    Effect.addFinalizer(() => Effect.sleep(stopTakes)),
    Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
  )
