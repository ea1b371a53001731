import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type {
  AddError,
  OperatorRequest,
  OperatorResult,
  Snapshot,
  SubmitOptions,
  Supervisor,
  SupervisorOptions,
  TaskHandle,
  TaskInfo,
  TaskRef
} from "../Supervisor.js"
import {
  Escalated,
  GraceExceeded,
  InvalidArgument,
  InvalidSupervisorOptions,
  InvalidTaskSpec,
  RestartIntensityExceeded,
  type SupervisorFailure,
  SupervisorShuttingDown,
  TaskAlreadyExists,
  TaskTerminationTimeout
} from "../SupervisorError.js"
import type * as SupervisorEvent from "../SupervisorEvent.js"
import { SupervisorRegistry } from "../SupervisorRegistry.js"
import type * as SupervisorTree from "../SupervisorTree.js"
import type { Services, Task } from "../Task.js"
import * as TaskId from "../TaskId.js"
import * as TaskOutcome from "../TaskOutcome.js"
import { type EventBus, type EventInput, makeBus } from "./bus.js"
import {
  type Caller,
  context as currentContext,
  unsafeForkDetached,
  unsafeForkRoot,
  unsafeInterruptFork,
  withCaller
} from "./compat.js"
import { Controller } from "./controller.js"
import { Handle } from "./handle.js"
import { describeCause } from "./describe.js"
import { decodeDuration, describe, sleepMillis, timeoutOptionMillis } from "./duration.js"
import { Entry, type LoopResult, RESTART, type StopReason } from "./entry.js"
import { type Config, resolveConfig } from "./options.js"
import { ReadinessRecord } from "./readiness.js"
import { Signal } from "./signal.js"
import { type GroupRun, restartGroup } from "./strategy.js"
import { type ResolvedTask, resolveTask } from "./task.js"
import {
  attemptEnded,
  type RestartVerdict,
  stopped,
  supervisorLoop,
  taskContext,
  taskLoop,
  withExitCode
} from "./taskLoop.js"
import { ZeroSignal } from "./zeroSignal.js"

/** What an ordered stop gives a static child without a grace of its own. */
const SHARE = "its share"

/** Decodes and checks the options of a root supervisor. */
export const resolveOptions = (
  options: SupervisorOptions | undefined
): Result.Result<Config, InvalidSupervisorOptions> =>
  Result.mapError(
    resolveConfig(options, { nested: false, defaults: undefined }, "root"),
    (problem) => new InvalidSupervisorOptions(problem)
  )

/** The supervisor: a registry of entries, each run by its own root fiber. */
export class SupervisorImpl implements Supervisor {
  readonly byId = new Map<TaskId.TaskId, Entry>()
  private readonly byName = new Map<string, Entry>()
  /** Tasks whose outcome is not decided yet. */
  private readonly pending: ZeroSignal
  /** Entries in the registry (a task leaves it when its fiber has exited). */
  private readonly registered: ZeroSignal
  /** Dynamically added tasks whose fiber has not exited yet (static children are stopped one by one). */
  private readonly aliveDynamic: ZeroSignal
  private shutdownResult: Signal<Exit.Exit<void, GraceExceeded>> | undefined = undefined
  /** When the shutdown began, and its deadline (set with `shutdownResult`, unless the grace is 0). */
  private shutdownStart = 0
  private shutdownDeadline: number | undefined = undefined
  /** Set when the supervisor failed (restart intensity, escalation); `join` fails with it. */
  private failure: SupervisorFailure | undefined = undefined
  /** Significant children whose outcome is not decided yet. */
  private significantLive = 0
  /** Restart instants inside the intensity window, oldest first. */
  private readonly restartTimes: Array<number> = []
  /** Tasks waiting for their group restart, and the fiber that runs them one at a time. */
  private readonly groupQueue: Array<Entry> = []
  private groupFiber: Fiber.Fiber<void, never> | undefined = undefined
  /** The group restart under way, if any. */
  groupRun: GroupRun | undefined = undefined
  /** Completed when no group restart is pending (a fresh one while restarts run). */
  private groupIdle: Signal<void> | undefined = undefined
  /** A nested supervisor: its shutdown is decided by its deadline, its parent's may be decided earlier. */
  isNested = false
  /** The supervisor task whose attempt runs this nested supervisor (told when its subtree is decided). */
  parentEntry: Entry | undefined = undefined
  readonly controller: Controller
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly loop: Effect.Effect<LoopResult>
  /** The readiness tasks of the whole tree that ended for good (the root's record, shared by nested supervisors). */
  readonly readiness: ReadinessRecord
  /** A root shows its tree's record in its snapshot. */
  private readonly ownsReadiness: boolean
  /** Called when this supervisor fails (set for a root under a `SupervisorRegistry`). */
  onFailed: ((error: SupervisorFailure) => void) | undefined = undefined

  constructor(
    readonly config: Config,
    /** The context the supervisor was made in: its own fibers (timers, drivers) run with it. */
    readonly context: Context.Context<never>,
    readonly bus: EventBus,
    semaphore: Semaphore.Semaphore | undefined,
    /** The fiber that made the supervisor: its stops are interruptions by this fiber. */
    readonly fiberId: number,
    /** The record of the tree this supervisor is nested in; a root makes its own. */
    treeReadiness?: ReadinessRecord
  ) {
    this.readiness = treeReadiness ?? new ReadinessRecord()
    this.ownsReadiness = treeReadiness === undefined
    this.pending = new ZeroSignal()
    this.aliveDynamic = new ZeroSignal()
    this.registered = new ZeroSignal()
    this.withPermit = semaphore === undefined ? (effect) => effect : Semaphore.withPermits(semaphore, 1)
    this.loop = supervisorLoop(this.withPermit)
    this.controller = new Controller(this)
  }

  get path(): string {
    return this.config.path
  }

  now(): number {
    return this.bus.now()
  }

  /** Read once per event, right before building it: see `EventBus.listening` (it numbers the event). */
  get listening(): boolean {
    return this.bus.listening
  }

  emit(event: EventInput): void {
    this.bus.emit(event)
  }

  get shuttingDown(): boolean {
    return this.shutdownResult !== undefined
  }

  childPath(name: string): string {
    return `${this.config.path}/${name}`
  }

  // ---- admission ----

