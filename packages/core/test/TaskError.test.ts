import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Equal, Fiber, Option, Result, Schema } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task, TaskError, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "./helpers/tasks.js"

const builders = [
  { name: "fail", build: TaskError.fail, tag: "TaskFail", klass: TaskError.Fail },
  { name: "fatal", build: TaskError.fatal, tag: "TaskFatal", klass: TaskError.Fatal },
  { name: "timeout", build: TaskError.timeout, tag: "TaskTimeout", klass: TaskError.Timeout },
  { name: "canceled", build: TaskError.canceled, tag: "TaskCanceled", klass: TaskError.Canceled }
] as const

describe("TaskError builders", () => {
  for (const b of builders) {
    it(`${b.name}(reason) sets the tag and the reason, nothing else`, () => {
      const error = b.build("something broke")
      expect(error._tag).toBe(b.tag)
      expect(error).toBeInstanceOf(b.klass)
      expect(error).toBeInstanceOf(Error)
      expect(error.reason).toBe("something broke")
      expect(error.message).toBe("something broke")
      expect(error.exitCode).toBeUndefined()
      expect(error.cause).toBeUndefined()
      expect(Object.prototype.hasOwnProperty.call(error, "exitCode")).toBe(false)
      expect(Object.prototype.hasOwnProperty.call(error, "cause")).toBe(false)
    })

    it(`${b.name}(reason, { exitCode, cause }) keeps both`, () => {
      const underlying = new RangeError("disk full")
      const error = b.build("write failed", { exitCode: 74, cause: underlying })
      expect(error.reason).toBe("write failed")
      expect(error.exitCode).toBe(74)
      expect(error.cause).toBe(underlying)
    })

    it(`${b.name} keeps exitCode 0 and a falsy-but-defined cause`, () => {
      const error = b.build("done", { exitCode: 0, cause: 0 })
      expect(error.exitCode).toBe(0)
      expect(error.cause).toBe(0)
      const withEmpty = b.build("done", { cause: "" })
      expect(withEmpty.cause).toBe("")
    })

    it(`${b.name}: undefined options are absent`, () => {
      const error = b.build("r", { exitCode: undefined, cause: undefined })
      expect("exitCode" in error && error.exitCode !== undefined).toBe(false)
      expect(error.cause).toBeUndefined()
    })
  }

  it("timeout and canceled have default reasons", () => {
    expect(TaskError.timeout().reason).toBe("timed out")
    expect(TaskError.canceled().reason).toBe("canceled")
    expect(TaskError.timeout(undefined, { exitCode: 124 }).exitCode).toBe(124)
  })

  it("the classes can be constructed directly", () => {
    const error = new TaskError.Fail({ reason: "direct", exitCode: 2 })
    expect(error._tag).toBe("TaskFail")
    expect(error.reason).toBe("direct")
    expect(error.exitCode).toBe(2)
  })

  it("errors with the same fields are equal (Data)", () => {
    expect(Equal.equals(TaskError.fail("a", { exitCode: 1 }), TaskError.fail("a", { exitCode: 1 }))).toBe(true)
    expect(Equal.equals(TaskError.fail("a"), TaskError.fail("b"))).toBe(false)
    expect(Equal.equals(TaskError.fail("a"), TaskError.fatal("a"))).toBe(false)
  })
})

describe("TaskError.isTaskError", () => {
  it("accepts the four errors", () => {
    for (const b of builders) expect(TaskError.isTaskError(b.build("x"))).toBe(true)
  })

  it("rejects everything else", () => {
    for (const u of [
      new Error("plain"),
      { _tag: "Other" },
      { _tag: "Fail" },
      { reason: "no tag" },
      "TaskFail",
      null,
      undefined,
      42,
      new Cause.TimeoutError(),
      Effect.void
    ]) {
      expect(TaskError.isTaskError(u)).toBe(false)
    }
  })
})

