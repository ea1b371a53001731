/**
 * Hostile values: error values that cannot be described, attempt scopes used after their attempt,
 * very deep trees, durations at the edges of the number line, exit codes and delays that JSON
 * cannot carry, and task names that would corrupt log lines and metric labels.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Logger } from "effect"
import { Backoff, Offload, RestartPolicy, Task } from "@fibervisor/core"
import { describeCause, describeError } from "../../src/internal/describe.js"
import { ofTag, setup } from "../helpers/recorder.js"
import { counts, delta, uniqueKind, zero } from "../OffloadHelpers.js"

/** Error values whose description throws: every path of `describeError` is a trap for one of them. */
const hostile = (): ReadonlyArray<readonly [string, () => unknown]> => [
  [
    "a circular null-prototype object",
    () => {
      const o = Object.create(null) as Record<string, unknown>
      o.self = o
      return o
    }
  ],
  [
    "an object with a throwing getter",
    () => ({
      _tag: "Boom",
      get reason(): string {
        throw new Error("getter")
      }
    })
  ],
  [
    "an Error whose message getter throws",
    () => {
      const e = new Error("x")
      Object.defineProperty(e, "message", {
        get() {
          throw new Error("getter")
        }
      })
      return e
    }
  ],
  [
    "an object with a throwing toJSON and toString",
    () => ({
      toJSON() {
        throw new Error("toJSON")
      },
      toString() {
        throw new Error("toString")
      }
    })
  ],
  [
    "an object with a throwing Symbol.toPrimitive",
    () => {
      const o: Record<PropertyKey, unknown> = {
        [Symbol.toPrimitive]() {
          throw new Error("toPrimitive")
        }
      }
      o.self = o
      return o
    }
  ],
  [
    "a Proxy that throws on every trap",
    () =>
      new Proxy(
        {},
        new Proxy(
          {},
          {
            get: () => () => {
              throw new Error("trap")
            }
          }
        )
      )
  ]
]

describe("HostileValues: error values that cannot be described", () => {
  for (const [label, make] of hostile()) {
    it(`describeError and describeCause never throw for ${label}`, () => {
      const value = make()
      expect(describeError(value)).toMatch(/^an error value that cannot be described \(\w+\)$/)
      expect(describeCause(Cause.fail(value))).toMatch(/cannot be described/)
    })

    for (const kind of ["fail", "die"] as const) {
      it.scoped(`${label} (${kind}) goes through the restart policy and AttemptFailed`, () =>
        Effect.gen(function* () {
          const { sup, untilRemoved } = yield* setup()
          let attempts = 0
          const handle = yield* sup.add(
            Task.make(
              "hostile",
              Effect.suspend(() => {
                attempts++
                // `Effect.fail` itself probes its argument (a hostile Proxy then dies in Effect's
                // code with a readable "trap" defect); a cause carries the value untouched.
                return Effect.failCause(kind === "fail" ? Cause.fail(make()) : Cause.die(make()))
              }),
              { restart: RestartPolicy.onFailure, maxRetries: 2, backoff: Backoff.constant("0 millis") }
            )
          )
          const outcome = yield* handle.await
          expect(outcome._tag).toBe("Failed")
          expect(attempts).toBe(3)
          const events = yield* untilRemoved
          const failed = ofTag("AttemptFailed")(events)
          expect(failed.map((e) => e.attempt)).toEqual([1, 2, 3])
          const prefix = kind === "fail" ? "" : "defect: "
          for (const e of failed)
            expect(e.reason).toMatch(new RegExp(`^${prefix}an error value that cannot be described`))
          expect(ofTag("BackoffScheduled")(events)).toHaveLength(2)
        })
      )
    }
  }
})

/** Records each log line's level and message (never pretty-printing the cause, which may be hostile). */
const recordLogs = () => {
  const lines: Array<{ readonly level: string; readonly message: unknown }> = []
  const layer = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message }) => {
      lines.push({
        level: logLevel.label,
        message: Array.isArray(message) && message.length === 1 ? message[0] : message
      })
    })
  )
  return { lines, layer }
}

describe("HostileValues: offloaded work failing with an error value that cannot be described", () => {
  for (const [label, make] of hostile()) {
    for (const kind of ["fail", "die"] as const) {
      const work = () => Effect.failCause(kind === "fail" ? Cause.fail(make()) : Cause.die(make()))
      const prefix = kind === "fail" ? "" : "defect: "
      const line = `offloaded work failed: ${prefix}an error value that cannot be described (object)`

      it.scoped(`Offload.make: ${label} (${kind}) counts and logs as failed, not interrupted`, () =>
        Effect.gen(function* () {
          const offload = yield* Offload.make({ grace: 0 })
          const k = uniqueKind("hostile")
          const before = yield* counts(k)
          const logs = recordLogs()
          yield* Effect.provide(offload.spawn(k, work()), logs.layer)
          expect(yield* offload.awaitIdle()).toBe(true)
          expect(delta(before, yield* counts(k))).toEqual({ ...zero, spawned: 1, failed: 1 })
          expect(logs.lines).toEqual([{ level: "WARN", message: line }])
        })
      )

      it.effect(`Offload.layerInline: ${label} (${kind}) counts and logs as failed`, () =>
        Effect.gen(function* () {
          const k = uniqueKind("hostile-inline")
          const before = yield* counts(k)
          const logs = recordLogs()
          yield* Effect.provide(Offload.spawn(k, work()), logs.layer)
          expect(delta(before, yield* counts(k))).toEqual({ ...zero, spawned: 1, failed: 1 })
          expect(logs.lines).toEqual([{ level: "WARN", message: line }])
        }).pipe(Effect.provide(Offload.layerInline))
      )
    }
  }
})
