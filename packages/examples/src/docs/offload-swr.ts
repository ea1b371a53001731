/**
 * A stale-while-revalidate cache on top of `Offload`.
 *
 * - fresh entry → `HIT`;
 * - stale entry → `STALE` at once, and a background refresh registered under
 *   `OffloadKey.keyed(key, "revalidate")` (concurrent stale hits start exactly one refresh);
 * - missing or expired entry → `MISS`: fetched inline.
 *
 * Swap the `Offload` layer to change what a stale hit does: `Offload.layer()` refreshes in the
 * background, `Offload.layerDisabled` never refreshes (stale until expiry), `TestOffload.layer()`
 * records the refresh so a test can run it by hand.
 */
import { Offload, OffloadKey } from "@fibervisor/core"
import { Clock, Context, Duration, Effect, Layer } from "effect"

/** Where fresh values come from. */
export class Upstream extends Context.Service<Upstream, { readonly fetch: (key: string) => Effect.Effect<string> }>()(
  "examples/Upstream"
) {}

export type CacheStatus = "HIT" | "STALE" | "MISS"

export interface CacheResult {
  readonly value: string
  readonly status: CacheStatus
}

export interface SwrCache {
  readonly get: (key: string) => Effect.Effect<CacheResult, never, Upstream | Offload.Offload>
}

interface Stored {
  readonly value: string
  readonly storedAt: number
}

/**
 * A cache whose entries are fresh for `freshFor`, then stale (served, refreshed in the background)
 * until `expireAfter`, then gone.
 */
export const makeSwrCache = (options: {
  readonly freshFor: Duration.Input
  readonly expireAfter: Duration.Input
}): SwrCache => {
  const freshMs = Duration.toMillis(options.freshFor)
  const expireMs = Duration.toMillis(options.expireAfter)
  const entries = new Map<string, Stored>()

  const load = (key: string) =>
    Effect.gen(function* () {
      const upstream = yield* Upstream
      const value = yield* upstream.fetch(key)
      entries.set(key, { value, storedAt: yield* Clock.currentTimeMillis })
      return value
    })

  const get = (key: string) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const stored = entries.get(key)
      const age = stored === undefined ? Number.POSITIVE_INFINITY : now - stored.storedAt
      if (stored !== undefined && age < freshMs) return { value: stored.value, status: "HIT" } as const
      if (stored !== undefined && age < expireMs) {
        yield* Offload.register(OffloadKey.keyed(key, "revalidate"), load(key))
        return { value: stored.value, status: "STALE" } as const
      }
      return { value: yield* load(key), status: "MISS" } as const
    })

  return { get }
}

/** A demo run: a miss, a hit, then 50 concurrent stale hits that start exactly one refresh. */
export const program = Effect.gen(function* () {
  let fetches = 0
  const upstream = Layer.succeed(Upstream, {
    fetch: (key) => Effect.sleep("20 millis").pipe(Effect.as(`${key}@v${++fetches}`))
  })
  const cache = makeSwrCache({ freshFor: "100 millis", expireAfter: "1 minute" })
  const get = (key: string) => cache.get(key).pipe(Effect.provide(upstream))

  const first = yield* get("user:42") // MISS: fetched inline
  const second = yield* get("user:42") // HIT
  yield* Effect.sleep("150 millis") // now stale
  const stale = yield* Effect.all(
    Array.from({ length: 50 }, () => get("user:42")),
    { concurrency: "unbounded" }
  )
  yield* Offload.awaitIdle() // the one background refresh has finished
  const refreshed = yield* get("user:42") // HIT with the new value
  return {
    statuses: [first.status, second.status, stale[0]!.status, refreshed.status],
    staleValues: new Set(stale.map((r) => r.value)).size,
    refreshed: refreshed.value,
    fetches
  }
}).pipe(Effect.provide(Offload.layer()))

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then((result) => console.log(result))
}
