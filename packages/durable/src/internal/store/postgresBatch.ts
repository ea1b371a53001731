/**
 * The Postgres store's batched writes: one statement for many enqueues, completes, fails or
 * releases, fed by `sqlBatch.ts` (group commit). Items travel as one `jsonb` array parameter,
 * unpacked by `jsonb_to_recordset`, so the statement text (and its prepared plan) is the same
 * for every batch size.
 *
 * Each statement applies exactly the rule of its single-row twin in postgres.ts (the same
 * fencing, the same dedupe), and returns the identities it changed: (kind, key) for enqueues,
 * (id, token) for lease operations. Results are mapped back to items by identity.
 *
 * Items with the same identity in one batch: only the first reaches the database, the others get
 * what they would get right after it — "deduplicated" for an enqueue, `false` for a lease
 * operation (the token no longer holds) — as if the calls had run one after another.
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { EnqueueInput } from "../store.js"
import { StoreError } from "../storeError.js"
import type { PostgresNames } from "./postgresSchema.js"
import type { FailItem, LeaseItem } from "./sqlBatch.js"

const statements = (n: PostgresNames) => {
  const jobs = `jsonb_to_recordset($1::jsonb) AS i(kind text, key text, payload text, max_attempts int, run_at bigint, now bigint)`
  const insertInto = `INSERT INTO ${n.table} (kind, key, payload, status, attempts, max_attempts, run_at, created_at, updated_at)`
  const insertSelect = `SELECT i.kind, i.key, i.payload, 'pending', 0, i.max_attempts, i.run_at, i.now, i.now`
  const unlock = `token = NULL, locked_by = NULL, locked_until = NULL`
  const lease = (extra: string) =>
    `FROM jsonb_to_recordset($1::jsonb) AS l(id bigint, token text, now bigint${extra})
WHERE t.id = l.id AND t.token = l.token AND t.status = 'running'
RETURNING t.id, l.token`
  return {
    enqueueInFlight: `${insertInto} ${insertSelect} FROM ${jobs} ON CONFLICT DO NOTHING RETURNING kind, key`,
    enqueueEver: `WITH i AS (SELECT * FROM ${jobs}), ledger AS (
  INSERT INTO ${n.keys} (kind, key, created_at)
  SELECT i.kind, i.key, i.now FROM i WHERE NOT EXISTS (SELECT 1 FROM ${n.table} AS t WHERE t.kind = i.kind AND t.key = i.key)
  ON CONFLICT DO NOTHING RETURNING kind, key
)
${insertInto} ${insertSelect} FROM i JOIN ledger ON ledger.kind = i.kind AND ledger.key = i.key
ON CONFLICT DO NOTHING RETURNING kind, key`,
    complete: `UPDATE ${n.table} AS t SET status = 'completed', ${unlock}, finished_at = l.now, updated_at = l.now
${lease("")}`,
    fail: `UPDATE ${n.table} AS t SET status = CASE WHEN l.retry_at IS NULL THEN 'failed' ELSE 'pending' END, ${unlock},
  last_error = l.error, run_at = COALESCE(l.retry_at, t.run_at),
  finished_at = CASE WHEN l.retry_at IS NULL THEN l.now ELSE NULL END, updated_at = l.now
${lease(", error text, retry_at bigint")}`,
    release: `UPDATE ${n.table} AS t SET status = 'pending', ${unlock}, attempts = GREATEST(t.attempts - 1, 0), updated_at = l.now
${lease("")}`
  }
}

const identity = (a: string, b: string) => JSON.stringify([a, b])

/**
 * Runs `run` on the first item of each identity, then answers every item: `hit` for the first of
 * an identity the database returned, `miss` otherwise.
 */
const byIdentity = <I, O>(
  items: ReadonlyArray<I>,
  identityOf: (item: I) => string,
  run: (firsts: ReadonlyArray<I>) => Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, StoreError>,
  hit: O,
  miss: O
): Effect.Effect<ReadonlyArray<O>, StoreError> => {
  const seen = new Set<string>()
  const firsts: Array<I> = []
  const isFirst = items.map((item) => {
    const id = identityOf(item)
    if (seen.has(id)) return false
    seen.add(id)
    firsts.push(item)
    return true
  })
  return Effect.map(run(firsts), (rows) => {
    const changed = new Set(rows.map((row) => identity(String(row[0]), String(row[1]))))
    return items.map((item, i) => (isFirst[i] && changed.has(identityOf(item)) ? hit : miss))
  })
}

/** The batched operations, for `makeBatcher`'s `many`. */
export const postgresBatches = (sql: SqlClient, names: PostgresNames) => {
  const q = statements(names)
  const rows = (operation: string, text: string, json: unknown) =>
    sql
      .unsafe(text, [JSON.stringify(json)])
      .values.pipe(Effect.mapError((cause) => new StoreError({ operation, cause })))
  const enqueue = (text: string) => (items: ReadonlyArray<EnqueueInput>) =>
    byIdentity(
      items,
      (item) => identity(item.kind, item.key),
      (firsts) =>
        rows(
          "enqueue",
          text,
          firsts.map((item) => ({
            kind: item.kind,
            key: item.key,
            payload: item.payload,
            max_attempts: item.maxAttempts,
            run_at: item.runAt,
            now: item.now
          }))
        ),
      "enqueued" as const,
      "deduplicated" as const
    )
  const lease =
    <I extends LeaseItem>(operation: string, text: string, encode: (item: I) => object) =>
    (items: ReadonlyArray<I>) =>
      byIdentity(
        items,
        (item) => identity(item.id, item.token),
        (firsts) => rows(operation, text, firsts.map(encode)),
        true,
        false
      )
  const base = (item: LeaseItem) => ({ id: Number(item.id), token: item.token, now: item.now })
  return {
    enqueueInFlight: enqueue(q.enqueueInFlight),
    enqueueEver: enqueue(q.enqueueEver),
    complete: lease("complete", q.complete, base),
    fail: lease("fail", q.fail, (item: FailItem) => ({ ...base(item), error: item.error, retry_at: item.retryAt })),
    release: lease("release", q.release, base)
  }
}