describe("TaskError in effects", () => {
  it.effect("errors are yieldable: yield* fails the generator with them", () =>
    Effect.gen(function* () {
      for (const b of builders) {
        const error = b.build("yielded", { exitCode: 9 })
        const program = Effect.gen(function* () {
          yield* error
          return "unreachable"
        })
        const result = yield* Effect.result(program)
        expect(result).toEqual(Result.fail(error))
        expect(Result.getFailure(result).pipe(Option.getOrThrow)).toBe(error)
      }
    })
  )

  it.effect("catchTag selects each error by its tag", () =>
    Effect.gen(function* () {
      const caught = (error: TaskError.TaskError) =>
        Effect.fail(error).pipe(
          Effect.catchTag("TaskFail", (e) => Effect.succeed(`fail:${e.reason}`)),
          Effect.catchTag("TaskFatal", (e) => Effect.succeed(`fatal:${e.reason}:${e.exitCode}`)),
          Effect.catchTag("TaskTimeout", (e) => Effect.succeed(`timeout:${e.reason}`)),
          Effect.catchTag("TaskCanceled", (e) => Effect.succeed(`canceled:${e.reason}`))
        )
      expect(yield* caught(TaskError.fail("a"))).toBe("fail:a")
      expect(yield* caught(TaskError.fatal("b", { exitCode: 3 }))).toBe("fatal:b:3")
      expect(yield* caught(TaskError.timeout())).toBe("timeout:timed out")
      expect(yield* caught(TaskError.canceled("stop"))).toBe("canceled:stop")
    })
  )

  it.effect("catchTag leaves other tags alone; catchTags handles several", () =>
    Effect.gen(function* () {
      const fatal: Effect.Effect<never, TaskError.TaskError> = Effect.fail(TaskError.fatal("boom"))
      const error = yield* Effect.flip(fatal.pipe(Effect.catchTag("TaskFail", () => Effect.succeed("no"))))
      expect(error._tag).toBe("TaskFatal")
      const handled = yield* fatal.pipe(
        Effect.catchTags({
          TaskFail: () => Effect.succeed("fail"),
          TaskFatal: (e) => Effect.succeed(`fatal ${e.reason}`)
        }),
        Effect.catch(() => Effect.succeed("other"))
      )
      expect(handled).toBe("fatal boom")
    })
  )

  it.effect("a failure carries the error in its Cause", () =>
    Effect.gen(function* () {
      const error = TaskError.fail("in cause", { exitCode: 1 })
      const exit = yield* Effect.exit(Effect.fail(error))
      expect(exit._tag).toBe("Failure")
      if (exit._tag === "Failure") expect(Cause.findErrorOption(exit.cause)).toEqual(Option.some(error))
    })
  )
})

// ---------------------------------------------------------------------------------------------
// TaskOutcome
// ---------------------------------------------------------------------------------------------

