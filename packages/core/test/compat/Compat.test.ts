/**
 * What `src/internal/compat.ts` and the runtime around it assume about Effect, checked against the
 * installed release. A failure here after an Effect upgrade names the assumption that broke:
 * fix `compat.ts` (and the module the test names), not this test.
 */
import { AsyncLocalStorage } from "node:async_hooks"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Metric, Schedule, Scope, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { RestartPolicy, Supervisor, Task, TaskError } from "@fibervisor/core"
import { endAttempt, endInterrupted, endVoid, makeAttemptScope } from "../../src/internal/attemptScope.js"
import {
  addThree,
  captureAsyncContext,
  currentChildren,
  currentFiberInterrupted,
  enterUninterruptible,
  frame,
  InterruptBatch,
  isInterruptible,
  isNativeTracer,
  keepInterruption,
  later,
  live,
  MetricUpdater,
  pushFrame,
  regionEnd,
  runsNativeTracer,
  seriesIdentityOf,
  makeStepper,
  scheduleFromStep,
  stepSchedule,
  startUnstarted,
  unsafeCurrentService,
  unsafeForkRoot,
  unsafeForkWatched,
  unsafeInterruptChildrenNow,
  unsafeInterruptFork,
  unstartedDetachedIn,
  watchedTarget
} from "../../src/internal/compat.js"
import { Signal } from "../../src/internal/signal.js"

const Marker = Context.Service<{ readonly n: number }>("test/Compat/Marker")

describe("compat: forking root fibers", () => {
  it.effect("Effect.runForkWith evaluates at once (why compat forks on the next turn)", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      let ran = false
      const fiber = Effect.runForkWith(context)(Effect.sync(() => (ran = true)))
      // If this starts failing, Effect went back to a next-turn start: `nextTurn` can go.
      expect(ran).toBe(true)
      expect(fiber.pollUnsafe()).toBeDefined()
    })
  )

  it.effect("unsafeForkRoot: the fiber exists when it returns, has not run, and runs on a later turn", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const before = live.fibers
      let ran = false
      const exits: Array<Exit.Exit<number>> = []
      const fiber = unsafeForkWatched(
        context,
        Effect.sync(() => {
          ran = true
          return 1
        }),
        function (exit) {
          this.target.push(exit)
        },
        exits
      )
      expect(ran).toBe(false)
      expect(fiber.pollUnsafe()).toBeUndefined()
      expect(exits).toEqual([])
      expect(live.fibers).toBe(before + 1)
      const exit = yield* Fiber.await(fiber)
      expect(ran).toBe(true)
      expect(Exit.isSuccess(exit) && exit.value).toBe(1)
      expect(exits.length).toBe(1)
      expect(live.fibers).toBe(before)
    })
  )

  it.effect("unsafeForkWatched: a fiber interrupted before its first step still reports its exit", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      let ran = false
      const exits: Array<Exit.Exit<void>> = []
      const fiber = unsafeForkWatched(
        context,
        Effect.sync(() => {
          ran = true
        }),
        function (exit) {
          this.target.push(exit)
        },
        exits
      )
      fiber.interruptUnsafe(undefined)
      yield* Fiber.await(fiber)
      expect(ran).toBe(false)
      expect(exits.length).toBe(1)
      expect(Exit.hasInterrupts(exits[0]!)).toBe(true)
    })
  )

  it.effect("Effect's fiber class: a new fiber has not run, evaluate runs it, its private fields exist", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      // unsafeForkRoot makes fibers with this constructor and writes these fields (compat.ts `unstarted`).
      const done = Effect.runForkWith(context)(Effect.void) as unknown as {
        readonly constructor: new (context: Context.Context<never>, interruptible: boolean) => Record<string, unknown>
      }
      const fiber = new done.constructor(context, true) as unknown as Fiber.Fiber<number> & {
        _observers: unknown
        _asyncContext: unknown
        evaluate(effect: Effect.Effect<number>): void
      }
      expect("_observers" in fiber && "_asyncContext" in fiber).toBe(true)
      expect(fiber._observers).toBeUndefined()
      expect(fiber.pollUnsafe()).toBeUndefined()
      const seen: Array<Exit.Exit<number>> = []
      fiber._observers = [(exit: Exit.Exit<number>) => seen.push(exit)]
      fiber.evaluate(Effect.succeed(3))
      expect(seen.length).toBe(1)
      expect(Exit.isSuccess(seen[0]!) && seen[0].value).toBe(3)
    })
  )

  it.effect("unsafeForkWatched keeps both exit observers in one two-slot list", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const fiber = unsafeForkWatched(context, Effect.never, () => {}, undefined) as unknown as {
        _observers: Array<unknown>
      }
      expect(fiber._observers.length).toBe(2)
      ;(fiber as unknown as Fiber.Fiber<never>).interruptUnsafe(undefined)
      yield* Fiber.await(fiber as unknown as Fiber.Fiber<never>)
    })
  )

  it.effect(
    "unsafeForkWatched: Effect calls the shared observer on the list, whose target it reads; live counts it",
    () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<never>()
        const seen: Array<[string, Exit.Exit<unknown, unknown>]> = []
        function observer(this: { readonly target: string }, exit: Exit.Exit<unknown, unknown>) {
          seen.push([this.target, exit])
        }
        const before = live.fibers
        const a = unsafeForkWatched(context, Effect.succeed(1), observer, "a")
        const b = unsafeForkWatched(context, Effect.never, observer, "b")
        expect(live.fibers).toBe(before + 2)
        expect((a as unknown as { _observers: Array<unknown> })._observers.length).toBe(2)
        // One more observer, as Effect adds them (Fiber.await): the list takes it like any array.
        expect(yield* Fiber.await(a)).toEqual(Exit.succeed(1))
        b.interruptUnsafe(undefined)
        yield* Fiber.await(b)
        expect(seen.map(([target]) => target)).toEqual(["a", "b"])
        expect(seen[0]![1]).toEqual(Exit.succeed(1))
        expect(Exit.hasInterrupts(seen[1]![1] as Exit.Exit<unknown, unknown>)).toBe(true)
        expect(live.fibers).toBe(before)
      })
  )

  it.effect(
    "watchedTarget: a watched fiber's target is read from its observer list while it runs, after Fiber.await added to it",
    () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<never>()
        const gate = yield* Deferred.make<void>()
        const seen: Array<unknown> = []
        const fiber = unsafeForkWatched(
          context,
          Effect.andThen(
            Deferred.await(gate),
            Effect.withFiber((self) => Effect.sync(() => seen.push(watchedTarget(self))))
          ),
          () => {},
          "the target"
        )
        // Another waiter pushes its observer onto the same list (Effect keeps the list it was given).
        const waiting = yield* Effect.forkChild(Fiber.await(fiber))
        yield* Effect.yieldNow
        expect(watchedTarget(fiber)).toBe("the target")
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(waiting)
        expect(seen).toEqual(["the target"])
        // Effect drops the list once the fiber has exited; any other fiber has no target.
        expect(watchedTarget(fiber)).toBeUndefined()
        expect(watchedTarget(yield* Effect.withFiber((self) => Effect.succeed(self)))).toBeUndefined()
        expect(watchedTarget(undefined)).toBeUndefined()
      })
  )

  it.effect("a fiber from unsafeForkRoot runs in the async context of the code that forked it", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const storage = new AsyncLocalStorage<string>()
      // The flush that starts it is scheduled first, outside the store: only the fiber keeps it.
      later(() => {})
      const fiber = storage.run("forker", () =>
        unsafeForkRoot(
          context,
          Effect.sync(() => storage.getStore())
        )
      )
      expect(yield* Fiber.join(fiber)).toBe("forker")
    })
  )

  it.effect("a fiber from unstartedDetachedIn runs in the async context captured for it, and reports its exit", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      const storage = new AsyncLocalStorage<string>()
      const captured = storage.run("admission", () => captureAsyncContext())
      const exits: Array<Exit.Exit<string | undefined>> = []
      const fiber = storage.run("start", () =>
        unstartedDetachedIn<string | undefined, never, never>(context, captured, (exit) => exits.push(exit))
      )
      // Not started yet: nothing runs until startUnstarted.
      expect(fiber.pollUnsafe()).toBeUndefined()
      storage.run("start", () =>
        startUnstarted(
          fiber,
          Effect.sync(() => storage.getStore())
        )
      )
      expect(yield* Fiber.join(fiber)).toBe("admission")
      expect(exits).toEqual([Exit.succeed("admission")])
    })
  )

  it.effect("a root fiber runs with the given context and is interruptible whatever the caller's region", () =>
    Effect.gen(function* () {
      const context = Context.add(yield* Effect.context<never>(), Marker, { n: 7 })
      const seen = yield* Effect.uninterruptible(
        Effect.sync(() =>
          unsafeForkRoot(
            context,
            Effect.map(Effect.service(Marker), (m) => m.n)
          )
        )
      )
      expect(yield* Fiber.join(seen)).toBe(7)
      const idle = yield* Effect.uninterruptible(Effect.sync(() => unsafeForkRoot(context, Effect.never)))
      yield* Effect.yieldNow
      idle.interruptUnsafe(undefined)
      expect(Exit.hasInterrupts(yield* Fiber.await(idle))).toBe(true)
    })
  )
})

