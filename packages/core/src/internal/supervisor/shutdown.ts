/**
 * The shutdown of one supervisor (taskvisor's `runtime/shutdown_workflow.rs`; OTP's
 * `terminate_children` with per-child `shutdown` times).
 *
 * **Owns** the one shutdown: its result (set when it starts, completed when it is decided), its
 * start and deadline, `done` (what `join` and the registry wait for), and the count of
 * dynamically added tasks still alive, which the shutdown waits on before it stops static children.
 *
 * **Data flow**: `Supervisor.shutdown`, the scope's finalizer, a failure (intensity, escalation) or
 * an auto-shutdown → `begin` → `haltPending` (queued submissions rejected, group restarts
 * interrupted) → every parked and dynamic task is stopped at once → a fiber waits (within the
 * grace) for the dynamic ones, stops static children one at a time in reverse start order
 * (`stopInTurn`), then `settleAbandoned` → `finish`: `AllStoppedWithinGrace`, or `GraceExceeded`
 * naming the tasks still running (and, through nested supervisors, the deepest ones).
 *
 * **Invariants**
 * - One shutdown per supervisor: `begin` returns the result of the first call to every later one.
 * - Decided once (`finish` is a no-op on a decided result), and synchronously: the decision is made
 *   when `finish` is called, before the effect it returns (the warning line) runs.
 * - Every stop is within the supervisor's grace: a static child without a grace of its own gets an
 *   equal share of the time left (`SHARE`), so one that never stops cannot take its siblings' time;
 *   a stop claimed earlier keeps its own grace clock.
 * - A nested supervisor never decides before its deadline while a fiber under it is still running:
 *   it tells its parent that its subtree is decided (`tellParent`), then waits; a parent whose grace
 *   ends in the same instant decides the child first (`finishIfDue`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { GraceExceeded } from "../../SupervisorError.js"
import { InterruptBatch, unsafeForkRoot } from "../compat.js"
import { timeoutOptionMillis } from "../duration.js"
import type { Entry } from "../entry.js"
import { Phase } from "../entryLifecycle.js"
import { Signal } from "../signal.js"
import { ZeroSignal } from "../zeroSignal.js"
import { allStoppedWithinGrace, graceExceeded, shutdownRequested } from "./events.js"
import type { Registry } from "./registry.js"
import { stuckPaths } from "./snapshot.js"
import { abandon, abandonWith, requestStop, SHARE, startGrace, type StopHost } from "./stop.js"

/** What a shutdown needs from its supervisor. */
export interface ShutdownHost extends StopHost {
  readonly registry: Registry
  /** A nested supervisor waits for its abandoned fibers until its deadline (see the header). */
  readonly isNested: boolean
  /** Stops what must not run once the shutdown began: queued controller submissions, group restarts. */
  haltPending(): void
  /** The `Supervisor.task` whose attempt runs this nested supervisor (told when its subtree is decided). */
  readonly parentEntry: Entry | undefined
}

/** The shutdown of one supervisor. */
export class Shutdown {
  /** Set when the shutdown starts, completed with its result once it is decided. */
  private result: Signal<Exit.Exit<void, GraceExceeded>> | undefined = undefined
  /** When the shutdown began, and its deadline (set with `result`, unless the grace is 0). */
  private startedAt = 0
  private deadline: number | undefined = undefined
  /** Completed when the shutdown has finished (`join` waits for it without starting one). */
  readonly done = new Signal<void>()
  /** Dynamically added tasks whose fiber has not exited yet (static children are stopped one by one). */
  readonly aliveDynamic = new ZeroSignal()

  constructor(private readonly host: ShutdownHost) {}

  /** A dynamically added task's fiber exited (the shutdown waits for those, unless counted out already). */
  dynamicExited(entry: Entry): void {
    if (!entry.isStatic && !entry.countedOut) this.aliveDynamic.decrement()
  }

  /**
   * Every task under `entry`'s nested supervisor has stopped or been abandoned: the stop of `entry`
   * is decided (it is abandoned), though its fiber lives until the abandoned ones really exit.
   */
  subtreeAbandoned(entry: Entry): void {
    if (entry.phase !== Phase.Stopping) return
    abandonWith(this.host, entry, `did not stop: tasks under it were abandoned (${stuckPaths(entry).join(", ")})`)
    // The shutdown stops waiting for it (it still holds its name until its fiber exits).
    if (this.started && !entry.isStatic && !entry.countedOut) {
      entry.countedOut = true
      this.aliveDynamic.decrement()
    }
  }