describe("TaskOutcome helpers", () => {
  const cause = Cause.fail("underlying")
  const outcomes: ReadonlyArray<{
    readonly outcome: TaskOutcome.TaskOutcome
    readonly success: boolean
    readonly reason: string | undefined
    readonly exitCode: number | undefined
  }> = [
    { outcome: TaskOutcome.completed, success: true, reason: undefined, exitCode: undefined },
    { outcome: new TaskOutcome.Completed(), success: true, reason: undefined, exitCode: undefined },
    { outcome: new TaskOutcome.Failed({ reason: "f", exitCode: 1, cause }), success: false, reason: "f", exitCode: 1 },
    { outcome: new TaskOutcome.Failed({ reason: "f0", exitCode: 0 }), success: false, reason: "f0", exitCode: 0 },
    { outcome: new TaskOutcome.Failed({ reason: "f" }), success: false, reason: "f", exitCode: undefined },
    { outcome: new TaskOutcome.Fatal({ reason: "x", exitCode: 2 }), success: false, reason: "x", exitCode: 2 },
    { outcome: new TaskOutcome.Canceled({ reason: "c", exitCode: 130 }), success: false, reason: "c", exitCode: 130 },
    { outcome: new TaskOutcome.ForceAborted({ reason: "hung" }), success: false, reason: "hung", exitCode: undefined },
    {
      outcome: new TaskOutcome.Rejected({ kind: "QueueFull", reason: "full" }),
      success: false,
      reason: "full",
      exitCode: undefined
    }
  ]

  for (const o of outcomes) {
    it(`${o.outcome._tag} (${o.reason ?? "no reason"})`, () => {
      expect(TaskOutcome.isSuccess(o.outcome)).toBe(o.success)
      expect(TaskOutcome.reason(o.outcome)).toBe(o.reason)
      expect(TaskOutcome.exitCode(o.outcome)).toBe(o.exitCode)
    })
  }

  it("completed is a Completed", () => {
    expect(TaskOutcome.completed._tag).toBe("Completed")
    expect(TaskOutcome.completed).toBeInstanceOf(TaskOutcome.Completed)
    expect(Equal.equals(TaskOutcome.completed, new TaskOutcome.Completed())).toBe(true)
  })

  it("Failed keeps its cause", () => {
    const failed = new TaskOutcome.Failed({ reason: "f", cause })
    expect(failed.cause).toBe(cause)
  })

  it("the Kind schema accepts every outcome tag and nothing else", () => {
    for (const o of outcomes) expect(Schema.is(TaskOutcome.Kind)(o.outcome._tag)).toBe(true)
    expect(Schema.is(TaskOutcome.Kind)("Succeeded")).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------
// TaskError through a supervisor: what reaches the outcome
// ---------------------------------------------------------------------------------------------

describe("TaskError through the supervisor", () => {
  it.effect("Fail: reason, exitCode and cause reach the Failed outcome (policy never)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const error = TaskError.fail("upstream 503", { exitCode: 75, cause: "http" })
      const handle = yield* sup.add(Task.once("f", Effect.fail(error)))
      const outcome = yield* handle.await
      expect(outcome._tag).toBe("Failed")
      expect(TaskOutcome.isSuccess(outcome)).toBe(false)
      expect(TaskOutcome.reason(outcome)).toBe("upstream 503")
      expect(TaskOutcome.exitCode(outcome)).toBe(75)
      const failed = outcome as TaskOutcome.Failed
      expect(failed.cause).toBeDefined()
      expect(Cause.findErrorOption(failed.cause!)).toEqual(Option.some(error))
    })
  )

  it.effect("Fatal is never restarted, even under always", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const error = TaskError.fatal("bad config", { exitCode: 78 })
      const handle = yield* sup.add(
        Task.make(
          "fatal",
          Effect.suspend(() => {
            runs += 1
            return Effect.fail(error)
          }),
          { restart: RestartPolicy.always(), backoff: Backoff.none }
        )
      )
      const fiber = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("1 minute")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("Fatal")
      expect(TaskOutcome.reason(outcome)).toBe("bad config")
      expect(TaskOutcome.exitCode(outcome)).toBe(78)
      expect(Cause.findErrorOption((outcome as TaskOutcome.Fatal).cause!)).toEqual(Option.some(error))
      expect(runs).toBe(1)
    })
  )

  it.effect("Canceled is never restarted and keeps its exitCode", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      let runs = 0
      const handle = yield* sup.add(
        Task.make(
          "canceled",
          Effect.suspend(() => {
            runs += 1
            return Effect.fail(TaskError.canceled("nothing to do", { exitCode: 0 }))
          }),
          { restart: RestartPolicy.always(), backoff: Backoff.none }
        )
      )
      const fiber = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("1 minute")
      const outcome = yield* Fiber.join(fiber)
      expect(outcome._tag).toBe("Canceled")
      expect(TaskOutcome.reason(outcome)).toBe("nothing to do")
      expect(TaskOutcome.exitCode(outcome)).toBe(0)
      expect(runs).toBe(1)
    })
  )

  it.effect("Fail and a self-reported Timeout are retried per policy", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      for (const error of [TaskError.fail("again"), TaskError.timeout("upstream slow", { exitCode: 124 })]) {
        let runs = 0
        const handle = yield* sup.add(
          Task.make(
            `retry-${error._tag}`,
            Effect.suspend(() => {
              runs += 1
              return Effect.fail(error)
            }),
            { maxRetries: 2, backoff: Backoff.constant("10 millis") }
          )
        )
        const fiber = yield* Effect.forkChild(handle.await)
        yield* TestTime.adjust("1 second")
        const outcome = yield* Fiber.join(fiber)
        expect(outcome._tag).toBe("Failed")
        expect(TaskOutcome.reason(outcome)).toContain(error.reason)
        expect(runs).toBe(3)
      }
    })
  )

  it.effect("isFatal turns a chosen error into Fatal", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const handle = yield* sup.add(
        Task.make("pred", Effect.fail(TaskError.fail("401 unauthorized", { exitCode: 77 })), {
          isFatal: (e) => e.reason.startsWith("401"),
          backoff: Backoff.none
        })
      )
      const outcome = yield* handle.await
      expect(outcome._tag).toBe("Fatal")
      expect(TaskOutcome.exitCode(outcome)).toBe(77)
    })
  )

  it.effect("a successful task is Completed (isSuccess, no reason, no exit code)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const outcome = yield* (yield* sup.add(Task.once("ok", Effect.void))).await
      expect(TaskOutcome.isSuccess(outcome)).toBe(true)
      expect(TaskOutcome.reason(outcome)).toBeUndefined()
      expect(TaskOutcome.exitCode(outcome)).toBeUndefined()
    })
  )
})
