/**
 * Every Effect 3 call that Effect 4 renames or removes lives here, so a port touches one file.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Context from "effect/Context"
import * as ContextModule from "effect/Context"
import type * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import type * as Tracer from "effect/Tracer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberModule from "effect/Fiber"
import * as Option from "effect/Option"
import type * as FiberId from "effect/FiberId"
import * as core from "effect/Effect"

/** One step of a schedule: the next state and output, and the delay in ms; `undefined` when it is done. */
export interface ScheduleStep<S, Out> {
  readonly state: S
  readonly output: Out
  readonly delayMs: number
}

/** Steps `schedule` once without sleeping (what `Schedule.driver` does, minus the sleep). */
export const stepSchedule = <Out, In, R>(
  schedule: Schedule.Schedule<Out, In, R>,
  now: number,
  input: In,
  state: unknown
): Effect.Effect<ScheduleStep<unknown, Out> | undefined, never, R> =>
  core.map(
    core.suspend(() => schedule.step(now, input, state)),
    ([next, output, decision]) =>
      ScheduleDecision.isDone(decision)
        ? undefined
        : { state: next, output, delayMs: Math.max(0, ScheduleIntervals.start(decision.intervals) - now) }
  )

/** The state a schedule starts from. */
export const initialState = <Out, In, R>(schedule: Schedule.Schedule<Out, In, R>): unknown => schedule.initial

/** Builds a schedule from a pure-ish step function that returns the delay in ms, or `undefined` to stop. */
export const scheduleFromStep = <S, In, Out, R>(
  initial: S,
  step: (now: number, input: In, state: S) => Effect.Effect<readonly [S, Out, number | undefined], never, R>
): Schedule.Schedule<Out, In, R> =>
  Schedule.makeWithState(initial, (now, input, state) =>
    core.map(
      step(now, input, state),
      ([next, out, delayMs]) =>
        [
          next,
          out,
          delayMs === undefined
            ? ScheduleDecision.done
            : ScheduleDecision.continueWith(ScheduleInterval.after(now + delayMs))
        ] as const
    )
  )

/**
 * Forks `effect` as a root fiber of `runtime`. The fiber exists when this returns (so bookkeeping
 * around it is atomic), but it starts on the scheduler's next turn, never inside the caller's.
 */
export const unsafeForkRoot = <A, E, R>(
  runtime: Runtime.Runtime<R>,
  effect: Effect.Effect<A, E, R>
): Fiber.RuntimeFiber<A, E> => {
  const fiber = Runtime.runFork(runtime)(effect, { immediate: false })
  live.fibers += 1
  fiber.addObserver(fiberExited)
  return fiber
}

/**
 * How many fibers fibervisor has started (task fibers, offload jobs, timers, shutdown drivers) and
 * that have not exited yet. Read by the leak checks of the test suites.
 */
export const live = { fibers: 0 }

const fiberExited = (): void => {
  live.fibers -= 1
}

/** Asks `fiber` to stop without waiting for it. */
export const unsafeInterruptFork = (fiber: Fiber.RuntimeFiber<unknown, unknown>, by: FiberId.FiberId): void =>
  fiber.unsafeInterruptAsFork(by)

/** The runtime of the calling fiber (context, fiber refs, flags). */
export const runtime = <R>(): Effect.Effect<Runtime.Runtime<R>, never, R> => core.runtime<R>()

/** What a detached fiber inherits from the fiber that started it. */
export interface Caller<R> {
  readonly context: Context.Context<R>
  readonly fiberRefs: FiberRefs.FiberRefs
  readonly runtimeFlags: RuntimeFlags.RuntimeFlags
  readonly tracer: Tracer.Tracer
  readonly span: Tracer.AnySpan | undefined
}

/** `context` plus two services, with one copy of its map (`Context.add` twice would copy it twice). */
export const addTwo = <R, I1, S1, I2, S2>(
  context: Context.Context<R>,
  tag1: Context.Tag<I1, S1>,
  service1: S1,
  tag2: Context.Tag<I2, S2>,
  service2: S2
): Context.Context<R | I1 | I2> => {
  const map = new Map(context.unsafeMap)
  map.set(tag1.key, service1)
  map.set(tag2.key, service2)
  return ContextModule.unsafeMake(map)
}

/** Effect's default tracer: it records spans nowhere. */
const nativeTracer: Tracer.Tracer = core.runSync(core.tracer)

/** Is `tracer` Effect's default (nothing exports its spans)? */
export const isNativeTracer = (tracer: Tracer.Tracer): boolean => tracer === nativeTracer

/**
 * The fiber's refs as they are. `getFiberRefs()` first records the fiber's runtime flags in them,
 * which copies the whole map on every call; a detached fiber gets its flags passed explicitly and
 * is never joined back (the only reader of that record), so the copy buys nothing here.
 */
const currentFiberRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs =>
  (fiber as unknown as { readonly _fiberRefs?: FiberRefs.FiberRefs })._fiberRefs ?? fiber.getFiberRefs()

/**
 * The last caller seen. A fiber adding tasks in a loop passes on the same things every time, and
 * every detached fiber keeps its caller: sharing the record saves one object per task. It is
 * forgotten when the current turn of the event loop ends (the fibers that use it keep their own
 * reference), so it never keeps a caller's services alive after its tasks and supervisors are gone.
 */
let lastCaller: Caller<unknown> | undefined = undefined
let forgetting = false

