/**
 * `NodeSupervisor.runMain` in real processes: each scenario runs a fixture program
 * (test/fixtures/*.ts) as a child process, waits for the line it prints once its tasks have started,
 * sends real signals, and checks the exit code, the time from the signal to the exit, and the output.
 *
 * Every child is started in `beforeAll` (a few at a time: starting one costs about 2 s of CPU), so
 * the scenarios' waits overlap; each test then awaits its own child. With `RUNMAIN_TIMINGS=1` set, the
 * exit codes and timings of every run are printed at the end.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Semaphore } from "effect"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

/** A step of a scenario: send `signal` once the child has printed the line `after` on stdout. */
interface Step {
  readonly after: string
  readonly signal: NodeJS.Signals
}

interface Scenario {
  /** A file of test/fixtures, without `.ts`. */
  readonly fixture: string
  readonly args: ReadonlyArray<string>
  /** Signals, in order (each sent once its line has appeared). */
  readonly steps: ReadonlyArray<Step>
  /** Without signals: the line (its start) from which the time to the exit is measured. */
  readonly mark?: string
}

interface Run {
  /** The exit code (`null` when the child was killed by a signal). */
  readonly code: number | null
  /** The signal that killed the child, if one did (runMain always exits by itself). */
  readonly killedBy: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Milliseconds from the first signal (or, without signals, the `mark` line) to the exit. */
  readonly elapsed: number
  /** Milliseconds from the last signal to the exit. */
  readonly afterLast: number
  /** Milliseconds from the spawn to the exit. */
  readonly total: number
}

const lines = (text: string): ReadonlyArray<string> => text.split("\n")

/**
 * Runs a scenario. `started` completes once the child no longer needs the CPU for its start: at its
 * first signal, its mark, or its exit. Interrupting the run kills the child.
 */
const drive = (scenario: Scenario, started: Deferred.Deferred<void>): Effect.Effect<Run, Error> =>
  Effect.callback<Run, Error>((resume) => {
    const spawnedAt = performance.now()
    const child = spawn(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", `test/fixtures/${scenario.fixture}.ts`, ...scenario.args],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    const sentAt: Array<number> = []
    let markedAt: number | undefined
    let exit: { code: number | null; killedBy: NodeJS.Signals | null; at: number } | undefined
    const release = () => Deferred.doneUnsafe(started, Exit.void)
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk
      const seen = lines(stdout)
      // Signals are sent from the data handler itself, so the measured time starts right at the kill.
      while (sentAt.length < scenario.steps.length && seen.includes(scenario.steps[sentAt.length].after)) {
        child.kill(scenario.steps[sentAt.length].signal)
        sentAt.push(performance.now())
        release()
      }
      if (
        markedAt === undefined &&
        scenario.mark !== undefined &&
        seen.some((line) => line.startsWith(scenario.mark!))
      ) {
        markedAt = performance.now()
        release()
      }
    })
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("exit", (code, killedBy) => {
      exit = { code, killedBy, at: performance.now() }
      release()
    })
    child.on("error", (error) => {
      release()
      resume(Effect.fail(error))
    })
    child.on("close", () => {
      if (exit === undefined) return
      const from = sentAt[0] ?? markedAt ?? spawnedAt
      resume(
        Effect.succeed({
          code: exit.code,
          killedBy: exit.killedBy,
          stdout,
          stderr,
          elapsed: Math.round(exit.at - from),
          afterLast: Math.round(exit.at - (sentAt.at(-1) ?? from)),
          total: Math.round(exit.at - spawnedAt)
        })
      )
    })
    return Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  }).pipe(
    Effect.timeoutOrElse({
      duration: "25 seconds",
      orElse: () => Effect.fail(new Error(`${scenario.fixture} ${scenario.args.join(" ")} did not exit within 25 s`))
    })
  )

/** At most this many children starting at once (CI has 2 cores). */
const startup = Semaphore.makeUnsafe(3)

const launch = (scenario: Scenario): Effect.Effect<Run, Error> =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void>()
    const run = yield* startup.withPermits(1)(
      Effect.gen(function* () {
        const fiber = yield* Effect.forkChild(drive(scenario, started))
        yield* Deferred.await(started)
        return fiber
      })
    )
    return yield* Fiber.join(run)
  })

