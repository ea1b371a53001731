/**
 * What a supervised task writes to the log: every failed attempt (a warning by default, with the
 * path, the attempt, the reason and the next delay, or why it is not restarted; `logFailures`
 * chooses the level or turns it off), the `task`, `path` and `attempt` annotations on every line
 * written inside an attempt, and a shutdown warning that stays short however many tasks it abandons.
 * A captured logger checks the exact lines; every timing runs on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, References, Stream } from "effect"
import { Backoff, Supervisor, SupervisorError, SupervisorEvent, Task, TaskContext, TaskError } from "@fibervisor/core"
import { captureLogs, type Line } from "../helpers/offload.js"
import { script } from "../helpers/recorder.js"
import { flush, parked, TestTime } from "../helpers/tasks.js"

/** A captured logger that also records debug lines. */
const capture = () => {
  const logs = captureLogs()
  return { lines: logs.lines, layer: Layer.merge(logs.layer, Layer.succeed(References.MinimumLogLevel, "All")) }
}

/** `[level, message]` of each line. */
const brief = (lines: ReadonlyArray<Line>) => lines.map((line) => [line.level, line.message])

const refused = TaskError.fail("connection refused")

describe("AttemptLogs: every failed attempt is logged", () => {
  it.effect("a warning per failed attempt with path, attempt, reason and the next delay; then nothing", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs1" })
      const handle = yield* sup.add(
        Task.make("db", script(Effect.fail(refused), Effect.fail(refused), Effect.void), {
          backoff: Backoff.exponential({ first: "100 millis", jitter: "none" })
        })
      )
      yield* flush
      yield* TestTime.adjust("300 millis")
      expect((yield* handle.await)._tag).toBe("Completed")
      expect(brief(logs.lines)).toEqual([
        ["Warn", 'task "logs1/db" attempt 1 failed: connection refused; next attempt in 100 ms'],
        ["Warn", 'task "logs1/db" attempt 2 failed: connection refused; next attempt in 200 ms']
      ])
      expect(logs.lines.map((line) => line.annotations)).toEqual([
        { task: "db", path: "logs1/db", attempt: 1 },
        { task: "db", path: "logs1/db", attempt: 2 }
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a timed-out attempt and a defect are failed attempts too", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs2" })
      yield* sup.add(
        Task.make("slow", script(Effect.never, Effect.die("kaboom"), Effect.void), {
          timeout: "1 second",
          backoff: Backoff.constant("10 millis")
        })
      )
      yield* flush
      yield* TestTime.adjust("1 second")
      yield* TestTime.adjust("10 millis")
      yield* TestTime.adjust("10 millis")
      expect(brief(logs.lines)).toEqual([
        ["Warn", 'task "logs2/slow" attempt 1 failed: attempt timed out after 1000 ms; next attempt in 10 ms'],
        ["Warn", 'task "logs2/slow" attempt 2 failed: defect: kaboom; next attempt in 10 ms']
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("the last failure is the task's `ended Failed` warning, now annotated with its path and attempt", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs3" })
      const handle = yield* sup.add(
        Task.make("db", Effect.fail(refused), { backoff: Backoff.constant("1 second"), maxRetries: 1 })
      )
      yield* flush
      yield* TestTime.adjust("1 second")
      expect((yield* handle.await)._tag).toBe("Failed")
      expect(brief(logs.lines)).toEqual([
        ["Warn", 'task "logs3/db" attempt 1 failed: connection refused; next attempt in 1000 ms'],
        ["Warn", 'task "db" ended Failed: retry limit reached after 1 of 1 retries: connection refused']
      ])
      expect(logs.lines.map((line) => line.annotations)).toEqual([
        { task: "db", path: "logs3/db", attempt: 1 },
        { fibervisor: "task", task: "db", taskId: handle.id, path: "logs3/db", attempt: 2 }
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a failure that is not restarted says why: the task's one warning when it gives up", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs4", intensity: { maxRestarts: 0, within: "1 second" } })
      const handle = yield* sup.add(Task.make("job", Effect.fail(refused)))
      expect((yield* handle.await)._tag).toBe("Failed")
      // The supervisor's own warning (it failed) is another line, annotated `fibervisor: "supervisor"`.
      expect(brief(logs.lines.filter((line) => line.annotations.fibervisor !== "supervisor"))).toEqual([
        [
          "Warn",
          'task "job" ended Failed: connection refused (not restarted: the restart intensity of its supervisor (0 in 1000 ms) was exceeded)'
        ]
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("an attempt stopped by a remove while it fails is canceled, not failed: no failure line", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs4b" })
      const started = yield* Deferred.make<void>()
      const finish = yield* Deferred.make<void>()
      const handle = yield* sup.add(
        Task.make(
          "job",
          Effect.uninterruptible(
            Effect.andThen(
              Deferred.succeed(started, undefined),
              Effect.andThen(Deferred.await(finish), Effect.fail(refused))
            )
          )
        )
      )
      yield* Deferred.await(started)
      const removal = yield* Effect.forkChild(sup.remove("job"))
      yield* flush
      yield* Deferred.succeed(finish, undefined)
      yield* Fiber.join(removal)
      expect((yield* handle.await)._tag).toBe("Canceled")
      expect(logs.lines).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a failure that restarts its group says so", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "logs5", strategy: "one-for-all" })
      const started = yield* Deferred.make<void>()
      yield* sup.add(Task.make("steady", parked(started)))
      yield* Deferred.await(started)
      yield* sup.add(
        Task.make("crashy", script(Effect.fail(refused), Effect.never), { backoff: Backoff.constant("50 millis") })
      )
      yield* flush
      yield* TestTime.adjust("50 millis")
      expect(brief(logs.lines)).toEqual([
        [
          "Warn",
          'task "logs5/crashy" attempt 1 failed: connection refused; its group restarts, next attempt after 50 ms'
        ]
      ])
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("AttemptLogs: logFailures", () => {
  const failingTwice = (options?: Task.TaskOptions) =>
    Task.make("db", script(Effect.fail(refused), Effect.fail(refused), Effect.void), {
      backoff: Backoff.constant("10 millis"),
      ...options
    })

  for (const [value, level] of [
    ["warning", "Warn"],
    ["info", "Info"],
    ["debug", "Debug"]
  ] as const) {
    it.effect(`logFailures: "${value}" writes each failed attempt at ${level}`, () => {
      const logs = capture()
      return Effect.gen(function* () {
        const sup = yield* Supervisor.make({ name: `level-${value}` })
        yield* sup.add(failingTwice({ logFailures: value }))
        yield* flush
        yield* TestTime.adjust("20 millis")
        expect(logs.lines.map((line) => line.level)).toEqual([level, level])
      }).pipe(Effect.provide(logs.layer))
    })
  }

  it.effect('logFailures: "none" writes no failure line, not even the one when the task gives up', () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "silent" })
      yield* sup.add(failingTwice({ logFailures: "none" }))
      const handle = yield* sup.add(Task.make("gives-up", Effect.fail(refused), { maxRetries: 0, logFailures: "none" }))
      const fatal = yield* sup.add(
        Task.make("fatal", Effect.fail(TaskError.fatal("no config")), { logFailures: "none" })
      )
      yield* flush
      yield* TestTime.adjust("20 millis")
      expect((yield* handle.await)._tag).toBe("Failed")
      expect((yield* fatal.await)._tag).toBe("Fatal")
      expect(logs.lines).toEqual([])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("with info or debug, the line of a task that gives up stays a warning", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "gives-up" })
      const handle = yield* sup.add(
        Task.make("db", Effect.fail(refused), { backoff: Backoff.none, maxRetries: 1, logFailures: "debug" })
      )
      expect((yield* handle.await)._tag).toBe("Failed")
      expect(brief(logs.lines)).toEqual([
        ["Debug", 'task "gives-up/db" attempt 1 failed: connection refused; next attempt in 0 ms'],
        ["Warn", 'task "db" ended Failed: retry limit reached after 1 of 1 retries: connection refused']
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a supervisor's defaults set it for its tasks and its nested supervisors; a task's own wins", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "inherit", defaults: { logFailures: "info" } })
      yield* sup.add(failingTwice())
      yield* sup.add(
        Supervisor.task("group", [
          Task.make("child", script(Effect.fail(refused), Effect.void), { backoff: Backoff.constant("10 millis") }),
          Task.make("loud", script(Effect.fail(refused), Effect.void), {
            backoff: Backoff.constant("10 millis"),
            logFailures: "warning"
          })
        ])
      )
      yield* flush
      yield* TestTime.adjust("20 millis")
      const seen = logs.lines.map((line) => `${line.level} ${String(line.annotations.path)}`).sort()
      expect(seen).toEqual([
        "Info inherit/db",
        "Info inherit/db",
        "Info inherit/group/child",
        "Warn inherit/group/loud"
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("an unknown value is refused with the field and the reason, on a task and in defaults", () =>
    Effect.gen(function* () {
      const spec = yield* Effect.flip(Task.validate(Task.make("t", Effect.void, { logFailures: "verbose" as never })))
      expect(spec).toBeInstanceOf(SupervisorError.InvalidTaskSpec)
      expect(spec.field).toBe("logFailures")
      expect(spec.reason).toBe('must be one of "warning", "info", "debug", "none", got "verbose"')
      const options = yield* Effect.flip(Effect.scoped(Supervisor.make({ defaults: { logFailures: "WARN" as never } })))
      expect(options).toBeInstanceOf(SupervisorError.InvalidSupervisorOptions)
      expect(options.message).toBe(
        'invalid supervisor options: defaults.logFailures must be one of "warning", "info", "debug", "none", got "WARN"'
      )
      const none = yield* Effect.flip(Task.validate(Task.make("t", Effect.void, { logFailures: null as never })))
      expect(none.reason).toBe('must be one of "warning", "info", "debug", "none", got null')
    })
  )
})

describe("AttemptLogs: the annotations of a line written inside an attempt", () => {
  it.effect(
    "task, path and attempt on the attempt's lines, its finalizers' and its timeout's; the caller's kept",
    () => {
      const logs = capture()
      return Effect.gen(function* () {
        const sup = yield* Supervisor.make({ name: "ann" })
        const body = Effect.gen(function* () {
          const { attempt } = yield* TaskContext.TaskContext
          yield* Effect.addFinalizer(() => Effect.logInfo(`closing ${attempt}`))
          yield* Effect.logInfo(`hello ${attempt}`)
          if (attempt === 1) return yield* Effect.fail(refused)
        })
        yield* sup
          .add(
            Task.make("worker", body, {
              timeout: "1 minute",
              backoff: Backoff.constant("10 millis"),
              logFailures: "none"
            })
          )
          .pipe(Effect.annotateLogs({ requestId: "r-1" }))
        yield* sup.add(Supervisor.task("group", [Task.once("child", Effect.logInfo("from the child"))]))
        yield* flush
        yield* TestTime.adjust("10 millis")
        const seen = logs.lines.map((line) => [line.message, line.annotations])
        expect(seen).toEqual([
          ["hello 1", { requestId: "r-1", task: "worker", path: "ann/worker", attempt: 1 }],
          ["closing 1", { requestId: "r-1", task: "worker", path: "ann/worker", attempt: 1 }],
          ["from the child", { task: "child", path: "ann/group/child", attempt: 1 }],
          ["hello 2", { requestId: "r-1", task: "worker", path: "ann/worker", attempt: 2 }],
          ["closing 2", { requestId: "r-1", task: "worker", path: "ann/worker", attempt: 2 }]
        ])
      }).pipe(Effect.provide(logs.layer))
    }
  )

  it.effect("a line the task writes after a restart of its whole group carries the new attempt", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "ann2", strategy: "one-for-all" })
      const say = Effect.flatMap(TaskContext.TaskContext, (ctx) =>
        Effect.andThen(Effect.logInfo(`up ${ctx.attempt}`), Effect.never)
      )
      yield* sup.add(Task.make("steady", say))
      yield* sup.add(
        Task.make("crashy", script(Effect.fail(refused), Effect.never), {
          backoff: Backoff.constant("10 millis"),
          logFailures: "none"
        })
      )
      yield* flush
      yield* TestTime.adjust("10 millis")
      expect(logs.lines.map((line) => [line.message, line.annotations.path, line.annotations.attempt])).toEqual([
        ["up 1", "ann2/steady", 1],
        ["up 2", "ann2/steady", 2]
      ])
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("AttemptLogs: the shutdown warning stays short", () => {
  it.effect("it names the first 10 abandoned tasks and counts the rest; the error and the event list all", () => {
    const logs = capture()
    return Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      // Runs last, also when an expectation fails: the abandoned fibers may exit.
      yield* Effect.addFinalizer(() => Deferred.succeed(release, undefined))
      const sup = yield* Supervisor.make({ name: "many", grace: "1 second" })
      const stream = yield* sup.subscribe
      const collector = yield* Effect.forkChild(
        Stream.runCollect(Stream.takeUntil(stream, SupervisorEvent.is("GraceExceeded")))
      )
      const names = Array.from({ length: 25 }, (_, i) => `t${String(i).padStart(2, "0")}`)
      yield* sup.addAll(names.map((name) => Task.once(name, Effect.uninterruptible(Deferred.await(release)))))
      yield* flush
      const shutdown = yield* Effect.forkChild(Effect.exit(sup.shutdown))
      yield* TestTime.adjust("1 second")
      const exit = yield* Fiber.join(shutdown)
      const paths = names.map((name) => `many/${name}`)
      const error = yield* Effect.flip(exit)
      expect(error.paths).toEqual(paths)
      const event = (yield* Fiber.join(collector)).filter(SupervisorEvent.is("GraceExceeded"))
      expect(event.map((e) => e.paths)).toEqual([paths])
      const warnings = logs.lines.filter((line) => line.level === "Warn")
      expect(warnings.map((line) => line.message)).toEqual([
        `shutdown exceeded its grace of 1s; abandoned: ${paths.slice(0, 10).join(", ")} … and 15 more`
      ])
      expect(warnings[0]!.annotations).toEqual({ fibervisor: "shutdown", path: "many" })
      yield* Deferred.succeed(release, undefined)
      yield* flush
    }).pipe(Effect.provide(logs.layer))
  })

  it("100,000 abandoned paths make a line of a few hundred characters; 10 or fewer are all named", () => {
    const paths = Array.from({ length: 100_000 }, (_, i) => `root/pool/worker-${i}`)
    const error = new SupervisorError.GraceExceeded({ grace: Duration.seconds(10), stuck: ["pool"], paths })
    expect(error.message).toBe(
      `shutdown exceeded its grace of 10s; abandoned: ${paths.slice(0, 10).join(", ")} … and 99,990 more`
    )
    expect(error.message.length).toBeLessThan(300)
    expect(error.paths).toHaveLength(100_000)
    const ten = new SupervisorError.GraceExceeded({ grace: Duration.seconds(1), stuck: [], paths: paths.slice(0, 10) })
    expect(ten.message).toBe(`shutdown exceeded its grace of 1s; abandoned: ${paths.slice(0, 10).join(", ")}`)
    const eleven = new SupervisorError.GraceExceeded({
      grace: Duration.seconds(1),
      stuck: [],
      paths: paths.slice(0, 11)
    })
    expect(eleven.message.endsWith("worker-9 … and 1 more")).toBe(true)
  })
})
