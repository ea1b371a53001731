/**
 * A task: a name, one attempt as an `Effect`, and how to restart it.
 *
 * `effect` is **one attempt**. The supervisor runs it again for each restart; because an `Effect` is
 * a description, every attempt is fresh.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { hasProperty } from "effect/Predicate"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { TaskFailure } from "./Backoff.js"
import { NestedSpecKey, resolveTask } from "./internal/task.js"
import * as RestartPolicy from "./RestartPolicy.js"
import type { InvalidTaskSpec } from "./SupervisorError.js"
import type { TaskContext } from "./TaskContext.js"

/**
 * The error `Task.validate` fails with, re-exported from `SupervisorError`. TypeDoc reads the
 * category of re-exported names from this comment; each name below carries its own `@since`.
 *
 * @category errors
 */
export {
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidTaskSpec
} from "./SupervisorError.js"

/**
 * @since 0.1.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@fibervisor/core/Task")

/**
 * @since 0.1.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Per-task settings. A setting that is absent inherits the supervisor's `defaults`; a setting that is
 * present — even as `undefined` — is explicit (`timeout: undefined` means "no timeout", even when the
 * supervisor's default has one).
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskOptions<E = unknown> {
  /** When to restart (default `RestartPolicy.onFailure`). */
  readonly restart?: RestartPolicy.RestartPolicy
  /** The delay before each retry; any `Schedule` (default exponential 200 ms ×2 up to 30 s, equal jitter). */
  readonly backoff?: Schedule.Schedule<unknown, TaskFailure>
  /** Per-attempt timeout; zero or `undefined` means none (default none). */
  readonly timeout?: Duration.Input | undefined
  /** Retries after consecutive failures; `N` allows `N + 1` failed attempts; `undefined` = unlimited (default). */
  readonly maxRetries?: number | undefined
  /** An attempt that ran at least this long resets the failure streak and the backoff (default: never). */
  readonly resetAfter?: Duration.Input | undefined
  /** How long `remove`/`cancel` wait for this task to stop before abandoning it (default: the supervisor's grace). */
  readonly grace?: Duration.Input | undefined
  /**
   * The level of the line logged for each failed attempt that is retried (default `"warning"`). The
   * line when the task gives up (`task "x" ended Failed: …`) is a warning whatever the level;
   * `"none"` turns off both. See `LogFailures`.
   */
  readonly logFailures?: LogFailures | undefined
  /** Errors this accepts end the task as `Fatal` (never restarted). */
  isFatal?(error: E): boolean
  /**
   * Under a supervisor with `autoShutdown`, this task ending by itself can complete the supervisor
   * (OTP's significant child). Not allowed with `RestartPolicy.always`, which never ends by itself.
   */
  readonly significant?: boolean | undefined
  /** When this task gives up (ends `Failed` or `Fatal`), its supervisor fails with `Escalated` (default false). */
  readonly escalate?: boolean | undefined
  /**
   * A readiness task, read by `SupervisorTree.isReady` and `@fibervisor/platform-node`'s `/readyz`
   * (default false):
   *
   * - `true`: ready while it has a running attempt;
   * - `"reported"`: ready once its running attempt calls `TaskContext.markReady` (a connector that
   *   never connects is never ready; every attempt starts not ready);
   * - either way, a readiness task that ends for good (by itself, not by `remove`, `cancel` or a
   *   shutdown) makes readiness fail until a task is added at its path again.
   *
   * A `Supervisor.task` with a readiness task among its children (at any depth) is one itself
   * unless it sets `ready: false`; it cannot be `"reported"`.
   */
  readonly ready?: boolean | "reported" | undefined
}

/**
 * How a task's failed attempts are logged: `"warning"` (the default), `"info"` or `"debug"` is the
 * level of the line written for each failed attempt, e.g.
 * `task "root/db" attempt 2 failed: connection refused; next attempt in 400 ms` (under
 * `one-for-all` / `rest-for-one`: `…; its group restarts, next attempt after 400 ms`), annotated
 * with the attempt's `task`, `path` and `attempt`. The line written when the task gives up
 * (`task "db" ended Failed: …`, also `ended Fatal`) is always a warning. `"none"` writes neither:
 * the failures are still in the events, the metrics and the outcome.
 *
 * @since 0.2.0
 * @category models
 */