const forgetLastCaller = (): void => {
  lastCaller = undefined
  forgetting = false
}

/** Runs `f` with what the calling fiber would pass on (cheaper than building a `Runtime`). */
export const withCaller = <A, E, R, R2>(
  f: (caller: Caller<R>) => Effect.Effect<A, E, R2>
): Effect.Effect<A, E, R | R2> =>
  core.withFiberRuntime<A, E, R | R2>((fiber, status) => {
    const context = fiber.currentContext as Context.Context<unknown>
    const fiberRefs = currentFiberRefs(fiber)
    const runtimeFlags = status.runtimeFlags
    const tracer = fiber.currentTracer
    const span = fiber.currentSpan
    let caller = lastCaller
    if (
      caller === undefined ||
      caller.fiberRefs !== fiberRefs ||
      caller.context !== context ||
      caller.runtimeFlags !== runtimeFlags ||
      caller.tracer !== tracer ||
      caller.span !== span
    ) {
      caller = lastCaller = { context, fiberRefs, runtimeFlags, tracer, span }
      if (!forgetting) {
        forgetting = true
        queueMicrotask(forgetLastCaller)
      }
    }
    return f(caller as Caller<R>)
  })

const nextTurn: Runtime.RunForkOptions = { immediate: false }

/**
 * Forks `effect` as a root fiber that inherits `caller`'s fiber refs and runs with `context`,
 * interruptible whatever the caller's flags. Like `unsafeForkRoot`, it starts on the next turn.
 * `onExit` runs when the fiber has exited (also when it was interrupted before its first step).
 */
export const unsafeForkDetached = <A, E, R>(
  caller: Caller<unknown>,
  context: Context.Context<R>,
  effect: Effect.Effect<A, E, R>,
  onExit: (exit: Exit.Exit<A, E>) => void
): Fiber.RuntimeFiber<A, E> => {
  const fiber = Runtime.runFork(
    Runtime.make({
      context,
      fiberRefs: caller.fiberRefs,
      runtimeFlags: RuntimeFlags.enable(caller.runtimeFlags, RuntimeFlags.Interruption)
    }),
    effect,
    nextTurn
  )
  live.fibers += 1
  // Observers, not `onExit`: a fiber interrupted before its first step never runs its effect.
  fiber.addObserver(fiberExited)
  fiber.addObserver(onExit)
  return fiber
}

/** The state Effect's own `Scope` implementation keeps (read directly by `Effect.forkIn`). */
export type ScopeState =
  | { readonly _tag: "Open"; readonly finalizers: Map<{}, Scope.Scope.Finalizer> }
  | { readonly _tag: "Closed"; readonly exit: Exit.Exit<unknown, unknown> }

/** The state of a scope made by `Scope.make`. */
export const scopeState = (scope: Scope.CloseableScope): ScopeState => (scope as unknown as { state: ScopeState }).state

interface WithChildren {
  /** Interrupts the fiber's children and returns the wait for them, or `null` when it has none. */
  interruptAllChildren(): Effect.Effect<void> | null
}

/**
 * A service from the context of the running fiber, or `undefined`. Must be called from inside an
 * effect (a handler, a `suspend`): it lets effects built once be shared by every fiber.
 */
export const unsafeCurrentService = <I, S>(tag: Context.Tag<I, S>): S | undefined =>
  currentFiber()?.currentContext.unsafeMap.get(tag.key) as S | undefined

/**
 * Replaces `from` by `to` in the running fiber's context, in place (the context a task's fiber was
 * started with is its own), and says whether it did: nothing happens when the fiber's context does
 * not hold `from` under `tag`. Must be called from inside an effect of that fiber.
 */
export const unsafeReplaceCurrentService = <I, S>(tag: Context.Tag<I, S>, from: S, to: S): boolean => {
  const map = currentFiber()?.currentContext.unsafeMap as Map<string, unknown> | undefined
  if (map === undefined || map.get(tag.key) !== from) return false
  map.set(tag.key, to)
  return true
}

/**
 * The fiber whose run loop is running, where Effect keeps it (`Fiber.getCurrentFiber` reads the
 * same slot but wraps it in an `Option`, an allocation on every step of every task).
 */
const currentFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined =>
  ((globalThis as Record<string, unknown>)[currentFiberSlot] as Fiber.RuntimeFiber<unknown, unknown> | undefined) ??
  Option.getOrUndefined(FiberModule.getCurrentFiber())

const currentFiberSlot = "effect/FiberCurrent"

/**
 * Interrupts the fibers the running fiber forked and returns the wait for them, or `null` when it
 * has none. Must be called from inside an effect of that fiber (a handler, a `suspend`).
 */
export const unsafeInterruptChildrenNow = (): Effect.Effect<void> | null => {
  const fiber = currentFiber()
  return fiber === undefined ? null : (fiber as unknown as WithChildren).interruptAllChildren()
}

/**
 * Sets a fiber ref of `fiber`, the fiber that is running (as `Effect.withFiberRuntime` gives it), in
 * place: no scope to restore the old value, for a fiber that owns what it sets (a task's fiber).
 */
export const unsafeSetFiberRef = <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  ref: FiberRef.FiberRef<A>,
  value: A
): void => (fiber as unknown as { setFiberRef(ref: FiberRef.FiberRef<A>, value: A): void }).setFiberRef(ref, value)