  /** Tells the parent (a nested supervisor's task) that every task of this subtree has stopped or been abandoned. */
  private tellParent(): void {
    const parent = this.host.parentEntry
    if (parent !== undefined) parent.owner.subtreeAbandoned(parent)
  }

  /** The shutdown has begun (no task is admitted, no attempt starts). */
  get started(): boolean {
    return this.result !== undefined
  }

  /** The supervisor's state, as a tree snapshot shows it. */
  get state(): "running" | "shutting-down" | "stopped" {
    return this.result === undefined ? "running" : this.done.isDone ? "stopped" : "shutting-down"
  }

  /** The shutdown's result, once decided. */
  get exit(): Exit.Exit<void, GraceExceeded> | undefined {
    return this.result?.unsafeValue
  }

  /** Calls `f` once the shutdown has finished, whoever started it, with its `GraceExceeded` if any. */
  onShutdownDone(f: (exceeded: GraceExceeded | undefined) => void): void {
    this.done.listen(() => {
      const exit = this.exit
      try {
        f(
          exit === undefined || Exit.isSuccess(exit)
            ? undefined
            : Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        )
      } catch (defect) {
        // Runs inside the shutdown's bookkeeping (a custom registry may throw): reported, never thrown there.
        unsafeForkRoot(this.host.context, Effect.logError("a shutdown listener failed", Cause.die(defect)))
      }
    })
  }

  /**
   * Starts the one shutdown: dynamically added tasks are stopped together, then static children one
   * at a time in reverse start order, each within its own grace (or an equal share of what is left),
   * all within the supervisor's grace. It is decided once every task has exited or been abandoned.
   */
  begin(requested: boolean): Signal<Exit.Exit<void, GraceExceeded>> {
    if (this.result !== undefined) return this.result
    const result = new Signal<Exit.Exit<void, GraceExceeded>>()
    this.result = result
    if (requested && this.host.listening) this.host.emit(shutdownRequested(this.host.config.path))
    this.host.haltPending()
    for (const entry of this.host.registry.parked()) requestStop(this.host, entry, "shutdown")
    const statics: Array<Entry> = []
    const stops = new InterruptBatch(this.host.registry.size, this.host.fiberId)
    this.host.registry.forEach((entry) => {
      if (entry.isStatic) statics.push(entry)
      else requestStop(this.host, entry, "shutdown", stops)
    })
    stops.send()
    // From here on the registry only shrinks (stops of running fibers are delivered after this step).
    this.host.registry.drain()
    statics.reverse()
    const graceMs = this.host.config.graceMs
    const start = this.host.now()
    if (graceMs === 0) {
      // No grace: decided now, before any fiber has processed its interrupt.
      for (const entry of statics) requestStop(this.host, entry, "shutdown")
      unsafeForkRoot(this.host.context, this.finish(result, start))
      return result
    }
    const deadline = start + graceMs
    this.startedAt = start
    this.deadline = deadline
    const stopStatics = Effect.forEach(
      statics,
      (entry, index) => Effect.suspend(() => this.stopInTurn(entry, statics.length - index, deadline)),
      { discard: true }
    )
    const waitDynamic = timeoutOptionMillis(Effect.interruptible(this.aliveDynamic.await), graceMs)
    unsafeForkRoot(
      this.host.context,
      Effect.andThen(
        Effect.andThen(waitDynamic, stopStatics),
        Effect.suspend(() => {
          for (const entry of statics) requestStop(this.host, entry, "shutdown")
          return this.settleAbandoned(result, start, deadline)
        })
      )
    )
    return result
  }

  /**
   * Stops one static child in its turn and waits until its outcome is decided. `left` children,
   * this one included, are still to be stopped: a child without a grace of its own gets an equal
   * share of the time left, so that one that never stops cannot take its siblings' time.
   */
  private stopInTurn(entry: Entry, left: number, deadline: number): Effect.Effect<void> {
    // Gone, or already abandoned (by a group restart, `remove`, `cancel`): nothing to wait for.
    if (entry.exited || entry.isSettled) return Effect.void
    requestStop(this.host, entry, "shutdown")
    const remaining = deadline - this.host.now()
    if (remaining <= 0 || entry.isSettled) return Effect.void
    // A stop claimed earlier keeps the grace clock it started with (and so its deadline); a
    // restart-now's clock is not a stop's: `requestStop` dropped it, and the share replaces it.
    if (entry.graceTimer === undefined) {
      const own = entry.spec.graceMs
      const budget = own ?? Math.floor(remaining / left)
      // A budget that reaches the deadline is the deadline's to enforce (`the shutdown grace`).
      if (budget < remaining) {
        startGrace(this.host, entry, budget, own === undefined ? SHARE : "its grace")
      }
    }
    if (entry.isSettled) return Effect.void
    return timeoutOptionMillis(Effect.interruptible(entry.settled.await), remaining)
  }

