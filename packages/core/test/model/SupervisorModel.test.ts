/**
 * Model-based property tests: random command sequences run against a real supervisor and against
 * the reference model in `model.ts` (see there for the rules and the open orders it accepts).
 *
 * A scenario draws the supervisor's settings (grace 0 or 200 ms, maxSlotQueue 0–2, maxConcurrent
 * none/1/2) and up to 30 commands: add a task (a name from a, b, c; a random restart policy,
 * backoff, timeout, retry limit, grace and a scripted behaviour per attempt), submit one to a slot
 * (queue / replace / drop-if-running), remove or cancel by name or by handle, advance the clock
 * (0, 1, 50, 100, 250 or 1000 ms), and at most one shutdown near the end (commands.ts). After every
 * command, and at every timer instant inside an advance, `list` (state, attempt, restarts,
 * lastFailure, nextAttemptAt, in id order), `slots`, every handle's outcome with its reason, every
 * `cancel`'s result and the shutdown's result (with the names it reports stuck) must equal the
 * model's. Then the runner shuts down, lets 1 s pass and checks that everything has ended and that
 * no fibervisor fiber is left.
 *
 * The runs use the virtual runtime of `virtual.ts` (TestClock semantics without its real-time
 * yields); the second test runs a few scenarios under TestClock itself to show that both agree.
 *
 * `FIBERVISOR_PROPERTY_RUNS` sets the number of runs (default 200), `FIBERVISOR_PROPERTY_SEED` the
 * seed (default 42). A failure prints the shrunk scenario cut after the failing step, ready to paste
 * into Regressions.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { TestTime } from "@fibervisor/vitest"
import { type Driver, Mismatch, runScenario, scenarioArb, showScenario } from "./commands.js"
import { observe, sampleRun, type Scenario } from "./model.js"
import { type TieOrder, VirtualRuntime } from "./virtual.js"

const runs = Number(process.env["FIBERVISOR_PROPERTY_RUNS"] ?? 200)
const seed = Number(process.env["FIBERVISOR_PROPERTY_SEED"] ?? 42)

/** Throws a failed run's error, with the scenario (cut after the failing step) to replay it. */
const rethrow = (exit: Exit.Exit<void, unknown>, scenario: Scenario, how: string): void => {
  if (Exit.isSuccess(exit)) return
  const error = Cause.squash(exit.cause)
  const message = error instanceof Error ? error.message : String(error)
  const replay = error instanceof Mismatch && error.replay !== undefined ? error.replay : scenario
  throw new Error(`${message}\nto replay (${how}):\n${showScenario(replay)}`)
}

const tieOrderArb = fc.constantFrom<TieOrder>("fifo", "lifo")

const runVirtual = async (scenario: Scenario, tieOrder: TieOrder): Promise<void> => {
  const runtime = new VirtualRuntime(tieOrder)
  const exit = await runtime.run(runScenario(scenario, runtime.driver))
  rethrow(exit, scenario, `virtual runtime, tie order ${tieOrder}`)
}

/**
 * TestClock needs several real event-loop turns per wake-up: scenarios with a task that restarts
 * every millisecond (`always` without interval, a 0 ms success) take seconds there, so the TestClock
 * runs leave them to the virtual runtime.
 */
const noHotLoop = (scenario: Scenario): boolean =>
  scenario.commands.every(
    (cmd) =>
      !(cmd.op === "add" || cmd.op === "submit") || cmd.spec.restart !== "always" || !cmd.spec.program.includes("ok:0")
  )

const testClock: Driver = { flush: TestTime.adjust(0), advance: (ms) => TestTime.adjust(ms) }

describe("SupervisorModel", () => {
  it(`${runs} random command sequences agree with the model (seed ${seed})`, { timeout: 600_000 }, () =>
    fc.assert(
      fc.asyncProperty(scenarioArb, tieOrderArb, (scenario, tieOrder) => runVirtual(scenario, tieOrder)),
      { numRuns: runs, seed }
    )
  )

  it("the virtual runtime agrees with TestClock: a few scenarios run under TestClock too", { timeout: 120_000 }, () =>
    fc.assert(
      fc.asyncProperty(scenarioArb.filter(noHotLoop), async (scenario) => {
        const exit = await Effect.runPromiseExit(
          runScenario(scenario, testClock).pipe(Effect.provide(TestClock.layer()))
        )
        rethrow(exit, scenario, "TestClock")
      }),
      { numRuns: 20, seed }
    )
  )

  // The CI run's scenarios (sampled as the property draws them, with its seed) reach every command,
  // setting and outcome: that is what the 200 runs check against the model.
  it("the CI run's scenarios reach every command, setting and outcome (per the model)", () => {
    const seen = new Set<string>()
    for (const [scenario] of fc.sample(fc.tuple(scenarioArb, tieOrderArb), { numRuns: 200, seed: 42 })) {
      seen.add(`grace ${scenario.grace}`)
      seen.add(`maxConcurrent ${scenario.maxConcurrent ?? "none"}`)
      for (const cmd of scenario.commands) {
        seen.add(cmd.op)
        if (cmd.op === "submit") seen.add(cmd.admission)
        if (cmd.op === "add" || cmd.op === "submit") {
          for (const step of cmd.spec.program) seen.add(step.split(":")[0]!)
          seen.add(cmd.spec.restart)
          seen.add(cmd.spec.backoff)
        }
      }
      // Where the runs end up, per the model (the property checks that the supervisor agrees).
      const end = observe(sampleRun(scenario, [...scenario.commands, { op: "shutdown" }, { op: "advance", ms: 1000 }]))
      for (const outcome of end.outcomes) {
        seen.add(
          outcome!
            .replace(/^(Rejected \w+).*/, "$1")
            .replace(/^(Failed: retry limit reached).*/, "$1")
            .replace(/^(Failed): (boom|attempt timed out).*/, "$1 ($2)")
            .replace(/^(ForceAborted: did not stop within (its|the shutdown) grace).*/, "$1")
        )
      }
      seen.add(end.shutdown === "ok" ? "shutdown ok" : "shutdown GraceExceeded")
    }
    expect([...seen].sort()).toEqual(
      [
        ...["add", "submit", "remove", "cancel", "advance", "shutdown", "queue", "replace", "drop-if-running"],
        ...["ok", "fail", "hang", "block", "never", "onFailure", "always", "always:100"],
        ...["const:0", "const:100", "const:250", "exp", "grace 0", "grace 200"],
        ...["maxConcurrent 1", "maxConcurrent 2", "maxConcurrent none"],
        ...["Completed", "Failed (boom)", "Failed (attempt timed out)", "Failed: retry limit reached"],
        ...["Canceled: stopped by remove", "Canceled: stopped by cancel", "Canceled: stopped by replace"],
        ...["Canceled: stopped by shutdown", "ForceAborted: did not stop within its grace"],
        ...["ForceAborted: did not stop within the shutdown grace", "Rejected AlreadyExists", "Rejected QueueFull"],
        ...["Rejected RemovedFromQueue", "Rejected ShuttingDown", "Rejected SlotBusy", "Rejected SupersededByReplace"],
        ...["shutdown ok", "shutdown GraceExceeded"]
      ].sort()
    )
  })
})
