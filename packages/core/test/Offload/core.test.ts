import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import {
  active,
  captureLogs,
  counter,
  counts,
  delta,
  flush,
  gate,
  startNow,
  TestTime,
  uniqueKind,
  zero
} from "../helpers/offload.js"

/**
 * The real service in the test's scope. `grace: 0` unless a test says otherwise, so that a failing
 * assertion that leaves parked work behind does not make the scope's drain wait on the TestClock.
 */
const make = (config: Offload.OffloadConfig = {}) => Offload.make({ grace: 0, ...config })

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

/** What Effect 3 called a fiber ref: a reference with a default, set for a region with `provideService`. */
const Counter = Context.Reference<number>("test/Counter", { defaultValue: () => 0 })

describe("Offload (hitbox scenarios)", () => {
  it.effect("a keyed registration is deduplicated while in flight; the duplicate never runs", () =>
    Effect.gen(function* () {
      const offload = yield* make({ deduplicate: true })
      const a = yield* gate()
      const b = counter()
      const key = keyed("user:1", "revalidate")
      expect(yield* offload.register(key, a.work)).toBe("spawned")
      yield* Deferred.await(a.started)
      expect(yield* offload.register(key, b.work)).toBe("deduplicated")
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(a.runs()).toBe(1)
      expect(b.runs()).toBe(0)
    })
  )

  it.effect("different keys of one kind are not deduplicated: both run at the same time", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const b = yield* gate()
      expect(yield* offload.register(keyed("k1", "revalidate"), a.work)).toBe("spawned")
      expect(yield* offload.register(keyed("k2", "revalidate"), b.work)).toBe("spawned")
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      expect(yield* offload.activeCount).toBe(2)
      yield* Effect.all([a.release, b.release])
      expect(yield* offload.awaitIdle()).toBe(true)
      expect([a.runs(), b.runs()]).toEqual([1, 1])
    })
  )

  it.effect("the same key under another kind is not deduplicated", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const b = yield* gate()
      expect(yield* offload.register(keyed("k1", "revalidate"), a.work)).toBe("spawned")
      expect(yield* offload.register(keyed("k1", "warmup"), b.work)).toBe("spawned")
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      expect(yield* offload.isInFlight(keyed("k1", "revalidate"))).toBe(true)
      expect(yield* offload.isInFlight(keyed("k1", "warmup"))).toBe(true)
      yield* Effect.all([a.release, b.release])
      expect(yield* offload.awaitIdle()).toBe(true)
      expect([a.runs(), b.runs()]).toEqual([1, 1])
    })
  )

  it.effect("identity is the (key, kind) pair even when the strings contain unusual characters", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const b = yield* gate()
      // Two different pairs whose naive concatenations with a NUL separator are equal.
      expect(yield* offload.register(keyed("a\u0000b", "x"), a.work)).toBe("spawned")
      expect(yield* offload.register(keyed("b", "x\u0000a"), b.work)).toBe("spawned")
      yield* Effect.all([a.release, b.release])
      expect(yield* offload.awaitIdle()).toBe(true)
      expect([a.runs(), b.runs()]).toEqual([1, 1])
    })
  )

  it.effect("auto keys (and spawn) are never deduplicated: every piece runs concurrently", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const gates = yield* Effect.all([gate(), gate(), gate(), gate()])
      expect(yield* offload.register(auto("cleanup"), gates[0].work)).toBe("spawned")
      expect(yield* offload.register(auto("cleanup"), gates[1].work)).toBe("spawned")
      expect(yield* offload.register(auto("cleanup"), gates[2].work)).toBe("spawned")
      yield* offload.spawn("cleanup", gates[3].work)
      yield* Effect.forEach(gates, (g) => Deferred.await(g.started))
      expect(yield* offload.activeCount).toBe(4)
      yield* Effect.forEach(gates, (g) => g.release)
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(gates.map((g) => g.runs())).toEqual([1, 1, 1, 1])
    })
  )

  it.effect("deduplicate: false lets the same key run twice at once, and tracks both", () =>
    Effect.gen(function* () {
      const offload = yield* make({ deduplicate: false })
      const a = yield* gate()
      const b = yield* gate()
      const key = keyed("k1", "revalidate")
      expect(yield* offload.register(key, a.work)).toBe("spawned")
      expect(yield* offload.register(key, b.work)).toBe("spawned")
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      expect(yield* offload.activeCount).toBe(2)
      // hitbox's collision bug: the first to finish removed the shared key and the second ran untracked.
      yield* a.release
      yield* flush
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(yield* offload.activeCount).toBe(1)
      yield* b.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect([a.runs(), b.runs()]).toEqual([1, 1])
    })
  )

  it.effect("the key is freed after completion: the same key runs again", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const work = counter()
      const key = keyed("k1", "revalidate")
      expect(yield* offload.register(key, work.work)).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(work.runs()).toBe(1)
      expect(yield* offload.register(key, work.work)).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(work.runs()).toBe(2)
    })
  )

  it.effect("isInFlight: false before, true while running, false after", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const key = keyed("k1", "revalidate")
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.isInFlight(auto("revalidate"))).toBe(false)
      yield* offload.register(key, a.work)
      expect(yield* offload.isInFlight(key)).toBe(true)
      // An auto key asks about its whole kind.
      expect(yield* offload.isInFlight(auto("revalidate"))).toBe(true)
      expect(yield* offload.isInFlight(auto("warmup"))).toBe(false)
      expect(yield* offload.isInFlight(keyed("k2", "revalidate"))).toBe(false)
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.isInFlight(auto("revalidate"))).toBe(false)
    })
  )

  it.effect("activeCount: 0, then 3 with three pieces running, then 0", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const gates = yield* Effect.all([gate(), gate(), gate()])
      expect(yield* offload.activeCount).toBe(0)
      yield* Effect.forEach(gates, (g, i) => offload.register(keyed(`k${i}`, "revalidate"), g.work))
      expect(yield* offload.activeCount).toBe(3)
      expect(yield* offload.queuedCount).toBe(0)
      yield* Effect.forEach(gates, (g) => g.release)
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* offload.activeCount).toBe(0)
    })
  )
})

