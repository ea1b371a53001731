/**
 * Runs every documentation example (`src/docs/*.ts`) under the TestClock and checks what it
 * returns, and checks that the Markdown pages quote the examples verbatim.
 */
import { describe, expect, it } from "@effect/vitest"
import { TestTime } from "@fibervisor/vitest"
import { Effect, Fiber, Option } from "effect"
import { exampleFiles, pages, quotes, readExample } from "../scripts/docs-blocks.js"
import * as backoffDelays from "../src/docs/backoff-delays.js"
import * as backoffReset from "../src/docs/backoff-reset.js"
import * as backoffSchedules from "../src/docs/backoff-schedules.js"
import * as eventsSubscribe from "../src/docs/events-subscribe.js"
import * as eventsTaskInfo from "../src/docs/events-task-info.js"
import * as firstSupervisor from "../src/docs/getting-started-first-supervisor.js"
import * as offloadBasics from "../src/docs/offload-basics.js"
import * as offloadSwr from "../src/docs/offload-swr.js"
import * as layer from "../src/docs/getting-started-layer.js"
import * as runBatch from "../src/docs/getting-started-run-batch.js"
import * as shutdownCooperative from "../src/docs/shutdown-cooperative.js"
import * as shutdownGrace from "../src/docs/shutdown-grace.js"
import * as removeCancel from "../src/docs/shutdown-remove-cancel.js"
import * as tasksAttemptExits from "../src/docs/tasks-attempt-exits.js"
import * as tasksDefaults from "../src/docs/tasks-defaults.js"
import * as tasksInvalidSpec from "../src/docs/tasks-invalid-spec.js"
import * as tasksPresets from "../src/docs/tasks-presets.js"
import * as tasksRepeat from "../src/docs/tasks-repeat.js"
import * as treesBuild from "../src/docs/trees-build.js"
import * as treesController from "../src/docs/trees-controller.js"
import * as treesEscalate from "../src/docs/trees-escalate.js"
import * as treesGroupRestart from "../src/docs/trees-group-restart.js"
import * as treesIntensity from "../src/docs/trees-intensity.js"
import * as treesIntensityWindow from "../src/docs/trees-intensity-window.js"
import * as treesLatestWins from "../src/docs/trees-latest-wins.js"
import * as treesOrdering from "../src/docs/trees-ordering.js"
import * as treesSignificant from "../src/docs/trees-significant.js"
import * as treesStrategies from "../src/docs/trees-strategies.js"
import * as productionTracing from "../src/docs/production-tracing.js"

/** Forks `program`, moves the TestClock far enough for it to finish, and returns its result. */
const underTestClock = <A, E>(program: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(program)
    yield* TestTime.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

describe("getting started", () => {
  it.effect("first supervisor", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(firstSupervisor.program)).toEqual(["Completed", "Completed"])
    })
  )

  it.effect("layer", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(layer.program)).toEqual({
        running: ["warm-cache: running", "send-report: running"],
        outcomes: ["Completed", "Completed"]
      })
    })
  )

  it.effect("run a batch", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(runBatch.program)).toEqual({
        outcomes: [
          ["Completed", undefined],
          ["Failed", "orders API returned 500"],
          ["Completed", undefined]
        ],
        duplicate: "TaskAlreadyExists",
        started: 0
      })
    })
  )
})

