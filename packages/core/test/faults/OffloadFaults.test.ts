/**
 * The fault matrix, offloaded-work rows: `Offload.register` / `Offload.spawn` on the real
 * `Offload.layer(...)` (and, where it applies, `Offload.layerInline`) × faults of the work. Each test
 * asserts that the caller never sees the failure, the exact `fibervisor_offload_*` counter deltas
 * and the active gauge back to 0, that the key is freed (the same key is `"spawned"` again), the log
 * line, that the service keeps serving, and that nothing leaks: `live.fibers` is back to its value
 * before the test once the layer is released. Every timing runs on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { Offload, OffloadKey, TaskError } from "@fibervisor/core"
import { live } from "../../src/internal/compat.js"
import {
  active,
  captureLogs,
  counter,
  counts,
  delta,
  durations,
  flush,
  type Line,
  TestTime,
  uniqueKind,
  zero
} from "../helpers/offload.js"

const keyed = OffloadKey.keyed

/** The real layer, built in its own scope: `provide` runs an effect with it, `release` closes it (the drain). */
const realLayer = (config: Offload.OffloadConfig = {}) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(Offload.layer(config), scope)
    return {
      service: Context.get(context, Offload.Offload),
      provide: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.provide(self, context),
      release: Scope.close(scope, Exit.void)
    }
  })

const lineOf = (line: Line) => [line.level, line.message, line.annotations]

/** The log line of failed work, as the service writes it. */
const failedLine = (kind: string, key: string, what: string) => [
  "Warn",
  `offloaded work failed: ${what}`,
  { fibervisor: "offload", kind, key: `${kind}:${key}` }
]

/** Forks `effect` and lets every fiber run: its exit if it finished without the clock moving. */
const settlesAtOnce = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* flush
    return fiber.pollUnsafe()
  })

/** The instant (TestClock ms) at which something happened. */
const stamp = (into: Array<number>) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => into.push(now)))

/** Faults that end the work at once: `[title, work, how the log line describes it]`. */
const faults: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>, string]> = [
  [
    "a synchronous throw inside Effect.sync",
    Effect.sync(() => {
      throw new Error("sync boom")
    }),
    "defect: Error: sync boom"
  ],
  ["Effect.die", Effect.die(new Error("died")), "defect: Error: died"],
  ["a typed failure", Effect.fail("upstream 503"), "upstream 503"],
  ["TaskError.Fatal (an ordinary typed error here)", Effect.fail(TaskError.fatal("config missing")), "config missing"],
  // `Effect.interrupt` fails with an interruption cause; the job's own fiber was not interrupted.
  ["self-interruption (Effect.interrupt)", Effect.interrupt, "interrupted"],
  [
    "a finalizer that dies after a success",
    Effect.ensuring(Effect.void, Effect.die("finalizer boom")),
    "defect: finalizer boom"
  ]
]

describe("OffloadFaults: work that fails at once (real layer)", () => {
  for (const [title, work, what] of faults) {
    it.effect(`${title}: logged, counted failed, the key is freed, the service serves on`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const fibers = live.fibers
        const kind = uniqueKind("fault")
        const before = yield* counts(kind)
        const { provide, release } = yield* realLayer()
        const key = keyed("k", kind)
        // The caller never sees the failure.
        expect(yield* Effect.exit(provide(Offload.register(key, work)))).toEqual(Exit.succeed("spawned"))
        expect(yield* Effect.exit(provide(Offload.spawn(kind, work)))).toEqual(Exit.void)
        expect(yield* provide(Offload.awaitIdle())).toBe(true)
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, failed: 2 })
        expect(yield* active(kind)).toBe(0)
        expect(logs.lines.map(lineOf)).toEqual([failedLine(kind, "k", what), failedLine(kind, "*", what)])
        // The key is free again and the service keeps serving.
        const next = counter()
        expect(yield* provide(Offload.register(key, next.work))).toBe("spawned")
        expect(yield* provide(Offload.awaitIdle())).toBe(true)
        expect(next.runs()).toBe(1)
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 3, failed: 2, completed: 1 })
        expect(yield* active(kind)).toBe(0)
        yield* release
        expect(live.fibers).toBe(fibers)
      }).pipe(Effect.provide(logs.layer))
    })
  }
})

