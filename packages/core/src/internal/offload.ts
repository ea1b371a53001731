/**
 * The real `Offload` service (`OffloadImpl`) behind `Offload.layer` and `Offload.layerInline`:
 * admission, dedup by key, global and per-kind limits, the queue, timeouts, metrics, the drain.
 *
 * Data flow (register → admission → run → exit → free key): `offer` checks the key; `admit`
 * decides and records the job; `start` makes its root fiber with the caller's context, which
 * `Starts` (offloadStarts.ts) starts after the current synchronous work; `body`
 * (offloadBody.ts) runs the work under its timeout policy and logs its failures; `finished` (the
 * fiber's observer) frees the key and the slot, records the ending (`Kinds.record`,
 * offloadKinds.ts), starts queued work, then wakes the waiters. `close` (the layer's scope) stops
 * admission, then `drain` (offloadDrain.ts) waits within the grace and cuts off the rest. The data
 * structures (`Job`, `KindState`, `KindStats`) are in offloadJob.ts.
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
import type { Offload, OffloadHandle, OffloadOutcome, OffloadSummary } from "../Offload.js"
import * as OffloadKey from "../OffloadKey.js"
import { InvalidArgument } from "../SupervisorError.js"
import { type Caller, captureAsyncContext, withCaller } from "./compat.js"
import { decodeDuration, timeoutToMillis } from "./duration.js"
import { logFailedWhileInterrupted, logFor, rawFailed } from "./offloadBody.js"
import type { ResolvedConfig } from "./offloadConfig.js"
import { type Ending, Job, type KindState, type RecentFailure } from "./offloadJob.js"
import { drain } from "./offloadDrain.js"
import { Kinds } from "./offloadKinds.js"
import { notStarted, Starts } from "./offloadStarts.js"
import * as metrics from "./offloadMetrics.js"
import { ZeroSignal } from "./zeroSignal.js"

/** How many recent failures `summary` keeps per kind. */
export { recentFailuresPerKind } from "./offloadJob.js"

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
  /** The kinds' bookkeeping and counts (`summary`, `retry`). */
  private readonly kinds: Kinds
  private readonly byIdentity = new Map<string, Set<Job>>()
  /** Jobs admitted and not finished (running or queued). */
  private readonly idle: ZeroSignal
  /** Fibers that have not exited yet (for the bounded wait after the drain). */
  private readonly live: ZeroSignal
  /** Starts the fibers of jobs given room, and measures their run time. */
  private readonly starts: Starts

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
    this.kinds = new Kinds(config, clock)
    this.starts = new Starts(clock, (job, exit) => this.finished(job, exit))
  }

  private hasRoom(kind: KindState): boolean {
    return this.running < this.config.maxConcurrent && kind.running < kind.limits.maxConcurrent
  }

  spawn<A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> {
    return withCaller<void, never, R, never>((caller) => this.spawnWith(caller, kind, effect))
  }

  /** `spawn` from the caller's context (the accessor `Offload.spawn` calls it without a step of its own). */
  spawnWith(caller: Caller<any>, kind: string, effect: Effect.Effect<unknown, unknown, any>): Effect.Effect<void> {
    // A kind with bookkeeping was checked when it was made, and keeps its auto key: no key is
    // made nor checked per job.
    const state = this.kinds.existing(kind)
    const admitted =
      state === undefined
        ? this.offer(OffloadKey.auto(kind), effect, caller)
        : this.admit(state, state.autoKey, effect, caller, effect)
    if (admitted instanceof Job) return this.inline ? this.awaitEnd(admitted) : Effect.void
    return typeof admitted === "string" ? Effect.void : admitted
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
    return this.submitAs(key, effect, effect)
  }

  /**
   * `submit` of `effect`, whose recent failure (if it fails) keeps `original` as the work `retry`
   * registers again: the cluster layer submits its registered work wrapped in its slot wait, and
   * a retry must run the work, not a wait for a slot it no longer holds.
   */
  submitAs<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>,
    original: Effect.Effect<unknown, unknown, any>
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    return withCaller<OffloadHandle<A, E>, never, R, never>((caller) => {
      // Only a handle pays for recording the work's exit; `register` and `spawn` never do.
      let exit: Exit.Exit<A, E> | undefined = undefined
      const work = Effect.onExit(effect, (e) =>
        Effect.sync(() => {
          exit = e
        })
      )
      const admitted = this.offer(key, work, caller, original)
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
    if (problem === undefined) return this.admit(this.kinds.state(key.kind), key, effect, caller, original)
    metrics.rejectedWithoutKind.updateUnsafe(1, caller)
    return OffloadKey.logRejected(key, problem)
  }

  /** Atomic check-and-insert: everything between the decision and the bookkeeping is synchronous. */
  private admit(
    kind: KindState,
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<unknown, unknown, any>,
    caller: Caller<any>,
    original: Effect.Effect<unknown, unknown, any>
  ): Job | "deduplicated" | "rejected" {
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
    const job = new Job(key, identity, kind, kind.seriesFor(caller), effect, caller, original, captureAsyncContext())
    this.track(job)
    job.series.spawned.update(1, caller)
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
    job.started = true
    job.series.active.modify(1, job.caller)
    this.live.increment()
    this.starts.add(job)
  }

  /** The job's fiber has exited: free its key and slot, record it, and start queued work. */
  private finished(job: Job, exit: Exit.Exit<unknown, unknown>): void {
    this.running -= 1
    job.kind.running -= 1
    this.untrack(job)
    this.kinds.forget(job.kind)
    const now = this.clock.currentTimeMillisUnsafe()
    const series = job.series
    series.active.modify(-1, job.caller)
    series.duration.update(job.startedAt === notStarted ? 0 : (now - job.startedAt) / 1000, job.caller)
    const ending: Ending | "interrupted" = job.raw
      ? Exit.isSuccess(exit)
        ? "completed"
        : job.stopped
          ? "interrupted"
          : rawFailed(job, exit.cause)
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
    this.kinds.record(job, ending)
    this.pump()
    // Nothing that runs code (a waiter woken inside this call, a log line) came after `now`: the
    // next job to start may take it as its start (see offloadStarts.ts).
    const quiet = ending === "completed" && job.ended === undefined && !job.stopped
    this.wakeEnded(job)
    this.live.decrement()
    if (quiet) this.starts.ended(job, now)
  }

  /**
   * A recent failure by id, and how to take it out of its kind's list: the cluster layer
   * registers the work again through its own claim (`ClusterOffloadImpl.retry`).
   */
  recentFailure(id: string): { readonly failure: RecentFailure; readonly forget: () => void } | undefined {
    const found = this.kinds.findFailure(id)
    return found === undefined ? undefined : { failure: found.failure, forget: () => found.stats.remove(found.failure) }
  }

  retry(id: string): Effect.Effect<Option.Option<OffloadOutcome>> {
    return Effect.suspend((): Effect.Effect<Option.Option<OffloadOutcome>> => {
      const found = this.kinds.findFailure(id)
      if (found !== undefined) {
        const { failure, stats } = found
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
      if (job.done || job.started) continue
      if (!this.hasRoom(job.kind)) continue
      this.waiting -= 1
      this.start(job)
    }
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead]!
      if (!head.done && !head.started) break
      this.queueHead += 1
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead)
      this.queueHead = 0
    }
  }

  /** The jobs a key names: a keyed key names its own jobs, an auto key every job of its kind. */
  private jobsOf(key: OffloadKey.OffloadKey): ReadonlyArray<Job> {
    if (keyProblem(key) !== undefined) return []
    if (key._tag === "Keyed") return Array.from(this.byIdentity.get(identityOf(key)!) ?? [])
    return this.kinds.existing(key.kind)?.jobs() ?? []
  }

  /** Stops a job: a queued one is dropped at once, a running one is interrupted. */
  private stop(job: Job): void {
    if (!job.started) {
      if (!job.done) {
        this.waiting -= 1
        this.untrack(job)
        job.kind.metrics.interrupted.updateUnsafe(1, job.caller)
        this.wakeEnded(job)
      }
      return
    }
    if (job.fiber === undefined) {
      // Given room, but its fiber is made after the current synchronous work (see `Starts`): it
      // ends now, as a fiber interrupted before its first step would (its work never runs).
      if (!job.done) {
        job.stopped = true
        this.finished(job, Exit.interrupt(this.fiberId))
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
    for (const job of jobs) if (!job.started) this.stop(job)
    for (const job of jobs) if (job.started) this.stop(job)
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
      const jobs = this.kinds.allJobs()
      this.stopAll(jobs)
      return Effect.as(this.awaitJobs(jobs), jobs.length)
    })
  }

  /** Waits (interruptibly) until the given jobs' fibers have exited. */
  private awaitJobs(jobs: ReadonlyArray<Job>): Effect.Effect<void> {
    const fibers = jobs.flatMap((job) => (job.fiber === undefined ? [] : [job.fiber]))
    return Effect.interruptible(Effect.forEach(fibers, Fiber.await, { discard: true }))
  }

  get summary(): Effect.Effect<OffloadSummary> {
    return Effect.sync(() => this.kinds.summary())
  }

  get activeCount(): Effect.Effect<number> {
    return Effect.sync(() => this.running)
  }

  get queuedCount(): Effect.Effect<number> {
    return Effect.sync(() => this.waiting)
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
      return drain(this.config.graceMs, this.idle, this.live, () => this.stopAll(this.kinds.allJobs()))
    })
  }
}

const spawned: Effect.Effect<OffloadOutcome> = Effect.succeed("spawned")
const rejectedHandle: OffloadHandle<never, never> = { outcome: "rejected", await: Effect.succeedNone }

/**
 * Builds the service in the current scope. `inline`: a caller of `register` / `spawn` / `submit`
 * waits for the work it admitted; the work still runs in a fiber of its own, as with the real
 * layer, so `cancel` can stop it and interrupting the caller does not.
 */
export const make = (config: ResolvedConfig, inline = false): Effect.Effect<OffloadImpl, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const fiberId = yield* Effect.fiberId
    const service = new OffloadImpl(config, clock, fiberId, inline)
    yield* Effect.addFinalizer(() => service.close)
    return service
  })
