import type * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { AddError, Supervisor, SupervisorOptions, TaskHandle, TaskInfo, TaskRef } from "../Supervisor.js"
import {
  GraceExceeded,
  InvalidArgument,
  InvalidSupervisorOptions,
  SupervisorShuttingDown,
  TaskAlreadyExists,
  TaskTerminationTimeout
} from "../SupervisorError.js"
import type * as SupervisorEvent from "../SupervisorEvent.js"
import type { Services, Task } from "../Task.js"
import { TaskContext } from "../TaskContext.js"
import * as TaskId from "../TaskId.js"
import * as TaskOutcome from "../TaskOutcome.js"
import {
  addTwo,
  type Caller,
  runtime as currentRuntime,
  unsafeForkDetached,
  unsafeForkRoot,
  unsafeInterruptFork,
  withCaller
} from "./compat.js"
import { describeCause } from "./describe.js"
import { decodeDuration, describe } from "./duration.js"
import { Entry, type StopReason } from "./entry.js"
import { type EventInput, stopped, taskLoop, withExitCode } from "./taskLoop.js"
import { ZeroSignal } from "./zeroSignal.js"
import { type ResolvedDefaults, resolveDefaults, resolveTask, type ResolvedTask } from "./task.js"

/** Supervisor options after decoding. */
interface Config {
  readonly graceMs: number
  readonly maxConcurrent: number | undefined
  readonly eventBuffer: number
  readonly defaults: ResolvedDefaults
}

const positiveInt = (field: string, input: unknown): Either.Either<number, InvalidSupervisorOptions> =>
  typeof input === "number" && Number.isInteger(input) && input >= 1
    ? Either.right(input)
    : Either.left(new InvalidSupervisorOptions({ field, reason: `must be a positive integer, got ${describe(input)}` }))

/** Decodes and checks `SupervisorOptions`. */
export const resolveOptions = (
  options: SupervisorOptions | undefined
): Either.Either<Config, InvalidSupervisorOptions> =>
  Either.gen(function* () {
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      return yield* Either.left(
        new InvalidSupervisorOptions({ field: "options", reason: `must be an object, got ${describe(options)}` })
      )
    }
    const o = options ?? {}
    const graceMs =
      o.grace === undefined
        ? 10_000
        : Duration.toMillis(
            yield* Either.mapLeft(
              decodeDuration(o.grace),
              (reason) => new InvalidSupervisorOptions({ field: "grace", reason })
            )
          )
    const maxConcurrent =
      o.maxConcurrent === undefined ? undefined : yield* positiveInt("maxConcurrent", o.maxConcurrent)
    const eventBuffer = o.eventBuffer === undefined ? 1024 : yield* positiveInt("eventBuffer", o.eventBuffer)
    const defaults = yield* Either.mapLeft(resolveDefaults(o.defaults), (p) => new InvalidSupervisorOptions(p))
    return { graceMs, maxConcurrent, eventBuffer, defaults }
  })

/** The supervisor: a registry of entries, each run by its own root fiber. */
export class SupervisorImpl implements Supervisor {
  private seq = 0
  private readonly byId = new Map<TaskId.TaskId, Entry>()
  private readonly byName = new Map<string, Entry>()
  /** Tasks whose outcome is not decided yet. */
  private readonly pending: ZeroSignal
  /** Tasks whose fiber has not exited yet. */
  private readonly alive: ZeroSignal
  private shutdownResult: Deferred.Deferred<void, GraceExceeded> | undefined = undefined
  /** Event subscribers; with none, events are not even built. */
  private subscribers = 0
  readonly withPermit: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

  constructor(
    readonly config: Config,
    private readonly runtime: Runtime.Runtime<never>,
    private readonly clock: Clock.Clock,
    private readonly pubsub: PubSub.PubSub<SupervisorEvent.SupervisorEvent>,
    semaphore: Effect.Semaphore | undefined,
    private readonly fiberId: FiberId.FiberId
  ) {
    this.pending = new ZeroSignal(fiberId)
    this.alive = new ZeroSignal(fiberId)
    this.withPermit = semaphore === undefined ? (effect) => effect : semaphore.withPermits(1)
  }

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  get listening(): boolean {
    return this.subscribers > 0
  }

