import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Ref } from "effect"
import { SingletonContext } from "@fibervisor/cluster"

// A store that checks the epoch: it remembers the highest epoch that wrote and refuses lower ones.
// In SQL: UPDATE fence SET epoch = $epoch WHERE name = $name AND epoch <= $epoch, in the same
// transaction as the write (the row lock orders concurrent writers).
class StaleEpoch extends Data.TaggedError("StaleEpoch")<{ readonly epoch: number; readonly highest: number }> {}

interface Fenced {
  readonly highest: number
  readonly rows: ReadonlyArray<string>
}

const makeFencedStore = Effect.map(Ref.make<Fenced>({ highest: 0, rows: [] }), (state) => ({
  write: (epoch: number, row: string) =>
    Ref.modify(state, (s): [Effect.Effect<void, StaleEpoch>, Fenced] =>
      epoch < s.highest
        ? [Effect.fail(new StaleEpoch({ epoch, highest: s.highest })), s]
        : [Effect.void, { highest: epoch, rows: [...s.rows, row] }]
    ).pipe(Effect.flatten),
  rows: Effect.map(Ref.get(state), (s) => s.rows)
}))

type FencedStore = Effect.Success<typeof makeFencedStore>

// Inside the singleton's tree: confirm ownership before the write, and fence the write with the epoch.
const chargeInvoices = (store: FencedStore) =>
  Effect.gen(function* () {
    const { epoch, confirmOwnership } = yield* SingletonContext.SingletonContext
    yield* confirmOwnership // narrows the window: fails with OwnershipLost once the lease is gone
    yield* store.write(epoch, `charged by epoch ${epoch}`) // closes it: a stale epoch is refused
  })

const asOwner = (epoch: number, confirm: Effect.Effect<void, never> = Effect.void) =>
  Effect.provideService(SingletonContext.SingletonContext, {
    name: "billing",
    epoch,
    runner: `owner-of-${epoch}`,
    confirmOwnership: confirm
  })

describe("fencing with the epoch", () => {
  it.effect("a former owner that resumes after a pause cannot overwrite the new owner's work", () =>
    Effect.gen(function* () {
      const store = yield* makeFencedStore
      yield* chargeInvoices(store).pipe(asOwner(1)) // the first owner
      yield* chargeInvoices(store).pipe(asOwner(2)) // the next one, after a fail-over
      // The first owner was paused (GC, a frozen VM) just after it confirmed its lease: when it
      // resumes, its write carries epoch 1, and the store refuses it.
      const stale = yield* Effect.flip(chargeInvoices(store).pipe(asOwner(1)))
      expect(stale).toEqual(new StaleEpoch({ epoch: 1, highest: 2 }))
      expect(yield* store.rows).toEqual(["charged by epoch 1", "charged by epoch 2"])
    })
  )
})
