/**
 * Every use of Effect's internals, and every runtime trick whose shape depends on the Effect
 * release, lives here, so that a port (or an Effect minor that changes them) touches one file.
 * `test/compat/Compat.test.ts` checks each assumption against the installed Effect, and
 * docs/ARCHITECTURE.md ("What compat.ts reads from Effect 4, and why") says what each is for.
 *
 * Invariants: no other module of core reads a private field of Effect's; the fibers fibervisor
 * keeps (task fibers, offload jobs, grace timers, shutdown and group-restart drivers) are started
 * here, so `live` counts them for the leak checks; a wake-up from the middle of the supervisor's
 * bookkeeping goes through `later`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Pull from "effect/Pull"
import * as Schedule from "effect/Schedule"
import type * as Scheduler from "effect/Scheduler"
import * as Tracer from "effect/Tracer"

// ---- schedules ----

/**
 * A running schedule: Effect 4 keeps a schedule's state in the closure `Schedule.toStep` makes, so
 * "reset the schedule" means dropping the stepper and making a new one.
 */
export type Stepper<Out, In, E = unknown, R = unknown> = (
  now: number,
  input: In
) => Pull.Pull<[Out, Duration.Duration], E, unknown, R>

/** One step of a schedule: its output and the delay it asks for, in ms. */
export interface ScheduleStep<Out> {
  readonly output: Out
  readonly delayMs: number
}

/** A new stepper of `schedule`, from its initial state. */
export const makeStepper = <Out, In, E, R>(
  schedule: Schedule.Schedule<Out, In, E, R>
): Effect.Effect<Stepper<Out, In, E, R>, never, R> => Schedule.toStep(schedule)

/**
 * Steps a stepper once without sleeping; `undefined` when the schedule is done. A step function
 * that throws is a defect of the returned effect (as a failing schedule is).
 */
export const stepSchedule = <Out, In, E, R>(
  step: Stepper<Out, In, E, R>,
  now: number,
  input: In
): Effect.Effect<ScheduleStep<Out> | undefined, E, R> =>
  Pull.matchEffect(
    Effect.suspend(() => step(now, input)),
    {
      onSuccess: ([output, delay]) =>
        Effect.succeed<ScheduleStep<Out> | undefined>({ output, delayMs: Math.max(0, Duration.toMillis(delay)) }),
      onFailure: Effect.failCause,
      onDone: () => Effect.succeed(undefined)
    }
  )

/**
 * Builds a schedule from a step function with an explicit state: it returns the next state, the
 * output and the delay in ms, or `undefined` as the delay to stop.
 */
export const scheduleFromStep = <S, In, Out, R>(
  initial: S,
  step: (now: number, input: In, state: S) => Effect.Effect<readonly [S, Out, number | undefined], never, R>
): Schedule.Schedule<Out, In, never, R> =>
  Schedule.fromStep(
    Effect.sync(() => {
      let state = initial
      return (now: number, input: In): Pull.Pull<[Out, Duration.Duration], never, Out, R> =>
        Effect.flatMap(step(now, input, state), ([next, out, delayMs]) => {
          if (delayMs === undefined) return Cause.done(out)
          state = next
          return Effect.succeed<[Out, Duration.Duration]>([out, Duration.millis(delayMs)])
        })
    })
  )

// ---- fibers ----

/**
 * How many fibers fibervisor has started (task fibers, offload jobs, timers, shutdown drivers) and
 * that have not exited yet. Read by the leak checks of the test suites.
 */
export const live = { fibers: 0 }

const fiberExited = (): void => {
  live.fibers -= 1
}

// ---- deferred resumption ----

/**
 * Effect 4 resumes a waiting fiber synchronously, inside the call that wakes it: completing a
 * `Deferred`, publishing to a `PubSub` a subscriber waits on, or interrupting a suspended fiber runs
 * that fiber's code on the caller's stack (Effect 3 scheduled it). fibervisor wakes fibers from the
 * middle of its bookkeeping (settling an outcome, releasing a name, claiming a stop): a woken
 * fiber that called back into the supervisor there would see it half-updated, and a task fiber
 * interrupted synchronously could exit (and be settled) before the code that stopped it has
 * finished. So every such wake-up goes through `later`: a FIFO of callbacks run by one scheduler
 * task, after the current synchronous work.
 */
const queue: Array<(() => void) | FiberInternals<any, any> | Effect.Effect<any, any> | undefined> = []
/**
 * The items in `queue`: its slots past this are left over from an earlier flush (cleared), so a
 * flush's worth of starts is written in place instead of growing a new array, copying it as it
 * grows, every turn (≈ 50 bytes per task). An array that grew past `keptSlots` is let go.
 */
let queued = 0
const keptSlots = 4_096
/**
 * Interruptions: they go before everything else `later` holds (see `laterInterrupt`). Each is two
 * items, the fiber (or an `InterruptBatch`'s list of fibers) and the id of the fiber that
 * interrupts it (no closure per interruption).
 */
