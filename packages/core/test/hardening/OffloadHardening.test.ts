/**
 * Issue 12 (hardening), Offload items: a `grace: 0` close that does not wait, `cancel` of inline
 * work, handles on the work a caller admitted, inline work that survives its caller, shared key
 * validation and a switch for Offload's own failure log.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Option, Result, Scope } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { captureLogs, counter, counts, delta, flush, gate, TestTime, uniqueKind, zero } from "../helpers/offload.js"

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

describe("Offload.layer({ grace: 0 })", () => {
  it.effect("closing with uninterruptible stuck work returns at t=0 and reports the cut-off count", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      const offload = yield* Scope.provide(Offload.make({ grace: 0 }).pipe(Effect.provide(logs.layer)), scope)
      const kind = uniqueKind("stuck")
      const before = yield* counts(kind)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* offload.spawn(
        kind,
        Effect.uninterruptible(Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release))))
      )
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      // No clock time has passed: the close did not wait for the stuck piece.
      expect(closing.pollUnsafe()).toEqual(Exit.void)
      expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
        [
          "Warn",
          "offload drain: 1 piece(s) of work still in flight after the grace of 0 ms were cut off; " +
            "1 did not stop and were abandoned"
        ]
      ])
      // The abandoned piece is still accounted for until it really exits.
      expect(yield* offload.activeCount).toBe(1)
      yield* Deferred.succeed(release, undefined)
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, interrupted: 1 })
    })
  )
})

describe("Offload.layerInline: cancel", () => {
  it.effect("cancel(key) interrupts inline work running in another fiber's register; that caller resumes", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const logs = captureLogs()
      const kind = uniqueKind("inline-cancel")
      const before = yield* counts(kind)
      const [a, b] = yield* Effect.all([gate(), gate()])
      const first = yield* Effect.forkChild(offload.register(keyed("k", kind), a.work).pipe(Effect.provide(logs.layer)))
      const second = yield* Effect.forkChild(offload.spawn(kind, b.work).pipe(Effect.provide(logs.layer)))
      yield* Deferred.await(a.started)
      yield* Deferred.await(b.started)
      yield* TestTime.adjust("5 seconds")
      expect(yield* offload.cancel(keyed("k", kind))).toBe(true)
      // cancel returns once the work has exited; its caller then resumes with its outcome.
      expect(a.interruptedAt()).toBe(5000)
      expect(yield* Fiber.join(first)).toBe("spawned")
      expect(yield* offload.isInFlight(keyed("k", kind))).toBe(false)
      expect(b.interruptedAt()).toBe(undefined)
      expect(yield* offload.activeCount).toBe(1)
      // An auto key names every piece of its kind.
      expect(yield* offload.cancel(auto(kind))).toBe(true)
      expect(b.interruptedAt()).toBe(5000)
      expect(yield* Fiber.join(second)).toBe(undefined)
      expect(yield* offload.cancel(auto(kind))).toBe(false)
      expect(yield* offload.activeCount).toBe(0)
      expect(yield* offload.awaitIdle("0 millis")).toBe(true)
      // As with the real layer: counted as interrupted, not logged as a failure.
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, interrupted: 2 })
      expect(logs.lines).toEqual([])
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("cancelAll interrupts every piece of inline work in flight and returns how many", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const kind = uniqueKind("inline-cancel-all")
      const before = yield* counts(kind)
      const pieces = yield* Effect.all([gate(), gate(), gate()])
      const callers = yield* Effect.forEach(pieces, (piece, i) =>
        Effect.forkChild(offload.register(i === 0 ? auto(kind) : keyed(`k${i}`, kind), piece.work))
      )
      yield* Effect.forEach(pieces, (piece) => Deferred.await(piece.started))
      expect(yield* offload.cancelAll).toBe(3)
      expect(pieces.map((piece) => piece.interruptedAt())).toEqual([0, 0, 0])
      expect(yield* Effect.forEach(callers, Fiber.join)).toEqual(["spawned", "spawned", "spawned"])
      expect(yield* offload.cancelAll).toBe(0)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 3, interrupted: 3 })
    }).pipe(Effect.provide(Offload.layerInline))
  )
})

describe("Offload.layerInline: the caller's interruption", () => {
  it.effect("the work survives and completes (counted as completed); the interrupted caller is released at once", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.Offload
      const kind = uniqueKind("inline-survive")
      const before = yield* counts(kind)
      let doneAt: number | undefined = undefined
      const work = Effect.sleep("2 seconds").pipe(
        Effect.andThen(Effect.clockWith((clock) => clock.currentTimeMillis)),
        Effect.map((now) => {
          doneAt = now
        })
      )
      const request = yield* Effect.forkChild(offload.register(keyed("upload", kind), work))
      yield* flush
      yield* TestTime.adjust("1 second")
      yield* Fiber.interrupt(request)
      expect(Exit.hasInterrupts(yield* Fiber.await(request))).toBe(true)
      expect(yield* offload.isInFlight(keyed("upload", kind))).toBe(true)
      yield* TestTime.adjust("1 second")
      expect(doneAt).toBe(2000)
      expect(yield* offload.awaitIdle("0 millis")).toBe(true)
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 1, completed: 1 })
    }).pipe(Effect.provide(Offload.layerInline))
  )

  it.effect("releasing the inline layer drains the work its interrupted callers left running", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(build(Offload.layerInline), scope)
      const a = yield* gate()
      const request = yield* Effect.forkChild(offload.spawn("x", a.work))
      yield* Deferred.await(a.started)
      yield* Fiber.interrupt(request)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* flush
      expect(closing.pollUnsafe()).toBeUndefined()
      yield* a.release
      expect(yield* Fiber.await(closing)).toEqual(Exit.void)
      expect(a.interruptedAt()).toBe(undefined)
    })
  )
})

describe("Offload.submit: a handle on the work this call admitted", () => {
  it.effect("spawned: await resumes when this piece ends, with its exit, while other work runs on", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      const other = yield* gate()
      yield* offload.spawn("x", other.work)
      const handle = yield* offload.submit(keyed("k", "x"), Effect.as(Effect.sleep("1 second"), 42))
      expect(handle.outcome).toBe("spawned")
      const waiting = yield* Effect.forkChild(handle.await)
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const result: Option.Option<Exit.Exit<number, never>> = yield* Fiber.join(waiting)
      expect(result).toEqual(Option.some(Exit.succeed(42)))
      // Awaited again after the end: the same answer, at once.
      expect(yield* handle.await).toEqual(Option.some(Exit.succeed(42)))
      // The other piece is still running: awaitIdle would not have resumed.
      expect(yield* offload.activeCount).toBe(1)
      yield* other.release
    })
  )

  it.effect("interrupting the wait does not stop the work", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      const a = yield* gate()
      const handle = yield* offload.submit(auto("x"), a.work)
      const waiting = yield* Effect.forkChild(handle.await)
      yield* Deferred.await(a.started)
      yield* Fiber.interrupt(waiting)
      expect(a.interruptedAt()).toBe(undefined)
      yield* a.release
      expect(yield* handle.await).toEqual(Option.some(Exit.void))
    })
  )

  it.effect("work that fails or dies: the exit carries the cause; the service still logs and counts it", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const offload = yield* Offload.make({ grace: 0 })
      const kind = uniqueKind("submit-fail")
      const before = yield* counts(kind)
      const failing = yield* offload.submit(auto(kind), Effect.fail("boom" as const)).pipe(Effect.provide(logs.layer))
      const dying = yield* offload.submit(auto(kind), Effect.die("kaput")).pipe(Effect.provide(logs.layer))
      const failed: Option.Option<Exit.Exit<never, "boom">> = yield* failing.await
      expect(failed).toEqual(Option.some(Exit.fail("boom")))
      expect(yield* dying.await).toEqual(Option.some(Exit.die("kaput")))
      expect(delta(before, yield* counts(kind))).toEqual({ ...zero, spawned: 2, failed: 2 })
      expect(logs.lines.map((l) => l.message)).toEqual([
        "offloaded work failed: boom",
        "offloaded work failed: defect: kaput"
      ])
    })
  )

  it.effect("work that is cancelled, timed out, or dropped from the queue: an interruption", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({
        grace: 0,
        perKind: { slow: { timeout: { after: "1 second", policy: "cancel" } }, one: { maxConcurrent: 1 } },
        onFull: { queue: 1 }
      })
      const a = yield* gate()
      const cancelled = yield* offload.submit(keyed("a", "x"), a.work)
      const timedOut = yield* offload.submit(auto("slow"), Effect.never)
      const running = yield* offload.submit(auto("one"), Effect.never)
      const queued = yield* offload.submit(auto("one"), Effect.never)
      expect([cancelled, timedOut, running, queued].map((h) => h.outcome)).toEqual([
        "spawned",
        "spawned",
        "spawned",
        "spawned"
      ])
      yield* Deferred.await(a.started)
      expect(yield* offload.cancel(keyed("a", "x"))).toBe(true)
      const isInterruption = (result: Option.Option<Exit.Exit<unknown, unknown>>) =>
        Option.isSome(result) && Exit.isFailure(result.value) && Cause.hasInterruptsOnly(result.value.cause)
      expect(isInterruption(yield* cancelled.await)).toBe(true)
      yield* TestTime.adjust("1 second")
      expect(isInterruption(yield* timedOut.await)).toBe(true)
      expect(yield* offload.cancelAll).toBe(2)
      expect(isInterruption(yield* running.await)).toBe(true)
      expect(isInterruption(yield* queued.await)).toBe(true)
    })
  )

  it.effect("deduplicated: await resumes when the piece in flight under the key ends, with none", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make({ grace: 0 })
      const a = yield* gate()
      const b = counter()
      const first = yield* offload.submit(keyed("k", "x"), Effect.as(a.work, "first"))
      const second = yield* offload.submit(keyed("k", "x"), Effect.as(b.work, 2))
      expect([first.outcome, second.outcome]).toEqual(["spawned", "deduplicated"])
      const waiting = yield* Effect.forkChild(second.await)
      yield* Deferred.await(a.started)
      yield* flush
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* a.release
      const result: Option.Option<Exit.Exit<number, never>> = yield* Fiber.join(waiting)
      expect(result).toEqual(Option.none())
      expect(yield* first.await).toEqual(Option.some(Exit.succeed("first")))
      expect(b.runs()).toBe(0)
    })
  )

  it.effect("rejected (full, invalid key, closed) and disabled: await resumes at once with none", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const offload = yield* Scope.provide(Offload.make({ grace: 0, maxConcurrent: 1 }), scope)
      const a = yield* gate()
      yield* offload.spawn("x", a.work)
      const work = counter()
      const full = yield* offload.submit(auto("x"), work.work)
      const invalid = yield* offload.submit(auto(" "), work.work).pipe(Effect.provide(captureLogs().layer))
      yield* Scope.close(scope, Exit.void)
      const closed = yield* offload.submit(auto("x"), work.work)
      const disabled = yield* Offload.submit(auto("x"), work.work).pipe(Effect.provide(Offload.layerDisabled))
      expect([full, invalid, closed, disabled].map((h) => h.outcome)).toEqual([
        "rejected",
        "rejected",
        "rejected",
        "disabled"
      ])
      for (const handle of [full, invalid, closed, disabled]) expect(yield* handle.await).toEqual(Option.none())
      yield* flush
      expect(work.runs()).toBe(0)
    })
  )

  it.effect("the inline layer: submit returns once the work has ended; its handle has the exit", () =>
    Effect.gen(function* () {
      const request = yield* Effect.forkChild(Offload.submit(auto("x"), Effect.as(Effect.sleep("1 second"), "done")))
      yield* flush
      yield* TestTime.adjust("999 millis")
      expect(request.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust("1 millis")
      const handle = yield* Fiber.join(request)
      expect(handle.outcome).toBe("spawned")
      expect(yield* handle.await).toEqual(Option.some(Exit.succeed("done")))
    }).pipe(Effect.provide(Offload.layerInline))
  )
})

describe("OffloadKey.validate", () => {
  it("accepts what the layers accept and names the reason for the rest", () => {
    expect(OffloadKey.validate(keyed("k", "x"))).toEqual(Result.succeed(keyed("k", "x")))
    expect(OffloadKey.validate(auto("x"))).toEqual(Result.succeed(auto("x")))
    expect(OffloadKey.validate(auto(" \t"))).toEqual(Result.fail("kind must not be blank (whitespace only)"))
    expect(OffloadKey.validate(keyed("  ", "x"))).toEqual(Result.fail("key must not be blank (whitespace only)"))
    expect(OffloadKey.validate(keyed("", "x"))).toEqual(Result.fail("key must be a non-empty string"))
    expect(OffloadKey.validate({ _tag: "Auto", kind: "x" })).toEqual(
      Result.fail("key must be an OffloadKey (OffloadKey.keyed or OffloadKey.auto)")
    )
  })
})

describe("logFailures", () => {
  const failAll = (offload: Offload.Offload, kinds: ReadonlyArray<string>) =>
    Effect.forEach(kinds, (kind) =>
      offload.submit(auto(kind), Effect.fail(`${kind} failed`)).pipe(Effect.flatMap((h) => h.await))
    )

  it.effect("false: Offload does not log failures (the work logs its own), and still counts them", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const [quiet, loud] = [uniqueKind("quiet"), uniqueKind("loud")]
      const offload = yield* Offload.make({ grace: 0, logFailures: false, perKind: { [loud]: { logFailures: true } } })
      const before = yield* counts(quiet)
      yield* failAll(offload, [quiet, loud]).pipe(Effect.provide(logs.layer))
      expect(logs.lines.map((l) => l.message)).toEqual([`offloaded work failed: ${loud} failed`])
      expect(delta(before, yield* counts(quiet))).toEqual({ ...zero, spawned: 1, failed: 1 })
    })
  )

  it.effect("per kind: only that kind is silenced, also under a cancel timeout and while being interrupted", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const [quiet, timed, loud] = [uniqueKind("quiet"), uniqueKind("timed"), uniqueKind("loud")]
      const offload = yield* Offload.make({
        grace: 0,
        perKind: {
          [quiet]: { logFailures: false },
          [timed]: { logFailures: false, timeout: { after: "1 second", policy: "cancel" } }
        }
      })
      yield* failAll(offload, [quiet, loud]).pipe(Effect.provide(logs.layer))
      // Finalizers that die while the work is being interrupted (by cancel, by the timeout).
      const dyingFinalizer = Effect.never.pipe(Effect.ensuring(Effect.die("finalizer died")))
      yield* offload.spawn(quiet, dyingFinalizer).pipe(Effect.provide(logs.layer))
      yield* offload.spawn(timed, dyingFinalizer).pipe(Effect.provide(logs.layer))
      yield* flush
      expect(yield* offload.cancel(auto(quiet))).toBe(true)
      yield* TestTime.adjust("1 second")
      expect(yield* offload.awaitIdle()).toBe(true)
      yield* flush
      // The timeout is not a failure: it is still logged.
      expect(logs.lines.map((l) => l.message)).toEqual([
        `offloaded work failed: ${loud} failed`,
        "offloaded work timed out after 1000 ms and was interrupted"
      ])
    })
  )

  it.effect("bad values are refused by field, unknown keys too", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [unknown, string, string | undefined]> = [
        [{ logFailures: "no" }, "logFailures", 'must be true or false, got "no"'],
        [{ perKind: { x: { logFailures: 0 } } }, "perKind.x.logFailures", "must be true or false, got 0"],
        [{ perKind: { x: { logFailure: false } } }, "perKind.x.logFailure", undefined]
      ]
      for (const [config, field, reason] of cases) {
        const error = yield* Effect.flip(Effect.scoped(Offload.make(config as Offload.OffloadConfig)))
        expect([error._tag, error.field]).toEqual(["InvalidOffloadConfig", field])
        if (reason !== undefined) expect(error.reason).toBe(reason)
      }
    })
  )
})

describe("Offload.layerInlineWith", () => {
  it.effect("takes the real layer's config: logFailures, limits", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const [quiet, one] = [uniqueKind("inline-quiet"), uniqueKind("inline-one")]
      const before = yield* counts(quiet)
      const offload = yield* Offload.Offload
      // The caller waits, and the failure is counted but not logged.
      expect(yield* offload.register(auto(quiet), Effect.fail("boom")).pipe(Effect.provide(logs.layer))).toBe("spawned")
      expect(delta(before, yield* counts(quiet))).toEqual({ ...zero, spawned: 1, failed: 1 })
      expect(logs.lines).toEqual([])
      // One at a time: a concurrent caller is rejected.
      const a = yield* gate()
      const first = yield* Effect.forkChild(offload.register(auto(one), a.work))
      yield* Deferred.await(a.started)
      expect(yield* offload.register(auto(one), Effect.void)).toBe("rejected")
      yield* a.release
      expect(yield* Fiber.join(first)).toBe("spawned")
    }).pipe(Effect.provide(Offload.layerInlineWith({ logFailures: false, maxConcurrent: 1 })))
  )

  it.effect("a bad config fails the layer with InvalidOffloadConfig naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Layer.build(Offload.layerInlineWith({ logFailures: "no" } as never)))
      expect([error._tag, error.field, error.reason]).toEqual([
        "InvalidOffloadConfig",
        "logFailures",
        'must be true or false, got "no"'
      ])
    }).pipe(Effect.scoped)
  )
})

/** The `Offload` service a layer builds, in the current scope. */
const build = (layer: Layer.Layer<Offload.Offload, unknown>) =>
  Effect.map(Layer.build(layer), Context.get(Offload.Offload))
