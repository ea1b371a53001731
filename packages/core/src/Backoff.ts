/**
 * Backoff between restarts. A backoff **is a `Schedule`**: any `Schedule<unknown, TaskFailure>` works.
 * Each failed attempt steps it once; its delay is the wait before the next attempt; when it ends,
 * the task gives up (`Failed`, the retry budget is exhausted). The schedule's state resets after a
 * successful attempt and after an attempt that ran longer than the task's `resetAfter`.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import { scheduleFromStep } from "./internal/compat.js"
import { decodeDuration, describe } from "./internal/duration.js"
import type { TaskId } from "./TaskId.js"

/**
 * What a backoff schedule receives for each failed attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface TaskFailure {
  readonly task: string
  readonly id: TaskId
  /** The attempt that failed (1-based). */
  readonly attempt: number
  /** Consecutive failures so far, this one included. */
  readonly streak: number
  readonly reason: string
  /** `true` when the supervisor's per-attempt timeout fired. */
  readonly timedOut: boolean
  readonly cause: Cause.Cause<unknown>
}

/**
 * A backoff policy.
 *
 * @since 0.1.0
 * @category models
 */
export type Backoff = Schedule.Schedule<unknown, TaskFailure>

/**
 * How a delay is randomised: `none` = the base delay; `full` ∈ [0, d]; `equal` ∈ [d/2, d];
 * `band` ∈ [first, min(3d, max)].
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter = "none" | "full" | "equal" | "band"

/**
 * Options of `exponential`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExponentialOptions {
  /** The base delay of the first retry. */
  readonly first: Duration.Input
  /** Growth per retry, at least 1 (default 2). */
  readonly factor?: number | undefined
  /** The cap of the base delay (default: the larger of `first` and 30 seconds). */
  readonly max?: Duration.Input | undefined
  /** Default `"none"`. */
  readonly jitter?: Jitter | undefined
  /** A lower bound applied after jitter (default 0). */
  readonly floor?: Duration.Input | undefined
}

/** @internal */
export const InvalidBackoffTypeId: unique symbol = Symbol.for("@fibervisor/core/Backoff/Invalid")

interface InvalidBackoff {
  readonly [InvalidBackoffTypeId]: { readonly field: string; readonly reason: string }
}

/** The resolved numbers of an exponential backoff, in milliseconds. */
interface Exponential {
  readonly firstMs: number
  readonly factor: number
  readonly maxMs: number
  readonly floorMs: number
  readonly jitter: Jitter
}

const jitters: ReadonlySet<unknown> = new Set(["none", "full", "equal", "band"])

const resolveExponential = (
  options: ExponentialOptions
): Result.Result<Exponential, InvalidBackoff[typeof InvalidBackoffTypeId]> => {
  const field = (name: string, input: unknown) =>
    Result.mapError(decodeDuration(input), (reason) => ({ field: `backoff.${name}`, reason }))
  return Result.gen(function* () {
    if (typeof options !== "object" || options === null) {
      return yield* Result.fail({ field: "backoff", reason: "options must be an object" })
    }
    const firstMs = Duration.toMillis(yield* field("first", options.first))
    const maxMs =
      options.max === undefined ? Math.max(firstMs, 30_000) : Duration.toMillis(yield* field("max", options.max))
    const floorMs = options.floor === undefined ? 0 : Duration.toMillis(yield* field("floor", options.floor))
    const factor = options.factor === undefined ? 2 : options.factor
    const jitter = options.jitter === undefined ? "none" : options.jitter
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
      return yield* Result.fail({
        field: "backoff.factor",
        reason: `must be a finite number ≥ 1, got ${typeof factor === "number" ? String(factor) : describe(factor)}`
      })
    }
    if (firstMs > maxMs) {
      return yield* Result.fail({ field: "backoff.first", reason: `must not exceed max (${firstMs} ms > ${maxMs} ms)` })
    }
    if (floorMs > maxMs) {
      return yield* Result.fail({ field: "backoff.floor", reason: `must not exceed max (${floorMs} ms > ${maxMs} ms)` })
    }
    if (!jitters.has(jitter)) {
      return yield* Result.fail({
        field: "backoff.jitter",
        reason: `must be "none", "full", "equal" or "band", got ${describe(jitter)}`
      })
    }
    return { firstMs, factor, maxMs, floorMs, jitter }
  })
}

