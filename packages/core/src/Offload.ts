/**
 * Fire-and-forget background work with a `kind` label: stale-while-revalidate refreshes, cache
 * writes, telemetry flushes. One service, four layers: real (`layer`), no-op (`layerDisabled`),
 * inline (`layerInline`), and — in `@fibervisor/vitest` — recording.
 *
 * Work is an `Effect`, so it is lazy: nothing starts before the service decides. The caller's
 * context is captured — its services and references (Clock, Random, logger, log level and
 * annotations, tracer apply to the work) — but the work runs detached from the caller's fiber: the request ending or being interrupted does not stop
 * it. Its failures and defects never reach the caller: they are logged, counted and the key is freed
 * (a failure or defect raised while the work is being interrupted — by `cancel`, a "cancel" timeout
 * or the drain — is logged too; the work is counted as interrupted or timed out).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { withCaller } from "./internal/compat.js"
import * as internal from "./internal/offload.js"
import * as cluster from "./internal/offloadCluster.js"
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
 * What `submit` gives back: the decision, and a way to wait for the piece of work this call
 * admitted — and only that piece, unlike `awaitIdle`. For `waitUntil`-style integrations
 * (a serverless host's `waitUntil`, Next's `after`) that must keep the process alive until the
 * work a request started has ended.
 *
 * @since 0.2.0
 * @category models
 */
export interface OffloadHandle<A, E> {
  readonly outcome: OffloadOutcome
  /**
   * Resumes once the work this registration stands for has ended; never fails:
   *
   * - `"spawned"`: `Option.some` of the work's own exit — its value, its failure or defect (logged
   *   and counted by the service as usual), or an interruption (`cancel`, a `"cancel"` timeout, the
   *   drain's cut-off, or stopped before it started);
   * - `"deduplicated"`: once the piece already in flight under the same key has ended, with
   *   `Option.none()` (that piece's result belongs to the caller that registered it);
   * - `"rejected"`, `"disabled"`: at once, with `Option.none()`: nothing will run.
   *
   * Interrupting the wait does not stop the work; it can be awaited any number of times.
   */
  readonly await: Effect.Effect<Option.Option<Exit.Exit<A, E>>>
}

/**
 * One kind of offloaded work, as `Offload.summary` reports it. The counts run from the service's
 * start; `active` and `queued` are now.
 *
 * @since 1.0.0
 * @category models
 */
export interface OffloadKindSummary {
  readonly kind: string
  /** Running now. */
  readonly active: number
  /** Admitted and waiting for room (`onFull: { queue }`). */
  readonly queued: number
  /** Ended by succeeding. */
  readonly completed: number
  /** Ended by failing or dying (as `fibervisor_offload_failed_total` counts them). */
  readonly failed: number
  /** Interrupted by their `"cancel"` timeout. */
  readonly timedOut: number
  /**
   * The latest failures and timeouts, oldest first, at most `Offload.recentFailuresPerKind`:
   * an id (unique in the service, for `Offload.retry`), when (epoch ms, from the service's
   * `Clock`) and what happened (the failure's one-line description, cut to 500 characters;
   * `timed out after N ms` for a timeout).
   */
  readonly recentFailures: ReadonlyArray<{ readonly id: string; readonly at: number; readonly reason: string }>
}

/**
 * What the offload service did, per kind (see `Offload.summary`).
 *
 * @since 1.0.0
 * @category models
 */
export interface OffloadSummary {
  /** Sorted by kind. Past 1,000 kinds, later ones are counted together under `"_other"`. */
  readonly kinds: ReadonlyArray<OffloadKindSummary>
}

/**
 * How many recent failures `Offload.summary` keeps per kind.
 *
 * @since 1.0.0
 * @category constants
 */
