/**
 * Shared by the restart tests: a supervisor whose events are recorded from before the first task,
 * and small readers over the recorded events.
 */
import { Effect, Queue, Stream } from "effect"
import { Supervisor, SupervisorEvent, TaskContext } from "@fibervisor/core"

export type Ev = SupervisorEvent.SupervisorEvent
export type Tag = SupervisorEvent.Tag
export type Of<T extends Tag> = SupervisorEvent.Of<T>

/** A supervisor plus a recorder of its events (subscribed before any task is added). */
export const setup = (options?: Supervisor.SupervisorOptions) =>
  Effect.gen(function* () {
    const sup = yield* Supervisor.make(options)
    const stream = yield* sup.subscribe
    const log: Array<Ev> = []
    const queue = yield* Queue.unbounded<Ev>()
    yield* Effect.forkScoped(
      Stream.runForEach(stream, (event) =>
        Effect.andThen(
          Effect.sync(() => log.push(event)),
          Queue.offer(queue, event)
        )
      )
    )
    /** Resumes with the next recorded event of kind `tag` (skipping the others). */
    const waitFor = <T extends Tag>(tag: T, predicate: (event: Of<T>) => boolean = () => true) =>
      Effect.gen(function* () {
        while (true) {
          const event = yield* Queue.take(queue)
          if (SupervisorEvent.is(tag)(event) && predicate(event)) return event
        }
      })
    /** Every event recorded so far (call after `waitFor` of the last one you need). */
    const events = Effect.sync(() => log.slice())
    /** The events recorded up to the task's `TaskRemoved`. */
    const untilRemoved = Effect.andThen(waitFor("TaskRemoved"), events)
    return { sup, waitFor, events, untilRemoved }
  })

export const ofTag =
  <T extends Tag>(tag: T) =>
  (events: ReadonlyArray<Ev>): Array<Of<T>> =>
    events.filter(SupervisorEvent.is(tag))

export const tags = (events: ReadonlyArray<Ev>) => events.map((event) => event._tag)
export const startInstants = (events: ReadonlyArray<Ev>) => ofTag("AttemptStarting")(events).map((event) => event.at)

/** Attempt `n` runs `steps[n - 1]` (the last step repeats). */
export const script = (
  ...steps: ReadonlyArray<Effect.Effect<unknown, unknown>>
): Effect.Effect<unknown, unknown, TaskContext.TaskContext> =>
  Effect.flatMap(TaskContext.TaskContext, (ctx) => steps[Math.min(ctx.attempt, steps.length) - 1])
