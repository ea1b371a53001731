/**
 * The leak check of the core suite, loaded by `test.setupFiles` in `vitest.config.ts`: after each
 * test file (an `afterAll` of the file's root suite, so after the file's own hooks and layers) it
 * asserts that
 *
 * - every fiber fibervisor started (`live.fibers` of `src/internal/compat.ts`: task fibers, offload
 *   jobs, grace timers, shutdown drivers, group restarts) has exited: the count is back to its value
 *   when the file started (0), plus what the file declared with `expectAbandoned`;
 * - no timer, socket, server, child process, signal watcher or other handle that keeps the event
 *   loop alive was left behind (`process.getActiveResourcesInfo()`, counted by type, may not grow;
 *   live-clock sleeps hold one "Timeout" each; Effect 4's `Effect.never` holds none);
 * - no `process` listener was left behind (`SIGINT`, `SIGTERM`, `exit`, `beforeExit`,
 *   `uncaughtException`, `unhandledRejection`);
 * - every `fibervisor_task_running` and `fibervisor_offload_active` gauge (every label set) is 0.
 *
 * Fibers that are exiting, Effect's scheduler's timers and vitest's own (its 100 ms task-update
 * throttle, pending when the hook starts: a clean file pays up to ~100 ms for it) may need a few
 * turns after the last test returns, so the check waits for the state to settle — real time, at
 * most `settleMs` (500 ms) — before it reports. A fiber suspended on a TestClock sleep that nobody
 * advances never settles: the test that left it must clean up (advance the clock, or release it,
 * at its end), or declare it with `expectAbandoned(n)`.
 *
 * `test/leakCheck.ts` and the tests must share one instance of `compat.ts`: both reach it as
 * `<core>/src/internal/compat.ts` (here by a relative import, in the tests through the
 * `@fibervisor/core` alias to `src/index.ts`); `LeakCheck.test.ts` checks that they do.
 *
 * `FIBERVISOR_LEAKCHECK_PER_TEST=1` also prints, after each test, what it left behind (a diagnostic
 * to find the test of a leaking file; it never fails a test).
 */
import { createHook } from "node:async_hooks"
import { Context, Metric } from "effect"
import { afterAll, afterEach, type RunnerTestFile as File, type RunnerTestSuite as Suite } from "vitest"
import { live } from "../src/internal/compat.js"

/** The `process` events whose listener counts may not grow. */
export const processEvents = [
  "SIGINT",
  "SIGTERM",
  "exit",
  "beforeExit",
  "uncaughtException",
  "unhandledRejection"
] as const

export type ProcessEvent = (typeof processEvents)[number]

/** The gauges that must be back to 0. */
export const zeroGauges: ReadonlyArray<string> = ["fibervisor_task_running", "fibervisor_offload_active"]

/**
 * Resource types vitest itself creates and drops while it reads files (`fs` requests in flight):
 * they come and go with the runner's work, not with the tests'.
 */
const runnerResources: ReadonlySet<string> = new Set(["FSReqCallback", "FSReqPromise", "FileHandleCloseReq"])

/** What the check compares. */
export interface Snapshot {
  /** `live.fibers`: fibervisor fibers not exited yet. */
  readonly fibers: number
  /** `process.getActiveResourcesInfo()` counted by type ("Timeout", "TCPServerWrap", …). */
  readonly resources: Readonly<Record<string, number>>
  readonly listeners: Readonly<Record<ProcessEvent, number>>
  /** The `zeroGauges` states that are not 0, by `name{label="value"}`. */
  readonly gauges: Readonly<Record<string, number>>
}

const gaugeStates = (): Record<string, number> => {
  const gauges: Record<string, number> = {}
  // The process-wide registry: `MetricRegistry` is a reference whose default (one `Map`) is shared
  // by every context that does not provide its own, so an empty context reads the one fibervisor
  // updates.
  for (const metric of Metric.snapshotUnsafe(Context.empty())) {
    if (!zeroGauges.includes(metric.id) || metric.type !== "Gauge") continue
    const value = Number(metric.state.value)
    if (value === 0) continue
    const labels = Object.entries(metric.attributes ?? {})
      .map(([key, label]) => `${key}=${JSON.stringify(label)}`)
      .join(",")
    gauges[`${metric.id}{${labels}}`] = value
  }
  return gauges
}