export const recentFailuresPerKind: number = internal.recentFailuresPerKind

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
  /**
   * `register`, plus a handle to wait for the piece of work this call admitted (see
   * `OffloadHandle`). Only callers that ask for a handle pay for it.
   *
   * @since 0.2.0
   */
  submit<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadHandle<A, E>, never, R>
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
  awaitIdle(timeout?: Duration.Input): Effect.Effect<boolean, InvalidArgument>
  /**
   * Per kind: what runs and waits now, how much completed, failed and timed out, and the latest
   * failures — for dashboards (`@fibervisor/platform-node`'s shows it). Present on the real and
   * inline layers (and the disabled one, always empty); optional so that other implementations
   * of the service (test doubles) need not provide it.
   *
   * @since 1.0.0
   */
  readonly summary?: Effect.Effect<OffloadSummary>
  /**
   * Registers the work of a recent failure (by its id in `summary`'s `recentFailures`) again, under
   * its key, with the services of the caller that registered it, through the normal admission
   * (dedup by key, limits, the queue): `Option.some` of the outcome, `Option.none()` when no
   * recent failure has this id (never, or no longer, in the bounded list). An admitted retry
   * (`"spawned"`) leaves the list; a `"deduplicated"` or `"rejected"` one stays, retryable later.
   * The inline layers wait for the retried work, as `register` does; the disabled layer has no
   * failures (always `Option.none()`); the cluster layer claims the key again (another replica
   * holding it makes the retry `"deduplicated"`).
   *
   * To make this possible, each recent failure keeps its work and its caller's services:
   * at most `recentFailuresPerKind` per kind, for at most 1,000 kinds (plus `"_other"`).
   *
   * Optional, like `summary`.
   *
   * @since 1.0.0
   */
  readonly retry?: (id: string) => Effect.Effect<Option.Option<OffloadOutcome>>
}

/**
 * The `Offload` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const Offload: Context.Service<Offload, Offload> = Context.Service<Offload>("@fibervisor/core/Offload")

/**
 * A timeout for offloaded work: `cancel` interrupts it (and counts a timeout); `warn` logs once when
 * the threshold is crossed and lets it run on.
 *
 * @since 0.1.0
 * @category models
 */
