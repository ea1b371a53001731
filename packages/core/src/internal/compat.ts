/**
 * Every Effect 3 call that Effect 4 renames or removes lives here, so a port touches one file.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleInterval from "effect/ScheduleInterval"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Fiber from "effect/Fiber"
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
): Fiber.RuntimeFiber<A, E> => Runtime.runFork(runtime)(effect, { immediate: false })

/** Asks `fiber` to stop without waiting for it. */
export const unsafeInterruptFork = (fiber: Fiber.RuntimeFiber<unknown, unknown>, by: FiberId.FiberId): void =>
  fiber.unsafeInterruptAsFork(by)

/** The runtime of the calling fiber (context, fiber refs, flags). */
export const runtime = <R>(): Effect.Effect<Runtime.Runtime<R>, never, R> => core.runtime<R>()