  emit(event: EventInput): void {
    if (this.subscribers === 0) return
    const full = { ...event, seq: ++this.seq, at: this.now() } as SupervisorEvent.SupervisorEvent
    // `unsafeOffer` refuses when a subscriber's buffer is full instead of sliding; only `publish`
    // applies the sliding strategy (drop the oldest). A sliding publish never suspends.
    if (!this.pubsub.unsafeOffer(full) && this.pubsub.isActive()) Effect.runSync(PubSub.publish(this.pubsub, full))
  }

  // ---- admission ----

  private admit(
    task: Task<any, any>,
    pendingNames: ReadonlySet<string> | undefined
  ): Either.Either<ResolvedTask, AddError> {
    const resolved = resolveTask(task, this.config.defaults)
    if (Either.isLeft(resolved)) {
      this.emit({
        _tag: "TaskAddFailed",
        task: resolved.left.task,
        rejection: "InvalidSpec",
        reason: resolved.left.message
      })
      return resolved
    }
    const name = resolved.right.name
    if (this.shutdownResult !== undefined) {
      this.emit({
        _tag: "TaskAddFailed",
        task: name,
        rejection: "ShuttingDown",
        reason: "the supervisor is shutting down"
      })
      return Either.left(new SupervisorShuttingDown())
    }
    if (this.byName.has(name) || pendingNames?.has(name)) {
      this.emit({ _tag: "TaskAddFailed", task: name, rejection: "AlreadyExists", reason: "the name is taken" })
      return Either.left(new TaskAlreadyExists({ name }))
    }
    return resolved
  }

  private spawn<R>(spec: ResolvedTask, caller: Caller<R>): TaskHandle {
    const entry = new Entry(TaskId.unsafeNext(), spec)
    this.byId.set(entry.id, entry)
    this.byName.set(entry.name, entry)
    this.pending.increment()
    this.alive.increment()
    if (this.listening) this.emit({ _tag: "TaskAdded", id: entry.id, task: entry.name })
    const context = addTwo(caller.context, TaskContext, entry.context, Scope.Scope, entry.scope)
    entry.fiber = unsafeForkDetached(caller as Caller<unknown>, context, taskLoop(this, entry))
    // An observer, not `onExit`: a fiber interrupted before its first step never runs its effect.
    entry.fiber.addObserver((exit) => this.exited(entry, exit))
    return new Handle(entry)
  }

  add<E, R>(task: Task<E, R>): Effect.Effect<TaskHandle, AddError, R> {
    return withCaller<TaskHandle, AddError, R, never>((caller) => {
      const admitted = this.admit(task, undefined)
      return Either.isLeft(admitted) ? Effect.fail(admitted.left) : Effect.succeed(this.spawn(admitted.right, caller))
    })
  }

  addAll<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskHandle>, AddError, Services<T>> {
    return withCaller<ReadonlyArray<TaskHandle>, AddError, Services<T>, never>((caller) => {
      const names = new Set<string>()
      const specs: Array<ResolvedTask> = []
      for (const task of tasks) {
        const admitted = this.admit(task, names)
        if (Either.isLeft(admitted)) return Effect.fail(admitted.left)
        names.add(admitted.right.name)
        specs.push(admitted.right)
      }
      return Effect.succeed(specs.map((spec) => this.spawn(spec, caller)))
    })
  }

  run<const T extends Iterable<Task<any, any>>>(
    tasks: T
  ): Effect.Effect<ReadonlyArray<TaskOutcome.TaskOutcome>, AddError, Services<T>> {
    return Effect.flatMap(this.addAll(tasks), (handles) =>
      Effect.zipRight(
        this.awaitEmpty,
        Effect.forEach(handles, (handle) => handle.await)
      )
    )
  }

  // ---- stopping ----

  private lookup(ref: TaskRef): Entry | undefined {
    return typeof ref === "string" ? this.byName.get(ref) : this.byId.get(ref)
  }

  /** Claims the stop of `entry`: completes `cancelled`, then interrupts its fiber. `true` for the one claimant. */
  private requestStop(entry: Entry, reason: StopReason): boolean {
    if (entry.stopReason !== undefined || entry.outcome !== undefined) return false
    entry.stopReason = reason
    entry.state = "stopping"
    entry.nextAttemptAt = undefined
    this.emit({ _tag: "TaskRemoveRequested", id: entry.id, task: entry.name, reason })
    entry.cancelled.complete(undefined)
    unsafeInterruptFork(entry.fiber, this.fiberId)
    return true
  }