export interface OffloadTimeout {
  readonly after: Duration.Input
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
  readonly perKind?: Readonly<
    Record<
      string,
      {
        readonly maxConcurrent?: number
        readonly timeout?: OffloadTimeout
        /** This kind's `logFailures` (replaces the global one). @since 0.2.0 */
        readonly logFailures?: boolean
      }
    >
  >
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
  readonly grace?: Duration.Input
  /**
   * Log a warning when a piece of work fails or dies (default `true`). Turn it off — for every kind
   * here, or for one kind in `perKind` — when the work logs its own failures, so that none is
   * logged twice; failures are still counted in `fibervisor_offload_failed_total`.
   *
   * @since 0.2.0
   */
  readonly logFailures?: boolean
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
  build(config, false)

const build = (
  config: OffloadConfig | undefined,
  inline: boolean
): Effect.Effect<internal.OffloadImpl, InvalidOffloadConfig, Scope.Scope> =>
  Result.match(resolveConfig(config), {
    onFailure: (problem) => Effect.fail(new InvalidOffloadConfig(problem)),
    onSuccess: (resolved) => internal.make(resolved, inline)
  })

/**
 * The real layer: bounded, deduplicated, drained when released, measured. A bad config fails the
 * layer's construction with `InvalidOffloadConfig`.
 *
 * Provide it **once**, around the whole program (next to the other application layers), never
 * per request: a layer provided around one request is built and released with it, so the request
 * waits for its work to drain, and deduplication and limits never span two requests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Offload } from "@fibervisor/core"
 *
 * // A request handler needs `Offload`; it does not provide it.
 * const handleRequest = (id: string) =>
 *   Effect.as(Offload.spawn("telemetry", Effect.log(`flushed ${id}`)), "ok")
 *
 * // Provided once, around the program that serves every request.
 * const serve = Effect.forEach(["a", "b", "c"], handleRequest)
 * serve.pipe(Effect.provide(Offload.layer({ maxConcurrent: 64 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config?: OffloadConfig): Layer.Layer<Offload, InvalidOffloadConfig> =>
  Layer.effect(Offload, make(config))

const disabledHandle: OffloadHandle<never, never> = { outcome: "disabled", await: Effect.succeedNone }

const disabled: Offload = {
  spawn: () => Effect.void,
  register: () => Effect.succeed("disabled"),
  submit: () => Effect.succeed(disabledHandle),
  isInFlight: () => Effect.succeed(false),
  cancel: () => Effect.succeed(false),
  cancelAll: Effect.succeed(0),
  activeCount: Effect.succeed(0),
  queuedCount: Effect.succeed(0),
  summary: Effect.succeed({ kinds: [] }),
  retry: () => Effect.succeedNone,
  awaitIdle: (timeout) =>
    Result.match(internal.decodeTimeout("awaitIdle", timeout), {
      onFailure: Effect.fail,
      onSuccess: () => Effect.succeed(true)
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
 * The inline layer: the caller waits for the work it admitted (deterministic tests, serverless
 * hosts that freeze after the response). Everything else is the real layer's, with its default
 * config: the work runs in a fiber of its own with the caller's services and fiber refs; the fibers
 * it forks end with it; failures are logged, counted and swallowed; keyed work is deduplicated
 * against concurrent callers (a `"deduplicated"` caller does not wait); `cancel` / `cancelAll`
 * interrupt it (its caller then resumes); releasing the layer drains it.
 *
 * Interrupting the caller does **not** stop the work, as with the real layer: the caller stops
 * waiting at once and the work runs on, still tracked (`isInFlight`, `awaitIdle`, `cancel`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInline: Layer.Layer<Offload> = Layer.effect(
  Offload,
  Effect.orDie(Effect.suspend(() => build(undefined, true)))
)

/**
 * `layerInline` with the real layer's config: limits (a caller then waits in the queue, or is
 * `"rejected"`), timeouts, `deduplicate`, `grace`, `logFailures`. A bad config fails the layer's
 * construction with `InvalidOffloadConfig`.
 *
 * @example
 * ```ts
 * import { Offload } from "@fibervisor/core"
 *
 * // The hooks report their own failures: Offload does not log them a second time.
 * const offload = Offload.layerInlineWith({ perKind: { "upload-complete": { logFailures: false } } })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerInlineWith = (config?: OffloadConfig): Layer.Layer<Offload, InvalidOffloadConfig> =>
  Layer.effect(Offload, build(config, true))

/**
 * Hands work to the `Offload` service, fire and forget.
 *
 * @since 0.1.0
 * @category accessors
 */
export const spawn = <A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, Offload | R> =>
  // One step, not two, for the real service: it admits from the caller's context at once.
  withCaller<void, never, Offload | R, R>((caller) => {
    const offload = Context.get(caller, Offload)
    return offload instanceof internal.OffloadImpl
      ? offload.spawnWith(caller, kind, effect)
      : offload.spawn(kind, effect)
  })

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
 * Registers work under a key with the `Offload` service and returns a handle on it: the decision,
 * and an `await` for this piece of work only (see `OffloadHandle`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Offload, OffloadKey } from "@fibervisor/core"
 *
 * // A serverless handler: answer at once, keep the host alive until this request's work is done.
 * declare const waitUntil: (promise: Promise<unknown>) => void
 * const onUploadComplete = (fileKey: string) =>
 *   Effect.gen(function* () {
 *     const handle = yield* Offload.submit(OffloadKey.keyed(fileKey, "upload-complete"), Effect.log("hook ran"))
 *     waitUntil(Effect.runPromise(handle.await))
 *     return "ok"
 *   })
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const submit = <A, E, R>(
  key: OffloadKey.OffloadKey,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<OffloadHandle<A, E>, never, Offload | R> =>
  Effect.flatMap(Offload, (offload) => offload.submit(key, effect))

/**
 * Waits until the `Offload` service is idle (see `Offload.awaitIdle`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitIdle = (timeout?: Duration.Input): Effect.Effect<boolean, InvalidArgument, Offload> =>
  Effect.flatMap(Offload, (offload) => offload.awaitIdle(timeout))

/**
 * Registers the work of a recent failure again (see `Offload.retry`); `Option.none()` for an
 * unknown id, or when the service has no `retry`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Offload } from "@fibervisor/core"
 *
 * // Retry the latest failure of "emails", if there is one.
 * const retryLatest = Effect.gen(function* () {
 *   const offload = yield* Offload.Offload
 *   const summary = yield* (offload.summary ?? Effect.succeed({ kinds: [] }))
 *   const latest = summary.kinds.find((kind) => kind.kind === "emails")?.recentFailures.at(-1)
 *   return latest === undefined ? Option.none() : yield* Offload.retry(latest.id)
 * })
 * ```
 *
 * @since 1.0.0
 * @category accessors
 */
export const retry = (id: string): Effect.Effect<Option.Option<OffloadOutcome>, never, Offload> =>
  Effect.flatMap(Offload, (offload) => (offload.retry === undefined ? Effect.succeedNone : offload.retry(id)))

/**
 * A lock taken through `OffloadClaims`: on a key (`tryClaim`) or on one of a kind's cluster slots
 * (`trySlot`). `release` gives it back; it never fails (a claims backend that cannot reach its
 * store logs and counts the problem itself) and releasing twice is harmless.
 *
 * @since 1.0.0
 * @category cluster
 */
export interface OffloadClaim {
  readonly release: Effect.Effect<void>
}

/**
 * The claims store behind `Offload.layerCluster`: one per replica (`@fibervisor/cluster`'s
 * `ClusterOffload.layerPostgres`, or `ClusterOffload.layerMemory` for tests). Core holds no SQL:
 * this interface is all `layerCluster` needs.
 *
 * - `tryClaim(kind, key)`: `Option.some` of the claim when no other replica holds `(kind, key)`,
 *   `Option.none()` when one does. Claims are re-entrant per replica (PostgreSQL session locks
 *   are), so `layerCluster` runs its local dedup first and never claims a key twice.
 * - `trySlot(kind, slots)`: one of the `slots` cluster-wide slots of `kind`, or `Option.none()`
 *   when every one is taken.
 *
 * Both fail with `OffloadClaimsUnavailable` when the store cannot answer; `layerCluster` then
 * refuses the work (`"rejected"`): it fails closed, never runs a key it could not claim.
 *
 * @since 1.0.0
 * @category cluster
 */
export interface OffloadClaims {
  readonly tryClaim: (kind: string, key: string) => Effect.Effect<Option.Option<OffloadClaim>, OffloadClaimsUnavailable>
  readonly trySlot: (
    kind: string,
    slots: number
  ) => Effect.Effect<Option.Option<OffloadClaim>, OffloadClaimsUnavailable>
}

/**
 * The `OffloadClaims` service tag (required by `Offload.layerCluster`).
 *
 * @since 1.0.0
 * @category cluster
 */
export const OffloadClaims: Context.Service<OffloadClaims, OffloadClaims> = Context.Service<OffloadClaims>(
  "@fibervisor/core/OffloadClaims"
)

/**
 * The claims store could not answer (its database is unreachable, its session is being rebuilt).
 *
 * @since 1.0.0
 * @category cluster
 */
export class OffloadClaimsUnavailable extends Schema.TaggedError<OffloadClaimsUnavailable>(
  "@fibervisor/core/OffloadClaimsUnavailable"
)("OffloadClaimsUnavailable", { reason: Schema.String }) {
  /** @since 1.0.0 */
  override get message(): string {
    return `offload claims unavailable: ${this.reason}`
  }
}

/**
 * The defect that ends work which waited for a cluster slot longer than `cluster.slotWait`: the
 * work itself never ran. It is counted as a failure of its kind (and listed in `summary`).
 *
 * @since 1.0.0
 * @category cluster
 */
export class OffloadSlotUnavailable extends Schema.TaggedError<OffloadSlotUnavailable>(
  "@fibervisor/core/OffloadSlotUnavailable"
)("OffloadSlotUnavailable", { kind: Schema.String, waitedMs: Schema.Number }) {
  /** @since 1.0.0 */
  override get message(): string {
    return `no cluster slot of kind "${this.kind}" came free within ${this.waitedMs} ms; the work did not run`
  }
}

/**
 * Configuration of `Offload.layerCluster`: everything `OffloadConfig` has, plus per kind a
 * cluster-wide limit (`perKind[kind].cluster.maxConcurrent`) and, under `cluster`, how work that
 * waits for a cluster slot retries (`slotRetry`, default 250 ms) and how long it may wait
 * (`slotWait`, default 30 seconds).
 *
 * @since 1.0.0
 * @category cluster
 */
export interface OffloadClusterConfig extends Omit<OffloadConfig, "perKind"> {
  readonly perKind?: Readonly<
    Record<
      string,
      NonNullable<OffloadConfig["perKind"]>[string] & {
        /** At most this many pieces of this kind run at once across every replica. */
        readonly cluster?: { readonly maxConcurrent: number }
      }
    >
  >
  readonly cluster?: {
    /** How often work waiting for a cluster slot tries again (default 250 ms). */
    readonly slotRetry?: Duration.Input
    /** How long work may wait for a cluster slot before it is given up (default 30 seconds). */
    readonly slotWait?: Duration.Input
  }
}

/**
 * The real layer, once per key across every replica: `layer`'s service, whose keyed work is
 * also claimed in the `OffloadClaims` store before it starts, and released on every exit
 * (success, failure, defect, interruption, timeout, dropped from the queue). A key another
 * replica holds is `"deduplicated"`; a kind with `cluster: { maxConcurrent }` runs at most that
 * many pieces at once across the replicas.
 *
 * The local dedup runs first (claims are re-entrant per replica); then `register` waits for one
 * claim round trip (keyed work) and one slot round trip (kinds with a cluster limit); auto-keyed
 * work of a kind without a cluster limit never touches the store. When no cluster slot is free,
 * `onFull: "reject"` (the default) refuses the work; with `onFull: { queue }` it is admitted,
 * holds its local permit and tries again every `slotRetry` until `slotWait` (then it ends with
 * the defect `OffloadSlotUnavailable`, counted as a failure). When the store cannot answer, the
 * work is refused (`"rejected"`). `retry` registers a recent failure's work again through the same
 * path: a new claim of its key (and a slot), with the registering caller's services.
 *
 * @example
 * ```ts
 * import { Offload } from "@fibervisor/core"
 *
 * // Two refreshes of one kind at once across the fleet; a key runs on one replica at a time.
 * const offload = Offload.layerCluster({ perKind: { revalidate: { cluster: { maxConcurrent: 2 } } } })
 * // provide `OffloadClaims`: ClusterOffload.layerPostgres(...) from @fibervisor/cluster
 * ```
 *
 * @since 1.0.0
 * @category cluster
 */
export const layerCluster = (
  config?: OffloadClusterConfig
): Layer.Layer<Offload, InvalidOffloadConfig, OffloadClaims> =>
  Layer.effect(
    Offload,
    Result.match(cluster.splitConfig(config), {
      onFailure: (problem) => Effect.fail(new InvalidOffloadConfig(problem)),
      onSuccess: ({ base, resolved }) =>
        cluster.make(resolved, build(base as OffloadConfig, false), OffloadClaims, (kind, waitedMs) =>
          Effect.die(new OffloadSlotUnavailable({ kind, waitedMs }))
        )
    })
  )
