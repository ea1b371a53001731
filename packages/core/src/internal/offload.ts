/**
 * The real `Offload` service (`OffloadImpl`) behind `Offload.layer` and `Offload.layerInline`:
 * admission, dedup by key, global and per-kind limits, the queue, timeouts, metrics, the drain.
 *
 * Data flow (register → admission → run → exit → free key): `offer` checks the key; `admit`
 * decides and records the job; `start` forks it as a root fiber with the caller's context; `body`
 * runs the work under its timeout policy and logs its failures; `finished` (the fiber's observer)
 * frees the key and the slot, records the metrics, starts queued work, then wakes the waiters.
 * `close` (the layer's scope) stops admission, drains within the grace, and cuts off the rest.
 *
 * Invariants:
 * - Admission is one synchronous block: two registrations of one key cannot both pass.
 * - Every exit frees the key: the observer runs even for a job interrupted before its first step,
 *   and `stop` untracks a queued job it drops.
 * - Bookkeeping is finished before anyone is woken or interrupted: Effect 4 runs a woken or an
 *   interrupted fiber inside the call.
 * - A stop drops queued jobs before it interrupts running ones (whose end starts queued work).
 * - The work's failures never reach the caller. Only waits are timed, never the work.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { Offload, OffloadHandle, OffloadKindSummary, OffloadOutcome, OffloadSummary } from "../Offload.js"
import * as OffloadKey from "../OffloadKey.js"
import { InvalidArgument } from "../SupervisorError.js"
import { type Caller, isNativeTracer, parentSpan, unsafeForkDetached, withCaller } from "./compat.js"
import { describeCause } from "./describe.js"
import { decodeDuration, sleepMillis, timeoutToMillis } from "./duration.js"
import type { ResolvedConfig, ResolvedKind, ResolvedTimeout } from "./offloadConfig.js"
import * as metrics from "./offloadMetrics.js"
import { ZeroSignal } from "./zeroSignal.js"

/** What the work did, as the job's own fiber saw it (interruption never reaches this). */
type Ending = "completed" | "failed" | "timed-out"

/** Past this many kinds, idle ones are forgotten (see `forget`), and `summary` counts new ones together. */
const maxTrackedKinds = 1_000

/** Where `summary` counts the kinds past `maxTrackedKinds` (the metrics' label for them too). */
const otherKind = "_other"

const TIMED_OUT: unique symbol = Symbol.for("@fibervisor/core/Offload/TimedOut")

/**
 * A kind's counts and latest failures for `summary`. Kept apart from `KindState`, which is
 * forgotten when the kind is idle (see `forget`); bounded like the metric labels (`kindStats`).
 */
class KindStats {
  completed = 0
  failed = 0
  timedOut = 0
  /** The latest failures, oldest first, at most `recentFailuresPerKind` (each keeps its work for `retry`). */
  private readonly failures: Array<RecentFailure> = []

  record(failure: RecentFailure): void {
    this.failures.push(failure)
    if (this.failures.length > recentFailuresPerKind) this.failures.shift()
  }

  /** Oldest first, as `summary` shows them. */
  recent(): ReadonlyArray<{ readonly id: string; readonly at: number; readonly reason: string }> {
    return this.failures.map(({ at, id, reason }) => ({ id, at, reason }))
  }

  find(id: string): RecentFailure | undefined {
    return this.failures.find((failure) => failure.id === id)
  }

  /** Drops a failure that was retried. */
  remove(failure: RecentFailure): void {
    const index = this.failures.indexOf(failure)
    if (index >= 0) this.failures.splice(index, 1)
  }
}

/**
 * A recent failure, with what it takes to register its work again (`retry`): the key, the work,
 * and the registering caller's services. Bounded: `recentFailuresPerKind` per kind, at most
 * `maxTrackedKinds` kinds (plus `"_other"`).
 */
interface RecentFailure {
  readonly id: string
  readonly at: number
  readonly reason: string
  readonly key: OffloadKey.OffloadKey
  readonly effect: Effect.Effect<unknown, unknown, unknown>
  readonly caller: Caller<unknown>
}

