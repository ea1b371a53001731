/**
 * The registry's record of one task (`Entry`), which is also the `TaskContext` its attempts read.
 * An entry lives from `add` until its fiber has exited; a group restart or `restartNow` starts a
 * new fiber on the same entry (`rearm`), so the id, the name and the counters survive it.
 *
 * Data flow: the supervisor makes it (`spawn`), claims its stop, settles its outcome and removes
 * it; the task loop records progress on it (attempt, state, streak, backoff stepper); `list` and
 * `tree` read it. It holds no policy: decisions are made in `taskLoop.ts` and `supervisor.ts`.
 *
 * Invariants:
 * - One writer at a time, its own fiber or the supervisor's synchronous operations: no locks.
 * - `outcome` is written once, by `decide`, which only the supervisor's `settle` calls.
 * - `stopReason` is set once and never cleared: a claimed entry never gets a new fiber.
 * - The phase is read from several fields (docs/ARCHITECTURE.md, "The entry's state"): parked is
 *   `exited` without an outcome, abandoned is an outcome without `exited`.
 *
 * Every task keeps one entry, so it is kept small: the booleans are bits of `flags` (one number,
 * not eleven fields: 1 STATIC, 2 ATTEMPT_RUNNING, 4 PARKING, 8 ESCALATING, 16 EXITED,
 * 32 CANCEL_SENT, 64 BEGUN, 128 RESTART_COUNTED, 256 HELD_BY_GROUP, 512 RESTARTING_NOW,
 * 1024 COUNTED_OUT, each documented on its accessor), state that only trees, restarts and waits use
 * lives in `Rare`, made on first write, and the signals are made when first awaited. `rearm` keeps
 * STATIC, ATTEMPT_RUNNING and ESCALATING and clears the bits that describe one fiber.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { TaskRef } from "../Supervisor.js"
import type { RestartIntensityExceeded } from "../SupervisorError.js"
import type { TaskState as TaskStateSchema } from "../SupervisorEvent.js"
import type * as SupervisorTree from "../SupervisorTree.js"
import type { TaskContext } from "../TaskContext.js"
import type { TaskId } from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import type { TIMED_OUT } from "./attempt.js"
import type { EventBus } from "./bus.js"
import type { Caller, Stepper } from "./compat.js"
import type { Config } from "./options.js"
import type { ReadinessRecord } from "./readiness.js"
import { Signal } from "./signal.js"
import type { Registry } from "./supervisor/registry.js"
import type { StopByRefHost } from "./supervisor/stop.js"
import type { LoopHost } from "./taskLoop.js"
import { taskLabel, type TaskMetrics } from "./taskMetrics.js"
import type { ResolvedTask } from "./task.js"

/** What a task is doing, as `list` reports it (declared once, by `SupervisorEvent.TaskState`). */
export type TaskState = typeof TaskStateSchema.Type

/** Why a stop was requested. */
export type StopReason = "remove" | "cancel" | "shutdown" | "group-restart" | "replace" | "restart-now"

/** What a task's fiber ends with: its outcome, or `RESTART` when it hands its restart to a group restart. */
export const RESTART: unique symbol = Symbol.for("@fibervisor/core/GroupRestart")

/** The value a task's fiber exits with. */
export type LoopResult = TaskOutcome.TaskOutcome | typeof RESTART

/**
 * The supervisor that runs a task, as the task's entry and attempts see it (`SupervisorImpl`
 * implements it). Type-only: this module never loads the supervisor's.
 */
export interface EntryOwner extends LoopHost {
  readonly config: Config
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
  /** Decides its shutdown now if its deadline has come (see `Shutdown.decideIfDue`). */
  decideIfDue(): void
  /** `restartNow` of a path below its parent: `ref` is relative to it. */
  restartByRef(ref: TaskRef): boolean
}

/**
 * The registry's record of one task. Mutated only by its own fiber (progress) and by the
 * supervisor's synchronous operations (stop claims, settling), so it needs no locks. A group
 * restart stops the task's fiber and starts a new one on the same entry (same id, name, counters).
 */
