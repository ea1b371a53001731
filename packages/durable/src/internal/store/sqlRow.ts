/**
 * The row shape both SQL stores read: one column list in a fixed order, read positionally with
 * `.values`, so a client configured with name transforms (`transformResultNames`) cannot rename
 * the fields under us, and no per-row object with string keys is built by the driver.
 *
 * Numbers come back as `number`, `bigint` or numeric strings depending on the driver and the
 * column type (Postgres `bigint`); `Number`/`String` normalise them. Epoch milliseconds stay
 * below 2^53, so the conversion is exact.
 */
import type { JobRow, JobStatus } from "../store.js"

const columnNames = [
  "id",
  "kind",
  "key",
  "payload",
  "status",
  "attempts",
  "max_attempts",
  "run_at",
  "token",
  "locked_by",
  "locked_until",
  "last_error",
  "created_at",
  "updated_at",
  "finished_at"
] as const

/** The select list, optionally qualified by a table alias (needed in `UPDATE … FROM … RETURNING`). */
export const columns = (alias?: string): string =>
  columnNames.map((name) => (alias === undefined ? name : `${alias}.${name}`)).join(", ")

const nullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))
const nullableString = (value: unknown): string | null => (value === null || value === undefined ? null : String(value))

/** One row, from the values of `columns()` in order. */
export const decodeRow = (values: ReadonlyArray<unknown>): JobRow => ({
  id: String(values[0]),
  kind: String(values[1]),
  key: String(values[2]),
  payload: String(values[3]),
  status: String(values[4]) as JobStatus,
  attempts: Number(values[5]),
  maxAttempts: Number(values[6]),
  runAt: Number(values[7]),
  token: nullableString(values[8]),
  lockedBy: nullableString(values[9]),
  lockedUntil: nullableNumber(values[10]),
  lastError: nullableString(values[11]),
  createdAt: Number(values[12]),
  updatedAt: Number(values[13]),
  finishedAt: nullableNumber(values[14])
})

/**
 * Oldest due first, then insertion order: `UPDATE … RETURNING` gives no order, so claims sort
 * what they return. Ids are integers; comparing them as numbers keeps "10" after "9".
 */
export const byDueThenId = (a: JobRow, b: JobRow): number => a.runAt - b.runAt || Number(a.id) - Number(b.id)

/**
 * Ids are the tables' integer keys. A string that is not one cannot name a row: the store answers
 * "no such row" instead of sending it to the database (where Postgres would raise a cast error).
 */
export const isRowId = (id: string): boolean => /^[0-9]{1,15}$/.test(id)

/** The canonical form of a row id (`"012"` → `"12"`), or `undefined` for a string that is not one. */
export const rowId = (id: string): string | undefined => (isRowId(id) ? String(Number(id)) : undefined)

/**
 * The `lastError` of a row dead-lettered because its lease expired at `maxAttempts` (the memory
 * store writes the same text): "lease expired during attempt 3 of 3". SQL text over the row's
 * columns, for both dialects (`||` concatenates in Postgres and SQLite).
 */
export const leaseExpiredSql = (alias: string): string =>
  `'lease expired during attempt ' || ${alias}.attempts || ' of ' || ${alias}.max_attempts`