const urgent: Array<Fiber.Fiber<unknown, unknown> | ReadonlyArray<Fiber.Fiber<unknown, unknown>> | number | undefined> =
  []
let flushing = false

const run = (f: () => void): void => {
  try {
    f()
  } catch (error) {
    // Never lose the rest of the queue; the error surfaces as an uncaught exception.
    queueMicrotask(() => {
      throw error
    })
  }
}

const flush = (): void => {
  // Callbacks added while flushing run in the same flush, interruptions first, each lane in order.
  let q = 0
  let u = 0
  while (true) {
    if (u < urgent.length) {
      const item = urgent[u++]!
      const by = urgent[u++] as number | undefined
      if (Array.isArray(item)) {
        // An `InterruptBatch`.
        for (let i = 0; i < item.length; i++) interrupt(item[i]!, by)
      } else interrupt(item as Fiber.Fiber<unknown, unknown>, by)
    } else if (q < queued) {
      const item = queue[q++]!
      // A fiber start is two items, the fiber then its effect (see `laterStart`).
      if (typeof item === "function") run(item)
      else start(item as FiberInternals<any, any>, queue[q++] as Effect.Effect<any, any>)
    } else break
  }
  if (queued > keptSlots) queue.length = 0
  else queue.fill(undefined, 0, queued)
  queued = 0
  urgent.length = 0
  flushing = false
}

/**
 * The flush is a task of the calling fiber's scheduler (one dispatcher per scheduler, shared): it
 * runs on the scheduler's next turn, as Effect 3 ran resumed fibers, and a scheduler that tracks
 * the work it runs sees it — `TestClock` waits, after each wake, for the work the woken fibers
 * scheduled (a microtask would escape it, and with it everything the flush starts). Outside any
 * fiber (an observer, a timer), the last scheduler seen is used; before any, a microtask.
 */
const dispatchers = new WeakMap<Scheduler.Scheduler, Scheduler.SchedulerDispatcher>()
let lastDispatcher: Scheduler.SchedulerDispatcher | undefined = undefined

const dispatcherNow = (): Scheduler.SchedulerDispatcher | undefined => {
  const fiber = Fiber.getCurrent()
  if (fiber === undefined) return lastDispatcher
  const scheduler = fiber.cache.scheduler
  let dispatcher = dispatchers.get(scheduler)
  if (dispatcher === undefined) {
    dispatcher = scheduler.makeDispatcher()
    dispatchers.set(scheduler, dispatcher)
  }
  return (lastDispatcher = dispatcher)
}

const schedule = (): void => {
  if (flushing) return
  flushing = true
  const dispatcher = dispatcherNow()
  if (dispatcher === undefined) queueMicrotask(flush)
  else dispatcher.scheduleTask(flush, 0)
}

/** Runs `f` after the current synchronous work (see above). */
export const later = (f: () => void): void => {
  queue[queued++] = f
  schedule()
}

