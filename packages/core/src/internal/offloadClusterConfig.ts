/**
 * The `Offload.layerCluster` config: splits the cluster parts (`cluster.slotRetry`,
 * `cluster.slotWait`, `perKind[kind].cluster.maxConcurrent`) off the input, checks them, and
 * leaves the rest to `Offload.layer`'s own decoder (`offloadConfig.ts`), so the two layers can
 * never disagree on a shared field.
 *
 * Invariants: an unknown key is refused, here as there; a problem names its field
 * (`perKind.revalidate.cluster.maxConcurrent`); the input is never mutated.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import { decodeDuration, describe } from "./duration.js"
import type { ConfigProblem } from "./offloadConfig.js"

/** What `layerCluster` needs besides the local service's config. */
export interface ResolvedCluster {
  /** Cluster-wide limits per kind (kinds without one never take a slot). */
  readonly slots: ReadonlyMap<string, number>
  readonly slotRetryMs: number
  readonly slotWaitMs: number
  /** `onFull: { queue }` was given: work with no free cluster slot waits for one instead of being refused. */
  readonly waitForSlot: boolean
  /** `deduplicate` (default `true`): keyed work is claimed across the cluster. */
  readonly deduplicate: boolean
}

const isPlainObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const defaultSlotRetryMs = 250
const defaultSlotWaitMs = 30_000

const positiveMillis = (field: string, input: unknown, fallback: number): Result.Result<number, ConfigProblem> => {
  if (input === undefined) return Result.succeed(fallback)
  return Result.match(decodeDuration(input), {
    onFailure: (reason) => Result.fail({ field, reason }),
    onSuccess: (d) => {
      const ms = Duration.toMillis(d)
      return ms > 0 && Number.isFinite(ms)
        ? Result.succeed(ms)
        : Result.fail({ field, reason: `must be greater than zero and finite, got ${describe(input)}` })
    }
  })
}

const unexpectedKey = (
  field: string,
  value: Readonly<Record<string, unknown>>,
  allowed: ReadonlyArray<string>
): ConfigProblem | undefined => {
  const extra = Object.keys(value).find((key) => !allowed.includes(key))
  return extra === undefined ? undefined : { field: `${field}.${extra}`, reason: "is not a known option" }
}

/** Reads `perKind[kind].cluster`; `undefined` when the entry has none. */
const kindLimit = (kind: string, entry: unknown): Result.Result<number | undefined, ConfigProblem> => {
  if (!isPlainObject(entry) || entry.cluster === undefined) return Result.succeed(undefined)
  const field = `perKind.${kind}.cluster`
  const cluster = entry.cluster
  if (!isPlainObject(cluster)) {
    return Result.fail({ field, reason: `must be an object { maxConcurrent }, got ${describe(cluster)}` })
  }
  const extra = unexpectedKey(field, cluster, ["maxConcurrent"])
  if (extra !== undefined) return Result.fail(extra)
  const n = cluster.maxConcurrent
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    return Result.fail({
      field: `${field}.maxConcurrent`,
      reason: `must be a positive integer, got ${describe(n)}`
    })
  }
  return Result.succeed(n)
}

/**
 * Splits a `layerCluster` config: `base` is what `Offload.layer` decodes (untouched when there is
 * nothing to take off), `resolved` the cluster parameters. The base is checked by `Offload.make`.
 */
export const splitConfig = (
  input: unknown
): Result.Result<{ readonly base: unknown; readonly resolved: ResolvedCluster }, ConfigProblem> => {
  if (!isPlainObject(input)) {
    // Not an object (or absent): the base decoder says what is wrong, or uses the defaults.
    return Result.succeed({
      base: input,
      resolved: resolvedOf(input, new Map(), defaultSlotRetryMs, defaultSlotWaitMs)
    })
  }
  const { cluster, ...rest } = input
  let slotRetryMs = defaultSlotRetryMs
  let slotWaitMs = defaultSlotWaitMs
  if (cluster !== undefined) {
    if (!isPlainObject(cluster)) {
      return Result.fail({
        field: "cluster",
        reason: `must be an object { slotRetry?, slotWait? }, got ${describe(cluster)}`
      })
    }
    const extra = unexpectedKey("cluster", cluster, ["slotRetry", "slotWait"])
    if (extra !== undefined) return Result.fail(extra)
    const retry = positiveMillis("cluster.slotRetry", cluster.slotRetry, defaultSlotRetryMs)
    if (Result.isFailure(retry)) return Result.fail(retry.failure)
    const wait = positiveMillis("cluster.slotWait", cluster.slotWait, defaultSlotWaitMs)
    if (Result.isFailure(wait)) return Result.fail(wait.failure)
    slotRetryMs = retry.success
    slotWaitMs = wait.success
  }
  const slots = new Map<string, number>()
  let base: Record<string, unknown> = rest
  if (isPlainObject(rest.perKind)) {
    const perKind: Record<string, unknown> = {}
    for (const [kind, entry] of Object.entries(rest.perKind)) {
      const limit = kindLimit(kind, entry)
      if (Result.isFailure(limit)) return Result.fail(limit.failure)
      if (limit.success === undefined || !isPlainObject(entry)) {
        perKind[kind] = entry
      } else {
        slots.set(kind, limit.success)
        const { cluster: _cluster, ...local } = entry
        perKind[kind] = local
      }
    }
    base = { ...rest, perKind }
  }
  return Result.succeed({ base, resolved: resolvedOf(base, slots, slotRetryMs, slotWaitMs) })
}

const resolvedOf = (
  base: unknown,
  slots: ReadonlyMap<string, number>,
  slotRetryMs: number,
  slotWaitMs: number
): ResolvedCluster => {
  const fields = isPlainObject(base) ? base : {}
  return {
    slots,
    slotRetryMs,
    slotWaitMs,
    // Read from the raw input: `Offload.make` rejects any value other than these before this is used.
    waitForSlot: isPlainObject(fields.onFull),
    deduplicate: fields.deduplicate !== false
  }
}