export class Entry implements TaskContext {
  state: TaskState = "waiting"
  attempt = 0
  restarts = 0
  lastFailure: string | undefined = undefined
  nextAttemptAt: number | undefined = undefined
  attemptStartedAt = 0
  /**
   * The failure streak and the running backoff schedule (made on the first failure that steps it);
   * both reset after a success: the stepper is dropped, the next failure makes a new one.
   */
  streak = 0
  backoff: Stepper<unknown, unknown> | undefined = undefined
  stopReason: StopReason | undefined = undefined
  /** What the fiber inherits from the caller that added the task (kept for group restarts). */
  caller: Caller<unknown> | undefined = undefined
  /** The outcome once decided (by the fiber's exit, or by abandonment after grace). */
  outcome: TaskOutcome.TaskOutcome | undefined = undefined
  fiber!: Fiber.Fiber<LoopResult, never>
  // Both signals are made when someone first waits on them: most tasks are never awaited.
  private cancelledSignal: Signal<void> | undefined = undefined
  private settledSignal: Signal<TaskOutcome.TaskOutcome> | undefined = undefined
  /** The `Scope` the current attempt sees; an attempt that ended leaves a closed one. */
  scope: Scope.Closeable | undefined = undefined
  /** One attempt of the task's effect (with its timeout), built on its first attempt. */
  body: Effect.Effect<Exit.Exit<unknown, unknown> | typeof TIMED_OUT> | undefined = undefined

  /** The boolean fields below, one bit each (an entry is kept for every task: every field counts). */
  private flags = 0
  /** State only trees, group restarts, graces and waits use, made on first write. */
  private rare: Rare | undefined = undefined

