/**
 * The PostgreSQL claims store: session-level advisory locks on ONE connection reserved from the
 * application's `SqlClient` (a `PgClient`) for the replica's lifetime.
 *
 * Locks use the two-int4 form, `pg_try_advisory_lock(class, object)`: `class` is a fibervisor
 * class id (FNV-1a of `fibervisor-offload:key:<namespace>`, resp. `…:slot:…`), so fibervisor's
 * locks never meet Effect cluster's shard locks (v3: the one-bigint form, a separate lock space;
 * v4: a class id from `effect-cluster:<prefix>`) and show in `pg_locks` under their own classid.
 * `object` is the top 32 bits of `hashtextextended` of the key's text (keys) or of the kind plus
 * the slot index (slots). Two keys whose hashes collide share a lock: a false `"deduplicated"`
 * while both are in flight, never a double run (see docs/cluster.md for the odds).
 *
 * The session sets `application_name` (so operators and the tests find it) and
 * `idle_session_timeout`: a frozen replica's session is ended by the server after that long,
 * which frees its locks; the heartbeat (a third of it) keeps a live replica's session open.
 * Closing the store unlocks everything and restores the timeout before the connection returns
 * to the pool.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as SqlConnection from "effect/sql/SqlConnection"
import { BackendError, type LockBackend, type LockId } from "./backend.js"

export interface PostgresSettings {
  readonly namespace: string
  readonly applicationName: string
  readonly idleSessionTimeoutMs: number
  /** Bounds the unlock-all of a session that is being ended (it may no longer answer). */
  readonly operationTimeoutMs: number
}

/** FNV-1a, 32 bits, as a signed int4 (the form `pg_try_advisory_lock(int4, int4)` takes). */
export const classId = (text: string): number => {
  const bytes = new TextEncoder().encode(text)
  let hash = 0x811c9dc5
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash | 0
}

/** The text a key lock hashes: the kind's length first, so no (kind, key) pair can read as another. */
const keyText = (kind: string, key: string): string => `${kind.length}:${kind}:${key}`

/** The SQL of an object id: the top 32 bits of `hashtextextended($n, 0)`, plus an offset (slots), wrapped to int4. */
const objectOf = (param: string, offset: string = "0") =>
  `((((hashtextextended(${param}, 0) >> 32) + ${offset} + 2147483648) % 4294967296) - 2147483648)::int4`

/** The same object id, unsigned, as `pg_locks.objid` shows it. */
const unsignedOf = (param: string, offset: string) =>
  `((((hashtextextended(${param}, 0) >> 32) + ${offset} + 4294967296) % 4294967296)::int8::oid)`

interface Session {
  readonly connection: SqlConnection.Connection
  readonly scope: Scope.Closeable
}

const describeError = (error: unknown): string =>
  error instanceof Error
    ? error.message
    : typeof error === "object" && error !== null && "message" in error
      ? String(error.message)
      : String(error)