  /** Checks a task for admission; emits `TaskAddFailed` when it is refused. */
  admit(task: Task<any, any>, pendingNames: ReadonlySet<string> | undefined): Result.Result<ResolvedTask, AddError> {
    const resolved = resolveTask(task, this.config.defaults)
    if (Result.isFailure(resolved)) {
      this.addFailed(resolved.failure.task, "InvalidSpec", resolved.failure.message)
      return resolved
    }
    const name = resolved.success.name
    if (this.shutdownResult !== undefined) {
      this.addFailed(name, "ShuttingDown", "the supervisor is shutting down")
      return Result.fail(new SupervisorShuttingDown())
    }
    const misplaced = this.misplaced(resolved.success)
    if (misplaced !== undefined) {
      this.addFailed(name, "InvalidSpec", misplaced.message)
      return Result.fail(misplaced)
    }
    if (this.byName.has(name) || pendingNames?.has(name)) {
      this.addFailed(name, "AlreadyExists", "the name is taken")
      return Result.fail(new TaskAlreadyExists({ name }))
    }
    return resolved
  }

  /** A spec that is valid alone but not under this supervisor. */
  misplaced(spec: ResolvedTask): InvalidTaskSpec | undefined {
    if (!spec.significant || this.config.autoShutdown !== "never") return undefined
    return new InvalidTaskSpec({
      task: spec.name,
      field: "significant",
      reason: `cannot be set under a supervisor whose autoShutdown is "never"`
    })
  }

  /** Queued controller submissions count as tasks without an outcome (for `awaitEmpty`). */
  holdPending(): void {
    this.pending.increment()
  }

  releasePending(): void {
    this.pending.decrement()
  }

  private addFailed(name: string, rejection: "AlreadyExists" | "ShuttingDown" | "InvalidSpec", reason: string): void {
    if (this.listening) {
      this.emit({ _tag: "TaskAddFailed", path: this.config.path, task: name, rejection, reason })
    }
  }

  /** Registers an admitted task and starts its fiber (on the scheduler's next turn). */
  spawn<R>(
    spec: ResolvedTask,
    caller: Caller<R>,
    isStatic = false,
    id = TaskId.unsafeNext(),
    settled?: Signal<TaskOutcome.TaskOutcome>
  ): Entry {
    const entry = new Entry(id, spec, this.config.path, isStatic, this)
    if (settled !== undefined) entry.settled = settled
    // A task added at the path of one that ended for good takes its place.
    if (!this.readiness.empty) this.readiness.clear(entry.path)
    this.byId.set(entry.id, entry)
    this.byName.set(entry.name, entry)
    this.registered.increment()
    this.pending.increment()
    if (spec.significant) this.significantLive += 1
    if (this.listening) this.emit({ _tag: "TaskAdded", id: entry.id, task: entry.name, path: entry.path })
    entry.caller = caller as Caller<unknown>
    this.startFiber(entry)
    return entry
  }

  private startFiber(entry: Entry): void {
    if (!entry.isStatic) this.aliveDynamic.increment()
    entry.fiber = unsafeForkDetached(taskContext(entry), taskLoop(this), (exit) => this.exited(entry, exit))
  }

  add<E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, R> {
    return withCaller<TaskHandle, AddError, R, never>((caller) => {
      const admitted = this.admit(task, undefined)
      return Result.isFailure(admitted)
        ? Effect.fail(admitted.failure)
        : Effect.succeed(new Handle(this.spawn(admitted.success, caller), this))
    })
  }

  /** Admits a batch all-or-nothing. */
  private admitAll(tasks: Iterable<Task<any, any>>): Result.Result<Array<ResolvedTask>, AddError> {
    if (typeof tasks !== "object" || tasks === null || typeof tasks[Symbol.iterator] !== "function") {
      return Result.fail(
        new InvalidTaskSpec({
          task: "",
          field: "tasks",
          reason: `must be an iterable of tasks, got ${describe(tasks)}`
        })
      )
    }
    const names = new Set<string>()
    const specs: Array<ResolvedTask> = []
    for (const task of tasks) {
      const admitted = this.admit(task, names)
      if (Result.isFailure(admitted)) return Result.fail(admitted.failure)
      names.add(admitted.success.name)
      specs.push(admitted.success)
    }
    return Result.succeed(specs)
  }

  addAll<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskHandle>, AddError, Services<T>> {
    return withCaller<ReadonlyArray<TaskHandle>, AddError, Services<T>, never>((caller) => {
      const admitted = this.admitAll(tasks)
      if (Result.isFailure(admitted)) return Effect.fail(admitted.failure)
      return Effect.succeed(admitted.success.map((spec) => new Handle(this.spawn(spec, caller), this)))
    })
  }

  /**
   * Starts a nested supervisor's static children in order, each once the previous one began its
   * first attempt (or ended before it could).
   */
  startStatic(tasks: ReadonlyArray<Task<any, any>>): Effect.Effect<void, AddError> {
    return withCaller<void, AddError, never, never>((caller) => {
      const admitted = this.admitAll(tasks)
      if (Result.isFailure(admitted)) return Effect.fail(admitted.failure)
      // A group restart under way (an earlier child failed) finishes before the next child starts.
      const next = (spec: ResolvedTask): Effect.Effect<void> =>
        Effect.suspend(() => {
          if (this.shutdownResult !== undefined) return Effect.void
          if (this.groupIdle !== undefined) return Effect.andThen(this.groupIdle.await, next(spec))
          return this.spawn(spec, caller, true).started
        })
      return Effect.forEach(admitted.success, next, { discard: true })
    })
  }

  run<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskOutcome.TaskOutcome>, AddError | SupervisorFailure, Services<T>> {
    return Effect.flatMap(this.addAll(tasks), (handles) =>
      Effect.andThen(
        this.awaitEmpty,
        Effect.suspend(() =>
          this.failure !== undefined ? Effect.fail(this.failure) : Effect.forEach(handles, (handle) => handle.await)
        )
      )
    )
  }

  submit<E, R>(task: Task<E, R>, options?: SubmitOptions): Effect.Effect<TaskHandle, AddError | InvalidArgument, R> {
    return this.controller.submit(task, options)
  }

  get slots() {
    return Effect.sync(() => this.controller.snapshot())
  }

  // ---- restarts ----