describe("OffloadFaults: work that fails at once (inline layer)", () => {
  for (const [title, work, what] of faults) {
    it.effect(`${title}: the caller waits for it, never sees it; logged, counted failed, the key is freed`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const fibers = live.fibers
        const kind = uniqueKind("inline-fault")
        const before = yield* counts(kind)
        const key = keyed("k", kind)
        expect(yield* Effect.exit(Offload.register(key, work))).toEqual(Exit.succeed("spawned"))
        expect(yield* Effect.exit(Offload.spawn(kind, work))).toEqual(Exit.void)
        // Inline: done by the time `register` returns.
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, failed: 2 })
        expect(logs.lines.map(lineOf)).toEqual([failedLine(kind, "k", what), failedLine(kind, "*", what)])
        const offload = yield* Offload.Offload
        expect(yield* offload.isInFlight(key)).toBe(false)
        expect(yield* offload.activeCount).toBe(0)
        const next = counter()
        expect(yield* Offload.register(key, next.work)).toBe("spawned")
        expect(next.runs()).toBe(1)
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 3, failed: 2, completed: 1 })
        expect(yield* active(kind)).toBe(0)
        expect(live.fibers).toBe(fibers)
      }).pipe(Effect.provide(logs.layer), Effect.provide(Offload.layerInline))
    })
  }
})

describe("OffloadFaults: the offload timeout", () => {
  it.effect('"cancel": the work is interrupted at the timeout; its cleanup runs; counted as timeout; key freed', () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("timeout-cancel")
      const before = yield* counts(kind)
      const durationsBefore = yield* durations(kind)
      const { provide, release } = yield* realLayer({
        perKind: { [kind]: { timeout: { after: "1 second", policy: "cancel" } } }
      })
      const interrupted: Array<number> = []
      const cleaned: Array<number> = []
      // Its cleanup takes 500 ms: the timeout waits for it.
      const work = Effect.never.pipe(
        Effect.onInterrupt(() =>
          stamp(interrupted).pipe(Effect.andThen(Effect.sleep("500 millis")), Effect.andThen(stamp(cleaned)))
        )
      )
      const key = keyed("k", kind)
      expect(yield* Effect.exit(provide(Offload.register(key, work)))).toEqual(Exit.succeed("spawned"))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(yield* active(kind)).toBe(1)
      expect(yield* provide(Offload.register(key, Effect.void))).toBe("deduplicated")
      yield* TestTime.adjust("1 millis")
      expect(interrupted).toEqual([1000])
      // Still cleaning up: still in flight, its key still taken.
      expect(yield* active(kind)).toBe(1)
      expect(yield* provide(Offload.register(key, Effect.void))).toBe("deduplicated")
      expect(logs.lines).toEqual([])
      yield* TestTime.adjust("500 millis")
      expect(cleaned).toEqual([1500])
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, deduplicated: 2, timeout: 1 })
      expect(yield* active(kind)).toBe(0)
      const after = yield* durations(kind)
      expect([after.count - durationsBefore.count, after.sum - durationsBefore.sum]).toEqual([1, 1.5])
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offloaded work timed out after 1000 ms and was interrupted",
          { fibervisor: "offload", kind, key: `${kind}:k` }
        ]
      ])
      const next = counter()
      expect(yield* provide(Offload.register(key, next.work))).toBe("spawned")
      expect(yield* provide(Offload.awaitIdle())).toBe(true)
      expect(next.runs()).toBe(1)
      expect(delta(before, yield* counts(kind))).toEqual({
        ...zero,
        spawned: 2,
        deduplicated: 2,
        timeout: 1,
        completed: 1
      })
      yield* release
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect(
    '"warn": one line when the threshold is crossed, the work runs on; work that ends first never warns',
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const fibers = live.fibers
        const kind = uniqueKind("timeout-warn")
        const before = yield* counts(kind)
        const { provide, release } = yield* realLayer({
          perKind: { [kind]: { timeout: { after: "1 second", policy: "warn" } } }
        })
        const slow = keyed("slow", kind)
        const quick = keyed("quick", kind)
        expect(yield* provide(Offload.register(slow, Effect.sleep("2 seconds")))).toBe("spawned")
        expect(
          yield* provide(
            Offload.register(quick, Effect.andThen(Effect.sleep("500 millis"), Effect.fail("quick failed")))
          )
        ).toBe("spawned")
        yield* flush
        yield* TestTime.adjust("500 millis")
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, failed: 1 })
        yield* TestTime.adjust("499 millis")
        expect(logs.lines.map(lineOf)).toEqual([failedLine(kind, "quick", "quick failed")])
        yield* TestTime.adjust("1 millis")
        const warned = [
          "Warn",
          'offloaded work is still running after 1000 ms (timeout policy "warn")',
          { fibervisor: "offload", kind, key: `${kind}:slow` }
        ]
        expect(logs.lines.map(lineOf)).toEqual([failedLine(kind, "quick", "quick failed"), warned])
        expect(yield* active(kind)).toBe(1)
        expect(yield* provide(Offload.register(slow, Effect.void))).toBe("deduplicated")
        yield* TestTime.adjust("1 second")
        expect(delta(before, yield* counts(kind))).toEqual({
          ...zero,
          spawned: 2,
          failed: 1,
          completed: 1,
          deduplicated: 1
        })
        expect(yield* active(kind)).toBe(0)
        // Still exactly two lines: the quick one never warned, the slow one warned once.
        yield* TestTime.adjust("10 seconds")
        expect(logs.lines.length).toBe(2)
        const next = counter()
        expect(yield* provide(Offload.register(slow, next.work))).toBe("spawned")
        expect(yield* provide(Offload.awaitIdle())).toBe(true)
        expect(next.runs()).toBe(1)
        yield* release
        expect(live.fibers).toBe(fibers)
      }).pipe(Effect.provide(logs.layer))
    }
  )
})