describe("tasks and restart policies", () => {
  it.effect("presets", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(tasksPresets.program)).toEqual({
        once: "Failed: table is locked",
        restartable: "Completed",
        periodic: "Canceled: three beats are enough"
      })
    })
  )

  it.effect("repeat, restart now, handle.cancel", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(tasksRepeat.program)).toEqual({
        starts: { sampler: [0, 1300, 2300, 3300], flaky: [0, 600, 900, 1400, 2000, 2600, 3200] },
        flakyAt1400: { state: "scheduled", attempt: 3, restarts: 1 },
        restarted: true,
        afterRestart: { state: "running", attempt: 4, restarts: 1 },
        samplerOutcome: "Completed",
        cancelled: true
      })
    })
  )

  it.effect("attempt exits", () =>
    Effect.gen(function* () {
      const rows = yield* underTestClock(tasksAttemptExits.program)
      const retried = (reason: string) => `retry limit reached after 1 of 1 retries: ${reason}`
      expect(rows.map((row) => [row.task, row.outcome, row.reason, row.exitCode, row.attempts])).toEqual([
        ["succeeds", "Completed", undefined, undefined, 1],
        ["stopped-by-supervisor", "Canceled", "stopped by remove", undefined, 1],
        ["cancels-itself", "Canceled", "nothing left to do", undefined, 1],
        ["fatal", "Fatal", "config file missing", 78, 1],
        ["is-fatal", "Fatal", "AuthError", undefined, 1],
        ["too-slow", "Failed", retried("attempt timed out after 20 ms"), undefined, 2],
        ["fails", "Failed", retried("upstream returned 503"), undefined, 2],
        ["own-timeout", "Failed", retried("upstream took too long"), undefined, 2],
        ["dies", "Failed", retried("defect: Error: bug"), undefined, 2],
        ["self-interrupts", "Failed", retried("the attempt was interrupted without a stop request"), undefined, 2]
      ])
    })
  )

  it.effect("defaults", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(tasksDefaults.program)).toEqual({
        inherits: "Failed: retry limit reached after 2 of 2 retries: attempt timed out after 40 ms",
        "no-timeout": "Completed",
        "own-timeout": "Completed"
      })
    })
  )

  it.effect("invalid specs", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(tasksInvalidSpec.program)).toEqual({
        problems: [
          'name: must be a non-empty string without "/", got ""',
          "timeout: must not be negative, got -5",
          "maxRetries: must be a non-negative integer (or undefined for unlimited), got 1.5",
          "backoff.first: must not exceed max (1000 ms > 100 ms)",
          "backoff.factor: must be a finite number ≥ 1, got 0.5"
        ],
        validated: 'invalid task spec "forever": resetAfter must be finite, got Infinity',
        options:
          "invalid supervisor options: defaults.maxRetries must be a non-negative integer (or undefined for unlimited), got -1"
      })
    })
  )
})

describe("backoff", () => {
  it.effect("delays", () =>
    Effect.gen(function* () {
      const { plain, run1, run2 } = yield* underTestClock(backoffDelays.program)
      expect(plain).toEqual([10, 20, 40, 80, 80])
      expect(run1).toEqual(run2)
      // equal jitter: whole milliseconds in [d/2, d)
      const bases = [10, 20, 40, 80, 80]
      run1.forEach((delay, i) => {
        expect(Number.isInteger(delay)).toBe(true)
        expect(delay).toBeGreaterThanOrEqual(bases[i] / 2)
        expect(delay).toBeLessThan(bases[i])
      })
    })
  )

  it.effect("reset after a long attempt and after a success", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(backoffReset.program)).toEqual({
        afterLongAttempt: ["failure 10", "failure 20", "failure 10", "failure 20", "failure 40"],
        afterSuccess: ["failure 10", "failure 20", "success 5", "failure 10"]
      })
    })
  )

  it.effect("any Schedule", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(backoffSchedules.program)).toEqual({
        ends: {
          delays: [10, 10],
          outcome: "retry budget exhausted: the backoff schedule ended after 2 retries: 503"
        },
        cap: { delays: [10, 20, 30, 30], outcome: "retry limit reached after 4 of 4 retries: 503" },
        readsFailure: {
          delays: [10, 10],
          outcome: "retry budget exhausted: the backoff schedule ended after 2 retries: 401 unauthorized"
        }
      })
    })
  )
})