/** How many recent failures `summary` keeps per kind. */
export const recentFailuresPerKind = 10

/** A failure's description is cut to this length in `summary`. */
const maxReason = 500

/** Per-kind bookkeeping: the limits and the jobs of that kind in flight (running or queued). */
class KindState {
  running = 0
  /** Its jobs in flight, oldest first: a list threaded through the jobs (no hashing per job). */
  first: Job | undefined = undefined
  last: Job | undefined = undefined
  /** How many jobs are in the list. */
  size = 0
  readonly metrics: metrics.KindMetrics
  constructor(
    readonly kind: string,
    readonly limits: ResolvedKind,
    readonly stats: KindStats
  ) {
    this.metrics = metrics.kindLabel(kind)
  }

  add(job: Job): void {
    job.prev = this.last
    if (this.last === undefined) this.first = job
    else this.last.next = job
    this.last = job
    this.size += 1
  }

  delete(job: Job): void {
    if (job.prev === undefined) this.first = job.next
    else job.prev.next = job.next
    if (job.next === undefined) this.last = job.prev
    else job.next.prev = job.prev
    job.prev = job.next = undefined
    this.size -= 1
  }

  /** The jobs in flight now, oldest first (a copy: stopping them changes the list). */
  jobs(): Array<Job> {
    const jobs: Array<Job> = []
    for (let job = this.first; job !== undefined; job = job.next) jobs.push(job)
    return jobs
  }
}

/** One piece of admitted work. */
class Job {
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  startedAt = 0
  done = false
  /** Asked to stop (`cancel`, `cancelAll`, the drain): an interruption of its fiber is a stop, not a failure. */
  stopped = false
  /**
   * The fiber runs the work as it is (no timeout: most jobs), and `finished` reads its exit: a
   * success is "completed", a failure "failed" unless the job was stopped. Otherwise the fiber
   * runs `body` and exits with its `Ending`.
   */
  raw = false
  /** Its neighbours in its kind's list of jobs in flight. */
  prev: Job | undefined = undefined
  next: Job | undefined = undefined
  /** Resumed when the job ends; made only when someone waits for it (a handle, an inline caller). */
  ended: Deferred.Deferred<void> | undefined = undefined
  /** How the work failed, described once (set when it failed, read when it has ended). */
  failure: string | undefined = undefined
  constructor(
    readonly key: OffloadKey.OffloadKey,
    readonly identity: string | undefined,
    readonly kind: KindState,
    readonly effect: Effect.Effect<unknown, unknown, unknown>,
    readonly caller: Caller<unknown>,
    /** The work as registered, kept by `summary`'s recent failures for `retry` (`effect` may wrap it). */
    readonly original: Effect.Effect<unknown, unknown, unknown>
  ) {}
}

/** The dedup identity of a keyed key: the kind's length first, so no (key, kind) pair can collide. */
export const identityOf = OffloadKey.identity

/** Checks a key at the boundary; `undefined` when it is usable. */
export const keyProblem = OffloadKey.problemOf

export const decodeTimeout = (
  operation: string,
  timeout: Duration.Input | undefined
): Result.Result<number | undefined, InvalidArgument> =>
  timeout === undefined
    ? Result.succeed(undefined)
    : Result.mapBoth(decodeDuration(timeout), {
        onFailure: (reason) => new InvalidArgument({ operation, field: "timeout", reason }),
        onSuccess: Duration.toMillis
      })

/** The real offload service: bounded, deduplicated, drained on close, measured. */
export class OffloadImpl implements Offload {
  private accepting = true
  private running = 0
  /** Jobs in the queue that have neither started nor been dropped. */
  private waiting = 0
  private readonly queue: Array<Job> = []
  private queueHead = 0
  /** The last id given to a recent failure (`summary`, `retry`). */
  private failureSeq = 0
  private readonly kinds = new Map<string, KindState>()
  /** Per kind, for `summary`: at most `maxTrackedKinds`, later kinds counted under `"_other"`. */
  private readonly stats = new Map<string, KindStats>()
  private readonly byIdentity = new Map<string, Set<Job>>()
  /** Jobs admitted and not finished (running or queued). */
  private readonly idle: ZeroSignal
  /** Fibers that have not exited yet (for the bounded wait after the drain). */
  private readonly live: ZeroSignal

