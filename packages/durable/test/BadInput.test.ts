import { describe, expect, it } from "@effect/vitest"
import { Backoff } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { Effect, Exit, Layer, Schedule, Schema, Scope } from "effect"
import { memory } from "./helpers.js"

const payload = Schema.Struct({ url: Schema.String })

/** The `InvalidKind` a declaration gets, as `{ field, reason }`. */
const problem = (options: unknown, name: unknown = "k") =>
  Effect.gen(function* () {
    const kind = DurableOffload.kind(name as string, options as DurableOffload.KindOptions<{ url: string }>)
    const error = yield* Effect.flip(DurableOffload.validateKind(kind))
    expect(error._tag).toBe("InvalidKind")
    return { field: error.field, reason: error.reason, message: error.message }
  })

describe("DurableOffload.kind: bad input names the field", () => {
  it.effect("a valid declaration passes", () =>
    Effect.gen(function* () {
      const kind = DurableOffload.kind("ok", {
        payload,
        key: (p) => p.url,
        dedupe: "ever",
        maxAttempts: 3,
        retry: Backoff.constant("1 second"),
        timeout: "5 seconds",
        concurrency: 2,
        redact: (p) => p.url.length
      })
      expect(yield* DurableOffload.validateKind(kind)).toBe(kind)
    })
  )

  const cases: ReadonlyArray<readonly [string, unknown, string, RegExp, unknown?]> = [
    ["empty name", { payload }, "name", /must not be empty/, ""],
    ["non-string name", { payload }, "name", /must be a string, got 42/, 42],
    ["name with a control character", { payload }, "name", /control characters/, "a\nb"],
    ["too long name", { payload }, "name", /at most 200 characters/, "x".repeat(201)],
    ["no options", undefined, "payload", /is required/],
    ["options not an object", 7, "options", /must be an object, got 7/],
    ["unknown option", { payload, retries: 3 }, "retries", /is not a known option/],
    ["payload not a Schema", { payload: { url: "x" } }, "payload", /must be a Schema, got an object/],
    ["key not a function", { payload, key: "url" }, "key", /must be a function of the payload, got "url"/],
    ["unknown dedupe", { payload, dedupe: "always" }, "dedupe", /must be "in-flight" or "ever", got "always"/],
    ["maxAttempts 0", { payload, maxAttempts: 0 }, "maxAttempts", /positive integer, got 0/],
    ["maxAttempts 1.5", { payload, maxAttempts: 1.5 }, "maxAttempts", /positive integer, got 1.5/],
    ["maxAttempts NaN", { payload, maxAttempts: Number.NaN }, "maxAttempts", /positive integer, got NaN/],
    ["retry not a Schedule", { payload, retry: "1 second" }, "retry", /must be a Schedule/],
    [
      "retry: a Backoff with bad options",
      { payload, retry: Backoff.exponential({ first: "2 seconds", max: "1 second" }) },
      "retry.first",
      /.+/
    ],
    ["negative timeout", { payload, timeout: -1 }, "timeout", /non-negative/],
    ["infinite timeout", { payload, timeout: Infinity }, "timeout", /finite/],
    ["timeout not a duration", { payload, timeout: "soon" }, "timeout", /must be a duration/],
    ["concurrency 0", { payload, concurrency: 0 }, "concurrency", /positive integer, got 0/],
    [
      "concurrency as an object",
      { payload, concurrency: { perReplica: 2 } },
      "concurrency",
      /positive integer, got an object/
    ],
    ["redact not a function", { payload, redact: true }, "redact", /must be a function/]
  ]
  for (const [title, options, field, reason, name] of cases) {
    it.effect(title, () =>
      Effect.gen(function* () {
        const p = yield* problem(options, name === undefined ? "k" : name)
        expect(p.field).toBe(field)
        expect(p.reason).toMatch(reason)
        expect(p.message).toContain(field)
      })
    )
  }

  it.effect("a plain Schedule is accepted as retry", () =>
    Effect.gen(function* () {
      const kind = DurableOffload.kind("plain", { payload, retry: Schedule.spaced("1 second") })
      yield* DurableOffload.validateKind(kind)
    })
  )

  it.effect("every use of a bad kind fails with its InvalidKind: enqueue, inspect, cancel, counts, workers", () =>
    Effect.gen(function* () {
      const { service, context } = yield* memory
      const bad = DurableOffload.kind("bad", { payload, maxAttempts: -1 })
      for (const use of [
        service.enqueue(bad, { url: "a" }),
        service.inspect(bad, "a"),
        service.cancel(bad, "a"),
        service.counts(bad),
        service.retryFailed(bad),
        service.list(bad, "failed")
      ]) {
        const error = yield* Effect.flip(
          use as Effect.Effect<unknown, { readonly _tag: string; readonly field?: string }>
        )
        expect(error._tag).toBe("InvalidKind")
        expect(error.field).toBe("maxAttempts")
      }
      const exit = yield* Effect.exit(
        Layer.build(DurableOffload.workers([bad.handle(() => Effect.void)])).pipe(Effect.provide(context))
      )
      expect(exit).toStrictEqual(Exit.fail(expect.anything()))
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("maxAttempts")
    })
  )
})