/** Interrupts `fiber` (see `laterInterrupt`); an exception surfaces as an uncaught one, after the rest. */
const interrupt = (fiber: Fiber.Fiber<unknown, unknown>, by: number | undefined): void => {
  try {
    fiber.interruptUnsafe(by)
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}

/** Starts `fiber` with `effect` after the current synchronous work, in `later`'s order. */
const laterStart = <A, E>(fiber: FiberInternals<A, E>, effect: Effect.Effect<A, E>): void => {
  queue[queued++] = fiber
  queue[queued++] = effect
  schedule()
}

/** Runs a fiber made by `unstarted` (nothing, if it was interrupted before: it has exited). */
const start = <A, E>(fiber: FiberInternals<A, E>, effect: Effect.Effect<A, E>): void => {
  try {
    fiber.evaluate(effect)
  } catch (error) {
    queueMicrotask(() => {
      throw error
    })
  }
}

/**
 * Like `later`, for an interruption: it is delivered before the wake-ups already waiting. A stop
 * completes `TaskContext.cancelled`, then interrupts the task's fiber; an attempt that waits for
 * `cancelled` inside an uninterruptible region must find the interruption pending when it wakes (it
 * then takes effect at the end of the region, and the stop wins over whatever the attempt returns),
 * as Effect 3, which queued both for the fiber in that order, had it.
 */
const laterInterrupt = (fiber: Fiber.Fiber<unknown, unknown>, by: number | undefined): void => {
  urgent.push(fiber, by)
  schedule()
}

/**
 * What fibervisor reads and writes of Effect 4's `FiberImpl` (private, checked by
 * `test/compat/Compat.test.ts`): its constructor makes a fiber that has not run (`forkUnsafe` does
 * the same and schedules `evaluate`), `_observers` is its list of exit callbacks, and
 * `_asyncContext` the async context its first `evaluate` runs in.
 */
interface FiberInternals<A, E> extends Fiber.Fiber<A, E> {
  _observers: Array<(exit: Exit.Exit<A, E>) => void> | undefined
  _stack: Array<Frame>
  _asyncContext: unknown
  evaluate(effect: Effect.Effect<A, E>): void
}

type FiberClass = new <A, E>(context: Context.Context<never>, interruptible: boolean) => FiberInternals<A, E>

let fiberClass: FiberClass | undefined = undefined

/** Effect's fiber class, taken from a fiber that has already ended. */
const FiberImpl = (): FiberClass =>
  (fiberClass ??= (Effect.runForkWith(Context.empty())(Effect.void) as object).constructor as FiberClass)

/**
 * Node's `AsyncResource`, as Effect reads it (no import: core runs wherever Effect does). A fiber
 * forked to run later keeps the async context of the code that forked it, as Effect's own
 * `forkUnsafe` does, so `AsyncLocalStorage` values flow into the task or job.
 */
const AsyncResource: (new (type: string) => unknown) | undefined = (() => {
  try {
    const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    return (process?.getBuiltinModule?.("node:async_hooks") as { AsyncResource?: new (type: string) => unknown })
      ?.AsyncResource
  } catch {
    return undefined
  }
})()

/** The async context of the code running now, kept for a fiber made later (`unstartedDetachedIn`). */
export type AsyncContext = unknown

/** Captures the async context of the code running now (what `unsafeForkRoot` keeps for its fiber). */
export const captureAsyncContext = (): AsyncContext =>
  AsyncResource === undefined ? undefined : new AsyncResource("effect/Fiber")

/**
 * A new root fiber running with `context` that has not run yet, in `asyncContext`, with
 * `observers` as its exit observers (the `live` count first). They are set as one list of the
 * right length: the fiber's own `addObserver` grows its array to 17 slots on the second one, which
 * every idle task would keep (≈ 140 bytes).
 */
const unstarted = <A, E>(
  context: Context.Context<any>,
  observers: Array<(exit: Exit.Exit<A, E>) => void>,
  asyncContext: AsyncContext
): FiberInternals<A, E> => {
  const fiber = new (FiberImpl())<A, E>(context as Context.Context<never>, true)
  fiber._observers = observers
  fiber._stack = smallStack()
  if (asyncContext !== undefined) fiber._asyncContext = asyncContext
  live.fibers += 1
  return fiber
}

/**
 * An empty frame stack with room for four frames. A fiber's stack starts as `[]`, and V8 gives an
 * empty array 16 slots on its first push (≈ 140 bytes), which every idle task would keep; a task
 * fiber's frames (the loop's, the attempt's two, a couple of the task's own) fit in four, and the
 * array grows as any other past that. `pop` keeps the capacity (setting `length = 0` would not).
 */
const smallStack = (): Array<Frame> => {
  const stack: Array<Frame> = [noFrame, noFrame, noFrame, noFrame]
  stack.pop()
  stack.pop()
  stack.pop()
  stack.pop()
  return stack
}

/**
 * Forks `effect` as an interruptible root fiber running with `context` (services, and what were
 * fiber refs in Effect 3: log level, annotations, tracer, clock). The fiber exists when this
 * returns, but it has not run: it starts after the current synchronous work, never inside the
 * caller's. (Effect 4's `runForkWith` runs the fiber at once until it first suspends; an effect
 * that completes synchronously would have exited, and run its observers, before the fiber is even
 * returned, and fibervisor's bookkeeping — `entry.fiber = fork(...)`, observers that read it —
 * needs Effect 3's default.) The fiber is made unstarted, as Effect's `forkUnsafe` makes one, and
 * `later` starts it: no callback, no closure and no scheduler dispatcher per fiber. A fiber
 * interrupted before its start has exited already (its effect never runs; its observers do).
 */
export const unsafeForkRoot = <A, E, R>(
  context: Context.Context<R>,
  effect: Effect.Effect<A, E, R>
): Fiber.Fiber<A, E> => {
  const fiber = unstarted<A, E>(context, [fiberExited], captureAsyncContext())
  laterStart(fiber, effect as Effect.Effect<A, E>)
  return fiber
}

/**
 * A fiber with `onExit` as its exit observer, made later than the fork was asked for, in the
 * async context captured then (`captureAsyncContext`), and the caller starts it itself
 * (`startUnstarted`), so that it can start a batch of fibers in one `later` callback and do
 * something between two starts (offloadStarts.ts). Work waiting for its start holds no fiber.
 */
export const unstartedDetachedIn = <A, E, R>(
  context: Context.Context<R>,
  asyncContext: AsyncContext,
  onExit: (exit: Exit.Exit<A, E>) => void
): Fiber.Fiber<A, E> => unstarted(context, [fiberExited, onExit], asyncContext)

/**
 * Runs a fiber made by `unstartedDetachedIn` (nothing, if it has exited already); an exception
 * surfaces as an uncaught one, after the caller's work.
 */
export const startUnstarted = <A, E>(fiber: Fiber.Fiber<A, E>, effect: Effect.Effect<A, E>): void =>
  start(fiber as FiberInternals<A, E>, effect)

/**
 * The exit observers of a fiber started by `unsafeForkWatched`: Effect's own list (the `live`
 * count, then the observer), which also carries what the observer is for. Effect calls each
 * observer as a method of the list (`observers[i](exit)`, checked by `test/compat/Compat.test.ts`),
 * so the observer reads it as `this.target`: no closure, and no closure context, per fiber (an idle
 * task keeps its observers: ≈ 80 bytes fewer each).
 */
class WatchedObservers<T> extends Array<(exit: Exit.Exit<any, any>) => void> {
  // Effect never copies the list; if it did, a copy is a plain array, not one of these.
  static override get [Symbol.species](): ArrayConstructor {
    return Array
  }

  constructor(
    observer: (this: Watched<T>, exit: Exit.Exit<any, any>) => void,
    readonly target: T
  ) {
    super(2)
    this[0] = fiberExited
    this[1] = observer as (exit: Exit.Exit<any, any>) => void
  }
}

/** What an observer given to `unsafeForkWatched` is called on. */
export interface Watched<T> {
  readonly target: T
}

/**
 * The `target` a fiber started by `unsafeForkWatched` was given, read from its observer list while
 * it runs (`undefined` for any other fiber, or once it has exited: Effect drops the list then).
 * Effect keeps the list it was given (`addObserver` pushes onto it, `removeObserver` splices it),
 * checked by `test/compat/Compat.test.ts`.
 */
export const watchedTarget = <T>(fiber: Fiber.Fiber<unknown, unknown> | undefined): T | undefined => {
  const observers = (fiber as FiberInternals<unknown, unknown> | undefined)?._observers
  return observers instanceof WatchedObservers ? (observers.target as T) : undefined
}

/**
 * Like `unsafeForkRoot`, with an exit observer shared by many fibers: it runs when the fiber has
 * exited (also when it was interrupted before its first step, which never runs its effect), called
 * with the exit on a record whose `target` is the `target` given here (`this.target`).
 */
export const unsafeForkWatched = <A, E, R, T>(
  context: Context.Context<R>,
  effect: Effect.Effect<A, E, R>,
  observer: (this: Watched<T>, exit: Exit.Exit<A, E>) => void,
  target: T
): Fiber.Fiber<A, E> => {
  const observers = new WatchedObservers(observer as (this: Watched<T>, exit: Exit.Exit<any, any>) => void, target)
  const fiber = unstarted<A, E>(context, observers, captureAsyncContext())
  laterStart(fiber, effect as Effect.Effect<A, E>)
  return fiber
}

/**
 * What Effect 4's `FiberImpl` says about a fiber's state (private fields, checked by
 * `test/compat/Compat.test.ts`): whether its run loop is on the stack, whether it is interruptible.
 */
interface FiberState {
  readonly _running?: boolean | undefined
  readonly interruptible?: boolean | undefined
}

/**
 * Interruptions sent together (a shutdown stops every task at once): each fiber as
 * `unsafeInterruptFork` would, but those it would queue go in this batch's own list, sized when
 * the batch is made, and the batch takes one place in `later`'s interruption lane (`send`). A
 * queue of one place per fiber would grow, copying itself, to twice the number of tasks.
 */
export class InterruptBatch {
  private readonly fibers: Array<Fiber.Fiber<unknown, unknown>>
  private size = 0

  constructor(
    capacity: number,
    /** The fiber that interrupts them all. */
    private readonly by: number | undefined
  ) {
    this.fibers = new Array(capacity)
  }

  add(fiber: Fiber.Fiber<unknown, unknown>): void {
    if (interruptsNow(fiber)) fiber.interruptUnsafe(this.by)
    else this.fibers[this.size++] = fiber
  }

  /** Queues the interruptions added so far (once). */
  send(): void {
    if (this.size === 0) return
    this.fibers.length = this.size
    urgent.push(this.fibers, this.by)
    schedule()
  }
}

/**
 * Asks `fiber` to stop without waiting for it, as Effect 3's `unsafeInterruptAsFork` did: the
 * interruption is recorded now, and the fiber acts on it on its own time. Effect 4's
 * `interruptUnsafe` records it, and acts at once only on a fiber that is suspended in an
 * interruptible region: it would unwind that fiber (run its finalizers, exit, run its observers)
 * right here, in the middle of the caller's bookkeeping. That case is delivered after the current
 * synchronous work (`laterInterrupt`); a fiber that is running (its loop is further down the stack)
 * or uninterruptible only records it, so it is interrupted now: an uninterruptible attempt that is
 * woken by the same stop (`TaskContext.cancelled`) finds the interruption pending at the end of its
 * region.
 */
export const unsafeInterruptFork = (fiber: Fiber.Fiber<unknown, unknown>, by: number | undefined): void => {
  if (interruptsNow(fiber)) fiber.interruptUnsafe(by)
  else laterInterrupt(fiber, by)
}

/** Whether `interruptUnsafe` on `fiber` only records the interruption (see `unsafeInterruptFork`). */
const interruptsNow = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const state = fiber as FiberState
  return state._running === true || state.interruptible === false
}

