/**
 * A recording `Offload` for tests: registered work is stored, not run, so a test can assert what
 * was offloaded and then run it by hand under the test's clock.
 *
 * Recorded keyed work counts as in flight until it is run or cleared, so deduplication behaves as
 * with the real layer: a second registration of the same key is `"deduplicated"`.
 *
 * @since 0.1.0
 */
import { Offload, OffloadKey } from "@fibervisor/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"

/**
 * One registration the recording layer accepted.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly key: OffloadKey.OffloadKey
  readonly kind: string
  /** The work, with the registering caller's services already provided. */
  readonly effect: Effect.Effect<unknown, unknown>
}

/**
 * Control of the recording layer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestOffload {
  /** Registrations not yet run or cleared, oldest first. */
  readonly entries: Effect.Effect<ReadonlyArray<Entry>>
  /** Every registration ever accepted (run or not), oldest first. */
  readonly history: Effect.Effect<ReadonlyArray<Entry>>
  /** Runs the pending work one by one in the calling fiber (so under its clock) and returns the exits. */
  readonly runAll: Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>>
  /** Drops the pending work without running it. */
  readonly clear: Effect.Effect<void>
}

/**
 * The `TestOffload` service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const TestOffload: Context.Tag<TestOffload, TestOffload> = Context.GenericTag<TestOffload>(
  "@fibervisor/vitest/TestOffload"
)

/** The dedup identity of a keyed key (the kind's length first, so no two pairs collide). */
const identity = (key: OffloadKey.OffloadKey): string | undefined =>
  key._tag === "Keyed" ? `${key.kind.length}:${key.kind}${key.key}` : undefined

const make = (options: { readonly deduplicate: boolean }): Context.Context<Offload.Offload | TestOffload> => {
  let pending: Array<Entry> = []
  const history: Array<Entry> = []
  const inFlight = new Map<string, number>()
  const release = (entry: Entry) => {
    const id = identity(entry.key)
    if (id === undefined) return
    const count = (inFlight.get(id) ?? 1) - 1
    if (count === 0) inFlight.delete(id)
    else inFlight.set(id, count)
  }
  const register = <A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Offload.OffloadOutcome, never, R> =>
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.sync(() => {
        if (!OffloadKey.isOffloadKey(key) || typeof key.kind !== "string" || key.kind === "") return "rejected"
        const id = identity(key)
        if (id !== undefined && options.deduplicate && inFlight.has(id)) return "deduplicated"
        if (id !== undefined) inFlight.set(id, (inFlight.get(id) ?? 0) + 1)
        const entry: Entry = { key, kind: key.kind, effect: Effect.provide(effect, context) }
        pending.push(entry)
        history.push(entry)
        return "spawned"
      })
    )
  const matching = (key: OffloadKey.OffloadKey) => (entry: Entry) =>
    key._tag === "Keyed" ? identity(entry.key) === identity(key) : entry.kind === key.kind
  const take = (predicate: (entry: Entry) => boolean): Array<Entry> => {
    const taken = pending.filter(predicate)
    pending = pending.filter((entry) => !predicate(entry))
    taken.forEach(release)
    return taken
  }
  const offload: Offload.Offload = {
    spawn: (kind, effect) => Effect.asVoid(register(OffloadKey.auto(kind), effect)),
    register,
    isInFlight: (key) => Effect.sync(() => pending.some(matching(key))),
    cancel: (key) => Effect.sync(() => take(matching(key)).length > 0),
    cancelAll: Effect.sync(() => take(() => true).length),
    activeCount: Effect.succeed(0),
    queuedCount: Effect.sync(() => pending.length),
    awaitIdle: () => Effect.succeed(pending.length === 0)
  }
  const control: TestOffload = {
    entries: Effect.sync(() => pending.slice()),
    history: Effect.sync(() => history.slice()),
    runAll: Effect.suspend(() =>
      Effect.forEach(
        take(() => true),
        (entry) => Effect.exit(entry.effect)
      )
    ),
    clear: Effect.sync(() => {
      take(() => true)
    })
  }
  return Context.make(Offload.Offload, offload).pipe(Context.add(TestOffload, control))
}

/**
 * Provides `Offload` (recording) and `TestOffload` (its control). Deduplicates keyed work like the
 * real layer unless `deduplicate: false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Offload, OffloadKey } from "@fibervisor/core"
 * import { TestOffload } from "@fibervisor/vitest"
 *
 * const test = Effect.gen(function* () {
 *   yield* Offload.register(OffloadKey.keyed("user:1", "revalidate"), Effect.log("refresh"))
 *   const [entry] = yield* TestOffload.entries
 *   yield* TestOffload.runAll
 * }).pipe(Effect.provide(TestOffload.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: { readonly deduplicate?: boolean }): Layer.Layer<Offload.Offload | TestOffload> =>
  Layer.syncContext(() => make({ deduplicate: options?.deduplicate ?? true }))

/**
 * Registrations not yet run or cleared.
 *
 * @since 0.1.0
 * @category accessors
 */
export const entries: Effect.Effect<ReadonlyArray<Entry>, never, TestOffload> = Effect.flatMap(
  TestOffload,
  (t) => t.entries
)

/**
 * Every registration ever accepted.
 *
 * @since 0.1.0
 * @category accessors
 */
export const history: Effect.Effect<ReadonlyArray<Entry>, never, TestOffload> = Effect.flatMap(
  TestOffload,
  (t) => t.history
)

/**
 * Runs the pending work in the calling fiber, oldest first, and returns the exits.
 *
 * @since 0.1.0
 * @category accessors
 */
export const runAll: Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>, never, TestOffload> = Effect.flatMap(
  TestOffload,
  (t) => t.runAll
)

/**
 * Drops the pending work.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, TestOffload> = Effect.flatMap(TestOffload, (t) => t.clear)