describe("compat: waking fibers", () => {
  it.effect("Effect 4 resumes a Deferred's waiter inside doneUnsafe (why fibervisor wakes through `later`)", () =>
    Effect.gen(function* () {
      const deferred = yield* Deferred.make<void>()
      let resumed = false
      yield* Effect.forkChild(
        Effect.andThen(
          Deferred.await(deferred),
          Effect.sync(() => (resumed = true))
        ),
        {
          startImmediately: true
        }
      )
      yield* Effect.sync(() => {
        Deferred.doneUnsafe(deferred, Effect.void)
        // If this fails, Effect schedules resumptions again: `later` could go.
        expect(resumed).toBe(true)
      })
    })
  )

  it.effect("a Signal's waiters resume after the current synchronous work, in order, on the scheduler", () =>
    Effect.gen(function* () {
      const signal = new Signal<number>()
      const seen: Array<string> = []
      yield* Effect.forkChild(
        Effect.map(signal.await, (n) => seen.push(`a${n}`)),
        { startImmediately: true }
      )
      yield* Effect.forkChild(
        Effect.map(signal.await, (n) => seen.push(`b${n}`)),
        { startImmediately: true }
      )
      yield* Effect.sync(() => {
        signal.complete(1)
        later(() => seen.push("later"))
        expect(seen).toEqual([])
      })
      // The wake-ups run as one task of the fiber's scheduler.
      yield* Effect.yieldNow
      expect(seen).toEqual(["a1", "b1", "later"])
    })
  )

  it.effect("private FiberImpl fields: _running is set while its loop runs, interruptible follows its region", () =>
    Effect.gen(function* () {
      type State = { readonly _running?: unknown; readonly interruptible?: unknown }
      const self = Fiber.getCurrent() as State
      expect(self._running).toBe(true)
      expect(self.interruptible).toBe(true)
      expect(yield* Effect.uninterruptible(Effect.sync(() => (Fiber.getCurrent() as State).interruptible))).toBe(false)
      const latch = yield* Deferred.make<void>()
      const idle = yield* Effect.forkChild(Deferred.await(latch), { startImmediately: true })
      expect((idle as unknown as State)._running).toBe(false)
      expect((idle as unknown as State).interruptible).toBe(true)
      const held = yield* Effect.forkChild(Effect.uninterruptible(Deferred.await(latch)), { startImmediately: true })
      expect((held as unknown as State).interruptible).toBe(false)
      yield* Deferred.succeed(latch, undefined)
      yield* Fiber.await(idle)
      yield* Fiber.await(held)
    })
  )

  it.effect("unsafeInterruptFork does not unwind a suspended interruptible fiber inside the call", () =>
    Effect.gen(function* () {
      let finalized = false
      const fiber = yield* Effect.forkChild(
        Effect.onInterrupt(Effect.never, () => Effect.sync(() => (finalized = true))),
        {
          startImmediately: true
        }
      )
      yield* Effect.sync(() => {
        unsafeInterruptFork(fiber, undefined)
        expect(finalized).toBe(false)
        expect(fiber.pollUnsafe()).toBeUndefined()
      })
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(finalized).toBe(true)
    })
  )

  it.effect(
    "unsafeInterruptFork records the interruption at once on an uninterruptible fiber woken in the same turn",
    () =>
      Effect.gen(function* () {
        const signal = new Signal<void>()
        let finishedRegion = false
        const fiber = yield* Effect.forkChild(
          Effect.uninterruptible(
            Effect.andThen(
              signal.await,
              Effect.sync(() => (finishedRegion = true))
            )
          ).pipe(Effect.andThen(Effect.succeed("went on after the region"))),
          { startImmediately: true }
        )
        yield* Effect.sync(() => {
          // A stop: wake the attempt (`cancelled`), then interrupt its fiber.
          signal.complete(undefined)
          unsafeInterruptFork(fiber, undefined)
        })
        const exit = yield* Fiber.await(fiber)
        expect(finishedRegion).toBe(true)
        expect(Exit.hasInterrupts(exit)).toBe(true)
      })
  )

  it.effect("unsafeInterruptFork on a fiber whose loop is running interrupts it at its next step", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      let after = false
      const fiber = unsafeForkRoot(
        context,
        Effect.withFiber((self) => {
          unsafeInterruptFork(self, undefined)
          return Effect.sync(() => (after = true))
        })
      )
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(after).toBe(false)
    })
  )
})

