/**
 * The workers of `DurableOffload.workers`: per kind, one supervised task (a fibervisor
 * `Supervisor`) that claims due jobs up to the kind's `concurrency` and runs each in a fiber of its
 * own, plus a lease refresher; and the drain that closing the layer runs.
 *
 * Data flow: poller → `store.claim` (free slots only) → `startRun` forks `runJob` (detached: the
 * drain, not the poller's interruption, decides when it stops) → decode the envelope → the handler
 * in a root span linked to the producer's span, under the kind's timeout → `settle`: `complete`,
 * `fail` with the retry time or dead-letter, or — when interrupted from outside — `release`
 * (shutdown), `release` + `cancel` (cancel), or nothing (lease lost).
 *
 * Invariants:
 * - Every row transition of a run happens in the run's own fiber, in an uninterruptible region
 *   after the handler: a run that ends ends its row exactly once, with its own token.
 * - `reason` is set before a run is interrupted from outside; an interruption without a reason
 *   (the handler interrupted itself) is a failed attempt.
 * - Once the drain starts (`stopping`), no row is claimed: a claim that was already under way
 *   releases what it got.
 * - A run whose lease could not be refreshed is interrupted and leaves its row alone: another
 *   worker may own it now.
 * - Time comes from `Clock` only (TestClock governs polls, timeouts, retries, leases and grace).
 */
import { RestartPolicy, Supervisor, Task, TaskContext, type TaskId } from "@fibervisor/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { DurableOffload as Service, JobContext, Registration, WorkersOptions } from "../DurableOffload.js"
import { DurableOffload } from "../DurableOffload.js"
import { type InvalidKind, InvalidOptions } from "../DurableOffloadError.js"
import * as envelope from "./envelope.js"
import type { ResolvedKind } from "./kind.js"
import * as metrics from "./metrics.js"
import { reasonOf } from "./reason.js"
import { delayAfter } from "./retry.js"
import { type Internals, internalsOf, type LocalRun, nextDue, noteDue, resolved, safeRedact } from "./service.js"
import type { JobRow } from "./store.js"
import { queuedEveryMs, releaseWaitMs, type Settings, settings } from "./workerSettings.js"

interface Worker {
  readonly internals: Internals
  readonly settings: Settings
  stopping: boolean
}

const annotations = (kind: ResolvedKind, row: JobRow) => ({
  fibervisor: "durable",
  kind: kind.name,
  key: row.key,
  jobId: row.id,
  attempt: row.attempts
})

const firstLine = reasonOf

/** Starts the workers in the current scope. */
export const start = <R>(
  registrations: ReadonlyArray<Registration<R>>,
  options: WorkersOptions | undefined
): Effect.Effect<void, InvalidKind | InvalidOptions, Service | Scope.Scope | R> =>
  Effect.gen(function* () {
    const s = yield* Result.match(settings(options), { onFailure: Effect.fail, onSuccess: Effect.succeed })
    if (!Array.isArray(registrations)) {
      return yield* new InvalidOptions({
        operation: "workers",
        field: "registrations",
        reason: "must be an array of kind.handle(…)"
      })
    }
    const kinds: Array<{ readonly kind: ResolvedKind; readonly registration: Registration<R> }> = []
    for (const [index, registration] of registrations.entries()) {
      if (typeof registration?.handler !== "function") {
        return yield* new InvalidOptions({
          operation: "workers",
          field: `registrations[${index}]`,
          reason: "must be a kind.handle(…) registration"
        })
      }
      const kind = yield* resolved(registration.kind)
      if (kinds.some((k) => k.kind.name === kind.name)) {
        return yield* new InvalidOptions({
          operation: "workers",
          field: `registrations[${index}]`,
          reason: `registers a second handler of kind "${kind.name}"`
        })
      }
      kinds.push({ kind, registration })
    }
    const service = yield* DurableOffload
    const internals = internalsOf(service)
    if (internals === undefined) {
      return yield* Effect.die(
        new Error("DurableOffload.workers needs the service of DurableOffload.layer (or a layer built on it)")
      )
    }
    for (const { kind } of kinds) {
      if (internals.served.has(kind.name)) {
        return yield* new InvalidOptions({
          operation: "workers",
          field: "registrations",
          reason: `kind "${kind.name}" already has workers on this service (one workers layer per kind)`
        })
      }
    }
    for (const { kind } of kinds) internals.served.add(kind.name)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const { kind } of kinds) internals.served.delete(kind.name)
      })
    )
    const worker: Worker = { internals, settings: s, stopping: false }
    const supervisor = yield* Effect.orDie(Supervisor.make({ grace: "5 seconds" }))
    // Added after the supervisor, so it runs first: drain the runs while the pollers and the lease
    // refreshers still live; then the supervisor's own shutdown stops them.
    yield* Effect.addFinalizer(() => drain(worker))
    for (const { kind, registration } of kinds) {
      yield* Effect.orDie(
        supervisor.add(
          Task.make(taskName(kind.name), poll(worker, kind, registration), { restart: RestartPolicy.onFailure })
        )
      )
    }
  })