  constructor(
    private readonly config: ResolvedConfig,
    private readonly clock: Clock.Clock,
    /** The fiber that built the service: stops it asks for are made in its name. */
    private readonly fiberId: number,
    /** The inline layer: a caller waits for the work it admitted (which still runs in a fiber of its own). */
    private readonly inline: boolean
  ) {
    this.idle = new ZeroSignal()
    this.live = new ZeroSignal()
  }

  private kindState(kind: string): KindState {
    let state = this.kinds.get(kind)
    if (state === undefined) {
      state = new KindState(kind, this.config.perKind.get(kind) ?? this.config.defaultKind, this.statsOf(kind))
      this.kinds.set(kind, state)
    }
    return state
  }

  private statsOf(kind: string): KindStats {
    let stats = this.stats.get(kind)
    if (stats === undefined) {
      const name = this.stats.size >= maxTrackedKinds ? otherKind : kind
      stats = this.stats.get(name)
      if (stats === undefined) {
        stats = new KindStats()
        this.stats.set(name, stats)
      }
    }
    return stats
  }

  /**
   * Drops the bookkeeping of a kind with nothing in flight once there are many kinds, so ad-hoc
   * kinds (one per tenant, per URL …) do not grow the map without bound. Kinds with their own
   * limits (`perKind`) are kept; a dropped kind is rebuilt on its next registration.
   */
  private forget(kind: KindState): void {
    if (this.kinds.size > maxTrackedKinds && kind.size === 0 && !this.config.perKind.has(kind.kind)) {
      this.kinds.delete(kind.kind)
    }
  }

  private hasRoom(kind: KindState): boolean {
    return this.running < this.config.maxConcurrent && kind.running < kind.limits.maxConcurrent
  }

  spawn<A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> {
    return withCaller<void, never, R, never>((caller) => {
      const admitted = this.offer(OffloadKey.auto(kind), effect, caller)
      if (admitted instanceof Job) return this.inline ? this.awaitEnd(admitted) : Effect.void
      return typeof admitted === "string" ? Effect.void : admitted
    })
  }

  register<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadOutcome, never, R> {
    return withCaller<OffloadOutcome, never, R, never>((caller) => {
      const admitted = this.offer(key, effect, caller)
      if (admitted instanceof Job) return this.inline ? Effect.as(this.awaitEnd(admitted), "spawned" as const) : spawned
      return typeof admitted === "string" ? Effect.succeed(admitted) : Effect.as(admitted, "rejected" as const)
    })
  }

