/**
 * The commands of the property tests: how each one runs against a real supervisor, how random
 * scenarios are generated, and the runner that compares the supervisor with the model after
 * every step.
 */
import { Duration, Effect, Exit, Fiber, Option, References, Result, Scope } from "effect"
import * as fc from "fast-check"
import { Backoff, RestartPolicy, Supervisor, Task, TaskContext, TaskError, type TaskOutcome } from "@fibervisor/core"
import { live } from "../../src/internal/compat.js"
import {
  type BackoffSpec,
  type Command,
  EXP,
  handleIndex,
  initial,
  type ModelState,
  nextInstant,
  type Observation,
  observe,
  quiet,
  type Restart,
  type Scenario,
  type Spec,
  type Step,
  step
} from "./model.js"

/** How the runner lets fibers run and moves time: TestClock (`it.effect`) or the virtual runtime. */
export interface Driver {
  /** Resumes once every runnable fiber has run; the clock does not move. */
  readonly flush: Effect.Effect<void>
  readonly advance: (ms: number) => Effect.Effect<void>
}

// ---- building tasks ----

const msOf = (s: string): number => Number(s.split(":")[1])

const stepEffect = (step: Step): Effect.Effect<void, TaskError.Fail> => {
  if (step === "hang") return Effect.never
  const ms = msOf(step)
  const wait = ms === 0 ? Effect.void : Effect.sleep(Duration.millis(ms))
  if (step.startsWith("ok:")) return wait
  if (step.startsWith("fail:")) return Effect.andThen(wait, Effect.fail(TaskError.fail("boom")))
  return Effect.andThen(Effect.uninterruptible(wait), Effect.never)
}

const restartOf = (restart: Restart): RestartPolicy.RestartPolicy => {
  if (restart === "never") return RestartPolicy.never
  if (restart === "onFailure") return RestartPolicy.onFailure
  if (restart === "always") return RestartPolicy.always()
  return RestartPolicy.always({ interval: Duration.millis(msOf(restart)) })
}

const backoffOf = (backoff: BackoffSpec): Backoff.Backoff =>
  backoff === "exp"
    ? Backoff.exponential({ first: Duration.millis(EXP.first), factor: EXP.factor, max: Duration.millis(EXP.max) })
    : Backoff.constant(Duration.millis(msOf(backoff)))

/** The real task for a spec: attempt `n` runs `program[min(n, length) - 1]`. */
export const taskOf = (name: string, spec: Spec): Task.Task<TaskError.Fail> =>
  Task.make(
    name,
    Effect.flatMap(TaskContext.TaskContext, (ctx) =>
      stepEffect(spec.program[Math.min(ctx.attempt, spec.program.length) - 1]!)
    ),
    {
      restart: restartOf(spec.restart),
      backoff: backoffOf(spec.backoff),
      ...(spec.timeout === undefined ? {} : { timeout: Duration.millis(spec.timeout) }),
      ...(spec.maxRetries === undefined ? {} : { maxRetries: spec.maxRetries }),
      ...(spec.grace === undefined ? {} : { grace: Duration.millis(spec.grace) })
    }
  )

export const renderOutcome = (outcome: TaskOutcome.TaskOutcome): string => {
  switch (outcome._tag) {
    case "Completed":
      return "Completed"
    case "Rejected":
      return `Rejected ${outcome.kind}: ${outcome.reason}`
    default:
      return `${outcome._tag}: ${outcome.reason}`
  }
}

// ---- printing ----

