/**
 * The demo (`src/demo.ts`): its pieces under the TestClock, and the real program as a child
 * process — not a TTY, so it prints one line per event and the summary — run to its end, stopped by
 * SIGTERM, and refused bad flags.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Backoff, Offload, Supervisor, Task, TaskError } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { Duration, Effect, Fiber, Result } from "effect"
import { parseArgs } from "../src/demo/args.js"
import { makeRateCache, Stats } from "../src/demo/service.js"
import { frame, Ledger, summary } from "../src/demo/table.js"

const examples = fileURLToPath(new URL("..", import.meta.url))

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** From the banner (the program is up: modules loaded, servers listening) to the exit. */
  readonly ms: number
}

/** Once stdout matches `when`: run `before` (with stdout so far), then send SIGTERM. */
interface Stop {
  readonly when: RegExp
  readonly before?: (stdout: string) => Promise<void>
}

/**
 * Runs the demo with `node --conditions=@fibervisor/source --import tsx src/demo.ts ...args`, and
 * stops it per `stop`. Interrupting the effect kills the process.
 */
const runDemo = (args: ReadonlyArray<string>, stop?: Stop) =>
  Effect.callback<Run>((resume) => {
    let banner: number | undefined
    const child = spawn(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", "src/demo.ts", ...args],
      { cwd: examples, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let stopping = false
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      if (banner === undefined && stdout.startsWith("fibervisor demo for ")) banner = performance.now()
      if (stop !== undefined && !stopping && stop.when.test(stdout)) {
        stopping = true
        const before = stop.before?.(stdout) ?? Promise.resolve()
        before.then(
          () => child.kill("SIGTERM"),
          (error: unknown) => {
            stderr += `test: ${String(error)}\n`
            child.kill("SIGTERM")
          }
        )
      }
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
    })
    child.on("close", (code, signal) =>
      resume(Effect.succeed({ code, signal, stdout, stderr, ms: performance.now() - (banner ?? Number.NaN) }))
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The summary block: from `summary:` to the end. */
const summaryOf = (stdout: string): string => stdout.slice(stdout.indexOf("\nsummary: ") + 1)

const paths = [
  "root/app",
  "root/app/connector",
  "root/app/heartbeat",
  "root/app/workers",
  "root/app/workers/worker-1",
  "root/app/workers/worker-2",
  "root/app/workers/worker-3",
  "root/traffic"
]

describe("demo: command line", () => {
  it("reads durations, the port and the seed", () => {
    const read = (argv: ReadonlyArray<string>) => parseArgs(argv, () => 99)
    const ok = (argv: ReadonlyArray<string>) => Result.getOrThrow(read(argv))
    expect(Duration.toMillis(ok(["--duration", "20s"]).duration)).toBe(20_000)
    expect(Duration.toMillis(ok(["--duration", "1500ms"]).duration)).toBe(1500)
    expect(Duration.toMillis(ok(["--duration", "20 seconds"]).duration)).toBe(20_000)
    expect(ok([])).toEqual({ duration: Duration.seconds(8), port: 0, dashboardPort: 0, seed: 99 })
    expect(ok(["--port", "8080", "--seed", "42"])).toMatchObject({ port: 8080, seed: 42 })
    expect(ok(["--dashboard-port", "9091"])).toMatchObject({ port: 0, dashboardPort: 9091 })
  })

  it("names the flag it cannot use", () => {
    const field = (argv: ReadonlyArray<string>) =>
      Result.match(parseArgs(argv), { onFailure: (error) => error.field, onSuccess: () => "accepted" })
    expect(field(["--duration", "soon"])).toBe("--duration")
    expect(field(["--duration", "Infinity"])).toBe("--duration")
    expect(field(["--port", "70000"])).toBe("--port")
    expect(field(["--port", "-1"])).toBe("--port")
    expect(field(["--dashboard-port", "65536"])).toBe("--dashboard-port")
    expect(field(["--seed", "1.5"])).toBe("--seed")
    expect(field(["--seed"])).toBe("--seed")
    expect(field(["--verbose", "1"])).toBe("--verbose")
  })
})

describe("demo: pieces", () => {
  it.effect("the rate cache serves fresh, then stale while exactly one refresh runs", () =>
    Effect.gen(function* () {
      const stats = new Stats()
      const cache = makeRateCache(stats, { freshFor: "1 second", expireAfter: "30 seconds" })
      const warm = yield* Effect.forkChild(cache.warm)
      yield* TestTime.adjust("1 second") // the upstream answers within 400 ms
      yield* Fiber.join(warm)

      const first = yield* cache.get
      expect(first).toMatchObject({ pair: "EUR/USD", version: 1, cache: "fresh" })

      yield* TestTime.adjust("1 second") // now stale
      const stale = yield* Effect.all(
        Array.from({ length: 5 }, () => cache.get),
        { concurrency: "unbounded" }
      )
      expect(stale.map((view) => view.cache)).toEqual(["stale", "stale", "stale", "stale", "stale"])
      expect(stale.every((view) => view.version === 1)).toBe(true)
      expect(stats).toMatchObject({ refreshesSpawned: 1, refreshesDeduplicated: 4, refreshesRun: 0 })

      yield* TestTime.adjust("1 second") // the refresh has run
      yield* Offload.awaitIdle()
      expect(stats.refreshesRun).toBe(1)
      expect(yield* cache.get).toMatchObject({ version: 2, cache: "fresh" })
      expect(stats).toMatchObject({ requests: 7, fresh: 2, stale: 5, miss: 0 })
    }).pipe(Effect.provide(Offload.layer()))
  )

  it.effect("a frame shows each task's state, attempt, restarts, next attempt and last failure", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      yield* sup.add(
        Supervisor.task(
          "app",
          [
            Task.make(
              "connector",
              Effect.andThen(Effect.sleep("50 millis"), TaskError.fail("connection reset by peer")),
              {
                ready: true,
                backoff: Backoff.constant("500 millis")
              }
            ),
            Task.restartable("worker", Effect.never)
          ],
          { strategy: "one-for-all" }
        )
      )
      yield* TestTime.adjust("100 millis")
      const tree = yield* sup.tree
      const text = frame(tree, new Stats(), {
        url: "http://127.0.0.1:1/rate",
        elapsedMs: 100,
        durationMs: 8000,
        seed: 1,
        status: "running",
        now: 100,
        columns: 160
      })
      const row = (path: string) => text.split("\n").find((line) => line.includes(`│ ${path} `)) ?? ""
      expect(text).toContain("│ task ")
      expect(text).toContain("next attempt in")
      expect(row("root/app (one-for-all)")).toMatch(/│ running\s+│\s+1 │\s+0 │/)
      // Its first attempt failed at 50 ms: its backoff holds it until 550 ms; the group restart
      // stopped its sibling, which waits to start again with it.
      expect(row("root/app/connector (ready)")).toMatch(
        /│ backing-off\s+│\s+1 │\s+1 │\s+450 ms │ connection reset by peer/
      )
      expect(row("root/app/worker")).toMatch(/│ waiting\s+│\s+1 │\s+0 │\s+│\s+│$/)
      expect(text).toContain("ready: no (waiting for root/app/connector: backing-off)")
      expect(text).toContain("http: 0 requests (0 fresh, 0 stale, 0 miss)")
    })
  )

  it("the summary tallies events by path", () => {
    const ledger = new Ledger()
    const base = { seq: 0, at: 0, id: 3 as never, task: "connector", path: "root/app/connector" }
    ledger.record({ _tag: "TaskAdded", ...base })
    ledger.record({ _tag: "AttemptStarting", ...base, attempt: 1 })
    ledger.record({ _tag: "AttemptFailed", ...base, attempt: 1, durationMs: 5, reason: "reset", fatal: false })
    ledger.record({ _tag: "BackoffScheduled", ...base, attempt: 1, delayMs: 200, source: "failure" })
    ledger.record({ _tag: "AttemptStarting", ...base, attempt: 2 })
    ledger.record({ _tag: "TaskFinished", ...base, outcome: "Canceled", reason: "stopped by shutdown" })
    const text = summary(ledger, new Stats(), { elapsedMs: 2000, seed: 7 })
    expect(text).toContain("summary: ran 2.0 s (seed 7), 6 events")
    expect(text).toMatch(/root\/app\/connector\s+2\s+1\s+1\s+Canceled \(stopped by shutdown\)/)
  })
})

describe("demo: the real process", () => {
  it.live(
    "runs for --duration, prints event lines and the summary, serves HTTP, exits 0",
    () =>
      Effect.gen(function* () {
        const run = yield* runDemo(["--duration", "2s"])
        expect(run.stderr).toBe("")
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null })
        // It ran for its 2 s, then shut down promptly.
        expect(run.ms).toBeGreaterThanOrEqual(1900)
        expect(run.ms).toBeLessThan(10_000)

        // Not a TTY: no table, no escape sequences; one line per event.
        expect(run.stdout).toMatch(/^fibervisor demo for 2s \(seed \d+\)\n {2}Ctrl-C shuts down gracefully/)
        expect(run.stdout).toMatch(/^ {2}rate: {3}http:\/\/127\.0\.0\.1:\d+\/rate$/m)
        expect(run.stdout).toMatch(/^ {2}health: http:\/\/127\.0\.0\.1:\d+\/\{healthz,readyz,tasks,events,metrics\}$/m)
        expect(run.stdout).toMatch(
          /^ {2}dashboard: http:\/\/127\.0\.0\.1:\d+\/ {2}token for its actions: [0-9a-f]{48}$/m
        )
        expect(run.stdout).not.toContain("\u001b[")
        expect(run.stdout).toMatch(/^ +\+\d+\.\d{3}s {2}root\/app\/connector +AttemptStarting +id=\d+ attempt=1$/m)
        expect(run.stdout).toMatch(/^ +\+\d+\.\d{3}s {2}demo +shutting down gracefully…$/m)
        expect(run.stdout).toMatch(/^ +\+\d+\.\d{3}s {2}root +AllStoppedWithinGrace$/m)

        const text = summaryOf(run.stdout)
        expect(text).toMatch(/^summary: ran 2\.\d s \(seed \d+\), \d+ events/)
        for (const path of paths) {
          expect(text).toMatch(new RegExp(`^ {2}${path} +\\d+ +\\d+ +\\d+ {2}Canceled \\(stopped by shutdown\\)$`, "m"))
        }
        const requests = Number(/http: (\d+) requests/.exec(text)?.[1] ?? "0")
        expect(requests).toBeGreaterThanOrEqual(1)
        const responses = Number(/traffic: (\d+) responses/.exec(text)?.[1] ?? "0")
        expect(responses).toBeGreaterThanOrEqual(1)
      }),
    30_000
  )

  it.live(
    "serves the health endpoints; SIGTERM shuts it down gracefully: the summary, exit code 0",
    () =>
      Effect.gen(function* () {
        const probes: Array<{ readonly path: string; readonly status: number; readonly body: string }> = []
        const run = yield* runDemo(["--duration", "60s"], {
          when: /root\/traffic +AttemptStarting/,
          before: async (stdout) => {
            const base = /^ {2}health: (http:\/\/127\.0\.0\.1:\d+)\//m.exec(stdout)?.[1]
            if (base === undefined) throw new Error("no health URL in the output")
            for (const path of ["/healthz", "/tasks"]) {
              const response = await fetch(`${base}${path}`)
              probes.push({ path, status: response.status, body: await response.text() })
            }
            const dashboard = /^ {2}dashboard: (http:\/\/127\.0\.0\.1:\d+)\//m.exec(stdout)?.[1]
            if (dashboard === undefined) throw new Error("no dashboard URL in the output")
            for (const path of ["/", "/api/snapshot"]) {
              const response = await fetch(`${dashboard}${path}`)
              probes.push({ path: `dashboard ${path}`, status: response.status, body: await response.text() })
            }
          }
        })
        expect(run.stderr).toBe("")
        expect(probes.map((probe) => [probe.path, probe.status])).toEqual([
          ["/healthz", 200],
          ["/tasks", 200],
          ["dashboard /", 200],
          ["dashboard /api/snapshot", 200]
        ])
        expect(probes[2]!.body).toContain(`<script type="module" src="/assets/app.js">`)
        // The dashboard sees the tree, the Offload layer of the HTTP server, and accepts actions.
        expect(JSON.parse(probes[3]!.body)).toMatchObject({
          tree: { path: "root", state: "running" },
          offload: { kinds: expect.any(Array) },
          actions: true
        })
        expect(JSON.parse(probes[1]!.body)).toMatchObject({ path: "root", state: "running" })
        expect(probes[1]!.body).toContain(`"path":"root/app/connector"`)
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null })
        expect(run.stdout).toMatch(/^ +\+\d+\.\d{3}s {2}root +ShutdownRequested$/m)
        const text = summaryOf(run.stdout)
        expect(text).toMatch(/^summary: ran \d+\.\d s/)
        expect(text).toMatch(/^ {2}root\/app\/connector +\d+ +\d+ +\d+ {2}Canceled \(stopped by shutdown\)$/m)
        expect(run.ms).toBeLessThan(10_000)
      }),
    30_000
  )

  it.live(
    "a bad flag: exit code 2 and a message naming it",
    () =>
      Effect.gen(function* () {
        const run = yield* runDemo(["--duration", "soon"])
        expect(run.code).toBe(2)
        expect(run.stderr).toContain(`demo: --duration: expected a duration such as 20s or "20 seconds", got "soon"`)
        expect(run.stdout).toBe("")
      }),
    30_000
  )
})
