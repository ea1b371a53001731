import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Fiber, Option, Schedule } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "./helpers/tasks.js"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const body = Effect.succeed(1)

/** Fails the test if `f` throws synchronously; returns its result. */
const noThrow = <A>(f: () => A): A => {
  let result: A | undefined
  expect(() => {
    result = f()
  }).not.toThrow()
  return result as A
}

/** A reason a person can read: one line, and not a raw `typeof` dump. */
const expectReadable = (reason: string) => {
  expect(reason.length).toBeGreaterThan(5)
  expect(reason).not.toContain("\n")
  expect(reason).not.toContain("undefined undefined")
}

// ---------------------------------------------------------------------------------------------
// constructors
// ---------------------------------------------------------------------------------------------

describe("Task constructors", () => {
  it("make keeps the name, the effect and a copy of the options", () => {
    const options: Task.TaskOptions<never> = { timeout: "1 second", maxRetries: 3 }
    const task = Task.make("worker", body, options)
    expect(Task.isTask(task)).toBe(true)
    expect(task.name).toBe("worker")
    expect(task.effect).toBe(body)
    expect(task.options).toEqual({ timeout: "1 second", maxRetries: 3 })
    expect(task.options).not.toBe(options)
    // a later change to the caller's object does not leak into the task
    ;(options as any).timeout = "9 seconds"
    expect(task.options.timeout).toBe("1 second")
  })

  it("make without options has no explicit settings (everything inherits the defaults)", () => {
    const task = Task.make("plain", body)
    expect(Object.keys(task.options)).toEqual([])
  })

  it("once never restarts", () => {
    const task = Task.once("one-shot", body)
    expect(task.name).toBe("one-shot")
    expect(task.effect).toBe(body)
    expect(task.options.restart).toBe(RestartPolicy.never)
    expect(Object.keys(task.options)).toEqual(["restart"])
  })

  it("restartable restarts on failure", () => {
    const task = Task.restartable("retrying", body)
    expect(task.options.restart).toBe(RestartPolicy.onFailure)
    expect(Object.keys(task.options)).toEqual(["restart"])
  })

  it("periodic restarts always with the interval", () => {
    const task = Task.periodic("tick", body, "5 seconds")
    const restart = task.options.restart
    expect(restart).toBeInstanceOf(RestartPolicy.Always)
    expect(restart?._tag).toBe("Always")
    expect((restart as RestartPolicy.Always).interval).toBe("5 seconds")
  })

  it("isTask tells tasks from look-alikes", () => {
    expect(Task.isTask(Task.once("a", body))).toBe(true)
    expect(Task.isTask({ name: "a", effect: body, options: {} })).toBe(false)
    expect(Task.isTask(null)).toBe(false)
    expect(Task.isTask("a")).toBe(false)
  })

  it("tasks are pipeable", () => {
    const task = Task.make("p", body).pipe((t) => ({ wrapped: t }))
    expect(Task.isTask(task.wrapped)).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
// modifiers
// ---------------------------------------------------------------------------------------------

describe("Task modifiers", () => {
  const isFatal = (e: string) => e === "fatal"
  const backoff = Backoff.constant("1 second")
  const policy = RestartPolicy.always({ interval: "1 minute" })

  const base = (): Task.Task<string> =>
    Task.make("base", Effect.fail("x") as Effect.Effect<never, string>, { timeout: "2 seconds", maxRetries: 1 })

  const modifiers: ReadonlyArray<{
    readonly key: keyof Task.TaskOptions
    readonly value: unknown
    readonly dataFirst: (t: Task.Task<string>) => Task.Task<string>
    readonly dataLast: (t: Task.Task<string>) => Task.Task<string>
  }> = [
    {
      key: "restart",
      value: policy,
      dataFirst: (t) => Task.withRestart(t, policy),
      dataLast: (t) => t.pipe(Task.withRestart(policy))
    },
    {
      key: "backoff",
      value: backoff,
      dataFirst: (t) => Task.withBackoff(t, backoff),
      dataLast: (t) => t.pipe(Task.withBackoff(backoff))
    },
    {
      key: "timeout",
      value: "30 seconds",
      dataFirst: (t) => Task.withTimeout(t, "30 seconds"),
      dataLast: (t) => t.pipe(Task.withTimeout("30 seconds"))
    },
    {
      key: "timeout",
      value: undefined,
      dataFirst: (t) => Task.withTimeout(t, undefined),
      dataLast: (t) => t.pipe(Task.withTimeout(undefined))
    },
    {
      key: "maxRetries",
      value: 7,
      dataFirst: (t) => Task.withMaxRetries(t, 7),
      dataLast: (t) => t.pipe(Task.withMaxRetries(7))
    },
    {
      key: "maxRetries",
      value: undefined,
      dataFirst: (t) => Task.withMaxRetries(t, undefined),
      dataLast: (t) => t.pipe(Task.withMaxRetries(undefined))
    },
    {
      key: "grace",
      value: "3 seconds",
      dataFirst: (t) => Task.withGrace(t, "3 seconds"),
      dataLast: (t) => t.pipe(Task.withGrace("3 seconds"))
    },
    {
      key: "grace",
      value: undefined,
      dataFirst: (t) => Task.withGrace(t, undefined),
      dataLast: (t) => t.pipe(Task.withGrace(undefined))
    },
    {
      key: "resetAfter",
      value: "1 hour",
      dataFirst: (t) => Task.withResetAfter(t, "1 hour"),
      dataLast: (t) => t.pipe(Task.withResetAfter("1 hour"))
    },
    {
      key: "resetAfter",
      value: undefined,
      dataFirst: (t) => Task.withResetAfter(t, undefined),
      dataLast: (t) => t.pipe(Task.withResetAfter(undefined))
    },
    {
      key: "isFatal",
      value: isFatal,
      dataFirst: (t) => Task.withIsFatal(t, isFatal),
      dataLast: (t) => t.pipe(Task.withIsFatal(isFatal))
    }
  ]

  for (const m of modifiers) {
    for (const form of ["data-first", "pipe"] as const) {
      it(`${m.key} = ${String(m.value === undefined ? "undefined" : typeof m.value === "object" ? "<value>" : m.value)} (${form})`, () => {
        const original = base()
        const before = { ...original.options }
        const modified = form === "data-first" ? m.dataFirst(original) : m.dataLast(original)
        // sets the option (present, even as undefined)
        expect(Task.isTask(modified)).toBe(true)
        expect(m.key in modified.options).toBe(true)
        expect(modified.options[m.key]).toBe(m.value)
        // keeps everything else
        expect(modified.name).toBe("base")
        expect(modified.effect).toBe(original.effect)
        for (const [key, value] of Object.entries(before)) {
          if (key !== m.key) expect((modified.options as any)[key]).toBe(value)
        }
        // returns a new task and leaves the original alone
        expect(modified).not.toBe(original)
        expect(modified.options).not.toBe(original.options)
        expect(original.options).toEqual(before)
        expect(m.key in original.options).toBe(m.key in before)
      })
    }
  }

  it("data-first and pipe forms build the same options", () => {
    for (const m of modifiers) {
      expect(m.dataFirst(base()).options).toEqual(m.dataLast(base()).options)
    }
  })

  it("modifiers chain, the last one wins, and the original is untouched", () => {
    const original = Task.make("chain", body)
    const modified = original.pipe(
      Task.withTimeout("1 second"),
      Task.withMaxRetries(2),
      Task.withGrace("5 seconds"),
      Task.withResetAfter("1 minute"),
      Task.withBackoff(Backoff.none),
      Task.withRestart(RestartPolicy.never),
      Task.withIsFatal(() => false),
      Task.withTimeout("2 seconds")
    )
    expect(modified.options.timeout).toBe("2 seconds")
    expect(modified.options.maxRetries).toBe(2)
    expect(modified.options.grace).toBe("5 seconds")
    expect(modified.options.resetAfter).toBe("1 minute")
    expect(modified.options.backoff).toBe(Backoff.none)
    expect(modified.options.restart).toBe(RestartPolicy.never)
    expect(typeof modified.options.isFatal).toBe("function")
    expect(original.options).toEqual({})
  })

  it("a modifier applied to a preset keeps the preset's policy", () => {
    const task = Task.once("o", body).pipe(Task.withTimeout("1 second"))
    expect(task.options.restart).toBe(RestartPolicy.never)
    expect(task.options.timeout).toBe("1 second")
    const periodic = Task.periodic("p", body, "1 minute").pipe(Task.withRestart(RestartPolicy.onFailure))
    expect(periodic.options.restart).toBe(RestartPolicy.onFailure)
  })
})

// ---------------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------------

describe("Task.validate", () => {
  const bad: ReadonlyArray<{
    readonly title: string
    readonly task: () => Task.Task<any, any>
    readonly field: string
    readonly mentions?: ReadonlyArray<string>
  }> = [
    // name
    { title: "empty name", task: () => Task.make("", body), field: "name" },
    { title: "whitespace name", task: () => Task.make("  \t ", body), field: "name" },
    { title: "numeric name (cast)", task: () => Task.make(42 as any, body), field: "name", mentions: ["42"] },
    { title: "undefined name (cast)", task: () => Task.make(undefined as any, body), field: "name" },
    { title: "null name (cast)", task: () => Task.make(null as any, body), field: "name" },
    // timeout
    {
      title: "negative timeout",
      task: () => Task.make("t", body, { timeout: -1 }),
      field: "timeout",
      mentions: ["-1"]
    },
    {
      title: "negative timeout (string)",
      task: () => Task.make("t", body, { timeout: "-2 seconds" }),
      field: "timeout"
    },
    { title: "NaN timeout", task: () => Task.make("t", body, { timeout: NaN }), field: "timeout", mentions: ["NaN"] },
    {
      title: "Infinity timeout",
      task: () => Task.make("t", body, { timeout: Infinity }),
      field: "timeout",
      mentions: ["finite"]
    },
    {
      title: "infinite Duration timeout",
      task: () => Task.make("t", body, { timeout: Duration.infinity }),
      field: "timeout"
    },
    {
      title: "garbage timeout",
      task: () => Task.make("t", body, { timeout: "ten seconds" as any }),
      field: "timeout",
      mentions: ["ten seconds"]
    },
    // Effect 4's `Duration.Input` has an object form (`{ seconds: 1 }`, accepted below); an object
    // with a field that is not a unit is still no duration.
    { title: "object timeout", task: () => Task.make("t", body, { timeout: { secs: 1 } as any }), field: "timeout" },
    {
      title: "negative timeout via withTimeout",
      task: () => Task.make("t", body).pipe(Task.withTimeout(-5)),
      field: "timeout"
    },
    { title: "NaN tuple timeout", task: () => Task.make("t", body, { timeout: [1, NaN] }), field: "timeout" },
    // resetAfter
    { title: "negative resetAfter", task: () => Task.make("t", body, { resetAfter: -1 }), field: "resetAfter" },
    { title: "NaN resetAfter", task: () => Task.make("t", body, { resetAfter: NaN }), field: "resetAfter" },
    { title: "Infinity resetAfter", task: () => Task.make("t", body, { resetAfter: Infinity }), field: "resetAfter" },
    {
      title: "garbage resetAfter",
      task: () => Task.make("t", body, { resetAfter: "an hour" as any }),
      field: "resetAfter",
      mentions: ["an hour"]
    },
    {
      title: "negative resetAfter via withResetAfter",
      task: () => Task.withResetAfter(Task.make("t", body), "-1 minutes"),
      field: "resetAfter"
    },
    // grace
    { title: "negative grace", task: () => Task.make("t", body, { grace: -1 }), field: "grace" },
    { title: "NaN grace", task: () => Task.make("t", body, { grace: NaN }), field: "grace" },
    { title: "Infinity grace", task: () => Task.make("t", body, { grace: Infinity }), field: "grace" },
    {
      title: "garbage grace",
      task: () => Task.make("t", body, { grace: "a while" as any }),
      field: "grace",
      mentions: ["a while"]
    },
    {
      title: "negative grace via withGrace",
      task: () => Task.make("t", body).pipe(Task.withGrace(-100)),
      field: "grace"
    },
    // restart
    {
      title: "negative restart interval",
      task: () => Task.make("t", body, { restart: RestartPolicy.always({ interval: -1 }) }),
      field: "restart.interval",
      mentions: ["-1"]
    },
    {
      title: "NaN restart interval",
      task: () => Task.make("t", body, { restart: RestartPolicy.always({ interval: NaN }) }),
      field: "restart.interval"
    },
    {
      title: "Infinity restart interval",
      task: () => Task.make("t", body, { restart: RestartPolicy.always({ interval: Infinity }) }),
      field: "restart.interval"
    },
    {
      title: "garbage restart interval",
      task: () => Task.make("t", body, { restart: RestartPolicy.always({ interval: "hourly" as any }) }),
      field: "restart.interval"
    },
    { title: "negative periodic interval", task: () => Task.periodic("t", body, -10), field: "restart.interval" },
    {
      title: "restart as a string",
      task: () => Task.make("t", body, { restart: "always" as any }),
      field: "restart",
      mentions: ["always"]
    },
    {
      title: "restart as a look-alike object",
      task: () => Task.make("t", body, { restart: { _tag: "Always", interval: undefined } as any }),
      field: "restart"
    },
    { title: "restart null", task: () => Task.make("t", body, { restart: null as any }), field: "restart" },
    {
      title: "restart via withRestart (cast)",
      task: () => Task.make("t", body).pipe(Task.withRestart(42 as any)),
      field: "restart"
    },
    // maxRetries
    {
      title: "maxRetries -1",
      task: () => Task.make("t", body, { maxRetries: -1 }),
      field: "maxRetries",
      mentions: ["-1"]
    },
    {
      title: "maxRetries 1.5",
      task: () => Task.make("t", body, { maxRetries: 1.5 }),
      field: "maxRetries",
      mentions: ["1.5"]
    },
    { title: "maxRetries NaN", task: () => Task.make("t", body, { maxRetries: NaN }), field: "maxRetries" },
    { title: "maxRetries Infinity", task: () => Task.make("t", body, { maxRetries: Infinity }), field: "maxRetries" },
    {
      title: 'maxRetries "3" (cast)',
      task: () => Task.make("t", body, { maxRetries: "3" as any }),
      field: "maxRetries",
      mentions: ['"3"']
    },
    {
      title: "maxRetries -1 via withMaxRetries",
      task: () => Task.withMaxRetries(Task.make("t", body), -1),
      field: "maxRetries"
    },
    // backoff
    {
      title: "backoff factor < 1",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: "1 second", factor: 0.5 }) }),
      field: "backoff.factor"
    },
    {
      title: "backoff factor NaN",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: "1 second", factor: NaN }) }),
      field: "backoff.factor"
    },
    {
      title: "backoff first > max",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: "1 minute", max: "1 second" }) }),
      field: "backoff.first"
    },
    {
      title: "backoff negative first",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: -1 }) }),
      field: "backoff.first"
    },
    {
      title: "backoff garbage max",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: "1 second", max: "lots" as any }) }),
      field: "backoff.max"
    },
    {
      title: "backoff floor > max",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: 1, max: 10, floor: 20 }) }),
      field: "backoff.floor"
    },
    {
      title: "backoff unknown jitter",
      task: () => Task.make("t", body, { backoff: Backoff.exponential({ first: 1, jitter: "wobbly" as any }) }),
      field: "backoff.jitter"
    },
    {
      title: "backoff negative constant",
      task: () => Task.make("t", body).pipe(Task.withBackoff(Backoff.constant(-1))),
      field: "backoff.delay"
    },
    { title: "backoff not a Schedule", task: () => Task.make("t", body, { backoff: "fast" as any }), field: "backoff" },
    // isFatal
    { title: "isFatal a string", task: () => Task.make("t", body, { isFatal: "yes" as any }), field: "isFatal" },
    { title: "isFatal true", task: () => Task.make("t", body, { isFatal: true as any }), field: "isFatal" },
    {
      title: "isFatal via withIsFatal (cast)",
      task: () => Task.withIsFatal(Task.make("t", body), {} as any),
      field: "isFatal"
    }
  ]

  for (const c of bad) {
    it.effect(`${c.title} → InvalidTaskSpec at "${c.field}"`, () =>
      Effect.gen(function* () {
        const task = noThrow(c.task)
        const validated = noThrow(() => Task.validate(task))
        const exit = yield* Effect.exit(validated)
        // a typed failure, not a defect
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(validated)
        expect(error).toBeInstanceOf(Task.InvalidTaskSpec)
        expect(error._tag).toBe("InvalidTaskSpec")
        expect(error.field).toBe(c.field)
        expectReadable(error.reason)
        for (const word of c.mentions ?? []) expect(error.reason).toContain(word)
        const name = typeof task.name === "string" ? task.name : ""
        expect(error.task).toBe(name)
        if (name.trim() !== "") expect(error.message).toContain(`"${name}"`)
        expect(error.message).toContain(c.field)
        expect(error.message).toContain(error.reason)
      })
    )
  }

  it.effect("the message names the task, the field and the reason", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Task.validate(Task.make("payments", body, { timeout: -3 })))
      expect(error.task).toBe("payments")
      expect(error.field).toBe("timeout")
      expect(error.message).toBe(`invalid task spec "payments": timeout ${error.reason}`)
    })
  )

  it.effect("the first bad field is reported when several are bad", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Task.validate(Task.make("", body, { timeout: -1, maxRetries: -1 })))
      expect(error.field).toBe("name")
    })
  )

  const good: ReadonlyArray<{ readonly title: string; readonly task: () => Task.Task<any, any> }> = [
    { title: "no options", task: () => Task.make("t", body) },
    { title: "timeout 0", task: () => Task.make("t", body, { timeout: 0 }) },
    { title: 'timeout "0 millis"', task: () => Task.make("t", body, { timeout: "0 millis" }) },
    { title: "withTimeout(undefined)", task: () => Task.make("t", body).pipe(Task.withTimeout(undefined)) },
    { title: "timeout: undefined", task: () => Task.make("t", body, { timeout: undefined }) },
    { title: "maxRetries 0", task: () => Task.make("t", body, { maxRetries: 0 }) },
    { title: "maxRetries undefined", task: () => Task.make("t", body, { maxRetries: undefined }) },
    { title: "a large maxRetries", task: () => Task.make("t", body, { maxRetries: Number.MAX_SAFE_INTEGER }) },
    {
      title: "Duration values",
      task: () =>
        Task.make("t", body, { timeout: Duration.seconds(5), grace: Duration.zero, resetAfter: Duration.minutes(1) })
    },
    {
      title: "[seconds, nanos] tuples",
      task: () => Task.make("t", body, { timeout: [5, 0], grace: [0, 500_000_000], resetAfter: [60, 1] })
    },
    {
      title: "duration objects (Effect 4's Duration.Input)",
      task: () =>
        Task.make("t", body, { timeout: { seconds: 5 }, grace: { milliseconds: 500 }, resetAfter: { minutes: 1 } })
    },
    {
      title: "bigint nanos",
      task: () => Task.make("t", body, { timeout: BigInt(5_000_000_000), grace: BigInt(0), resetAfter: BigInt(1) })
    },
    {
      title: "plain numbers (millis)",
      task: () => Task.make("t", body, { timeout: 1500, grace: 0.5, resetAfter: 60_000 })
    },
    {
      title: "fractional strings",
      task: () => Task.make("t", body, { timeout: "1.5 seconds", grace: "0.25 minutes" })
    },
    { title: "grace 0, resetAfter 0", task: () => Task.make("t", body, { grace: 0, resetAfter: 0 }) },
    {
      title: "grace / resetAfter undefined",
      task: () => Task.make("t", body).pipe(Task.withGrace(undefined), Task.withResetAfter(undefined))
    },
    { title: "always without interval", task: () => Task.make("t", body, { restart: RestartPolicy.always() }) },
    {
      title: "always with interval 0",
      task: () => Task.make("t", body, { restart: RestartPolicy.always({ interval: 0 }) })
    },
    { title: "periodic", task: () => Task.periodic("t", body, "1 minute") },
    { title: "never", task: () => Task.once("t", body) },
    { title: "isFatal undefined", task: () => Task.make("t", body, { isFatal: undefined as any }) },
    { title: "isFatal function", task: () => Task.make("t", body, { isFatal: () => true }) },
    { title: "any Schedule as backoff", task: () => Task.make("t", body, { backoff: Schedule.spaced("1 second") }) },
    { title: "Backoff.none", task: () => Task.make("t", body, { backoff: Backoff.none }) },
    { title: "a unicode name", task: () => Task.make("задача-🚀", body) }
  ]

  for (const c of good) {
    it.effect(`accepts: ${c.title}`, () =>
      Effect.gen(function* () {
        const task = c.task()
        expect(yield* Task.validate(task)).toBe(task)
      })
    )
  }

  it.effect("accepts an Effect that is a function (a class-based Context.Service)", () =>
    Effect.gen(function* () {
      class Port extends Context.Service<Port, number>()("test/Port") {}
      expect(Effect.isEffect(Port)).toBe(true)
      const task = Task.make("reads-port", Port)
      expect(yield* Task.validate(task)).toBe(task)
    })
  )
})

