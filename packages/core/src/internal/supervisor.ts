/**
 * The supervisor: `SupervisorImpl`, the facade behind the public `Supervisor` API (made by
 * `supervisor/make.ts`: `make`, `makeForRun`, `makeNested`).
 *
 * **Layout**: the facade keeps the API and registration (`spawn`, `startFiber`); each other concern
 * is a module of `internal/supervisor/`, which sees the facade through a narrow host interface
 * declared next to it (the task loop's `LoopHost` is the model), all implemented by `SupervisorImpl`:
 *
 * | module                       | owns                                                            | host              |
 * | ---------------------------- | --------------------------------------------------------------- | ----------------- |
 * | `supervisor/registry.ts`     | entries by id and name, the registered count                    | —                 |
 * | `supervisor/admission.ts`    | the checks of `add` / `addAll`; static children, in order      | `StaticStartHost` |
 * | `supervisor/stop.ts`         | claims, parking, grace clocks, abandonment, `restartNow`       | `StopByRefHost`   |
 * | `supervisor/exit.ts`         | a task fiber's exit → its outcome, unregistering; parked ends   | `ExitHost`        |
 * | `supervisor/outcome.ts`      | undecided tasks, escalation, auto-shutdown, failure             | `OutcomeHost`     |
 * | `supervisor/groupRestart.ts` | `one-for-all` / `rest-for-one` restarts, one at a time; respawn | `GroupHost`       |
 * | `supervisor/verdict.ts`      | the restart verdict of a failed attempt                         | `VerdictHost`     |
 * | `supervisor/intensity.ts`    | the restart window (pure)                                       | —                 |
 * | `supervisor/shutdown.ts`     | the one shutdown, its result; a subtree abandoned under it      | `ShutdownHost`    |
 * | `supervisor/snapshot.ts`     | `list` / `get` / `tree` records                                 | —                 |
 * | `supervisor/operator.ts`     | operator actions (`operatorAction`), audited                    | `OperatorHost`    |
 * | `supervisor/events.ts`       | builders of events emitted from several places                  | —                 |
 * | `supervisor/make.ts`         | construction: options, bus, scope, registry link                | —                 |
 *
 * Beside them: `controller.ts` (keyed submissions, `ControllerHost`), `taskLoop.ts` (a task's
 * attempts, `LoopHost`), `tree.ts` (`Supervisor.task`), `entry.ts` (one task's record, which sees
 * its supervisor as `EntryOwner` and a nested one as `NestedSupervisor`).
 *
 * **Data flow**: `add` → `admit` → `spawn` (registered, `TaskAdded`, fiber forked) → the task loop
 * (attempts, backoff; a failure asks `restartVerdict`: restart / group / join / refused by the
 * intensity) → the fiber exits → `onFiberExit` → `settle` (`TaskFinished`; escalation or
 * auto-shutdown may `fail` the supervisor or start its shutdown) → `unregister` (`TaskRemoved`, the
 * controller's slot passes on).
 *
 * **Invariants**
 * - All bookkeeping is synchronous and single-threaded: nothing yields between a check and the
 *   update it guards (admission, stop claims, settling). Fibers woken by it (signals, `later`)
 *   resume after the current synchronous work, so they never see it half done.
 * - `Outcomes.pending` counts tasks whose outcome is undecided plus queued controller submissions;
 *   it never touches zero while a submission is being handed over (`awaitEmpty`, `run`).
 * - An outcome is decided once (`settle`); a name stays taken until the fiber has exited, abandoned
 *   ones included: only `onFiberExit` and `finalizeParked` unregister an entry.
 * - A failure (`fail`) is recorded before the shutdown it starts, so `join` and `run` fail with it.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
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
  TaskHandle,
  TaskInfo,
  TaskRef
} from "../Supervisor.js"
import type { GraceExceeded, InvalidArgument, SupervisorFailure, TaskTerminationTimeout } from "../SupervisorError.js"
import type * as SupervisorEvent from "../SupervisorEvent.js"
import type * as SupervisorTree from "../SupervisorTree.js"
import type { Services, Task } from "../Task.js"
import * as TaskId from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import type { EventBus, EventInput } from "./bus.js"
import { type Caller, seriesIdentityOf, unsafeForkWatched, type Watched, withCaller } from "./compat.js"
import { Controller } from "./controller.js"
import { Entry, type LoopResult, type StopReason } from "./entry.js"
import type { Config } from "./options.js"
import { ReadinessRecord } from "./readiness.js"
import type { Signal } from "./signal.js"
import { admit, admitAll, startStatic } from "./supervisor/admission.js"
import { taskAdded, taskRemoved } from "./supervisor/events.js"
import { finalizeParked, onFiberExit } from "./supervisor/exit.js"
import { GroupRestarts } from "./supervisor/groupRestart.js"
import { operatorAction } from "./supervisor/operator.js"
import { Outcomes } from "./supervisor/outcome.js"
import { Registry } from "./supervisor/registry.js"
import { Shutdown } from "./supervisor/shutdown.js"
import { infoOf, treeOf } from "./supervisor/snapshot.js"
import { cancelByRef, findByRef, removeByRef, restartByRef } from "./supervisor/stop.js"
import { RestartVerdicts } from "./supervisor/verdict.js"
import type { ResolvedTask } from "./task.js"
import { type RestartVerdict, supervisorLoop, unlimitedLoop } from "./taskLoop.js"

/** The supervisor: a registry of entries, each run by its own root fiber (see the module header). */
export class SupervisorImpl implements Supervisor {
  /** The tasks it holds, by id and by name. */
  readonly registry = new Registry()
  /** Tasks without an outcome, the supervisor's failure, and what an outcome leads to. */
  private readonly outcomes: Outcomes
  /** The one shutdown: its result, its deadline, and the dynamic tasks it waits for. */
  private readonly shutdownRun: Shutdown
  /** The restart verdicts of its tasks' failures, and the intensity window. */
  private readonly verdicts: RestartVerdicts
  /** Group restarts (`one-for-all`, `rest-for-one`): queued, and the one under way. */
  private readonly groups: GroupRestarts
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
  /** Its path and a slash: a task's path is this and its name (one string built per read, not two). */
  readonly pathPrefix: string
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
    this.pathPrefix = `${config.path}/`
    this.readiness = treeReadiness ?? new ReadinessRecord()
    this.ownsReadiness = treeReadiness === undefined
    this.withPermit = semaphore === undefined ? (effect) => effect : Semaphore.withPermits(semaphore, 1)
    this.loop = semaphore === undefined ? unlimitedLoop : supervisorLoop(this.withPermit)
    this.controller = new Controller(this)
    this.groups = new GroupRestarts(this)
    this.verdicts = new RestartVerdicts(this, this.groups)
    this.shutdownRun = new Shutdown(this)
    this.outcomes = new Outcomes(this)
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
    return this.shutdownRun.started
  }

  childPath(name: string): string {
    return this.pathPrefix + name
  }

  // ---- admission ----

  /** See `ControllerHost.submissionQueued`. */
  submissionQueued(): void {
    this.outcomes.pending.increment()
  }

  /** See `ControllerHost.submissionDequeued`. */
  submissionDequeued(): void {
    this.outcomes.pending.decrement()
  }

  /** Registers an admitted task and starts its fiber (on the scheduler's next turn). */
  spawn<R>(
    spec: ResolvedTask,
    caller: Caller<R>,
    isStatic = false,
    id = TaskId.unsafeNext(),
    settled?: Signal<TaskOutcome.TaskOutcome>
  ): Entry {
    const entry = new Entry(id, spec, isStatic, this)
    if (settled !== undefined) entry.settled = settled
    // A task added at the path of one that ended for good takes its place.
    if (!this.readiness.empty) this.readiness.clear(entry.path)
    this.registry.add(entry)
    this.outcomes.added(spec.significant)
    if (this.listening) this.emit(taskAdded(entry))
    entry.caller = caller as Caller<unknown>
    entry.series = seriesIdentityOf(caller as Context.Context<never>)
    this.startFiber(entry)
    return entry
  }

  /** Forks `entry`'s fiber on the shared task loop; `onFiberExit` observes its exit. */
  startFiber(entry: Entry): void {
    if (!entry.isStatic) this.shutdownRun.aliveDynamic.increment()
    entry.fiber = unsafeForkWatched(entry.caller!, this.loop, taskFiberExited, entry)
  }

  add<E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, R> {
    // The handle is the entry itself (`Entry` implements `TaskHandle`): one object fewer per task.
    return withCaller<TaskHandle, AddError, R, never>((caller) => {
      const admitted = admit(this, task, undefined)
      return Result.isFailure(admitted)
        ? Effect.fail(admitted.failure)
        : Effect.succeed(this.spawn(admitted.success, caller))
    })
  }

  addAll<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskHandle>, AddError, Services<T>> {
    return withCaller<ReadonlyArray<TaskHandle>, AddError, Services<T>, never>((caller) => {
      const admitted = admitAll(this, tasks)
      if (Result.isFailure(admitted)) return Effect.fail(admitted.failure)
      return Effect.succeed(admitted.success.map((spec): TaskHandle => this.spawn(spec, caller)))
    })
  }

  /** A nested supervisor's static children, started in order (see `supervisor/admission.ts`). */
  startStatic(tasks: ReadonlyArray<Task<any, any>>): Effect.Effect<void, AddError> {
    return startStatic(this, tasks)
  }

  /** See `GroupRestarts.idle`. */
  get groupIdle(): Signal<void> | undefined {
    return this.groups.idle
  }

  run<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskOutcome.TaskOutcome>, AddError | SupervisorFailure, Services<T>> {
    return Effect.flatMap(this.addAll(tasks), (handles) =>
      Effect.andThen(
        this.awaitEmpty,
        Effect.suspend(() =>
          this.outcomes.failure !== undefined
            ? Effect.fail(this.outcomes.failure)
            : Effect.forEach(handles, (handle) => handle.await)
        )
      )
    )
  }

  submit<E, R>(task: Task<E, R>, options?: SubmitOptions): Effect.Effect<TaskHandle, AddError | InvalidArgument, R> {
    return this.controller.submit(task, options)
  }

  get slots() {
    return Effect.sync(() => this.controller.slotInfos())
  }

  // ---- restarts ----

  /** See `LoopHost.restartVerdict` (`supervisor/verdict.ts`). */
  restartVerdict(entry: Entry, reason: string): RestartVerdict {
    return this.verdicts.verdict(entry, reason)
  }

  /** See `finalizeParked` in `supervisor/exit.ts`. */
  finalizeParked(entry: Entry, reason: StopReason): void {
    finalizeParked(this, entry, reason)
  }

  // ---- stopping ----

  restartNow(ref: TaskRef): Effect.Effect<boolean> {
    return Effect.sync(() => restartByRef(this, ref))
  }

  /** See `Shutdown.subtreeAbandoned`. */
  subtreeAbandoned(entry: Entry): void {
    this.shutdownRun.subtreeAbandoned(entry)
  }

  hasName(name: string): boolean {
    return this.registry.hasName(name)
  }

  remove(ref: TaskRef): Effect.Effect<boolean> {
    return Effect.sync(() => removeByRef(this, ref))
  }

  cancel(
    ref: TaskRef,
    options?: { readonly timeout?: Duration.Input | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> {
    return Effect.suspend(() => cancelByRef(this, ref, options))
  }

  /** Takes a queued controller submission out of its queue (`remove` / `cancel` of one not started). */
  removeQueued(ref: TaskRef): boolean {
    return this.controller.removeQueued(ref)
  }

  /** Decides `entry`'s outcome once; later calls are ignored (see `Outcomes.settle`). */
  settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    this.outcomes.settle(entry, outcome)
  }

  /** Starts the shutdown by itself (a failure, an auto-shutdown): no `ShutdownRequested`. */
  beginShutdown(): void {
    this.shutdownRun.begin(false)
  }

  /** See `Shutdown.dynamicExited`. */
  dynamicExited(entry: Entry): void {
    this.shutdownRun.dynamicExited(entry)
  }

  enqueueGroupRestart(entry: Entry): void {
    this.groups.enqueue(entry)
  }

  /** Removes an ended entry from the registry (its name is free again). */
  unregister(entry: Entry): void {
    this.registry.remove(entry)
    if (this.listening) this.emit(taskRemoved(entry))
    this.controller.ownerExited(entry)
    this.registry.left()
  }

  /** Resumes when the registry is empty: every task's fiber has exited, abandoned ones included. */
  get awaitUnregistered(): Effect.Effect<void> {
    return this.registry.whenEmpty
  }

  // ---- inspection ----

  get list(): Effect.Effect<ReadonlyArray<TaskInfo>> {
    return Effect.sync(() => this.registry.inIdOrder().map(infoOf))
  }

  get(ref: TaskRef): Effect.Effect<Option.Option<TaskInfo>> {
    return Effect.sync(() => {
      const entry = findByRef(this, ref)
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

  /** See `supervisor/operator.ts`. */
  operatorAction(request: OperatorRequest): Effect.Effect<OperatorResult> {
    return operatorAction(this, request)
  }

  treeSnapshot(): SupervisorTree.SupervisorTree {
    return treeOf(
      this.config.path,
      this.config.strategy,
      this.shutdownRun.state,
      this.registry,
      // The tree's record is shown on its root only (its paths are full paths).
      this.ownsReadiness ? this.readiness : undefined
    )
  }

  get events(): Stream.Stream<SupervisorEvent.SupervisorEvent> {
    return Stream.unwrap(this.subscribe)
  }

  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return this.bus.subscribe
  }

  get awaitEmpty(): Effect.Effect<void> {
    return this.outcomes.pending.await
  }

  get isShuttingDown(): Effect.Effect<boolean> {
    return Effect.sync(() => this.shutdownRun.started)
  }

  get size(): Effect.Effect<number> {
    return Effect.sync(() => this.registry.size)
  }

  get join(): Effect.Effect<void, SupervisorFailure> {
    return Effect.flatMap(this.shutdownRun.done.await, () =>
      this.outcomes.failure === undefined ? Effect.void : Effect.fail(this.outcomes.failure)
    )
  }

  /** Calls `f` once the shutdown has finished, whoever started it, with its `GraceExceeded` if any. */
  onShutdownDone(f: (exceeded: GraceExceeded | undefined) => void): void {
    this.shutdownRun.onShutdownDone(f)
  }

  // ---- shutdown ----

  get shutdown(): Effect.Effect<void, GraceExceeded> {
    return Effect.suspend(() => Effect.flatMap(this.shutdownRun.begin(true).await, (exit) => exit))
  }

  /** Stops what must not run once the shutdown began: queued controller submissions, group restarts. */
  haltPending(): void {
    this.groups.interrupt()
    this.controller.shutdown()
  }

  /** See `Shutdown.finishIfDue`. */
  finishIfDue(): void {
    this.shutdownRun.finishIfDue()
  }
}

/** The exit observer of every task fiber (`this.target`: its entry, whose owner is its supervisor). */
function taskFiberExited(this: Watched<Entry>, exit: Exit.Exit<LoopResult>): void {
  const entry = this.target
  onFiberExit(entry.owner as unknown as SupervisorImpl, entry, exit)
}