describe("compat: a fiber's children (private FiberImpl._children)", () => {
  it.effect("lists the fibers forkChild started, and drops each as it exits", () =>
    Effect.gen(function* () {
      expect(currentChildren()).toBeUndefined()
      const latch = yield* Deferred.make<void>()
      const child = yield* Effect.forkChild(Deferred.await(latch))
      const listed = currentChildren()
      // If this fails, Effect changed where a fiber keeps its children: see `WithChildren` in compat.ts.
      expect(listed).toEqual([child])
      yield* Deferred.succeed(latch, undefined)
      yield* Fiber.await(child)
      expect(currentChildren()).toBeUndefined()
    })
  )

  it.effect("does not list detached, scoped or racing fibers", () =>
    Effect.gen(function* () {
      const detached = yield* Effect.forkDetach(Effect.never)
      const scoped = yield* Effect.forkScoped(Effect.never)
      expect(currentChildren()).toBeUndefined()
      yield* Fiber.interrupt(detached)
      yield* Fiber.interrupt(scoped)
    })
  )

  it.effect("unsafeInterruptChildrenNow interrupts the children and waits until their finalizers have run", () =>
    Effect.gen(function* () {
      const finalized: Array<string> = []
      const grandchildEnded = yield* Deferred.make<void>()
      const child = yield* Effect.forkChild(
        Effect.gen(function* () {
          // A child's own children end with it.
          yield* Effect.forkChild(
            Effect.onInterrupt(Effect.never, () =>
              Effect.andThen(
                Effect.sync(() => finalized.push("grandchild")),
                Deferred.succeed(grandchildEnded, undefined)
              )
            )
          )
          return yield* Effect.never
        }).pipe(
          Effect.ensuring(
            Effect.andThen(
              Effect.sleep("10 millis"),
              Effect.sync(() => finalized.push("child"))
            )
          )
        )
      )
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      const wait = yield* Effect.suspend(() => Effect.succeed(unsafeInterruptChildrenNow()))
      expect(wait).toBeDefined()
      const waiting = yield* Effect.forkDetach(wait!)
      yield* Effect.yieldNow
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("10 millis")
      yield* Fiber.await(waiting)
      // A fiber's own finalizers run first, then its children are interrupted (at its exit).
      expect(finalized).toEqual(["child", "grandchild"])
      expect(child.pollUnsafe() !== undefined && Exit.hasInterrupts(child.pollUnsafe()!)).toBe(true)
      expect(yield* Effect.suspend(() => Effect.succeed(unsafeInterruptChildrenNow()))).toBeUndefined()
    })
  )

  it.effect("a racer of timeoutOrElse is a fresh fiber: the children it forks end with it", () =>
    Effect.gen(function* () {
      let childEnded = false
      const result = yield* Effect.timeoutOrElse(
        Effect.andThen(
          Effect.forkChild(
            Effect.onInterrupt(Effect.never, () => Effect.sync(() => (childEnded = true))),
            {
              startImmediately: true
            }
          ),
          Effect.succeed("done")
        ),
        { duration: "1 second", orElse: () => Effect.succeed("timed out") }
      )
      expect(result).toBe("done")
      expect(childEnded).toBe(true)
      expect(currentChildren()).toBeUndefined()
    })
  )
})