  /** Starts the per-task grace clock of a `remove` or `cancel`. */
  private startGrace(entry: Entry): void {
    const graceMs = entry.spec.graceMs ?? this.config.graceMs
    const abandon = () =>
      this.settle(entry, new TaskOutcome.ForceAborted({ reason: `did not stop within its grace of ${graceMs} ms` }))
    if (graceMs === 0) return abandon()
    entry.graceTimer = unsafeForkRoot(
      this.runtime,
      Effect.zipRight(
        Effect.sleep(Duration.millis(graceMs)),
        Effect.sync(() => {
          if (!entry.exited) abandon()
        })
      )
    )
  }

  remove(ref: TaskRef): Effect.Effect<boolean> {
    return Effect.sync(() => {
      const entry = this.lookup(ref)
      if (entry === undefined || !this.requestStop(entry, "remove")) return false
      this.startGrace(entry)
      return true
    })
  }

  cancel(
    ref: TaskRef,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> {
    return Effect.suspend((): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> => {
      let timeoutMs = 0
      if (options?.timeout !== undefined) {
        const decoded = decodeDuration(options.timeout)
        if (Either.isLeft(decoded)) {
          return Effect.fail(new InvalidArgument({ operation: "cancel", field: "timeout", reason: decoded.left }))
        }
        timeoutMs = Duration.toMillis(decoded.right)
      }
      const entry = this.lookup(ref)
      if (entry === undefined) return Effect.succeed(false)
      const claimed = this.requestStop(entry, "cancel")
      if (claimed) this.startGrace(entry)
      const cleanup = Effect.as(entry.settled.await, claimed)
      if (options?.timeout === undefined) return cleanup
      return Effect.timeoutFail(cleanup, {
        duration: Duration.millis(timeoutMs),
        onTimeout: () => new TaskTerminationTimeout({ task: entry.name, id: entry.id, timeoutMs })
      })
    })
  }

  /** Decides `entry`'s outcome once; later calls are ignored. */
  private settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    if (entry.outcome !== undefined) return
    entry.outcome = outcome
    entry.settled.complete(outcome)
    if (this.listening) this.emitFinished(entry, outcome)
    this.pending.decrement()
  }

  private emitFinished(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    const reason = TaskOutcome.reason(outcome)
    const exitCode = TaskOutcome.exitCode(outcome)
    this.emit(
      withExitCode(
        reason === undefined
          ? { _tag: "TaskFinished", id: entry.id, task: entry.name, outcome: outcome._tag }
          : { _tag: "TaskFinished", id: entry.id, task: entry.name, outcome: outcome._tag, reason },
        exitCode
      )
    )
  }

  /** The task's fiber has physically exited: decide its outcome (unless abandoned) and free its name. */
  private exited(entry: Entry, exit: Exit.Exit<TaskOutcome.TaskOutcome>): void {
    entry.exited = true
    if (entry.graceTimer !== undefined) unsafeInterruptFork(entry.graceTimer, this.fiberId)
    if (Exit.isSuccess(exit)) {
      this.settle(entry, exit.value)
    } else {
      if (entry.attemptRunning) {
        this.emit({
          _tag: "AttemptCanceled",
          id: entry.id,
          task: entry.name,
          attempt: entry.attempt,
          durationMs: this.now() - entry.attemptStartedAt,
          reason: `stopped by ${entry.stopReason ?? "interruption"}`
        })
      }
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
    this.byId.delete(entry.id)
    if (this.byName.get(entry.name) === entry) this.byName.delete(entry.name)
    if (this.listening) this.emit({ _tag: "TaskRemoved", id: entry.id, task: entry.name })
    this.alive.decrement()
  }

  // ---- inspection ----

  get list(): Effect.Effect<ReadonlyArray<TaskInfo>> {
    return Effect.sync(() => Array.from(this.byId.values(), infoOf))
  }

  get(ref: TaskRef): Effect.Effect<Option.Option<TaskInfo>> {
    return Effect.sync(() => {
      const entry = this.lookup(ref)
      return entry === undefined ? Option.none() : Option.some(infoOf(entry))
    })
  }

  get events(): Stream.Stream<SupervisorEvent.SupervisorEvent> {
    return Stream.unwrapScoped(this.subscribe)
  }

  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.tap(PubSub.subscribe(this.pubsub), () => {
        this.subscribers += 1
      }),
      () =>
        Effect.sync(() => {
          this.subscribers -= 1
        })
    ).pipe(Effect.map((dequeue) => Stream.fromQueue(dequeue)))
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