/** The poller's task name: "/" separates a task path's segments, so it is replaced. */
export const taskName = (kind: string): string => `durable:${kind.replaceAll("/", "|")}`

/** One kind's poller: claims free slots' worth of due jobs, starts them, waits for a wake or the interval. */
const poll = <R>(worker: Worker, kind: ResolvedKind, registration: Registration<R>) =>
  Effect.gen(function* () {
    const { internals, settings } = worker
    const ctx = yield* TaskContext.TaskContext
    let runs = internals.runs.get(kind.name)
    if (runs === undefined) {
      runs = new Map()
      internals.runs.set(kind.name, runs)
    }
    let wake = Deferred.makeUnsafe<void>()
    internals.wakers.set(kind.name, () => {
      Deferred.doneUnsafe(wake, Exit.void)
    })
    yield* Effect.forkChild(refresh(worker, kind, runs))
    let lastQueuedAt = Number.NEGATIVE_INFINITY
    while (true) {
      if (worker.stopping) return yield* Effect.never
      const free = kind.concurrency - runs.size
      let claimed = 0
      /** When the claim ran: a due time up to it is covered by that claim. */
      let claimedAt = Number.NEGATIVE_INFINITY
      if (free > 0) {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* internals.store.claim({
          kind: kind.name,
          worker: settings.workerId,
          limit: free,
          now,
          lockFor: settings.leaseMs
        })
        claimedAt = now
        claimed = rows.length
        for (const row of rows) {
          if (worker.stopping) {
            yield* Effect.ignore(internals.store.release(row.id, row.token!, now))
            continue
          }
          yield* startRun(worker, kind, registration, runs, row, ctx.id)
        }
      }
      // The queued gauge, read at most every `queuedEveryMs` (a count over a large table is not free).
      const polledAt = yield* Clock.currentTimeMillis
      if (polledAt - lastQueuedAt >= queuedEveryMs) {
        lastQueuedAt = polledAt
        const counts = yield* internals.store.counts(kind.name)
        yield* Metric.update(metrics.of(kind.name).queued, counts.pending)
      }
      const hasRoom = kind.concurrency - runs.size > 0
      // A full batch may leave more due work: claim again at once if a slot is still free.
      if (claimed > 0 && claimed === free && hasRoom) continue
      // Sleep until the interval, a wake (a local enqueue, a freed slot), or — when a slot is free
      // to run it — the time a job this process stored becomes due.
      let waitMs = settings.pollMs
      if (hasRoom) {
        const due = nextDue(internals, kind.name, claimedAt)
        if (due !== undefined) {
          const now = yield* Clock.currentTimeMillis
          if (due <= now) continue
          waitMs = Math.min(waitMs, due - now)
        }
      }
      yield* Effect.raceFirst(Effect.sleep(waitMs), Deferred.await(wake))
      if (Deferred.isDoneUnsafe(wake)) wake = Deferred.makeUnsafe<void>()
    }
  }).pipe(Effect.ensuring(Effect.sync(() => worker.internals.wakers.delete(kind.name))))

/** Extends the leases of this kind's runs; a run whose lease was lost is interrupted. */
const refresh = (worker: Worker, kind: ResolvedKind, runs: Map<string, LocalRun>) =>
  Effect.gen(function* () {
    const { internals, settings } = worker
    while (true) {
      yield* Effect.sleep(settings.refreshMs)
      const held = [...runs.values()].filter((run) => run.reason === undefined)
      if (held.length === 0) continue
      const now = yield* Clock.currentTimeMillis
      const extended = yield* Effect.catchCause(
        internals.store.refresh(
          held.map((run) => ({ id: run.row.id, token: run.row.token! })),
          now,
          settings.leaseMs
        ),
        (cause) =>
          Effect.as(
            Effect.logWarning(`durable lease refresh failed: ${firstLine(cause)}`).pipe(
              Effect.annotateLogs({ fibervisor: "durable", kind: kind.name })
            ),
            undefined
          )
      )
      // A store that failed to answer proves nothing: keep running and try again next time.
      if (extended === undefined) continue
      const kept = new Set(extended)
      for (const run of held) {
        if (kept.has(run.row.id) || run.fiber === undefined || !runs.has(run.row.id)) continue
        run.reason = "lease-lost"
        yield* Effect.forkDetach(Fiber.interrupt(run.fiber))
      }
    }
  })

