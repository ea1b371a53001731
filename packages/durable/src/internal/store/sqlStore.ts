/**
 * What the two SQL stores (postgres.ts, sqlite.ts) do alike around their statements: the fenced
 * writes that go through a batcher (a non-numeric id can match no row, so it answers `false`
 * without a statement), the lease list `refresh` binds as JSON, the `counts` fold, the `migrate`
 * option's check, and the layer that opens a client (or takes the caller's), validates, migrates and
 * builds the store.
 *
 * Data flow of the layer: options → `check` (before anything is opened) → `client` as given, or
 * `open` (its failure is `StoreError` "connect") → `over` (names, migration, store).
 */
import { Effect, Layer, type Scope } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlClient } from "effect/sql/SqlClient"
import { type Counts, type DurableStore, type JobStatus, Store } from "../store.js"
import { StoreError } from "../storeError.js"
import type { FailItem, LeaseItem } from "./sqlBatch.js"
import { rowId, isRowId } from "./sqlRow.js"
import { InvalidStoreOptions } from "./sqlOptions.js"

const statusList: ReadonlyArray<JobStatus> = ["pending", "running", "completed", "failed", "cancelled"]

/** `complete`, `fail` and `release` over their batchers, keyed by the store's numeric row id. */
export const fencedWrites = (batchers: {
  readonly complete: (item: LeaseItem) => Effect.Effect<boolean, StoreError>
  readonly fail: (item: FailItem) => Effect.Effect<boolean, StoreError>
  readonly release: (item: LeaseItem) => Effect.Effect<boolean, StoreError>
}): Pick<DurableStore, "complete" | "fail" | "release"> => ({
  complete: (id, token, now) => {
    const row = rowId(id)
    return row === undefined ? Effect.succeed(false) : batchers.complete({ id: row, token, now })
  },
  fail: (id, token, input) => {
    const row = rowId(id)
    return row === undefined
      ? Effect.succeed(false)
      : batchers.fail({ id: row, token, now: input.now, error: input.error, retryAt: input.retryAt })
  },
  release: (id: string, token: string, now: number) => {
    const row = rowId(id)
    return row === undefined ? Effect.succeed(false) : batchers.release({ id: row, token, now })
  }
})

/** The leases `refresh` can match, as the JSON array its statement reads; `undefined` when none can. */
export const leasesJson = (leases: Parameters<DurableStore["refresh"]>[0]): string | undefined => {
  const valid = leases.filter((lease) => isRowId(lease.id))
  return valid.length === 0
    ? undefined
    : JSON.stringify(valid.map((lease) => ({ id: Number(lease.id), token: lease.token })))
}

/** Folds `(status, count)` rows into `Counts`, every status present (zero when no row has it). */
export const countsOf = (rows: ReadonlyArray<ReadonlyArray<unknown>>): Counts => {
  const counts: Record<JobStatus, number> = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 }
  for (const [status, count] of rows) {
    if (statusList.includes(status as JobStatus)) counts[status as JobStatus] = Number(count)
  }
  return counts
}

/** Checks the `migrate` option: absent or a boolean. */
export const checkMigrate = (migrate: unknown): Effect.Effect<void, InvalidStoreOptions> =>
  migrate === undefined || typeof migrate === "boolean"
    ? Effect.void
    : Effect.fail(
        new InvalidStoreOptions({ field: "migrate", reason: `expected a boolean, got ${JSON.stringify(migrate)}` })
      )

/**
 * A dialect's store over `sql`: its names from the options (checked), its migration unless
 * `migrate: false`, then the store.
 */
export const storeOver =
  <O extends { readonly migrate?: boolean }, N>(dialect: {
    readonly names: (options: O) => Effect.Effect<N, InvalidStoreOptions>
    readonly migrate: (sql: SqlClient, names: N) => Effect.Effect<void, StoreError>
    readonly make: (sql: SqlClient, names: N) => Effect.Effect<DurableStore, never, Scope.Scope>
  }) =>
  (sql: SqlClient, options: O): Effect.Effect<DurableStore, StoreError | InvalidStoreOptions, Scope.Scope> =>
    Effect.gen(function* () {
      const names = yield* dialect.names(options)
      if (options.migrate !== false) yield* dialect.migrate(sql, names)
      return yield* dialect.make(sql, names)
    })

/** The `Store` layer of a SQL store that opens its own client unless the options carry one. */
export const sqlStoreLayer = <O extends { readonly client?: SqlClient }>(
  options: O,
  spec: {
    readonly check: (options: O) => Effect.Effect<void, InvalidStoreOptions>
    readonly open: (options: O) => Effect.Effect<SqlClient, unknown, Scope.Scope | Reactivity.Reactivity>
    readonly over: (
      sql: SqlClient,
      options: O
    ) => Effect.Effect<DurableStore, StoreError | InvalidStoreOptions, Scope.Scope>
  }
): Layer.Layer<DurableStore, StoreError | InvalidStoreOptions> =>
  Layer.effect(
    Store,
    Effect.gen(function* () {
      yield* spec.check(options)
      if (options.client !== undefined) return yield* spec.over(options.client, options)
      const sql = yield* spec.open(options).pipe(
        Effect.mapError((cause) => new StoreError({ operation: "connect", cause })),
        Effect.provide(Reactivity.layer)
      )
      return yield* spec.over(sql, options)
    })
  )