describe("OffloadFaults: work the drain cannot stop in time", () => {
  it.effect(
    "an uninterruptible region longer than the grace: cut off, reported, left to finish; the drain returns",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const fibers = live.fibers
        const kind = uniqueKind("stubborn")
        const before = yield* counts(kind)
        const { service, provide, release } = yield* realLayer({ grace: "1 second" })
        const ended: Array<number> = []
        const stubborn = keyed("stubborn", kind)
        expect(
          yield* provide(
            Offload.register(
              stubborn,
              Effect.uninterruptible(Effect.sleep("5 seconds")).pipe(Effect.onExit(() => stamp(ended)))
            )
          )
        ).toBe("spawned")
        expect(yield* provide(Offload.spawn(kind, Effect.never))).toBeUndefined()
        yield* flush
        const closing = yield* Effect.forkChild(release)
        yield* flush
        yield* TestTime.adjust("999 millis")
        expect(closing.pollUnsafe()).toBeUndefined()
        // Admission is closed during the drain.
        expect(yield* service.register(keyed("late", kind), Effect.void)).toBe("rejected")
        yield* TestTime.adjust("1 millis")
        // The interruptible piece is cut off at the grace; the stubborn one runs on.
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, rejected: 1, interrupted: 1 })
        expect(yield* active(kind)).toBe(1)
        yield* TestTime.adjust("999 millis")
        expect(closing.pollUnsafe()).toBeUndefined()
        yield* TestTime.adjust("1 millis")
        // The drain waited one more second for it, then gave up on it: the release returns.
        expect(closing.pollUnsafe()).toEqual(Exit.void)
        expect(logs.lines.map(lineOf)).toEqual([
          [
            "Warn",
            "offload drain: 2 piece(s) of work still in flight after the grace of 1000 ms were cut off; 1 did not stop and were abandoned",
            { fibervisor: "offload" }
          ]
        ])
        expect(live.fibers).toBe(fibers + 1)
        expect(yield* service.isInFlight(stubborn)).toBe(true)
        yield* TestTime.adjust("3 seconds")
        // At the end of its region it sees the interrupt: counted as interrupted, everything freed.
        expect(ended).toEqual([5000])
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, rejected: 1, interrupted: 2 })
        expect(yield* active(kind)).toBe(0)
        expect(yield* service.isInFlight(stubborn)).toBe(false)
        expect(live.fibers).toBe(fibers)
        // A released service refuses work; a new layer serves.
        expect(yield* service.register(stubborn, Effect.void)).toBe("rejected")
        const fresh = yield* realLayer()
        const next = counter()
        expect(yield* fresh.provide(Offload.register(stubborn, next.work))).toBe("spawned")
        expect(yield* fresh.provide(Offload.awaitIdle())).toBe(true)
        expect(next.runs()).toBe(1)
        yield* fresh.release
        expect(live.fibers).toBe(fibers)
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.effect("a finalizer that hangs past the grace: abandoned by the drain; counted when it finally exits", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("hanging-drain")
      const before = yield* counts(kind)
      const { service, provide, release } = yield* realLayer({ grace: "1 second" })
      const unblock = yield* Deferred.make<void>()
      const key = keyed("k", kind)
      expect(
        yield* provide(Offload.register(key, Effect.never.pipe(Effect.onInterrupt(() => Deferred.await(unblock)))))
      ).toBe("spawned")
      yield* flush
      const closing = yield* Effect.forkChild(release)
      yield* flush
      yield* TestTime.adjust("2 seconds")
      expect(closing.pollUnsafe()).toEqual(Exit.void)
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offload drain: 1 piece(s) of work still in flight after the grace of 1000 ms were cut off; 1 did not stop and were abandoned",
          { fibervisor: "offload" }
        ]
      ])
      yield* TestTime.adjust("1 hour")
      expect(live.fibers).toBe(fibers + 1)
      expect(yield* active(kind)).toBe(1)
      expect(yield* service.isInFlight(key)).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1 })
      yield* Deferred.succeed(unblock, undefined)
      yield* flush
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(yield* active(kind)).toBe(0)
      expect(yield* service.isInFlight(key)).toBe(false)
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a finalizer that hangs: cancel waits for it (interruptibly), the key stays taken until it exits", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("hanging-cancel")
      const before = yield* counts(kind)
      const { service, provide, release } = yield* realLayer()
      const unblock = yield* Deferred.make<void>()
      const key = keyed("k", kind)
      const hanging = Effect.never.pipe(Effect.onInterrupt(() => Deferred.await(unblock)))
      expect(yield* provide(Offload.register(key, hanging))).toBe("spawned")
      yield* flush
      const impatient = yield* Effect.forkChild(service.cancel(key))
      const patient = yield* Effect.forkChild(service.cancel(key))
      yield* flush
      yield* TestTime.adjust("1 hour")
      expect(patient.pollUnsafe()).toBeUndefined()
      expect(yield* provide(Offload.register(key, Effect.void))).toBe("deduplicated")
      expect(yield* active(kind)).toBe(1)
      // The caller can give up waiting: `cancel` is interruptible.
      yield* Fiber.interrupt(impatient)
      expect(Exit.hasInterrupts(yield* Fiber.await(impatient))).toBe(true)
      yield* Deferred.succeed(unblock, undefined)
      expect(yield* Fiber.join(patient)).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, deduplicated: 1, interrupted: 1 })
      expect(yield* active(kind)).toBe(0)
      const next = counter()
      expect(yield* provide(Offload.register(key, next.work))).toBe("spawned")
      expect(yield* provide(Offload.awaitIdle())).toBe(true)
      expect(next.runs()).toBe(1)
      // A cancel is not a failure: nothing is logged.
      expect(logs.lines).toEqual([])
      yield* release
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("OffloadFaults: a finalizer that dies while the work is being interrupted", () => {
  it.effect("by cancel or by the cancel timeout: counted interrupted / timeout; the defect is logged", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("dying-finalizer")
      const timed = uniqueKind("dying-finalizer-timeout")
      const before = yield* counts(kind)
      const timedBefore = yield* counts(timed)
      const { service, provide, release } = yield* realLayer({
        perKind: { [timed]: { timeout: { after: "1 second", policy: "cancel" } } }
      })
      const work = Effect.never.pipe(Effect.ensuring(Effect.die("finalizer boom")))
      const key = keyed("k", kind)
      expect(yield* Effect.exit(provide(Offload.register(key, work)))).toEqual(Exit.succeed("spawned"))
      expect(yield* Effect.exit(provide(Offload.register(keyed("k", timed), work)))).toEqual(Exit.succeed("spawned"))
      yield* flush
      expect(yield* service.cancel(key)).toBe(true)
      yield* TestTime.adjust("1 second")
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(delta(timedBefore, yield* counts(timed))).toEqual({ ...zero, spawned: 1, timeout: 1 })
      expect([yield* active(kind), yield* active(timed)]).toEqual([0, 0])
      // Each defect is logged (it happens while the work is stopped, before the timeout's own line).
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offloaded work failed while being interrupted: defect: finalizer boom",
          { fibervisor: "offload", kind, key: `${kind}:k` }
        ],
        [
          "Warn",
          "offloaded work failed while being interrupted: defect: finalizer boom",
          { fibervisor: "offload", kind: timed, key: `${timed}:k` }
        ],
        [
          "Warn",
          "offloaded work timed out after 1000 ms and was interrupted",
          { fibervisor: "offload", kind: timed, key: `${timed}:k` }
        ]
      ])
      expect(logs.lines.map((line) => line.cause.includes("finalizer boom"))).toEqual([true, true, false])
      const next = counter()
      expect(yield* provide(Offload.register(key, next.work))).toBe("spawned")
      expect(yield* provide(Offload.awaitIdle())).toBe(true)
      expect(next.runs()).toBe(1)
      yield* release
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("cancel of work under a cancel-policy timeout: the finalizer's defect is logged once", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const kind = uniqueKind("dying-finalizer-timed-cancel")
      const before = yield* counts(kind)
      const { service, provide, release } = yield* realLayer({
        perKind: { [kind]: { timeout: { after: "1 minute", policy: "cancel" } } }
      })
      const key = keyed("k", kind)
      yield* provide(Offload.register(key, Effect.never.pipe(Effect.ensuring(Effect.die("finalizer boom")))))
      yield* flush
      expect(yield* service.cancel(key)).toBe(true)
      yield* flush
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offloaded work failed while being interrupted: defect: finalizer boom",
          { fibervisor: "offload", kind, key: `${kind}:k` }
        ]
      ])
      yield* release
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a defect raised by the work's finalizer while it is cancelled is logged", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const kind = uniqueKind("dying-finalizer-bug")
      const { service, provide, release } = yield* realLayer()
      const key = keyed("k", kind)
      yield* provide(Offload.register(key, Effect.never.pipe(Effect.ensuring(Effect.die("finalizer boom")))))
      yield* flush
      yield* service.cancel(key)
      yield* release
      expect(logs.lines.some((line) => `${String(line.message)} ${line.cause}`.includes("finalizer boom"))).toBe(true)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("by the drain's cut-off: counted interrupted; the defect is logged before the drain's line", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("dying-finalizer-drain")
      const before = yield* counts(kind)
      const { provide, release } = yield* realLayer({ grace: "1 second" })
      yield* provide(
        Offload.register(keyed("k", kind), Effect.never.pipe(Effect.ensuring(Effect.die("finalizer boom"))))
      )
      yield* flush
      const closing = yield* Effect.forkChild(release)
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.join(closing)).toBeUndefined()
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(yield* active(kind)).toBe(0)
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offloaded work failed while being interrupted: defect: finalizer boom",
          { fibervisor: "offload", kind, key: `${kind}:k` }
        ],
        [
          "Warn",
          "offload drain: 1 piece(s) of work still in flight after the grace of 1000 ms were cut off",
          { fibervisor: "offload" }
        ]
      ])
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("inline layer: cancel (not the caller's interruption); a defect of the work's finalizer is logged", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const kind = uniqueKind("dying-finalizer-inline")
      const before = yield* counts(kind)
      const started = yield* Deferred.make<void>()
      const work = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.ensuring(Effect.die("finalizer boom"))
      )
      const request = yield* Effect.forkChild(Offload.register(keyed("k", kind), work))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(request)
      expect(Exit.hasInterrupts(yield* Fiber.await(request))).toBe(true)
      expect(logs.lines).toEqual([])
      expect(yield* Effect.flatMap(Offload.Offload, (offload) => offload.cancel(keyed("k", kind)))).toBe(true)
      yield* flush
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
      expect(logs.lines.map(lineOf)).toEqual([
        [
          "Warn",
          "offloaded work failed while being interrupted: defect: finalizer boom",
          { fibervisor: "offload", kind, key: `${kind}:k` }
        ]
      ])
      expect(yield* Offload.register(keyed("k", kind), Effect.void)).toBe("spawned")
    }).pipe(Effect.provide(logs.layer), Effect.provide(Offload.layerInline))
  })
})

