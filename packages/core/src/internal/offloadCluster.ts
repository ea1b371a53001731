/**
 * `Offload.layerCluster`'s service (`ClusterOffloadImpl`): the real service (`Offload.make`),
 * with a claim step in front of it. Core holds no SQL: the claims come from the `OffloadClaims`
 * service (`@fibervisor/cluster` provides it on PostgreSQL advisory locks, or in memory).
 *
 * Data flow (register → local dedup → claim → slot → real service → exit → release):
 * `admit` checks the key against `held` (this replica's keys from claim to release) and marks it
 * synchronously, so two local registrations never both reach the store (its claims are
 * re-entrant per replica); `decide` claims the key, then a cluster slot when the kind has a
 * cluster limit, and hands the work to the real service with `submit`; a watcher waits for that
 * handle (it resumes on every exit: success, failure, defect, interruption, timeout, dropped from
 * the queue) and releases the slot and the claim, then unmarks the key. `retry` takes a recent
 * failure from the real service (`recentFailure`) and registers its work through this same path.
 *
 * Invariants:
 * - A key is in `held` from before its claim until after its release: local dedup first, always.
 * - Claim → submit → watcher runs uninterruptibly: a claim is never taken without an owner that
 *   releases it (interrupting the caller cannot strand a lock).
 * - Fail closed: a store that cannot answer refuses the work; it never runs unclaimed.
 * - Work waiting for a slot holds its local permit and its timeout runs; the wait is bounded by
 *   `slotWait`, then the work ends with a defect and never runs.
 * - A recent failure keeps the work as registered, never its slot wait (`submitAs`), and leaves
 *   the real service's list only when its retry is `"spawned"`.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type {
  Offload,
  OffloadClaim,
  OffloadClaims,
  OffloadClaimsUnavailable,
  OffloadHandle,
  OffloadOutcome,
  OffloadSummary
} from "../Offload.js"
import * as OffloadKey from "../OffloadKey.js"
import type { InvalidArgument } from "../SupervisorError.js"
import type { OffloadImpl } from "./offload.js"
import type { ResolvedCluster } from "./offloadClusterConfig.js"
import { cappedLabels } from "./labels.js"
import { ZeroSignal } from "./zeroSignal.js"

export { splitConfig } from "./offloadClusterConfig.js"

// The same series as the real service's (same name, description and `kind`), and the cluster's
// own decisions under `scope: "cluster"`.
const deduplicatedName = "fibervisor_offload_deduplicated_total"
const deduplicatedDescription = "Registrations skipped because the same key was in flight"
const rejectedName = "fibervisor_offload_rejected_total"
const rejectedDescription = "Registrations refused (full, closed or invalid)"

const counter = (name: string, description: string, attributes: Record<string, string>) =>
  Metric.counter(name, { description, incremental: true, attributes })

interface ClusterMetrics {
  /** Deduplicated on this replica while the key was being claimed or released. */
  readonly localDeduplicated: Metric.Counter<number>
  /** Deduplicated because another replica holds the key. */
  readonly deduplicated: Metric.Counter<number>
  /** Refused: no cluster slot (`onFull: "reject"`), the store could not answer, or the slot wait ran out. */
  readonly rejected: Metric.Counter<number>
}

const metricsOf = (kind: string): ClusterMetrics => ({
  localDeduplicated: counter(deduplicatedName, deduplicatedDescription, { kind }),
  deduplicated: counter(deduplicatedName, deduplicatedDescription, { kind, scope: "cluster" }),
  rejected: counter(rejectedName, rejectedDescription, { kind, scope: "cluster" })
})

/** Per-kind metric handles, capped as the real service's labels are. */
const maxKindLabels = 1_000
const labelOf = cappedLabels(maxKindLabels, metricsOf)

/** One registration that went to the store, from its claim to its release. */
class Registration {
  /** `"claiming"` until the real service has the work, `"running"` while it has it, then `"releasing"` (once). */
  phase: "claiming" | "running" | "releasing" = "claiming"
  claim: OffloadClaim | undefined = undefined
  slot: OffloadClaim | undefined = undefined
  /** Done once the claim and the slot are released (or the work was refused). */
  readonly released: Deferred.Deferred<void> = Deferred.makeUnsafe<void>()
  constructor(
    readonly key: OffloadKey.OffloadKey,
    readonly identity: string | undefined,
    readonly metrics: ClusterMetrics
  ) {}
}

