/**
 * The lease store: one row per singleton name (`owner`, `epoch`, `expiresAt`), and the in-memory
 * implementation used by `ClusterSupervisor.layerMemory` (the SQL ones are in `leaseSql.ts`).
 *
 * Data flow: a singleton's attempt calls `acquire` while in standby, `refresh` while it owns the
 * lease (its keeper and `confirmOwnership`), and `release` when it stops owning it.
 *
 * Invariants (every implementation keeps them; `test/LeaseStore*.test.ts` checks them):
 * - `acquire` succeeds only when the row has no owner or its lease has expired, and then sets the
 *   owner and `epoch = previous epoch + 1` in one atomic step: epochs of one name strictly
 *   increase across owners, and at most one owner holds each epoch.
 * - `refresh` extends the lease only for the same owner and epoch, and only while it has not
 *   expired: once expired, the lease is gone for its holder even if nobody took it yet.
 * - `release` clears the owner only for the same owner and epoch (a stale release is a no-op).
 * - Time is the store's: the memory store reads Effect's `Clock` (so `TestClock` drives it), the
 *   Postgres store the server's clock, the SQLite store the host's clock.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

import type { AcquireResult, LeaseStore } from "../ClusterSupervisor.js"

export type { AcquireResult, LeaseStore }

interface Row {
  owner: string | undefined
  epoch: number
  expiresAt: number
}

/** A lease store in memory: the replicas that share it must run in one process (tests). */
export const makeMemory = (): LeaseStore => {
  const rows = new Map<string, Row>()
  return {
    acquire: (name, runner, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now): AcquireResult => {
        const row = rows.get(name)
        if (row !== undefined && row.owner !== undefined && row.expiresAt > now) {
          return { _tag: "Held", owner: row.owner, epoch: row.epoch }
        }
        const epoch = (row?.epoch ?? 0) + 1
        rows.set(name, { owner: runner, epoch, expiresAt: now + ttlMs })
        return { _tag: "Acquired", epoch }
      }),
    refresh: (name, runner, epoch, ttlMs) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const row = rows.get(name)
        if (row === undefined || row.owner !== runner || row.epoch !== epoch || row.expiresAt <= now) return false
        row.expiresAt = now + ttlMs
        return true
      }),
    release: (name, runner, epoch) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          const row = rows.get(name)
          if (row !== undefined && row.owner === runner && row.epoch === epoch) {
            row.owner = undefined
            row.expiresAt = now
          }
        })
      )
  }
}