describe("Offload: laziness, context, detachment", () => {
  it.effect("work is lazy: nothing runs before admission, and refused work never runs", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 1 })
      const a = yield* gate()
      let built = 0
      const lazy = () =>
        Effect.suspend(() => {
          built += 1
          return Effect.void
        })
      const key = keyed("k", "revalidate")
      const first = lazy()
      expect(built).toBe(0)
      expect(yield* offload.register(key, a.work)).toBe("spawned")
      expect(yield* offload.register(key, first)).toBe("deduplicated")
      expect(yield* offload.register(auto("other"), lazy())).toBe("rejected")
      yield* offload.spawn("other", lazy())
      yield* flush
      expect(built).toBe(0)
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(built).toBe(0)
    })
  )

  it.effect("the caller's services and fiber refs reach the work", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const seen: Array<unknown> = []
      const work = Effect.gen(function* () {
        seen.push(yield* Greeting, yield* Counter)
      })
      const outcome = yield* offload
        .register(auto("ctx"), work)
        .pipe(Effect.provideService(Greeting, "hello"), Effect.provideService(Counter, 7))
      expect(outcome).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(seen).toEqual(["hello", 7])
    })
  )

  it.effect("the TestClock governs the work's sleeps", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      let wokeAt: number | undefined = undefined
      const work = Effect.sleep("1 hour").pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => {
          wokeAt = now
        })
      )
      yield* offload.spawn("sleepy", work)
      yield* flush
      yield* TestTime.adjust("3599999 millis")
      expect(wokeAt).toBeUndefined()
      expect(yield* offload.activeCount).toBe(1)
      yield* TestTime.adjust("1 millis")
      expect(wokeAt).toBe(3_600_000)
      expect(yield* offload.awaitIdle("0 millis")).toBe(true)
    })
  )

  it.effect("the request fiber interrupted right after spawn: the work still completes", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      let done = false
      const work = Effect.sleep("1 second").pipe(
        Effect.andThen(
          Effect.sync(() => {
            done = true
          })
        )
      )
      const request = yield* Effect.forkChild(
        Effect.andThen(offload.register(keyed("k", "revalidate"), work), Effect.interrupt)
      )
      const exit = yield* Fiber.await(request)
      expect(Exit.hasInterrupts(exit)).toBe(true)
      expect(yield* offload.isInFlight(keyed("k", "revalidate"))).toBe(true)
      yield* TestTime.adjust("1 second")
      expect(done).toBe(true)
      expect(yield* offload.isInFlight(keyed("k", "revalidate"))).toBe(false)
    })
  )

  it.effect("a request fiber interrupted from outside does not stop the work it handed off", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const handedOff = yield* Deferred.make<void>()
      const request = yield* Effect.forkChild(
        offload
          .spawn("bg", a.work)
          .pipe(Effect.andThen(Deferred.succeed(handedOff, undefined)), Effect.andThen(Effect.never))
      )
      yield* Deferred.await(handedOff)
      yield* Fiber.interrupt(request)
      expect(yield* offload.activeCount).toBe(1)
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(a.interruptedAt()).toBeUndefined()
      expect(a.runs()).toBe(1)
    })
  )

  it.effect("work registered from an uninterruptible region can still be cancelled and timed out", () =>
    Effect.gen(function* () {
      const offload = yield* make({ perKind: { slow: { timeout: { after: "1 second", policy: "cancel" } } } })
      const a = yield* gate()
      const b = yield* gate()
      yield* Effect.uninterruptible(offload.register(keyed("a", "bg"), a.work))
      yield* Effect.uninterruptible(offload.register(keyed("b", "slow"), b.work))
      // Both pieces are running (their fibers start on the next turn) before they are stopped.
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      expect(yield* offload.cancel(keyed("a", "bg"))).toBe(true)
      expect(a.interruptedAt()).toBe(0)
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(b.interruptedAt()).toBe(1000)
      expect(yield* offload.activeCount).toBe(0)
    })
  )
})