// ---------------------------------------------------------------------------------------------
// through the supervisor
// ---------------------------------------------------------------------------------------------

describe("Task specs through the supervisor", () => {
  it.effect("add of an invalid task fails with InvalidTaskSpec and never runs the body", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const attempt = Effect.sync(() => {
        runs += 1
      })
      const invalid = [
        Task.make("bad-timeout", attempt, { timeout: -1 }),
        Task.make("bad-retries", attempt, { maxRetries: 1.5 }),
        Task.make("bad-backoff", attempt, { backoff: Backoff.exponential({ first: "1 second", factor: 0 }) }),
        Task.make("bad-interval", attempt, { restart: RestartPolicy.always({ interval: -1 }) }),
        Task.make("", attempt)
      ]
      const fields = []
      for (const task of invalid) {
        const error = yield* Effect.flip(sup.add(task))
        expect(error._tag).toBe("InvalidTaskSpec")
        fields.push((error as Task.InvalidTaskSpec).field)
      }
      expect(fields).toEqual(["timeout", "maxRetries", "backoff.factor", "restart.interval", "name"])
      yield* TestTime.adjust("1 hour")
      expect(runs).toBe(0)
      expect(yield* sup.list).toEqual([])
      expect(yield* sup.size).toBe(0)
      // the name was never taken
      const handle = yield* sup.add(Task.once("bad-timeout", attempt))
      expect((yield* handle.await)._tag).toBe("Completed")
      expect(runs).toBe(1)
    })
  )

  it.effect("addAll with one invalid task starts none of them", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const attempt = Effect.sync(() => {
        runs += 1
      })
      const error = yield* Effect.flip(
        sup.addAll([
          Task.once("a", attempt),
          Task.once("b", attempt).pipe(Task.withGrace(NaN)),
          Task.once("c", attempt)
        ])
      )
      expect(error._tag).toBe("InvalidTaskSpec")
      expect((error as Task.InvalidTaskSpec).field).toBe("grace")
      expect((error as Task.InvalidTaskSpec).task).toBe("b")
      yield* TestTime.adjust("1 minute")
      expect(runs).toBe(0)
      expect(yield* sup.size).toBe(0)
    })
  )

  it.effect("Supervisor.run of an invalid batch fails with InvalidTaskSpec", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Supervisor.run([Task.once("ok", body), Task.make("bad", body, { maxRetries: -1 })])
      )
      expect(error._tag).toBe("InvalidTaskSpec")
      expect((error as Task.InvalidTaskSpec).field).toBe("maxRetries")
    })
  )

  const badOptions: ReadonlyArray<{
    readonly title: string
    readonly options: Supervisor.SupervisorOptions
    readonly field: string
  }> = [
    { title: "negative grace", options: { grace: -1 }, field: "grace" },
    { title: "NaN grace", options: { grace: NaN }, field: "grace" },
    { title: "Infinity grace", options: { grace: Infinity }, field: "grace" },
    { title: "garbage grace", options: { grace: "ten seconds" as any }, field: "grace" },
    { title: "maxConcurrent 0", options: { maxConcurrent: 0 }, field: "maxConcurrent" },
    { title: "maxConcurrent -1", options: { maxConcurrent: -1 }, field: "maxConcurrent" },
    { title: "maxConcurrent 1.5", options: { maxConcurrent: 1.5 }, field: "maxConcurrent" },
    { title: "maxConcurrent NaN", options: { maxConcurrent: NaN }, field: "maxConcurrent" },
    { title: "maxConcurrent Infinity", options: { maxConcurrent: Infinity }, field: "maxConcurrent" },
    { title: 'maxConcurrent "4" (cast)', options: { maxConcurrent: "4" as any }, field: "maxConcurrent" },
    { title: "eventBuffer 0", options: { eventBuffer: 0 }, field: "eventBuffer" },
    { title: "eventBuffer -1", options: { eventBuffer: -1 }, field: "eventBuffer" },
    { title: "eventBuffer 1.5", options: { eventBuffer: 1.5 }, field: "eventBuffer" },
    { title: "eventBuffer NaN", options: { eventBuffer: NaN }, field: "eventBuffer" },
    { title: "defaults.timeout negative", options: { defaults: { timeout: -1 } }, field: "defaults.timeout" },
    { title: "defaults.timeout NaN", options: { defaults: { timeout: NaN } }, field: "defaults.timeout" },
    { title: "defaults.timeout garbage", options: { defaults: { timeout: "soon" as any } }, field: "defaults.timeout" },
    { title: "defaults.grace Infinity", options: { defaults: { grace: Infinity } }, field: "defaults.grace" },
    { title: "defaults.resetAfter negative", options: { defaults: { resetAfter: -5 } }, field: "defaults.resetAfter" },
    { title: "defaults.maxRetries -1", options: { defaults: { maxRetries: -1 } }, field: "defaults.maxRetries" },
    { title: "defaults.maxRetries 2.5", options: { defaults: { maxRetries: 2.5 } }, field: "defaults.maxRetries" },
    {
      title: "defaults.restart interval negative",
      options: { defaults: { restart: RestartPolicy.always({ interval: -1 }) } },
      field: "defaults.restart.interval"
    },
    {
      title: "defaults.restart not a policy",
      options: { defaults: { restart: "never" as any } },
      field: "defaults.restart"
    },
    {
      title: "defaults.backoff factor < 1",
      options: { defaults: { backoff: Backoff.exponential({ first: "1 second", factor: 0.9 }) } },
      field: "defaults.backoff.factor"
    },
    {
      title: "defaults.backoff first > max",
      options: { defaults: { backoff: Backoff.exponential({ first: "2 minutes", max: "1 minute" }) } },
      field: "defaults.backoff.first"
    },
    {
      title: "defaults.backoff not a Schedule",
      options: { defaults: { backoff: 5 as any } },
      field: "defaults.backoff"
    },
    { title: "defaults not an object", options: { defaults: "none" as any }, field: "defaults" },
    { title: "options not an object", options: 7 as any, field: "options" }
  ]

  for (const c of badOptions) {
    it.effect(`Supervisor.make: ${c.title} → InvalidSupervisorOptions at "${c.field}"`, () =>
      Effect.gen(function* () {
        const made = noThrow(() => Supervisor.make(c.options))
        const error = yield* Effect.flip(made)
        expect(error).toBeInstanceOf(Supervisor.InvalidSupervisorOptions)
        expect(error._tag).toBe("InvalidSupervisorOptions")
        expect(error.field).toBe(c.field)
        expectReadable(error.reason)
        expect(error.message).toContain(c.field)
        expect(error.message).toContain(error.reason)
      })
    )
  }

  it.effect("Supervisor.layer and Supervisor.run fail with InvalidSupervisorOptions too", () =>
    Effect.gen(function* () {
      const fromLayer = yield* Effect.flip(
        Effect.provide(Supervisor.Supervisor, Supervisor.layer({ maxConcurrent: 0 }))
      )
      expect(fromLayer._tag).toBe("InvalidSupervisorOptions")
      expect(fromLayer.field).toBe("maxConcurrent")
      const fromRun = yield* Effect.flip(Supervisor.run([Task.once("a", body)], { grace: -1 }))
      expect(fromRun._tag).toBe("InvalidSupervisorOptions")
      expect((fromRun as Supervisor.InvalidSupervisorOptions).field).toBe("grace")
    })
  )

  it.effect("valid edge-case supervisor options are accepted", () =>
    Effect.gen(function* () {
      for (const options of [
        {},
        { grace: 0 },
        { maxConcurrent: 1 },
        { eventBuffer: 1 },
        { defaults: {} },
        { defaults: { timeout: undefined, maxRetries: 0, grace: Duration.seconds(1) } },
        { grace: [1, 0] as const, defaults: { timeout: BigInt(1_000_000) } }
      ] satisfies ReadonlyArray<Supervisor.SupervisorOptions>) {
        const sup = yield* Supervisor.make(options)
        const handle = yield* sup.add(Task.once("a", body))
        expect((yield* handle.await)._tag).toBe("Completed")
      }
    })
  )

  it.effect("a task without timeout inherits defaults.timeout; withTimeout(undefined) and 0 override it", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ defaults: { timeout: "1 second" } })
      const inherits = yield* sup.add(Task.once("inherits", Effect.never))
      const explicitNone = yield* sup.add(Task.once("explicit-none", Effect.never).pipe(Task.withTimeout(undefined)))
      const optionNone = yield* sup.add(
        Task.make("option-none", Effect.never, { restart: RestartPolicy.never, timeout: undefined })
      )
      const zero = yield* sup.add(Task.once("zero", Effect.never).pipe(Task.withTimeout(0)))
      const own = yield* sup.add(Task.once("own", Effect.never).pipe(Task.withTimeout("3 seconds")))

      yield* TestTime.adjust("999 millis")
      expect(yield* inherits.poll).toEqual(Option.none())

      yield* TestTime.adjust("1 millis")
      const inherited = yield* inherits.await
      expect(inherited._tag).toBe("Failed")
      expect((inherited as { reason: string }).reason).toContain("1000 ms")
      expect(yield* own.poll).toEqual(Option.none())

      yield* TestTime.adjust("2 seconds")
      const owned = yield* own.await
      expect(owned._tag).toBe("Failed")
      expect((owned as { reason: string }).reason).toContain("3000 ms")

      yield* TestTime.adjust("1 hour")
      for (const handle of [explicitNone, optionNone, zero]) {
        expect(yield* handle.poll).toEqual(Option.none())
        const info = yield* sup.get(handle.name)
        expect(Option.map(info, (i) => [i.state, i.attempt])).toEqual(Option.some(["running", 1]))
      }
      for (const handle of [explicitNone, optionNone, zero]) {
        expect(yield* sup.cancel(handle.id)).toBe(true)
        expect((yield* handle.await)._tag).toBe("Canceled")
      }
    })
  )

  it.effect("an inherited timeout is retried per policy like an own one", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({
        defaults: { timeout: "100 millis", backoff: Backoff.constant("50 millis") }
      })
      let attempts = 0
      const handle = yield* sup.add(
        Task.make(
          "slow",
          Effect.suspend(() => {
            attempts += 1
            return Effect.never
          }),
          { maxRetries: 2 }
        )
      )
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("100 millis") // attempt 1 times out
      expect(attempts).toBe(1)
      yield* TestTime.adjust("50 millis") // backoff
      expect(attempts).toBe(2)
      yield* TestTime.adjust("150 millis") // attempt 2 times out, backoff, attempt 3 starts
      expect(attempts).toBe(3)
      yield* TestTime.adjust("100 millis") // attempt 3 times out: budget spent
      const result = yield* Fiber.join(outcome)
      expect(result._tag).toBe("Failed")
      expect(attempts).toBe(3)
    })
  )

  it.effect("defaults.restart and defaults.maxRetries apply to tasks that leave them out", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ defaults: { restart: RestartPolicy.never, maxRetries: 0 } })
      let runs = 0
      const failing = Effect.suspend(() => {
        runs += 1
        return Effect.fail(TaskError.fail("no"))
      })
      const inherits = yield* sup.add(Task.make("inherits", failing))
      expect((yield* inherits.await)._tag).toBe("Failed")
      expect(runs).toBe(1)
      // an explicit policy and budget override the defaults
      runs = 0
      const own = yield* sup.add(
        Task.make("own", failing, { restart: RestartPolicy.onFailure, maxRetries: 2, backoff: Backoff.none })
      )
      const fiber = yield* Effect.forkChild(own.await)
      yield* TestTime.adjust("1 second")
      expect((yield* Fiber.join(fiber))._tag).toBe("Failed")
      expect(runs).toBe(3)
    })
  )
})