  restartVerdict(entry: Entry, reason: string): RestartVerdict {
    const strategy = this.config.strategy
    let takesOver = false
    if (strategy !== "one-for-one") {
      const pending = this.pendingGroupFor(entry)
      if (pending === "join") return "join"
      takesOver = pending === "take-over"
    }
    const intensity = this.config.intensity
    // A restart that takes a queued one along replaces it: the queued one is counted already.
    if (intensity !== undefined && !takesOver) {
      const now = this.now()
      const times = this.restartTimes
      times.push(now)
      while (times.length > 0 && now - times[0]! >= intensity.withinMs) times.shift()
      if (times.length > intensity.maxRestarts) {
        entry.failsSupervisor = new RestartIntensityExceeded({
          path: this.config.path,
          maxRestarts: intensity.maxRestarts,
          withinMs: intensity.withinMs,
          trigger: entry.name,
          reason
        })
        return {
          refused: `the restart intensity of its supervisor (${intensity.maxRestarts} in ${intensity.withinMs} ms) was exceeded`
        }
      }
    }
    return strategy === "one-for-one" ? "restart" : "group"
  }

  /**
   * How a group restart that has not started its children again yet relates to `entry`'s failure,
   * so that siblings failing in the same instant make one group restart, counted once: `"join"`
   * when it starts `entry` again anyway (the restart under way took it along, or a queued one
   * will), `"take-over"` when `entry`'s own restart will take a queued one along (under
   * `rest-for-one`, a queued trigger started after `entry`).
   */
  private pendingGroupFor(entry: Entry): "join" | "take-over" | undefined {
    if (entry.heldByGroup) return "join"
    let pending: "take-over" | undefined = undefined
    const run = this.groupRun
    if (run !== undefined && !run.starting && this.config.strategy === "rest-for-one" && run.trigger.id > entry.id) {
      // The restart under way (of a later child) has started nobody yet: this one covers it.
      run.superseded.complete(undefined)
      pending = "take-over"
    }
    for (const trigger of this.groupQueue) {
      // Ended, started again, or taken along by the restart under way: that restart will not run.
      if (trigger === entry || !trigger.exited || trigger.outcome !== undefined || trigger.heldByGroup) continue
      if (this.config.strategy === "one-for-all" || trigger.id < entry.id) return "join"
      pending = "take-over"
    }
    return pending
  }

  /**
   * The next queued group restart: the oldest, except under `rest-for-one`, where the one of the
   * earliest started child goes first (it takes the later ones along).
   */
  private nextGroupTrigger(): Entry | undefined {
    const queue = this.groupQueue
    if (queue.length <= 1 || this.config.strategy !== "rest-for-one") return queue.shift()
    let first = 0
    for (let i = 1; i < queue.length; i++) if (queue[i]!.id < queue[first]!.id) first = i
    return queue.splice(first, 1)[0]
  }