const onReady = (signal: NodeJS.Signals): ReadonlyArray<Step> => [{ after: "ready", signal }]

/** The scenarios, longest waits first so that they overlap with the other children's start. */
const scenarios = {
  deadline: { fixture: "stuck", args: ["deadline"], steps: onReady("SIGTERM") },
  finalizer: { fixture: "stuck", args: ["finalizer"], steps: onReady("SIGTERM") },
  grace: { fixture: "stuck", args: ["grace"], steps: onReady("SIGTERM") },
  secondSigint: {
    fixture: "slowShutdown",
    args: ["second-signal"],
    steps: [
      { after: "ready", signal: "SIGINT" },
      { after: "stopping", signal: "SIGINT" }
    ]
  },
  secondSigterm: {
    fixture: "slowShutdown",
    args: ["second-signal"],
    steps: [
      { after: "ready", signal: "SIGTERM" },
      { after: "stopping", signal: "SIGTERM" }
    ]
  },
  sigterm: { fixture: "graceful", args: ["30s"], steps: onReady("SIGTERM") },
  sigint: { fixture: "graceful", args: ["default"], steps: onReady("SIGINT") },
  hugeDeadline: { fixture: "slowShutdown", args: ["long-deadline"], steps: onReady("SIGTERM") },
  fails: { fixture: "ends", args: ["fail"], steps: [], mark: "done:" },
  succeeds: { fixture: "ends", args: ["succeed"], steps: [], mark: "done:" },
  invalidExitDeadline: { fixture: "invalidOptions", args: ["exitDeadline"], steps: [], mark: "calling runMain" },
  invalidGrace: { fixture: "invalidOptions", args: ["grace"], steps: [], mark: "calling runMain" }
} satisfies Record<string, Scenario>

type Name = keyof typeof scenarios

const runs = new Map<Name, Fiber.Fiber<Run, Error>>()

beforeAll(() => {
  // The fixtures run on this test's Node (process.execPath): Effect 4 and @effect/platform-node need
  // Node 22.19+, which `pnpm exec vitest` provides (the tree's node_modules/.bin/node).
  expect(Number(process.versions.node.split(".")[0]), `Node ${process.version}`).toBeGreaterThanOrEqual(22)
  for (const [name, scenario] of Object.entries(scenarios) as Array<[Name, Scenario]>) {
    runs.set(name, Effect.runFork(launch(scenario)))
  }
})

afterAll(async () => {
  const all = Array.from(runs.values())
  if (process.env.RUNMAIN_TIMINGS !== undefined) {
    const exits = await Promise.all(all.map((fiber) => Effect.runPromise(Fiber.await(fiber))))
    const rows = Array.from(runs.keys()).map((name, i) => {
      const exit = exits[i]
      return Exit.isSuccess(exit)
        ? {
            name,
            code: exit.value.code,
            elapsed: exit.value.elapsed,
            afterLast: exit.value.afterLast,
            total: exit.value.total
          }
        : { name, error: String(exit.cause) }
    })
    console.log(JSON.stringify(rows, null, 1))
  }
  await Effect.runPromise(Fiber.interruptAll(all))
})

/** A run's output, for failure messages. */
const show = (run: Run): string =>
  `exit code ${run.code} (killed by ${run.killedBy}), ${run.elapsed} ms after the first signal\n` +
  `--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`

/** The run of a scenario (started in `beforeAll`). */
const result = (name: Name): Effect.Effect<Run, Error> => Fiber.join(runs.get(name)!)

