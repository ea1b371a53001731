/**
 * Issue 12 (hardening), Offload items: a `grace: 0` close that does not wait, `cancel` of inline
 * work, handles on the work a caller admitted, inline work that survives its caller, shared key
 * validation and a per-kind switch for the failure log.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope, TestClock } from "effect"
import { Offload } from "@fibervisor/core"
import { captureLogs, counts, delta, flush, uniqueKind, zero } from "../OffloadHelpers.js"

describe("Offload.layer({ grace: 0 })", () => {
  it.effect("closing with uninterruptible stuck work returns at t=0 and reports the cut-off count", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const logs = captureLogs()
      const offload = yield* Scope.extend(Offload.make({ grace: 0 }).pipe(Effect.provide(logs.layer)), scope)
      const kind = uniqueKind("stuck")
      const before = yield* counts(kind)
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* offload.spawn(
        kind,
        Effect.uninterruptible(Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release))))
      )
      yield* Deferred.await(started)
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* flush
      // No clock time has passed: the close did not wait for the stuck piece.
      expect(yield* Fiber.poll(closing)).toEqual(Option.some(Exit.void))
      expect(logs.lines.map((l) => [l.level, l.message])).toEqual([
        [
          "WARN",
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
