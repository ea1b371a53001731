/**
 * `ZeroSignal`: a counter whose waiters resume when it reaches zero. A supervisor's `pending`,
 * `registered` and `aliveDynamic`, and Offload's `idle` and `live`, are ZeroSignals.
 *
 * Invariant: waiters resume through `Signal`, after the current synchronous work; each trip to
 * zero completes one `Signal` for every waiter, and a wait while the count is up makes a new one.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { Signal } from "./signal.js"

/**
 * A counter whose `await` resumes every waiter when it reaches zero (and can be re-armed). Its
 * waiters resume after the current synchronous work, as `Signal`'s do.
 */
export class ZeroSignal {
  count = 0
  private waiter: Signal<void> | undefined = undefined

  increment(): void {
    this.count += 1
  }

  decrement(): void {
    this.count -= 1
    if (this.count === 0 && this.waiter !== undefined) {
      const waiter = this.waiter
      this.waiter = undefined
      waiter.complete(undefined)
    }
  }

  readonly await: Effect.Effect<void> = Effect.suspend(() => {
    if (this.count === 0) return Effect.void
    return (this.waiter ??= new Signal<void>()).await
  })
}
