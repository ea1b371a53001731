import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { captureLogs, counter, flush, gate, TestTime } from "../helpers/offload.js"

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

/** Values that are not usable keys, cast past the type checker as a JavaScript caller would. */
const invalidKeys: ReadonlyArray<readonly [string, OffloadKey.OffloadKey, string, string]> = [
  ['OffloadKey.auto("")', auto(""), ":*", "kind must be a non-empty string"],
  ['OffloadKey.keyed("k", "")', keyed("k", ""), ":k", "kind must be a non-empty string"],
  ['OffloadKey.keyed(42, "x")', keyed(42 as unknown as string, "x"), "x:42", "key must be a string"],
  [
    "a plain object cast to a key",
    { _tag: "Keyed", key: "k", kind: "x" } as unknown as OffloadKey.OffloadKey,
    "?",
    "key must be an OffloadKey (OffloadKey.keyed or OffloadKey.auto)"
  ],
  [
    "undefined cast to a key",
    undefined as unknown as OffloadKey.OffloadKey,
    "?",
    "key must be an OffloadKey (OffloadKey.keyed or OffloadKey.auto)"
  ]
]

describe("Offload.layerDisabled", () => {
  it.effect('every registration is "disabled", work never runs, and the service is always idle', () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const work = counter()
      const key = keyed("k", "revalidate")
      expect(yield* offload.register(key, work.work)).toBe("disabled")
      expect(yield* offload.register(key, work.work)).toBe("disabled")
      expect(yield* offload.register(auto("x"), work.work)).toBe("disabled")
      expect(yield* Offload.register(key, work.work)).toBe("disabled")
      yield* offload.spawn("x", work.work)
      yield* Offload.spawn("x", work.work)
      yield* flush
      expect(work.runs()).toBe(0)
      expect(yield* offload.activeCount).toBe(0)
      expect(yield* offload.queuedCount).toBe(0)
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.isInFlight(auto("x"))).toBe(false)
      expect(yield* offload.cancel(key)).toBe(false)
      expect(yield* offload.cancelAll).toBe(0)
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(yield* Offload.awaitIdle("1 second")).toBe(true)
      const error = yield* Effect.flip(Offload.awaitIdle(-1))
      expect([error._tag, error.operation, error.field]).toEqual(["InvalidArgument", "awaitIdle", "timeout"])
    }).pipe(Effect.provide(Offload.layerDisabled))
  )
})

