/**
 * `Signal`: the one-shot wait fibervisor uses where Effect code would use a `Deferred` (outcomes,
 * stop requests, starts and exits of task fibers, shutdown results, group restarts, the bus).
 *
 * Invariant: completing it never runs a waiting fiber on the caller's stack: waiters resume through
 * `compat.later`. Only `listen` callbacks run at once, and those are fibervisor's own bookkeeping.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { later } from "./compat.js"

/**
 * A one-shot value that fibers can wait for. A lighter stand-in for `Deferred` on hot paths:
 * creating one allocates a plain object, and waiting allocates only when the value is not there yet.
 * Completing it never runs a waiting fiber on the caller's stack (Effect 4's `Deferred` would): the
 * waiters resume after the current synchronous work (`later`), so a supervisor can complete signals
 * from the middle of its bookkeeping.
 */
export class Signal<A> {
  private done = false
  private value: A | undefined = undefined
  private waiters: Array<(value: A) => void> | undefined = undefined

  get isDone(): boolean {
    return this.done
  }

  /** The value, once completed. */
  get unsafeValue(): A | undefined {
    return this.value
  }

  /** Completes the signal; `false` if it was already complete. `listen` callbacks run now. */
  complete(value: A): boolean {
    if (this.done) return false
    this.done = true
    this.value = value
    const waiters = this.waiters
    this.waiters = undefined
    if (waiters !== undefined) for (const waiter of waiters) waiter(value)
    return true
  }

  /** Calls `f` with the value once the signal completes (at once if it has). */
  listen(f: (value: A) => void): void {
    if (this.done) return f(this.value as A)
    ;(this.waiters ??= []).push(f)
  }

  /** Resumes with the value once the signal completes (interruptible). */
  get await(): Effect.Effect<A> {
    return Effect.suspend(() => {
      if (this.done) return Effect.succeed(this.value as A)
      return Effect.callback<A>((resume) => {
        if (this.done) return resume(Effect.succeed(this.value as A))
        // An interrupted waiter is resumed for nothing: Effect ignores a resume after an interrupt.
        const waiter = (value: A) => later(() => resume(Effect.succeed(value)))
        ;(this.waiters ??= []).push(waiter)
        return Effect.sync(() => {
          const index = this.waiters?.indexOf(waiter) ?? -1
          if (index >= 0) this.waiters!.splice(index, 1)
        })
      })
    })
  }
}
