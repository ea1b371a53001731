/**
 * A recording `Offload` for tests: registered work is stored, not run, so a test can assert what
 * was offloaded and then run it by hand under the test's clock.
 *
 * Recorded keyed work counts as in flight until it is run or cleared, so deduplication behaves as
 * with the real layer (the same identity, `OffloadKey.identity`): a second registration of the
 * same key is `"deduplicated"`. Keys are checked as the real layer checks them
 * (`OffloadKey.validate`): an invalid one is `"rejected"` and logged. A handle from `submit`
 * resumes when its entry is run (with its exit) or dropped (interrupted).
 *
 * @since 0.1.0
 */
import { Offload, OffloadKey } from "@fibervisor/core"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { recorderAccessors } from "./internal/accessors.js"

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
export const TestOffload: Context.Service<TestOffload, TestOffload> = Context.Service<TestOffload>(
  "@fibervisor/vitest/TestOffload"
)

const make = (options: { readonly deduplicate: boolean }): Context.Context<Offload.Offload | TestOffload> => {
  let pending: Array<Entry> = []
  const history: Array<Entry> = []
  const inFlight = new Map<string, number>()
  /** Resumed with the entry's exit when it is run, or an interruption when it is dropped; made on demand. */
  const ended = new Map<Entry, Deferred.Deferred<Exit.Exit<unknown, unknown>>>()
  const endOf = (entry: Entry) => {
    let deferred = ended.get(entry)
    if (deferred === undefined) {
      deferred = Deferred.makeUnsafe<Exit.Exit<unknown, unknown>>()
      ended.set(entry, deferred)
    }
    return deferred
  }
  const settle = (entry: Entry, exit: Exit.Exit<unknown, unknown>) => {
    const deferred = ended.get(entry)
    if (deferred === undefined) return
    ended.delete(entry)
    Deferred.doneUnsafe(deferred, Exit.succeed(exit))
  }
  const release = (entry: Entry) => {
    const id = OffloadKey.identity(entry.key)
    if (id === undefined) return
    const count = (inFlight.get(id) ?? 1) - 1
    if (count === 0) inFlight.delete(id)
    else inFlight.set(id, count)
  }
  /** Records the work, or says why not: the entry, or the outcome and the line that rejects a bad key. */
  const record = <A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>,
    context: Context.Context<R>
  ): Entry | "deduplicated" | Effect.Effect<void> =>
    Result.match(OffloadKey.validate(key), {
      // The same check, and the same line, as the real layer's.
      onFailure: (reason) => OffloadKey.logRejected(key, reason),
      onSuccess: (key) => {
        const id = OffloadKey.identity(key)
        if (id !== undefined && options.deduplicate && inFlight.has(id)) return "deduplicated"
        if (id !== undefined) inFlight.set(id, (inFlight.get(id) ?? 0) + 1)
        const entry: Entry = { key, kind: key.kind, effect: Effect.provide(effect, context) }
        pending.push(entry)
        history.push(entry)
        return entry
      }
    })
  const register = <A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Offload.OffloadOutcome, never, R> =>
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.suspend(() => {
        const recorded = record(key, effect, context)
        if (recorded === "deduplicated") return Effect.succeed(recorded)
        return Effect.isEffect(recorded) ? Effect.as(recorded, "rejected" as const) : Effect.succeed("spawned" as const)
      })
    )
  const submit = <A, E, R>(
    key: OffloadKey.OffloadKey,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<Offload.OffloadHandle<A, E>, never, R> =>
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.suspend((): Effect.Effect<Offload.OffloadHandle<A, E>> => {
        const recorded = record(key, effect, context)
        if (recorded === "deduplicated") {
          // The pending entry under the same key does the work: wait for it to be run or dropped.
          const id = OffloadKey.identity(key)
          const entry = pending.find((e) => OffloadKey.identity(e.key) === id)!
          const deferred = endOf(entry)
          return Effect.succeed({ outcome: "deduplicated", await: Effect.as(Deferred.await(deferred), Option.none()) })
        }
        if (Effect.isEffect(recorded)) return Effect.as(recorded, rejectedHandle)
        const deferred = endOf(recorded)
        return Effect.succeed({
          outcome: "spawned",
          await: Effect.map(Deferred.await(deferred), (exit) => Option.some(exit as Exit.Exit<A, E>))
        })
      })
    )
  const matching = (key: OffloadKey.OffloadKey) => (entry: Entry) =>
    key._tag === "Keyed" ? OffloadKey.identity(entry.key) === OffloadKey.identity(key) : entry.kind === key.kind
  const take = (predicate: (entry: Entry) => boolean): Array<Entry> => {
    const taken = pending.filter(predicate)
    pending = pending.filter((entry) => !predicate(entry))
    taken.forEach(release)
    return taken
  }
  /** Drops entries without running them: their handles resume with an interruption. */
  const drop = (predicate: (entry: Entry) => boolean): number => {
    const dropped = take(predicate)
    for (const entry of dropped) settle(entry, Exit.interrupt())
    return dropped.length
  }
  const offload: Offload.Offload = {
    spawn: (kind, effect) => Effect.asVoid(register(OffloadKey.auto(kind), effect)),
    register,
    submit,
    isInFlight: (key) => Effect.sync(() => Result.isSuccess(OffloadKey.validate(key)) && pending.some(matching(key))),
    cancel: (key) => Effect.sync(() => Result.isSuccess(OffloadKey.validate(key)) && drop(matching(key)) > 0),
    cancelAll: Effect.sync(() => drop(() => true)),
    activeCount: Effect.succeed(0),
    queuedCount: Effect.sync(() => pending.length),
    awaitIdle: () => Effect.succeed(pending.length === 0)
  }
  const control: TestOffload = {
    entries: Effect.sync(() => pending.slice()),
    history: Effect.sync(() => history.slice()),
    runAll: Effect.suspend(() => {
      const taken = take(() => true)
      return Effect.forEach(taken, (entry) =>
        Effect.tap(Effect.exit(entry.effect), (exit) =>
          Effect.sync(() => {
            settle(entry, exit)
          })
        )
      ).pipe(
        // `runAll` interrupted: what it took and did not run is dropped, and its handles say so.
        Effect.ensuring(
          Effect.sync(() => {
            for (const entry of taken) settle(entry, Exit.interrupt())
          })
        )
      )
    }),
    clear: Effect.sync(() => {
      drop(() => true)
    })
  }
  return Context.make(Offload.Offload, offload).pipe(Context.add(TestOffload, control))
}

const rejectedHandle: Offload.OffloadHandle<never, never> = { outcome: "rejected", await: Effect.succeedNone }

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

const accessors = recorderAccessors(TestOffload)

/**
 * Registrations not yet run or cleared.
 *
 * @since 0.1.0
 * @category accessors
 */
export const entries: Effect.Effect<ReadonlyArray<Entry>, never, TestOffload> = accessors.entries

/**
 * Every registration ever accepted.
 *
 * @since 0.1.0
 * @category accessors
 */
export const history: Effect.Effect<ReadonlyArray<Entry>, never, TestOffload> = accessors.history

/**
 * Runs the pending work in the calling fiber, oldest first, and returns the exits.
 *
 * @since 0.1.0
 * @category accessors
 */
export const runAll: Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>, never, TestOffload> = accessors.runAll

/**
 * Drops the pending work.
 *
 * @since 0.1.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, TestOffload> = accessors.clear
