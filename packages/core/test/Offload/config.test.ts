import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { counter, gate } from "../helpers/offload.js"

/** `[description, config, field, reason]`; `reason` undefined = any non-empty reason. */
const invalid: ReadonlyArray<readonly [string, unknown, string, string | undefined]> = [
  ["maxConcurrent: 0", { maxConcurrent: 0 }, "maxConcurrent", "must be a positive integer, got 0"],
  ["maxConcurrent: -1", { maxConcurrent: -1 }, "maxConcurrent", "must be a positive integer, got -1"],
  ["maxConcurrent: 1.5", { maxConcurrent: 1.5 }, "maxConcurrent", "must be a positive integer, got 1.5"],
  ["maxConcurrent: NaN", { maxConcurrent: NaN }, "maxConcurrent", undefined],
  ["maxConcurrent: Infinity", { maxConcurrent: Infinity }, "maxConcurrent", undefined],
  ['maxConcurrent: "3"', { maxConcurrent: "3" }, "maxConcurrent", undefined],
  [
    "perKind.revalidate.maxConcurrent: 0",
    { perKind: { revalidate: { maxConcurrent: 0 } } },
    "perKind.revalidate.maxConcurrent",
    "must be a positive integer, got 0"
  ],
  ["an unknown field in a perKind entry", { perKind: { revalidate: { max: 1 } } }, "perKind.revalidate.max", undefined],
  [
    "perKind.revalidate.timeout.policy unknown",
    { perKind: { revalidate: { timeout: { after: "1 second", policy: "nope" } } } },
    "perKind.revalidate.timeout.policy",
    undefined
  ],
  ["perKind not an object", { perKind: 3 }, "perKind", undefined],
  ["timeout.policy unknown", { timeout: { after: "1 second", policy: "nope" } }, "timeout.policy", undefined],
  ["timeout.policy missing", { timeout: { after: "1 second" } }, "timeout.policy", undefined],
  ["timeout.after missing", { timeout: { policy: "cancel" } }, "timeout.after", undefined],
  [
    "timeout.after negative",
    { timeout: { after: -5, policy: "cancel" } },
    "timeout.after",
    "must not be negative, got -5"
  ],
  ["timeout.after zero", { timeout: { after: 0, policy: "warn" } }, "timeout.after", "must be greater than zero"],
  [
    "timeout.after garbage",
    { timeout: { after: "soon", policy: "cancel" } },
    "timeout.after",
    'must be a duration such as "5 seconds", got "soon"'
  ],
  ["timeout.after infinite", { timeout: { after: Duration.infinity, policy: "cancel" } }, "timeout.after", undefined],
  ["an unknown field in timeout", { timeout: { after: 5, policy: "cancel", every: 1 } }, "timeout.every", undefined],
  ["grace negative (number)", { grace: -1 }, "grace", "must not be negative, got -1"],
  ["grace negative (string)", { grace: "-1 seconds" }, "grace", 'must not be negative, got "-1 seconds"'],
  ["grace garbage", { grace: "soon" }, "grace", 'must be a duration such as "5 seconds", got "soon"'],
  ["grace NaN", { grace: NaN }, "grace", undefined],
  ["grace Infinity", { grace: Infinity }, "grace", undefined],
  ["grace an object", { grace: {} }, "grace", undefined],
  ["onFull unknown policy", { onFull: "drop" }, "onFull", undefined],
  ["onFull: { queue: 0 }", { onFull: { queue: 0 } }, "onFull", undefined],
  ["onFull: { queue: -1 }", { onFull: { queue: -1 } }, "onFull", undefined],
  ["onFull: { queue: 1.5 }", { onFull: { queue: 1.5 } }, "onFull", undefined],
  ['deduplicate: "yes"', { deduplicate: "yes" }, "deduplicate", undefined],
  ["an unknown field (typo)", { maxConcurent: 3 }, "maxConcurent", undefined],
  ["a number", 42, "config", "must be an object, got 42"],
  ["a string", "fast", "config", 'must be an object, got "fast"'],
  ["null", null, "config", "must be an object, got null"],
  ["an array", [], "config", "must be an object, got an array"],
  ["a boolean", true, "config", "must be an object, got true"]
]