  submit<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    return withCaller<OffloadHandle<A, E>, never, R, never>((caller) => {
      // Only a handle pays for recording the work's exit; `register` and `spawn` never do.
      let exit: Exit.Exit<A, E> | undefined = undefined
      const work = Effect.onExit(effect, (e) =>
        Effect.sync(() => {
          exit = e
        })
      )
      const admitted = this.offer(key, work, caller, effect)
      if (admitted instanceof Job) {
        const handle: OffloadHandle<A, E> = {
          outcome: "spawned",
          // No exit recorded: the work was stopped before its first step (dropped from the queue,
          // cancelled or cut off before it started).
          await: Effect.map(this.awaitEnd(admitted), () => Option.some(exit ?? Exit.interrupt(this.fiberId)))
        }
        return this.inline ? Effect.as(this.awaitEnd(admitted), handle) : Effect.succeed(handle)
      }
      if (typeof admitted !== "string") return Effect.as(admitted, rejectedHandle)
      if (admitted === "rejected") return Effect.succeed(rejectedHandle)
      // Deduplicated: the piece in flight under the same key does the work; wait for that one.
      const inFlight = this.byIdentity.get(identityOf(key)!)!.values().next().value!
      return Effect.succeed<OffloadHandle<A, E>>({
        outcome: "deduplicated",
        await: Effect.as(this.awaitEnd(inFlight), Option.none())
      })
    })
  }

  /** Resumes when `job` has ended (its fiber has exited, or it was dropped from the queue). */
  private awaitEnd(job: Job): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (job.done) return Effect.void
      job.ended ??= Deferred.makeUnsafe<void>()
      return Deferred.await(job.ended)
    })
  }

  /** Admits the work (the job when it was started or queued), or returns the log line that rejects a malformed key. */
  private offer(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<unknown, unknown, any>,
    caller: Caller<any>,
    original: Effect.Effect<unknown, unknown, any> = effect
  ): Job | "deduplicated" | "rejected" | Effect.Effect<void> {
    const problem = keyProblem(key)
    if (problem === undefined) return this.admit(key, effect, caller, original)
    metrics.rejectedWithoutKind.updateUnsafe(1, caller)
    return OffloadKey.logRejected(key, problem)
  }

  /** Atomic check-and-insert: everything between the decision and the bookkeeping is synchronous. */
  private admit(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<unknown, unknown, any>,
    caller: Caller<any>,
    original: Effect.Effect<unknown, unknown, any>
  ): Job | "deduplicated" | "rejected" {
    const kind = this.kindState(key.kind)
    if (!this.accepting) {
      kind.metrics.rejected.updateUnsafe(1, caller)
      return "rejected"
    }
    const identity = identityOf(key)
    if (identity !== undefined && this.config.deduplicate && this.byIdentity.has(identity)) {
      kind.metrics.deduplicated.updateUnsafe(1, caller)
      return "deduplicated"
    }
    const room = this.hasRoom(kind)
    if (!room && this.waiting >= this.config.queue) {
      kind.metrics.rejected.updateUnsafe(1, caller)
      return "rejected"
    }
    const job = new Job(key, identity, kind, effect, caller, original)
    this.track(job)
    kind.metrics.spawned.updateUnsafe(1, caller)
    if (room) {
      this.start(job)
    } else {
      this.waiting += 1
      this.queue.push(job)
    }
    return job
  }

  private track(job: Job): void {
    job.kind.add(job)
    if (job.identity !== undefined) {
      let set = this.byIdentity.get(job.identity)
      if (set === undefined) {
        set = new Set()
        this.byIdentity.set(job.identity, set)
      }
      set.add(job)
    }
    this.idle.increment()
  }

  /** Forgets a job that has ended or was dropped from the queue. Wakes nobody: see `wakeEnded`. */
  private untrack(job: Job): void {
    job.done = true
    job.kind.delete(job)
    if (job.identity !== undefined) {
      const set = this.byIdentity.get(job.identity)
      if (set !== undefined) {
        set.delete(job)
        if (set.size === 0) this.byIdentity.delete(job.identity)
      }
    }
  }

  /**
   * Wakes the fibers waiting for `job` to end, then those waiting for the service to be idle.
   * Always last, once the bookkeeping is done: Effect 4 resumes a waiting fiber inside this call
   * (Effect 3 scheduled it), and it may register, cancel or close at once.
   */
  private wakeEnded(job: Job): void {
    if (job.ended !== undefined) Deferred.doneUnsafe(job.ended, Exit.void)
    this.idle.decrement()
  }

  private start(job: Job): void {
    this.running += 1
    job.kind.running += 1
    job.startedAt = this.clock.currentTimeMillisUnsafe()
    job.kind.metrics.active.modifyUnsafe(1, job.caller)
    this.live.increment()
    job.fiber = unsafeForkDetached(job.caller, this.body(job), (exit) => this.finished(job, exit))
  }

  /**
   * Runs the work with its timeout policy, in a root span linked to the caller's span when a real
   * tracer is installed; failures are logged here and never escape.
   */
  private body(job: Job): Effect.Effect<unknown, unknown> {
    const timeout = job.kind.limits.timeout
    const work = job.effect as Effect.Effect<unknown, unknown>
    const logFailures = job.kind.limits.logFailures
    const failed = (cause: Cause.Cause<unknown>): Effect.Effect<Ending> => {
      // Described once, here: the log line and `summary` share it.
      const failure = describeCause(cause)
      job.failure = failure
      return logFailures
        ? Effect.as(logFor(job, Effect.logWarning(`offloaded work failed: ${failure}`, cause)), "failed")
        : failedEnding
    }
    let run: Effect.Effect<unknown, unknown>
    if (timeout === undefined) {
      // The work as it is: `finished` reads its exit (see `Job.raw`), so a job costs no closure here.
      job.raw = true
      run = work
    } else if (timeout.policy === "warn") {
      run = Effect.andThen(
        // Started inside this step (Effect 4 would start it on the next turn): its timer is armed
        // when the work starts, even if the work is cut off before the scheduler's next turn.
        Effect.forkChild(warnWhenCrossed(job, timeout), { startImmediately: true }),
        Effect.matchCauseEffect(work, { onFailure: failed, onSuccess: succeeded })
      )
    } else {
      // The timeout runs the work in a fiber of its own (Effect's race): when the work is
      // interrupted — by the timeout, or because the job's fiber is (`cancel`, the drain) — its
      // exit reaches neither the job's fiber nor `finished`. The race waits for the interrupted
      // work to exit, so its exit, recorded here, is known once the race has returned.
      let workExit: Exit.Exit<unknown, unknown> | undefined = undefined
      const recorded = logFailures
        ? Effect.onExit(work, (exit) =>
            Effect.sync(() => {
              workExit = exit
            })
          )
        : work
      const reportInterrupted = Effect.suspend(() =>
        workExit !== undefined && failedWhileInterrupted(workExit)
          ? logFor(job, logFailedWhileInterrupted(workExit.cause))
          : Effect.void
      )
      const raced = Effect.flatMap(
        timeoutToMillis<Exit.Exit<unknown, unknown>, Exit.Exit<unknown, unknown> | typeof TIMED_OUT>(
          Effect.exit(recorded),
          timeout.afterMs,
          (exit): Exit.Exit<unknown, unknown> | typeof TIMED_OUT => exit,
          () => TIMED_OUT
        ),
        (result: Exit.Exit<unknown, unknown> | typeof TIMED_OUT): Effect.Effect<Ending> => {
          if (result === TIMED_OUT) {
            return Effect.as(
              Effect.andThen(
                reportInterrupted,
                logFor(
                  job,
                  Effect.logWarning(`offloaded work timed out after ${timeout.afterMs} ms and was interrupted`)
                )
              ),
              "timed-out"
            )
          }
          return Exit.isSuccess(result) ? succeededEnding : failed(result.cause)
        }
      )
      run = logFailures ? Effect.onInterrupt(raced, () => reportInterrupted) : raced
    }
    // Effect's built-in tracer records nothing; skipping the span there saves most of a job's cost.
    if (isNativeTracer(job.caller)) return run
    const parent = parentSpan(job.caller)
    return Effect.withSpan(run, "fibervisor.offload", {
      root: true,
      kind: "internal",
      attributes: { kind: job.kind.kind, key: OffloadKey.format(job.key) },
      links: parent === undefined ? [] : [{ span: parent, attributes: {} }]
    })
  }

  /** The job's fiber has exited: free its key and slot, record it, and start queued work. */
  private finished(job: Job, exit: Exit.Exit<unknown, unknown>): void {
    this.running -= 1
    job.kind.running -= 1
    this.untrack(job)
    this.forget(job.kind)
    const kindMetrics = job.kind.metrics
    kindMetrics.active.modifyUnsafe(-1, job.caller)
    kindMetrics.duration.updateUnsafe((this.clock.currentTimeMillisUnsafe() - job.startedAt) / 1000, job.caller)
    const ending: Ending | "interrupted" = job.raw
      ? Exit.isSuccess(exit)
        ? "completed"
        : job.stopped
          ? "interrupted"
          : this.rawFailed(job, exit.cause)
      : Exit.isSuccess(exit)
        ? (exit.value as Ending)
        : "interrupted"
    if (
      ending === "interrupted" &&
      Exit.isFailure(exit) &&
      !Cause.hasInterruptsOnly(exit.cause) &&
      job.kind.limits.timeout?.policy !== "cancel" &&
      job.kind.limits.logFailures
    ) {
      // The body handles every failure of work that ends by itself: this one was raised while the
      // fiber was being interrupted (a finalizer that died during `cancel` or the drain's cut-off).
      // Under a "cancel" timeout the body reports it itself (see `body`). Logged now, with the
      // caller's loggers: Effect 4 runs a root fiber at once, and logging never suspends, so the
      // line is written before `cancel` or the drain goes on.
      Effect.runForkWith(job.caller)(logFor(job, logFailedWhileInterrupted(exit.cause)))
    }
    const stats = job.kind.stats
    switch (ending) {
      case "completed":
        kindMetrics.completed.updateUnsafe(1, job.caller)
        stats.completed += 1
        break
      case "failed":
        kindMetrics.failed.updateUnsafe(1, job.caller)
        stats.failed += 1
        stats.record(this.failureOf(job, job.failure ?? "failed"))
        break
      case "timed-out":
        kindMetrics.timedOut.updateUnsafe(1, job.caller)
        stats.timedOut += 1
        stats.record(
          this.failureOf(job, `timed out after ${job.kind.limits.timeout?.afterMs ?? 0} ms and was interrupted`)
        )
        break
      case "interrupted":
        kindMetrics.interrupted.updateUnsafe(1, job.caller)
        break
    }
    this.pump()
    this.wakeEnded(job)
    this.live.decrement()
  }

  /**
   * Work run as it is (`Job.raw`) failed by itself: described once (the log line and `summary`
   * share it) and logged as `body` logs it, with the caller's loggers. Effect 4 runs a root fiber
   * at once and logging never suspends, so the line is written before anyone waiting for the job
   * is woken.
   */
  private rawFailed(job: Job, cause: Cause.Cause<unknown>): "failed" {
    const failure = describeCause(cause)
    job.failure = failure
    if (job.kind.limits.logFailures) {
      Effect.runForkWith(job.caller)(logFor(job, Effect.logWarning(`offloaded work failed: ${failure}`, cause)))
    }
    return "failed"
  }

  /** A recent failure of `job`, with a fresh id and what `retry` needs to register its work again. */
  private failureOf(job: Job, reason: string): RecentFailure {
    this.failureSeq += 1
    return {
      id: `f${this.failureSeq}`,
      at: this.clock.currentTimeMillisUnsafe(),
      reason: reason.length <= maxReason ? reason : `${reason.slice(0, maxReason - 1)}…`,
      key: job.key,
      effect: job.original,
      caller: job.caller
    }
  }

  retry(id: string): Effect.Effect<Option.Option<OffloadOutcome>> {
    return Effect.suspend((): Effect.Effect<Option.Option<OffloadOutcome>> => {
      for (const stats of this.stats.values()) {
        const failure = stats.find(id)
        if (failure === undefined) continue
        const admitted = this.offer(failure.key, failure.effect, failure.caller)
        if (!(admitted instanceof Job)) {
          // Refused or deduplicated: the failure stays in the list, retryable later.
          return Effect.succeed(Option.some<OffloadOutcome>(typeof admitted === "string" ? admitted : "rejected"))
        }
        stats.remove(failure)
        const outcome = Option.some<OffloadOutcome>("spawned")
        return this.inline ? Effect.as(this.awaitEnd(admitted), outcome) : Effect.succeed(outcome)
      }
      return Effect.succeedNone
    })
  }

  /** Starts queued jobs, oldest first, while there is room (a job whose kind is full waits its turn). */
  private pump(): void {
    if (this.queueHead === this.queue.length) return
    for (let i = this.queueHead; i < this.queue.length && this.running < this.config.maxConcurrent; i++) {
      const job = this.queue[i]!
      if (job.done || job.fiber !== undefined) continue
      if (!this.hasRoom(job.kind)) continue
      this.waiting -= 1
      this.start(job)
    }
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead]!
      if (!head.done && head.fiber === undefined) break
      this.queueHead += 1
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  /** Every job in flight (running or queued), across kinds. */
  private allJobs(): Array<Job> {
    const jobs: Array<Job> = []
    for (const kind of this.kinds.values()) {
      for (let job = kind.first; job !== undefined; job = job.next) jobs.push(job)
    }
    return jobs
  }

  /** The jobs a key names: a keyed key names its own jobs, an auto key every job of its kind. */
  private jobsOf(key: OffloadKey.OffloadKey): ReadonlyArray<Job> {
    if (keyProblem(key) !== undefined) return []
    if (key._tag === "Keyed") return Array.from(this.byIdentity.get(identityOf(key)!) ?? [])
    return this.kinds.get(key.kind)?.jobs() ?? []
  }

  /** Stops a job: a queued one is dropped at once, a running one is interrupted. */
  private stop(job: Job): void {
    if (job.fiber === undefined) {
      if (!job.done) {
        this.waiting -= 1
        this.untrack(job)
        job.kind.metrics.interrupted.updateUnsafe(1, job.caller)
        this.wakeEnded(job)
      }
      return
    }
    // Effect 4 runs an interrupted fiber's finalizers inside this call when it is suspended, so the
    // job may have finished (and `finished` have run) when this returns.
    job.stopped = true
    job.fiber.interruptUnsafe(this.fiberId)
  }

  /**
   * Stops jobs: the queued ones first, so that a running one whose end starts queued work at once
   * (see `stop`) never starts one of those it was asked to stop.
   */
  private stopAll(jobs: ReadonlyArray<Job>): void {
    for (const job of jobs) if (job.fiber === undefined) this.stop(job)
    for (const job of jobs) if (job.fiber !== undefined) this.stop(job)
  }

  isInFlight(key: OffloadKey.OffloadKey): Effect.Effect<boolean> {
    return Effect.sync(() => this.jobsOf(key).length > 0)
  }

  cancel(key: OffloadKey.OffloadKey): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const jobs = this.jobsOf(key)
      if (jobs.length === 0) return Effect.succeed(false)
      this.stopAll(jobs)
      this.pump()
      return Effect.as(this.awaitJobs(jobs), true)
    })
  }

  get cancelAll(): Effect.Effect<number> {
    return Effect.suspend(() => {
      const jobs = this.allJobs()
      this.stopAll(jobs)
      return Effect.as(this.awaitJobs(jobs), jobs.length)
    })
  }

  /** Waits (interruptibly) until the given jobs' fibers have exited. */
  private awaitJobs(jobs: ReadonlyArray<Job>): Effect.Effect<void> {
    const fibers = jobs.flatMap((job) => (job.fiber === undefined ? [] : [job.fiber]))
    return Effect.interruptible(Effect.forEach(fibers, Fiber.await, { discard: true }))
  }

  get activeCount(): Effect.Effect<number> {
    return Effect.sync(() => this.running)
  }

  get queuedCount(): Effect.Effect<number> {
    return Effect.sync(() => this.waiting)
  }

  get summary(): Effect.Effect<OffloadSummary> {
    return Effect.sync(() => {
      const summaries = new Map<string, OffloadKindSummary>()
      const add = (kind: string, stats: KindStats, active: number, queued: number) => {
        const seen = summaries.get(kind)
        summaries.set(kind, {
          kind,
          active: (seen?.active ?? 0) + active,
          queued: (seen?.queued ?? 0) + queued,
          completed: stats.completed,
          failed: stats.failed,
          timedOut: stats.timedOut,
          recentFailures: stats.recent()
        })
      }
      for (const [kind, stats] of this.stats) add(kind, stats, 0, 0)
      // A kind past the cap is counted under "_other", its work in flight too.
      for (const state of this.kinds.values()) {
        const name = this.stats.get(state.kind) === state.stats ? state.kind : otherKind
        add(name, state.stats, state.running, state.size - state.running)
      }
      return { kinds: Array.from(summaries.values()).sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0)) }
    })
  }

  awaitIdle(timeout?: Duration.Input): Effect.Effect<boolean, InvalidArgument> {
    return Result.match(decodeTimeout("awaitIdle", timeout), {
      onFailure: Effect.fail,
      onSuccess: (ms) =>
        ms === undefined
          ? Effect.as(this.idle.await, true)
          : timeoutToMillis(
              this.idle.await,
              ms,
              () => true,
              () => false
            )
    })
  }

  /** Scope close: stop admission, drain up to `grace`, then cut off what is left. */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.accepting = false
      const graceMs = this.config.graceMs
      const drain =
        graceMs === 0
          ? Effect.succeed(this.idle.count === 0)
          : timeoutToMillis(
              Effect.interruptible(this.idle.await),
              graceMs,
              () => true,
              () => false
            )
      return Effect.flatMap(drain, (drained) => {
        if (drained) return Effect.void
        const cut = this.idle.count
        this.stopAll(this.allJobs())
        // `grace: 0` waits for nothing: the interrupted fibers get one scheduler turn to exit (work
        // that stops at once, or never started, is not reported abandoned); the rest is left behind.
        const settled: Effect.Effect<number> =
          graceMs === 0
            ? Effect.andThen(
                Effect.yieldNow,
                Effect.sync(() => this.live.count)
              )
            : // Bounds the wait for the interrupted fibers, not their finalizers: they run on in
              // their own fibers, and those still running after it are reported abandoned.
              timeoutToMillis(
                Effect.interruptible(this.live.await),
                Math.min(graceMs, 1000),
                () => 0,
                () => this.live.count
              )
        return settled.pipe(
          Effect.flatMap((abandoned) =>
            Effect.logWarning(
              `offload drain: ${cut} piece(s) of work still in flight after the grace of ${graceMs} ms were cut off` +
                (abandoned > 0 ? `; ${abandoned} did not stop and were abandoned` : "")
            )
          ),
          Effect.annotateLogs({ fibervisor: "offload" })
        )
      })
    })
  }
}