/**
 * What a detached fiber inherits from the fiber that started it. In Effect 4 a fiber's context
 * holds its services and what were fiber refs in Effect 3 (log level and annotations, tracer and
 * parent span, clock, random, scheduler): passing it on is passing on everything.
 */
export type Caller<R> = Context.Context<R>

/** Runs `f` with what the calling fiber would pass on. */
export const withCaller = <A, E, R, R2>(
  f: (caller: Caller<R>) => Effect.Effect<A, E, R2>
): Effect.Effect<A, E, R | R2> => Effect.withFiber((fiber) => f(fiber.context as Context.Context<R>))

/** The context of the calling fiber. */
export const context = <R>(): Effect.Effect<Context.Context<R>, never, R> => Effect.context<R>()

/**
 * What Effect 4's `Context` is behind its interface (private, checked by `test/compat/Compat.test.ts`):
 * a flat `base` map under a linked list of `overlay`s, one per `Context.add`, `depth` of them, and
 * the root of the fiber cache it shares (`cacheRoot`). Each `add` makes a new context record (≈ 100
 * bytes) and one overlay node (≈ 40 bytes).
 */
interface ContextInternals {
  readonly cacheRoot: unknown
  readonly base: unknown
  overlay: OverlayNode | undefined
  depth: number
  readonly maxDepth: number
  readonly _flat: unknown
}

