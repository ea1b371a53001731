/**
 * The identity of offloaded work. `keyed(key, kind)` is deduplicated while in flight (identity is
 * the key **and** the kind); `auto(kind)` never is.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"

/**
 * Work identified by a key (a cache key, say) under a kind: one in flight at a time.
 *
 * @since 0.1.0
 * @category models
 */
export class Keyed extends Data.TaggedClass("Keyed")<{
  readonly key: string
  readonly kind: string
}> {}

/**
 * Anonymous work of a kind: never deduplicated.
 *
 * @since 0.1.0
 * @category models
 */
export class Auto extends Data.TaggedClass("Auto")<{
  readonly kind: string
}> {}

/**
 * An offload key.
 *
 * @since 0.1.0
 * @category models
 */
export type OffloadKey = Keyed | Auto

/**
 * A deduplicated key: while work registered under `(key, kind)` is in flight, another
 * registration of the same pair is `"deduplicated"` and its effect never runs. An empty or blank
 * (whitespace-only) `key` or `kind` is refused: `register` says `"rejected"` and logs why.
 *
 * @example
 * ```ts
 * import { OffloadKey } from "@fibervisor/core"
 *
 * const refresh = OffloadKey.keyed("user:42", "revalidate")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const keyed = (key: string, kind: string): OffloadKey => new Keyed({ key, kind })

/**
 * A key that is never deduplicated. An empty or blank (whitespace-only) `kind` is refused:
 * `register` says `"rejected"` and logs why.
 *
 * @since 0.1.0
 * @category constructors
 */
export const auto = (kind: string): OffloadKey => new Auto({ kind })

/**
 * Is `u` an offload key?
 *
 * @since 0.1.0
 * @category guards
 */
export const isOffloadKey = (u: unknown): u is OffloadKey => u instanceof Keyed || u instanceof Auto

/**
 * A readable form: `revalidate:user:42`, or `revalidate:*` for auto keys.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (key: OffloadKey): string => (key._tag === "Keyed" ? `${key.kind}:${key.key}` : `${key.kind}:*`)

/**
 * The warning an `Offload` implementation logs when it rejects `key` because `reason` (what
 * `validate` said): `offload rejected: <reason>`, annotated `fibervisor: "offload"` and the key's
 * `format` (`"?"` when it is not a key at all). The real layers and `TestOffload` log this same
 * line, so a log assertion holds whichever layer a test provides.
 *
 * @since 1.0.0
 * @category logging
 */
export const logRejected = (key: unknown, reason: string): Effect.Effect<void> =>
  Effect.logWarning(`offload rejected: ${reason}`).pipe(
    Effect.annotateLogs({ fibervisor: "offload", key: isOffloadKey(key) ? format(key) : "?" })
  )

/**
 * The deduplication identity of a key: for `keyed(key, kind)` a string that two keys share
 * exactly when both their kinds and their keys are equal (the kind's length comes first, so no two
 * pairs collide); `undefined` for `auto(kind)`, which is never deduplicated. A custom or test
 * implementation of `Offload` uses it to deduplicate exactly as the real layer does.
 *
 * @example
 * ```ts
 * import { OffloadKey } from "@fibervisor/core"
 *
 * OffloadKey.identity(OffloadKey.keyed("user:42", "revalidate")) // "10:revalidateuser:42"
 * OffloadKey.identity(OffloadKey.auto("revalidate")) // undefined
 * ```
 *
 * @since 1.0.0
 * @category identity
 */
export const identity = (key: OffloadKey): string | undefined =>
  key._tag === "Keyed" ? `${key.kind.length}:${key.kind}${key.key}` : undefined

/**
 * Why `u` is not a usable key, or `undefined` when it is (no allocation: this runs on every
 * registration).
 *
 * @internal
 */
export const problemOf = (u: unknown): string | undefined => {
  if (!isOffloadKey(u)) return "key must be an OffloadKey (OffloadKey.keyed or OffloadKey.auto)"
  if (typeof u.kind !== "string" || u.kind === "") return "kind must be a non-empty string"
  if (u.kind.trim() === "") return "kind must not be blank (whitespace only)"
  if (u._tag === "Keyed") {
    if (typeof u.key !== "string") return "key must be a string"
    if (u.key === "") return "key must be a non-empty string"
    if (u.key.trim() === "") return "key must not be blank (whitespace only)"
  }
  return undefined
}

/**
 * Checks a key the way every `Offload` layer does before admitting work: a success with the key,
 * or a failure with the reason a registration under it is `"rejected"` (not an `OffloadKey`, an
 * empty or blank kind or key). A custom or test implementation of `Offload` uses it to refuse
 * exactly what the real layer refuses.
 *
 * @example
 * ```ts
 * import { OffloadKey } from "@fibervisor/core"
 *
 * OffloadKey.validate(OffloadKey.auto(" ")) // Result.fail("kind must not be blank (whitespace only)")
 * ```
 *
 * @since 0.2.0
 * @category validation
 */
export const validate = (u: unknown): Result.Result<OffloadKey, string> => {
  const problem = problemOf(u)
  return problem === undefined ? Result.succeed(u as OffloadKey) : Result.fail(problem)
}
