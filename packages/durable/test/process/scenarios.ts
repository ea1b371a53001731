/**
 * The fault scenarios of the real-process tests, shared by the Postgres and SQLite files: real
 * worker processes (fixture.ts) on a fresh store table (or file) per scenario run, faults by real
 * signals, then every invariant of invariants.ts checked on what the store and the run log hold.
 *
 * - kill: worker `a` holds three jobs (two `work`, one `once` of maxAttempts 1) when it is SIGKILLed
 *   while `b` works; the `work` jobs are re-run by `b` as attempt 2 after the lease expires, the
 *   `once` job is dead-lettered at expiry; failing jobs are dead-lettered after maxAttempts.
 * - stop: worker `a` holds a long job and a short one when it is SIGTERMed; the short one completes
 *   within the grace, the long one is interrupted after the grace and released (attempt not
 *   counted), and `b` (started at the signal) runs it as attempt 1 again; `a` claims nothing after
 *   the signal and exits.
 * - pause: worker `a` is SIGSTOPped while holding a job; its lease expires and `b` runs the job as
 *   attempt 2; then the job's gate opens and `a` gets SIGCONT: its late run finishes but changes
 *   nothing (fenced by the lease token). On SQLite, `a` stopped inside a write transaction holds
 *   the file's lock and blocks every writer: detected, reported, and the pause retried.
 *   The overlap is reported as a lease-expiry overlap.
 *
 * Each function returns the verdict (violations are asserted empty by the caller, with the
 * scenario's own expectations).
 */
import { Effect, ManagedRuntime, Option } from "effect"
import { DurableOffload } from "../../src/index.js"
import { type Harness, makeHarness, waitFor, type Worker } from "./harness.js"
import { type Expected, type Final, check, jobId, type Verdict } from "./invariants.js"
import { type KindName, kinds, maxAttemptsOf, type Payload } from "./kinds.js"
import type { Run, RunLog } from "./runLog.js"
import { durableLayer } from "./stores.js"

/** Where a scenario's store lives. */
export interface Backend {
  readonly store: "pg" | "sqlite"
  /** The store location (Postgres URL or SQLite file) of a scenario run's table. */
  readonly location: (table: string) => string
  /** The Postgres URL of the run log. */
  readonly logUrl: string
  readonly log: RunLog
}

export const settings = { leaseMs: 2000, pollMs: 100, graceMs: 2000, concurrency: 2 } as const

/** The producer side of a scenario: enqueue and inspect on the same store as the workers. */
interface Producer {
  readonly enqueue: (kind: KindName, payload: Payload) => Promise<DurableOffload.EnqueueOutcome>
  readonly final: (kind: KindName, key: string) => Promise<Final | undefined>
  readonly close: () => Promise<void>
}

const producerOf = (backend: Backend, table: string): Producer => {
  const runtime = ManagedRuntime.make(durableLayer(backend.store, backend.location(table), table))
  const declared = kinds(settings.concurrency)
  return {
    enqueue: (kind, payload) => runtime.runPromise(DurableOffload.enqueue(declared[kind], payload)),
    final: (kind, key) =>
      runtime.runPromise(
        DurableOffload.inspect(declared[kind], key).pipe(
          Effect.map(
            Option.match({ onNone: () => undefined, onSome: (job) => ({ status: job.status, attempts: job.attempts }) })
          )
        )
      ),
    close: () => runtime.dispose()
  }
}

const job = (key: string, over: Partial<Payload> = {}): Payload => ({
  key,
  ms: 300,
  fail: false,
  slowOn: "",
  slowMs: 0,
  ...over
})

