/**
 * Collects a supervisor's events for assertions in tests.
 *
 * @since 0.1.0
 */
import type { Supervisor, SupervisorEvent } from "@fibervisor/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * Every event a supervisor published since `collect` was called, in order.
 *
 * @since 0.1.0
 * @category models
 */
export interface EventLog {
  /** All events so far. */
  readonly all: Effect.Effect<ReadonlyArray<SupervisorEvent.SupervisorEvent>>
  /** The tags of all events so far (handy for `toEqual([...])`). */
  readonly tags: Effect.Effect<ReadonlyArray<SupervisorEvent.Tag>>
  /** The events of one task, by name. */
  forTask(name: string): Effect.Effect<ReadonlyArray<SupervisorEvent.SupervisorEvent>>
  /** Resumes with the first event (already seen or future) that satisfies `predicate`. */
  waitFor<A extends SupervisorEvent.SupervisorEvent>(
    predicate: (event: SupervisorEvent.SupervisorEvent) => event is A
  ): Effect.Effect<A>
  waitFor(
    predicate: (event: SupervisorEvent.SupervisorEvent) => boolean
  ): Effect.Effect<SupervisorEvent.SupervisorEvent>
}

interface Waiter {
  readonly predicate: (event: SupervisorEvent.SupervisorEvent) => boolean
  readonly deferred: Deferred.Deferred<SupervisorEvent.SupervisorEvent>
}

/**
 * Subscribes to `supervisor` now (no later event is missed, as long as the supervisor's event
 * buffer is not overrun between two scheduler turns) and records every event until the scope closes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Supervisor, Task } from "@fibervisor/core"
 * import { EventLog } from "@fibervisor/vitest"
 *
 * const test = Effect.gen(function* () {
 *   const sup = yield* Supervisor.make()
 *   const log = yield* EventLog.collect(sup)
 *   yield* sup.add(Task.once("job", Effect.void))
 *   yield* log.waitFor((e) => e._tag === "TaskRemoved")
 *   return yield* log.tags
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const collect = (supervisor: Supervisor.Supervisor): Effect.Effect<EventLog, never, Scope.Scope> =>
  Effect.gen(function* () {
    const events: Array<SupervisorEvent.SupervisorEvent> = []
    let waiters: Array<Waiter> = []
    const stream = yield* supervisor.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(stream, (event) =>
        Effect.sync(() => {
          events.push(event)
          waiters = waiters.filter((waiter) => {
            if (!waiter.predicate(event)) return true
            Deferred.unsafeDone(waiter.deferred, Effect.succeed(event))
            return false
          })
        })
      )
    )
    const waitFor = (predicate: (event: SupervisorEvent.SupervisorEvent) => boolean) =>
      Effect.suspend(() => {
        const seen = events.find(predicate)
        if (seen !== undefined) return Effect.succeed(seen)
        return Effect.flatMap(Deferred.make<SupervisorEvent.SupervisorEvent>(), (deferred) => {
          waiters.push({ predicate, deferred })
          return Deferred.await(deferred)
        })
      })
    return {
      all: Effect.sync(() => events.slice()),
      tags: Effect.sync(() => events.map((event) => event._tag)),
      forTask: (name) => Effect.sync(() => events.filter((event) => "task" in event && event.task === name)),
      waitFor
    } as EventLog
  })
