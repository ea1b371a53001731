/**
 * The `Scope` of one attempt, and the end of an attempt (`endAttempt`).
 *
 * Data flow: `taskLoop.beginAttempt` makes the scope and puts it in the attempt's context; the
 * attempt's body calls `endAttempt` from the task's own fiber, in an uninterruptible region,
 * however the attempt ended (a stop included), and the loop reads the exit it returns.
 *
 * Invariants:
 * - Nothing the attempt forked outlives it: the task fiber's children are interrupted and awaited
 *   before the scope closes (`compat.unsafeInterruptChildrenNow`).
 * - The attempt's own typed failure still decides when a finalizer dies: the causes are combined
 *   here, not by `onExit`, which in Effect 4 would turn that failure into a defect.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { currentChildren, unsafeInterruptChildrenNow } from "./compat.js"

/**
 * The `Scope` one attempt sees: a real Effect scope, made when the attempt begins and closed when
 * it ends. It is used by one attempt only: a reference that outlives its attempt acts on a closed
 * scope (a late finalizer runs at once, a fork is closed, a fiber forked into it is interrupted),
 * and the next attempt gets a new one.
 *
 * Effect 4's scope is a record of five fields whose only mutable one is `state` (it starts as a
 * shared `Empty`); Effect reads the others (`strategy`, `parent`, the type ids) and tests the
 * type ids with `in`. An attempt's scope keeps `state` as its own field and the four constant
 * ones on its prototype: one field per attempt instead of five (an idle task keeps its attempt's
 * scope). `test/compat/Compat.test.ts` checks that Effect takes it for a scope.
 */
export const makeAttemptScope = (): Scope.Closeable => new AttemptScope() as unknown as Scope.Closeable

/** A scope made by Effect, whose constant fields and initial state the attempt scopes share. */
const template = Scope.makeUnsafe()
const emptyState = template.state

/** The state Effect gives a scope closed with `exit` (shareable: a closed state is never changed again). */
const closedStateOf = (exit: Exit.Exit<unknown, unknown>): Scope.Scope["state"] => {
  const closed = Scope.makeUnsafe()
  Scope.closeUnsafe(closed, exit)
  return closed.state
}

const closedVoidState = closedStateOf(Exit.void)
const closedInterruptedState = closedStateOf(Exit.interrupt())

/**
 * Closes `scope` with the shared `closed` state when the attempt forked nothing and never used the
 * scope (nothing to interrupt, no finalizer to run): `true` if it did, else the general end is due.
 */
const closeUnused = (scope: Scope.Closeable, closed: Scope.Scope["state"]): boolean => {
  if (scope.state !== emptyState || currentChildren() !== undefined) return false
  ;(scope as { state: Scope.Scope["state"] }).state = closed
  return true
}

class AttemptScope {
  state: Scope.Scope["state"] = emptyState
}

for (const key of Object.keys(template) as Array<keyof typeof template>) {
  if (key !== "state") Object.defineProperty(AttemptScope.prototype, key, { value: template[key], enumerable: true })
}

/**
 * The attempt has ended: the fibers it forked (children of the fiber running it) are interrupted
 * and awaited, then its scope is closed. Runs from inside that fiber and resumes with the attempt's
 * exit, or with a failure adding what the finalizers raised to the attempt's own cause. The causes
 * are combined as they are (Effect 4's `onExit` would turn the attempt's typed failure into a
 * defect when a finalizer dies): the attempt's own typed failure still decides how it is read.
 * Allocates nothing but the closed state when the attempt neither forked nor used its scope.
 */
export const endAttempt = (
  scope: Scope.Closeable,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  const children = unsafeInterruptChildrenNow()
  if (children === undefined && scope.state._tag !== "Open") {
    Scope.closeUnsafe(scope, exit)
    return Effect.succeed(exit)
  }
  const close = Effect.suspend(() => Scope.closeUnsafe(scope, exit) ?? Effect.void)
  return Effect.matchCause(children === undefined ? close : Effect.andThen(children, close), {
    onFailure: (cause) => Exit.failCause(Exit.isSuccess(exit) ? cause : Cause.combine(exit.cause, cause)),
    onSuccess: () => exit
  })
}

const succeededVoid: Effect.Effect<Exit.Exit<unknown, unknown>> = Effect.succeed(Exit.void)

const interruptedEnd: Effect.Effect<Exit.Exit<unknown, unknown>> = Effect.succeed(Exit.interrupt())

/**
 * `endAttempt` of an attempt whose fiber is being stopped (`compat.currentFiberInterrupted`): the
 * end of the attempt's uninterruptible region re-raises the interruption and drops what the end
 * returns, so when the attempt forked nothing and never used its scope, the scope takes the one
 * closed-by-interruption state and nothing is built (a shutdown stops every task this way). A
 * finalizer added later to that scope runs at once, with an interruption as its exit (without
 * the stopping fiber's id, which only this exit's own cause would have carried).
 */
export const endInterrupted = (
  scope: Scope.Closeable,
  cause: Cause.Cause<unknown>
): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  return closeUnused(scope, closedInterruptedState) ? interruptedEnd : endAttempt(scope, Exit.failCause(cause))
}

/**
 * `endAttempt` of an attempt that succeeded with `undefined` (most tasks: `Effect.void`, a loop
 * that returns nothing): when it forked nothing and never used its scope, the scope takes the one
 * closed-with-`Exit.void` state and the shared exit is returned, so the attempt's end allocates
 * nothing at all.
 */
export const endVoid = (scope: Scope.Closeable): Effect.Effect<Exit.Exit<unknown, unknown>> => {
  return closeUnused(scope, closedVoidState) ? succeededVoid : endAttempt(scope, Exit.void)
}