const startRun = <R>(
  worker: Worker,
  kind: ResolvedKind,
  registration: Registration<R>,
  runs: Map<string, LocalRun>,
  row: JobRow,
  taskId: TaskId.TaskId
) =>
  Effect.gen(function* () {
    const run: LocalRun = { row, reason: undefined, cancelled: undefined, fiber: undefined }
    runs.set(row.id, run)
    const m = metrics.of(kind.name)
    yield* Metric.update(m.active, runs.size)
    const fiber = yield* Effect.forkDetach(
      runJob(worker, kind, registration, run, taskId).pipe(
        Effect.ensuring(
          Effect.suspend(() => {
            runs.delete(row.id)
            worker.internals.wakers.get(kind.name)?.()
            return Metric.update(m.active, runs.size)
          })
        )
      ),
      { startImmediately: false, uninterruptible: false }
    )
    run.fiber = fiber
  })

/** One attempt of one job, and the row transition that ends it. */
const runJob = <R>(
  worker: Worker,
  kind: ResolvedKind,
  registration: Registration<R>,
  run: LocalRun,
  taskId: TaskId.TaskId
) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const { store } = worker.internals
      const row = run.row
      const token = row.token!
      const m = metrics.of(kind.name)
      const started = yield* Clock.currentTimeMillis
      const decoded = yield* Effect.result(envelope.decode(kind.codec, row.payload))
      if (Result.isFailure(decoded)) {
        const reason = `payload does not decode: ${decoded.failure}`
        yield* Metric.update(m.failed, 1)
        yield* Metric.update(m.dead, 1)
        yield* store.fail(row.id, token, { error: reason, retryAt: null, now: started })
        return yield* Effect.logWarning(`durable job dead-lettered: ${reason}`)
      }
      const payload = decoded.success.payload
      const job: JobContext = {
        id: row.id,
        kind: kind.name,
        key: row.key,
        attempt: row.attempts,
        maxAttempts: row.maxAttempts
      }
      const handler = Effect.suspend(() => registration.handler(payload, job))
      const timed =
        kind.timeoutMs === undefined ? Effect.asSome(handler) : Effect.timeoutOption(handler, kind.timeoutMs)
      const link = envelope.link(decoded.success.traceparent)
      const spanned = Effect.withSpan(timed, "fibervisor.durable_offload", {
        root: true,
        links: link === undefined ? [] : [{ span: link, attributes: { "fibervisor.link": "enqueue" } }],
        // The attribute names of core's "fibervisor.offload" span, plus the job and its attempt.
        attributes: { kind: kind.name, key: row.key, jobId: row.id, attempt: row.attempts }
      })
      const exit = yield* Effect.exit(restore(spanned))
      const now = yield* Clock.currentTimeMillis
      yield* Metric.update(m.duration, (now - started) / 1000)
      yield* settle({ worker, kind, run, now, taskId, payload }, exit)
    }).pipe(
      Effect.annotateLogs(annotations(kind, run.row)),
      // The store failed while ending the row: the lease will expire and the job run again.
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.failCause(cause)
          : Effect.logWarning(`durable job could not be ended in the store (it will run again): ${firstLine(cause)}`)
      )
    )
  )

/** What ending one attempt needs: the run, when it ended, and what its logs and retry policy read. */
interface Ending {
  readonly worker: Worker
  readonly kind: ResolvedKind
  readonly run: LocalRun
  readonly now: number
  readonly taskId: TaskId.TaskId
  readonly payload: unknown
}

/** The store, the row and its lease token, and the kind's metrics, as `settle` and `failAttempt` use them. */
const endingParts = ({ kind, run, worker }: Ending) => ({
  store: worker.internals.store,
  row: run.row,
  token: run.row.token!,
  m: metrics.of(kind.name)
})

