/**
 * `OffloadClaims` on a `LockBackend`: the claims this replica holds, one operation at a time on
 * the backend's single session, and what happens when that session is lost.
 *
 * Data flow: `tryClaim` / `trySlot` take a lock and return a claim whose `release` unlocks it;
 * every backend call runs under one permit and a deadline (`operationTimeout`); a call that fails
 * or overruns means the session can no longer be trusted, so `recover` replaces it.
 *
 * Session loss (the server ended it: `pg_terminate_backend`, `idle_session_timeout` after a
 * freeze, a network cut): every lock went with it. Work in flight keeps running — stopping it would
 * not undo what it did, and most offloaded work is a refresh that is safe to repeat — but its
 * claims are taken again on the new session: a claim taken again is kept; a claim another
 * replica took in the meantime is lost, logged (kind and key) and counted
 * (`fibervisor_offload_cluster_claims_lost_total`): that key may then run on two replicas until
 * this piece ends. The warning says how many were re-taken and lost.
 *
 * Invariants: a lost claim is never unlocked (the new session does not hold it); `release` is
 * idempotent and never fails; a heartbeat every `heartbeat` finds a lost session without waiting
 * for the next claim.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import { Offload } from "@fibervisor/core"
import { type BackendError, formatLock, type LockBackend, type LockId } from "./backend.js"
import * as metrics from "./metrics.js"

export interface ClaimsSettings {
  /** Deadline of one store operation; an overrun replaces the session. */
  readonly operationTimeoutMs: number
  /** How often the session is proven alive. */
  readonly heartbeatMs: number
}

/** A claim this replica holds (or held): `held` until released, or lost with its session. */
class LiveClaim {
  state: "held" | "released" | "lost" = "held"
  constructor(readonly lock: LockId) {}
}

export class ClaimsManager implements Offload.OffloadClaims {
  private readonly live = new Set<LiveClaim>()
  private readonly permit = Semaphore.makeUnsafe(1)

  constructor(
    private readonly backend: LockBackend,
    private readonly settings: ClaimsSettings,
    /** The loggers of the layer's builder: the store's own reports go there, whoever's call found the loss. */
    private readonly loggers: ReadonlySet<Logger.Logger<unknown, any>>
  ) {}

  /** How many claims are held now (for tests and the gauge). */
  get heldCount(): number {
    return this.live.size
  }

  tryClaim(
    kind: string,
    key: string
  ): Effect.Effect<Option.Option<Offload.OffloadClaim>, Offload.OffloadClaimsUnavailable> {
    const lock: LockId = { space: "key", kind, key }
    return Effect.tap(
      Effect.map(this.run(this.backend.tryLock(lock)), (taken) =>
        taken ? Option.some(this.track(lock)) : Option.none()
      ),
      this.updateGauge
    )
  }

  trySlot(
    kind: string,
    slots: number
  ): Effect.Effect<Option.Option<Offload.OffloadClaim>, Offload.OffloadClaimsUnavailable> {
    return Effect.map(
      this.run(Effect.suspend(() => this.backend.trySlot(kind, slots, this.heldSlots(kind)))),
      Option.map((index) => this.track({ space: "slot", kind, index }))
    ).pipe(Effect.tap(this.updateGauge))
  }

  /** The slots of `kind` this replica holds (the backend must not take them again: see `trySlot`). */
  private heldSlots(kind: string): ReadonlyArray<number> {
    const held: Array<number> = []
    for (const claim of this.live) {
      if (claim.lock.space === "slot" && claim.lock.kind === kind) held.push(claim.lock.index)
    }
    return held
  }

  private readonly updateGauge = Effect.suspend(() => Metric.update(metrics.claimsHeld, this.live.size))

  private track(lock: LockId): Offload.OffloadClaim {
    const claim = new LiveClaim(lock)
    this.live.add(claim)
    return {
      release: Effect.suspend(() => {
        if (claim.state !== "held") return Effect.void
        claim.state = "released"
        this.live.delete(claim)
        // A failed unlock is a lost session: `run` replaces it, which frees the lock anyway.
        return Effect.andThen(this.updateGauge, Effect.ignore(this.run(this.backend.unlock(lock))))
      })
    }
  }