/**
 * Work that forks a child, a child that forks a grandchild, and a daemon, then runs `then`.
 * `family()` holds the fibers once `ready` is complete.
 */
const forkingWork = (then: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void>()
    const family: Array<Fiber.Fiber<unknown, unknown>> = []
    let daemon: Fiber.Fiber<unknown, unknown> | undefined = undefined
    const work = Effect.gen(function* () {
      family.push(yield* Effect.forkChild(Effect.never))
      const grandchildForked = yield* Deferred.make<void>()
      family.push(
        yield* Effect.forkChild(
          Effect.forkChild(Effect.never).pipe(
            Effect.flatMap((grandchild) => Effect.sync(() => family.push(grandchild))),
            Effect.andThen(Deferred.succeed(grandchildForked, undefined)),
            Effect.andThen(Effect.never)
          )
        )
      )
      yield* Deferred.await(grandchildForked)
      daemon = yield* Effect.forkDetach(Effect.never)
      yield* Deferred.succeed(ready, undefined)
      return yield* then
    })
    return {
      work,
      ready,
      /** Child, child that forked, grandchild: each `interrupted?` once stopped, `undefined` while running. */
      family: Effect.sync(() =>
        family.map((fiber) => {
          const exit = fiber.pollUnsafe()
          return exit === undefined ? undefined : Exit.hasInterrupts(exit)
        })
      ),
      daemon: () => daemon!
    }
  })

