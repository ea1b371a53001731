/**
 * The store contract of DurableOffload: what a backend (memory, Postgres, SQLite) must do, and
 * nothing about how. Owns the row model and the state machine every backend implements alike.
 *
 * Data flow: `enqueue` inserts a `pending` row (or reports the key as deduplicated) → a worker's
 * `claim` moves due rows to `running` under a lease (`token`, `lockedUntil`) and counts the attempt
 * → the worker ends the attempt with `complete`, `fail` (retry at a time, or dead-letter) or
 * `release` (shutdown: back to `pending`, the attempt not counted) → `cleanup` deletes finished rows
 * past the retention.
 *
 * Invariants (every backend, tested by one shared suite):
 * - Times are epoch milliseconds passed in by the caller (the service reads `Clock`), never read
 *   from the database: the same logic runs under `TestClock` and on real stores.
 * - `dedupe: "in-flight"`: at most one row per (kind, key) is `pending` or `running`; a key whose
 *   last row finished (completed, failed, cancelled) can be enqueued again. `dedupe: "ever"`: a
 *   key is accepted once until its rows are deleted (cleanup or `retryFailed` do not free it).
 * - A claim sets a fresh `token`; `complete`, `fail`, `release` and `refresh` only act when the
 *   row is still `running` with that token (a late worker whose lease expired and was re-claimed
 *   changes nothing and learns it from the `false` result).
 * - A `running` row whose `lockedUntil` has passed is claimable again (crash recovery): that
 *   claim counts a new attempt. A row with `attempts >= maxAttempts` found expired is dead-lettered
 *   (`failed`, `lastError` says the lease expired) instead of claimed.
 * - `release` decrements `attempts` (the interrupted attempt does not count) and keeps `runAt`.
 */
import { Context, type Effect } from "effect"
import type { StoreError } from "./storeError.js"

/**
 * @since 1.0.0
 */
export type JobStatus = "pending" | "running" | "completed" | "failed" | "cancelled"

/**
 * One unit of durable work, as stored.
 * @since 1.0.0
 */
export interface JobRow {
  readonly id: string
  readonly kind: string
  readonly key: string
  /** The JSON envelope: the Schema-encoded payload and the producer's trace context. */
  readonly payload: string
  readonly status: JobStatus
  /** Attempts started and counted (a released attempt is not counted). */
  readonly attempts: number
  readonly maxAttempts: number
  /** Earliest time (epoch ms) at which the row may be claimed. */
  readonly runAt: number
  /** The claim's lease token while `running`, else null. */
  readonly token: string | null
  /** The worker (replica id) holding the lease while `running`, else null. */
  readonly lockedBy: string | null
  readonly lockedUntil: number | null
  readonly lastError: string | null
  readonly createdAt: number
  readonly updatedAt: number
  readonly finishedAt: number | null
}

/**
 * @since 1.0.0
 */
export interface EnqueueInput {
  readonly kind: string
  readonly key: string
  readonly payload: string
  readonly dedupe: "in-flight" | "ever"
  readonly maxAttempts: number
  readonly runAt: number
  readonly now: number
}

/**
 * @since 1.0.0
 */
export interface ClaimInput {
  readonly kind: string
  readonly worker: string
  /** At most this many rows (the free local slots). */
  readonly limit: number
  readonly now: number
  /** Lease length in ms: `lockedUntil = now + lockFor`. */
  readonly lockFor: number
}

/**
 * @since 1.0.0
 */
export interface Counts {
  readonly pending: number
  readonly running: number
  readonly failed: number
  readonly completed: number
  readonly cancelled: number
}

/**
 * @since 1.0.0
 */
export interface DurableStore {
  readonly enqueue: (input: EnqueueInput) => Effect.Effect<"enqueued" | "deduplicated", StoreError>
  /** Oldest due first (`runAt`, then insertion order). Each returned row is `running` with a new token. */
  readonly claim: (input: ClaimInput) => Effect.Effect<ReadonlyArray<JobRow>, StoreError>
  /** Extends the leases still held; returns the ids whose lease was extended. */
  readonly refresh: (
    leases: ReadonlyArray<{ readonly id: string; readonly token: string }>,
    now: number,
    lockFor: number
  ) => Effect.Effect<ReadonlyArray<string>, StoreError>
  readonly complete: (id: string, token: string, now: number) => Effect.Effect<boolean, StoreError>
  /** `retryAt: null` dead-letters the row (`failed`); otherwise it goes back to `pending` at `retryAt`. */
  readonly fail: (
    id: string,
    token: string,
    input: { readonly error: string; readonly retryAt: number | null; readonly now: number }
  ) => Effect.Effect<boolean, StoreError>
  readonly release: (id: string, token: string, now: number) => Effect.Effect<boolean, StoreError>
  /** The latest row of (kind, key), if any. */
  readonly inspect: (kind: string, key: string) => Effect.Effect<JobRow | undefined, StoreError>
  /** Rows of a kind in a status, newest first, at most `limit`. */
  readonly list: (kind: string, status: JobStatus, limit: number) => Effect.Effect<ReadonlyArray<JobRow>, StoreError>
  /** A `pending` row becomes `cancelled`; a `running` one is left to its worker (the service interrupts it). */
  readonly cancel: (
    kind: string,
    key: string,
    now: number
  ) => Effect.Effect<"cancelled" | "running" | "absent", StoreError>
  /** Dead letters of a kind (one key, or all) back to `pending` with `attempts = 0`; returns how many. */
  readonly retryFailed: (kind: string, key: string | undefined, now: number) => Effect.Effect<number, StoreError>
  readonly counts: (kind: string) => Effect.Effect<Counts, StoreError>
  /** Deletes `completed` and `cancelled` rows finished before `before`; returns how many. */
  readonly cleanup: (before: number) => Effect.Effect<number, StoreError>
}

/**
 * The store a DurableOffload layer runs on: provided by `layerMemory`, the Postgres and the SQLite
 * store layers, consumed by the service and the workers.
 * @since 1.0.0
 */
export const Store: Context.Service<DurableStore, DurableStore> = Context.Service<DurableStore>(
  "@fibervisor/durable/internal/Store"
)
