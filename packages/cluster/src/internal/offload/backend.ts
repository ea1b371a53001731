/**
 * What a claims store must do, and nothing more: take, give back and heartbeat locks on ONE
 * session, and replace that session. `claims.ts` builds `OffloadClaims` on it (the live claims,
 * what happens when a session is lost); `postgres.ts` and `memory.ts` implement it.
 *
 * Invariants: locks belong to the session that took them, and are re-entrant per session (as
 * PostgreSQL's session-level advisory locks are); ending a session frees every lock it held.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"

/** A lock on a key of a kind, or on one of a kind's cluster slots. */
export type LockId =
  | { readonly space: "key"; readonly kind: string; readonly key: string }
  | { readonly space: "slot"; readonly kind: string; readonly index: number }

/** The store did not answer (the session is gone, the server is unreachable); says why. */
export class BackendError {
  readonly _tag = "BackendError"
  constructor(readonly reason: string) {}
}

export interface LockBackend {
  /** Takes the lock on the current session: `false` when another session holds it. */
  readonly tryLock: (lock: LockId) => Effect.Effect<boolean, BackendError>
  /**
   * Takes the first free slot among `0 … slots - 1` of `kind`, skipping those this session holds
   * already (`held`: a session's locks are re-entrant, so taking one of them again would succeed
   * and two pieces of work would share a slot), in one step: its index.
   */
  readonly trySlot: (
    kind: string,
    slots: number,
    held: ReadonlyArray<number>
  ) => Effect.Effect<Option.Option<number>, BackendError>
  /** Gives the lock back (once per successful take). */
  readonly unlock: (lock: LockId) => Effect.Effect<void, BackendError>
  /** Proves the session is alive (and keeps a server-side idle timeout from ending it). */
  readonly heartbeat: Effect.Effect<void, BackendError>
  /** Ends the current session, if any (its locks go with it), and opens a new one. */
  readonly reset: Effect.Effect<void, BackendError>
}

/** The same lock, as text (for logs and the memory store). */
export const formatLock = (lock: LockId): string =>
  lock.space === "key" ? `${lock.kind}:${lock.key}` : `${lock.kind}#slot${lock.index}`