export type LogFailures = "warning" | "info" | "debug" | "none"

/**
 * A supervised task.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<out E = unknown, out R = never> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string
  /** One attempt. The supervisor provides `TaskContext` and a `Scope` that closes when the attempt ends. */
  readonly effect: Effect.Effect<unknown, E, R | TaskContext | Scope.Scope>
  /** The explicit settings of this task (absent keys inherit the supervisor's defaults). */
  readonly options: TaskOptions<E>
}

/**
 * The services a collection of tasks needs (the union of their `R`s).
 *
 * @since 0.1.0
 * @category models
 */
export type Services<T extends Iterable<Task<any, any>>> =
  T extends Iterable<infer X> ? (X extends Task<any, infer R> ? R : never) : never

const TaskProto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const makeTask = <E, R>(
  name: string,
  effect: Effect.Effect<unknown, E, R | TaskContext | Scope.Scope>,
  options: TaskOptions<E>
): Task<E, R> => {
  const task = Object.create(TaskProto)
  task.name = name
  task.effect = effect
  task.options = options
  return task
}

/**
 * Is `u` a `Task`?
 *
 * @since 0.1.0
 * @category guards
 */
export const isTask = (u: unknown): u is Task<unknown, unknown> => hasProperty(u, TypeId)

/**
 * Makes a task. Nothing is checked here: `Supervisor.add` (or `Task.validate`) checks the spec and
 * fails with `InvalidTaskSpec` naming the field, before anything runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Backoff, RestartPolicy, Task } from "@fibervisor/core"
 *
 * const worker = Task.make("worker", Effect.log("one attempt"), {
 *   restart: RestartPolicy.onFailure,
 *   backoff: Backoff.exponential({ first: "100 millis", max: "30 seconds", jitter: "equal" }),
 *   timeout: "10 seconds",
 *   maxRetries: 10
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options?: TaskOptions<E>
): Task<E, Exclude<R, TaskContext | Scope.Scope>> =>
  makeTask(
    name,
    effect as Effect.Effect<unknown, E, Exclude<R, TaskContext | Scope.Scope> | TaskContext | Scope.Scope>,
    // A non-object is kept as is, so that `Task.validate` / `add` reject it as `options`.
    typeof options === "object" && options !== null && !Array.isArray(options)
      ? { ...options }
      : options === undefined
        ? {}
        : (options as never)
  )

// The constructors' options, one frozen object each: every task they make shares it, and the
// supervisor decodes a frozen options object once (it cannot change), not on every `add`.
const onceOptions: TaskOptions<never> = Object.freeze({ restart: RestartPolicy.never })
const restartableOptions: TaskOptions<never> = Object.freeze({ restart: RestartPolicy.onFailure })

/**
 * A task that runs once and is never restarted (taskvisor's `once`). Every task it makes shares
 * one frozen `options` object (`{ restart: RestartPolicy.never }`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const once = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>
): Task<E, Exclude<R, TaskContext | Scope.Scope>> => makeTask(name, effect as never, onceOptions)

/**
 * A task restarted after failures, with backoff (taskvisor's `restartable`). Every task it makes
 * shares one frozen `options` object (`{ restart: RestartPolicy.onFailure }`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const restartable = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>
): Task<E, Exclude<R, TaskContext | Scope.Scope>> => makeTask(name, effect as never, restartableOptions)

/**
 * A task that runs again `every` after each success (and after each failure's backoff).
 *
 * @since 0.1.0
 * @category constructors
 */
export const periodic = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  every: Duration.Input
): Task<E, Exclude<R, TaskContext | Scope.Scope>> =>
  make(name, effect, { restart: RestartPolicy.always({ interval: every }) })

