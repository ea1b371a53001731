import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import { type ScopeState, scopeState, unsafeInterruptChildrenNow } from "./compat.js"

/**
 * The `Scope` one attempt sees. The real scope is made when the attempt first uses it (most
 * attempts never do, and making a scope per attempt is a large share of an attempt's cost), and
 * `endAttemptWith` closes it when the attempt ends. It is used by one attempt only: a reference
 * that outlives its attempt behaves as a closed Effect scope (a late finalizer runs at once, a
 * fork is closed, a fiber forked into it is interrupted), and the next attempt gets a new one.
 */
export class AttemptScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private current: Scope.CloseableScope | undefined = undefined
  /** Set once the attempt has ended (or someone closed the scope). */
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  /** The attempt has ended: the next one needs a new scope. */
  get ended(): boolean {
    return this.closedWith !== undefined
  }

  /** Only when a new scope cannot be put in the attempt's context: the next attempt uses this one. */
  reopen(): void {
    this.closedWith = undefined
  }

  private realNow(): Scope.CloseableScope {
    return (this.current ??= Effect.runSync(Scope.make()))
  }

  /**
   * What Effect's own scope exposes: `Effect.forkScoped` / `Effect.forkIn` read and update the
   * finalizers of the scope in the context directly.
   */
  get state(): ScopeState {
    return this.closedWith !== undefined ? { _tag: "Closed", exit: this.closedWith } : scopeState(this.realNow())
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.suspend(() => {
      const closedWith = this.closedWith
      if (closedWith === undefined) return Scope.fork(this.realNow(), strategy)
      // What Effect's own closed scope gives: a scope that is closed already.
      return Effect.tap(Scope.make(strategy), (scope) => Scope.close(scope, closedWith))
    })
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => {
      const closedWith = this.closedWith
      // Closed: the finalizer runs at once, with the attempt's exit (as on Effect's own scope).
      return closedWith === undefined ? Scope.addFinalizerExit(this.realNow(), finalizer) : finalizer(closedWith)
    })
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => (this.closedWith === undefined ? this.closeCurrent(exit) : Effect.void))
  }

  /**
   * The attempt has ended: the fibers it forked (children of the task's fiber) are interrupted and
   * awaited, then its scope is closed; the next attempt gets a new `AttemptScope`. Runs from inside
   * the attempt's fiber and resumes with the attempt's exit — or with
   * a failure adding what the finalizers raised (as `Effect.onExit` reports it). Allocates nothing
   * but the result when the attempt neither forked nor used its scope (most attempts).
   */
  endAttemptWith(exit: Exit.Exit<unknown, unknown>): Effect.Effect<Exit.Exit<unknown, unknown>> {
    const children = unsafeInterruptChildrenNow()
    if (children === null && this.current === undefined) {
      this.closedWith ??= exit
      return Effect.succeed(exit)
    }
    const close = Effect.suspend(() => this.closeCurrent(exit))
    return Effect.matchCause(children === null ? close : Effect.zipRight(children, close), {
      onFailure: (cause) => Exit.failCause(Exit.isSuccess(exit) ? cause : Cause.sequential(exit.cause, cause)),
      onSuccess: () => exit
    })
  }

  private closeCurrent(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    // A scope the attempt closed itself keeps the exit it was closed with.
    this.closedWith ??= exit
    const scope = this.current
    if (scope === undefined) return Effect.void
    this.current = undefined
    return Scope.close(scope, exit)
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