describe("DurableOffload.enqueue: bad input", () => {
  const Kind = DurableOffload.kind("enq", { payload, key: (p) => p.url })

  it.effect("unknown option and bad delay → InvalidOptions naming the field", () =>
    Effect.gen(function* () {
      const { service } = yield* memory
      const unknown = yield* Effect.flip(service.enqueue(Kind, { url: "a" }, { priority: 1 } as never))
      expect(unknown).toMatchObject({ _tag: "InvalidOptions", operation: "enqueue", field: "priority" })
      const negative = yield* Effect.flip(service.enqueue(Kind, { url: "a" }, { delay: -5 }))
      expect(negative).toMatchObject({ _tag: "InvalidOptions", field: "delay" })
      const notObject = yield* Effect.flip(service.enqueue(Kind, { url: "a" }, "soon" as never))
      expect(notObject).toMatchObject({ _tag: "InvalidOptions", field: "options" })
      expect((yield* service.counts(Kind)).pending).toBe(0)
    })
  )

  it.effect("an invalid key (empty, too long, not a string, a throwing key function) → rejected, nothing stored", () =>
    Effect.gen(function* () {
      const { service } = yield* memory
      expect(yield* service.enqueue(Kind, { url: "" })).toBe("rejected")
      expect(yield* service.enqueue(Kind, { url: "a" }, { key: "x".repeat(513) })).toBe("rejected")
      expect(yield* service.enqueue(Kind, { url: "a" }, { key: 5 as never })).toBe("rejected")
      const Throwing = DurableOffload.kind("throwing", {
        payload,
        key: () => {
          throw new Error("no key")
        }
      })
      expect(yield* service.enqueue(Throwing, { url: "a" })).toBe("rejected")
      expect((yield* service.counts(Kind)).pending).toBe(0)
      expect((yield* service.counts(Throwing)).pending).toBe(0)
    })
  )

  it.effect("a payload that does not encode → PayloadError with the reason, nothing stored", () =>
    Effect.gen(function* () {
      const { service } = yield* memory
      const error = yield* Effect.flip(service.enqueue(Kind, { url: 42 } as never, { key: "k" }))
      expect(error._tag).toBe("PayloadError")
      if (error._tag === "PayloadError") {
        expect(error.kind).toBe("enq")
        expect(error.reason).toMatch(/string/i)
      }
      expect((yield* service.counts(Kind)).pending).toBe(0)
    })
  )

  it.effect("list and cleanup refuse bad options", () =>
    Effect.gen(function* () {
      const { service } = yield* memory
      expect(yield* Effect.flip(service.list(Kind, "failed", { limit: 0 }))).toMatchObject({ field: "limit" })
      expect(yield* Effect.flip(service.list(Kind, "failed", { max: 1 } as never))).toMatchObject({ field: "max" })
      expect(yield* Effect.flip(service.list(Kind, "dead" as never))).toMatchObject({ field: "status" })
      expect(yield* Effect.flip(service.cleanup({ olderThan: -1 }))).toMatchObject({ field: "olderThan" })
      expect(yield* Effect.flip(service.cleanup({ olderThan: "1 day", keep: 1 } as never))).toMatchObject({
        field: "keep"
      })
    })
  )
})

describe("DurableOffload.workers: bad input", () => {
  const Kind = DurableOffload.kind("w", { payload })
  const build = (registrations: unknown, options?: unknown) =>
    Effect.gen(function* () {
      const { context } = yield* memory
      return yield* Effect.flip(
        Layer.build(
          DurableOffload.workers(
            registrations as ReadonlyArray<DurableOffload.Registration<never>>,
            options as DurableOffload.WorkersOptions
          )
        ).pipe(Effect.provide(context))
      )
    })

  const cases: ReadonlyArray<readonly [string, unknown, string, RegExp]> = [
    ["unknown option", { concurrency: 2 }, "concurrency", /is not a known option/],
    ["pollInterval 0", { pollInterval: 0 }, "pollInterval", /greater than zero/],
    ["negative lease", { lease: -1 }, "lease", /non-negative/],
    [
      "refreshEvery not shorter than lease",
      { lease: "1 second", refreshEvery: "1 second" },
      "refreshEvery",
      /shorter than lease/
    ],
    ["negative grace", { grace: -1 }, "grace", /non-negative/],
    ["empty workerId", { workerId: "" }, "workerId", /must not be empty/],
    ["options not an object", [1], "options", /must be an object/]
  ]
  for (const [title, options, field, reason] of cases) {
    it.effect(title, () =>
      Effect.gen(function* () {
        const error = yield* build([Kind.handle(() => Effect.void)], options)
        expect(error).toMatchObject({ _tag: "InvalidOptions", operation: "workers", field })
        expect(error._tag === "InvalidOptions" && error.reason).toMatch(reason)
      })
    )
  }

  it.effect(
    "a second workers layer for a kind on the same service is refused; after the first is closed it is accepted",
    () =>
      Effect.gen(function* () {
        const { context } = yield* memory
        const scope = yield* Scope.make()
        const workers = DurableOffload.workers([Kind.handle(() => Effect.void)])
        yield* Layer.buildWithScope(workers, scope).pipe(Effect.provide(context))
        const second = yield* Effect.flip(Layer.build(workers).pipe(Effect.provide(context)))
        expect(second).toMatchObject({ _tag: "InvalidOptions", field: "registrations" })
        expect(second._tag === "InvalidOptions" && second.reason).toMatch(/already has workers/)
        yield* Scope.close(scope, Exit.void)
        yield* Layer.build(workers).pipe(Effect.provide(context))
      })
  )

  it.effect("two handlers of one kind, a non-registration, not an array", () =>
    Effect.gen(function* () {
      const twice = yield* build([Kind.handle(() => Effect.void), Kind.handle(() => Effect.void)])
      expect(twice).toMatchObject({ _tag: "InvalidOptions", field: "registrations[1]" })
      const notOne = yield* build([Kind])
      expect(notOne).toMatchObject({ _tag: "InvalidOptions", field: "registrations[0]" })
      const notArray = yield* build(Kind.handle(() => Effect.void))
      expect(notArray).toMatchObject({ _tag: "InvalidOptions", field: "registrations" })
    })
  )
})
