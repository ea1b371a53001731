/**
 * The event bus at the edges of a supervisor's life: a subscriber in an outer scope (the pattern the
 * docs recommend to watch a shutdown) receives every event still buffered when the supervisor's
 * scope closes, shutdown events included, then its stream ends; and `seq` numbers every event
 * whether or not someone listens, so a late subscriber (an SSE client that reconnects) sees the
 * numbers an early one sees.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Scope, Stream } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorEvent, Task, TaskError } from "@fibervisor/core"
import { flush, parked, TestTime } from "../helpers/tasks.js"
import type { Ev } from "../helpers/recorder.js"

/** `"<seq> <tag> <path>"`: what must match between two runs (task ids are global, so left out). */
/** A reader that spends a millisecond (of the TestClock) on every event. */
const slowly = (events: Stream.Stream<Ev>): Stream.Stream<Ev> => Stream.tap(events, () => Effect.sleep("1 millis"))

const line = (event: Ev): string => `${event.seq} ${event._tag} ${event.path}`

describe("EventBus: a subscriber in an outer scope", () => {
  it.effect("that reads only after the scope closed gets every event of the shutdown, then the end", () =>
    Effect.gen(function* () {
      const outer = yield* Effect.scope
      const events = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make({ grace: "1 second", name: "late-reader" })
          const events = yield* Scope.provide(sup.subscribe, outer)
          const started = yield* Deferred.make<void>()
          yield* sup.add(Task.make("worker", parked(started)))
          yield* Deferred.await(started)
          return events
        })
      )
      const collected = yield* Stream.runCollect(events)
      expect(collected.map((event) => `${event.seq} ${event._tag}`)).toEqual([
        "1 TaskAdded",
        "2 AttemptStarting",
        "3 ShutdownRequested",
        "4 TaskRemoveRequested",
        "5 AttemptCanceled",
        "6 TaskFinished",
        "7 TaskRemoved",
        "8 AllStoppedWithinGrace"
      ])
    })
  )

  it.effect("that is slow (one event per millisecond) still gets the events buffered when the scope closed", () =>
    Effect.gen(function* () {
      const outer = yield* Effect.scope
      const consumer = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make({ grace: "1 second", name: "slow-reader" })
          const events = yield* Scope.provide(sup.subscribe, outer)
          const consumer = yield* Effect.forkIn(Stream.runCollect(slowly(events)), outer)
          const started = yield* Deferred.make<void>()
          yield* sup.add(Task.make("a", parked(started)))
          yield* sup.add(Task.once("b", Effect.never))
          yield* Deferred.await(started)
          yield* flush
          return consumer
        })
      )
      yield* TestTime.adjust("1 second")
      const collected = yield* Fiber.join(consumer)
      const tags = collected.map((event) => event._tag)
      expect(tags.slice(0, 5)).toEqual([
        "TaskAdded",
        "TaskAdded",
        "AttemptStarting",
        "AttemptStarting",
        "ShutdownRequested"
      ])
      expect(tags.filter((tag) => tag === "TaskFinished")).toHaveLength(2)
      expect(tags.filter((tag) => tag === "TaskRemoved")).toHaveLength(2)
      expect(tags.at(-1)).toBe("AllStoppedWithinGrace")
      expect(collected.map((event) => event.seq)).toEqual(collected.map((_, i) => i + 1))
    })
  )

  it.effect("a shutdown past its grace: the stuck task's ForceAborted and GraceExceeded arrive, then the end", () =>
    Effect.gen(function* () {
      const outer = yield* Effect.scope
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { consumer, handle } = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make({ grace: "1 second", name: "stuck-reader" })
          const events = yield* Scope.provide(sup.subscribe, outer)
          const consumer = yield* Effect.forkIn(Stream.runCollect(slowly(events)), outer)
          const handle = yield* sup.add(
            Task.once(
              "stuck",
              // One uninterruptible region from the signal on: in Effect 4 completing `started`
              // can run the waiting test fiber (and its stop) before this fiber takes its next step.
              Effect.uninterruptible(Effect.andThen(Deferred.succeed(started, undefined), Deferred.await(release)))
            )
          )
          yield* Deferred.await(started)
          // The scope's close waits for the grace: move the clock from another fiber.
          yield* Effect.forkIn(Effect.andThen(flush, TestTime.adjust("1 second")), outer)
          return { consumer, handle }
        })
      )
      yield* TestTime.adjust("1 second")
      const collected = yield* Fiber.join(consumer)
      expect(collected.map((event) => `${event.at} ${event._tag}`)).toEqual([
        "0 TaskAdded",
        "0 AttemptStarting",
        "0 ShutdownRequested",
        "0 TaskRemoveRequested",
        "1000 TaskFinished",
        "1000 GraceExceeded"
      ])
      expect(collected.find(SupervisorEvent.is("GraceExceeded"))).toMatchObject({
        stuck: ["stuck"],
        paths: ["stuck-reader/stuck"]
      })
      expect((yield* handle.await)._tag).toBe("ForceAborted")
      yield* Deferred.succeed(release, undefined)
      yield* flush
    })
  )

  it.effect("subscribing after the supervisor's scope closed gives a stream that ends at once", () =>
    Effect.gen(function* () {
      const sup = yield* Effect.scoped(Supervisor.make({ name: "closed" }))
      expect(yield* Stream.runCollect(sup.events)).toEqual([])
      const stream = yield* sup.subscribe
      expect(yield* Stream.runCollect(stream)).toEqual([])
    })
  )

  it.effect("a subscriber that fell behind keeps the newest events of its buffer, then the end", () =>
    Effect.gen(function* () {
      const outer = yield* Effect.scope
      const events = yield* Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make({ name: "behind", eventBuffer: 4 })
          const events = yield* Scope.provide(sup.subscribe, outer)
          yield* sup.add(Task.once("quick", Effect.void))
          yield* flush
          return events
        })
      )
      // 5 events of the task, then ShutdownRequested and AllStoppedWithinGrace: the newest 4 remain.
      const collected = yield* Stream.runCollect(events)
      expect(collected.map((event) => `${event.seq} ${event._tag}`)).toEqual([
        "4 TaskFinished",
        "5 TaskRemoved",
        "6 ShutdownRequested",
        "7 AllStoppedWithinGrace"
      ])
    })
  )
})

