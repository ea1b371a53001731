import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import type * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import { interruptChildren, type ScopeState, scopeState } from "./compat.js"

/**
 * The `Scope` a task's attempts see. It stands for the scope of the current attempt: the real
 * scope is made when an attempt first uses it (most attempts never do, and making and providing a
 * scope per attempt is a large share of an attempt's cost), and `endAttempt` closes it when the
 * attempt ends.
 */
export class AttemptScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private current: Scope.CloseableScope | undefined = undefined
  /** Set between the end of an attempt and the start of the next one. */
  private closed: ScopeState | undefined = undefined

  /** The current attempt's real scope, made on first use. */
  private get real(): Effect.Effect<Scope.CloseableScope> {
    return Effect.sync(() => this.realNow())
  }

  private realNow(): Scope.CloseableScope {
    return (this.current ??= Effect.runSync(Scope.make()))
  }

  /**
   * What Effect's own scope exposes: `Effect.forkScoped` / `Effect.forkIn` read and update the
   * finalizers of the scope in the context directly.
   */
  get state(): ScopeState {
    return this.closed ?? scopeState(this.realNow())
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(this.real, (scope) => Scope.fork(scope, strategy))
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.flatMap(this.real, (scope) => Scope.addFinalizerExit(scope, finalizer))
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => this.closeCurrent(exit))
  }

  /** A new attempt begins: the scope is open again. */
  beginAttempt(): void {
    this.closed = undefined
  }

  /**
   * The attempt has ended: the fibers it forked (children of the task's fiber) are interrupted and
   * awaited, then its scope is closed. The next attempt starts with a fresh one.
   */
  endAttempt(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return interruptChildren(() => this.closeCurrent(exit))
  }

  private closeCurrent(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.closed = { _tag: "Closed", exit }
    const scope = this.current
    if (scope === undefined) return Effect.void
    this.current = undefined
    return Scope.close(scope, exit)
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