const settle = (ending: Ending, exit: Exit.Exit<Option.Option<unknown>, unknown>) =>
  Effect.gen(function* () {
    const { kind, now, run } = ending
    const { m, row, store, token } = endingParts(ending)
    if (Exit.isSuccess(exit)) {
      if (Option.isSome(exit.value)) {
        yield* Metric.update(m.completed, 1)
        const ok = yield* store.complete(row.id, token, now)
        if (!ok) yield* Effect.logWarning("durable job completed after its lease was lost: it may run again")
        return
      }
      yield* Metric.update(m.timedOut, 1)
      return yield* failAttempt(ending, `timed out after ${kind.timeoutMs} ms`, true, Cause.empty)
    }
    const cause = exit.cause
    if (run.reason !== undefined && Cause.hasInterrupts(cause)) {
      yield* Metric.update(m.interrupted, 1)
      switch (run.reason) {
        case "shutdown": {
          yield* store.release(row.id, token, now)
          return yield* Effect.logInfo("durable job released at shutdown (the attempt is not counted)")
        }
        case "cancel": {
          yield* store.release(row.id, token, now)
          const outcome = yield* store.cancel(kind.name, row.key, now)
          run.cancelled = outcome === "absent" ? "cancelled" : outcome
          return yield* Effect.logInfo("durable job cancelled while running")
        }
        case "lease-lost":
          return yield* Effect.logWarning("durable job interrupted: its lease was lost (another worker may run it)")
      }
    }
    yield* Metric.update(m.failed, 1)
    return yield* failAttempt(ending, firstLine(cause), false, cause)
  })

const failAttempt = (ending: Ending, reason: string, timedOut: boolean, cause: Cause.Cause<unknown>) =>
  Effect.gen(function* () {
    const { kind, now, payload, taskId, worker } = ending
    const { m, row, store, token } = endingParts(ending)
    const dead = (why: string) =>
      Effect.gen(function* () {
        yield* Metric.update(m.dead, 1)
        yield* store.fail(row.id, token, { error: why, retryAt: null, now })
        yield* Effect.logWarning(`durable job dead-lettered after attempt ${row.attempts}: ${why}`).pipe(
          Effect.annotateLogs({ payload: safeRedact(kind, payload) })
        )
      })
    if (row.attempts >= row.maxAttempts) return yield* dead(reason)
    const next = yield* delayAfter(
      kind.retry,
      {
        task: kind.name,
        id: taskId,
        attempt: row.attempts,
        streak: row.attempts,
        reason,
        timedOut,
        cause,
        kind: kind.name,
        key: row.key,
        jobId: row.id
      },
      now
    )
    if (next._tag === "Ended") return yield* dead(`${reason} (${next.reason})`)
    yield* store.fail(row.id, token, { error: reason, retryAt: now + next.delayMs, now })
    noteDue(worker.internals, kind.name, now + next.delayMs, now)
    yield* Effect.logWarning(
      `durable job attempt ${row.attempts} failed: ${reason}; next attempt in ${next.delayMs} ms`
    )
  })

/** Closing the layer: stop claiming, wait up to `grace`, then interrupt and release what still runs. */
const drain = (worker: Worker) =>
  Effect.gen(function* () {
    worker.stopping = true
    const all = (): Array<LocalRun> => [...worker.internals.runs.values()].flatMap((runs) => [...runs.values()])
    const fibers = (runs: ReadonlyArray<LocalRun>) =>
      runs.flatMap((run) => (run.fiber === undefined ? [] : [run.fiber]))
    const running = all()
    if (running.length === 0) return
    yield* Effect.logInfo(`durable workers draining ${running.length} running job(s)`).pipe(
      Effect.annotateLogs({ fibervisor: "durable" })
    )
    const drained = yield* Effect.interruptible(Fiber.awaitAll(fibers(running))).pipe(
      Effect.timeoutOption(worker.settings.graceMs)
    )
    if (Option.isSome(drained)) return
    const left = all()
    for (const run of left) if (run.reason === undefined) run.reason = "shutdown"
    for (const fiber of fibers(left)) yield* Effect.forkDetach(Fiber.interrupt(fiber))
    const released = yield* Effect.interruptible(Fiber.awaitAll(fibers(left))).pipe(Effect.timeoutOption(releaseWaitMs))
    if (Option.isNone(released)) {
      const stuck = all()
      yield* Effect.logWarning(
        `durable workers abandoned ${stuck.length} job(s) that did not stop: their leases will expire and they will run again`
      ).pipe(
        Effect.annotateLogs({
          fibervisor: "durable",
          jobs: stuck.map((run) => `${run.row.kind}/${run.row.key}`).join(", ")
        })
      )
    }
  })