/** Everything one scenario run needs, and the final check. */
const run = async (
  backend: Backend,
  table: string,
  body: (context: {
    readonly harness: Harness
    readonly producer: Producer
    /** Enqueues a new key (must be accepted) and records what it should end as. */
    readonly enqueue: (kind: KindName, payload: Payload, outcome: Expected["outcome"]) => Promise<void>
    /** Offers a key again; returns the outcome. */
    readonly offer: (kind: KindName, payload: Payload) => Promise<DurableOffload.EnqueueOutcome>
    /** Every run of this scenario run so far. */
    readonly allRuns: () => Promise<ReadonlyArray<Run>>
    readonly runsOf: (worker: Worker) => Promise<ReadonlyArray<Run>>
    /** `waitFor`, whose failure shows the runs so far and every worker's output. */
    readonly until: (condition: () => Promise<boolean>, what: string) => Promise<void>
  }) => Promise<void>
): Promise<Verdict> => {
  const producer = producerOf(backend, table)
  const harness = makeHarness({
    store: backend.store,
    storeLocation: backend.location(table),
    logUrl: backend.logUrl,
    tableName: table,
    ...settings
  })
  const expected: Array<Expected> = []
  const prefix = `${table}-`
  const runsOf = async (worker: Worker) => (await backend.log.runs(prefix)).filter((r) => r.pid === worker.pid)
  const workers: Array<Worker> = []
  const concurrencyOf = new Map<number, number>()
  const outputs = () => workers.map((w) => `\n--- ${w.name} (pid ${w.pid}):\n${w.output()}`).join("")
  const until = (condition: () => Promise<boolean>, what: string) =>
    waitFor(condition, async () => `${what}; runs ${JSON.stringify(await backend.log.runs(prefix))}${outputs()}`)
  try {
    await body({
      harness: {
        ...harness,
        start: async (name, overrides) => {
          const worker = await harness.start(name, overrides)
          concurrencyOf.set(worker.pid, overrides?.concurrency ?? settings.concurrency)
          workers.push(worker)
          return worker
        }
      },
      producer,
      enqueue: async (kind, payload, outcome) => {
        const keyed = { ...payload, key: `${prefix}${payload.key}` }
        const result = await producer.enqueue(kind, keyed)
        if (result !== "enqueued") throw new Error(`enqueue ${kind}/${keyed.key}: ${result}`)
        expected.push({ kind, key: keyed.key, maxAttempts: maxAttemptsOf[kind], outcome })
      },
      offer: (kind, payload) => producer.enqueue(kind, { ...payload, key: `${prefix}${payload.key}` }),
      allRuns: () => backend.log.runs(prefix),
      runsOf,
      until
    })
    // Settled: every key is final and no live process has a run still going.
    const killed = new Set(
      harness
        .signals()
        .filter((s) => s.signal === "SIGKILL")
        .map((s) => s.pid)
    )
    const finals = new Map<string, Final | undefined>()
    await waitFor(
      async () => {
        for (const e of expected) finals.set(jobId(e.kind, e.key), await producer.final(e.kind as KindName, e.key))
        const settled = [...finals.values()].every((f) => f?.status === "completed" || f?.status === "failed")
        const runs = await backend.log.runs(prefix)
        return settled && runs.every((r) => r.outcome !== "running" || killed.has(r.pid))
      },
      async () =>
        `every job to end: ${JSON.stringify(Object.fromEntries(finals))}; runs ${JSON.stringify(await backend.log.runs(prefix))}` +
        outputs(),
      90_000,
      200
    )
    const exits = new Map<number, number>()
    for (const w of workers) if (w.exitedAt() !== undefined) exits.set(w.pid, w.exitedAt()!)
    return check({
      expected,
      finals,
      runs: await backend.log.runs(prefix),
      signals: harness.signals(),
      exits,
      graceMs: settings.graceMs,
      concurrencyOf,
      now: Date.now()
    })
  } finally {
    await harness.close()
    await producer.close()
  }
}

const running = (runs: ReadonlyArray<Run>) => runs.filter((r) => r.outcome === "running")

/** SIGKILL of a worker holding jobs (see the module header). */
export const killScenario = (backend: Backend, table: string) =>
  run(backend, table, async ({ enqueue, harness, runsOf, until }) => {
    const a = await harness.start("a")
    // Concurrency is per kind: two held `work` jobs fill a's `work` slots, so only b runs the rest.
    await enqueue("once", job("held-once", { slowOn: "a", slowMs: 120_000 }), "failed")
    await enqueue("work", job("held-work-1", { slowOn: "a", slowMs: 120_000 }), "completed")
    await enqueue("work", job("held-work-2", { slowOn: "a", slowMs: 120_000 }), "completed")
    await until(async () => running(await runsOf(a)).length === 3, "a to hold the three jobs")
    for (let i = 0; i < 8; i++) await enqueue("work", job(`k${i}`), "completed")
    await enqueue("work", job("fails", { fail: true, ms: 50 }), "failed")
    await enqueue("once", job("fails-once", { fail: true, ms: 50 }), "failed")
    const b = await harness.start("b")
    await until(async () => (await runsOf(b)).filter((r) => r.outcome !== "running").length >= 2, "b to run two jobs")
    harness.kill(a)
    await harness.awaitExit(a)
  })

