/**
 * The checks of `@fibervisor/cluster`'s options: the layers' lease settings (`resolveLease`) and
 * `Task.singleton`'s options (`resolveSingleton`). Each bad value is reported with the field that
 * holds it and the reason; unknown keys are refused by name.
 *
 * Data flow: `ClusterSupervisor.layer*` → `resolveLease` (→ `InvalidClusterOptions`);
 * `Task.singleton` → `resolveSingleton` (→ `InvalidSingletonOptions`, raised by the task's
 * first attempt), then, at that attempt, `checkGrace` against the layer's settings.
 *
 * Invariants: durations are positive and finite (a number is milliseconds); `refreshInterval` is
 * below `expiry`; `handoffGrace` is below `expiry − refreshInterval`, so a healthy owner always has
 * time for one refresh before its deadline for stopping its tree.
 *
 * @internal
 */
import { Inputs } from "@fibervisor/core"
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"

/** A refused value: which field, and why. */
export interface Problem {
  readonly field: string
  readonly reason: string
}

const show = Inputs.describe

/**
 * A positive, finite duration in milliseconds, read by core's one rule (`Inputs.decodeDuration`):
 * what is not a duration gets its reason; a number or `Duration` out of range (zero, negative,
 * infinite) is "positive and finite".
 */
export const millis = (field: string, value: unknown): Result.Result<number, Problem> => {
  const decoded = Inputs.decodeDuration(value)
  const ms = Result.isSuccess(decoded) ? Duration.toMillis(decoded.success) : Number.NaN
  if (ms > 0) return Result.succeed(ms)
  if (Result.isFailure(decoded) && typeof value !== "number" && !Duration.isDuration(value)) {
    return Result.fail({ field, reason: decoded.failure })
  }
  return Result.fail({ field, reason: `must be positive and finite, got ${show(value)}` })
}

const unknownKeys = (options: object, known: ReadonlyArray<string>): Result.Result<void, Problem> => {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      return Result.fail({ field: key, reason: `is not an option (known: ${known.join(", ")})` })
    }
  }
  return Result.void
}

/** The lease settings every `ClusterSupervisor` layer takes. */
export interface LeaseSettings {
  readonly refreshIntervalMs: number
  readonly expiryMs: number
  readonly runnerId: string
}

/** The keys of the lease settings. */
export const leaseKeys = ["refreshInterval", "expiry", "runnerId"] as const

const identifier = /^[a-z_][a-z0-9_]{0,62}$/

/** Checks an SQL table name (it is spliced into statements). */
export const tableName = (field: string, value: unknown): Result.Result<string, Problem> =>
  typeof value === "string" && identifier.test(value)
    ? Result.succeed(value)
    : Result.fail({
        field,
        reason: `must be a lower-case SQL identifier (letters, digits, _; at most 63), got ${show(value)}`
      })

const defaultRunnerId = (): string => `runner-${Math.random().toString(36).slice(2, 10)}`

/**
 * Checks an options object: only `known` keys (the lease keys plus the layer's own), then the
 * lease settings (defaults: refresh 5 s, expiry 15 s, a random runner id).
 */
export const resolveLease = (options: unknown, known: ReadonlyArray<string>): Result.Result<LeaseSettings, Problem> =>
  Result.gen(function* () {
    const raw = options === undefined ? {} : options
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return yield* Result.fail({ field: "options", reason: `must be an object, got ${show(raw)}` })
    }
    yield* unknownKeys(raw, [...leaseKeys, ...known])
    const o = raw as Record<string, unknown>
    const refreshIntervalMs =
      o.refreshInterval === undefined ? 5_000 : yield* millis("refreshInterval", o.refreshInterval)
    const expiryMs = o.expiry === undefined ? 15_000 : yield* millis("expiry", o.expiry)
    if (refreshIntervalMs >= expiryMs) {
      return yield* Result.fail({
        field: "refreshInterval",
        reason: `must be shorter than expiry (${expiryMs} ms), got ${refreshIntervalMs} ms`
      })
    }
    let runnerId = defaultRunnerId()
    if (o.runnerId !== undefined) {
      if (typeof o.runnerId !== "string" || o.runnerId.length === 0 || o.runnerId.length > 200) {
        return yield* Result.fail({
          field: "runnerId",
          reason: `must be a non-empty string of at most 200 characters, got ${show(o.runnerId)}`
        })
      }
      runnerId = o.runnerId
    }
    return { refreshIntervalMs, expiryMs, runnerId }
  })

/** `Task.singleton`'s options, checked (the task options `restart` / `backoff` are checked by core). */
export interface SingletonSettings {
  readonly name: string | undefined
  readonly handoffGraceMs: number | undefined
  readonly readiness: "owner-only" | "any"
}

/** The keys `Task.singleton` takes. */
export const singletonKeys = ["name", "restart", "backoff", "handoffGrace", "readiness"] as const

/** Checks `Task.singleton`'s options. */
export const resolveSingleton = (options: unknown): Result.Result<SingletonSettings, Problem> =>
  Result.gen(function* () {
    const raw = options === undefined ? {} : options
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      return yield* Result.fail({ field: "options", reason: `must be an object, got ${show(raw)}` })
    }
    yield* unknownKeys(raw, singletonKeys)
    const o = raw as Record<string, unknown>
    if (o.name !== undefined && (typeof o.name !== "string" || o.name.length === 0 || o.name.length > 200)) {
      return yield* Result.fail({
        field: "name",
        reason: `must be a non-empty string of at most 200 characters, got ${show(o.name)}`
      })
    }
    const handoffGraceMs = o.handoffGrace === undefined ? undefined : yield* millis("handoffGrace", o.handoffGrace)
    if (o.readiness !== undefined && o.readiness !== "owner-only" && o.readiness !== "any") {
      return yield* Result.fail({
        field: "readiness",
        reason: `must be "owner-only" or "any", got ${show(o.readiness)}`
      })
    }
    return {
      name: o.name as string | undefined,
      handoffGraceMs,
      readiness: (o.readiness as "owner-only" | "any" | undefined) ?? "any"
    }
  })

/**
 * The hand-off grace a singleton uses under `lease`: its own, checked to fit, or half the room.
 * An owner starts stopping its tree at `validUntil − handoffGrace`, so the grace must leave room
 * for at least one refresh between two deadlines: it must be below `expiry − refreshInterval`.
 */
export const checkGrace = (
  handoffGraceMs: number | undefined,
  lease: Pick<LeaseSettings, "expiryMs" | "refreshIntervalMs">
): Result.Result<number, Problem> => {
  const room = lease.expiryMs - lease.refreshIntervalMs
  if (handoffGraceMs === undefined) return Result.succeed(room / 2)
  return handoffGraceMs < room
    ? Result.succeed(handoffGraceMs)
    : Result.fail({
        field: "handoffGrace",
        reason: `must be below the layer's expiry − refreshInterval (${room} ms), got ${handoffGraceMs} ms`
      })
}