interface OverlayNode {
  readonly key: string
  readonly value: unknown
  readonly parent: OverlayNode | undefined
}

/** Does adding `key` start a new fiber cache (a scheduler, tracer, log level…)? Asked once per key. */
const startsCache = (key: Context.Key<any, any>): boolean => {
  const probe = Context.empty()
  return (
    (Context.add(probe, key, undefined) as unknown as ContextInternals).cacheRoot !==
    (probe as unknown as ContextInternals).cacheRoot
  )
}

/**
 * A context record as Effect's `Context` makes one (`makeImpl`: the same seven fields, in the same
 * order, on a subclass of its prototype), built in one step by `addThree`. Effect's records start
 * as `Object.create(Proto)` and take their seven fields one by one, three of them out of line
 * (≈ 96 bytes); this class holds them in the object (80 bytes). `test/compat/Compat.test.ts`
 * checks the fields against a record Effect made.
 */
class OverlaidContext {
  readonly cacheRoot: unknown
  base: unknown
  overlay: OverlayNode | undefined
  depth: number
  _flat: unknown
  baseHits: number
  readonly maxDepth: number
  constructor(cacheRoot: unknown, base: unknown, overlay: OverlayNode, depth: number, maxDepth: number) {
    this.cacheRoot = cacheRoot
    this.base = base
    this.overlay = overlay
    this.depth = depth
    this._flat = undefined
    this.baseHits = 0
    this.maxDepth = maxDepth
  }
}

Object.setPrototypeOf(OverlaidContext.prototype, Object.getPrototypeOf(Context.empty()))

/**
 * `context` with three services added, as `Context.add` three times would give it, in one context
 * record with three overlays instead of three records (every task attempt makes one, and an idle
 * task keeps it). Falls back to three `add`s when a key starts a fiber cache or the overlays would
 * pass Effect's depth limit (there `add` flattens them into a map).
 */
export const addThree = <I1, S1, I2, S2, I3, S3>(
  context: Context.Context<never>,
  key1: Context.Key<I1, S1>,
  value1: S1,
  key2: Context.Key<I2, S2>,
  value2: S2,
  key3: Context.Key<I3, S3>,
  value3: S3
): Context.Context<never> => {
  const impl = context as unknown as ContextInternals
  if (impl.depth + 3 > impl.maxDepth || !plainKeys(key1, key2, key3)) {
    return Context.add(Context.add(Context.add(context, key1, value1), key2, value2), key3, value3)
  }
  const overlay = {
    key: key3.key,
    value: value3,
    parent: { key: key2.key, value: value2, parent: { key: key1.key, value: value1, parent: impl.overlay } }
  }
  return new OverlaidContext(impl.cacheRoot, impl.base, overlay, impl.depth + 3, impl.maxDepth) as never
}