describe("Offload: the work starts after register returns", () => {
  // The job is admitted when `register` returns (it holds its slot), but its fiber takes its first
  // step on the scheduler's next turn.
  it.effect("register and spawn return before the work's synchronous prefix runs; it runs after a flush", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const key = keyed("k", "detached")
      const a = counter()
      const b = counter()
      expect(yield* offload.register(key, a.work)).toBe("spawned")
      yield* offload.spawn("detached", b.work)
      expect([a.runs(), b.runs()]).toEqual([0, 0])
      // Admitted all the same: in flight, holding its slot.
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(yield* offload.activeCount).toBe(2)
      yield* flush
      expect([a.runs(), b.runs()]).toEqual([1, 1])
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.activeCount).toBe(0)
    })
  )

  it.effect(
    "cancel right after register, before the job's fiber ran: true, key freed, counted, awaitIdle woken, never run",
    () =>
      Effect.gen(function* () {
        const offload = yield* make()
        const kind = uniqueKind("early-cancel")
        const key = keyed("k", kind)
        const before = yield* counts(kind)
        const a = yield* gate()
        expect(yield* offload.register(key, a.work)).toBe("spawned")
        const idle = yield* startNow(offload.awaitIdle())
        expect(idle.pollUnsafe()).toBeUndefined()
        expect(yield* offload.cancel(key)).toBe(true)
        expect(yield* offload.isInFlight(key)).toBe(false)
        expect(yield* offload.activeCount).toBe(0)
        yield* flush
        expect(idle.pollUnsafe()).toEqual(Exit.succeed(true))
        expect(a.runs()).toBe(0)
        expect(a.interruptedAt()).toBeUndefined()
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
        expect(yield* active(kind)).toBe(0)
        // The key is free: the same key is admitted again, and only the new work runs.
        const again = counter()
        expect(yield* offload.register(key, again.work)).toBe("spawned")
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(again.runs()).toBe(1)
        expect(a.runs()).toBe(0)
      })
  )

  it.effect("cancel right after a register from an uninterruptible region: the work still never runs", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const key = keyed("k", "early-uninterruptible")
      const a = yield* gate()
      // The job's fiber inherits the caller's uninterruptible flag; the work itself is interruptible.
      expect(yield* Effect.uninterruptible(offload.register(key, a.work))).toBe("spawned")
      expect(yield* offload.cancel(key)).toBe(true)
      yield* flush
      expect(a.runs()).toBe(0)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.activeCount).toBe(0)
    })
  )

  it.effect("scope close (grace 0) right after spawn: the work never runs, it is counted and reported as cut off", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      const offload = yield* Scope.provide(Offload.make({ grace: 0 }).pipe(Effect.provide(logs.layer)), scope)
      const kind = uniqueKind("early-close")
      const before = yield* counts(kind)
      const a = yield* gate()
      yield* offload.spawn(kind, a.work)
      yield* Scope.close(scope, Exit.void)
      yield* flush
      expect(a.runs()).toBe(0)
      expect(yield* offload.activeCount).toBe(0)
      expect(yield* offload.isInFlight(auto(kind))).toBe(false)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
        ["Warn", "offload drain: 1 piece(s) of work still in flight after the grace of 0 ms were cut off"]
      ])
    })
  )
})

describe("Offload: failures", () => {
  it.effect("a failure never reaches the caller; it is logged at warning with kind and key; the key is freed", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const logs = captureLogs()
      const key = keyed("user:1", "revalidate")
      const outcome = yield* offload.register(key, Effect.fail("boom")).pipe(Effect.provide(logs.layer))
      expect(outcome).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(logs.lines.map(({ annotations, level, message }) => ({ level, message, annotations }))).toEqual([
        {
          level: "Warn",
          message: "offloaded work failed: boom",
          annotations: { fibervisor: "offload", kind: "revalidate", key: "revalidate:user:1" }
        }
      ])
      expect(logs.lines[0]!.cause).toContain("boom")
      expect(yield* offload.isInFlight(key)).toBe(false)
      const again = counter()
      expect(yield* offload.register(key, again.work)).toBe("spawned")
      yield* flush
      expect(again.runs()).toBe(1)
    })
  )

  it.effect("a defect never reaches the caller; it is logged at warning with kind and key; the key is freed", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const logs = captureLogs()
      const key = keyed("user:2", "revalidate")
      const a = yield* gate(Effect.die(new Error("kaput")))
      const outcome = yield* offload.register(key, a.work).pipe(Effect.provide(logs.layer))
      expect(outcome).toBe("spawned")
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(logs.lines.map(({ annotations, level, message }) => ({ level, message, annotations }))).toEqual([
        {
          level: "Warn",
          message: "offloaded work failed: defect: Error: kaput",
          annotations: { fibervisor: "offload", kind: "revalidate", key: "revalidate:user:2" }
        }
      ])
      expect(yield* offload.isInFlight(key)).toBe(false)
      const again = counter()
      expect(yield* offload.register(key, again.work)).toBe("spawned")
      yield* flush
      expect(again.runs()).toBe(1)
    })
  )

  it.effect("a thrown exception inside the work is a defect like any other", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const logs = captureLogs()
      const outcome = yield* offload
        .register(
          auto("throws"),
          Effect.sync(() => {
            throw new Error("thrown")
          })
        )
        .pipe(Effect.provide(logs.layer))
      expect(outcome).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(logs.lines.map((l) => [l.level, l.message, l.annotations.key])).toEqual([
        ["Warn", "offloaded work failed: defect: Error: thrown", "throws:*"]
      ])
      expect(yield* offload.activeCount).toBe(0)
    })
  )
})

type Ending = "success" | "failure" | "defect" | "self-interruption" | "timeout" | "cancel"

const endings: ReadonlyArray<Ending> = ["success", "failure", "defect", "self-interruption", "timeout", "cancel"]

const then: Record<Ending, Effect.Effect<void, unknown>> = {
  success: Effect.void,
  failure: Effect.fail("boom"),
  defect: Effect.die("kaput"),
  "self-interruption": Effect.interrupt,
  timeout: Effect.never,
  cancel: Effect.never
}