/**
 * The delay of retry `index` (0-based) given a uniform random number in [0, 1): the base
 * `min(first·factor^index, max)`, jittered, raised to `floor`, and — for a non-zero base — at least
 * 1 ms. Whole milliseconds (a fractional floor rounds up).
 */
const delayOf = (e: Exponential, index: number, random: number): number => {
  // A zero first delay stays zero (0 · factor^n would become 0 · Infinity = NaN once factor^n overflows).
  const base = e.firstMs === 0 ? 0 : Math.min(e.firstMs * Math.pow(e.factor, index), e.maxMs)
  let delay: number
  switch (e.jitter) {
    case "none":
      delay = base
      break
    case "full":
      delay = random * base
      break
    case "equal":
      delay = base / 2 + (random * base) / 2
      break
    case "band": {
      const upper = Math.max(e.firstMs, Math.min(3 * base, e.maxMs))
      delay = e.firstMs + random * (upper - e.firstMs)
      break
    }
  }
  delay = Math.max(Math.floor(delay), Math.ceil(e.floorMs))
  return base > 0 ? Math.max(delay, 1) : delay
}

const invalid = (
  problem: InvalidBackoff[typeof InvalidBackoffTypeId]
): Schedule.Schedule<Duration.Duration, TaskFailure> =>
  Object.assign(
    scheduleFromStep<number, TaskFailure, Duration.Duration, never>(0, () =>
      Effect.die(new Error(`invalid backoff: ${problem.field} ${problem.reason}`))
    ),
    { [InvalidBackoffTypeId]: problem }
  )

/**
 * Exponential backoff: retry `n` (0-based) waits `min(first·factor^n, max)`, jittered, at least `floor`.
 * Jitter draws from Effect's `Random`, so a seeded `Random` makes it reproducible. Invalid options
 * (factor < 1, first > max, negative or non-finite durations, an unknown jitter) make `add` fail
 * with `InvalidTaskSpec` naming the field.
 *
 * @example
 * ```ts
 * import { Backoff, Task } from "@fibervisor/core"
 * import { Effect } from "effect"
 *
 * const task = Task.make("poller", Effect.void, {
 *   backoff: Backoff.exponential({ first: "100 millis", max: "30 seconds", jitter: "equal" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: ExponentialOptions): Schedule.Schedule<Duration.Duration, TaskFailure> =>
  Result.match(resolveExponential(options), {
    onFailure: invalid,
    onSuccess: (e) => {
      const step = (index: number, random: number) => {
        const delayMs = delayOf(e, index, random)
        return [index + 1, Duration.millis(delayMs), delayMs] as const
      }
      return scheduleFromStep<number, TaskFailure, Duration.Duration, never>(0, (_now, _input, index) =>
        e.jitter === "none" ? Effect.succeed(step(index, 0)) : Effect.map(Random.next, (r) => step(index, r))
      )
    }
  })

/**
 * The same delay before every retry, forever.
 *
 * @since 0.1.0
 * @category constructors
 */
export const constant = (delay: Duration.Input): Schedule.Schedule<Duration.Duration, TaskFailure> =>
  Result.match(decodeDuration(delay), {
    onFailure: (reason) => invalid({ field: "backoff.delay", reason }),
    onSuccess: (d) => {
      const delayMs = Duration.toMillis(d)
      const step = Effect.succeed([0, d, delayMs] as const)
      return scheduleFromStep<number, TaskFailure, Duration.Duration, never>(0, () => step)
    }
  })

/**
 * No delay between retries (a tight retry loop bounded only by `maxRetries`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const none: Schedule.Schedule<Duration.Duration, TaskFailure> = constant(Duration.zero)

/**
 * The default backoff: exponential, first 200 ms, factor 2, max 30 s, equal jitter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultBackoff: Schedule.Schedule<Duration.Duration, TaskFailure> = exponential({
  first: "200 millis",
  factor: 2,
  max: "30 seconds",
  jitter: "equal"
})

/**
 * Checks that `u` is a usable backoff: a `Schedule`, and — for the ones built here — valid options.
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (u: unknown): Result.Result<Backoff, { readonly field: string; readonly reason: string }> => {
  if (!Schedule.isSchedule(u)) return Result.fail({ field: "backoff", reason: "must be a Schedule" })
  if (InvalidBackoffTypeId in u) return Result.fail((u as unknown as InvalidBackoff)[InvalidBackoffTypeId])
  return Result.succeed(u as Backoff)
}