describe("compat: scopes", () => {
  it.effect("a scope is a record whose state is public; a late use of a closed scope acts as closed", () =>
    Effect.gen(function* () {
      const scope = Scope.makeUnsafe()
      expect(scope.state._tag).toBe("Empty")
      Scope.closeUnsafe(scope, Exit.void)
      expect(scope.state._tag).toBe("Closed")
      let ran = false
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => (ran = true))
      )
      expect(ran).toBe(true)
      const child = yield* Scope.fork(scope, "sequential")
      expect(child.state._tag).toBe("Closed")
      const fiber = yield* Effect.forkIn(Effect.never, scope)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
    })
  )

  it.effect(
    "Effect elects a typed failure to a defect when a finalizer dies (why endAttempt combines causes itself)",
    () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(Effect.ensuring(Effect.fail("boom"), Effect.die("finalizer")))
        expect(Exit.isFailure(exit) && Cause.hasFails(exit.cause)).toBe(false)
      })
  )

  it.effect("endAttempt keeps the attempt's typed failure beside a finalizer's defect", () =>
    Effect.gen(function* () {
      const scope = Scope.makeUnsafe()
      yield* Scope.addFinalizer(scope, Effect.die("finalizer"))
      const exit = yield* endAttempt(scope, Exit.fail("boom"))
      expect(Exit.isFailure(exit)).toBe(true)
      const cause = (exit as Exit.Failure<unknown, unknown>).cause
      expect(Cause.findErrorOption(cause)).toEqual(expect.objectContaining({ _tag: "Some", value: "boom" }))
      expect(Cause.hasDies(cause)).toBe(true)
      expect(scope.state._tag).toBe("Closed")
    })
  )

  it.effect("a typed failure whose attempt-scope finalizer dies is still read as that failure", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const handle = yield* sup.add(
        Task.make(
          "fatal",
          Effect.andThen(
            Effect.addFinalizer(() => Effect.die("cleanup broke")),
            Effect.fail(TaskError.fatal("gave up"))
          ),
          { logFailures: "none" }
        )
      )
      const outcome = yield* handle.await
      expect(outcome._tag).toBe("Fatal")
    })
  )

  it.effect("a typed failure whose own ensuring finalizer dies reaches the supervisor as a defect (Effect 4)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      const handle = yield* sup.add(
        Task.make("elected", Effect.ensuring(Effect.fail(TaskError.fatal("gave up")), Effect.die("cleanup broke")), {
          restart: RestartPolicy.never,
          logFailures: "none"
        })
      )
      const outcome = yield* handle.await
      expect(outcome).toMatchObject({ _tag: "Failed" })
      expect((outcome as { reason: string }).reason).toMatch(/^defect: /)
    })
  )

  it.effect("endVoid closes a scope nobody used with the shared closed state: it reads and acts as closed", () =>
    Effect.gen(function* () {
      const scope = makeAttemptScope()
      const first = yield* endVoid(scope)
      const other = makeAttemptScope()
      expect(first).toBe(yield* endVoid(other))
      expect(Exit.isSuccess(first) && first.value).toBe(undefined)
      expect(scope.state).toBe(other.state)
      expect(scope.state).toMatchObject({ _tag: "Closed", exit: Exit.void })
      let ran = false
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => (ran = true))
      )
      expect(ran).toBe(true)
      const fiber = yield* Effect.forkIn(Effect.never, scope)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      // The other scope is untouched by what was done to the first through the shared state.
      expect(other.state._tag).toBe("Closed")
    })
  )

  it.effect(
    "a stopped fiber's uninterruptible region: currentFiberInterrupted says so, and what the region returns is dropped",
    () =>
      Effect.gen(function* () {
        const inside = yield* Deferred.make<void>()
        const seen: Array<boolean> = []
        const fiber = yield* Effect.forkChild(
          Effect.uninterruptible(
            Effect.andThen(
              Effect.sync(() => seen.push(currentFiberInterrupted())),
              Effect.andThen(
                Deferred.succeed(inside, undefined),
                // Suspends uninterruptibly: the interruption is recorded, not acted on.
                Effect.andThen(
                  Effect.yieldNow,
                  Effect.sync(() => {
                    seen.push(currentFiberInterrupted())
                    return "dropped"
                  })
                )
              )
            )
          )
        )
        yield* Deferred.await(inside)
        yield* Fiber.interrupt(fiber)
        expect(seen).toEqual([false, true])
        const exit = yield* Fiber.await(fiber)
        expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
        expect(currentFiberInterrupted()).toBe(false)
      })
  )

  it.effect(
    "endInterrupted: a scope nobody used takes the shared closed-by-interruption state; a used one runs its finalizers with the cause",
    () =>
      Effect.gen(function* () {
        const quiet = makeAttemptScope()
        const other = makeAttemptScope()
        const first = yield* endInterrupted(quiet, Cause.interrupt(1))
        expect(yield* endInterrupted(other, Cause.interrupt(2))).toBe(first)
        expect(quiet.state).toBe(other.state)
        expect(quiet.state._tag).toBe("Closed")
        // A finalizer added afterwards runs at once, told of an interruption.
        const late: Array<Exit.Exit<unknown, unknown>> = []
        yield* Scope.addFinalizerExit(quiet, (exit) => Effect.sync(() => late.push(exit)))
        expect(late.length === 1 && Exit.hasInterrupts(late[0]!)).toBe(true)
        const used = makeAttemptScope()
        const told: Array<Exit.Exit<unknown, unknown>> = []
        yield* Scope.addFinalizerExit(used, (exit) => Effect.sync(() => told.push(exit)))
        const exit = yield* endInterrupted(used, Cause.interrupt(7))
        expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
        expect(told.length).toBe(1)
        expect(used.state._tag).toBe("Closed")
      })
  )

  it.effect("endVoid on a scope that holds a finalizer runs it (the general end)", () =>
    Effect.gen(function* () {
      const scope = makeAttemptScope()
      let ran = 0
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => ran++)
      )
      const exit = yield* endVoid(scope)
      expect([Exit.isSuccess(exit), ran, scope.state._tag]).toEqual([true, 1, "Closed"])
    })
  )

  it.effect("endAttempt on a scope nobody used closes it and allocates no effect", () =>
    Effect.gen(function* () {
      const scope = Scope.makeUnsafe()
      const exit = yield* endAttempt(scope, Exit.succeed(1))
      expect(exit).toEqual(Exit.succeed(1))
      expect(scope.state._tag).toBe("Closed")
    })
  )
})

