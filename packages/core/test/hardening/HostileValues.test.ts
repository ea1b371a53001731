/**
 * Hostile values: error values that cannot be described, attempt scopes used after their attempt,
 * very deep trees, durations at the edges of the number line, exit codes and delays that JSON
 * cannot carry, and task names that would corrupt log lines and metric labels.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Logger, Option, Result, Schedule, Scope } from "effect"
import {
  Backoff,
  Offload,
  RestartPolicy,
  Supervisor,
  SupervisorEvent,
  Task,
  TaskContext,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { describeCause, describeError } from "../../src/internal/describe.js"
import { decodeDuration } from "../../src/internal/duration.js"
import { ofTag, setup } from "../helpers/recorder.js"
import { counts, delta, recordingTracer, uniqueKind, zero } from "../helpers/offload.js"
import { TestTime } from "../helpers/tasks.js"

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
      it.effect(`${label} (${kind}) goes through the restart policy and AttemptFailed`, () =>
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
  const layer = Logger.layer([
    Logger.make(({ logLevel, message }) => {
      lines.push({
        level: logLevel,
        message: Array.isArray(message) && message.length === 1 ? message[0] : message
      })
    })
  ])
  return { lines, layer }
}

describe("HostileValues: offloaded work failing with an error value that cannot be described", () => {
  for (const [label, make] of hostile()) {
    for (const kind of ["fail", "die"] as const) {
      const work = () => Effect.failCause(kind === "fail" ? Cause.fail(make()) : Cause.die(make()))
      const prefix = kind === "fail" ? "" : "defect: "
      const line = `offloaded work failed: ${prefix}an error value that cannot be described (object)`

      it.effect(`Offload.make: ${label} (${kind}) counts and logs as failed, not interrupted`, () =>
        Effect.gen(function* () {
          const offload = yield* Offload.make({ grace: 0 })
          const k = uniqueKind("hostile")
          const before = yield* counts(k)
          const logs = recordLogs()
          yield* Effect.provide(offload.spawn(k, work()), logs.layer)
          expect(yield* offload.awaitIdle()).toBe(true)
          expect(delta(before, yield* counts(k))).toEqual({ ...zero, spawned: 1, failed: 1 })
          expect(logs.lines).toEqual([{ level: "Warn", message: line }])
        })
      )

      it.effect(`Offload.layerInline: ${label} (${kind}) counts and logs as failed`, () =>
        Effect.gen(function* () {
          const k = uniqueKind("hostile-inline")
          const before = yield* counts(k)
          const logs = recordLogs()
          yield* Effect.provide(Offload.spawn(k, work()), logs.layer)
          expect(delta(before, yield* counts(k))).toEqual({ ...zero, spawned: 1, failed: 1 })
          expect(logs.lines).toEqual([{ level: "Warn", message: line }])
        }).pipe(Effect.provide(Offload.layerInline))
      )
    }
  }
})

describe("HostileValues: an attempt's Scope used after its attempt ended", () => {
  for (const [label, timeout, traced] of [
    ["", undefined, false],
    [" (a task with a timeout)", "1 hour", false],
    [" (a traced task: the attempt runs in a span)", undefined, true]
  ] as const)
    it.effect(`behaves as a closed scope during the next attempt and after the task ended${label}`, () =>
      Effect.gen(function* () {
        const { sup } = yield* setup()
        const tracing = yield* recordingTracer
        const scopes: Array<Scope.Scope> = []
        const ran: Array<string> = []
        const secondRunning = yield* Deferred.make<void>()
        const finishSecond = yield* Deferred.make<void>()
        const handle = yield* sup
          .add(
            Task.make(
              "leaky",
              Effect.gen(function* () {
                const ctx = yield* TaskContext.TaskContext
                const scope = yield* Scope.Scope
                scopes.push(scope)
                yield* Scope.addFinalizer(
                  scope,
                  Effect.sync(() => ran.push(`own finalizer of attempt ${ctx.attempt}`))
                )
                if (ctx.attempt === 1) return yield* Effect.fail("first attempt fails")
                // Attempt 2 itself uses the scope attempt 1 leaked: it is closed, not attempt 2's.
                yield* Scope.addFinalizer(
                  scopes[0]!,
                  Effect.sync(() => ran.push("late from attempt 2"))
                )
                yield* Deferred.succeed(secondRunning, undefined)
                yield* Deferred.await(finishSecond)
              }),
              { backoff: Backoff.constant("1 second"), timeout }
            )
          )
          .pipe(traced ? Effect.withTracer(tracing.tracer) : (self) => self)
        yield* TestTime.adjust("1 second")
        yield* Deferred.await(secondRunning)
        expect(scopes).toHaveLength(2)
        const [first, second] = scopes as [Scope.Scope, Scope.Scope]
        expect(first).not.toBe(second)
        expect(ran).toEqual(["own finalizer of attempt 1", "late from attempt 2"])
        ran.length = 0

        // During attempt 2, from outside: a finalizer runs at once with attempt 1's exit.
        let exitSeen: Exit.Exit<unknown, unknown> | undefined
        yield* Scope.addFinalizerExit(first, (exit) =>
          Effect.sync(() => {
            exitSeen = exit
            ran.push("late finalizer")
          })
        )
        expect(ran).toEqual(["late finalizer"])
        expect(exitSeen !== undefined && Exit.isFailure(exitSeen)).toBe(true)
        // Scope.provide releases at once.
        const extended = yield* Scope.provide(
          Effect.acquireRelease(Effect.succeed("resource"), () => Effect.sync(() => ran.push("released"))),
          first
        )
        expect(extended).toBe("resource")
        expect(ran).toEqual(["late finalizer", "released"])
        // A fiber forked into it is interrupted at once.
        const forked = yield* Effect.forkIn(Effect.never, first)
        expect(Exit.hasInterrupts(yield* Fiber.await(forked))).toBe(true)
        // A scope forked from it is closed already.
        const child = yield* Scope.fork(first, "sequential")
        yield* Scope.addFinalizer(
          child,
          Effect.sync(() => ran.push("child finalizer"))
        )
        expect(ran).toEqual(["late finalizer", "released", "child finalizer"])
        ran.length = 0

        // Attempt 2's own scope is still open and runs only its own finalizer when it ends.
        yield* Deferred.succeed(finishSecond, undefined)
        expect(yield* handle.await).toEqual(TaskOutcome.completed)
        expect(ran).toEqual(["own finalizer of attempt 2"])
        expect(tracing.spans.filter((span) => span.name === "fibervisor.task.attempt")).toHaveLength(traced ? 2 : 0)
        ran.length = 0

        // After the task ended, both scopes are closed.
        for (const scope of scopes) {
          yield* Scope.addFinalizer(
            scope,
            Effect.sync(() => ran.push("after the end"))
          )
          const fiber = yield* Effect.forkIn(Effect.never, scope)
          expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
          yield* Scope.provide(
            Effect.addFinalizer(() => Effect.sync(() => ran.push("extended after the end"))),
            scope
          )
        }
        expect(ran).toEqual(["after the end", "extended after the end", "after the end", "extended after the end"])
      })
    )
})

describe("HostileValues: very deep trees", () => {
  const depth = 3_000
  /** `depth` levels of `Supervisor.task`, the innermost running `leaf`. */
  const deep = (leaf: Task.Task<never, never>) => {
    let task: Task.Task<any, any> = leaf
    for (let i = depth; i >= 1; i--) task = Supervisor.task(`level-${i}`, [task])
    return task
  }

  it.effect(`Task.validate checks ${depth} levels of Supervisor.task without a stack overflow`, () =>
    Effect.gen(function* () {
      const task = deep(Task.make("leaf", Effect.void))
      expect(yield* Task.validate(task)).toBe(task)
      // A bad leaf is found and named by its full path of fields.
      const bad = yield* Effect.flip(Task.validate(deep(Task.make("leaf", Effect.void, { timeout: -1 }))))
      expect(bad.field).toBe(`${"children[0].".repeat(depth)}timeout`)
      expect(bad.reason).toBe("must not be negative, got -1")
    })
  )

  it.effect(
    `${depth} levels are added, run and shut down`,
    () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<string>()
        let stopped = false
        const leaf = Task.make(
          "leaf",
          Effect.flatMap(TaskContext.TaskContext, (ctx) =>
            Effect.andThen(
              Deferred.succeed(started, ctx.path),
              Effect.onInterrupt(Effect.never, () => Effect.sync(() => (stopped = true)))
            )
          )
        )
        const scope = yield* Scope.make()
        const sup = yield* Scope.provide(Supervisor.make(), scope)
        const handle = yield* sup.add(deep(leaf))
        const path = yield* Deferred.await(started)
        expect(path.split("/")).toHaveLength(depth + 2)
        expect(path.endsWith("/level-3000/leaf")).toBe(true)
        yield* Scope.close(scope, Exit.void)
        expect(stopped).toBe(true)
        expect((yield* handle.await)._tag).toBe("Canceled")
      }),
    120_000
  )
})