const stoppedFamily = [true, true, true]
const runningFamily = [undefined, undefined, undefined]

describe("OffloadFaults: work that forks its own children", () => {
  const endings = [
    ["completes", Effect.void, { completed: 1 }],
    ["fails", Effect.fail("boom"), { failed: 1 }],
    ["times out (cancel)", Effect.never, { timeout: 1 }],
    ["is cancelled", Effect.never, { interrupted: 1 }],
    ["is cut off by the drain", Effect.never, { interrupted: 1 }]
  ] as const
  for (const [ending, then, counted] of endings) {
    it.effect(`the job ${ending}: its children and grandchildren are interrupted before it counts as finished`, () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const fibers = live.fibers
        const kind = uniqueKind("forks")
        const before = yield* counts(kind)
        const { service, provide, release } = yield* realLayer({
          grace: "1 second",
          perKind: { [kind]: { timeout: { after: "1 minute", policy: "cancel" } } }
        })
        const forking = yield* forkingWork(then)
        const key = keyed("k", kind)
        expect(yield* provide(Offload.register(key, forking.work))).toBe("spawned")
        yield* Deferred.await(forking.ready)
        const finished = Effect.map(counts(kind), (now) => {
          const d = delta(before, now)
          return d.completed + d.failed + d.timeout + d.interrupted
        })
        switch (ending) {
          case "times out (cancel)":
            expect(yield* forking.family).toEqual(runningFamily)
            yield* TestTime.adjust("1 minute")
            break
          case "is cancelled":
            expect(yield* forking.family).toEqual(runningFamily)
            expect(yield* service.cancel(key)).toBe(true)
            break
          case "is cut off by the drain": {
            expect(yield* forking.family).toEqual(runningFamily)
            const closing = yield* Effect.forkChild(release)
            yield* flush
            yield* TestTime.adjust("1 second")
            expect(yield* Fiber.join(closing)).toBeUndefined()
            break
          }
          default:
            expect(yield* service.awaitIdle()).toBe(true)
        }
        expect(yield* finished).toBe(1)
        expect(yield* forking.family).toEqual(stoppedFamily)
        expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, ...counted })
        expect(yield* active(kind)).toBe(0)
        // A daemon is the work's explicit opt-out of its lifetime: Effect lets it run on.
        expect(forking.daemon().pollUnsafe()).toBeUndefined()
        yield* Fiber.interrupt(forking.daemon())
        if (ending !== "is cut off by the drain") {
          const next = counter()
          expect(yield* provide(Offload.register(key, next.work))).toBe("spawned")
          expect(yield* service.awaitIdle()).toBe(true)
          expect(next.runs()).toBe(1)
          yield* release
        }
        expect(live.fibers).toBe(fibers)
      }).pipe(Effect.provide(logs.layer))
    })
  }

  it.effect("inline layer: fibers the work forks are interrupted when the work ends", () =>
    Effect.gen(function* () {
      const forking = yield* forkingWork(Effect.void)
      expect(yield* Offload.register(keyed("k", uniqueKind("inline-forks")), forking.work)).toBe("spawned")
      const family = yield* forking.family
      yield* Fiber.interrupt(forking.daemon())
      expect(family).toEqual(stoppedFamily)
    }).pipe(Effect.provide(Offload.layerInline))
  )
})