  constructor(
    readonly id: TaskId,
    readonly spec: ResolvedTask,
    /** The path of the supervisor that runs it (the task's own path is built when first read). */
    readonly parentPath: string,
    /** A static child of `Supervisor.task`: started in order, stopped in reverse order. */
    isStatic: boolean,
    /** The supervisor that runs it. */
    readonly owner: EntryOwner
  ) {
    if (isStatic) this.flags = STATIC
  }

  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0
  }

  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit
  }

  private get rareState(): Rare {
    return (this.rare ??= new Rare())
  }

  /** A static child of `Supervisor.task`: started in order, stopped in reverse order. */
  get isStatic(): boolean {
    return this.flag(STATIC)
  }

  /** An attempt is in flight (for `AttemptCanceled` when a stop interrupts it). */
  get attemptRunning(): boolean {
    return this.flag(ATTEMPT_RUNNING)
  }
  set attemptRunning(on: boolean) {
    this.setFlag(ATTEMPT_RUNNING, on)
  }

  /** The fiber is being stopped by a group restart (it will be started again, unless a real stop comes). */
  get parking(): boolean {
    return this.flag(PARKING)
  }
  set parking(on: boolean) {
    this.setFlag(PARKING, on)
  }

  /** The fiber is being stopped by `restartNow`: a new fiber starts on this entry once it has exited. */
  get restartingNow(): boolean {
    return this.flag(RESTARTING_NOW)
  }
  set restartingNow(on: boolean) {
    this.setFlag(RESTARTING_NOW, on)
  }

  /** The attempt failed with `TaskError.Escalate`. */
  get escalating(): boolean {
    return this.flag(ESCALATING)
  }
  set escalating(on: boolean) {
    this.setFlag(ESCALATING, on)
  }

  /** The fiber has physically exited: the name (and permit) are free. */
  get exited(): boolean {
    return this.flag(EXITED)
  }
  set exited(on: boolean) {
    this.setFlag(EXITED, on)
  }

  /** A stop was requested for the current fiber. */
  get cancelSent(): boolean {
    return this.flag(CANCEL_SENT)
  }

  /** The current fiber has begun an attempt. */
  get begun(): boolean {
    return this.flag(BEGUN)
  }

  /** Its failure already added one to `restarts` for the group restart that will start it again. */
  get restartCounted(): boolean {
    return this.flag(RESTART_COUNTED)
  }
  set restartCounted(on: boolean) {
    this.setFlag(RESTART_COUNTED, on)
  }

  /** Taken along by the group restart under way: a failure of its current attempt joins that restart. */
  get heldByGroup(): boolean {
    return this.flag(HELD_BY_GROUP)
  }
  set heldByGroup(on: boolean) {
    this.setFlag(HELD_BY_GROUP, on)
  }

  /** A dynamic supervisor task whose subtree a shutdown found decided: it no longer waits for its fiber. */
  get countedOut(): boolean {
    return this.flag(COUNTED_OUT)
  }
  set countedOut(on: boolean) {
    this.setFlag(COUNTED_OUT, on)
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

  get name(): string {
    return this.spec.name
  }

  private taskMetrics: TaskMetrics | undefined = undefined
  private fullPath: string | undefined = undefined

  /** `root/db/pool`. */
  get path(): string {
    return (this.fullPath ??= `${this.parentPath}/${this.spec.name}`)
  }

  /** This task's metrics (labelled `task` with its path). */
  get metrics(): TaskMetrics {
    return (this.taskMetrics ??= taskLabel(this.parentPath, this.spec.name))
  }

  /** A stop (or a group restart's stop) was requested: no new attempt may start. */
  get stopRequested(): boolean {
    return this.stopReason !== undefined || this.parking
  }

  /** Progress updates never overwrite `stopping`. */
  setState(state: TaskState): void {
    if (!this.stopRequested) this.state = state
  }

  /** Completed when a stop is requested, before the fiber is interrupted (a fresh one per fiber). */
  private get cancelSignal(): Signal<void> {
    let signal = this.cancelledSignal
    if (signal === undefined) {
      signal = this.cancelledSignal = new Signal()
      if (this.cancelSent) signal.complete(undefined)
    }
    return signal
  }

  /** Tells the current fiber's attempt that a stop was requested (`TaskContext.cancelled`). */
  signalCancelled(): void {
    this.setFlag(CANCEL_SENT, true)
    if (this.cancelledSignal !== undefined) this.cancelledSignal.complete(undefined)
  }

  /** Completed with the outcome. */
  get settled(): Signal<TaskOutcome.TaskOutcome> {
    let signal = this.settledSignal
    if (signal === undefined) {
      signal = this.settledSignal = new Signal()
      if (this.outcome !== undefined) signal.complete(this.outcome)
    }
    return signal
  }

  /** A controller submission brings the signal its handle already waits on. */
  set settled(signal: Signal<TaskOutcome.TaskOutcome>) {
    this.settledSignal = signal
  }

  /** Records the outcome and wakes whoever waits for it. */
  decide(outcome: TaskOutcome.TaskOutcome): void {
    this.outcome = outcome
    if (this.settledSignal !== undefined) this.settledSignal.complete(outcome)
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
    this.setFlag(BEGUN, true)
    this.rare?.startedSignal?.complete(undefined)
  }

  markExited(): void {
    this.exited = true
    this.markStarted()
    this.rare?.goneSignal?.complete(undefined)
  }

  /** Prepares the entry for a new fiber after a group restart stopped the previous one. */
  rearm(): void {
    this.flags &= STATIC | ATTEMPT_RUNNING | ESCALATING
    this.cancelledSignal = undefined
    if (this.rare !== undefined) {
      this.rare.startedSignal = undefined
      this.rare.goneSignal = undefined
    }
    this.state = "waiting"
    this.nextAttemptAt = undefined
  }
}

const STATIC = 1
const ATTEMPT_RUNNING = 2
const PARKING = 4
const ESCALATING = 8
const EXITED = 16
const CANCEL_SENT = 32
const BEGUN = 64
const RESTART_COUNTED = 128
const HELD_BY_GROUP = 256
const RESTARTING_NOW = 512
const COUNTED_OUT = 1024

/** The entry's rarely used state. */
class Rare {
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