/** The failure of an exit that must be a typed failure (not a defect, not an interruption). */
const failureOf = <E>(exit: Exit.Exit<unknown, E>): E => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  expect(Cause.hasDies(exit.cause)).toBe(false)
  const failure = Cause.findErrorOption(exit.cause)
  expect(Option.isSome(failure)).toBe(true)
  return Option.getOrThrow(failure)
}

describe("Offload config validation", () => {
  for (const [name, config, field, reason] of invalid) {
    it.effect(`${name}: Offload.make and Offload.layer fail with InvalidOffloadConfig naming "${field}"`, () =>
      Effect.gen(function* () {
        // Building the effect and the layer never throws: the problem is a typed failure.
        const made = Effect.suspend(() => Effect.scoped(Offload.make(config as Offload.OffloadConfig)))
        const layer = Effect.suspend(() => Effect.scoped(Layer.build(Offload.layer(config as Offload.OffloadConfig))))
        for (const exit of [yield* Effect.exit(made), yield* Effect.exit(layer)]) {
          const error = failureOf(exit)
          expect(error).toBeInstanceOf(Offload.InvalidOffloadConfig)
          expect(error._tag).toBe("InvalidOffloadConfig")
          expect(error.field).toBe(field)
          if (reason === undefined) expect(error.reason).not.toBe("")
          else expect(error.reason).toBe(reason)
          expect(error.message).toBe(`invalid offload config: ${field} ${error.reason}`)
        }
      })
    )
  }

  it.effect("a program that provides a bad layer fails with InvalidOffloadConfig, and its work never runs", () =>
    Effect.gen(function* () {
      const work = counter()
      const error = yield* Offload.spawn("x", work.work).pipe(
        Effect.provide(Offload.layer({ perKind: { revalidate: { maxConcurrent: 0 } } })),
        Effect.flip
      )
      expect(error).toEqual(
        new Offload.InvalidOffloadConfig({
          field: "perKind.revalidate.maxConcurrent",
          reason: "must be a positive integer, got 0"
        })
      )
      expect(work.runs()).toBe(0)
    })
  )

  it.effect("valid configs are accepted: none, empty, every field, and every duration form", () =>
    Effect.gen(function* () {
      const configs: ReadonlyArray<Offload.OffloadConfig | undefined> = [
        undefined,
        {},
        {
          maxConcurrent: 64,
          perKind: {
            revalidate: { maxConcurrent: 8, timeout: { after: "30 seconds", policy: "cancel" } },
            race_loser: { maxConcurrent: 4 },
            empty: {}
          },
          onFull: { queue: 100 },
          timeout: { after: Duration.seconds(10), policy: "warn" },
          deduplicate: false,
          grace: "5 seconds"
        },
        { onFull: "reject" },
        { grace: 0 },
        { grace: 2500 },
        { grace: Duration.minutes(1) },
        { grace: [1, 500] },
        { timeout: { after: 1, policy: "cancel" } },
        { perKind: {} }
      ]
      for (const config of configs) {
        const offload = yield* Offload.make(config)
        expect(yield* offload.activeCount).toBe(0)
      }
    })
  )
})

describe("Offload config defaults", () => {
  for (const [name, config] of [
    ["no config", undefined],
    ["an empty config", {}],
    ["a config without deduplicate", { maxConcurrent: 4 }]
  ] as const) {
    it.effect(`deduplicate defaults to true (${name})`, () =>
      Effect.gen(function* () {
        const offload = yield* Offload.make(config)
        const a = yield* gate()
        const b = counter()
        const key = OffloadKey.keyed("k", "revalidate")
        expect(yield* offload.register(key, a.work)).toBe("spawned")
        yield* Deferred.await(a.started)
        expect(yield* offload.register(key, b.work)).toBe("deduplicated")
        yield* a.release
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(b.runs()).toBe(0)
      })
    )
  }

  it.effect("no limit by default: many pieces run at once", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make()
      const gates = yield* Effect.all(Array.from({ length: 100 }, () => gate()))
      for (const g of gates) expect(yield* offload.register(OffloadKey.auto("x"), g.work)).toBe("spawned")
      expect(yield* offload.activeCount).toBe(100)
      yield* Effect.forEach(gates, (g) => g.release)
      expect(yield* offload.awaitIdle()).toBe(true)
    })
  )
})