/** SIGTERM of a worker holding a long and a short job (see the module header). */
export const stopScenario = (backend: Backend, table: string) =>
  run(backend, table, async ({ enqueue, harness, runsOf, until }) => {
    const a = await harness.start("a")
    await enqueue("work", job("long", { slowOn: "a", slowMs: 120_000 }), "completed")
    await enqueue("work", job("short", { slowOn: "a", slowMs: 1000 }), "completed")
    await until(async () => running(await runsOf(a)).length === 2, "a to hold both jobs")
    for (let i = 0; i < 4; i++) await enqueue("work", job(`k${i}`), "completed")
    harness.stop(a)
    await harness.start("b")
    await harness.awaitExit(a)
  })

/** SIGSTOP past the lease, then SIGCONT (see the module header). */
export const pauseScenario = (backend: Backend, table: string) =>
  run(backend, table, async ({ enqueue, harness, offer, producer, runsOf, until }) => {
    const a = await harness.start("a")
    await enqueue("work", job("held", { slowOn: "a", slowMs: 120_000 }), "completed")
    await until(async () => running(await runsOf(a)).length === 1, "a to hold the job")
    await harness.start("b")
    // On SQLite a process stopped inside a write transaction (a poll's claim, a lease refresh)
    // keeps the file's write lock: every other writer waits, then fails with a lock timeout. The
    // probe enqueue finds it; `a` is then resumed and paused again (at most 3 times), and each
    // occurrence is reported.
    for (let attempt = 1; ; attempt++) {
      harness.pause(a)
      try {
        await enqueue("work", job(`k-probe-${attempt}`), "completed")
        break
      } catch (error) {
        if (backend.store !== "sqlite" || !hasTag(error, "LockTimeoutError") || attempt === 3) throw error
        console.info(`[pause ${table}] a was stopped holding the SQLite write lock (try ${attempt}); resumed`)
        harness.resume(a)
        // A write that waits for the lock (the held key offered again: deduplicated, no new job)
        // returns once the resumed `a` has committed.
        await offer("work", job("held", { slowOn: "a", slowMs: 120_000 }))
      }
    }
    for (let i = 0; i < 3; i++) await enqueue("work", job(`k${i}`), "completed")
    await until(
      async () => (await producer.final("work", `${table}-held`))?.status === "completed",
      "b to run the held job once a's lease expired"
    )
    await backend.log.openGate(`${table}-held`)
    harness.resume(a)
    await until(
      async () => (await runsOf(a)).every((r) => r.outcome !== "running"),
      "a's late run to finish after SIGCONT"
    )
  })

/** Whether `value` or a `cause` / `reason` below it (a few levels) has `_tag === tag`. */
const hasTag = (value: unknown, tag: string, depth = 0): boolean => {
  if (typeof value !== "object" || value === null || depth > 6) return false
  const record = value as { readonly _tag?: unknown; readonly cause?: unknown; readonly reason?: unknown }
  return record._tag === tag || hasTag(record.cause, tag, depth + 1) || hasTag(record.reason, tag, depth + 1)
}

/**
 * A crowd: three workers (concurrency 4 each) on 150 keys, each offered twice back to back (the
 * second offer must be deduplicated: the key is in flight); `c` is SIGKILLed after 30 runs ended and
 * `b` SIGTERMed after 80, `a` finishes the rest.
 */
export const crowdScenario = (backend: Backend, table: string) =>
  run(backend, table, async ({ allRuns, enqueue, harness, offer, until }) => {
    const [, b, c] = await Promise.all(["a", "b", "c"].map((name) => harness.start(name, { concurrency: 4 })))
    const duplicates: Array<string> = []
    for (let i = 0; i < 150; i++) {
      await enqueue("work", job(`k${i}`, { ms: 150 }), "completed")
      const again = await offer("work", job(`k${i}`, { ms: 150 }))
      if (again !== "deduplicated") duplicates.push(`k${i}: ${again}`)
    }
    if (duplicates.length > 0)
      throw new Error(`second offers of in-flight keys not deduplicated: ${duplicates.join(", ")}`)
    const ended = async () => (await allRuns()).filter((r) => r.outcome !== "running").length
    await until(async () => (await ended()) >= 30, "30 runs to end")
    harness.kill(c!)
    await until(async () => (await ended()) >= 80, "80 runs to end")
    harness.stop(b!)
    await harness.awaitExit(b!)
  })