/** The last keys found plain (adding them starts no fiber cache): callers pass the same three. */
let plainKeysSeen: ReadonlyArray<Context.Key<any, any>> | undefined = undefined

const plainKeys = (key1: Context.Key<any, any>, key2: Context.Key<any, any>, key3: Context.Key<any, any>): boolean => {
  const seen = plainKeysSeen
  if (seen !== undefined && seen[0] === key1 && seen[1] === key2 && seen[2] === key3) return true
  if (startsCache(key1) || startsCache(key2) || startsCache(key3)) return false
  plainKeysSeen = [key1, key2, key3]
  return true
}

/** Is the tracer in `context` Effect's default (it records spans nowhere)? */
export const isNativeTracer = (context: Context.Context<never>): boolean =>
  Context.get(context, Tracer.Tracer) === Tracer.nativeTracer

/** Is the running `fiber`'s tracer Effect's default? (`isNativeTracer` of its context, read from its cache.) */
export const runsNativeTracer = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const tracer = fiber.cache.tracer
  return tracer === undefined || tracer === Tracer.nativeTracer
}

/** The span a fiber running with `context` would parent its spans to, if any. */
export const parentSpan = (context: Context.Context<never>): Tracer.AnySpan | undefined =>
  Context.getOrUndefined(context, Tracer.ParentSpan)

/** The fiber whose run loop is running, if any. */
export const currentFiber = (): Fiber.Fiber<unknown, unknown> | undefined => Fiber.getCurrent()

/**
 * A service from the context of the running fiber, or `undefined`. Must be called from inside an
 * effect (a handler, a `suspend`): it lets effects built once be shared by every fiber.
 */
export const unsafeCurrentService = <I, S>(key: Context.Key<I, S>): S | undefined => {
  const fiber = Fiber.getCurrent()
  if (fiber === undefined) return undefined
  // The services fibervisor looks up on its hot path (the task, the attempt's scope) are the
  // newest overlays of the fiber's context (`addThree`): found here in a hop or two, without
  // `Context.getOrUndefined`'s argument dispatch. Anything else takes Effect's own lookup.
  const wanted = key.key
  let overlay = (fiber.context as unknown as ContextInternals).overlay
  for (let hops = 0; overlay !== undefined && hops < 3; hops++, overlay = overlay.parent) {
    if (overlay.key === wanted) return overlay.value as S
  }
  return Context.getOrUndefined(fiber.context, key)
}

/**
 * The private set of a fiber's children (Effect 4 keeps the fibers `Effect.forkChild` started in
 * `FiberImpl._children`, a `Set` or `undefined`, and removes each as it exits). Effect has no public
 * way to interrupt a running fiber's children short of its end; checked by
 * `test/compat/Compat.test.ts` for every Effect release fibervisor supports.
 */
interface WithChildren {
  readonly _children?: Set<Fiber.Fiber<unknown, unknown>> | undefined
}

/**
 * Whether the running fiber has been asked to stop (Effect 4's private `FiberImpl._interruptedCause`,
 * checked by `test/compat/Compat.test.ts`). Inside an uninterruptible region whose end re-raises
 * the interruption, whatever the region returns is dropped: its last step need not build it.
 */
export const currentFiberInterrupted = (): boolean =>
  (Fiber.getCurrent() as { readonly _interruptedCause?: unknown } | undefined)?._interruptedCause !== undefined

// ---- frames ----

/**
 * Effect 4's continuation keys (`internal/core.ts`): a fiber's stack holds frames, and when an
 * effect ends the run loop pops them (`FiberImpl.getCont`), calling each one's `ensureCont` (if
 * any) on the way, until one has the continuation for the outcome (`successCont` with the value,
 * `failureCont` with the cause). A frame without `identifier` is not a handler: an interruption
 * that unwinds past it keeps the typed failures of its cause. Checked by `test/compat/Compat.test.ts`.
 */
const contA = "~effect/Effect/successCont"
const contE = "~effect/Effect/failureCont"
const contAll = "~effect/Effect/ensureCont"

/** A frame of a fiber's stack (see the keys above); made by `frame`, shared by every fiber that pushes it. */
export interface Frame {
  readonly _Frame: unique symbol
}

/** Running fibers, as the frames see them. */
interface FrameFiber {
  interruptible: boolean
  readonly _interruptedCause: Cause.Cause<never> | undefined
  readonly _stack: Array<Frame>
}

const noFrame = {} as Frame

/**
 * A frame run when the effect above it ends: `enter` first, whatever the outcome (the moment the
 * frame is popped), then `onSuccess` with the value or `onFailure` with the cause (and the failed
 * exit itself, unless Effect rebuilt the cause on the way: then `undefined`); each returns
 * the effect that follows. A frame without one of them passes that outcome on to the frame below.
 * No state of its own: one frame serves every fiber (the fiber is passed in).
 */