export const snapshot = (): Snapshot => {
  const resources: Record<string, number> = {}
  for (const type of process.getActiveResourcesInfo()) {
    if (!runnerResources.has(type)) resources[type] = (resources[type] ?? 0) + 1
  }
  const listeners = Object.fromEntries(processEvents.map((event) => [event, process.listenerCount(event)]))
  return {
    fibers: live.fibers,
    resources,
    listeners: listeners as Record<ProcessEvent, number>,
    gauges: gaugeStates()
  }
}

/** The number of fibervisor fibers alive now (the counter this check reads). */
export const liveFibers = (): number => live.fibers

/**
 * The leaks of `now` against `before`, one line each (empty: nothing leaked). Does not wait.
 * `abandoned` fibers are expected alive (exactly that many); each may still hold one unit of a gauge
 * (an abandoned task attempt is still running), so gauges adding up to at most `abandoned` pass.
 */
export const findLeaks = (before: Snapshot, abandoned = 0, now: Snapshot = snapshot()): Array<string> => {
  const leaks: Array<string> = []
  const expected = before.fibers + abandoned
  if (now.fibers !== expected) {
    const declared = abandoned === 0 ? "" : ` (${abandoned} declared with expectAbandoned)`
    leaks.push(
      now.fibers > expected
        ? `${now.fibers - expected} fibervisor fiber(s) still alive: live.fibers = ${now.fibers}, expected ${expected}${declared}`
        : `live.fibers = ${now.fibers}, expected ${expected}${declared}: fewer fibers alive than declared`
    )
  }
  for (const [type, count] of Object.entries(now.resources)) {
    const was = before.resources[type] ?? 0
    if (count > was) leaks.push(`${count - was} active ${type} handle(s) left (${was} before, ${count} after)`)
  }
  for (const event of processEvents) {
    const was = before.listeners[event]
    const count = now.listeners[event]
    if (count > was) leaks.push(`${count - was} process "${event}" listener(s) left (${was} before, ${count} after)`)
  }
  const gauges = Object.entries(now.gauges)
  const held = gauges.reduce((sum, [, value]) => sum + value, 0)
  const tolerated = abandoned > 0 && gauges.every(([, value]) => value > 0) && held <= abandoned
  if (!tolerated) for (const [gauge, value] of gauges) leaks.push(`gauge not back to 0: ${gauge} = ${value}`)
  return leaks
}

// The real timer, whatever a test does with fake timers.
const realSetTimeout = globalThis.setTimeout
const sleep = (ms: number) => new Promise<void>((resolve) => realSetTimeout(resolve, ms))

export interface CheckOptions {
  /** Fibers left alive on purpose (see `expectAbandoned`). */
  readonly abandoned?: number
  /** How long (real time) to wait for the state to settle before reporting; 500 ms by default. */
  readonly settleMs?: number
}

/**
 * `findLeaks`, after waiting — polling every 5 ms, at most `settleMs` of real time — for exiting
 * fibers to exit and transient timers to fire. Resolves with the leaks (empty: nothing leaked);
 * returns at once when nothing leaked.
 */
export const checkLeaks = async (before: Snapshot, options: CheckOptions = {}): Promise<Array<string>> => {
  const deadline = Date.now() + (options.settleMs ?? 500)
  let leaks = findLeaks(before, options.abandoned)
  while (leaks.length > 0 && Date.now() < deadline) {
    await sleep(5)
    leaks = findLeaks(before, options.abandoned)
  }
  return leaks
}

let abandoned = 0

/**
 * Declares that the current test file leaves `n` more fibervisor fibers alive at its end on purpose
 * (say, a task stuck in an uninterruptible region, suspended on a TestClock sleep that nothing will
 * advance). The check then expects exactly that many more (fewer fail it too), and lets each of them
 * hold one unit of a gauge. Timers and listeners stay strict. Prefer cleaning up — advance the clock
 * or release the fiber at the end of the test — this is the explicit opt-out.
 */