describe("HostileValues: durations at the edges of the number line", () => {
  /** Inputs every duration-taking field refuses, and the start of the reason. */
  const refused: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    ["[1e300, 0]", [1e300, 0], /^must be finite, got \[1e\+300, 0\] \(too many nanoseconds to count\)$/],
    ['"1e400 millis"', "1e400 millis", /^must be finite, got "1e400 millis"$/],
    ["a 401-digit number of millis", `1${"0".repeat(400)} millis`, /^must be finite, got "10+ millis"$/],
    ['"1e300 weeks"', "1e300 weeks", /^must be finite, got "1e300 weeks"$/],
    ["10n ** 400n nanoseconds", 10n ** 400n, /^must be finite, got a duration whose milliseconds overflow/],
    ["Duration.nanos(10n ** 400n)", Duration.nanos(10n ** 400n), /^must be finite, got a duration whose milliseconds/],
    ['"0.4 nanos"', "0.4 nanos", /^must be 0 or at least 1 nanosecond, got "0.4 nanos"$/],
    ['"0.6 nanos"', "0.6 nanos", /^must be 0 or at least 1 nanosecond, got "0.6 nanos"$/],
    ['"0.0004 micros"', "0.0004 micros", /^must be 0 or at least 1 nanosecond, got "0.0004 micros"$/],
    ['"0.0000004 millis"', "0.0000004 millis", /^must be 0 or at least 1 nanosecond, got "0.0000004 millis"$/],
    ['"4e-10 seconds"', "4e-10 seconds", /^must be 0 or at least 1 nanosecond, got "4e-10 seconds"$/],
    ["[0, 0.4]", [0, 0.4], /^must be 0 or at least 1 nanosecond, got \[0, 0.4\]$/],
    ["[4e-10, 0]", [4e-10, 0], /^must be 0 or at least 1 nanosecond, got \[4e-10, 0\]$/],
    ["4e-7 (the number form)", 4e-7, /^must be 0 or at least 1 nanosecond, got 4e-7 ms$/]
  ]

  type Refusal = { readonly field: string; readonly reason: string }
  const task = (options: Task.TaskOptions<unknown>) => Task.validate(Task.make("t", Effect.void, options))
  /** The refusal `effect` fails with; an effect that succeeds instead dies (and fails the test). */
  const flipped = (effect: Effect.Effect<unknown, unknown, Scope.Scope>): Effect.Effect<Refusal> =>
    Effect.scoped(effect).pipe(
      Effect.flip,
      Effect.orDie,
      Effect.map((e) => ({ field: (e as Refusal).field, reason: (e as Refusal).reason }))
    )

  /**
   * Every field that takes a duration. `build` runs outside any effect: a synchronous constructor
   * that throws fails the test.
   */
  const fields: ReadonlyArray<readonly [string, (input: any) => Effect.Effect<Refusal>]> = [
    ["timeout", (d) => flipped(task({ timeout: d }))],
    ["resetAfter", (d) => flipped(task({ resetAfter: d }))],
    ["grace", (d) => flipped(task({ grace: d }))],
    ["restart.interval", (d) => flipped(task({ restart: RestartPolicy.always({ interval: d }) }))],
    ["restart.interval", (d) => flipped(Task.validate(Task.periodic("t", Effect.void, d)))],
    ["backoff.delay", (d) => flipped(task({ backoff: Backoff.constant(d) }))],
    ["backoff.first", (d) => flipped(task({ backoff: Backoff.exponential({ first: d }) }))],
    ["backoff.max", (d) => flipped(task({ backoff: Backoff.exponential({ first: "1 millis", max: d }) }))],
    ["backoff.floor", (d) => flipped(task({ backoff: Backoff.exponential({ first: "1 millis", floor: d }) }))],
    ["grace", (d) => flipped(Supervisor.make({ grace: d }))],
    ["defaults.timeout", (d) => flipped(Supervisor.make({ defaults: { timeout: d } }))],
    ["defaults.resetAfter", (d) => flipped(Supervisor.make({ defaults: { resetAfter: d } }))],
    ["defaults.grace", (d) => flipped(Supervisor.make({ defaults: { grace: d } }))],
    ["timeout", (d) => flipped(Effect.flatMap(Supervisor.make(), (sup) => sup.cancel("t", { timeout: d })))],
    ["grace", (d) => flipped(Offload.make({ grace: d }))],
    [
      "perKind.k.timeout.after",
      (d) => flipped(Offload.make({ perKind: { k: { timeout: { after: d, policy: "cancel" } } } }))
    ],
    ["timeout", (d) => flipped(Effect.flatMap(Offload.make(), (offload) => offload.awaitIdle(d)))]
  ]

  for (const [label, input, reason] of refused) {
    it.effect(`every duration field refuses ${label} by name, and no constructor throws`, () =>
      Effect.gen(function* () {
        for (const [field, build] of fields) {
          const refusal = yield* build(input)
          expect(refusal.field).toBe(field)
          expect(refusal.reason).toMatch(reason)
        }
      })
    )
  }

  it("strings and pairs below one millisecond read exactly as the number form does", () => {
    const millis = (input: unknown) => Result.map(decodeDuration(input), Duration.toMillis)
    expect(millis("1 nanos")).toEqual(millis(1e-6))
    expect(millis("1.4 nanos")).toEqual(millis(1.4e-6))
    expect(millis("1.5 nanos")).toEqual(millis(1.5e-6))
    expect(millis([0, 1.5])).toEqual(millis(1.5e-6))
    expect(millis("0.001 micros")).toEqual(millis(1e-6))
    expect(millis("1e3 millis")).toEqual(Result.succeed(1000))
    expect(millis("0 nanos")).toEqual(Result.succeed(0))
    expect(millis([0, 0])).toEqual(Result.succeed(0))
    expect(Result.getOrThrow(millis([1e200, 0])) / 1e203).toBeCloseTo(1, 10)
  })
})