/**
 * A task that runs `effect` on `schedule`: the first run starts at once, and after each success the
 * schedule is stepped with the value the run succeeded with and the next run waits for its delay,
 * as `Effect.repeat` does. Any `Schedule` works: `Schedule.fixed` (a fixed rate), `Schedule.spaced`
 * (a pause after each run), `Schedule.cron`, `Schedule.windowed`, combinations. When the schedule
 * ends, the task ends `Completed`. While it waits for its next run its state is `"scheduled"`, and
 * runs after a success are not restarts.
 *
 * A failed run goes through the backoff, `maxRetries` and the restart intensity as with
 * `RestartPolicy.always`, and does not step the schedule; the run after a successful retry steps it
 * again. A schedule whose step fails (`Schedule.cron` with a malformed expression) or dies ends the
 * task `Failed`. The services the schedule needs come from the caller that adds the task. `options` are `Task.make`'s except `restart` (the schedule is the restart policy:
 * `RestartPolicy.repeat(schedule)`); `timeout` applies to each run.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { Task } from "@fibervisor/core"
 *
 * // Every 10 seconds on the clock, whatever each run takes (runs that overrun start at once).
 * const sampler = Task.repeat("sampler", Effect.log("sample"), Schedule.fixed("10 seconds"), {
 *   timeout: "5 seconds"
 * })
 * // At 03:00 every night.
 * const nightly = Task.repeat("nightly", Effect.log("compact"), Schedule.cron("0 3 * * *"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const repeat = <A, E, R, Out, ScheduleError = never, ScheduleR = never>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  schedule: Schedule.Schedule<Out, A, ScheduleError, ScheduleR>,
  options?: Omit<TaskOptions<E>, "restart">
): Task<E, Exclude<R | ScheduleR, TaskContext | Scope.Scope>> => {
  // The schedule is stepped in the task's fiber: the services it needs come from the caller of `add`.
  const restart = RestartPolicy.repeat(schedule as Schedule.Schedule<Out, unknown, ScheduleError>)
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    // A non-object is kept as is, so that `Task.validate` / `add` reject it as `options`.
    return make(name, effect, options === undefined ? { restart } : (options as never))
  }
  if ("restart" in options) {
    // Refused by name when the task is checked, never silently replaced.
    Object.defineProperty(restart, RestartPolicy.RepeatRestartConflict, { value: true })
  }
  return make(name, effect, { ...options, restart })
}

const withOption = <K extends keyof TaskOptions>(key: K) =>
  dual(2, <E, R>(self: Task<E, R>, value: TaskOptions<E>[K]): Task<E, R> => {
    const task = makeTask(self.name, self.effect, { ...self.options, [key]: value })
    // A `Supervisor.task` keeps what describes its nested supervisor.
    const nested = (self as { readonly [NestedSpecKey]?: unknown })[NestedSpecKey]
    if (nested !== undefined) Object.defineProperty(task, NestedSpecKey, { value: nested })
    return task
  })

/**
 * Sets the restart policy.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRestart: {
  (policy: RestartPolicy.RestartPolicy): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, policy: RestartPolicy.RestartPolicy): Task<E, R>
} = withOption("restart")

/**
 * Sets the backoff schedule.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBackoff: {
  (backoff: Schedule.Schedule<unknown, TaskFailure>): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, backoff: Schedule.Schedule<unknown, TaskFailure>): Task<E, R>
} = withOption("backoff")

/**
 * Sets the per-attempt timeout; zero or `undefined` disables it (also an inherited one).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTimeout: {
  (timeout: Duration.Input | undefined): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, timeout: Duration.Input | undefined): Task<E, R>
} = withOption("timeout")

/**
 * Sets the retry budget: `N` allows `N + 1` consecutive failed attempts; `undefined` is unlimited.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withMaxRetries: {
  (maxRetries: number | undefined): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, maxRetries: number | undefined): Task<E, R>
} = withOption("maxRetries")

/**
 * Sets the grace period `remove` and `cancel` give this task; `undefined` uses the supervisor's.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withGrace: {
  (grace: Duration.Input | undefined): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, grace: Duration.Input | undefined): Task<E, R>
} = withOption("grace")

/**
 * Sets how long an attempt must run to reset the failure streak and the backoff.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withResetAfter: {
  (resetAfter: Duration.Input | undefined): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, resetAfter: Duration.Input | undefined): Task<E, R>
} = withOption("resetAfter")

/**
 * Sets the predicate that marks errors as fatal (never restarted).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withIsFatal: {
  <E>(isFatal: (error: E) => boolean): <R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, isFatal: (error: E) => boolean): Task<E, R>
} = withOption("isFatal")

/**
 * Makes the task a readiness task (`true`: ready while an attempt runs; `"reported"`: ready once its
 * attempt calls `TaskContext.markReady`) or not (`false`). See `TaskOptions.ready`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task, TaskContext } from "@fibervisor/core"
 *
 * const connector = Task.restartable(
 *   "connector",
 *   Effect.gen(function* () {
 *     const ctx = yield* TaskContext.TaskContext
 *     yield* Effect.log("connected")
 *     yield* ctx.markReady
 *     return yield* Effect.never
 *   })
 * ).pipe(Task.withReady("reported"))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withReady: {
  (ready: boolean | "reported" | undefined): <E, R>(self: Task<E, R>) => Task<E, R>
  <E, R>(self: Task<E, R>, ready: boolean | "reported" | undefined): Task<E, R>
} = withOption("ready")

/**
 * Checks a task's own settings (name, durations, retry budget, backoff options) and fails with
 * `InvalidTaskSpec` naming the first bad field.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = <E, R>(task: Task<E, R>): Effect.Effect<Task<E, R>, InvalidTaskSpec> =>
  Result.match(resolveTask(task, undefined), {
    onFailure: Effect.fail,
    onSuccess: () => Effect.succeed(task)
  })

/**
 * Wraps every attempt of a task: `f` gets the attempt (the effect the supervisor would run) and
 * returns the one to run instead, under the same name and options (a `Supervisor.task` stays one:
 * its children, strategy and intensity are kept, and the wrapped attempt still runs its nested
 * supervisor). `options` (optional) replaces some of the task's options. For attempts that must
 * first obtain something, e.g. `@fibervisor/cluster`'s singletons, which wait for a lease.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@fibervisor/core"
 *
 * const logged = Task.make("worker", Effect.void).pipe(
 *   Task.mapAttempt((attempt) => Effect.andThen(Effect.log("attempt starts"), attempt))
 * )
 * ```
 *
 * @since 1.0.0
 * @category combinators
 */