/**
 * A run that publishes most kinds of events, from a root and a nested one-for-all supervisor, a
 * controller slot, a failing task with backoff, a removal and a shutdown. `subscribeAt` is the
 * TestClock instant at which the recorder subscribes (0: before anything happens).
 */
const scenario = (subscribeAt: number) =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const recorded: Array<Ev> = []
    let consumer: Fiber.Fiber<void> | undefined
    const subscribe = (sup: Supervisor.Supervisor) =>
      Effect.gen(function* () {
        const events = yield* Scope.provide(sup.subscribe, outer)
        consumer = yield* Effect.forkIn(
          Stream.runForEach(events, (event) => Effect.sync(() => recorded.push(event))),
          outer
        )
      })
    yield* Effect.scoped(
      Effect.gen(function* () {
        const sup = yield* Supervisor.make({ name: "numbered", grace: "1 second" })
        if (subscribeAt === 0) yield* subscribe(sup)
        yield* sup.add(Task.once("quick", Effect.void))
        yield* sup.add(
          Task.make("flaky", Effect.fail(TaskError.fail("boom")), {
            backoff: Backoff.constant("100 millis"),
            maxRetries: 3
          })
        )
        yield* sup.add(
          Supervisor.task(
            "group",
            [
              Task.make("steady", Effect.never),
              Task.make("crashy", Effect.andThen(Effect.sleep("150 millis"), Effect.fail("crash")), {
                backoff: Backoff.constant("50 millis")
              })
            ],
            { strategy: "one-for-all", intensity: { maxRestarts: 100, within: "1 minute" } }
          )
        )
        yield* sup.submit(Task.once("job", Effect.sleep("200 millis")), { admission: "queue" })
        yield* sup.submit(Task.once("job", Effect.sleep("200 millis")), { admission: "queue" })
        yield* sup.add(Task.make("removable", Effect.never, { restart: RestartPolicy.onFailure }))
        yield* flush
        for (let at = 50; at <= 600; at += 50) {
          if (at === subscribeAt) yield* subscribe(sup)
          if (at === 300) yield* sup.remove("removable")
          yield* TestTime.adjust("50 millis")
        }
      })
    )
    yield* Fiber.join(consumer!)
    return recorded
  })

describe("EventBus: seq numbers every event, listened to or not", () => {
  it.effect("a subscriber that comes late sees the numbers one that was there from the start sees", () =>
    Effect.gen(function* () {
      const full = yield* scenario(0)
      expect(full.map((event) => event.seq)).toEqual(full.map((_, i) => i + 1))
      const kinds = new Set(full.map((event) => event._tag))
      for (const tag of [
        "AttemptFailed",
        "BackoffScheduled",
        "GroupRestart",
        "SlotSubmitted",
        "SlotTransition",
        "TaskRemoveRequested"
      ]) {
        expect(kinds.has(tag as SupervisorEvent.Tag)).toBe(true)
      }
      for (const at of [50, 250, 450]) {
        const late = yield* scenario(at)
        const first = late[0]!.seq
        expect(first).toBeGreaterThan(1)
        expect(late.map(line)).toEqual(full.slice(first - 1).map(line))
      }
    })
  )

  it.effect("with nobody listening no event is built, but each one takes its number", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "unheard" })
      // 5 events nobody hears: TaskAdded, AttemptStarting, AttemptSucceeded, TaskFinished, TaskRemoved.
      yield* (yield* sup.add(Task.once("first", Effect.void))).await
      const events = yield* sup.subscribe
      const collector = yield* Effect.forkChild(Stream.runCollect(Stream.take(events, 5)))
      yield* (yield* sup.add(Task.once("second", Effect.void))).await
      const heard = yield* Fiber.join(collector)
      expect(heard.map((event) => `${event.seq} ${event._tag}`)).toEqual([
        "6 TaskAdded",
        "7 AttemptStarting",
        "8 AttemptSucceeded",
        "9 TaskFinished",
        "10 TaskRemoved"
      ])
    })
  )
})