describe("NodeSupervisor.runMain: the first signal shuts down gracefully", () => {
  // exitDeadline 30 s: the process exits as soon as the shutdown is done, the deadline timer does not
  // keep it alive.
  it.live(
    "SIGTERM: the tasks' finalizers run, then the main scope's; exit 0 right away (grace 10 s, deadline 30 s)",
    () =>
      Effect.gen(function* () {
        const run = yield* result("sigterm")
        expect(run.killedBy, show(run)).toBeNull()
        expect(run.code, show(run)).toBe(0)
        expect(run.elapsed, show(run)).toBeLessThan(2_000)
        expect(lines(run.stdout), show(run)).toEqual(
          expect.arrayContaining(["finalizer a", "finalizer b", "main finalizer"])
        )
        expect(run.stdout.indexOf("main finalizer")).toBeGreaterThan(run.stdout.indexOf("finalizer a"))
        expect(run.stdout.indexOf("main finalizer")).toBeGreaterThan(run.stdout.indexOf("finalizer b"))
        expect(run.stderr, show(run)).toBe("")
        // The first signal is logged with the grace and the deadline, before the shutdown.
        expect(run.stdout, show(run)).toContain("received SIGTERM, shutting down (grace 10s, exit deadline 30s)")
        expect(run.stdout.indexOf("received SIGTERM")).toBeLessThan(run.stdout.indexOf("finalizer a"))
      })
  )

  it.live("SIGINT: the same, exit 0 (default deadline: grace + 5 s)", () =>
    Effect.gen(function* () {
      const run = yield* result("sigint")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(0)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      expect(lines(run.stdout), show(run)).toEqual(
        expect.arrayContaining(["finalizer a", "finalizer b", "main finalizer"])
      )
      expect(run.stdout.indexOf("main finalizer")).toBeGreaterThan(run.stdout.indexOf("finalizer a"))
      expect(run.stdout.indexOf("main finalizer")).toBeGreaterThan(run.stdout.indexOf("finalizer b"))
      expect(run.stderr, show(run)).toBe("")
    })
  )
})

describe("NodeSupervisor.runMain: a shutdown that does not finish in time", () => {
  // BUG (runMain): the deadline is a single `setTimeout(…, exitDeadlineMs)`. Node cannot hold a delay
  // above 2^31 - 1 ms (≈ 24.8 days): it prints a TimeoutOverflowWarning and fires after 1 ms, so the
  // process prints the deadline report and exits 1 right after the first signal, skipping the
  // graceful shutdown. The same happens with no exitDeadline and a grace above ≈ 24.8 days - 5 s.
  // Observed: exit 1 about 25 ms after SIGTERM, "stopping" printed but not "stopped".
  it.live("an exitDeadline beyond a Node timer's limit (25 days) does not fire early: graceful shutdown, exit 0", () =>
    Effect.gen(function* () {
      const run = yield* result("hugeDeadline")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.stderr, show(run)).not.toContain("TimeoutOverflowWarning")
      expect(run.stderr, show(run)).not.toContain("did not finish within the exit deadline")
      expect(run.code, show(run)).toBe(0)
      // The cleanup takes 500 ms.
      expect(run.elapsed, show(run)).toBeGreaterThanOrEqual(400)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      expect(lines(run.stdout), show(run)).toEqual(expect.arrayContaining(["stopping", "stopped"]))
      expect(run.stderr, show(run)).toBe("")
    })
  )

  it.live("a task stuck past the supervisor's grace (1 s): exit 1 after ≈ the grace, the warning names its path", () =>
    Effect.gen(function* () {
      const run = yield* result("grace")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeGreaterThanOrEqual(900)
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      expect(lines(run.stdout), show(run)).toContain("finalizer ok")
      // Effect's logger writes the GraceExceeded warning to stdout.
      expect(run.stdout, show(run)).toContain("shutdown exceeded its grace of 1s; abandoned: root/stuck")
      // It exited because the grace was exceeded, not at the deadline (20 s): no deadline report.
      expect(run.stderr, show(run)).toBe("")
    })
  )

  it.live(
    "stuck tasks under a supervisor with a longer grace (10 s): exit 1 at the deadline (2 s), listing them by path",
    () =>
      Effect.gen(function* () {
        const run = yield* result("deadline")
        expect(run.killedBy, show(run)).toBeNull()
        expect(run.code, show(run)).toBe(1)
        expect(run.elapsed, show(run)).toBeGreaterThanOrEqual(1_900)
        expect(run.elapsed, show(run)).toBeLessThan(5_000)
        expect(lines(run.stdout), show(run)).toContain("finalizer ok")
        expect(run.stderr, show(run)).toContain(
          "the shutdown did not finish within the exit deadline of 2000 ms; still running:"
        )
        // A worker, and a task of a nested tree by its full path (not the nested supervisor's task `db`).
        expect(lines(run.stderr), show(run)).toEqual(
          expect.arrayContaining(["  root/stuck (stopping, attempt 1)", "  root/db/pool (stopping, attempt 1)"])
        )
        expect(run.stderr, show(run)).not.toContain("root/ok")
        expect(run.stderr, show(run)).not.toContain("root/db (")
        // The first signal's log line warns that the deadline is shorter than the supervisor's grace.
        expect(run.stdout, show(run)).toContain(
          "received SIGTERM, shutting down (grace 10s from the supervisors, exit deadline 2s; the exit deadline is shorter than the grace"
        )
      })
  )

  it.live("a scope finalizer outside the supervisors that never ends: exit 1 at the deadline, no task left", () =>
    Effect.gen(function* () {
      const run = yield* result("finalizer")
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeGreaterThanOrEqual(1_900)
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      expect(lines(run.stdout), show(run)).toEqual(expect.arrayContaining(["finalizer ok", "hanging finalizer"]))
      expect(run.stderr, show(run)).toContain(
        "the shutdown did not finish within the exit deadline of 2000 ms; no supervised task is left running"
      )
    })
  )
})

