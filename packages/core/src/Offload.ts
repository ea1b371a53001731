/**
 * Fire-and-forget background work with a `kind` label: stale-while-revalidate refreshes, cache
 * writes, telemetry flushes. One service, four layers: real (`layer`), no-op (`layerDisabled`),
 * inline (`layerInline`), and — in `@fibervisor/vitest` — recording.
 *
 * Work is an `Effect`, so it is lazy: nothing starts before the service decides. The caller's
 * services and fiber refs are captured (Clock, Random, logger, tracer apply to the work), but the
 * work runs detached from the caller's fiber: the request ending or being interrupted does not stop
 * it. Its failures and defects never reach the caller: they are logged, counted and the key is freed
 * (a failure or defect raised while the work is being interrupted — by `cancel`, a "cancel" timeout
 * or the drain — is logged too; the work is counted as interrupted or timed out).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/offload.js"
import { resolveConfig } from "./internal/offloadConfig.js"
import type * as OffloadKey from "./OffloadKey.js"
import type { InvalidArgument } from "./SupervisorError.js"

/**
 * What `register` decided: the work was started (or queued), skipped because the same key is in
 * flight, refused (full, closed, or an invalid key), or dropped by the disabled layer.
 *
 * @since 0.1.0
 * @category models
 */
export type OffloadOutcome = "spawned" | "deduplicated" | "rejected" | "disabled"

/**
 * The offload service.
 *
 * @since 0.1.0
 * @category models
 */
export interface Offload {
  /** Fire and forget: `register(OffloadKey.auto(kind), effect)`, ignoring the outcome. */
  spawn<A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R>
  /** Hands `effect` to the service under `key` and says what was decided. */
  register<A, E, R>(key: OffloadKey.OffloadKey, effect: Effect.Effect<A, E, R>): Effect.Effect<OffloadOutcome, never, R>
  /** Is work under this key in flight (running or queued)? An auto key asks about its whole kind. */
  isInFlight(key: OffloadKey.OffloadKey): Effect.Effect<boolean>
  /**
   * Stops the work under this key (an auto key: every piece of its kind) and waits until it has
   * exited; `false` when nothing was in flight.
   */
  cancel(key: OffloadKey.OffloadKey): Effect.Effect<boolean>
  /** Stops all work in flight and waits until it has exited; returns how many pieces were stopped. */
  readonly cancelAll: Effect.Effect<number>
  /** Work running now. */
  readonly activeCount: Effect.Effect<number>
  /** Work admitted and waiting for room (`onFull: { queue }`). */
  readonly queuedCount: Effect.Effect<number>
  /**
   * Resumes when no work is running or queued: `true`; with `timeout`, `false` if that takes longer.
   */
  awaitIdle(timeout?: Duration.DurationInput): Effect.Effect<boolean, InvalidArgument>
}

/**
 * The `Offload` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Offload: Context.Tag<Offload, Offload> = Context.GenericTag<Offload>("@fibervisor/core/Offload")

/**
 * A timeout for offloaded work: `cancel` interrupts it (and counts a timeout); `warn` logs once when
 * the threshold is crossed and lets it run on.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffloadTimeout {
  readonly after: Duration.DurationInput
  readonly policy: "cancel" | "warn"
}

/**
 * Configuration of the real layer. Every field is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffloadConfig {
  /** Global limit of work running at once (default unlimited). */
  readonly maxConcurrent?: number
  /** Per-kind limits and timeouts (a kind's `timeout` replaces the global one). */
  readonly perKind?: Readonly<Record<string, { readonly maxConcurrent?: number; readonly timeout?: OffloadTimeout }>>
  /** When a limit is reached: `"reject"` (default) or wait in a bounded FIFO queue. */
  readonly onFull?: "reject" | { readonly queue: number }
  /** Default timeout of every piece of work (default none). */
  readonly timeout?: OffloadTimeout
  /** Deduplicate keyed work while in flight (default `true`). */
  readonly deduplicate?: boolean
  /**
   * How long closing the layer waits for work in flight before interrupting it (default 10
   * seconds). With `0` it waits for nothing: work in flight is interrupted at once, and what has
   * not stopped by the scheduler's next turn is reported abandoned.
   */
  readonly grace?: Duration.DurationInput
}

/**
 * The configuration of `layer` cannot be used: names the field and why.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOffloadConfig extends Schema.TaggedError<InvalidOffloadConfig>(
  "@fibervisor/core/InvalidOffloadConfig"
)("InvalidOffloadConfig", { field: Schema.String, reason: Schema.String }) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid offload config: ${this.field} ${this.reason}`
  }
}

/**
 * Builds the real service in the current scope (closing the scope drains it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config?: OffloadConfig): Effect.Effect<Offload, InvalidOffloadConfig, Scope.Scope> =>
  Either.match(resolveConfig(config), {
    onLeft: (problem) => Effect.fail(new InvalidOffloadConfig(problem)),
    onRight: internal.make
  })

/**
 * The real layer: bounded, deduplicated, drained when released, measured. A bad config fails the
 * layer's construction with `InvalidOffloadConfig`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Offload } from "@fibervisor/core"
 *
 * const handler = Offload.spawn("telemetry", Effect.log("flushed"))
 * handler.pipe(Effect.provide(Offload.layer({ maxConcurrent: 64 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config?: OffloadConfig): Layer.Layer<Offload, InvalidOffloadConfig> =>
  Layer.scoped(Offload, make(config))

const disabled: Offload = {
  spawn: () => Effect.void,
  register: () => Effect.succeed("disabled"),
  isInFlight: () => Effect.succeed(false),
  cancel: () => Effect.succeed(false),
  cancelAll: Effect.succeed(0),
  activeCount: Effect.succeed(0),
  queuedCount: Effect.succeed(0),
  awaitIdle: (timeout) =>
    Either.match(internal.decodeTimeout("awaitIdle", timeout), {
      onLeft: Effect.fail,
      onRight: () => Effect.succeed(true)
    })
}

/**
 * The no-op layer: work never runs, every registration is `"disabled"`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDisabled: Layer.Layer<Offload> = Layer.succeed(Offload, disabled)

/**
 * The inline layer: runs the work in the caller's fiber and waits for it (deterministic tests,
 * serverless hosts that freeze after the response). The fibers the work forks are interrupted (and
 * awaited) when it ends, as they are when real-layer work ends; daemons are left alone. Failures
 * are still logged and swallowed. Keyed work is deduplicated against concurrent callers.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInline: Layer.Layer<Offload> = Layer.sync(Offload, internal.makeInline)

/**
 * Hands work to the `Offload` service, fire and forget.
 *
 * @since 0.1.0
 * @category accessors
 */
export const spawn = <A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, Offload | R> =>
  Effect.flatMap(Offload, (offload) => offload.spawn(kind, effect))

/**
 * Registers work under a key with the `Offload` service and returns the decision.
 *
 * @since 0.1.0
 * @category accessors
 */
export const register = <A, E, R>(
  key: OffloadKey.OffloadKey,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<OffloadOutcome, never, Offload | R> =>
  Effect.flatMap(Offload, (offload) => offload.register(key, effect))

/**
 * Waits until the `Offload` service is idle (see `Offload.awaitIdle`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitIdle = (timeout?: Duration.DurationInput): Effect.Effect<boolean, InvalidArgument, Offload> =>
  Effect.flatMap(Offload, (offload) => offload.awaitIdle(timeout))