/** The body takes a different path with no timeout, a "cancel" timeout (a race) and a "warn" timeout (a fork). */
const policies: ReadonlyArray<readonly [string, Offload.OffloadConfig]> = [
  ["no timeout", {}],
  ['"cancel" timeout', { timeout: { after: "1 second", policy: "cancel" } }],
  ['"warn" timeout', { timeout: { after: "1 second", policy: "warn" } }]
]

describe("Offload: every exit frees the key and wakes awaitIdle", () => {
  for (const ending of endings) {
    for (const [policy, config] of policies) {
      if (ending === "timeout" && policy !== '"cancel" timeout') continue
      it.effect(`${ending} (${policy})`, () =>
        Effect.gen(function* () {
          const offload = yield* make(config)
          const key = keyed("k", "exits")
          const a = yield* gate(then[ending])
          expect(yield* offload.register(key, a.work).pipe(Effect.provide(captureLogs().layer))).toBe("spawned")
          yield* Deferred.await(a.started)
          const idle = yield* Effect.forkChild(offload.awaitIdle())
          yield* flush
          expect(idle.pollUnsafe()).toBeUndefined()
          expect(yield* offload.isInFlight(key)).toBe(true)
          if (ending === "timeout") yield* TestTime.adjust("1 second")
          else if (ending === "cancel") expect(yield* offload.cancel(key)).toBe(true)
          else yield* a.release
          expect(yield* Fiber.join(idle)).toBe(true)
          expect(yield* offload.isInFlight(key)).toBe(false)
          expect(yield* offload.activeCount).toBe(0)
          const again = counter()
          expect(yield* offload.register(key, again.work)).toBe("spawned")
          expect(yield* offload.awaitIdle()).toBe(true)
          expect(again.runs()).toBe(1)
        })
      )
    }
  }
})

describe("Offload: awaitIdle", () => {
  it.effect("is true at once when nothing is in flight", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* offload.awaitIdle("1 second")).toBe(true)
    })
  )

  it.effect("awaitIdle(timeout) is false at exactly the timeout", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      yield* offload.spawn("bg", a.work)
      const idle = yield* Effect.forkChild(offload.awaitIdle("1 second"))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(idle.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(idle.pollUnsafe()).toEqual(Exit.succeed(false))
      yield* a.release
      expect(yield* offload.awaitIdle("1 second")).toBe(true)
    })
  )

  it.effect("several waiters are all woken, and awaitIdle can be used again afterwards", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      yield* offload.spawn("bg", a.work)
      const w1 = yield* Effect.forkChild(offload.awaitIdle())
      const w2 = yield* Effect.forkChild(offload.awaitIdle("1 hour"))
      yield* flush
      yield* a.release
      expect(yield* Fiber.join(w1)).toBe(true)
      expect(yield* Fiber.join(w2)).toBe(true)
      const b = yield* gate()
      yield* offload.spawn("bg", b.work)
      const w3 = yield* Effect.forkChild(offload.awaitIdle())
      yield* flush
      expect(w3.pollUnsafe()).toBeUndefined()
      yield* b.release
      expect(yield* Fiber.join(w3)).toBe(true)
    })
  )

  it.effect("a bad timeout fails with InvalidArgument", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const error = yield* Effect.flip(offload.awaitIdle(-1))
      expect(error._tag).toBe("InvalidArgument")
      expect(error.operation).toBe("awaitIdle")
      expect(error.field).toBe("timeout")
      const garbage = yield* Effect.flip(offload.awaitIdle("soon" as any))
      expect(garbage.field).toBe("timeout")
    })
  )
})