  // ---- shutdown ----

  get shutdown(): Effect.Effect<void, GraceExceeded> {
    return Effect.suspend(() => Deferred.await(this.startShutdown()))
  }

  private startShutdown(): Deferred.Deferred<void, GraceExceeded> {
    if (this.shutdownResult !== undefined) return this.shutdownResult
    const result = Deferred.unsafeMake<void, GraceExceeded>(this.fiberId)
    this.shutdownResult = result
    this.emit({ _tag: "ShutdownRequested" })
    for (const entry of this.byId.values()) this.requestStop(entry, "shutdown")
    const graceMs = this.config.graceMs
    /** Decides the result from which fibers have exited; returns the warning to log, if any. */
    const decide = (): Effect.Effect<void> => {
      const stuck = Array.from(this.byId.values()).filter((entry) => !entry.exited)
      if (stuck.length === 0) {
        this.emit({ _tag: "AllStoppedWithinGrace" })
        Deferred.unsafeDone(result, Exit.void)
        return Effect.void
      }
      for (const entry of stuck) {
        this.settle(
          entry,
          new TaskOutcome.ForceAborted({ reason: `did not stop within the shutdown grace of ${graceMs} ms` })
        )
      }
      const names = stuck.map((entry) => entry.name)
      this.emit({ _tag: "GraceExceeded", graceMs, stuck: names })
      const error = new GraceExceeded({ grace: Duration.millis(graceMs), stuck: names })
      Deferred.unsafeDone(result, Exit.fail(error))
      return Effect.logWarning(error.message).pipe(Effect.annotateLogs("fibervisor", "shutdown"))
    }
    if (graceMs === 0) {
      // No grace: decided now, before any fiber has processed its interrupt.
      unsafeForkRoot(this.runtime, decide())
    } else {
      const wait = Effect.timeoutOption(Effect.interruptible(this.alive.await), Duration.millis(graceMs))
      unsafeForkRoot(this.runtime, Effect.zipRight(wait, Effect.suspend(decide)))
    }
    return result
  }
}

const infoOf = (entry: Entry): TaskInfo => ({
  id: entry.id,
  name: entry.name,
  state: entry.state,
  attempt: entry.attempt,
  restarts: entry.restarts,
  lastFailure: Option.fromNullable(entry.lastFailure),
  nextAttemptAt: Option.fromNullable(entry.nextAttemptAt)
})

class Handle implements TaskHandle {
  constructor(private readonly entry: Entry) {}
  get id() {
    return this.entry.id
  }
  get name() {
    return this.entry.name
  }
  get await() {
    return this.entry.settled.await
  }
  get poll() {
    return Effect.sync(() => Option.fromNullable(this.entry.outcome))
  }
}

/** Builds a supervisor whose graceful shutdown runs when the scope closes. */
export const make = (options?: SupervisorOptions): Effect.Effect<Supervisor, InvalidSupervisorOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* resolveOptions(options)
    const runtime = yield* currentRuntime<never>()
    const clock = yield* Effect.clock
    const fiberId = yield* Effect.fiberId
    const pubsub = yield* PubSub.sliding<SupervisorEvent.SupervisorEvent>(config.eventBuffer)
    const semaphore = config.maxConcurrent === undefined ? undefined : yield* Effect.makeSemaphore(config.maxConcurrent)
    const supervisor = new SupervisorImpl(config, runtime, clock, pubsub, semaphore, fiberId)
    yield* Effect.addFinalizer(() =>
      supervisor.shutdown.pipe(
        Effect.catchAll(() => Effect.void),
        Effect.zipRight(PubSub.shutdown(pubsub))
      )
    )
    return supervisor
  })
