import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

/**
 * The `Scope` a task's attempts see. It stands for the scope of the current attempt: the real
 * scope is made when an attempt first adds a finalizer (most attempts never do, and making and
 * providing a scope per attempt is a large share of an attempt's cost), and `closeAttempt` closes
 * it when the attempt ends.
 */
export class AttemptScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private current: Scope.CloseableScope | undefined = undefined

  /** The current attempt's real scope, made on first use. */
  private get real(): Effect.Effect<Scope.CloseableScope> {
    return Effect.suspend(() =>
      this.current !== undefined
        ? Effect.succeed(this.current)
        : Effect.map(Scope.make(), (scope) => (this.current = scope))
    )
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(this.real, (scope) => Scope.fork(scope, strategy))
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.flatMap(this.real, (scope) => Scope.addFinalizerExit(scope, finalizer))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return this.closeAttempt(exit)
  }

  /** Closes the current attempt's scope, if it has one; the next attempt starts with a fresh one. */
  closeAttempt(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      const scope = this.current
      if (scope === undefined) return Effect.void
      this.current = undefined
      return Scope.close(scope, exit)
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