/** A value as it is written in a test: `{ op: "add", name: "a", spec: { ... } }`. */
const literal = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(literal).join(", ")}]`
  if (typeof value === "object" && value !== null) {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${literal(v)}`)
      .join(", ")} }`
  }
  return JSON.stringify(value)
}

/** A command as it is written in a regression test. */
export const show = (cmd: Command): string => literal(cmd)

export const showScenario = (scenario: Scenario): string =>
  [
    `{ grace: ${scenario.grace}, maxSlotQueue: ${scenario.maxSlotQueue}${
      scenario.maxConcurrent === undefined ? "" : `, maxConcurrent: ${scenario.maxConcurrent}`
    }, commands: [`,
    ...scenario.commands.map((cmd) => `  ${show(cmd)},`),
    "] }"
  ].join("\n")

// ---- the runner ----

export class Mismatch extends Error {
  /** The scenario cut after the step that failed (later commands cannot change the verdict). */
  constructor(
    message: string,
    readonly replay?: Scenario
  ) {
    super(message)
  }
}

const diff = (expected: Observation, actual: Observation): Array<string> =>
  (Object.keys(expected) as Array<keyof Observation>)
    .filter((field) => JSON.stringify(expected[field]) !== JSON.stringify(actual[field]))
    .map(
      (field) =>
        `  ${field}:\n    model:      ${JSON.stringify(expected[field])}\n    supervisor: ${JSON.stringify(actual[field])}`
    )

/**
 * Runs `scenario` against a fresh supervisor and the model, comparing them after every command,
 * then shuts down (if the scenario did not), lets 1 s pass and checks that everything ended and no
 * fibervisor fiber is left. Fails with a `Mismatch` that names the step and the differing fields.
 */
export const runScenario = (scenario: Scenario, driver: Driver): Effect.Effect<void, Mismatch> =>
  Effect.gen(function* () {
    const fibersBefore = live.fibers
    const scope = yield* Scope.make()
    const sup = yield* Scope.provide(
      Supervisor.make({
        grace: Duration.millis(scenario.grace),
        maxSlotQueue: scenario.maxSlotQueue,
        ...(scenario.maxConcurrent === undefined ? {} : { maxConcurrent: scenario.maxConcurrent })
      }),
      scope
    )
    const handles: Array<Supervisor.TaskHandle> = []
    const cancels: Array<Fiber.Fiber<boolean>> = []
    let shutdown: Fiber.Fiber<Result.Result<void, { readonly stuck: ReadonlyArray<string> }>> | undefined
    let models: Array<ModelState> = [initial(scenario)]

    const exec = (cmd: Command): Effect.Effect<number | string | boolean> =>
      Effect.gen(function* () {
        switch (cmd.op) {
          case "advance":
            yield* driver.advance(cmd.ms)
            return "advanced"
          case "add":
          case "submit": {
            const task = taskOf(cmd.name, cmd.spec)
            const added = yield* Effect.result(
              cmd.op === "add"
                ? sup.add(task)
                : sup.submit(task, { admission: cmd.admission, ...(cmd.slot === undefined ? {} : { slot: cmd.slot }) })
            )
            if (Result.isFailure(added)) return added.failure._tag
            return handles.push(added.success) - 1
          }
          case "remove":
          case "cancel": {
            const index = typeof cmd.ref === "number" ? handleIndex(cmd.ref, handles.length) : undefined
            if (typeof cmd.ref === "number" && index === undefined) return "skipped"
            const ref = index === undefined ? (cmd.ref as string) : handles[index]!.id
            if (cmd.op === "remove") return yield* sup.remove(ref)
            cancels.push(yield* Effect.forkChild(Effect.orDie(sup.cancel(ref))))
            return "forked"
          }
          case "shutdown":
            if (shutdown !== undefined) return "skipped"
            shutdown = yield* Effect.forkChild(Effect.result(sup.shutdown))
            return "forked"
        }
      })

    const observeReal = (result: number | string | boolean): Effect.Effect<Observation> =>
      Effect.gen(function* () {
        const index = new Map(handles.map((handle, i) => [handle.id as number, i]))
        const which = (id: number) => index.get(id) ?? -1
        const list = (yield* sup.list).map(
          (info) =>
            [
              which(info.id),
              info.name,
              info.state,
              info.attempt,
              info.restarts,
              Option.getOrNull(info.lastFailure),
              Option.getOrNull(info.nextAttemptAt)
            ] as const
        )
        const slots = [...(yield* sup.slots)]
          .sort((a, b) => (a.slot < b.slot ? -1 : a.slot > b.slot ? 1 : 0))
          .map(
            (slot) =>
              [
                slot.slot,
                slot.status,
                Option.getOrNull(Option.map(slot.owner, (o) => which(o.id))),
                slot.queued
              ] as const
          )
        const outcomes: Array<string | null> = []
        for (const handle of handles) {
          outcomes.push(Option.getOrNull(Option.map(yield* handle.poll, renderOutcome)))
        }
        const polled = (fiber: Fiber.Fiber<boolean>): boolean | "died" | null => {
          const exit = fiber.pollUnsafe()
          return exit === undefined ? null : Exit.isSuccess(exit) ? exit.value : "died"
        }
        let shut: Observation["shutdown"] = null
        if (shutdown !== undefined) {
          const exit = shutdown.pollUnsafe()
          shut =
            exit === undefined
              ? "pending"
              : Exit.isFailure(exit)
                ? "died"
                : Result.isSuccess(exit.value)
                  ? "ok"
                  : [...exit.value.failure.stuck].sort()
        }
        const observation: Observation = { result, list, slots, outcomes, cancels: cancels.map(polled), shutdown: shut }
        return observation
      })

    const trace: Array<string> = []
    /** Runs `cmd` (or one stretch of an advance) on both sides and compares them. */
    const compare = (cmd: Command, label: string) =>
      Effect.gen(function* () {
        const result = yield* exec(cmd)
        yield* driver.flush
        models = step(models, cmd)
        const actual = yield* observeReal(result)
        const matching = models.filter((m) => JSON.stringify(observe(m)) === JSON.stringify(actual))
        if (matching.length > 0) {
          models = matching
          return
        }
        const expected = observe(models[0]!)
        const replay = { ...scenario, commands: scenario.commands.slice(0, trace.length) }
        return yield* Effect.fail(
          new Mismatch(
            [
              `the supervisor differs from the model after step ${trace.length} (${label}), at ${models[0]!.now} ms`,
              ...(models.length > 1 ? [`(the model allowed ${models.length} states; the first one is shown)`] : []),
              ...diff(expected, actual),
              "steps:",
              ...trace.map((line, i) => `  ${i + 1}. ${line}`)
            ].join("\n"),
            replay
          )
        )
      })

    /**
     * Runs one command. An advance goes from one model timer instant to the next and compares at
     * each: the model's open choices (ties, permits) are narrowed down instant by instant instead
     * of piling up over a long advance, and every intermediate state is checked too.
     */
    const check = (cmd: Command) =>
      Effect.gen(function* () {
        trace.push(show(cmd))
        if (cmd.op !== "advance") return yield* compare(cmd, show(cmd))
        const target = models[0]!.now + cmd.ms
        while (true) {
          const now = models[0]!.now
          const next = nextInstant(models)
          const to = next === undefined || next > target ? target : next
          yield* compare({ op: "advance", ms: to - now }, `${show(cmd)}, the stretch to ${to} ms`)
          if (to === target) return
        }
      })

    const steps = Effect.gen(function* () {
      for (const cmd of scenario.commands) yield* check(cmd)
      // Teardown: shut down, give every fiber time to end, and check that everything has ended.
      yield* check({ op: "shutdown" })
      yield* check({ op: "advance", ms: 1000 })
      if (!models.every(quiet)) {
        return yield* Effect.fail(new Mismatch(`the model has not ended after the teardown:\n${trace.join("\n")}`))
      }
    })
    const outcome = yield* Effect.result(steps)
    // Close the supervisor's scope while the clock moves on, so that a failed run stops its tasks too.
    const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
    yield* driver.advance(5000)
    const closed = closing.pollUnsafe() !== undefined
    if (Result.isFailure(outcome)) {
      const note = closed ? "" : "\n(and closing the supervisor's scope did not finish within 5 s)"
      return yield* Effect.fail(new Mismatch(`${outcome.failure.message}${note}`, outcome.failure.replay))
    }
    if (!closed) return yield* Effect.fail(new Mismatch("closing the supervisor's scope did not finish within 5 s"))
    if (live.fibers !== fibersBefore) {
      return yield* Effect.fail(
        new Mismatch(`${live.fibers - fibersBefore} fibervisor fibers are still alive after the teardown`)
      )
    }
  }).pipe(Effect.provideService(References.MinimumLogLevel, "None"))

// ---- generation ----

const names = ["a", "b", "c"] as const
const slotNames = ["x", "y"] as const

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom(0, 40, 150).map((ms): Step => `ok:${ms}`),
  fc.constantFrom(0, 40, 150).map((ms): Step => `fail:${ms}`),
  fc.constant<Step>("hang"),
  fc.constantFrom(60, 450).map((ms): Step => `block:${ms}`)
)

export const specArb: fc.Arbitrary<Spec> = fc
  .record({
    restart: fc.constantFrom<Restart>("never", "onFailure", "always", "always:100"),
    backoff: fc.constantFrom<BackoffSpec>("const:0", "const:100", "const:250", "exp"),
    timeout: fc.option(fc.constantFrom(100, 300), { nil: undefined }),
    maxRetries: fc.option(fc.constantFrom(0, 2), { nil: undefined }),
    grace: fc.option(fc.constantFrom(0, 100), { nil: undefined, freq: 3 }),
    program: fc.array(stepArb, { minLength: 1, maxLength: 3 })
  })
  .map(({ backoff, grace, maxRetries, program, restart, timeout }): Spec => {
    // A zero backoff with unlimited retries is a documented tight loop at one instant: bound it.
    const retries = backoff === "const:0" && maxRetries === undefined ? 2 : maxRetries
    return {
      restart,
      backoff,
      ...(timeout === undefined ? {} : { timeout }),
      ...(retries === undefined ? {} : { maxRetries: retries }),
      ...(grace === undefined ? {} : { grace }),
      program
    }
  })

const refArb: fc.Arbitrary<string | number> = fc.oneof(
  { arbitrary: fc.constantFrom<string>(...names), weight: 2 },
  { arbitrary: fc.integer({ min: -3, max: -1 }), weight: 2 },
  { arbitrary: fc.nat(3), weight: 1 }
)

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({ op: fc.constant("add" as const), name: fc.constantFrom(...names), spec: specArb }),
    weight: 3
  },
  {
    arbitrary: fc
      .record({
        op: fc.constant("submit" as const),
        name: fc.constantFrom(...names),
        slot: fc.option(fc.constantFrom(...slotNames), { nil: undefined, freq: 4 }),
        admission: fc.constantFrom("queue" as const, "replace" as const, "drop-if-running" as const),
        spec: specArb
      })
      .map(({ admission, name, op, slot, spec }): Command =>
        slot === undefined ? { op, name, admission, spec } : { op, name, slot, admission, spec }
      ),
    weight: 3
  },
  { arbitrary: fc.record({ op: fc.constant("remove" as const), ref: refArb }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("cancel" as const), ref: refArb }), weight: 1 },
  {
    arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.constantFrom(0, 1, 50, 100, 250, 1000) }),
    weight: 4
  }
)

/** A scenario: commands, and at most one shutdown among the last three (or none before the teardown). */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    grace: fc.oneof({ arbitrary: fc.constant(200), weight: 4 }, { arbitrary: fc.constant(0), weight: 1 }),
    maxSlotQueue: fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.constantFrom(1, 2), weight: 4 }),
    maxConcurrent: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
    commands: fc.array(commandArb, { minLength: 3, maxLength: 30, size: "medium" }),
    shutdownAt: fc.option(fc.nat(2), { nil: undefined })
  })
  .map(({ commands, grace, maxConcurrent, maxSlotQueue, shutdownAt }): Scenario => {
    const config = { grace, maxSlotQueue, ...(maxConcurrent === undefined ? {} : { maxConcurrent }) }
    if (shutdownAt === undefined) return { ...config, commands }
    const at = Math.max(0, commands.length - shutdownAt)
    return { ...config, commands: [...commands.slice(0, at), { op: "shutdown" }, ...commands.slice(at)] }
  })
