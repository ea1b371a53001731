import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import { type ScopeState, scopeState, unsafeInterruptChildrenNow } from "./compat.js"

/**
 * The `Scope` a task's attempts see. It stands for the scope of the current attempt: the real
 * scope is made when an attempt first uses it (most attempts never do, and making and providing a
 * scope per attempt is a large share of an attempt's cost), and `endAttemptWith` closes it when the
 * attempt ends.
 */
export class AttemptScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  private current: Scope.CloseableScope | undefined = undefined
  /** Set between the end of an attempt and the start of the next one. */
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

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
    return this.closedWith !== undefined ? { _tag: "Closed", exit: this.closedWith } : scopeState(this.realNow())
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
    this.closedWith = undefined
  }

  /**
   * The attempt has ended: the fibers it forked (children of the task's fiber) are interrupted and
   * awaited, then its scope is closed; the next attempt starts with a fresh one. Runs from inside
   * the attempt's fiber and resumes with the attempt's exit — or with
   * a failure adding what the finalizers raised (as `Effect.onExit` reports it). Allocates nothing
   * but the result when the attempt neither forked nor used its scope (most attempts).
   */
  endAttemptWith(exit: Exit.Exit<unknown, unknown>): Effect.Effect<Exit.Exit<unknown, unknown>> {
    const children = unsafeInterruptChildrenNow()
    if (children === null && this.current === undefined) {
      this.closedWith = exit
      return Effect.succeed(exit)
    }
    const close = Effect.suspend(() => this.closeCurrent(exit))
    return Effect.matchCause(children === null ? close : Effect.zipRight(children, close), {
      onFailure: (cause) => Exit.failCause(Exit.isSuccess(exit) ? cause : Cause.sequential(exit.cause, cause)),
      onSuccess: () => exit
    })
  }

  private closeCurrent(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.closedWith = exit
    const scope = this.current
    if (scope === undefined) return Effect.void
    this.current = undefined
    return Scope.close(scope, exit)
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