type Fail = (kind: string, waitedMs: number) => Effect.Effect<never>

const noClaim: Option.Option<OffloadClaim | undefined> = Option.some(undefined)

/** The cluster-wide service: `inner` runs the work, `claims` makes it once per key across replicas. */
export class ClusterOffloadImpl implements Offload {
  /** This replica's keys from before their claim until after their release. */
  private readonly held = new Map<string, Registration>()
  /** Registrations not yet released. */
  readonly pending = new ZeroSignal()
  /** Ids of recent failures being registered again (`retry`), until their admission is decided. */
  private readonly retrying = new Set<string>()

  constructor(
    private readonly inner: OffloadImpl,
    private readonly claims: OffloadClaims,
    private readonly config: ResolvedCluster,
    /** The layer's services: the watchers that release claims run with them. */
    private readonly services: Context.Context<never>,
    private readonly slotUnavailable: Fail
  ) {}

  spawn<A, E, R>(kind: string, effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> {
    return Effect.asVoid(this.admit(OffloadKey.auto(kind), effect))
  }

  register<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadOutcome, never, R> {
    return Effect.map(this.admit(key, effect), (handle) => handle.outcome)
  }

  submit<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    return this.admit(key, effect)
  }

  /**
   * Registers the work of a recent failure again, as `Offload.retry` does, through this layer's own
   * path: the local dedup, a new claim of the key (and a cluster slot), then the real service, with
   * the services of the caller that registered it. The failure leaves the list only once the work
   * is `"spawned"`; a second retry of the same failure while the first one's claim is being
   * decided is `"deduplicated"` (auto keys are not deduplicated by the store, and the work would
   * run twice). Uninterruptible: an admitted retry always takes its failure out of the list.
   */
  retry(id: string): Effect.Effect<Option.Option<OffloadOutcome>> {
    return Effect.uninterruptible(
      Effect.suspend((): Effect.Effect<Option.Option<OffloadOutcome>> => {
        const found = this.inner.recentFailure(id)
        if (found === undefined) return Effect.succeedNone
        if (this.retrying.has(id)) return Effect.succeed(Option.some<OffloadOutcome>("deduplicated"))
        this.retrying.add(id)
        const { failure, forget } = found
        return Effect.ensuring(
          Effect.map(
            Effect.provideContext(this.admit(failure.key, failure.effect), failure.caller),
            (handle): Option.Option<OffloadOutcome> => {
              if (handle.outcome === "spawned") forget()
              return Option.some(handle.outcome)
            }
          ),
          Effect.sync(() => this.retrying.delete(id))
        )
      })
    )
  }