describe("NodeSupervisor.runMain: a second signal exits at once", () => {
  it.live("a second SIGINT during the graceful shutdown: exit 130 at once", () =>
    Effect.gen(function* () {
      const run = yield* result("secondSigint")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(130)
      expect(run.afterLast, show(run)).toBeLessThan(1_000)
      // The cleanup (20 s) was under way and did not finish.
      expect(lines(run.stdout), show(run)).toContain("stopping")
      expect(lines(run.stdout), show(run)).not.toContain("stopped")
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      expect(run.stderr, show(run)).toContain("fibervisor: second SIGINT, exiting now")
    })
  )

  it.live("a second SIGTERM during the graceful shutdown: exit 143 at once", () =>
    Effect.gen(function* () {
      const run = yield* result("secondSigterm")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(143)
      expect(run.afterLast, show(run)).toBeLessThan(1_000)
      expect(lines(run.stdout), show(run)).toContain("stopping")
      expect(lines(run.stdout), show(run)).not.toContain("stopped")
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      expect(run.stderr, show(run)).toContain("fibervisor: second SIGTERM, exiting now")
    })
  )
})

describe("NodeSupervisor.runMain: a program that ends by itself", () => {
  it.live("the main program fails: exit 1 without any signal, the failure is reported", () =>
    Effect.gen(function* () {
      const run = yield* result("fails")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      expect(lines(run.stdout), show(run)).toContain("done: Completed, Completed")
      // Effect's logger writes the failure to stdout.
      expect(run.stdout, show(run)).toContain("MainFailed: the main program gave up")
      expect(run.stderr, show(run)).toBe("")
    })
  )

  it.live("the main program completes: exit 0 without any signal, and nothing keeps the process alive", () =>
    Effect.gen(function* () {
      const run = yield* result("succeeds")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(0)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      expect(lines(run.stdout), show(run)).toEqual(
        expect.arrayContaining(["task one", "task two", "done: Completed, Completed"])
      )
      expect(run.stderr, show(run)).toBe("")
    })
  )
})

describe("NodeSupervisor.runMain: invalid options", () => {
  it.live("exitDeadline: -1 → exit 1, InvalidRunMainOptions names the field, the program does not run", () =>
    Effect.gen(function* () {
      const run = yield* result("invalidExitDeadline")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      // Reported through Effect's logger, on stdout.
      expect(run.stdout, show(run)).toContain(
        "InvalidRunMainOptions: invalid runMain options: exitDeadline must be greater than zero"
      )
      expect(run.stdout, show(run)).not.toContain("the program ran")
    })
  )

  it.live('grace: "soon" → exit 1, InvalidRunMainOptions names the field, the program does not run', () =>
    Effect.gen(function* () {
      const run = yield* result("invalidGrace")
      expect(run.killedBy, show(run)).toBeNull()
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeLessThan(2_000)
      expect(run.stdout, show(run)).toContain(
        'InvalidRunMainOptions: invalid runMain options: grace must be a finite duration, got "soon"'
      )
      expect(run.stdout, show(run)).not.toContain("the program ran")
    })
  )
})