describe("shutdown and grace", () => {
  it.effect("remove and cancel", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(removeCancel.program)).toEqual({
        removed: true,
        stateAfterRemove: Option.some("stopping"),
        cancels: [false, true],
        unknown: false,
        impatient: 'task "c" did not finish within 50 ms of the cancel',
        outcomes: ["Canceled: stopped by remove", "Canceled: stopped by cancel", "Canceled: stopped by cancel"]
      })
    })
  )

  it.effect("grace exceeded", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(shutdownGrace.program)).toEqual({
        shutdown: "shutdown exceeded its grace of 100ms; abandoned: root/stuck",
        sameResult: true,
        outcomes: ["Canceled: stopped by shutdown", "ForceAborted: did not stop within the shutdown grace of 100 ms"],
        sizeAtShutdown: 1,
        sizeLater: 0,
        // addAll admits both tasks in one step; their fibers (and first attempts) start on the next turn.
        timeline: [
          "TaskAdded polite",
          "TaskAdded stuck",
          "AttemptStarting polite",
          "AttemptStarting stuck",
          "ShutdownRequested",
          "TaskRemoveRequested polite",
          "TaskRemoveRequested stuck",
          "AttemptCanceled polite",
          "TaskFinished polite",
          "TaskRemoved polite",
          "TaskFinished stuck",
          "GraceExceeded",
          "AttemptCanceled stuck",
          "TaskRemoved stuck"
        ]
      })
    })
  )

  it.effect("cooperative tasks", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(shutdownCooperative.program)).toEqual({
        shutdown: "Success",
        committed: 6,
        outcomes: ["Canceled: stopped by shutdown", "Canceled: stopped by shutdown"]
      })
    })
  )
})

describe("events and outcomes", () => {
  it.effect("subscribe, encode, decode", () =>
    Effect.gen(function* () {
      const result = yield* underTestClock(eventsSubscribe.program)
      expect(result.timeline).toEqual([
        "1 TaskAdded",
        "2 AttemptStarting",
        "3 AttemptFailed",
        "4 BackoffScheduled",
        "5 AttemptStarting",
        "6 AttemptSucceeded",
        "7 TaskFinished",
        "8 TaskRemoved"
      ])
      expect(result.failure).toMatchObject({
        _tag: "AttemptFailed",
        task: "job",
        attempt: 1,
        durationMs: 0,
        reason: "connection reset",
        exitCode: 75,
        fatal: false,
        seq: 3,
        at: 0
      })
      expect(result.roundTrip).toBe(true)
    })
  )

  it.effect("list and get", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(eventsTaskInfo.program)).toEqual({
        before: [
          "flaky | backing-off | attempt 1 | restarts 1 | connection refused | next in 50 ms",
          "busy | running | attempt 1 | restarts 0 | - | -",
          "queued | waiting | attempt 0 | restarts 0 | - | -"
        ],
        stopping: Option.some("stopping"),
        gone: true,
        after: [
          "flaky | backing-off | attempt 1 | restarts 1 | connection refused | next in 40 ms",
          "queued | running | attempt 1 | restarts 0 | - | -"
        ]
      })
    })
  )
})

describe("offload", () => {
  it.effect("basics: dedup by key and kind, limits with a queue, failures swallowed", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(offloadBasics.program)).toEqual({
        outcomes: ["spawned", "deduplicated", "spawned", "spawned", "spawned", "rejected"],
        idle: true
      })
    })
  )

  it.effect("stale-while-revalidate: 50 concurrent stale hits start one refresh", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(offloadSwr.program)).toEqual({
        statuses: ["MISS", "HIT", "STALE", "HIT"],
        staleValues: 1,
        refreshed: "user:42@v2",
        fetches: 2
      })
    })
  )
})

