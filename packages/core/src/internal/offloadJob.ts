/**
 * The offload service's data structures: a `Job` (one piece of admitted work), a kind's
 * bookkeeping (`KindState`: its limits and its jobs in flight, a list threaded through the jobs)
 * and a kind's counts and recent failures for `summary` (`KindStats`).
 *
 * Data flow: `OffloadImpl.admit` makes a `Job` and adds it to its `KindState`; `finished` (or
 * `stop`, for a queued job) deletes it; `finished` records the ending in the kind's `KindStats`,
 * which outlive the `KindState` (a kind with nothing in flight may be forgotten).
 *
 * Invariants:
 * - A job is in its kind's list exactly while it is in flight (running or queued, not done).
 * - `KindStats` keeps at most `recentFailuresPerKind` failures, oldest first.
 *
 * @internal
 */
import type * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Context from "effect/Context"
import * as OffloadKey from "../OffloadKey.js"
import type { AsyncContext, Caller } from "./compat.js"
import type { ResolvedKind } from "./offloadConfig.js"
import * as metrics from "./offloadMetrics.js"

/** What the work did, as the job's own fiber saw it (interruption never reaches this). */
export type Ending = "completed" | "failed" | "timed-out"

/** Past this many kinds, idle ones are forgotten (see `forget`), and `summary` counts new ones together. */
export const maxTrackedKinds = 1_000

/** Where `summary` counts the kinds past `maxTrackedKinds` (the metrics' label for them too). */
export const otherKind = "_other"

/**
 * A kind's counts and latest failures for `summary`. Kept apart from `KindState`, which is
 * forgotten when the kind is idle (see `forget`); bounded like the metric labels (`kindStats`).
 */
export class KindStats {
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
export interface RecentFailure {
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
export const maxReason = 500

/** Per-kind bookkeeping: the limits and the jobs of that kind in flight (running or queued). */
export class KindState {
  running = 0
  /** Its jobs in flight, oldest first: a list threaded through the jobs (no hashing per job). */
  first: Job | undefined = undefined
  last: Job | undefined = undefined
  /** How many jobs are in the list. */
  size = 0
  readonly metrics: metrics.KindMetrics
  /** The key of `spawn(kind, …)`: one per kind, made when the kind was checked (keys are immutable). */
  readonly autoKey: OffloadKey.OffloadKey
  /** The last caller's `CallerSeries`, and that caller (held weakly: it must not keep the caller's services alive). */
  private lastCaller: WeakRef<Context.Context<never>> | undefined = undefined
  private lastSeries: metrics.CallerSeries | undefined = undefined
  constructor(
    readonly kind: string,
    readonly limits: ResolvedKind,
    readonly stats: KindStats
  ) {
    this.metrics = metrics.kindLabel(kind)
    this.autoKey = OffloadKey.auto(kind)
  }

  /** The series a job of this kind from `caller` updates (callers in a row usually share one context). */
  seriesFor(caller: Caller<unknown>): metrics.CallerSeries {
    // The newest job in flight holds its caller anyway: in a burst, no weak reference to read.
    if (this.last !== undefined && this.last.caller === caller) return this.last.series
    const context = caller as Context.Context<never>
    if (this.lastSeries !== undefined && this.lastCaller!.deref() === context) return this.lastSeries
    this.lastSeries = new metrics.CallerSeries(this.metrics, context)
    this.lastCaller = new WeakRef(context)
    return this.lastSeries
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
export class Job {
  /** Given room (running, or about to: its fiber is made and started by `Starts`), not queued. */
  started = false
  /** Made when it starts (`Starts`), so that work waiting for its first step holds no fiber. */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** When its fiber took its first step, by the service's clock; `notStarted` (-1) before (offloadStarts.ts). */
  startedAt = -1
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
    /** Its kind's series for its caller (see `KindState.seriesFor`). */
    readonly series: metrics.CallerSeries,
    readonly effect: Effect.Effect<unknown, unknown, unknown>,
    readonly caller: Caller<unknown>,
    /** The work as registered, kept by `summary`'s recent failures for `retry` (`effect` may wrap it). */
    readonly original: Effect.Effect<unknown, unknown, unknown>,
    /** The caller's async context, which its fiber runs in (`AsyncLocalStorage`); dropped once the fiber has it. */
    public asyncContext: AsyncContext
  ) {}
}