export const backend = (
  sql: SqlClient.SqlClient,
  settings: PostgresSettings
): LockBackend & { readonly open: Effect.Effect<void, BackendError>; readonly close: Effect.Effect<void> } => {
  const keyClass = classId(`fibervisor-offload:key:${settings.namespace}`)
  const slotClass = classId(`fibervisor-offload:slot:${settings.namespace}`)
  let session: Session | undefined = undefined

  const open: Effect.Effect<void, BackendError> = Effect.gen(function* () {
    const scope = yield* Scope.make()
    const opened = yield* Effect.exit(
      Effect.gen(function* () {
        const connection = yield* Scope.provide(sql.reserve, scope)
        yield* connection.executeRaw(
          "SELECT set_config('application_name', $1, false), set_config('idle_session_timeout', $2, false)",
          [settings.applicationName, String(settings.idleSessionTimeoutMs)]
        )
        return connection
      })
    )
    if (Exit.isFailure(opened)) {
      yield* Scope.close(scope, opened)
      return yield* Effect.fail(new BackendError(`cannot open a claims session: ${describeError(opened.cause)}`))
    }
    session = { connection: opened.value, scope }
  }).pipe(Effect.uninterruptible)

  /** Ends the session: unlock everything and restore the timeout when it is still alive, then return it. */
  const close: Effect.Effect<void> = Effect.suspend(() => {
    const current = session
    session = undefined
    if (current === undefined) return Effect.void
    return current.connection
      .executeRaw(
        "SELECT pg_advisory_unlock_all(), (SELECT set_config(name, reset_val, false) FROM pg_settings WHERE name = 'idle_session_timeout'), set_config('application_name', '', false)",
        []
      )
      .pipe(
        Effect.timeoutOption(settings.operationTimeoutMs),
        Effect.exit,
        Effect.flatMap((exit) =>
          // A session that did not answer is handed back as failed, so the pool drops it.
          Scope.close(current.scope, Exit.isSuccess(exit) && Option.isSome(exit.value) ? Exit.void : Exit.fail(exit))
        ),
        Effect.uninterruptible
      )
  })

  const onSession = <A>(f: (connection: SqlConnection.Connection) => Effect.Effect<A, unknown>) =>
    Effect.suspend(() =>
      session === undefined
        ? Effect.fail(new BackendError("no claims session"))
        : Effect.mapError(f(session.connection), (error) => new BackendError(describeError(error)))
    )

  const first = (rows: ReadonlyArray<ReadonlyArray<unknown>>): unknown => rows[0]?.[0]

  const lockSql = (lock: LockId, fn: "pg_try_advisory_lock" | "pg_advisory_unlock") =>
    lock.space === "key"
      ? { text: `SELECT ${fn}($1::int4, ${objectOf("$2::text")})`, params: [keyClass, keyText(lock.kind, lock.key)] }
      : {
          text: `SELECT ${fn}($1::int4, ${objectOf("$2::text", "$3::int8")})`,
          params: [slotClass, lock.kind, lock.index]
        }

  return {
    open,
    close,
    tryLock: (lock) =>
      onSession((connection) => {
        const { params, text } = lockSql(lock, "pg_try_advisory_lock")
        return Effect.map(connection.executeValues(text, params), (rows) => first(rows) === true)
      }),
    trySlot: (kind, slots, held) =>
      onSession((connection) =>
        Effect.gen(function* () {
          // The slots no session holds now (one read of pg_locks, this database's only: advisory
          // locks are per database), then a try on each in turn until one is taken: a free slot
          // can be taken by another replica between the two. One
          // statement per lock: PostgreSQL may evaluate a volatile WHERE on more rows than a
          // LIMIT returns, which would take several slots at once.
          const rows = yield* connection.executeValues(
            `SELECT i FROM generate_series(0, $3::int4 - 1) AS i
              WHERE NOT (i = ANY($4::text::int4[]))
                AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 2
                  AND l.granted AND l.classid = $1::int8::oid AND l.objid = ${unsignedOf("$2::text", "i")}
                  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
              ORDER BY i`,
            [slotClass >>> 0, kind, slots, `{${held.join(",")}}`]
          )
          for (const row of rows) {
            const index = Number(row[0])
            const taken = yield* connection.executeValues(
              lockSql({ space: "slot", kind, index }, "pg_try_advisory_lock").text,
              [slotClass, kind, index]
            )
            if (first(taken) === true) return Option.some(index)
          }
          return Option.none()
        })
      ),
    unlock: (lock) =>
      onSession((connection) => {
        const { params, text } = lockSql(lock, "pg_advisory_unlock")
        return Effect.asVoid(connection.executeValues(text, params))
      }),
    heartbeat: onSession((connection) => Effect.asVoid(connection.executeValues("SELECT 1", []))),
    reset: Effect.andThen(close, open)
  }
}