describe("Offload: timeouts", () => {
  it.effect('policy "cancel" interrupts the work at exactly `after`, logs a warning, frees the key', () =>
    Effect.gen(function* () {
      const offload = yield* make({ timeout: { after: "1 second", policy: "cancel" } })
      const logs = captureLogs()
      const key = keyed("user:1", "revalidate")
      const a = yield* gate()
      yield* offload.register(key, a.work).pipe(Effect.provide(logs.layer))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(a.interruptedAt()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(a.interruptedAt()).toBe(1000)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(logs.lines.map(({ annotations, level, message }) => ({ level, message, annotations }))).toEqual([
        {
          level: "Warn",
          message: "offloaded work timed out after 1000 ms and was interrupted",
          annotations: { fibervisor: "offload", kind: "revalidate", key: "revalidate:user:1" }
        }
      ])
    })
  )

  it.effect('policy "cancel" leaves work that finishes in time alone', () =>
    Effect.gen(function* () {
      const offload = yield* make({ timeout: { after: "1 second", policy: "cancel" } })
      const logs = captureLogs()
      let done = false
      const work = Effect.sleep("999 millis").pipe(
        Effect.andThen(
          Effect.sync(() => {
            done = true
          })
        )
      )
      yield* offload.spawn("fast", work).pipe(Effect.provide(logs.layer))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(done).toBe(true)
      yield* TestTime.adjust("1 hour")
      expect(logs.lines).toEqual([])
    })
  )

  it.effect('policy "warn" logs once when the threshold is crossed, and lets the work run to its end', () =>
    Effect.gen(function* () {
      const offload = yield* make({ timeout: { after: "1 second", policy: "warn" } })
      const logs = captureLogs()
      const key = keyed("user:1", "revalidate")
      let done = false
      const work = Effect.sleep("3 seconds").pipe(
        Effect.andThen(
          Effect.sync(() => {
            done = true
          })
        )
      )
      yield* offload.register(key, work).pipe(Effect.provide(logs.layer))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(logs.lines).toEqual([])
      yield* TestTime.adjust("1 millis")
      // Warned while still running, not after the end.
      expect(done).toBe(false)
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(logs.lines.map(({ annotations, level, message }) => ({ level, message, annotations }))).toEqual([
        {
          level: "Warn",
          message: 'offloaded work is still running after 1000 ms (timeout policy "warn")',
          annotations: { fibervisor: "offload", kind: "revalidate", key: "revalidate:user:1" }
        }
      ])
      yield* TestTime.adjust("1999 millis")
      expect(done).toBe(false)
      yield* TestTime.adjust("1 millis")
      expect(done).toBe(true)
      expect(yield* offload.isInFlight(key)).toBe(false)
      yield* TestTime.adjust("1 hour")
      expect(logs.lines.length).toBe(1)
    })
  )

  it.effect('policy "warn" never fires for work that ends before the threshold', () =>
    Effect.gen(function* () {
      const offload = yield* make({ timeout: { after: "1 second", policy: "warn" } })
      const logs = captureLogs()
      yield* offload.spawn("fast", Effect.sleep("500 millis")).pipe(Effect.provide(logs.layer))
      yield* flush
      yield* TestTime.adjust("500 millis")
      expect(yield* offload.activeCount).toBe(0)
      yield* TestTime.adjust("1 hour")
      expect(logs.lines).toEqual([])
    })
  )

  it.effect('policy "warn" with a hung piece of work still warns', () =>
    Effect.gen(function* () {
      const offload = yield* make({ timeout: { after: "1 second", policy: "warn" } })
      const logs = captureLogs()
      const a = yield* gate()
      yield* offload.spawn("hung", a.work).pipe(Effect.provide(logs.layer))
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(logs.lines.map((l) => [l.level, l.annotations.kind])).toEqual([["Warn", "hung"]])
      expect(yield* offload.cancel(auto("hung"))).toBe(true)
    })
  )

  it.effect("a kind's timeout replaces the global one; a perKind entry without a timeout keeps the global", () =>
    Effect.gen(function* () {
      const offload = yield* make({
        timeout: { after: "1 second", policy: "cancel" },
        perKind: { slow: { timeout: { after: "5 seconds", policy: "cancel" } }, capped: { maxConcurrent: 5 } }
      })
      const slow = yield* gate()
      const capped = yield* gate()
      const plain = yield* gate()
      yield* offload.spawn("slow", slow.work)
      yield* offload.spawn("capped", capped.work)
      yield* offload.spawn("plain", plain.work)
      yield* flush
      yield* TestTime.adjust("1 second")
      expect([slow.interruptedAt(), capped.interruptedAt(), plain.interruptedAt()]).toEqual([undefined, 1000, 1000])
      yield* TestTime.adjust("3999 millis")
      expect(slow.interruptedAt()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(slow.interruptedAt()).toBe(5000)
      expect(yield* offload.activeCount).toBe(0)
    })
  )
})

describe("Offload: cancel / cancelAll", () => {
  it.effect("cancel(keyed) interrupts the work, waits until it has exited, and returns true", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const key = keyed("k", "revalidate")
      let cleanedAt: number | undefined = undefined
      const started = yield* Deferred.make<void>()
      const work = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() =>
          Effect.sleep("100 millis").pipe(
            Effect.andThen(Clock.currentTimeMillis),
            Effect.map((now) => {
              cleanedAt = now
            })
          )
        )
      )
      yield* offload.register(key, work)
      yield* Deferred.await(started)
      const cancel = yield* Effect.forkChild(offload.cancel(key))
      yield* flush
      expect(cancel.pollUnsafe()).toBeUndefined()
      expect(yield* offload.isInFlight(key)).toBe(true)
      yield* TestTime.adjust("99 millis")
      expect(cancel.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.join(cancel)).toBe(true)
      expect(cleanedAt).toBe(100)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.cancel(key)).toBe(false)
    })
  )

  it.effect("cancel returns false for a key that is not in flight, and for an invalid key", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      expect(yield* offload.cancel(keyed("nope", "revalidate"))).toBe(false)
      expect(yield* offload.cancel(auto("nope"))).toBe(false)
      expect(yield* offload.cancel(auto(""))).toBe(false)
      expect(yield* offload.cancel({ _tag: "Keyed", key: "k", kind: "x" } as unknown as OffloadKey.OffloadKey)).toBe(
        false
      )
    })
  )

  it.effect("cancel(auto(kind)) stops every piece of that kind and nothing else", () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const [a, b, c] = yield* Effect.all([gate(), gate(), gate()])
      yield* offload.spawn("race_loser", a.work)
      yield* offload.register(keyed("k", "race_loser"), b.work)
      yield* offload.spawn("other", c.work)
      yield* Effect.forEach([a, b, c], (g) => Deferred.await(g.started))
      expect(yield* offload.cancel(auto("race_loser"))).toBe(true)
      expect([a.interruptedAt(), b.interruptedAt(), c.interruptedAt()]).toEqual([0, 0, undefined])
      expect(yield* offload.activeCount).toBe(1)
      expect(yield* offload.isInFlight(auto("other"))).toBe(true)
      yield* c.release
      expect(yield* offload.awaitIdle()).toBe(true)
    })
  )

  it.effect("cancelAll stops everything (running and queued), waits, and returns how many", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 2, onFull: { queue: 1 } })
      const [a, b, q] = yield* Effect.all([gate(), gate(), gate()])
      yield* offload.spawn("x", a.work)
      yield* offload.spawn("y", b.work)
      expect(yield* offload.register(auto("y"), q.work)).toBe("spawned")
      expect(yield* offload.queuedCount).toBe(1)
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      expect(yield* offload.cancelAll).toBe(3)
      expect([a.interruptedAt(), b.interruptedAt()]).toEqual([0, 0])
      expect(q.runs()).toBe(0)
      expect(yield* offload.activeCount).toBe(0)
      expect(yield* offload.queuedCount).toBe(0)
      expect(yield* offload.awaitIdle("0 millis")).toBe(true)
      yield* flush
      expect(q.runs()).toBe(0)
      expect(yield* offload.cancelAll).toBe(0)
    })
  )

  it.effect("cancelling a queued piece drops it unrun; cancelling a running one lets the queue move on", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 1, onFull: { queue: 2 } })
      const [a, b, c] = yield* Effect.all([gate(), gate(), gate()])
      yield* offload.register(keyed("a", "x"), a.work)
      yield* offload.register(keyed("b", "x"), b.work)
      yield* offload.register(keyed("c", "x"), c.work)
      yield* Deferred.await(a.started)
      expect(yield* offload.queuedCount).toBe(2)
      expect(yield* offload.isInFlight(keyed("b", "x"))).toBe(true)
      expect(yield* offload.cancel(keyed("b", "x"))).toBe(true)
      expect(yield* offload.isInFlight(keyed("b", "x"))).toBe(false)
      expect(yield* offload.queuedCount).toBe(1)
      expect(yield* offload.cancel(keyed("a", "x"))).toBe(true)
      yield* Deferred.await(c.started)
      expect([a.runs(), b.runs(), c.runs()]).toEqual([1, 0, 1])
      expect(yield* offload.activeCount).toBe(1)
      expect(yield* offload.queuedCount).toBe(0)
      yield* c.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(b.runs()).toBe(0)
    })
  )
})