describe("HostileValues: numbers JSON cannot carry never reach an event", () => {
  /** Every event survives the wire: encoded, through JSON, decoded, equal to the original. */
  const roundTrips = (events: ReadonlyArray<SupervisorEvent.SupervisorEvent>) =>
    Effect.forEach(events, (event) =>
      Effect.map(SupervisorEvent.decode(JSON.parse(JSON.stringify(SupervisorEvent.encode(event)))), (decoded) =>
        expect(decoded).toEqual(event)
      )
    )

  const errors: ReadonlyArray<readonly [string, (exitCode: number) => unknown, "Failed" | "Fatal" | "Canceled"]> = [
    ["TaskError.fail", (exitCode) => TaskError.fail("broke", { exitCode }), "Failed"],
    ["TaskError.fatal", (exitCode) => TaskError.fatal("broke", { exitCode }), "Fatal"],
    ["TaskError.canceled", (exitCode) => TaskError.canceled("broke", { exitCode }), "Canceled"],
    ["a tagged error of the task's own", (exitCode) => ({ _tag: "Mine", reason: "broke", exitCode }), "Failed"]
  ]

  for (const exitCode of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    for (const [label, make, outcome] of errors) {
      it.effect(`${label} with exitCode ${exitCode}: the exit code is not carried, the reason says so`, () =>
        Effect.gen(function* () {
          const { sup, untilRemoved } = yield* setup()
          const handle = yield* sup.add(
            Task.make("coded", Effect.failCause(Cause.fail(make(exitCode))), { restart: RestartPolicy.never })
          )
          const result = yield* handle.await
          expect(result._tag).toBe(outcome)
          const reason = `broke (exitCode ${exitCode} ignored: not a finite number)`
          expect(result).toMatchObject({ reason })
          expect((result as { exitCode?: number }).exitCode).toBeUndefined()
          const events = yield* untilRemoved
          const attempt = events.find((e) => e._tag === "AttemptFailed" || e._tag === "AttemptCanceled")
          expect(attempt).toMatchObject({ reason })
          expect(ofTag("TaskFinished")(events)[0]).toMatchObject({ outcome, reason })
          for (const event of events) expect("exitCode" in event && event.exitCode !== undefined).toBe(false)
          yield* roundTrips(events)
        })
      )
    }
  }

  it.effect("a backoff schedule that asks for an infinite delay ends the task with a clear reason", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const handle = yield* sup.add(
        Task.make("forever-later", Effect.fail(TaskError.fail("down")), {
          backoff: Schedule.spaced(Duration.infinity)
        })
      )
      yield* TestTime.adjust("1 second")
      const recorded = yield* events
      expect(ofTag("BackoffScheduled")(recorded)).toEqual([])
      const outcome = yield* handle.await
      expect(outcome).toMatchObject({
        _tag: "Failed",
        reason: "the backoff schedule asked for an infinite delay after 0 retries: down"
      })
      expect(ofTag("TaskFinished")(yield* events)[0]).toMatchObject({ outcome: "Failed" })
      yield* roundTrips(yield* events)
      expect(Option.isNone(yield* sup.get("forever-later"))).toBe(true)
    })
  )
})

