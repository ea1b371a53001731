/**
 * The registry's record of one task (`Entry`), which is also the `TaskContext` its attempts read.
 * An entry lives from `add` until its fiber has exited; a group restart or `restartNow` starts a
 * new fiber on the same entry (`rearm`), so the id, the name and the counters survive it.
 *
 * Data flow: the supervisor makes it (`spawn`), claims its stop, settles its outcome and removes
 * it; the task loop records progress on it (attempt, state, streak, backoff stepper); `list` and
 * `tree` read it. It holds no policy: decisions are made in `taskLoop.ts` and `supervisor/`.
 *
 * **The lifecycle is one field**, `phase` (OTP's single `pid` field of a child is the model),
 * kept with the entry's booleans in one number by its base class, `EntryLifecycle`
 * (`entryLifecycle.ts`, which also holds this table as data). It is read through predicates
 * (`exited`, `isParked`, `isSettled`, `isStopClaimed`, `stopRequested`) and changed only by
 * `transition`, which defects on a move the table does not allow:
 *
 * | phase        | fiber  | meaning                                                  | may become                          |
 * | ------------ | ------ | -------------------------------------------------------- | ----------------------------------- |
 * | `Running`    | alive  | nothing claimed: waiting, running, backing off, scheduled | `Parking`, `Restarting`, `Stopping`, `Exiting` |
 * | `Parking`    | alive  | a group restart stops it (`park`) to start it again      | `Stopping`, `Exiting`               |
 * | `Restarting` | alive  | `restartNow` stops it to start it again at once          | `Stopping`, `Exiting`               |
 * | `Stopping`   | alive  | a stop is claimed (`stopReason`); outcome undecided      | `Abandoned`, `Exiting`              |
 * | `Abandoned`  | alive  | `ForceAborted` after its grace; its name stays taken     | `Ended`                             |
 * | `Exiting`    | exited | `onFiberExit` decides what follows (synchronously)       | `Parked`, `Ended`                   |
 * | `Parked`     | exited | waits for the restart that starts it again (`rearm`)     | `Running`, `Ended`                  |
 * | `Ended`      | exited | the outcome is decided: it leaves the registry           | —                                   |
 *
 * Who moves it: `park`, `restartEntry`, `requestStop`, `claimStop` (a park whose grace ran out;
 * all in `supervisor/stop.ts`), `recordOutcome` (called by `settle`: → `Abandoned`, or `Ended` once the
 * fiber has exited), `markExited` (→ `Exiting`, or `Abandoned` → `Ended`), `onFiberExit`
 * (→ `Parked`), `rearm` (→ `Running`).
 *
 * Invariants:
 * - One writer at a time, its own fiber or the supervisor's synchronous operations: no locks.
 * - `outcome` is written once, by `recordOutcome`, which only the supervisor's `settle` calls.
 * - `stopReason` is set once and never cleared (the claim's data, kept after the fiber exits): a
 *   claimed entry never gets a new fiber.
 *
 * Every task keeps one entry, so it is kept small (an idle task's entry is 11 fields, 112 B): the
 * phase, the booleans, the stop reason and the state share one number (`EntryLifecycle.flags`, its
 * bit layout documented on the field); state that only failures, backoff, restarts, stops, trees
 * and waits use lives in `Rare`, made on first write; the outcome and its signal share one field;
 * the path and the attempt's scope and body are not kept (built, or read from the attempt's
 * context, when needed); the signals are made when first awaited.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type { TaskHandle } from "../Supervisor.js"
import type { InvalidArgument, RestartIntensityExceeded, TaskTerminationTimeout } from "../SupervisorError.js"
import type * as SupervisorTree from "../SupervisorTree.js"
import type { TaskContext } from "../TaskContext.js"
import type { TaskId } from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import type { EventBus } from "./bus.js"
import type { Caller, SeriesIdentity, Stepper } from "./compat.js"
import type { Config } from "./options.js"
import type { ReadinessRecord } from "./readiness.js"
import { EntryLifecycle, type LoopResult, Phase, type TaskState, transition } from "./entryLifecycle.js"
import { Signal } from "./signal.js"
import type { Registry } from "./supervisor/registry.js"
import type { StopByRefHost } from "./supervisor/stop.js"
import type { LoopHost } from "./taskLoop.js"
import { taskLabel, type TaskMetrics } from "./taskMetrics.js"
import { settingsOf } from "./sharedSpec.js"
import type { ResolvedTask, TaskSettings } from "./task.js"

// Declared with the lifecycle; the task loop imports them from here.
export { type LoopResult, RESTART, type StopReason, type TaskState } from "./entryLifecycle.js"

/**
 * The supervisor that runs a task, as the task's entry and attempts see it (`SupervisorImpl`
 * implements it). Type-only: this module never loads the supervisor's.
 */