describe("compat: the attempt scope (constant fields on its prototype)", () => {
  it.effect("Effect takes it for a scope: finalizers in reverse order, forks, forkIn, a late finalizer", () =>
    Effect.gen(function* () {
      const scope = makeAttemptScope()
      const fresh = Scope.makeUnsafe()
      for (const key of Object.keys(fresh)) expect(key in scope).toBe(true)
      expect(scope.strategy).toBe("sequential")
      expect(scope.parent).toBeUndefined()
      const order: Array<string> = []
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => order.push("first"))
      )
      const child = yield* Scope.fork(scope)
      yield* Scope.addFinalizer(
        child,
        Effect.sync(() => order.push("child"))
      )
      const fiber = yield* Effect.forkIn(Effect.never, scope)
      yield* Effect.provideService(
        Effect.addFinalizer(() => Effect.sync(() => order.push("provided"))),
        Scope.Scope,
        scope
      )
      yield* Scope.close(scope, Exit.void)
      expect(order).toEqual(["provided", "child", "first"])
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(scope.state._tag).toBe("Closed")
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => order.push("late"))
      )
      expect(order.at(-1)).toBe("late")
      // Each attempt scope has its own state.
      expect(makeAttemptScope().state._tag).toBe("Empty")
    })
  )
})

describe("compat: metric updates (the private `hook` of Effect's metrics)", () => {
  it.effect("a metric has hook(context); updates through MetricUpdater reach the context's registry", () =>
    Effect.gen(function* () {
      const counter = Metric.counter("test_compat_updater_total", { incremental: true })
      const gauge = Metric.gauge("test_compat_updater_gauge")
      expect(typeof (counter as unknown as { hook?: unknown }).hook).toBe("function")
      const updater = new MetricUpdater(counter)
      const gaugeUpdater = new MetricUpdater(gauge)
      const a = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
      const b = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
      updater.updateUnsafe(2, a)
      updater.updateUnsafe(3, a)
      updater.updateUnsafe(5, b)
      gaugeUpdater.modifyUnsafe(4, a)
      gaugeUpdater.modifyUnsafe(-1, a)
      expect((yield* Effect.provideContext(Metric.value(counter), a)).count).toBe(5)
      expect((yield* Effect.provideContext(Metric.value(counter), b)).count).toBe(5)
      expect((yield* Effect.provideContext(Metric.value(gauge), a)).value).toBe(3)
      expect(updater.id).toBe("test_compat_updater_total")
    })
  )

  it.effect(
    "MetricUpdater: another context with the same registry and attributes updates the same series; other attributes or another registry another",
    () =>
      Effect.gen(function* () {
        const counter = Metric.counter("test_compat_updater_series_total", { incremental: true })
        const updater = new MetricUpdater(counter)
        const registry = new Map()
        const base = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, registry)
        // Two contexts that differ only in a service that has nothing to do with metrics.
        const one = Context.add(base, Marker, { n: 1 })
        const two = Context.add(base, Marker, { n: 2 })
        const labelled = Context.add(base, Metric.CurrentMetricAttributes, { region: "eu" })
        const other = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
        updater.updateUnsafe(1, one)
        updater.updateUnsafe(2, two)
        updater.updateUnsafe(4, labelled)
        updater.updateUnsafe(8, one)
        updater.updateUnsafe(16, other)
        const count = (context: Context.Context<never>) =>
          Effect.provideContext(Metric.value(counter), context).pipe(Effect.map((state) => state.count))
        expect(yield* count(one)).toBe(11)
        expect(yield* count(labelled)).toBe(4)
        expect(yield* count(other)).toBe(16)
        expect(registry.size).toBe(2)
      })
  )
})

describe("compat: series identities", () => {
  it.effect("seriesIdentityOf: one identity per (registry, attributes); contexts that differ otherwise share it", () =>
    Effect.gen(function* () {
      const registry = new Map()
      const base = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, registry)
      const one = Context.add(base, Marker, { n: 1 })
      const two = Context.add(base, Marker, { n: 2 })
      const attributes = { region: "eu" }
      const labelled = Context.add(base, Metric.CurrentMetricAttributes, attributes)
      const labelledToo = Context.add(one, Metric.CurrentMetricAttributes, attributes)
      const other = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
      expect(seriesIdentityOf(one)).toBe(seriesIdentityOf(two))
      expect(seriesIdentityOf(two)).toBe(seriesIdentityOf(base))
      expect(seriesIdentityOf(labelled)).toBe(seriesIdentityOf(labelledToo))
      expect(seriesIdentityOf(labelled)).not.toBe(seriesIdentityOf(one))
      expect(seriesIdentityOf(other)).not.toBe(seriesIdentityOf(one))
      // Asked again after others (the remembered context is the last one only).
      expect(seriesIdentityOf(one)).toBe(seriesIdentityOf(base))
    })
  )

  it.effect(
    "MetricUpdater.update / modify with an identity: updates alternating between registries each reach their own",
    () =>
      Effect.gen(function* () {
        const counter = Metric.counter("test_compat_identity_total", { incremental: true })
        const gauge = Metric.gauge("test_compat_identity_gauge")
        const counts = new MetricUpdater(counter)
        const levels = new MetricUpdater(gauge)
        const a = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
        const b = Context.add(yield* Effect.context<never>(), Metric.MetricRegistry, new Map())
        const ia = seriesIdentityOf(a)
        const ib = seriesIdentityOf(b)
        for (let i = 0; i < 3; i++) {
          counts.update(1, a, ia)
          counts.update(10, b, ib)
          levels.modify(2, a, ia)
          levels.modify(-1, b, ib)
        }
        const count = (context: Context.Context<never>) =>
          Effect.provideContext(Metric.value(counter), context).pipe(Effect.map((state) => state.count))
        const level = (context: Context.Context<never>) =>
          Effect.provideContext(Metric.value(gauge), context).pipe(Effect.map((state) => state.value))
        expect([yield* count(a), yield* count(b)]).toEqual([3, 30])
        expect([yield* level(a), yield* level(b)]).toEqual([6, -3])
      })
  )
})