  /** Queues a group restart triggered by `entry` (whose fiber has exited); they run one at a time. */
  private enqueueGroupRestart(entry: Entry): void {
    this.groupQueue.push(entry)
    if (this.groupFiber !== undefined) return
    const idle = new Signal<void>()
    this.groupIdle = idle
    const done = () => {
      this.groupFiber = undefined
      this.groupIdle = undefined
      idle.complete(undefined)
    }
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const next = this.nextGroupTrigger()
      if (next === undefined || this.shutdownResult !== undefined) {
        done()
        return Effect.void
      }
      return Effect.andThen(restartGroup(this, next), drain)
    })
    this.groupFiber = unsafeForkRoot(
      this.context,
      Effect.onInterrupt(drain, () => Effect.sync(done))
    )
  }

  /** Starts a new fiber on an entry a group restart stopped (a child whose failure led here counted its restart already). */
  respawn(entry: Entry, countRestart = true): void {
    // A restart-now is not a restart; a failure that joined the group restart counted itself already.
    if (countRestart && !entry.restartCounted) {
      // Every task a group restart starts again counts one restart, in TaskInfo and the metric alike.
      entry.restarts += 1
      entry.metrics.restarts.updateUnsafe(1, entry.caller as Context.Context<never>)
    }
    entry.rearm()
    this.startFiber(entry)
  }

  /** Stops `entry`'s fiber so that a group restart can start it again; `false` if it is ending anyway. */
  park(entry: Entry): boolean {
    if (entry.stopRequested || entry.outcome !== undefined) return false
    entry.parking = true
    entry.state = "waiting"
    entry.nextAttemptAt = undefined
    entry.signalCancelled()
    unsafeInterruptFork(entry.fiber, this.fiberId)
    return true
  }

  /** Ends an entry whose fiber exited for a group restart that will not start it again. */
  finalizeParked(entry: Entry, reason: StopReason): void {
    if (entry.outcome !== undefined || !entry.exited || this.byId.get(entry.id) !== entry) return
    entry.stopReason ??= reason
    entry.parking = false
    this.settle(entry, stopped(entry))
    this.release(entry)
  }

  /** Parked entries: their fiber exited for a group restart that has not started them again yet. */
  private get parked(): Array<Entry> {
    return Array.from(this.byId.values()).filter((entry) => entry.exited && entry.outcome === undefined)
  }

  // ---- stopping ----

  private lookup(ref: TaskRef): Entry | undefined {
    return typeof ref === "string" ? this.byName.get(ref) : this.byId.get(ref)
  }

  /**
   * For a path (`"app/connector"`): the running nested supervisor its first segment names, and the
   * rest of the path; `undefined` when that segment names no `Supervisor.task` with a running attempt.
   * Names never contain `/`, so a string with one is always a path.
   */
  private descend(path: string): readonly [SupervisorImpl, string] | undefined {
    const slash = path.indexOf("/")
    const nested = this.byName.get(path.slice(0, slash))?.nested as SupervisorImpl | undefined
    return nested === undefined ? undefined : [nested, path.slice(slash + 1)]
  }

  /** Is `ref` a path (relative to this supervisor) rather than a name or an id? */
  private static isPath(ref: TaskRef): ref is string {
    return typeof ref === "string" && ref.includes("/")
  }

  /** The entry `ref` names: by id or name here, or by a path through running nested supervisors. */
  private find(ref: TaskRef): Entry | undefined {
    if (!SupervisorImpl.isPath(ref)) return this.lookup(ref)
    const below = this.descend(ref)
    return below === undefined ? undefined : below[0].find(below[1])
  }

  /** Claims the stop of `entry`: completes `cancelled`, then interrupts its fiber. `true` for the one claimant. */
  requestStop(entry: Entry, reason: Exclude<StopReason, "restart-now">): boolean {
    if (entry.stopReason !== undefined || entry.outcome !== undefined) return false
    entry.stopReason = reason
    entry.state = "stopping"
    entry.nextAttemptAt = undefined
    // Stopping a subtree deliberately withdraws the readiness tasks that ended for good in it.
    if (!this.readiness.empty && reason !== "shutdown" && reason !== "group-restart") this.readiness.clear(entry.path)
    if (this.listening) {
      this.emit({ _tag: "TaskRemoveRequested", id: entry.id, task: entry.name, path: entry.path, reason })
    }
    entry.signalCancelled()
    if (entry.exited) {
      // Parked by a group restart: nothing runs, it ends now.
      this.finalizeParked(entry, reason)
    } else {
      entry.parking = false
      unsafeInterruptFork(entry.fiber, this.fiberId)
    }
    return true
  }

  restartNow(ref: TaskRef): Effect.Effect<boolean> {
    return Effect.sync(() => this.restartByRef(ref))
  }

  /** `ref` by id or name, or a path through the running nested supervisors of `Supervisor.task`s. */
  private restartByRef(ref: TaskRef): boolean {
    if (typeof ref !== "string" || !ref.includes("/")) {
      const entry = this.lookup(ref)
      return entry !== undefined && this.restartEntry(entry)
    }
    const slash = ref.indexOf("/")
    const entry = this.byName.get(ref.slice(0, slash))
    const nested = entry?.nested as SupervisorImpl | undefined
    if (nested === undefined || this.shutdownResult !== undefined || entry!.stopRequested) return false
    return nested.restartByRef(ref.slice(slash + 1))
  }

  /** Stops `entry`'s fiber and starts a new one once it has exited (see `exited`). */
  private restartEntry(entry: Entry): boolean {
    // Exited without an outcome: parked, its group restart starts it again.
    if (this.shutdownResult !== undefined || entry.exited) return false
    const state = entry.state
    const attemptRunning = entry.attemptRunning
    if (!this.park(entry)) return false
    entry.restartingNow = true
    if (this.listening) {
      this.emit({ _tag: "TaskRestartRequested", id: entry.id, task: entry.name, path: entry.path, state })
    }
    // Only an attempt has finalizers to wait for: a task backing off or scheduled is only sleeping.
    if (!attemptRunning) return true
    const graceMs = this.graceOf(entry)
    const abandon = () => {
      if (entry.exited || !entry.restartingNow || entry.stopReason !== undefined) return
      // Never restarted: a second attempt must not overlap the one that did not stop.
      entry.restartingNow = false
      entry.parking = false
      entry.stopReason = "restart-now"
      this.abandon(entry, graceMs, "its grace")
    }
    if (graceMs === 0) abandon()
    else entry.graceTimer = unsafeForkRoot(this.context, Effect.andThen(sleepMillis(graceMs), Effect.sync(abandon)))
    return true
  }

  /** Abandons a task that did not stop within `graceMs`: its outcome is `ForceAborted`, its name stays taken. */
  abandon(entry: Entry, graceMs: number, during: string): void {
    if (graceMs === 0 && entry.outcome === undefined && !entry.exited) entry.abandonedAtOnce = this.now()
    this.abandonWith(
      entry,
      during === SHARE
        ? `did not stop within ${SHARE} (${graceMs} ms) of the shutdown grace`
        : `did not stop within ${during} of ${graceMs} ms`
    )
  }

  private abandonWith(entry: Entry, reason: string): void {
    if (entry.outcome !== undefined) return
    entry.state = "stopping"
    this.settle(entry, new TaskOutcome.ForceAborted({ reason }))
  }

  /**
   * Every task under `entry`'s nested supervisor has stopped or been abandoned: the stop of `entry`
   * is decided (it is abandoned), though its fiber lives until the abandoned ones really exit.
   */
  subtreeAbandoned(entry: Entry): void {
    if (entry.outcome !== undefined || entry.exited || entry.stopReason === undefined) return
    this.abandonWith(entry, `did not stop: tasks under it were abandoned (${stuckPaths(entry).join(", ")})`)
    // A shutdown stops waiting for it (it still holds its name until its fiber exits).
    if (this.shutdownResult !== undefined && !entry.isStatic && !entry.countedOut) {
      entry.countedOut = true
      this.aliveDynamic.decrement()
    }
  }

  /** The grace `remove`, `cancel` and ordered stops give `entry`. */
  graceOf(entry: Entry): number {
    return entry.spec.graceMs ?? this.config.graceMs
  }

  hasName(name: string): boolean {
    return this.byName.has(name)
  }

  /**
   * Starts the grace clock of a stop (`remove`, `cancel`, `replace`, a group restart, an ordered
   * stop): when it runs out, `expire` runs and the task is abandoned. The clock is a fiber of its
   * own, so it keeps its deadline whatever happens to the one that asked.
   */
  startGrace(entry: Entry, graceMs = this.graceOf(entry), during = "its grace", expire?: () => void): void {
    if (entry.exited) return
    const abandon = () => {
      ;(entry.nested as SupervisorImpl | undefined)?.decideIfDue()
      expire?.()
      this.abandon(entry, graceMs, during)
    }
    if (graceMs === 0) return abandon()
    // A `restartNow` under way had its own timer.
    if (entry.graceTimer !== undefined) unsafeInterruptFork(entry.graceTimer, this.fiberId)
    entry.graceTimer = unsafeForkRoot(
      this.context,
      Effect.andThen(
        sleepMillis(graceMs),
        Effect.sync(() => {
          if (!entry.exited) abandon()
        })
      )
    )
  }

  remove(ref: TaskRef): Effect.Effect<boolean> {
    return Effect.sync(() => this.removeByRef(ref))
  }

  /** `remove`, by id, name, or a path through running nested supervisors (each removes its own tasks). */
  private removeByRef(ref: TaskRef): boolean {
    if (SupervisorImpl.isPath(ref)) {
      const below = this.descend(ref)
      return below !== undefined && below[0].removeByRef(below[1])
    }
    const entry = this.lookup(ref)
    if (entry === undefined) return this.controller.removeQueued(ref)
    if (!this.requestStop(entry, "remove")) return false
    this.startGrace(entry)
    return true
  }

  /**
   * The first half of `cancel`, by id, name or path: claims the stop. The task's entry (to wait on),
   * or what `cancel` returns when there is none (a queued submission taken out of its queue).
   */
  private claimCancel(ref: TaskRef): { readonly entry: Entry; readonly claimed: boolean } | boolean {
    if (SupervisorImpl.isPath(ref)) {
      const below = this.descend(ref)
      return below === undefined ? false : below[0].claimCancel(below[1])
    }
    const entry = this.lookup(ref)
    if (entry === undefined) return this.controller.removeQueued(ref)
    const claimed = this.requestStop(entry, "cancel")
    if (claimed) this.startGrace(entry)
    return { entry, claimed }
  }

  cancel(
    ref: TaskRef,
    options?: { readonly timeout?: Duration.Input | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> {
    return Effect.suspend((): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> => {
      if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
        return Effect.fail(
          new InvalidArgument({
            operation: "cancel",
            field: "options",
            reason: `must be an object { timeout? }, got ${describe(options)}`
          })
        )
      }
      let timeoutMs = 0
      if (options?.timeout !== undefined) {
        const decoded = decodeDuration(options.timeout)
        if (Result.isFailure(decoded)) {
          return Effect.fail(new InvalidArgument({ operation: "cancel", field: "timeout", reason: decoded.failure }))
        }
        timeoutMs = Duration.toMillis(decoded.success)
      }
      const claim = this.claimCancel(ref)
      if (typeof claim === "boolean") return Effect.succeed(claim)
      const { claimed, entry } = claim
      const cleanup = Effect.as(entry.settled.await, claimed)
      if (options?.timeout === undefined) return cleanup
      return Effect.flatMap(timeoutOptionMillis(cleanup, timeoutMs), (done) =>
        Option.isSome(done)
          ? Effect.succeed(done.value)
          : Effect.fail(new TaskTerminationTimeout({ task: entry.name, id: entry.id, timeoutMs }))
      )
    })
  }

  /** Decides `entry`'s outcome once; later calls are ignored. */
  settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    if (entry.outcome !== undefined) return
    entry.decide(outcome)
    if (this.listening) this.emitFinished(entry, outcome)
    this.pending.decrement()
    if (entry.spec.significant) this.significantLive -= 1
    if (entry.spec.ready !== false) this.readinessSettled(entry, outcome)
    if (entry.stopReason !== undefined) return
    // The task ended by itself: escalation and auto-shutdown apply.
    if (entry.failsSupervisor !== undefined) return this.fail(entry.failsSupervisor)
    if ((entry.escalating || entry.spec.escalate) && (outcome._tag === "Failed" || outcome._tag === "Fatal")) {
      return this.fail(new Escalated({ path: this.config.path, task: entry.name, reason: outcome.reason }))
    }
    if (entry.spec.significant && outcome._tag !== "ForceAborted") this.significantEnded(entry)
  }

  /**
   * A readiness task ended for good unless it was stopped deliberately (`remove`, `cancel`,
   * `replace`) or as part of its supervisor's shutdown: a supervisor that fails or shuts down by
   * itself ends its own `Supervisor.task`, which is a readiness task too and answers for its subtree.
   */
  private readinessSettled(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    const reason = entry.stopReason
    if (reason !== undefined && reason !== "group-restart") return
    if (this.shutdownResult !== undefined) return
    this.readiness.lose(entry.path, outcome, this.now())
  }

  private significantEnded(entry: Entry): void {
    const mode = this.config.autoShutdown
    if (mode === "never" || (mode === "all-significant" && this.significantLive > 0)) return
    if (this.shutdownResult !== undefined) return
    if (this.listening) this.emit({ _tag: "AutoShutdown", path: this.config.path, mode, trigger: entry.name })
    this.startShutdown(false)
  }

  /** Fails the supervisor: stops every child (as a shutdown does) and makes `join` fail with `error`. */
  private fail(error: SupervisorFailure): void {
    if (this.failure !== undefined || this.shutdownResult !== undefined) return
    this.failure = error
    if (this.listening) {
      this.emit(
        error._tag === "RestartIntensityExceeded"
          ? {
              _tag: "RestartIntensityExceeded",
              path: error.path,
              maxRestarts: error.maxRestarts,
              withinMs: error.withinMs,
              trigger: error.trigger,
              reason: error.reason
            }
          : { _tag: "Escalated", path: error.path, task: error.task, reason: error.reason }
      )
    }
    unsafeForkRoot(
      this.context,
      Effect.logWarning(error.message).pipe(Effect.annotateLogs({ fibervisor: "supervisor", path: this.config.path }))
    )
    this.startShutdown(false)
    if (this.onFailed !== undefined) this.onFailed(error)
  }

  private emitFinished(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    const reason = TaskOutcome.reason(outcome)
    const exitCode = TaskOutcome.exitCode(outcome)
    const which = { id: entry.id, task: entry.name, path: entry.path }
    this.emit(
      withExitCode(
        reason === undefined
          ? { _tag: "TaskFinished", ...which, outcome: outcome._tag }
          : { _tag: "TaskFinished", ...which, outcome: outcome._tag, reason },
        exitCode
      )
    )
  }

  /** The task's fiber has physically exited: decide its outcome (unless abandoned) and free its name. */
  private exited(entry: Entry, exit: Exit.Exit<LoopResult>): void {
    entry.markExited()
    if (!entry.isStatic && !entry.countedOut) this.aliveDynamic.decrement()
    if (entry.graceTimer !== undefined) {
      unsafeInterruptFork(entry.graceTimer, this.fiberId)
      entry.graceTimer = undefined
    }
    const interrupted = Exit.isFailure(exit)
    if (interrupted && entry.attemptRunning) {
      entry.attemptRunning = false
      attemptEnded(entry, this.now() - entry.attemptStartedAt)
      if (this.listening) {
        this.emit({
          _tag: "AttemptCanceled",
          id: entry.id,
          task: entry.name,
          path: entry.path,
          attempt: entry.attempt,
          durationMs: this.now() - entry.attemptStartedAt,
          reason: `stopped by ${entry.stopReason ?? (entry.restartingNow ? "restart-now" : entry.parking ? "group-restart" : "interruption")}`
        })
      }
    }
    const handedOver = Exit.isSuccess(exit) && exit.value === RESTART
    if ((entry.parking || handedOver) && entry.stopReason === undefined && entry.outcome === undefined) {
      // Waits for its group restart, which starts a new fiber on this entry.
      if (this.shutdownResult !== undefined) return this.finalizeParked(entry, "shutdown")
      if (handedOver) this.enqueueGroupRestart(entry)
      else if (entry.restartingNow) this.respawn(entry, false)
      return
    }
    entry.parking = false
    if (Exit.isSuccess(exit)) {
      this.settle(entry, exit.value === RESTART ? stopped(entry) : exit.value)
    } else {
      this.settle(
        entry,
        entry.stopReason !== undefined
          ? stopped(entry)
          : new TaskOutcome.Failed({
              reason: `the supervisor's task fiber failed: ${describeCause(exit.cause)}`,
              cause: exit.cause
            })
      )
    }
    this.release(entry)
  }

  /** Removes an ended entry from the registry (its name is free again). */
  private release(entry: Entry): void {
    this.byId.delete(entry.id)
    if (this.byName.get(entry.name) === entry) this.byName.delete(entry.name)
    if (this.listening) this.emit({ _tag: "TaskRemoved", id: entry.id, task: entry.name, path: entry.path })
    this.controller.released(entry)
    this.registered.decrement()
  }

  /** Resumes when the registry is empty: every task's fiber has exited, abandoned ones included. */
  get released(): Effect.Effect<void> {
    return this.registered.await
  }

  // ---- inspection ----

  get list(): Effect.Effect<ReadonlyArray<TaskInfo>> {
    return Effect.sync(() => this.entries().map(infoOf))
  }

  /**
   * The registry in id order. Insertion order is id order except for controller submissions, whose
   * id is reserved when they are queued: sort only when one of those broke the order.
   */
  private entries(): Array<Entry> {
    const entries = Array.from(this.byId.values())
    for (let i = 1; i < entries.length; i++) {
      if (entries[i - 1]!.id > entries[i]!.id) return entries.sort((a, b) => a.id - b.id)
    }
    return entries
  }

  get(ref: TaskRef): Effect.Effect<Option.Option<TaskInfo>> {
    return Effect.sync(() => {
      const entry = this.find(ref)
      return entry === undefined ? Option.none() : Option.some(infoOf(entry))
    })
  }

  get tree(): Effect.Effect<SupervisorTree.SupervisorTree> {
    return Effect.sync(() => this.treeSnapshot())
  }

  get snapshot(): Effect.Effect<Snapshot> {
    // One synchronous step: no event can be published between the two reads.
    return Effect.sync(() => ({ seq: this.bus.lastSeq, tree: this.treeSnapshot() }))
  }

  // ---- operator actions ----

  operatorAction(request: OperatorRequest): Effect.Effect<OperatorResult> {
    return Effect.suspend(() => {
      const input = auditInput(request)
      if (input === undefined) return Effect.succeed(invalidRequest)
      const { action, path } = input
      const audit = (outcome: OperatorResult["outcome"], reason?: string): OperatorResult => {
        const result: OperatorResult = reason === undefined ? { outcome } : { outcome, reason }
        if (this.listening) {
          this.emit({
            _tag: "OperatorActionRequested",
            path,
            action,
            outcome,
            ...(reason === undefined ? undefined : { reason: bounded(reason, maxAuditReason) }),
            remote: input.remote,
            source: input.source
          })
        }
        return result
      }
      if (input.refused !== undefined) return Effect.succeed(audit("refused", input.refused))
      const acted = request.acted
      if (acted !== undefined && typeof acted === "object" && acted !== null) {
        const outcome = (["done", "declined", "not-found", "refused"] as const).find((o) => o === acted.outcome)
        if (outcome === undefined) return Effect.succeed(audit("refused", "unknown outcome"))
        return Effect.succeed(audit(outcome, typeof acted.reason === "string" ? acted.reason : undefined))
      }
      if (action !== "cancel" && action !== "remove" && action !== "restart") {
        return Effect.succeed(audit("refused", "unknown action (cancel, remove or restart)"))
      }
      const prefix = `${this.config.path}/`
      const relative = path.startsWith(prefix) ? path.slice(prefix.length) : undefined
      const entry = relative === undefined || relative === "" ? undefined : this.find(relative)
      if (relative === undefined || entry === undefined)
        return Effect.succeed(audit("not-found", "no task at this path"))
      switch (action) {
        case "remove":
          return Effect.succeed(this.removeByRef(relative) ? audit("done") : audit("declined", stopUnderWay))
        case "restart":
          return Effect.succeed(
            this.restartByRef(relative) ? audit("done") : audit("declined", "the task cannot be restarted now")
          )
        case "cancel": {
          const claim = this.claimCancel(relative)
          if (typeof claim === "boolean" || !claim.claimed) return Effect.succeed(audit("declined", stopUnderWay))
          const result = audit("done")
          return Effect.as(claim.entry.settled.await, result)
        }
      }
    })
  }

  treeSnapshot(): SupervisorTree.SupervisorTree {
    const tree: { -readonly [K in keyof SupervisorTree.SupervisorTree]: SupervisorTree.SupervisorTree[K] } = {
      path: this.config.path,
      strategy: this.config.strategy,
      state: this.shutdownResult === undefined ? "running" : this.finished.isDone ? "stopped" : "shutting-down",
      tasks: this.entries().map(nodeOf)
    }
    // The tree's record is shown on its root only (its paths are full paths).
    if (this.ownsReadiness && !this.readiness.empty) {
      const lost = this.readiness.list()
      if (lost.length > 0) tree.lost = lost
      if (this.readiness.unlisted > 0) tree.lostUnlisted = this.readiness.unlisted
    }
    return tree
  }

  get events(): Stream.Stream<SupervisorEvent.SupervisorEvent> {
    return Stream.unwrap(this.subscribe)
  }

  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return this.bus.subscribe
  }

  get awaitEmpty(): Effect.Effect<void> {
    return this.pending.await
  }

  get isShuttingDown(): Effect.Effect<boolean> {
    return Effect.sync(() => this.shutdownResult !== undefined)
  }

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.byId.size)
  }

  get join(): Effect.Effect<void, SupervisorFailure> {
    return Effect.flatMap(this.finished.await, () =>
      this.failure === undefined ? Effect.void : Effect.fail(this.failure)
    )
  }

  /** Completed when a shutdown has finished (`join` waits for it without starting one). */
  private readonly finished = new Signal<void>()

  /** Calls `f` once the shutdown has finished, whoever started it, with its `GraceExceeded` if any. */
  onFinished(f: (exceeded: GraceExceeded | undefined) => void): void {
    this.finished.listen(() => {
      const exit = this.shutdownResult?.unsafeValue
      try {
        f(
          exit === undefined || Exit.isSuccess(exit)
            ? undefined
            : Option.getOrUndefined(Cause.findErrorOption(exit.cause))
        )
      } catch (defect) {
        // Runs inside the shutdown's bookkeeping (a custom registry may throw): reported, never thrown there.
        unsafeForkRoot(this.context, Effect.logError("a shutdown listener failed", Cause.die(defect)))
      }
    })
  }

  // ---- shutdown ----

  get shutdown(): Effect.Effect<void, GraceExceeded> {
    return Effect.suspend(() => Effect.flatMap(this.startShutdown(true).await, (exit) => exit))
  }

  /**
   * Starts the one shutdown: dynamically added tasks are stopped together, then static children one
   * at a time in reverse start order, each within its own grace (or an equal share of what is left),
   * all within the supervisor's grace. It is decided once every task has exited or been abandoned.
   */
  private startShutdown(requested: boolean): Signal<Exit.Exit<void, GraceExceeded>> {
    if (this.shutdownResult !== undefined) return this.shutdownResult
    const result = new Signal<Exit.Exit<void, GraceExceeded>>()
    this.shutdownResult = result
    if (requested && this.listening) this.emit({ _tag: "ShutdownRequested", path: this.config.path })
    if (this.groupFiber !== undefined) unsafeInterruptFork(this.groupFiber, this.fiberId)
    this.controller.shutdown()
    for (const entry of this.parked) this.requestStop(entry, "shutdown")
    const statics: Array<Entry> = []
    for (const entry of this.byId.values()) {
      if (entry.isStatic) statics.push(entry)
      else this.requestStop(entry, "shutdown")
    }
    statics.reverse()
    const graceMs = this.config.graceMs
    const start = this.now()
    if (graceMs === 0) {
      // No grace: decided now, before any fiber has processed its interrupt.
      for (const entry of statics) this.requestStop(entry, "shutdown")
      unsafeForkRoot(this.context, this.decide(result, start))
      return result
    }
    const deadline = start + graceMs
    this.shutdownStart = start
    this.shutdownDeadline = deadline
    const stopStatics = Effect.forEach(
      statics,
      (entry, index) => Effect.suspend(() => this.stopInTurn(entry, statics.length - index, deadline)),
      { discard: true }
    )
    const waitDynamic = timeoutOptionMillis(Effect.interruptible(this.aliveDynamic.await), graceMs)
    unsafeForkRoot(
      this.context,
      Effect.andThen(
        Effect.andThen(waitDynamic, stopStatics),
        Effect.suspend(() => {
          for (const entry of statics) this.requestStop(entry, "shutdown")
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
    if (entry.exited || entry.outcome !== undefined) return Effect.void
    this.requestStop(entry, "shutdown")
    const remaining = deadline - this.now()
    if (remaining <= 0 || entry.outcome !== undefined) return Effect.void
    // A stop claimed earlier keeps the grace clock it started with (and so its deadline); a
    // restart-now's clock is not a stop's (it ignores a stop) and is replaced by the share.
    if (entry.graceTimer === undefined || entry.restartingNow) {
      const own = entry.spec.graceMs
      const budget = own ?? Math.floor(remaining / left)
      // A budget that reaches the deadline is the deadline's to enforce (`the shutdown grace`).
      if (budget < remaining) {
        this.startGrace(entry, budget, own === undefined ? SHARE : "its grace")
      }
    }
    if (entry.outcome !== undefined) return Effect.void
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
    const now = this.now()
    const alive = this.stillRunning()
    if (alive.length === 0 || now >= deadline) return this.decide(result, start)
    // A task abandoned without any time to stop (`grace: 0`) is given a millisecond to exit, so
    // that one which stops at once does not count as abandoned here (a real clock may have ticked).
    const fresh = alive.some((entry) => entry.abandonedAtOnce !== undefined && now - entry.abandonedAtOnce <= 1)
    const settle = fresh ? timeoutOptionMillis(Effect.interruptible(this.registered.await), 1) : Effect.void
    return Effect.andThen(
      settle,
      Effect.suspend(() => {
        if (!this.isNested || this.stillRunning().length === 0 || this.now() >= deadline) {
          return this.decide(result, start)
        }
        this.tellParent()
        return Effect.andThen(
          timeoutOptionMillis(Effect.interruptible(this.registered.await), deadline - this.now()),
          Effect.suspend(() => this.decide(result, start))
        )
      })
    )
  }

  /** Tells the parent that every task of this subtree has stopped or been abandoned. */
  private tellParent(): void {
    const parent = this.parentEntry
    if (parent !== undefined) (parent.owner as SupervisorImpl).subtreeAbandoned(parent)
  }

  private stillRunning(): Array<Entry> {
    return Array.from(this.byId.values()).filter((entry) => !entry.exited)
  }

  /**
   * The shutdown's deadline is now, but the fiber that decides it at its deadline has not woken yet:
   * it is decided now. A parent whose grace for this supervisor's task ends in the same instant
   * calls this first, so that the subtree's decision (which names the tasks abandoned under it)
   * lands first whichever of the two timers the clock wakes first.
   */
  decideIfDue(): void {
    const result = this.shutdownResult
    const deadline = this.shutdownDeadline
    if (result === undefined || result.isDone || deadline === undefined || this.now() < deadline) return
    for (const entry of this.byId.values()) if (entry.isStatic) this.requestStop(entry, "shutdown")
    unsafeForkRoot(this.context, this.decide(result, this.shutdownStart))
  }

  /** Decides the shutdown's result from which fibers have exited; returns the warning to log, if any. */
  private decide(result: Signal<Exit.Exit<void, GraceExceeded>>, start: number): Effect.Effect<void> {
    // Decided already (`decideIfDue`).
    if (result.isDone) return Effect.void
    const stuck = this.stillRunning()
    const graceMs = this.config.graceMs
    if (stuck.length === 0) {
      if (this.listening) this.emit({ _tag: "AllStoppedWithinGrace", path: this.config.path })
      result.complete(Exit.void)
      this.finished.complete(undefined)
      return Effect.void
    }
    for (const entry of stuck) this.abandon(entry, graceMs, "the shutdown grace")
    const names = stuck.map((entry) => entry.name)
    const paths = stuck.flatMap(stuckPaths)
    // Decided before the deadline: every task still running was abandoned after its own grace.
    const elapsedMs = this.now() - start
    const early = elapsedMs < graceMs
    if (this.listening) {
      this.emit(
        early
          ? { _tag: "GraceExceeded", path: this.config.path, graceMs, stuck: names, paths, elapsedMs }
          : { _tag: "GraceExceeded", path: this.config.path, graceMs, stuck: names, paths }
      )
    }
    // Every task under it has now stopped or been abandoned: its parent need not wait for it.
    if (graceMs > 0) this.tellParent()
    const fields = { grace: Duration.millis(graceMs), stuck: names, paths }
    const error = new GraceExceeded(early ? { ...fields, elapsed: Duration.millis(elapsedMs) } : fields)
    result.complete(Exit.fail(error))
    this.finished.complete(undefined)
    return Effect.logWarning(error.message).pipe(
      Effect.annotateLogs({ fibervisor: "shutdown", path: this.config.path })
    )
  }
}

const stopUnderWay = "a stop of the task is already under way"

/** Audited texts come from the request: each is cut to a bounded length, so a request cannot flood the bus. */
const maxAuditField = 512
const maxAuditReason = 300

const bounded = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/** Refused without an audit: the request itself is not an object (a programming error, not an operator's). */
const invalidRequest: OperatorResult = { outcome: "refused", reason: "the request must be an object" }

const text = (value: unknown): string => (typeof value === "string" ? value : "")

/** The request's fields as audited texts, `undefined` when the request is not an object. */
const auditInput = (request: OperatorRequest) => {
  if (typeof request !== "object" || request === null) return undefined
  const refused = request.refused
  return {
    action: bounded(text(request.action), 32),
    path: bounded(text(request.path), maxAuditField),
    remote: bounded(text(request.remote), 128),
    source: bounded(text(request.source), 64),
    refused: refused === undefined ? undefined : text(refused) || "refused"
  }
}

/** A task still running, or (for a nested supervisor) the deepest tasks still running under it. */
const stuckPaths = (entry: Entry): Array<string> => {
  const nested = entry.nested as SupervisorImpl | undefined
  if (nested === undefined) return [entry.path]
  const below = Array.from(nested.byId.values())
    .filter((child) => !child.exited)
    .flatMap(stuckPaths)
  return below.length === 0 ? [entry.path] : below
}

const kindOf = (entry: Entry): "worker" | "supervisor" => (entry.spec.nested === undefined ? "worker" : "supervisor")

const infoOf = (entry: Entry): TaskInfo => ({
  id: entry.id,
  name: entry.name,
  path: entry.path,
  kind: kindOf(entry),
  state: entry.state,
  attempt: entry.attempt,
  restarts: entry.restarts,
  lastFailure: Option.fromNullishOr(entry.lastFailure),
  nextAttemptAt: Option.fromNullishOr(entry.nextAttemptAt),
  // Only on readiness tasks, so that the common record stays as it was.
  ...(entry.spec.ready === false
    ? undefined
    : entry.spec.ready === true
      ? { ready: true }
      : { ready: "reported", reportedReady: entry.reportedReady })
})

const nodeOf = (entry: Entry): SupervisorTree.TaskNode => {
  const nested = entry.nested as SupervisorImpl | undefined
  const node: {
    -readonly [K in keyof SupervisorTree.TaskNode]: SupervisorTree.TaskNode[K]
  } = {
    id: entry.id,
    name: entry.name,
    path: entry.path,
    kind: kindOf(entry),
    state: entry.state,
    attempt: entry.attempt,
    restarts: entry.restarts,
    ready: entry.spec.ready !== false
  }
  if (entry.spec.ready === "reported") node.reportedReady = entry.reportedReady
  if (entry.lastFailure !== undefined) node.lastFailure = entry.lastFailure
  if (entry.nextAttemptAt !== undefined) node.nextAttemptAt = entry.nextAttemptAt
  if (nested !== undefined) node.supervisor = nested.treeSnapshot()
  return node
}

/** Builds a supervisor around `bus`; closing the scope shuts it down. */
const build = (
  config: Config,
  bus: EventBus,
  readiness?: ReadinessRecord
): Effect.Effect<SupervisorImpl, never, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* currentContext<never>()
    const fiberId = yield* Effect.fiberId
    const semaphore = config.maxConcurrent === undefined ? undefined : yield* Semaphore.make(config.maxConcurrent)
    const supervisor = new SupervisorImpl(config, context, bus, semaphore, fiberId, readiness)
    yield* Effect.addFinalizer(() => Effect.ignore(supervisor.shutdown))
    return supervisor
  })

/** Builds a root supervisor whose graceful shutdown runs when the scope closes. */
export const make = (options?: SupervisorOptions): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =>
  makeRoot(options, true)

/** `Supervisor.run`'s root: its failure goes to `run`'s caller, so it is not reported to the registry. */
export const makeForRun = (
  options?: SupervisorOptions
): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> => makeRoot(options, false)

const makeRoot = (
  options: SupervisorOptions | undefined,
  reportFailure: boolean
): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* Effect.fromResult(resolveOptions(options))
    const bus = yield* makeBus(config.eventBuffer)
    yield* Effect.addFinalizer(() => bus.close)
    const registry = yield* Effect.serviceOption(SupervisorRegistry)
    const supervisor = yield* build(config, bus)
    if (Option.isSome(registry)) {
      registry.value.register(supervisor, config.graceMs)
      if (reportFailure) supervisor.onFailed = (error) => registry.value.reportFailure(supervisor, error)
      // Listed until its shutdown has finished, whether its scope, `shutdown` or a failure started it.
      supervisor.onFinished((exceeded) => registry.value.unregister(supervisor, exceeded))
    }
    return supervisor
  })

/** Builds a nested supervisor publishing on its parent's bus and recording readiness in its tree's record. */
export const makeNested = (
  config: Config,
  bus: EventBus,
  readiness: ReadinessRecord | undefined
): Effect.Effect<SupervisorImpl, never, Scope.Scope> =>
  Effect.map(build(config, bus, readiness), (supervisor) => {
    supervisor.isNested = true
    return supervisor
  })