export interface EntryOwner extends LoopHost {
  readonly config: Config
  /** `config.path` and a slash (see `Entry.path`). */
  readonly pathPrefix: string
  /** `Supervisor.cancel`: what the entry's `cancel` (as the task's handle) calls. */
  cancel(
    ref: TaskId,
    options?: { readonly timeout?: Duration.Input | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument>
  /** The bus the whole tree publishes on (a `Supervisor.task` runs its nested supervisor on it). */
  readonly bus: EventBus
  /** The tree's record of readiness tasks that ended for good (nested supervisors share their root's). */
  readonly readiness: ReadinessRecord
  /**
   * Every task under `entry`'s nested supervisor has stopped or been abandoned: the stop of `entry`
   * is decided, though its fiber lives until the abandoned ones really exit.
   */
  subtreeAbandoned(entry: Entry): void
}

/** The supervisor a `Supervisor.task` attempt runs, as its task's entry sees it (`SupervisorImpl`). */
export interface NestedSupervisor extends StopByRefHost {
  readonly registry: Registry
  /** Its tree, for its parent's snapshot. */
  treeSnapshot(): SupervisorTree.SupervisorTree
  /** Decides its shutdown now if its deadline has come (see `Shutdown.finishIfDue`). */
  finishIfDue(): void
}

/**
 * The registry's record of one task. Mutated only by its own fiber (progress) and by the
 * supervisor's synchronous operations (stop claims, settling), so it needs no locks. A group
 * restart stops the task's fiber and starts a new one on the same entry (same id, name, counters).
 */
export class Entry extends EntryLifecycle implements TaskContext, TaskHandle {
  attempt = 0
  /** When the current attempt started, as an offset from `timeBase` (see `attemptStartedAt`). */
  private startedAt = 0
  /** What the fiber inherits from the caller that added the task (kept for group restarts). */
  caller: Caller<unknown> | undefined = undefined
  /**
   * The identity of the metric series `caller` updates (`compat.seriesIdentityOf`), found once: the
   * task's metric updates compare it instead of finding their series in the context (issue 15).
   */
  series!: SeriesIdentity
  fiber!: Fiber.Fiber<LoopResult, never>
  /**
   * The outcome and the signal that wakes whoever waits for it, in one field: the outcome once
   * decided (by the fiber's exit, or by abandonment after grace), or the signal once someone
   * waits (made when first awaited: most tasks never are), completed with the outcome.
   */
  private settlement: TaskOutcome.TaskOutcome | Signal<TaskOutcome.TaskOutcome> | undefined = undefined

  /**
   * State only failures, restarts, stops, trees, graces and waits use, made on first write: an
   * idle or completed task never makes it (its setters skip writing a default value to an entry
   * that has none).
   */
  private rare: Rare | undefined = undefined

  /**
   * This task's metrics (labelled `task` with its path), looked up once: every attempt updates
   * them twice or more, and the lookup (two maps) cost more than the field (issue 15).
   */
  readonly metrics: TaskMetrics

  /** Its name, unique among the registered tasks of its supervisor. */
  readonly name: string
  /** What each attempt runs. */
  readonly effect: Effect.Effect<unknown, unknown, unknown>
  /** Its settings (its spec without its name and effect: see `sharedSpec.settingsOf`). */
  readonly spec: TaskSettings

  constructor(
    readonly id: TaskId,
    spec: ResolvedTask,
    /** A static child of `Supervisor.task`: started in order, stopped in reverse order. */
    isStatic: boolean,
    /** The supervisor that runs it. */
    readonly owner: EntryOwner
  ) {
    super(isStatic)
    this.name = spec.name
    this.effect = spec.effect
    this.spec = settingsOf(spec)
    this.metrics = taskLabel(owner.config.path, spec.name)
  }

  private get rareState(): Rare {
    return (this.rare ??= new Rare())
  }

  /**
   * When the current attempt started (`host.now()`). Kept as an offset from the first time any
   * entry recorded: a clock reading (≈1.7e12 ms) is not a small integer, so V8 would box it in a
   * 16-byte heap number per entry; the offset stays one (for 24 days of uptime; past that it is
   * boxed again, still exact).
   */
  get attemptStartedAt(): number {
    return this.startedAt + (timeBase ?? 0)
  }
  set attemptStartedAt(at: number) {
    const offset = at - (timeBase ??= at)
    // `| 0` hands V8 a small integer: the difference of two boxed numbers is itself boxed, which
    // would turn the field into a boxed one on every entry. Out of int32 range it stays as is.
    this.startedAt = offset === (offset | 0) ? offset | 0 : offset
  }

  /** How many times it was restarted. */
  get restarts(): number {
    return this.rare?.restarts ?? 0
  }
  set restarts(count: number) {
    if (count !== 0 || this.rare !== undefined) this.rareState.restarts = count
  }

  /** Why its last attempt failed, if one did. */
  get lastFailure(): string | undefined {
    return this.rare?.lastFailure
  }
  set lastFailure(reason: string | undefined) {
    if (reason !== undefined || this.rare !== undefined) this.rareState.lastFailure = reason
  }

  /** When its next attempt starts, while it backs off or waits for its group's restart. */
  get nextAttemptAt(): number | undefined {
    return this.rare?.nextAttemptAt
  }
  set nextAttemptAt(at: number | undefined) {
    if (at !== undefined || this.rare !== undefined) this.rareState.nextAttemptAt = at
  }

  /** The failure streak: reset after a success (with `backoff`). */
  get streak(): number {
    return this.rare?.streak ?? 0
  }
  set streak(count: number) {
    if (count !== 0 || this.rare !== undefined) this.rareState.streak = count
  }

  /**
   * The running backoff schedule (made on the first failure that steps it); reset after a success:
   * the stepper is dropped, the next failure makes a new one.
   */
  get backoff(): Stepper<unknown, unknown> | undefined {
    return this.rare?.backoff
  }
  set backoff(stepper: Stepper<unknown, unknown> | undefined) {
    if (stepper !== undefined || this.rare !== undefined) this.rareState.backoff = stepper
  }

  /** When it was abandoned without any time to stop (`grace: 0`), if it was. */
  get abandonedAtOnce(): number | undefined {
    return this.rare?.abandonedAtOnce
  }
  set abandonedAtOnce(at: number | undefined) {
    this.rareState.abandonedAtOnce = at
  }

  /** The delay the task's own backoff asks for before its group restarts it. */
  get restartDelayMs(): number {
    return this.rare?.restartDelayMs ?? 0
  }
  set restartDelayMs(ms: number) {
    this.rareState.restartDelayMs = ms
  }

  /** Set when this task's refused restart exceeded the intensity: its supervisor fails once it has ended. */
  get failsSupervisor(): RestartIntensityExceeded | undefined {
    return this.rare?.failsSupervisor
  }
  set failsSupervisor(error: RestartIntensityExceeded | undefined) {
    this.rareState.failsSupervisor = error
  }

  /** The supervisor a `Supervisor.task` attempt is running, for tree snapshots. */
  get nested(): NestedSupervisor | undefined {
    return this.rare?.nested
  }
  set nested(supervisor: NestedSupervisor | undefined) {
    this.rareState.nested = supervisor
  }

  get graceTimer(): Fiber.Fiber<void, never> | undefined {
    return this.rare?.graceTimer
  }
  set graceTimer(timer: Fiber.Fiber<void, never> | undefined) {
    if (timer !== undefined || this.rare !== undefined) this.rareState.graceTimer = timer
  }

  /** The running schedule of a `Task.repeat` (kept across failures and group restarts). */
  get repeatStepper(): Stepper<unknown, unknown> | undefined {
    return this.rare?.repeatStepper
  }
  set repeatStepper(stepper: Stepper<unknown, unknown> | undefined) {
    this.rareState.repeatStepper = stepper
  }

  /** A cluster singleton's role, set by its attempt (`taskRole.ts`); shown while an attempt runs. */
  get singleton(): SupervisorTree.SingletonRole | undefined {
    return this.rare?.singleton
  }
  set singleton(role: SupervisorTree.SingletonRole | undefined) {
    if (role !== undefined || this.rare !== undefined) this.rareState.singleton = role
  }

  /** The `TaskContext` every attempt sees: the entry itself (`attempt` is the current attempt). */
  get context(): TaskContext {
    return this
  }

  get cancelled(): Effect.Effect<void> {
    return this.cancelSignal.await
  }

  get isCancelled(): Effect.Effect<boolean> {
    return Effect.sync(() => this.cancelSent)
  }

  // Built when read (rarely): the attempt current at that moment is the one they mark.
  get markReady(): Effect.Effect<void> {
    const attempt = this.attempt
    return Effect.sync(() => {
      if (this.spec.ready === "reported" && this.attempt === attempt && this.attemptRunning) {
        this.rareState.reportedAttempt = attempt
      }
    })
  }

  get markNotReady(): Effect.Effect<void> {
    const attempt = this.attempt
    return Effect.sync(() => {
      if (this.rare !== undefined && this.rare.reportedAttempt === attempt) this.rare.reportedAttempt = 0
    })
  }

  /** A `ready: "reported"` task whose running attempt has called `markReady` (a new attempt starts not ready). */
  get reportedReady(): boolean {
    return this.rare !== undefined && this.rare.reportedAttempt === this.attempt && this.attemptRunning
  }

  /** `root/db/pool` (built when read, a few times per attempt: a field per entry would cost more). */
  get path(): string {
    return this.owner.pathPrefix + this.name
  }

  /** Progress updates never overwrite `stopping`. */
  setState(state: TaskState): void {
    if (!this.stopRequested) this.state = state
  }

  /** Completed when a stop is requested, before the fiber is interrupted (a fresh one per fiber). */
  private get cancelSignal(): Signal<void> {
    const rare = this.rareState
    let signal = rare.cancelledSignal
    if (signal === undefined) {
      signal = rare.cancelledSignal = new Signal()
      if (this.cancelSent) signal.complete(undefined)
    }
    return signal
  }

  /** Tells the current fiber's attempt that a stop was requested (`TaskContext.cancelled`). */
  signalCancelled(): void {
    this.markCancelSent()
    this.rare?.cancelledSignal?.complete(undefined)
  }

  /** The outcome once decided (by the fiber's exit, or by abandonment after grace). */
  get outcome(): TaskOutcome.TaskOutcome | undefined {
    const settlement = this.settlement
    return settlement instanceof Signal ? settlement.unsafeValue : settlement
  }

  /** Completed with the outcome. */
  get settled(): Signal<TaskOutcome.TaskOutcome> {
    const settlement = this.settlement
    if (settlement instanceof Signal) return settlement
    const signal = new Signal<TaskOutcome.TaskOutcome>()
    if (settlement !== undefined) signal.complete(settlement)
    this.settlement = signal
    return signal
  }

  /**
   * A controller submission brings the signal its handle already waits on (at spawn: no outcome
   * yet; one already recorded would complete it, so that `outcome` keeps reading it).
   */
  set settled(signal: Signal<TaskOutcome.TaskOutcome>) {
    const outcome = this.outcome
    this.settlement = signal
    if (outcome !== undefined) signal.complete(outcome)
  }

  /**
   * Records the outcome (→ `Ended` once the fiber has exited, else `Abandoned`) and wakes whoever
   * waits for it. Written once (`settle` decides it once), into the signal if someone waits.
   */
  recordOutcome(outcome: TaskOutcome.TaskOutcome): void {
    transition(this, this.exited ? Phase.Ended : Phase.Abandoned)
    const settlement = this.settlement
    if (settlement instanceof Signal) settlement.complete(outcome)
    else this.settlement = outcome
  }

  // ---- as the task's handle (`add` returns the entry itself: no handle object per task) ----

  /** `TaskHandle.await`: resumes with the outcome once it is decided. */
  get await(): Effect.Effect<TaskOutcome.TaskOutcome> {
    return this.settled.await
  }

  /** `TaskHandle.poll`: the outcome, if decided (read without making the signal). */
  get poll(): Effect.Effect<Option.Option<TaskOutcome.TaskOutcome>> {
    return Effect.sync(() => Option.fromNullishOr(this.outcome))
  }

  /** `TaskHandle.cancel`: `Supervisor.cancel` of this task, by its id. */
  cancel(options?: {
    readonly timeout?: Duration.Input | undefined
  }): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> {
    return this.owner.cancel(this.id, options)
  }

  /** Resumes when the current fiber began its first attempt, or exited before. */
  get started(): Effect.Effect<void> {
    if (this.exited || this.begun) return Effect.void
    return (this.rareState.startedSignal ??= new Signal()).await
  }

  /** Resumes when the current fiber has exited. */
  get gone(): Effect.Effect<void> {
    if (this.exited) return Effect.void
    return (this.rareState.goneSignal ??= new Signal()).await
  }

  markStarted(): void {
    if (this.begun) return
    this.markBegun()
    this.rare?.startedSignal?.complete(undefined)
  }

  /** The current fiber has exited: `Exiting` (`onFiberExit` decides what follows), or `Ended` when abandoned. */
  markExited(): void {
    transition(this, this.phase === Phase.Abandoned ? Phase.Ended : Phase.Exiting)
    this.markStarted()
    this.rare?.goneSignal?.complete(undefined)
  }

  /** Prepares a parked entry for a new fiber (see `rearmLifecycle`); its signals are made afresh. */
  rearm(): void {
    this.rearmLifecycle()
    if (this.rare !== undefined) {
      this.rare.cancelledSignal = undefined
      this.rare.startedSignal = undefined
      this.rare.goneSignal = undefined
    }
    this.state = "waiting"
    this.nextAttemptAt = undefined
  }
}

/**
 * The first clock reading an entry recorded: `attemptStartedAt` is kept as an offset from it. Set
 * once per process; a later clock (a `TestClock` near 0) gives negative offsets, still exact.
 */
let timeBase: number | undefined = undefined

/** The entry's rarely used state. */
class Rare {
  restarts = 0
  lastFailure: string | undefined = undefined
  nextAttemptAt: number | undefined = undefined
  streak = 0
  backoff: Stepper<unknown, unknown> | undefined = undefined
  cancelledSignal: Signal<void> | undefined = undefined
  restartDelayMs = 0
  failsSupervisor: RestartIntensityExceeded | undefined = undefined
  nested: NestedSupervisor | undefined = undefined
  graceTimer: Fiber.Fiber<void, never> | undefined = undefined
  startedSignal: Signal<void> | undefined = undefined
  goneSignal: Signal<void> | undefined = undefined
  /** The attempt that reported itself ready (`TaskContext.markReady`); 0 for none. */
  reportedAttempt = 0
  repeatStepper: Stepper<unknown, unknown> | undefined = undefined
  singleton: SupervisorTree.SingletonRole | undefined = undefined
  abandonedAtOnce: number | undefined = undefined
}

/** The entry behind a `TaskContext` the supervisor made, if it is one. */
export const entryOf = (context: TaskContext): Entry | undefined => (context instanceof Entry ? context : undefined)
