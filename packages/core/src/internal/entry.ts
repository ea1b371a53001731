import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { TaskContext } from "../TaskContext.js"
import type { TaskId } from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import { AttemptScope } from "./attemptScope.js"
import { Signal } from "./signal.js"
import type { ResolvedTask } from "./task.js"

/** What a task is doing, as `list` reports it. */
export type TaskState = "waiting" | "running" | "backing-off" | "stopping"

/** Why a stop was requested. */
export type StopReason = "remove" | "cancel" | "shutdown"

/**
 * The registry's record of one task. Mutated only by its own fiber (progress) and by the
 * supervisor's synchronous operations (stop claims, settling), so it needs no locks.
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
  stopReason: StopReason | undefined = undefined
  /** The outcome once decided (by the fiber's exit, or by abandonment after grace). */
  outcome: TaskOutcome.TaskOutcome | undefined = undefined
  /** The fiber has physically exited: the name (and permit) are free. */
  exited = false
  fiber!: Fiber.RuntimeFiber<TaskOutcome.TaskOutcome, never>
  graceTimer: Fiber.RuntimeFiber<void, never> | undefined = undefined
  /** Completed when a stop is requested, before the fiber is interrupted. */
  readonly cancelled = new Signal<void>()
  /** Completed with the outcome. */
  readonly settled = new Signal<TaskOutcome.TaskOutcome>()
  /** The `Scope` every attempt sees (a fresh real scope per attempt). */
  readonly scope = new AttemptScope()
  /** The `TaskContext` every attempt sees; `attempt` reads the current attempt. */
  readonly context: TaskContext

  constructor(
    readonly id: TaskId,
    readonly spec: ResolvedTask
  ) {
    this.context = new EntryContext(this)
  }

  get name(): string {
    return this.spec.name
  }

  /** Progress updates never overwrite `stopping`. */
  setState(state: TaskState): void {
    if (this.stopReason === undefined) this.state = state
  }
}

class EntryContext implements TaskContext {
  constructor(private readonly entry: Entry) {}
  get name() {
    return this.entry.name
  }
  get id() {
    return this.entry.id
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
