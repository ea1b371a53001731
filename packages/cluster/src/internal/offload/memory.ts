/**
 * The in-memory claims store: one table shared by several "replicas" in one process, each with
 * its own session, behaving as PostgreSQL's session-level advisory locks do — re-entrant per
 * session, freed all at once when the session ends, and a dropped session (`dropSession`, the
 * stand-in for `pg_terminate_backend`) fails every later call on it until it is replaced.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { BackendError, formatLock, type LockBackend, type LockId } from "./backend.js"

interface Holder {
  readonly session: number
  count: number
}

/** The shared table: which session holds which lock, and each replica's current session. */
export class MemoryTable {
  private readonly locks = new Map<string, Holder>()
  private readonly alive = new Set<number>()
  private readonly current = new Map<string, number>()
  private nextSession = 1

  /** Opens a new session for `replica` (ending its previous one, if still open). */
  open(replica: string): number {
    const previous = this.current.get(replica)
    if (previous !== undefined) this.end(previous)
    const session = this.nextSession++
    this.alive.add(session)
    this.current.set(replica, session)
    return session
  }

  /** Ends a session: every lock it held is freed at once. */
  end(session: number): void {
    this.alive.delete(session)
    for (const [lock, holder] of this.locks) if (holder.session === session) this.locks.delete(lock)
  }

  /** Ends `replica`'s current session, as the server would; its next call fails. `false` when it has none. */
  dropSession(replica: string): boolean {
    const session = this.current.get(replica)
    if (session === undefined || !this.alive.has(session)) return false
    this.end(session)
    return true
  }

  isAlive(session: number): boolean {
    return this.alive.has(session)
  }

  tryLock(session: number, lock: string): boolean {
    const holder = this.locks.get(lock)
    if (holder === undefined) {
      this.locks.set(lock, { session, count: 1 })
      return true
    }
    if (holder.session !== session) return false
    holder.count += 1
    return true
  }

  unlock(session: number, lock: string): void {
    const holder = this.locks.get(lock)
    if (holder === undefined || holder.session !== session) return
    holder.count -= 1
    if (holder.count === 0) this.locks.delete(lock)
  }

  /** The locks held now, as `kind:key` and `kind#slotN` (sorted), optionally those of one replica only. */
  held(replica?: string): ReadonlyArray<string> {
    const session = replica === undefined ? undefined : this.current.get(replica)
    return Array.from(this.locks.entries())
      .filter(([, holder]) => session === undefined || holder.session === session)
      .map(([lock]) => lock)
      .sort()
  }
}

/** A replica's backend on the shared table. The session is opened at once; `close` ends it. */
export const backend = (table: MemoryTable, replica: string): LockBackend & { readonly close: Effect.Effect<void> } => {
  let session = table.open(replica)
  const live = <A>(f: (session: number) => A): Effect.Effect<A, BackendError> =>
    Effect.suspend(() =>
      table.isAlive(session) ? Effect.succeed(f(session)) : Effect.fail(new BackendError("the session was terminated"))
    )
  const lockOf = (lock: LockId) => formatLock(lock)
  return {
    tryLock: (lock) => live((s) => table.tryLock(s, lockOf(lock))),
    trySlot: (kind, slots, held) =>
      live((s) => {
        for (let index = 0; index < slots; index++) {
          if (!held.includes(index) && table.tryLock(s, lockOf({ space: "slot", kind, index })))
            return Option.some(index)
        }
        return Option.none()
      }),
    unlock: (lock) => live((s) => table.unlock(s, lockOf(lock))),
    heartbeat: live(() => undefined),
    reset: Effect.sync(() => {
      session = table.open(replica)
    }),
    close: Effect.sync(() => table.end(session))
  }
}