describe("compat: schedules", () => {
  it.effect("a stepper gives relative delays and undefined when done; a new stepper starts over", () =>
    Effect.gen(function* () {
      const schedule = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 2 }))
      const step = yield* makeStepper(schedule)
      const delays: Array<number | undefined> = []
      for (let i = 0; i < 4; i++) delays.push((yield* stepSchedule(step, 1_000 + i, undefined))?.delayMs)
      expect(delays).toEqual([100, 200, undefined, undefined])
      const again = yield* makeStepper(schedule)
      expect((yield* stepSchedule(again, 0, undefined))?.delayMs).toBe(100)
    })
  )

  it.effect("scheduleFromStep keeps its state per stepper and stops on an undefined delay", () =>
    Effect.gen(function* () {
      const schedule = scheduleFromStep<number, unknown, number, never>(0, (_now, _input, n) =>
        Effect.succeed([n + 1, n, n < 2 ? (n + 1) * 10 : undefined] as const)
      )
      const step = yield* makeStepper(schedule)
      const outs: Array<unknown> = []
      for (let i = 0; i < 4; i++) outs.push(yield* stepSchedule(step, 0, undefined))
      expect(outs).toEqual([{ output: 0, delayMs: 10 }, { output: 1, delayMs: 20 }, undefined, undefined])
      expect(yield* stepSchedule(yield* makeStepper(schedule), 0, undefined)).toEqual({ output: 0, delayMs: 10 })
    })
  )

  it.effect("a schedule whose step dies fails the step with the defect", () =>
    Effect.gen(function* () {
      const schedule = scheduleFromStep<number, unknown, number, never>(0, () => Effect.die("broken"))
      const exit = yield* Effect.exit(Effect.flatMap(makeStepper(schedule), (step) => stepSchedule(step, 0, 1)))
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(true)
    })
  )
})

describe("compat: context", () => {
  it.effect("addThree gives what three Context.add give: every service, the newest first, the same fiber cache", () =>
    Effect.gen(function* () {
      class A extends Context.Service<A, string>()("test/compat/A") {}
      class B extends Context.Service<B, string>()("test/compat/B") {}
      class C extends Context.Service<C, string>()("test/compat/C") {}
      const caller = Context.add(Context.add(Context.empty(), A, "old-a"), B, "old-b") as Context.Context<never>
      const three = addThree(caller, A, "a", B, "b", C, "c")
      const chained = Context.add(Context.add(Context.add(caller, A, "a"), B, "b"), C, "c")
      for (const key of [A, B, C]) expect(Context.get(three, key as never)).toBe(Context.get(chained, key as never))
      expect([...three.mapUnsafe.entries()]).toEqual([...chained.mapUnsafe.entries()])
      const internals = (context: unknown) => context as { cacheRoot: unknown; depth: number; maxDepth: number }
      expect(internals(three).cacheRoot).toBe(internals(caller).cacheRoot)
      expect(internals(three).depth).toBe(internals(chained).depth)
      // The caller's context is not changed.
      expect(Context.get(caller, A as never)).toBe("old-a")
      expect(Context.getOrUndefined(caller, C as never)).toBe(undefined)
      // A fiber runs with it as with the chained one.
      const read = yield* Effect.provideContext(Effect.all([A, B, C]), three as Context.Context<A | B | C>)
      expect(read).toEqual(["a", "b", "c"])
    })
  )

  it.effect("addThree's record has the fields of a record Effect makes, in order, and Effect's prototype", () =>
    Effect.sync(() => {
      class A extends Context.Service<A, string>()("test/compat/shape/A") {}
      class B extends Context.Service<B, string>()("test/compat/shape/B") {}
      class C extends Context.Service<C, string>()("test/compat/shape/C") {}
      const caller = Context.add(Context.empty(), A, "old-a") as Context.Context<never>
      const three = addThree(caller, A, "a", B, "b", C, "c")
      const effects = Context.add(caller, B, "b")
      expect(Object.keys(three)).toEqual(Object.keys(effects))
      expect(Context.isContext(three)).toBe(true)
      expect(Object.getPrototypeOf(Object.getPrototypeOf(three))).toBe(Object.getPrototypeOf(effects))
      // Effect's lookups may flatten it in place (after enough reads of the base): it still reads right.
      for (let i = 0; i < 20; i++) expect(Context.get(three, A as never)).toBe("a")
      const merged = Context.merge(three, Context.make(C, "merged"))
      expect([Context.get(merged, A as never), Context.get(merged, B as never), Context.get(merged, C)]).toEqual([
        "a",
        "b",
        "merged"
      ])
    })
  )

  it.effect(
    "addThree falls back to three adds past the overlay depth limit, and for a key that starts a fiber cache",
    () =>
      Effect.sync(() => {
        class A extends Context.Service<A, string>()("test/compat/deep/A") {}
        class B extends Context.Service<B, string>()("test/compat/deep/B") {}
        let deep = Context.empty() as Context.Context<never>
        for (let i = 0; i < 7; i++) deep = Context.add(deep, Context.Service<string>(`test/compat/deep/${i}`), `${i}`)
        const three = addThree(deep, A, "a", B, "b", Tracer.ParentSpan as never, undefined as never)
        expect(Context.get(three, A as never)).toBe("a")
        expect(Context.get(three, B as never)).toBe("b")
        for (let i = 0; i < 7; i++)
          expect(Context.get(three, Context.Service<string>(`test/compat/deep/${i}`) as never)).toBe(`${i}`)
        // Effect flattened the overlays into a map rather than pass its depth limit.
        const internals = three as unknown as { depth: number; maxDepth: number }
        expect(internals.depth).toBeLessThanOrEqual(internals.maxDepth)
        const scheduled = addThree(
          Context.empty(),
          A,
          "a",
          B,
          "b",
          Tracer.Tracer as never,
          Tracer.nativeTracer as never
        )
        expect((scheduled as unknown as { cacheRoot: unknown }).cacheRoot).toBe(scheduled)
        expect(Context.get(scheduled, Tracer.Tracer)).toBe(Tracer.nativeTracer)
      })
  )

  it.effect("the default tracer is Tracer.nativeTracer; another one is not", () =>
    Effect.gen(function* () {
      expect(isNativeTracer(yield* Effect.context<never>())).toBe(true)
      const custom = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })
      expect(custom).not.toBe(Tracer.nativeTracer)
      const context = Context.add(yield* Effect.context<never>(), Tracer.Tracer, custom)
      expect(isNativeTracer(context)).toBe(false)
      // The fiber's cache says the same of the context it runs with (Fiber.Cache.tracer).
      expect(yield* Effect.withFiber((fiber) => Effect.succeed(runsNativeTracer(fiber)))).toBe(true)
      const traced = Effect.withFiber((fiber) => Effect.succeed(runsNativeTracer(fiber)))
      expect(yield* Effect.withTracer(traced, custom)).toBe(false)
      expect(yield* Effect.withTracer(traced, Tracer.nativeTracer)).toBe(true)
    })
  )

  it.effect("unsafeCurrentService reads the running fiber's context", () =>
    Effect.gen(function* () {
      expect(unsafeCurrentService(Marker)).toBeUndefined()
      const seen = yield* Effect.provideService(
        Effect.suspend(() => Effect.succeed(unsafeCurrentService(Marker))),
        Marker,
        { n: 3 }
      )
      expect(seen).toEqual({ n: 3 })
    })
  )

  it.effect("timeout inside an uninterruptible region interrupts the timed effect (why only waits are timed)", () =>
    Effect.gen(function* () {
      let interrupted = false
      const fiber = yield* Effect.forkChild(
        Effect.uninterruptible(
          Effect.timeoutOption(
            Effect.onInterrupt(Effect.sleep("200 millis"), () => Effect.sync(() => (interrupted = true))),
            "20 millis"
          )
        )
      )
      yield* TestClock.adjust("20 millis")
      yield* Effect.yieldNow
      const result = yield* Fiber.join(fiber)
      expect(result._tag).toBe("None")
      expect(interrupted).toBe(true)
    })
  )
})