describe("Offload: concurrency limits", () => {
  it.effect("global maxConcurrent with reject: registrations over the limit are rejected and never run", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 2 })
      const [a, b] = yield* Effect.all([gate(), gate()])
      const c = counter()
      expect(yield* offload.register(auto("x"), a.work)).toBe("spawned")
      expect(yield* offload.register(auto("y"), b.work)).toBe("spawned")
      expect(yield* offload.register(auto("z"), c.work)).toBe("rejected")
      expect(yield* offload.register(keyed("k", "z"), c.work)).toBe("rejected")
      expect(yield* offload.activeCount).toBe(2)
      expect(yield* offload.queuedCount).toBe(0)
      expect(yield* offload.isInFlight(auto("z"))).toBe(false)
      yield* a.release
      yield* flush
      expect(yield* offload.register(auto("z"), c.work)).toBe("spawned")
      yield* flush
      expect(c.runs()).toBe(1)
      yield* b.release
      expect(yield* offload.awaitIdle()).toBe(true)
    })
  )

  it.effect("per-kind maxConcurrent with reject limits only that kind", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 10, perKind: { revalidate: { maxConcurrent: 1 } } })
      const [a, b] = yield* Effect.all([gate(), gate()])
      const c = counter()
      expect(yield* offload.register(keyed("k1", "revalidate"), a.work)).toBe("spawned")
      expect(yield* offload.register(keyed("k2", "revalidate"), c.work)).toBe("rejected")
      expect(yield* offload.register(keyed("k2", "warmup"), b.work)).toBe("spawned")
      expect(yield* offload.activeCount).toBe(2)
      expect(c.runs()).toBe(0)
      yield* a.release
      yield* flush
      expect(yield* offload.register(keyed("k2", "revalidate"), c.work)).toBe("spawned")
      yield* flush
      expect(c.runs()).toBe(1)
      yield* b.release
      expect(yield* offload.awaitIdle()).toBe(true)
    })
  )

  it.effect("onFull queue: excess work waits in FIFO order within the bound; beyond it, rejected", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 1, onFull: { queue: 2 } })
      const [a, b, c] = yield* Effect.all([gate(), gate(), gate()])
      const d = counter()
      expect(yield* offload.register(auto("x"), a.work)).toBe("spawned")
      expect(yield* offload.register(auto("x"), b.work)).toBe("spawned")
      expect(yield* offload.register(auto("x"), c.work)).toBe("spawned")
      expect(yield* offload.register(auto("x"), d.work)).toBe("rejected")
      expect(yield* offload.activeCount).toBe(1)
      expect(yield* offload.queuedCount).toBe(2)
      yield* Deferred.await(a.started)
      expect([a.runs(), b.runs(), c.runs(), d.runs()]).toEqual([1, 0, 0, 0])
      const idle = yield* Effect.forkChild(offload.awaitIdle())
      yield* a.release
      yield* Deferred.await(b.started)
      expect([b.runs(), c.runs()]).toEqual([1, 0])
      expect(yield* offload.queuedCount).toBe(1)
      yield* b.release
      yield* Deferred.await(c.started)
      expect(yield* offload.queuedCount).toBe(0)
      expect(idle.pollUnsafe()).toBeUndefined()
      yield* c.release
      expect(yield* Fiber.join(idle)).toBe(true)
      expect(d.runs()).toBe(0)
    })
  )

  it.effect("onFull queue with a per-kind limit: a queued piece whose kind is full lets other kinds pass", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 2, perKind: { x: { maxConcurrent: 1 } }, onFull: { queue: 5 } })
      const [x1, x2, y1, y2] = yield* Effect.all([gate(), gate(), gate(), gate()])
      yield* offload.spawn("x", x1.work)
      yield* offload.spawn("x", x2.work) // kind x full: queued
      yield* offload.spawn("y", y1.work) // global room left: starts
      yield* offload.spawn("y", y2.work) // global full: queued
      yield* Deferred.await(x1.started)
      yield* Deferred.await(y1.started)
      expect([x1.runs(), x2.runs(), y1.runs(), y2.runs()]).toEqual([1, 0, 1, 0])
      expect(yield* offload.activeCount).toBe(2)
      expect(yield* offload.queuedCount).toBe(2)
      yield* x1.release
      yield* Deferred.await(x2.started)
      expect(y2.runs()).toBe(0)
      yield* y1.release
      yield* Deferred.await(y2.started)
      yield* Effect.all([x2.release, y2.release])
      expect(yield* offload.awaitIdle()).toBe(true)
    })
  )

  it.effect("the queue bound counts waiting pieces only: a cancelled queued piece frees its place", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 1, onFull: { queue: 2 } })
      const [a, b, c, d] = yield* Effect.all([gate(), gate(), gate(), gate()])
      yield* offload.register(keyed("a", "x"), a.work)
      yield* offload.register(keyed("b", "x"), b.work)
      yield* offload.register(keyed("c", "x"), c.work)
      expect(yield* offload.queuedCount).toBe(2)
      // Cancel the piece at the back of the queue: one piece is waiting, so there is room for one more.
      expect(yield* offload.cancel(keyed("c", "x"))).toBe(true)
      expect(yield* offload.queuedCount).toBe(1)
      expect(yield* offload.register(keyed("d", "x"), d.work)).toBe("spawned")
      expect(yield* offload.queuedCount).toBe(2)
      expect(yield* offload.cancelAll).toBe(3)
      expect(c.runs()).toBe(0)
    })
  )

  it.effect("the queue bound counts waiting pieces only: a piece started past a blocked head frees its place", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 2, perKind: { x: { maxConcurrent: 1 } }, onFull: { queue: 2 } })
      const [x1, y1, x2, y2, y3] = yield* Effect.all([gate(), gate(), gate(), gate(), gate()])
      yield* offload.spawn("x", x1.work)
      yield* offload.spawn("y", y1.work)
      expect(yield* offload.register(auto("x"), x2.work)).toBe("spawned") // queued: kind x is full
      expect(yield* offload.register(auto("y"), y2.work)).toBe("spawned") // queued: global limit
      expect(yield* offload.queuedCount).toBe(2)
      yield* y1.release
      // y2 starts past x2, which still waits for kind x.
      yield* Deferred.await(y2.started)
      expect(yield* offload.activeCount).toBe(2)
      expect(yield* offload.queuedCount).toBe(1)
      expect(yield* offload.register(auto("y"), y3.work)).toBe("spawned")
      expect(yield* offload.queuedCount).toBe(2)
      expect(yield* offload.cancelAll).toBe(4)
    })
  )

  it.effect("queued keyed work is in flight for deduplication", () =>
    Effect.gen(function* () {
      const offload = yield* make({ maxConcurrent: 1, onFull: { queue: 1 } })
      const a = yield* gate()
      const b = counter()
      const dup = counter()
      yield* offload.spawn("x", a.work)
      expect(yield* offload.register(keyed("k", "x"), b.work)).toBe("spawned")
      expect(yield* offload.register(keyed("k", "x"), dup.work)).toBe("deduplicated")
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect([b.runs(), dup.runs()]).toEqual([1, 0])
    })
  )
})

