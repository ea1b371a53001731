import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as MetricLabel from "effect/MetricLabel"
import type { RestartIntensityExceeded } from "../SupervisorError.js"
import type { TaskContext } from "../TaskContext.js"
import type { TaskId } from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import { AttemptScope } from "./attemptScope.js"
import { type Caller, initialState } from "./compat.js"
import { Signal } from "./signal.js"
import { taskLabel } from "./taskMetrics.js"
import type { ResolvedTask } from "./task.js"

/** What a task is doing, as `list` reports it. */
export type TaskState = "waiting" | "running" | "backing-off" | "stopping"

/** Why a stop was requested. */
export type StopReason = "remove" | "cancel" | "shutdown" | "group-restart" | "replace"

/** What a task's fiber ends with: its outcome, or `RESTART` when it hands its restart to a group restart. */
export const RESTART: unique symbol = Symbol.for("@fibervisor/core/GroupRestart")

/** The value a task's fiber exits with. */
export type LoopResult = TaskOutcome.TaskOutcome | typeof RESTART

/**
 * The registry's record of one task. Mutated only by its own fiber (progress) and by the
 * supervisor's synchronous operations (stop claims, settling), so it needs no locks. A group
 * restart stops the task's fiber and starts a new one on the same entry (same id, name, counters).
 */
export class Entry {
  state: TaskState = "waiting"
  attempt = 0
  restarts = 0
  lastFailure: string | undefined = undefined
  nextAttemptAt: number | undefined = undefined
  attemptStartedAt = 0
  /** An attempt is in flight (for `AttemptCanceled` when a stop interrupts it). */
  attemptRunning = false
  /** The failure streak and the backoff schedule's state; both reset after a success. */
  streak = 0
  schedule: unknown
  stopReason: StopReason | undefined = undefined
  /** The fiber is being stopped by a group restart (it will be started again, unless a real stop comes). */
  parking = false
  /** The delay the task's own backoff asks for before its group restarts it. */
  restartDelayMs = 0
  /** The attempt failed with `TaskError.Escalate`. */
  escalating = false
  /** Set when this task's refused restart exceeded the intensity: its supervisor fails once it has ended. */
  failsSupervisor: RestartIntensityExceeded | undefined = undefined
  /** What the fiber inherits from the caller that added the task (kept for group restarts). */
  caller: Caller<unknown> | undefined = undefined
  /** The outcome once decided (by the fiber's exit, or by abandonment after grace). */
  outcome: TaskOutcome.TaskOutcome | undefined = undefined
  /** The fiber has physically exited: the name (and permit) are free. */
  exited = false
  fiber!: Fiber.RuntimeFiber<LoopResult, never>
  graceTimer: Fiber.RuntimeFiber<void, never> | undefined = undefined
  /** Completed when a stop is requested, before the fiber is interrupted (a fresh one per fiber). */
  cancelled = new Signal<void>()
  /** Completed with the outcome (a controller submission brings the one its handle already waits on). */
  settled = new Signal<TaskOutcome.TaskOutcome>()
  /** The `Scope` every attempt sees (a fresh real scope per attempt). */
  readonly scope = new AttemptScope()
  /** The `TaskContext` every attempt sees; `attempt` reads the current attempt. */
  readonly context: TaskContext
  /** The supervisor a `Supervisor.task` attempt is running, for tree snapshots. */
  nested: unknown = undefined
  /** The task's loop (`taskLoop`), built on its first start and reused by group restarts. */
  loop: Effect.Effect<LoopResult> | undefined = undefined
  /** The current fiber has begun an attempt. */
  begun = false
  private startedSignal: Signal<void> | undefined = undefined
  private goneSignal: Signal<void> | undefined = undefined

  constructor(
    readonly id: TaskId,
    readonly spec: ResolvedTask,
    readonly path: string,
    /** A static child of `Supervisor.task`: started in order, stopped in reverse order. */
    readonly isStatic: boolean,
    /** The supervisor that runs it (typed loosely to keep this module free of it). */
    readonly owner: unknown
  ) {
    this.schedule = initialState(spec.backoff)
    this.context = new EntryContext(this)
  }

  get name(): string {
    return this.spec.name
  }

  private label: ReadonlyArray<MetricLabel.MetricLabel> | undefined = undefined

  /** The `task` label of this task's metrics. */
  get metricLabel(): ReadonlyArray<MetricLabel.MetricLabel> {
    return (this.label ??= taskLabel(this.path))
  }

  /** A stop (or a group restart's stop) was requested: no new attempt may start. */
  get stopRequested(): boolean {
    return this.stopReason !== undefined || this.parking
  }

  /** Progress updates never overwrite `stopping`. */
  setState(state: TaskState): void {
    if (!this.stopRequested) this.state = state
  }

  /** Resumes when the current fiber began its first attempt, or exited before. */
  get started(): Effect.Effect<void> {
    if (this.exited || this.begun) return Effect.void
    return (this.startedSignal ??= new Signal()).await
  }

  /** Resumes when the current fiber has exited. */
  get gone(): Effect.Effect<void> {
    if (this.exited) return Effect.void
    return (this.goneSignal ??= new Signal()).await
  }

  markStarted(): void {
    this.begun = true
    if (this.startedSignal !== undefined) this.startedSignal.complete(undefined)
  }

  markExited(): void {
    this.exited = true
    this.markStarted()
    if (this.goneSignal !== undefined) this.goneSignal.complete(undefined)
  }

  /** Prepares the entry for a new fiber after a group restart stopped the previous one. */
  rearm(): void {
    this.exited = false
    this.parking = false
    this.cancelled = new Signal()
    this.begun = false
    this.startedSignal = undefined
    this.goneSignal = undefined
    this.state = "waiting"
    this.nextAttemptAt = undefined
  }
}

/** The entry behind a `TaskContext` the supervisor made, if it is one. */
export const entryOf = (context: TaskContext): Entry | undefined =>
  context instanceof EntryContext ? context.entry : undefined

class EntryContext implements TaskContext {
  constructor(readonly entry: Entry) {}
  get name() {
    return this.entry.name
  }
  get id() {
    return this.entry.id
  }
  get path() {
    return this.entry.path
  }
  get attempt() {
    return this.entry.attempt
  }
  get cancelled() {
    return this.entry.cancelled.await
  }
  get isCancelled() {
    return Effect.sync(() => this.entry.cancelled.isDone)
  }
}