describe("compat: frames (Effect 4's continuation keys, FiberImpl._stack)", () => {
  const trace: Array<string> = []
  const tracing = frame({
    enter: (fiber) => {
      trace.push(`enter interruptible=${isInterruptible(fiber)}`)
    },
    onSuccess: (value) => {
      trace.push(`success ${String(value)}`)
      return Effect.succeed(`handled ${String(value)}`)
    },
    onFailure: (cause) => {
      trace.push(`failure ${Cause.pretty(cause).split("\n")[0]}`)
      return Effect.succeed("recovered")
    }
  })
  const withFrame = <A, E>(effect: Effect.Effect<A, E>) =>
    Effect.withFiber((fiber) => {
      pushFrame(fiber, tracing)
      return effect
    })

  it.effect("a frame gets the value or the cause of the effect above it, after its enter", () =>
    Effect.gen(function* () {
      trace.length = 0
      expect(yield* withFrame(Effect.succeed(1))).toBe("handled 1")
      expect(yield* withFrame(Effect.fail("boom"))).toBe("recovered")
      expect(yield* withFrame(Effect.die(new Error("dead")))).toBe("recovered")
      expect(trace).toEqual([
        "enter interruptible=true",
        "success 1",
        "enter interruptible=true",
        "failure Error: boom",
        "enter interruptible=true",
        "failure Error: dead"
      ])
    })
  )

  it.effect("a frame without a handler for the outcome passes it to the frame below", () =>
    Effect.gen(function* () {
      const entered: Array<string> = []
      const onlyEnter = frame({ enter: () => entered.push("entered") })
      const exit = yield* Effect.exit(
        Effect.withFiber((fiber) => {
          pushFrame(fiber, onlyEnter)
          return Effect.fail("passed on")
        })
      )
      expect(exit).toEqual(Exit.fail("passed on"))
      const value = yield* Effect.withFiber((fiber) => {
        pushFrame(fiber, onlyEnter)
        return Effect.succeed(7)
      })
      expect(value).toBe(7)
      expect(entered).toEqual(["entered", "entered"])
    })
  )

  // The attempt's shape (taskAttempt.beginAttempt): regionEnd, then a frame entering the region.
  const region = <A>(body: Effect.Effect<A>, end: (value: A | "failed") => Effect.Effect<A | "failed">) => {
    const ending = frame({
      enter: enterUninterruptible,
      onSuccess: (value: A) => end(value),
      onFailure: () => end("failed")
    })
    return Effect.withFiber((fiber) => {
      pushFrame(fiber, regionEnd)
      pushFrame(fiber, ending)
      return body
    })
  }

  it.effect("regionEnd: an interruption during the region takes effect at its end; the region's value is dropped", () =>
    Effect.gen(function* () {
      const inEnd = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const after: Array<string> = []
      const fiber = yield* Effect.forkChild(
        Effect.andThen(
          region(Effect.succeed("body"), (value) =>
            Effect.andThen(
              Deferred.succeed(inEnd, undefined),
              Effect.as(Deferred.await(release), `ended ${String(value)}`)
            )
          ),
          (value) => Effect.sync(() => after.push(String(value)))
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(inEnd)
      // The end is uninterruptible: the interruption waits for it.
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(fiber), { startImmediately: true })
      yield* Effect.yieldNow
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.await(interrupting)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(after).toEqual([])
    })
  )

  it.effect("regionEnd: without an interruption the region's value goes on, and the fiber is interruptible again", () =>
    Effect.gen(function* () {
      const value = yield* Effect.andThen(
        region(Effect.succeed("body"), (value) => Effect.succeed(`ended ${String(value)}`)),
        (value) => Effect.withFiber((fiber) => Effect.succeed(`${value} interruptible=${isInterruptible(fiber)}`))
      )
      expect(value).toBe("ended body interruptible=true")
    })
  )

  it.effect("an interruption of the body unwinds to the entering frame, whose end runs uninterruptibly", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const ends: Array<string> = []
      const fiber = yield* Effect.forkChild(
        region(Effect.andThen(Deferred.succeed(started, undefined), Effect.never), (value) =>
          Effect.withFiber((fiber) => {
            ends.push(
              `${String(value)} interruptible=${isInterruptible(fiber)} interrupted=${currentFiberInterrupted()}`
            )
            return Effect.succeed(value)
          })
        ),
        { startImmediately: true }
      )
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(ends).toEqual(["failed interruptible=false interrupted=true"])
    })
  )

  it.effect("a fiber from unsafeForkRoot starts with an empty stack that grows past four frames", () =>
    Effect.gen(function* () {
      const deep = (n: number): Effect.Effect<number> =>
        n === 0
          ? Effect.succeed(0)
          : Effect.map(
              Effect.flatMap(Effect.void, () => deep(n - 1)),
              (x) => x + 1
            )
      const fiber = unsafeForkRoot(yield* Effect.context<never>(), deep(50))
      expect((fiber as unknown as { _stack: Array<unknown> })._stack).toEqual([])
      expect(yield* Fiber.join(fiber)).toBe(50)
    })
  )
})

