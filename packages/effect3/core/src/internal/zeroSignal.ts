import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as FiberId from "effect/FiberId"

/** A counter whose `await` resumes every waiter when it reaches zero (and can be re-armed). */
export class ZeroSignal {
  count = 0
  private waiter: Deferred.Deferred<void> | undefined = undefined

  constructor(private readonly fiberId: FiberId.FiberId) {}

  increment(): void {
    this.count += 1
  }

  decrement(): void {
    this.count -= 1
    if (this.count === 0 && this.waiter !== undefined) {
      Deferred.unsafeDone(this.waiter, Exit.void)
      this.waiter = undefined
    }
  }

  readonly await: Effect.Effect<void> = Effect.suspend(() => {
    if (this.count === 0) return Effect.void
    this.waiter ??= Deferred.unsafeMake<void>(this.fiberId)
    return Deferred.await(this.waiter)
  })
}