export const expectAbandoned = (n: number): void => {
  abandoned += n
}

/** Diagnostic mode: where each active timer was created (async_hooks: too slow to be always on). */
interface TimerResource {
  readonly hasRef?: () => boolean
  readonly _idleTimeout?: number
}
const timers = new Map<number, { readonly resource: TimerResource; readonly stack: string }>()
const trackTimers = (): void => {
  createHook({
    init(id, type, _trigger, resource) {
      if (type === "Timeout") timers.set(id, { resource: resource as TimerResource, stack: new Error().stack ?? "" })
    },
    destroy(id) {
      timers.delete(id)
    }
  }).enable()
}
/** The active timers, but those of vitest's runner (its 100 ms task-update throttle) and of this file. */
const timerOrigins = (): Array<string> =>
  Array.from(timers.values()).flatMap(({ resource, stack }) => {
    if (resource.hasRef?.() === false) return []
    const frames = stack
      .split("\n")
      .slice(2) // "Error", then the hook's own frame
      .map((frame) => frame.trim())
      .filter((frame) => frame.startsWith("at ") && !frame.includes("node:") && !frame.includes("(<anonymous>)"))
    const creator = frames[0] ?? ""
    if (creator.includes("@vitest/runner") || creator.includes("leakCheck.ts")) return []
    return [`timer of ${resource._idleTimeout} ms created ${frames.slice(0, 6).join(" < ")}`]
  })

const failedTests = (suite: Readonly<Suite | File>): number =>
  suite.tasks.reduce(
    (n, task) => n + (task.type === "suite" ? failedTests(task) : task.result?.state === "fail" ? 1 : 0),
    0
  )

/** Registers the check for the current file. The setup file runs once per test file. */
const register = (): void => {
  const before = snapshot()
  if (process.env["FIBERVISOR_LEAKCHECK_PER_TEST"] === "1") {
    trackTimers()
    let last = before
    let reported = new Set<string>()
    afterEach(async (context) => {
      const leaks = await checkLeaks(last, { settleMs: 100 })
      // Gauges are checked against 0, not against `last`: report each one once.
      let fresh = leaks.filter((leak) => !reported.has(leak))
      // A timer of vitest's own (it may be pending between tests) is not the test's.
      const origins = fresh.some((leak) => leak.includes(" Timeout ")) ? timerOrigins() : []
      if (origins.length === 0) fresh = fresh.filter((leak) => !leak.includes(" Timeout "))
      if (fresh.length > 0) {
        process.stderr.write(
          `[leakCheck] ${context.task.file.name} > ${context.task.name}:\n  - ${[...fresh, ...origins].join("\n  - ")}\n`
        )
      }
      reported = new Set(leaks)
      last = snapshot()
    })
  }
  // vitest 5 passes the hook's context first, then the suite (here: the file); its fixture parser
  // requires the context to be a destructuring pattern.
  // eslint-disable-next-line no-empty-pattern
  afterAll(async ({}, file) => {
    const leaks = await checkLeaks(before, { abandoned })
    if (leaks.length > 0) {
      const start = before.fibers === 0 ? "" : ` (${before.fibers} fibervisor fiber(s) were alive when it started)`
      const failed = failedTests(file)
      const hint =
        failed === 0 ? "" : `\n  (${failed} test(s) of this file failed: a failed test may have skipped its cleanup)`
      throw new Error(`Leak check failed after this test file${start}:\n  - ${leaks.join("\n  - ")}${hint}`)
    }
  })
}

/**
 * How many times this module was evaluated in this process: 1 when the tests' imports got the setup
 * file's instance (vitest runs each test file in a fresh worker: the default `isolate: true`).
 */
const instances = ((globalThis as { __fibervisorLeakCheck?: number }).__fibervisorLeakCheck ?? 0) + 1
;(globalThis as { __fibervisorLeakCheck?: number }).__fibervisorLeakCheck = instances
export const leakCheckInstances = (): number =>
  (globalThis as { __fibervisorLeakCheck?: number }).__fibervisorLeakCheck ?? 0

register()
