/**
 * `NodeSupervisor.runMain` and failed root supervisors, in real processes (issue 12, items 3 and
 * 20): with the docs' own pattern (`runMain(Layer.launch(app))`), a root supervisor that fails
 * makes the process shut down and exit 1 by itself (it used to idle, then exit 0 on SIGTERM); the
 * first signal is logged with the grace (read from the supervisors) and the deadline. Each
 * scenario runs test/fixtures/rootFails.ts as a child process, as runMain.test.ts does.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  /** Milliseconds from the `ready` line (or the signal sent on it) to the exit. */
  readonly elapsed: number
}

/** Runs the fixture with `scenario`; sends `signal` once it printed `ready`. */
const drive = (scenario: string, signal?: NodeJS.Signals): Effect.Effect<Run, Error> =>
  Effect.callback<Run, Error>((resume) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", "test/fixtures/rootFails.ts", scenario],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let readyAt: number | undefined
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk
      if (readyAt === undefined && stdout.split("\n").includes("ready")) {
        readyAt = performance.now()
        if (signal !== undefined) child.kill(signal)
      }
    })
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("error", (error) => resume(Effect.fail(error)))
    child.on("close", (code) =>
      resume(Effect.succeed({ code, stdout, stderr, elapsed: Math.round(performance.now() - (readyAt ?? 0)) }))
    )
    return Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  }).pipe(
    Effect.timeoutOrElse({
      duration: "20 seconds",
      orElse: () => Effect.fail(new Error(`rootFails ${scenario} did not exit within 20 s`))
    })
  )

const scenarios = {
  intensity: [],
  escalate: [],
  "run-caught": [],
  signal: ["SIGTERM"]
} as const satisfies Record<string, ReadonlyArray<NodeJS.Signals>>

type Name = keyof typeof scenarios

const runs = new Map<Name, Fiber.Fiber<Run, Error>>()

beforeAll(() => {
  // The fixtures run on this test's Node (process.execPath): Effect 4 and @effect/platform-node need
  // Node 22.19+, which `pnpm exec vitest` provides (the tree's node_modules/.bin/node).
  expect(Number(process.versions.node.split(".")[0]), `Node ${process.version}`).toBeGreaterThanOrEqual(22)
  for (const [name, signals] of Object.entries(scenarios) as Array<[Name, ReadonlyArray<NodeJS.Signals>]>) {
    runs.set(name, Effect.runFork(drive(name, signals[0])))
  }
})

afterAll(() => Effect.runPromise(Fiber.interruptAll(Array.from(runs.values()))))

const result = (name: Name) => Fiber.join(runs.get(name)!)

const show = (run: Run): string =>
  `exit code ${run.code}, ${run.elapsed} ms after ready\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`

describe("NodeSupervisor.runMain(Layer.launch(app)): a root supervisor that fails ends the process", () => {
  it.live("restart intensity exceeded: exit 1 by itself, after a graceful shutdown, with a clear log line", () =>
    Effect.gen(function* () {
      const run = yield* result("intensity")
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      // The other task was stopped gracefully.
      expect(run.stdout.split("\n"), show(run)).toContain("finalizer ok")
      // Effect's logger writes to stdout: the watch's line, then the program's failure.
      expect(run.stdout, show(run)).toContain(
        'root supervisor "root" failed (RestartIntensityExceeded), shutting down (grace 2s from the supervisors, exit deadline 7s)'
      )
      expect(run.stdout, show(run)).toContain(
        'RestartIntensityExceeded: supervisor "root" exceeded its restart intensity'
      )
      expect(run.stderr, show(run)).toBe("")
    })
  )

  it.live("escalation: exit 1 by itself", () =>
    Effect.gen(function* () {
      const run = yield* result("escalate")
      expect(run.code, show(run)).toBe(1)
      expect(run.elapsed, show(run)).toBeLessThan(5_000)
      expect(run.stdout.split("\n"), show(run)).toContain("finalizer ok")
      expect(run.stdout, show(run)).toContain('root supervisor "root" failed (Escalated), shutting down')
    })
  )

  it.live("Supervisor.run's failure goes to its caller: a program that handles it goes on and exits 0", () =>
    Effect.gen(function* () {
      const run = yield* result("run-caught")
      expect(run.code, show(run)).toBe(0)
      expect(run.stdout.split("\n"), show(run)).toContain("recovered from RestartIntensityExceeded")
      expect(run.stdout, show(run)).not.toContain("shutting down")
    })
  )
})

describe("NodeSupervisor.runMain: the first signal is logged", () => {
  it.live("with the grace read from the supervisors and the derived deadline; exit 0", () =>
    Effect.gen(function* () {
      const run = yield* result("signal")
      expect(run.code, show(run)).toBe(0)
      expect(run.elapsed, show(run)).toBeLessThan(3_000)
      expect(run.stdout, show(run)).toContain(
        "received SIGTERM, shutting down (grace 6s from the supervisors, exit deadline 11s)"
      )
      expect(run.stdout.split("\n"), show(run)).toContain("finalizer ok")
      expect(run.stderr, show(run)).toBe("")
    })
  )
})
