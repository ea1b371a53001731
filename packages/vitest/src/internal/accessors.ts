/**
 * The accessors TestOffload.ts and TestDurableOffload.ts both export: `entries`, `history`,
 * `runAll` and `clear`, each reading the test service from the context. Built here once from the
 * service's tag; each module re-exports them under its own documented, typed names.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"

/** What a recording test service offers that its accessors read. */
export interface Recorder<Entry> {
  readonly entries: Effect.Effect<ReadonlyArray<Entry>>
  readonly history: Effect.Effect<ReadonlyArray<Entry>>
  readonly runAll: Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>>
  readonly clear: Effect.Effect<void>
}

/** The four accessors over the service `tag` yields. */
export const recorderAccessors = <Entry, I>(tag: Effect.Effect<Recorder<Entry>, never, I>) => ({
  entries: Effect.flatMap(tag, (t) => t.entries),
  history: Effect.flatMap(tag, (t) => t.history),
  runAll: Effect.flatMap(tag, (t) => t.runAll),
  clear: Effect.flatMap(tag, (t) => t.clear)
})