export const mapAttempt: {
  <E, R, E2, R2>(
    f: (
      attempt: Effect.Effect<unknown, E, R | TaskContext | Scope.Scope>
    ) => Effect.Effect<unknown, E2, R2 | TaskContext | Scope.Scope>,
    options?: TaskOptions<E2>
  ): (self: Task<E, R>) => Task<E2, Exclude<R2, TaskContext | Scope.Scope>>
  <E, R, E2, R2>(
    self: Task<E, R>,
    f: (
      attempt: Effect.Effect<unknown, E, R | TaskContext | Scope.Scope>
    ) => Effect.Effect<unknown, E2, R2 | TaskContext | Scope.Scope>,
    options?: TaskOptions<E2>
  ): Task<E2, Exclude<R2, TaskContext | Scope.Scope>>
} = dual(
  (args) => isTask(args[0]),
  <E, R, E2, R2>(
    self: Task<E, R>,
    f: (
      attempt: Effect.Effect<unknown, E, R | TaskContext | Scope.Scope>
    ) => Effect.Effect<unknown, E2, R2 | TaskContext | Scope.Scope>,
    options?: TaskOptions<E2>
  ): Task<E2, Exclude<R2, TaskContext | Scope.Scope>> => {
    const task = makeTask(
      self.name,
      f(self.effect) as Effect.Effect<unknown, E2, Exclude<R2, TaskContext | Scope.Scope> | TaskContext | Scope.Scope>,
      { ...(self.options as unknown as TaskOptions<E2>), ...options }
    )
    // A `Supervisor.task` keeps what describes its nested supervisor.
    const nested = (self as { readonly [NestedSpecKey]?: unknown })[NestedSpecKey]
    if (nested !== undefined) Object.defineProperty(task, NestedSpecKey, { value: nested })
    return task
  }
)