  private admit<A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    return Effect.suspend(() => {
      // A malformed key: the real service refuses it and says why.
      if (OffloadKey.problemOf(key) !== undefined) return this.inner.submit(key, effect)
      const identity = this.config.deduplicate ? OffloadKey.identity(key) : undefined
      const slots = this.config.slots.get(key.kind)
      if (identity === undefined && slots === undefined) return this.inner.submit(key, effect)
      if (identity !== undefined) {
        const held = this.held.get(identity)
        // Claimed here (being claimed, running, or being released): its handle waits for that
        // piece's end and its release. Decided here, never by the real service, which may have
        // seen the piece end while its claim is still held.
        if (held !== undefined) {
          return Effect.as(
            Effect.tap(Effect.context<never>(), (context) =>
              Effect.sync(() => held.metrics.localDeduplicated.updateUnsafe(1, context))
            ),
            {
              outcome: "deduplicated",
              await: Effect.as(Deferred.await(held.released), Option.none())
            } satisfies OffloadHandle<A, E>
          )
        }
      }
      const registration = new Registration(key, identity, labelOf(key.kind))
      if (identity !== undefined) this.held.set(identity, registration)
      this.pending.increment()
      return Effect.uninterruptible(this.decide(registration, effect, slots))
    })
  }

  /** Claims the key and a slot, then hands the work to the real service (uninterruptible: see the header). */
  private decide<A, E, R>(
    registration: Registration,
    effect: Effect.Effect<A, E, R>,
    slots: number | undefined
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    const { key } = registration
    const refuse = (outcome: "deduplicated" | "rejected", why?: string): Effect.Effect<OffloadHandle<A, E>> =>
      Effect.gen({ self: this }, function* () {
        const context = yield* Effect.context<never>()
        const metric = outcome === "deduplicated" ? registration.metrics.deduplicated : registration.metrics.rejected
        metric.updateUnsafe(1, context)
        if (why !== undefined) {
          yield* Effect.logWarning(`offload rejected: ${why}`).pipe(
            Effect.annotateLogs({ fibervisor: "offload", kind: key.kind, key: OffloadKey.format(key) })
          )
        }
        yield* this.release(registration)
        return { outcome, await: Effect.succeedNone }
      })
    const unavailable = (error: OffloadClaimsUnavailable) =>
      refuse("rejected", `the cluster claims store cannot answer (${error.reason})`)
    const claim: Effect.Effect<
      Option.Option<OffloadClaim | undefined>,
      OffloadClaimsUnavailable
    > = registration.identity === undefined || key._tag !== "Keyed"
      ? Effect.succeed(noClaim)
      : this.claims.tryClaim(key.kind, key.key)
    return Effect.matchEffect(claim, {
      onFailure: unavailable,
      onSuccess: (claimed) => {
        // Another replica holds the key: its piece is not ours to wait for.
        if (Option.isNone(claimed)) return refuse("deduplicated")
        registration.claim = claimed.value
        if (slots === undefined) return this.hand(registration, effect, effect)
        return Effect.matchEffect(this.claims.trySlot(key.kind, slots), {
          onFailure: unavailable,
          onSuccess: (slot) => {
            if (Option.isSome(slot)) {
              registration.slot = slot.value
              return this.hand(registration, effect, effect)
            }
            if (!this.config.waitForSlot) return refuse("rejected", `all ${slots} cluster slots of the kind are taken`)
            return this.hand(registration, Effect.andThen(this.waitForSlot(registration, slots), effect), effect)
          }
        })
      }
    })
  }

  /**
   * Gives the claimed work to the real service and starts the watcher that releases it. `work` may
   * wait for a slot first; `original` is the work as registered (what a retry registers again).
   */
  private hand<A, E, R>(
    registration: Registration,
    work: Effect.Effect<A, E, R>,
    original: Effect.Effect<unknown, unknown, any>
  ): Effect.Effect<OffloadHandle<A, E>, never, R> {
    return Effect.flatMap(this.inner.submitAs(registration.key, work, original), (handle) => {
      if (handle.outcome !== "spawned") return Effect.as(this.release(registration), handle)
      registration.phase = "running"
      // The real service's handle resumes on every exit of the work, including a drop from the queue.
      Effect.runForkWith(this.services)(Effect.andThen(handle.await, this.release(registration)))
      return Effect.succeed<OffloadHandle<A, E>>({
        outcome: "spawned",
        await: Effect.flatMap(handle.await, (exit) => Effect.as(Deferred.await(registration.released), exit))
      })
    })
  }

  /**
   * Runs in the work's own fiber before the work: tries for a slot every `slotRetry`, for at most
   * `slotWait`. A slot taken is recorded before anything can interrupt (the watcher releases it).
   */
  private waitForSlot(registration: Registration, slots: number): Effect.Effect<void> {
    const { slotRetryMs, slotWaitMs } = this.config
    const kind = registration.key.kind
    return Effect.gen({ self: this }, function* () {
      const start = yield* Clock.currentTimeMillis
      while (true) {
        const waited = (yield* Clock.currentTimeMillis) - start
        if (waited >= slotWaitMs) {
          const context = yield* Effect.context<never>()
          registration.metrics.rejected.updateUnsafe(1, context)
          return yield* this.slotUnavailable(kind, slotWaitMs)
        }
        yield* Effect.sleep(Math.min(slotRetryMs, slotWaitMs - waited))
        const slot = yield* Effect.uninterruptible(
          Effect.tap(
            // A store that cannot answer now may answer on the next try: the wait is bounded anyway.
            Effect.orElseSucceed(this.claims.trySlot(kind, slots), () => Option.none<OffloadClaim>()),
            (taken) =>
              Effect.sync(() => {
                if (Option.isSome(taken)) registration.slot = taken.value
              })
          )
        )
        if (Option.isSome(slot)) return
      }
    })
  }

  /** Releases the slot, then the claim, then unmarks the key (once; never fails). */
  private release(registration: Registration): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (registration.phase === "releasing") return Effect.void
      registration.phase = "releasing"
      const { slot, claim } = registration
      registration.slot = undefined
      registration.claim = undefined
      return Effect.andThen(
        Effect.andThen(slot?.release ?? Effect.void, claim?.release ?? Effect.void),
        Effect.sync(() => {
          if (registration.identity !== undefined && this.held.get(registration.identity) === registration) {
            this.held.delete(registration.identity)
          }
          Deferred.doneUnsafe(registration.released, Exit.void)
          this.pending.decrement()
        })
      )
    })
  }

  isInFlight(key: OffloadKey.OffloadKey): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const identity = OffloadKey.problemOf(key) === undefined ? OffloadKey.identity(key) : undefined
      if (identity !== undefined && this.held.has(identity)) return Effect.succeed(true)
      return this.inner.isInFlight(key)
    })
  }

  /** Stops the work (as the real service does), then waits until its claim is released. */
  cancel(key: OffloadKey.OffloadKey): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      const identity = OffloadKey.problemOf(key) === undefined ? OffloadKey.identity(key) : undefined
      const registration = identity === undefined ? undefined : this.held.get(identity)
      return Effect.tap(this.inner.cancel(key), (stopped) =>
        stopped && registration !== undefined ? Deferred.await(registration.released) : Effect.void
      )
    })
  }

  get cancelAll(): Effect.Effect<number> {
    return this.inner.cancelAll
  }

  get activeCount(): Effect.Effect<number> {
    return this.inner.activeCount
  }

  get queuedCount(): Effect.Effect<number> {
    return this.inner.queuedCount
  }

  get summary(): Effect.Effect<OffloadSummary> {
    return this.inner.summary ?? Effect.succeed({ kinds: [] })
  }

  /** Idle: nothing runs or waits in the real service, and every claim is released. */
  awaitIdle(timeout?: Duration.Input): Effect.Effect<boolean, InvalidArgument> {
    if (timeout === undefined) return Effect.as(Effect.andThen(this.inner.awaitIdle(), this.pending.await), true)
    // The real service checks `timeout` (and fails on a bad one); the releases are one round trip.
    return Effect.flatMap(this.inner.awaitIdle(timeout), (idle) =>
      idle ? Effect.map(Effect.timeoutOption(this.pending.await, timeout), Option.isSome) : Effect.succeed(false)
    )
  }
}

/**
 * Builds the service in the current scope. The settle finalizer is added before the real service
 * is built, so it runs after the real service's drain: it waits (bounded by the drain's own
 * bound plus the store's) for the watchers to release what the drained work held.
 */
export const make = <E>(
  config: ResolvedCluster,
  inner: Effect.Effect<OffloadImpl, E, Scope.Scope>,
  tag: Context.Service<OffloadClaims, OffloadClaims>,
  slotUnavailable: Fail
): Effect.Effect<Offload, E, Scope.Scope | OffloadClaims> =>
  Effect.gen(function* () {
    const claims = yield* tag
    let service: ClusterOffloadImpl | undefined = undefined
    yield* Effect.addFinalizer(() =>
      service === undefined ? Effect.void : Effect.timeoutOption(service.pending.await, "5 seconds")
    )
    const real = yield* inner
    const services = yield* Effect.context<never>()
    service = new ClusterOffloadImpl(real, claims, config, services, slotUnavailable)
    return service
  })