  /**
   * One backend operation under the permit and the deadline. A failure or an overrun replaces the
   * session (re-taking the live claims) and fails with `OffloadClaimsUnavailable`.
   */
  private run<A>(operation: Effect.Effect<A, BackendError>): Effect.Effect<A, Offload.OffloadClaimsUnavailable> {
    return this.permit.withPermits(1)(
      Effect.matchCauseEffect(Effect.timeoutOption(operation, this.settings.operationTimeoutMs), {
        onSuccess: (result) =>
          Option.isSome(result)
            ? Effect.succeed(result.value)
            : this.fail(`no answer within ${this.settings.operationTimeoutMs} ms`),
        onFailure: (cause) => {
          if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
          const error = Cause.findErrorOption(cause)
          return this.fail(Option.isSome(error) ? error.value.reason : Cause.pretty(cause))
        }
      })
    )
  }

  private fail(reason: string): Effect.Effect<never, Offload.OffloadClaimsUnavailable> {
    return Effect.andThen(this.recover(reason), Effect.fail(new Offload.OffloadClaimsUnavailable({ reason })))
  }

  /**
   * The session is lost (or cannot be trusted): replace it and take the live claims again. Runs
   * under the permit (the caller holds it). A store that still cannot answer loses every claim.
   */
  private recover(reason: string): Effect.Effect<void> {
    return Effect.provideService(this.recovery(reason), Logger.CurrentLoggers, this.loggers)
  }

  private recovery(reason: string): Effect.Effect<void> {
    return Effect.gen({ self: this }, function* () {
      const claims = Array.from(this.live)
      yield* Metric.update(metrics.sessionsLost, 1)
      const reset = yield* Effect.exit(Effect.timeoutOption(this.backend.reset, this.settings.operationTimeoutMs))
      const lost: Array<LiveClaim> = []
      let retaken = 0
      for (const claim of claims) {
        if (claim.state !== "held") continue
        const again =
          reset._tag === "Success" && Option.isSome(reset.value)
            ? yield* Effect.exit(
                Effect.timeoutOption(this.backend.tryLock(claim.lock), this.settings.operationTimeoutMs)
              )
            : undefined
        if (again !== undefined && again._tag === "Success" && Option.isSome(again.value) && again.value.value) {
          retaken += 1
        } else {
          claim.state = "lost"
          this.live.delete(claim)
          lost.push(claim)
        }
      }
      for (const claim of lost) {
        yield* Effect.logWarning(
          `offload claim lost with the session (${reason}): this work keeps running, and another replica may run the same key until it ends`
        ).pipe(
          Effect.annotateLogs({ fibervisor: "offload", kind: claim.lock.kind, claim: formatLock(claim.lock) }),
          Effect.andThen(Metric.update(metrics.claimsLost(claim.lock.kind), 1))
        )
      }
      yield* Effect.logWarning(
        `offload claims session lost (${reason}); ` +
          (reset._tag === "Success" && Option.isSome(reset.value) ? "replaced" : "not replaced yet") +
          `: ${retaken} claim(s) taken again, ${lost.length} lost; work in flight keeps running`
      ).pipe(Effect.annotateLogs({ fibervisor: "offload" }))
      yield* this.updateGauge
    })
  }

  /** Proves the session alive every `heartbeat`, forever (forked in the layer's scope). */
  get heartbeatLoop(): Effect.Effect<void> {
    return Effect.repeat(
      Effect.ignore(this.run(this.backend.heartbeat)),
      Schedule.spaced(this.settings.heartbeatMs)
    ).pipe(Effect.asVoid)
  }
}

/** Builds the manager and forks its heartbeat in the current scope (the scope ends the heartbeat). */
export const make = (
  backend: LockBackend,
  settings: ClaimsSettings
): Effect.Effect<ClaimsManager, never, Scope.Scope> =>
  Effect.gen(function* () {
    const manager = new ClaimsManager(backend, settings, yield* Logger.CurrentLoggers)
    yield* Effect.forkScoped(manager.heartbeatLoop)
    return manager
  })