describe("Offload: atomic deduplication", () => {
  it.effect('1,000 concurrent registrations of one key: exactly one "spawned", and it runs once', () =>
    Effect.gen(function* () {
      const offload = yield* make()
      const a = yield* gate()
      const key = keyed("hot", "revalidate")
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, i) => i),
        () => offload.register(key, a.work),
        { concurrency: "unbounded" }
      )
      expect(outcomes.filter((o) => o === "spawned").length).toBe(1)
      expect(outcomes.filter((o) => o === "deduplicated").length).toBe(999)
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(a.runs()).toBe(1)
    })
  )
})

describe("Offload: drain on scope close", () => {
  it.effect("fast work completes; slow work is interrupted at exactly `grace`; the cut-off is reported", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      // The drain runs as a finalizer, with the fiber refs (so the logger) of the call that built the service.
      const logs = captureLogs()
      const offload = yield* Scope.provide(Offload.make({ grace: "1 second" }).pipe(Effect.provide(logs.layer)), scope)
      let fastDoneAt: number | undefined = undefined
      const fast = Effect.sleep("100 millis").pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => {
          fastDoneAt = now
        })
      )
      const slow = yield* gate()
      yield* offload.spawn("fast", fast)
      yield* offload.spawn("slow", slow.work)
      yield* flush
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      yield* TestTime.adjust("100 millis")
      expect(fastDoneAt).toBe(100)
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("899 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      expect(slow.interruptedAt()).toBeUndefined()
      expect(yield* offload.activeCount).toBe(1)
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect(slow.interruptedAt()).toBe(1000)
      expect(yield* offload.activeCount).toBe(0)
      expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
        ["Warn", "offload drain: 1 piece(s) of work still in flight after the grace of 1000 ms were cut off"]
      ])
    })
  )

  it.effect("work that ignores interruption does not hang the close: it is abandoned and reported", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      const offload = yield* Scope.provide(Offload.make({ grace: "1 second" }).pipe(Effect.provide(logs.layer)), scope)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* offload.spawn(
        "stubborn",
        Effect.uninterruptible(Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release))))
      )
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(closing.pollUnsafe()).toBeUndefined()
      // After the grace, the interrupted work gets a bounded wait (min(grace, 1 s)) before it is abandoned.
      yield* TestTime.adjust("999 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
        [
          "Warn",
          "offload drain: 1 piece(s) of work still in flight after the grace of 1000 ms were cut off; " +
            "1 did not stop and were abandoned"
        ]
      ])
      // The abandoned piece is still accounted for until it really exits.
      expect(yield* offload.activeCount).toBe(1)
      yield* Deferred.succeed(release, undefined)
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* offload.activeCount).toBe(0)
    })
  )

  it.effect("closing returns as soon as the last piece ends, and reports nothing", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      const offload = yield* Scope.provide(
        Offload.make({ grace: "10 seconds" }).pipe(Effect.provide(logs.layer)),
        scope
      )
      yield* offload.spawn("a", Effect.sleep("100 millis"))
      yield* offload.spawn("b", Effect.sleep("300 millis"))
      yield* flush
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      yield* TestTime.adjust("299 millis")
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect(logs.lines).toEqual([])
    })
  )

  it.effect("closing with nothing in flight returns at once", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      yield* Scope.provide(Offload.make({ grace: "10 seconds" }).pipe(Effect.provide(logs.layer)), scope)
      yield* Scope.close(scope, Exit.void)
      expect(logs.lines).toEqual([])
    })
  )

  it.effect("queued work still runs during the drain", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(
        Offload.make({ grace: "1 second", maxConcurrent: 1, onFull: { queue: 1 } }),
        scope
      )
      const ended: Array<string> = []
      const piece = (name: string) =>
        Effect.sleep("100 millis").pipe(
          Effect.andThen(
            Effect.sync(() => {
              ended.push(name)
            })
          )
        )
      yield* offload.spawn("x", piece("a"))
      expect(yield* offload.register(auto("x"), piece("b"))).toBe("spawned")
      yield* flush
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      yield* TestTime.adjust("100 millis")
      expect(ended).toEqual(["a"])
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("100 millis")
      expect(ended).toEqual(["a", "b"])
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
    })
  )

  it.effect('register during the drain and after close is "rejected" and never runs', () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(Offload.make({ grace: "1 second" }), scope)
      const kind = uniqueKind("closed")
      const before = yield* counts(kind)
      const a = yield* gate()
      const late = counter()
      yield* offload.spawn(kind, a.work)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      expect(yield* offload.register(auto(kind), late.work)).toBe("rejected")
      expect(yield* offload.register(keyed("k", kind), late.work)).toBe("rejected")
      yield* a.release
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect(yield* offload.register(auto(kind), late.work)).toBe("rejected")
      yield* offload.spawn(kind, late.work)
      yield* flush
      expect(late.runs()).toBe(0)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, completed: 1, rejected: 4 })
    })
  )

  it.effect("grace: 0 interrupts everything in flight at once", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(Offload.make({ grace: 0 }), scope)
      const [a, b] = yield* Effect.all([gate(), gate()])
      yield* offload.spawn("x", a.work)
      yield* offload.spawn("y", b.work)
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      yield* Scope.close(scope, Exit.void)
      expect([a.interruptedAt(), b.interruptedAt()]).toEqual([0, 0])
      expect(yield* offload.activeCount).toBe(0)
    })
  )

  it.effect("Offload.layer: releasing the layer drains it", () =>
    Effect.gen(function* () {
      let doneAt: number | undefined = undefined
      const work = Effect.sleep("2 seconds").pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.map((now) => {
          doneAt = now
        })
      )
      const program = Offload.spawn("x", work).pipe(Effect.provide(Offload.layer({ grace: "5 seconds" })))
      const fiber = yield* Effect.forkChild(program)
      yield* flush
      yield* TestTime.adjust("1999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.void)
      expect(doneAt).toBe(2000)
    })
  )
})

describe("OffloadKey.identity: the dedup identity the layers share", () => {
  it("keyed keys share an identity exactly when kind and key are equal; auto keys have none", () => {
    const id = OffloadKey.identity
    expect(id(OffloadKey.keyed("user:42", "revalidate"))).toBe(id(OffloadKey.keyed("user:42", "revalidate")))
    expect(id(OffloadKey.keyed("user:42", "revalidate"))).not.toBe(id(OffloadKey.keyed("user:43", "revalidate")))
    // No concatenation collision: ("bc", "a") and ("c", "ab") differ.
    expect(id(OffloadKey.keyed("bc", "a"))).not.toBe(id(OffloadKey.keyed("c", "ab")))
    expect(id(OffloadKey.auto("revalidate"))).toBeUndefined()
  })
})