describe("HostileValues: task names that would corrupt log lines and metric labels", () => {
  const hasControl = (text: string) =>
    Array.from(text).some((c) => c.charCodeAt(0) < 0x20 || (c.charCodeAt(0) >= 0x7f && c.charCodeAt(0) <= 0x9f))
  const refused: ReadonlyArray<readonly [string, string, string]> = [
    ['"a\\nb"', "a\nb", 'must not contain control characters, got "a\\nb"'],
    ['"\\tindented"', "\tindented", 'must not contain control characters, got "\\tindented"'],
    ['"cr\\r"', "cr\r", 'must not contain control characters, got "cr\\r"'],
    ['"nul\\u0000"', "nul\u0000", 'must not contain control characters, got "nul\\u0000"'],
    ['"esc\\u001b[31m"', "esc\u001b[31m", 'must not contain control characters, got "esc\\u001b[31m"'],
    ['"del\\u007f"', "del\u007f", 'must not contain control characters, got "del\\u007f"'],
    ['"nel\\u0085" (C1)', "nel\u0085", 'must not contain control characters, got "nel\\u0085"'],
    ['"csi\\u009b" (C1)', "csi\u009b", 'must not contain control characters, got "csi\\u009b"'],
    ['" padded "', " padded ", 'must not start or end with whitespace, got " padded "'],
    ['" leading"', " leading", 'must not start or end with whitespace, got " leading"'],
    ['"trailing "', "trailing ", 'must not start or end with whitespace, got "trailing "'],
    ['"nbsp\\u00a0"', "nbsp\u00a0", 'must not start or end with whitespace, got "nbsp\u00a0"']
  ]

  for (const [label, name, reason] of refused) {
    it.effect(`${label} is refused as name, by Task.validate, add and as a Supervisor.task child`, () =>
      Effect.gen(function* () {
        const validated = yield* Effect.flip(Task.validate(Task.make(name, Effect.void)))
        expect({ tag: validated._tag, task: validated.task, field: validated.field, reason: validated.reason }).toEqual(
          { tag: "InvalidTaskSpec", task: "", field: "name", reason }
        )
        const { events, sup } = yield* setup()
        const added = yield* Effect.flip(sup.add(Task.make(name, Effect.void)))
        expect(added).toMatchObject({ _tag: "InvalidTaskSpec", field: "name", reason })
        const nested = yield* Effect.flip(
          Task.validate(Supervisor.task("group", [Task.make("ok", Effect.void), Task.make(name, Effect.void)]))
        )
        expect(nested).toMatchObject({ field: "children[1].name", reason })
        const nestedSelf = yield* Effect.flip(sup.add(Supervisor.task(name, [])))
        expect(nestedSelf).toMatchObject({ field: "name", reason })
        expect(yield* sup.list).toEqual([])
        yield* TestTime.adjust(0)
        // Nothing written about the refusal carries the control character.
        for (const event of yield* events) expect(hasControl(JSON.stringify(event))).toBe(false)
        expect(hasControl(added.message)).toBe(false)
      })
    )
  }

  for (const [label, name, reason] of refused) {
    it.effect(`${label} is refused as a root supervisor's name (it starts every path)`, () =>
      Effect.gen(function* () {
        const made = yield* Effect.flip(Supervisor.make({ name }))
        expect(made).toMatchObject({ _tag: "InvalidSupervisorOptions", field: "name", reason })
        expect(hasControl(made.message)).toBe(false)
      })
    )
  }

  it.effect("names with inner spaces, unicode and punctuation are still accepted", () =>
    Effect.gen(function* () {
      for (const name of ["two words", "задача-🚀", "a.b:c-d_e", "x"]) {
        const task = Task.make(name, Effect.void)
        expect(yield* Task.validate(task)).toBe(task)
      }
    })
  )
})