describe("supervision trees", () => {
  it.effect("build a tree: paths, one event stream, list and tree", () =>
    Effect.gen(function* () {
      const node = (name: string, path: string, kind: string, extra: object = {}) => ({
        id: expect.any(Number),
        name,
        path,
        kind,
        state: "running",
        attempt: 1,
        restarts: 0,
        ready: false,
        ...extra
      })
      expect(yield* underTestClock(treesBuild.program)).toEqual({
        started: ["root/db", "root/api", "root/db/pool", "root/db/replicator"],
        list: ["root/db (supervisor)", "root/api (worker)"],
        flat: ["root/db running", "root/db/pool running", "root/db/replicator running", "root/api running"],
        json: {
          path: "root",
          strategy: "one-for-one",
          state: "running",
          tasks: [
            node("db", "root/db", "supervisor", {
              supervisor: {
                path: "root/db",
                strategy: "rest-for-one",
                state: "running",
                tasks: [node("pool", "root/db/pool", "worker"), node("replicator", "root/db/replicator", "worker")]
              }
            }),
            node("api", "root/api", "worker")
          ]
        },
        invalid: 'invalid task spec "cache": children[1].name "shard" is used by an earlier child'
      })
    })
  )

  it.effect("the three strategies", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesStrategies.program)).toEqual({
        "one-for-one": { restarted: ["b"], affected: "no GroupRestart" },
        "one-for-all": { restarted: ["a", "b", "c"], affected: ["a", "b", "c"] },
        "rest-for-one": { restarted: ["b", "c"], affected: ["b", "c"] }
      })
    })
  )

  it.effect("a group restart, step by step", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesGroupRestart.program)).toEqual([
        "  0 ms AttemptStarting migrate",
        "  0 ms AttemptSucceeded migrate",
        "  0 ms TaskFinished migrate Completed",
        "  0 ms AttemptStarting cache",
        "  0 ms AttemptStarting db",
        "  0 ms AttemptStarting api",
        "  0 ms AttemptStarting audit",
        " 20 ms AttemptFailed db",
        " 20 ms BackoffScheduled db (100 ms)",
        " 20 ms GroupRestart trigger=db affected=cache,db,api,audit",
        " 20 ms TaskRemoveRequested audit (group-restart)",
        " 30 ms AttemptCanceled audit (stopped by group-restart)",
        " 30 ms TaskFinished audit Canceled",
        " 40 ms AttemptCanceled api (stopped by group-restart)",
        " 50 ms AttemptCanceled cache (stopped by group-restart)",
        "150 ms AttemptStarting cache",
        "150 ms AttemptStarting db",
        "150 ms AttemptStarting api"
      ])
    })
  )

  it.effect("restart intensity: a nested supervisor fails, its parent restarts it fresh", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesIntensity.program)).toEqual({
        timeline: [
          "0 TaskAdded root/ingest",
          "0 TaskAdded root/ingest/reader",
          "50 AttemptFailed root/ingest/reader (attempt 1)",
          "150 AttemptFailed root/ingest/reader (attempt 2)",
          "250 AttemptFailed root/ingest/reader (attempt 3)",
          "250 TaskFinished root/ingest/reader Failed",
          "250 RestartIntensityExceeded root/ingest",
          "250 AttemptFailed root/ingest (attempt 1)",
          "500 TaskAdded root/ingest/reader",
          "550 AttemptFailed root/ingest/reader (attempt 1)",
          "650 AttemptFailed root/ingest/reader (attempt 2)",
          "750 AttemptFailed root/ingest/reader (attempt 3)",
          "750 TaskFinished root/ingest/reader Failed",
          "750 RestartIntensityExceeded root/ingest",
          "750 AttemptFailed root/ingest (attempt 2)",
          "750 TaskFinished root/ingest Failed"
        ],
        refused:
          "connection refused (not restarted: the restart intensity of its supervisor (2 in 1000 ms) was exceeded)",
        outcome:
          'Failed: retry limit reached after 1 of 1 retries: supervisor "root/ingest" exceeded its restart intensity of 2 in 1000 ms (last: "reader": connection refused)',
        // 25 runs in each life of ingest (0..240, 500..740): Effect 4's TestClock wakes sleeps due at
        // one instant in registration order, so the reader's failure at 250 (sleep registered at 200)
        // stops the group before the heartbeat's run due at 250 (registered at 240); likewise at 750.
        beats: 50
      })
    })
  )

  it.effect("restart intensity: the window's boundary", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesIntensityWindow.program)).toEqual({
        "100 millis": ["Failed: retry limit reached after 3 of 3 retries: upstream timeout"],
        "200 millis":
          'supervisor "root" exceeded its restart intensity of 1 in 200 ms (last: "poller": upstream timeout)'
      })
    })
  )

  it.effect("escalation", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesEscalate.program)).toEqual({
        finished: [
          "0 root/billing/exporter: Fatal",
          "30 root/billing/migrations: Fatal",
          "30 root/billing/ledger: Canceled",
          "130 root/billing/exporter: Fatal",
          "160 root/billing/migrations: Fatal",
          "160 root/billing/ledger: Canceled",
          "160 root/billing: Failed"
        ],
        billing:
          'Failed: retry limit reached after 1 of 1 retries: supervisor "root/billing" failed: child "migrations" escalated: schema v9 is newer than this build',
        run: 'Escalated: supervisor "root" failed: child "license" escalated: retry limit reached after 2 of 2 retries: license server unreachable'
      })
    })
  )

  it.effect("significant children and autoShutdown", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesSignificant.program)).toEqual({
        autoShutdowns: [
          "250 root/import-any: any-significant, trigger orders",
          "400 root/import-all: all-significant, trigger invoices"
        ],
        at300: ["root/api", "root/import-all", "root/import-all/progress", "root/import-all/invoices"],
        outcomes: [true, true],
        after: ["root/api"]
      })
    })
  )

  it.effect("start and stop order, hung grandchildren by path", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesOrdering.program)).toEqual({
        notes: [
          "0 started metrics",
          "0 started db",
          "0 started cache",
          "0 started api",
          "110 cleaned up api",
          "130 cleaned up metrics",
          "190 cleaned up cache",
          "660 cleaned up db"
        ],
        timeline: [
          "100 stop requested: root/app",
          "100 stop requested: root/metrics",
          "100 stop requested: root/app/api",
          "110 Canceled: root/app/api",
          "110 stop requested: root/app/cache",
          "130 Canceled: root/metrics",
          "160 ForceAborted: root/app/cache (did not stop within its grace of 50 ms)",
          "160 stop requested: root/app/db",
          "300 ForceAborted: root/app (did not stop within the shutdown grace of 200 ms)",
          "300 GraceExceeded at root: stuck app, paths root/app/db",
          "660 Canceled: root/app/db"
        ],
        shutdown: "shutdown exceeded its grace of 200ms; abandoned: root/app/db"
      })
    })
  )

  it.effect("the admission controller", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesController.program)).toEqual({
        busy: "reports: running, owner report-1, 2 queued",
        removed: true,
        next: "report-2",
        outcomes: [
          "Completed",
          "Canceled: stopped by shutdown",
          "Rejected RemovedFromQueue",
          "Rejected QueueFull",
          "Rejected SlotBusy",
          "Rejected ShuttingDown"
        ],
        late: "SupervisorShuttingDown"
      })
    })
  )

  it.effect("latest wins, per tenant", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(treesLatestWins.program)).toEqual({
        outcomes: [
          "reindex-acme-v1: Canceled: stopped by replace",
          "reindex-acme-v2: Rejected SupersededByReplace",
          "reindex-acme-v3: Completed",
          "reindex-globex-v1: Completed"
        ],
        slots: [
          "0 reindex:acme: idle -> running (admitted) owner reindex-acme-v1, 0 queued",
          "0 reindex:globex: idle -> running (admitted) owner reindex-globex-v1, 0 queued",
          "10 reindex:acme: running -> terminating (replace) owner reindex-acme-v1, 1 queued",
          "10 reindex:acme: rejected reindex-acme-v2 (SupersededByReplace)",
          "30 reindex:acme: terminating -> running (admitted) owner reindex-acme-v3, 0 queued",
          "100 reindex:globex: running -> idle (owner exited) owner -, 0 queued",
          "130 reindex:acme: running -> idle (owner exited) owner -, 0 queued"
        ]
      })
    })
  )
})

describe("production", () => {
  it.effect("attempt spans exported with @effect/opentelemetry", () =>
    Effect.gen(function* () {
      expect(yield* underTestClock(productionTracing.program)).toEqual([
        "POST /invoices",
        "fibervisor.task.attempt task=sync path=root/sync attempt=1 outcome=failed, linked to the request",
        "fibervisor.task.attempt task=sync path=root/sync attempt=2 outcome=succeeded, linked to the request"
      ])
    })
  )
})

describe("docs quote the examples verbatim", () => {
  const quoted = pages().flatMap(quotes)

  it("every example is quoted", () => {
    expect(exampleFiles().filter((file) => !quoted.some((quote) => quote.file === file))).toEqual([])
  })

  it.each(quoted.map((quote) => [`${quote.page}: ${quote.file}`, quote] as const))("%s", (_name, quote) => {
    // Out of date? Run `pnpm --filter @fibervisor/examples docs:sync`.
    expect(quote.code).toBe(readExample(quote.file))
  })
})