const warnWhenCrossed = (job: Job, timeout: ResolvedTimeout) =>
  Effect.andThen(
    sleepMillis(timeout.afterMs),
    logFor(
      job,
      Effect.logWarning(`offloaded work is still running after ${timeout.afterMs} ms (timeout policy "warn")`)
    )
  )

const succeededEnding: Effect.Effect<Ending> = Effect.succeed("completed")
const failedEnding: Effect.Effect<Ending> = Effect.succeed("failed")
const spawned: Effect.Effect<OffloadOutcome> = Effect.succeed("spawned")
const rejectedHandle: OffloadHandle<never, never> = { outcome: "rejected", await: Effect.succeedNone }
const succeeded = (): Effect.Effect<Ending> => succeededEnding

/** The line for a failure or defect raised while the work was being interrupted (annotated by the caller). */
const logFailedWhileInterrupted = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.logWarning(`offloaded work failed while being interrupted: ${describeCause(cause)}`, cause)

/**
 * Did work that was interrupted also fail or die (a finalizer that died during `cancel`, the
 * "cancel" timeout or the drain's cut-off)? Its exit is then an interruption, which the service
 * counts (`interrupted`, `timeout`) but would otherwise never look into. Effect 4's flat cause keeps
 * every reason, so the exit says it (Effect 3 asked the fiber for its pending interruptors).
 */
const failedWhileInterrupted = (exit: Exit.Exit<unknown, unknown>): exit is Exit.Failure<unknown, unknown> =>
  Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause) && (Cause.hasFails(exit.cause) || Cause.hasDies(exit.cause))

/** Annotates a log line with the job's kind and key (only where a line is written: annotating is not free). */
const logFor = (job: Job, log: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.annotateLogs(log, { fibervisor: "offload", kind: job.kind.kind, key: OffloadKey.format(job.key) })

/**
 * Builds the service in the current scope. `inline`: a caller of `register` / `spawn` / `submit`
 * waits for the work it admitted; the work still runs in a fiber of its own, as with the real
 * layer, so `cancel` can stop it and interrupting the caller does not.
 */
export const make = (config: ResolvedConfig, inline = false): Effect.Effect<Offload, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const fiberId = yield* Effect.fiberId
    const service = new OffloadImpl(config, clock, fiberId, inline)
    yield* Effect.addFinalizer(() => service.close)
    return service
  })