  /**
   * Every task has exited or been abandoned, or the deadline has come. A root decides now; a nested
   * supervisor tells its parent that its subtree is decided, then waits for the abandoned fibers
   * until its deadline, so that its own `GraceExceeded` never comes before the deadline.
   */
  private settleAbandoned(
    result: Signal<Exit.Exit<void, GraceExceeded>>,
    start: number,
    deadline: number
  ): Effect.Effect<void> {
    const now = this.host.now()
    const alive = this.host.registry.stillRunning()
    if (alive.length === 0 || now >= deadline) return this.finish(result, start)
    // A task abandoned without any time to stop (`grace: 0`) is given a millisecond to exit, so
    // that one which stops at once does not count as abandoned here (a real clock may have ticked).
    const fresh = alive.some((entry) => entry.abandonedAtOnce !== undefined && now - entry.abandonedAtOnce <= 1)
    const settle = fresh ? timeoutOptionMillis(Effect.interruptible(this.host.registry.whenEmpty), 1) : Effect.void
    return Effect.andThen(
      settle,
      Effect.suspend(() => {
        if (!this.host.isNested || this.host.registry.stillRunning().length === 0 || this.host.now() >= deadline) {
          return this.finish(result, start)
        }
        this.tellParent()
        return Effect.andThen(
          timeoutOptionMillis(Effect.interruptible(this.host.registry.whenEmpty), deadline - this.host.now()),
          Effect.suspend(() => this.finish(result, start))
        )
      })
    )
  }

  /**
   * The shutdown's deadline is now, but the fiber that decides it at its deadline has not woken yet:
   * it is decided now. A parent whose grace for this supervisor's task ends in the same instant
   * calls this first, so that the subtree's decision (which names the tasks abandoned under it)
   * lands first whichever of the two timers the clock wakes first.
   */
  finishIfDue(): void {
    const result = this.result
    const deadline = this.deadline
    if (result === undefined || result.isDone || deadline === undefined || this.host.now() < deadline) return
    for (const entry of this.host.registry.values()) if (entry.isStatic) requestStop(this.host, entry, "shutdown")
    unsafeForkRoot(this.host.context, this.finish(result, this.startedAt))
  }

  /** Decides the shutdown's result from which fibers have exited; returns the warning to log, if any. */
  private finish(result: Signal<Exit.Exit<void, GraceExceeded>>, start: number): Effect.Effect<void> {
    // Decided already (`finishIfDue`).
    if (result.isDone) return Effect.void
    const stuck = this.host.registry.stillRunning()
    const graceMs = this.host.config.graceMs
    if (stuck.length === 0) {
      if (this.host.listening) this.host.emit(allStoppedWithinGrace(this.host.config.path))
      result.complete(Exit.void)
      this.done.complete(undefined)
      return Effect.void
    }
    for (const entry of stuck) abandon(this.host, entry, graceMs, "the shutdown grace")
    const names = stuck.map((entry) => entry.name)
    const paths = stuck.flatMap(stuckPaths)
    // Decided before the deadline: every task still running was abandoned after its own grace.
    const elapsedMs = this.host.now() - start
    const early = elapsedMs < graceMs
    if (this.host.listening) {
      this.host.emit(graceExceeded(this.host.config.path, graceMs, names, paths, early ? elapsedMs : undefined))
    }
    // Every task under it has now stopped or been abandoned: its parent need not wait for it.
    if (graceMs > 0) this.tellParent()
    const fields = { grace: Duration.millis(graceMs), stuck: names, paths }
    const error = new GraceExceeded(early ? { ...fields, elapsed: Duration.millis(elapsedMs) } : fields)
    result.complete(Exit.fail(error))
    this.done.complete(undefined)
    return Effect.logWarning(error.message).pipe(
      Effect.annotateLogs({ fibervisor: "shutdown", path: this.host.config.path })
    )
  }
}