describe("Offload.layerInline", () => {
  it.effect("runs the work in a fiber of its own and the caller waits for it", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      let inside: number | undefined = undefined
      const work = Effect.sleep("1 second").pipe(
        Effect.andThen(Effect.fiberId),
        Effect.map((id) => {
          inside = id
        })
      )
      const request = yield* Effect.forkChild(
        Effect.zip(Effect.fiberId, offload.register(keyed("k", "revalidate"), work))
      )
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(request.pollUnsafe()).toBeUndefined()
      expect(yield* offload.activeCount).toBe(1)
      expect(yield* offload.isInFlight(keyed("k", "revalidate"))).toBe(true)
      yield* TestTime.adjust("1 millis")
      const [caller, outcome] = yield* Fiber.join(request)
      expect(outcome).toBe("spawned")
      // Its own fiber, as with the real layer: `cancel` can stop it without stopping the caller.
      expect(inside).toBeDefined()
      expect(inside).not.toBe(caller)
      expect(yield* offload.activeCount).toBe(0)
      expect(yield* offload.isInFlight(keyed("k", "revalidate"))).toBe(false)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("failures and defects are swallowed and logged at warning with kind and key", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const results = yield* Effect.all([
        Offload.register(keyed("user:1", "revalidate"), Effect.fail("boom")),
        Offload.register(auto("flush"), Effect.die(new Error("kaput"))),
        Offload.spawn("flush", Effect.fail("again"))
      ]).pipe(Effect.provide(logs.layer))
      expect(results).toEqual(["spawned", "spawned", undefined])
      expect(logs.lines.map(({ annotations, level, message }) => ({ level, message, annotations }))).toEqual([
        {
          level: "Warn",
          message: "offloaded work failed: boom",
          annotations: { fibervisor: "offload", kind: "revalidate", key: "revalidate:user:1" }
        },
        {
          level: "Warn",
          message: "offloaded work failed: defect: Error: kaput",
          annotations: { fibervisor: "offload", kind: "flush", key: "flush:*" }
        },
        {
          level: "Warn",
          message: "offloaded work failed: again",
          annotations: { fibervisor: "offload", kind: "flush", key: "flush:*" }
        }
      ])
      expect(yield* Offload.awaitIdle()).toBe(true)
      // The keys are free again.
      const again = counter()
      expect(yield* Offload.register(keyed("user:1", "revalidate"), again.work)).toBe("spawned")
      expect(again.runs()).toBe(1)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("keyed work is deduplicated against concurrent callers, and the key is freed afterwards", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const key = keyed("k", "revalidate")
      const a = yield* gate()
      const b = counter()
      const first = yield* Effect.forkChild(offload.register(key, a.work))
      yield* Deferred.await(a.started)
      expect(yield* offload.register(key, b.work)).toBe("deduplicated")
      expect(b.runs()).toBe(0)
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(yield* offload.activeCount).toBe(1)
      // Another key, or the same key of another kind, is not deduplicated.
      expect(yield* offload.register(keyed("k2", "revalidate"), b.work)).toBe("spawned")
      expect(yield* offload.register(keyed("k", "warmup"), b.work)).toBe("spawned")
      expect(b.runs()).toBe(2)
      yield* a.release
      expect(yield* Fiber.join(first)).toBe("spawned")
      expect(yield* offload.isInFlight(key)).toBe(false)
      expect(yield* offload.register(key, b.work)).toBe("spawned")
      expect(b.runs()).toBe(3)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("auto keys are never deduplicated; isInFlight(auto(kind)) asks about that kind only", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const a = yield* gate()
      const b = counter()
      const first = yield* Effect.forkChild(offload.spawn("race_loser", a.work))
      yield* Deferred.await(a.started)
      expect(yield* offload.register(auto("race_loser"), b.work)).toBe("spawned")
      expect(b.runs()).toBe(1)
      expect(yield* offload.isInFlight(auto("race_loser"))).toBe(true)
      expect(yield* offload.isInFlight(auto("revalidate"))).toBe(false)
      yield* a.release
      yield* Fiber.join(first)
      expect(yield* offload.isInFlight(auto("race_loser"))).toBe(false)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("awaitIdle waits for inline work running in other fibers; with a timeout, false at exactly it", () =>
    Effect.gen(function* () {
      const a = yield* gate()
      const request = yield* Effect.forkChild(Offload.spawn("x", a.work))
      yield* Deferred.await(a.started)
      const bounded = yield* Effect.forkChild(Offload.awaitIdle("1 second"))
      const unbounded = yield* Effect.forkChild(Offload.awaitIdle())
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(bounded.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      expect(bounded.pollUnsafe()).toEqual(Exit.succeed(false))
      expect(unbounded.pollUnsafe()).toBeUndefined()
      yield* a.release
      yield* Fiber.join(request)
      expect(yield* Fiber.join(unbounded)).toBe(true)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("interrupting the caller does not stop the inline work; the caller stops waiting at once", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const key = keyed("k", "revalidate")
      const a = yield* gate()
      const request = yield* Effect.forkChild(offload.register(key, a.work))
      yield* Deferred.await(a.started)
      yield* Fiber.interrupt(request)
      expect(Exit.hasInterrupts(yield* Fiber.await(request))).toBe(true)
      expect(a.interruptedAt()).toBe(undefined)
      expect(yield* offload.isInFlight(key)).toBe(true)
      expect(yield* offload.activeCount).toBe(1)
      yield* a.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(a.interruptedAt()).toBe(undefined)
      expect(yield* offload.isInFlight(key)).toBe(false)
      const again = counter()
      expect(yield* offload.register(key, again.work)).toBe("spawned")
      expect(again.runs()).toBe(1)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("has nothing to cancel: cancel is false and cancelAll is 0", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      expect(yield* offload.cancel(keyed("k", "x"))).toBe(false)
      expect(yield* offload.cancelAll).toBe(0)
      expect(yield* offload.queuedCount).toBe(0)
    }).pipe(Effect.provide(Offload.layerInline))
  )

  for (const [name, key, formatted, reason] of invalidKeys) {
    it.effect(`an invalid key (${name}) is "rejected" without running`, () =>
      Effect.gen(function* () {
        const logs = captureLogs()
        const work = counter()
        expect(yield* Offload.register(key, work.work).pipe(Effect.provide(logs.layer))).toBe("rejected")
        expect(work.runs()).toBe(0)
        expect(logs.lines.map((l) => [l.level, l.message, l.annotations])).toEqual([
          ["Warn", `offload rejected: ${reason}`, { fibervisor: "offload", key: formatted }]
        ])
      }).pipe(Effect.provide(Offload.layerInline))
    )
  }
})

describe("Offload.layer: accessors", () => {
  it.effect("Offload.spawn / register / awaitIdle through one provided layer share one service", () =>
    Effect.gen(function* () {
      const key = keyed("user:1", "revalidate")
      const a = yield* gate()
      const b = counter()
      const c = yield* gate()
      expect(yield* Offload.register(key, a.work)).toBe("spawned")
      expect(yield* Offload.register(key, b.work)).toBe("deduplicated")
      const first = yield* Offload.Offload
      const second = yield* Offload.Offload
      expect(first).toBe(second)
      expect(yield* second.isInFlight(key)).toBe(true)
      yield* Offload.spawn("warmup", c.work)
      yield* Deferred.await(c.started)
      expect(yield* first.activeCount).toBe(2)
      const idle = yield* Effect.forkChild(Offload.awaitIdle("1 second"))
      yield* flush
      yield* TestTime.adjust("1 second")
      expect(yield* Fiber.join(idle)).toBe(false)
      yield* Effect.all([a.release, c.release])
      expect(yield* Offload.awaitIdle()).toBe(true)
      expect([a.runs(), b.runs(), c.runs()]).toEqual([1, 0, 1])
      expect(yield* Offload.awaitIdle("0 millis")).toBe(true)
    }).pipe(Effect.provide(Offload.layer({ grace: 0 })))
  )

  it.effect("Offload.awaitIdle rejects a bad timeout with InvalidArgument", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Offload.awaitIdle("-5 seconds" as any))
      expect([error._tag, error.operation, error.field]).toEqual(["InvalidArgument", "awaitIdle", "timeout"])
    }).pipe(Effect.provide(Offload.layer()))
  )

  for (const [name, key, formatted, reason] of invalidKeys) {
    it.effect(`an invalid key (${name}) is "rejected" without running`, () =>
      Effect.gen(function* () {
        const logs = captureLogs()
        const work = counter()
        expect(yield* Offload.register(key, work.work).pipe(Effect.provide(logs.layer))).toBe("rejected")
        yield* flush
        expect(work.runs()).toBe(0)
        expect(yield* Offload.awaitIdle("0 millis")).toBe(true)
        expect(logs.lines.map((l) => [l.level, l.message, l.annotations])).toEqual([
          ["Warn", `offload rejected: ${reason}`, { fibervisor: "offload", key: formatted }]
        ])
      }).pipe(Effect.provide(Offload.layer()))
    )
  }

  it.effect("Offload.spawn with an empty kind runs nothing", () =>
    Effect.gen(function* () {
      const work = counter()
      yield* Offload.spawn("", work.work)
      yield* flush
      expect(work.runs()).toBe(0)
      expect(yield* Offload.awaitIdle("0 millis")).toBe(true)
    }).pipe(Effect.provide(Offload.layer()))
  )
})