describe("OffloadFaults: awaitIdle long after the work is gone", () => {
  it.effect("real layer: true at once, with or without a timeout, also after the layer was released", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const fibers = live.fibers
      const kind = uniqueKind("idle")
      const before = yield* counts(kind)
      const { service, provide, release } = yield* realLayer()
      yield* provide(Offload.spawn(kind, Effect.void))
      yield* provide(Offload.spawn(kind, Effect.die("gone")))
      yield* provide(Offload.register(keyed("k", kind), Effect.fail("gone too")))
      expect(yield* service.awaitIdle()).toBe(true)
      yield* TestTime.adjust("1 hour")
      expect(yield* settlesAtOnce(service.awaitIdle())).toEqual(Exit.succeed(true))
      expect(yield* settlesAtOnce(service.awaitIdle("1 second"))).toEqual(Exit.succeed(true))
      expect(yield* settlesAtOnce(service.awaitIdle(0))).toEqual(Exit.succeed(true))
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 3, completed: 1, failed: 2 })
      yield* release
      expect(yield* settlesAtOnce(service.awaitIdle())).toEqual(Exit.succeed(true))
      expect(yield* settlesAtOnce(service.awaitIdle("1 second"))).toEqual(Exit.succeed(true))
      expect(logs.lines.length).toBe(2)
      expect(live.fibers).toBe(fibers)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("inline layer: true at once", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const kind = uniqueKind("inline-idle")
      yield* Offload.spawn(kind, Effect.die("gone"))
      yield* TestTime.adjust("1 hour")
      const offload = yield* Offload.Offload
      expect(yield* settlesAtOnce(offload.awaitIdle())).toEqual(Exit.succeed(true))
      expect(yield* settlesAtOnce(offload.awaitIdle("1 second"))).toEqual(Exit.succeed(true))
      expect(logs.lines.length).toBe(1)
    }).pipe(Effect.provide(logs.layer), Effect.provide(Offload.layerInline))
  })
})