export const frame = (handlers: {
  readonly enter?: (fiber: Fiber.Fiber<unknown, unknown>) => void
  readonly onSuccess?: (value: any, fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<unknown, unknown, unknown>
  readonly onFailure?: (
    cause: Cause.Cause<unknown>,
    fiber: Fiber.Fiber<unknown, unknown>,
    exit: Exit.Exit<unknown, unknown> | undefined
  ) => Effect.Effect<unknown, unknown, unknown>
}): Frame => {
  const made: Record<string, unknown> = {}
  const enter = handlers.enter
  if (enter !== undefined) {
    made[contAll] = (fiber: Fiber.Fiber<unknown, unknown>): undefined => {
      enter(fiber)
    }
  }
  if (handlers.onSuccess !== undefined) made[contA] = handlers.onSuccess
  if (handlers.onFailure !== undefined) made[contE] = handlers.onFailure
  return made as unknown as Frame
}

/** Pushes `frame` on the running fiber's stack: it runs when the effect the caller returns ends. */
export const pushFrame = (fiber: Fiber.Fiber<unknown, unknown>, frame: Frame): void => {
  ;(fiber as unknown as FrameFiber)._stack.push(frame)
}

/**
 * Makes the running fiber uninterruptible from now until `regionEnd` is popped (the caller pushed
 * it first): Effect's `uninterruptible` without its primitives.
 */
export const enterUninterruptible = (fiber: Fiber.Fiber<unknown, unknown>): void => {
  ;(fiber as unknown as FrameFiber).interruptible = false
}

/** Whether the running fiber can be interrupted now. */
export const isInterruptible = (fiber: Fiber.Fiber<unknown, unknown>): boolean =>
  (fiber as unknown as FrameFiber).interruptible

/**
 * The exit an interruption arrived in, kept by `keepInterruption` for the `regionEnd` that follows:
 * a stopped fiber exits with it again instead of a new one. One slot: a fiber whose end is
 * asynchronous may find another's here, and `reRaise` then makes its own.
 */
let interruptionExit: Exit.Exit<unknown, unknown> | undefined = undefined

/**
 * Keeps `exit`, the failure a frame's `onFailure` received while its fiber is being stopped (its
 * third argument: Effect passes the exit it unwinds when it did not rebuild its cause), for the
 * `regionEnd` of that fiber.
 */
export const keepInterruption = (exit: Exit.Exit<unknown, unknown> | undefined): void => {
  interruptionExit = exit
}

/** The pending interruption of a fiber whose uninterruptible region has ended (see `regionEnd`). */
function reRaise(_: unknown, fiber: FrameFiber): Exit.Exit<unknown, unknown> {
  const kept = interruptionExit
  interruptionExit = undefined
  const cause = fiber._interruptedCause!
  return kept !== undefined && Exit.isFailure(kept) && kept.cause === cause ? kept : Exit.failCause(cause)
}

/**
 * The end of an uninterruptible region: the fiber is interruptible again and an interruption that
 * arrived during the region takes effect now (the outcome of the region is dropped), as Effect's
 * own restoring frame does, without a closure per interrupted fiber (a shutdown stops every task
 * through one). Effect sets the continuation it returns as its own property (`cont[key] = cont`):
 * `reRaise` is a function, so that is the same function every time.
 */
export const regionEnd: Frame = {
  [contAll](fiber: FrameFiber) {
    fiber.interruptible = true
    return fiber._interruptedCause === undefined ? undefined : reRaise
  }
} as unknown as Frame

/** The children the running fiber has now (a copy), or `undefined` when it has none. */
export const currentChildren = (): ReadonlyArray<Fiber.Fiber<unknown, unknown>> | undefined => {
  const fiber = Fiber.getCurrent() as WithChildren | undefined
  const children = fiber?._children
  return children === undefined || children.size === 0 ? undefined : Array.from(children)
}

/**
 * Interrupts the fibers the running fiber forked and returns the wait for them, or `undefined`
 * when it has none. Must be called from inside an effect of that fiber (a handler, a `suspend`).
 */
export const unsafeInterruptChildrenNow = (): Effect.Effect<void> | undefined => {
  const children = currentChildren()
  return children === undefined ? undefined : Fiber.interruptAll(children)
}

// ---- metrics ----

/** What Effect 4's metric objects keep behind `updateUnsafe` (private `hook`, checked by `test/compat/Compat.test.ts`). */
interface MetricHooks<In> {
  readonly update: (input: In, context: Context.Context<never>) => void
  readonly modify: (input: In, context: Context.Context<never>) => void
}

/** One series of a metric, resolved for a context (see `MetricUpdater.seriesFor`). */
export type MetricSeries<In> = MetricHooks<In>

interface WithHook<In> {
  readonly hook?: (context: Context.Context<never>) => MetricHooks<In>
}

/**
 * Which series of a metric a context updates (Effect 4's `Metric.hook`) is decided by two things in
 * the context: the metric registry and the extra metric attributes. A `SeriesIdentity` stands for
 * one such pair: one object per (registry, attributes), found through weak maps (it keeps neither
 * alive, and a registry or attributes object that is collected takes its identities with it).
 * Contexts never change, so whoever keeps a context for many updates (a task's entry, an offload
 * job) finds its identity once and hands it to every update: the update compares one reference.
 */
export interface SeriesIdentity {
  readonly _SeriesIdentity: unique symbol
}

const identities = new WeakMap<object, WeakMap<object, SeriesIdentity>>()

/** The last context asked about (weakly), and its identity: most callers ask with the same context. */
let lastContext: WeakRef<Context.Context<never>> | undefined = undefined
let lastIdentity: SeriesIdentity | undefined = undefined

/** The identity of the series `context` updates (see `SeriesIdentity`). */
export const seriesIdentityOf = (context: Context.Context<never>): SeriesIdentity => {
  if (lastContext !== undefined && lastContext.deref() === context) return lastIdentity!
  const registry = Context.get(context, Metric.MetricRegistry) as object
  const attributes = Context.get(context, Metric.CurrentMetricAttributes) as object
  let byAttributes = identities.get(registry)
  if (byAttributes === undefined) {
    byAttributes = new WeakMap()
    identities.set(registry, byAttributes)
  }
  let identity = byAttributes.get(attributes)
  if (identity === undefined) {
    identity = {} as SeriesIdentity
    byAttributes.set(attributes, identity)
  }
  lastContext = new WeakRef(context)
  lastIdentity = identity
  return identity
}

/**
 * Updates one metric from the hot path. Effect 4's `updateUnsafe` finds the series on every call
 * (the attributes in the context, the registry in the context, the series in the registry); an
 * updater keeps the hooks of the series it last found, with their `SeriesIdentity`, so an update
 * whose caller hands the identity (`update`, `modify`) costs one comparison before the series' own
 * update. A caller that has no identity at hand uses `updateUnsafe` / `modifyUnsafe` (one weakly
 * held context remembered). The one difference from Effect: a series removed from the registry
 * meanwhile (`Metric` has no public removal of another's series; a test that clears a registry it
 * keeps providing would) goes on being updated where Effect would make a new one.
 */
export class MetricUpdater<In> {
  /** The series last found, and for which identity: the hooks keep only the series' own state. */
  private identity: SeriesIdentity | undefined = undefined
  private hooks: MetricHooks<In> | undefined = undefined

  constructor(readonly metric: Metric.Metric<In, unknown>) {}

  /** The metric's name and attributes (its series' identity). */
  get id(): string {
    return this.metric.id
  }

  get attributes(): Metric.Metric.AttributeSet | undefined {
    return this.metric.attributes
  }

  /** The hooks of the series `context` (whose identity is `identity`) updates, or `undefined` if Effect has none to give. */
  private hooksFor(context: Context.Context<never>, identity: SeriesIdentity): MetricHooks<In> | undefined {
    if (this.identity === identity) return this.hooks
    const hook = (this.metric as WithHook<In>).hook
    if (typeof hook !== "function") return undefined
    this.hooks = hook.call(this.metric, context)
    this.identity = identity
    return this.hooks
  }

  /**
   * The series `context` updates, to update it several times without a lookup each (valid while
   * that context is: a caller keeps it for the updates of one piece of work).
   */
  seriesFor(context: Context.Context<never>): MetricSeries<In> {
    const hooks = this.hooksFor(context, seriesIdentityOf(context))
    if (hooks !== undefined) return hooks
    const metric = this.metric
    return {
      update: (input, context) => metric.updateUnsafe(input, context),
      modify: (input, context) => metric.modifyUnsafe(input, context)
    }
  }

  /** `updateUnsafe` with the identity of `context`'s series already found (`seriesIdentityOf(context)`). */
  update(input: In, context: Context.Context<never>, identity: SeriesIdentity): void {
    const hooks = this.identity === identity ? this.hooks : this.hooksFor(context, identity)
    if (hooks === undefined) this.metric.updateUnsafe(input, context)
    else hooks.update(input, context)
  }

  /** `modifyUnsafe` with the identity of `context`'s series already found (`seriesIdentityOf(context)`). */
  modify(input: In, context: Context.Context<never>, identity: SeriesIdentity): void {
    const hooks = this.identity === identity ? this.hooks : this.hooksFor(context, identity)
    if (hooks === undefined) this.metric.modifyUnsafe(input, context)
    else hooks.modify(input, context)
  }

  updateUnsafe(input: In, context: Context.Context<never>): void {
    this.update(input, context, seriesIdentityOf(context))
  }

  modifyUnsafe(input: In, context: Context.Context<never>): void {
    this.modify(input, context, seriesIdentityOf(context))
  }
}