describe("compat: stopping fibers together (InterruptBatch) and the kept interruption", () => {
  it.effect("a batch interrupts suspended fibers after the current work, before later callbacks, in order", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const fibers = Array.from({ length: 3 }, (_, i) =>
        unsafeForkRoot(
          Context.empty(),
          Effect.onInterrupt(Effect.never, () => Effect.sync(() => order.push(`stopped ${i}`)))
        )
      )
      yield* Effect.yieldNow
      const batch = new InterruptBatch(fibers.length, undefined)
      for (const fiber of fibers) batch.add(fiber)
      const laterRan = yield* Deferred.make<void>()
      later(() => {
        order.push("later")
        Deferred.doneUnsafe(laterRan, Exit.void)
      })
      batch.send()
      expect(order).toEqual([])
      yield* Deferred.await(laterRan)
      expect(order).toEqual(["stopped 0", "stopped 1", "stopped 2", "later"])
      for (const fiber of fibers) expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
    })
  )

  it.effect("a batch interrupts an uninterruptible fiber at once (it acts when its region ends)", () =>
    Effect.gen(function* () {
      const latch = yield* Deferred.make<void>()
      const held = yield* Effect.forkChild(Effect.uninterruptible(Deferred.await(latch)), { startImmediately: true })
      const batch = new InterruptBatch(1, undefined)
      batch.add(held)
      batch.send()
      // Recorded now (not queued): the fiber's pending interruption is visible before any flush.
      expect((held as unknown as { _interruptedCause?: unknown })._interruptedCause).toBeDefined()
      yield* Deferred.succeed(latch, undefined)
      expect(Exit.hasInterrupts(yield* Fiber.await(held))).toBe(true)
    })
  )

  // [recorder, regionEnd, ending]: `ending` ends the region on a stop, `recorder` (uninterruptible
  // again as it is popped, so Effect hands it the exit as it is) sees what the region ended with.
  const stoppedRegion = (
    kept: (exit: Exit.Exit<unknown, unknown> | undefined) => Exit.Exit<unknown, unknown> | undefined
  ) =>
    Effect.gen(function* () {
      const arrived: Array<Exit.Exit<unknown, unknown> | undefined> = []
      const seen: Array<Exit.Exit<unknown, unknown> | undefined> = []
      const recorder = frame({
        enter: enterUninterruptible,
        onFailure: (_cause, _fiber, exit) => {
          seen.push(exit)
          return Effect.void
        }
      })
      const ending = frame({
        enter: enterUninterruptible,
        onFailure: (_cause, _fiber, exit) => {
          arrived.push(exit)
          keepInterruption(kept(exit))
          return Effect.void
        }
      })
      const started = yield* Deferred.make<void>()
      const fiber = unsafeForkRoot(
        Context.empty(),
        Effect.withFiber((fiber) => {
          pushFrame(fiber, recorder)
          pushFrame(fiber, regionEnd)
          pushFrame(fiber, ending)
          return Effect.andThen(Deferred.succeed(started, undefined), Effect.never)
        })
      )
      yield* Deferred.await(started)
      fiber.interruptUnsafe(777)
      yield* Fiber.await(fiber)
      return { arrived, seen }
    })

  it.effect("a stopped fiber's region ends with the exit its interruption arrived in, kept by keepInterruption", () =>
    Effect.gen(function* () {
      const { arrived, seen } = yield* stoppedRegion((exit) => exit)
      expect(arrived).toHaveLength(1)
      expect(arrived[0]).toBeDefined()
      expect(seen).toHaveLength(1)
      expect(seen[0]).toBe(arrived[0])
    })
  )

  it.effect("a kept exit of another interruption is not used: the region ends with the fiber's own", () =>
    Effect.gen(function* () {
      const other = Exit.interrupt(12345)
      const { arrived, seen } = yield* stoppedRegion(() => other)
      expect(seen).toHaveLength(1)
      expect(seen[0]).not.toBe(other)
      expect(seen[0]).not.toBe(arrived[0])
      const exit = seen[0]!
      expect(Exit.isFailure(exit) && Cause.interruptors(exit.cause)).toEqual(new Set([777]))
    })
  )
})

describe("compat: later's queue keeps its slots between flushes", () => {
  const flushOf = (n: number, ran: Array<number>) =>
    Effect.gen(function* () {
      const done = yield* Deferred.make<void>()
      for (let i = 0; i < n; i++) later(() => ran.push(i))
      later(() => Deferred.doneUnsafe(done, Exit.void))
      yield* Deferred.await(done)
    })

  it.effect(
    "every callback runs once, in order, after a small flush, a large one (its slots let go) and a small one again",
    () =>
      Effect.gen(function* () {
        for (const n of [10, 3, 10_000, 2, 0, 5]) {
          const ran: Array<number> = []
          yield* flushOf(n, ran)
          expect(ran).toEqual(Array.from({ length: n }, (_, i) => i))
        }
      })
  )

  it.effect("fiber starts and callbacks share the queue in the order they were asked for", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const done = yield* Deferred.make<void>()
      later(() => order.push("a"))
      const fiber = unsafeForkRoot(
        Context.empty(),
        Effect.sync(() => order.push("fiber"))
      )
      later(() => order.push("b"))
      later(() => Deferred.doneUnsafe(done, Exit.void))
      yield* Deferred.await(done)
      yield* Fiber.await(fiber)
      expect(order).toEqual(["a", "fiber", "b"])
    })
  )
})
