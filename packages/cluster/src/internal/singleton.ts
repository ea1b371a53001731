/**
 * `Task.singleton`: the attempt that runs a tree on one replica of the cluster at a time.
 *
 * Data flow of one attempt of the outer task (added on every replica):
 * 1. **Standby.** The attempt shows `standby` (`TaskContext.setStandby`) and polls the lease
 *    store every `refreshInterval` (`acquire`), emitting `SingletonStandby` when the owner it
 *    sees changes. A store error is logged and retried.
 * 2. **Owner.** On acquisition (a new, strictly larger epoch) it shows `running`, emits
 *    `SingletonAcquired`, and runs the tree's attempt in a child fiber, with `SingletonContext`
 *    and a fresh `Scope`. A keeper fiber refreshes the lease every `refreshInterval`.
 * 3. **End of ownership**, whichever comes first:
 *    - the tree ends: the lease is released, `SingletonReleased` (`failed` / `completed`); a failure
 *      fails the attempt, so the outer task's restart policy and backoff decide what follows
 *      (Effect's own singletons are never restarted);
 *    - the lease is lost (a refresh or `confirmOwnership` finds it taken or expired, or the store
 *      cannot confirm it before `validUntil − handoffGrace`): the tree is interrupted and given
 *      `handoffGrace`, `SingletonReleased` (`lock-lost`), then back to standby in the same attempt;
 *    - the outer task is stopped (remove, cancel, shutdown): the tree is interrupted and given
 *      `handoffGrace` while the keeper still refreshes (no one else can start it meanwhile), then
 *      the lease is released, `SingletonReleased` (`handoff`).
 *
 * Invariants:
 * - `validUntil` is measured from the moment a successful refresh was *sent*, on the local
 *   clock: it never exceeds the store's own expiry, so a replica that stops its tree by
 *   `validUntil` has stopped it before anyone else can acquire (barring a process pause: the
 *   documented caveat, which the epoch closes for stores that check it).
 * - A tree that did not stop within `handoffGrace` is abandoned (logged); this replica does not
 *   take the lease again until that fiber has really exited.
 * - Every store call is bounded in time by the deadline it serves; none blocks a hand-off.
 *
 * @internal
 */
import { TaskContext } from "@fibervisor/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { InvalidSingletonOptions, OwnershipLost } from "../ClusterError.js"
import { ClusterSupervisor } from "../ClusterSupervisor.js"
import { SingletonContext } from "../SingletonContext.js"
import { metricsOf } from "./singletonMetrics.js"
import { checkGrace, type SingletonSettings } from "./options.js"

/** One attempt of the tree. */
export type Attempt<E, R> = Effect.Effect<unknown, E, R | TaskContext.TaskContext | Scope.Scope>

/** Why an ownership ended. */
type ReleaseReason = "handoff" | "lock-lost" | "failed" | "completed"

const sleepMs = (ms: number) => Effect.sleep(Duration.millis(Math.max(0, ms)))

/** One line about a failed store call: the error's tag and message, or the cause's first line. */
const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.findErrorOption(cause)
  const value = Option.isSome(error) ? error.value : undefined
  const text =
    value instanceof Error
      ? `${"_tag" in value && typeof value._tag === "string" ? value._tag : value.name}: ${value.message}`
      : (Cause.pretty(cause).split("\n")[0] ?? "")
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

/** The error of a refused option; its `reason` names the field (a task outcome shows only the reason). */
export const invalidOptions = (task: string, problem: { readonly field: string; readonly reason: string }) =>
  new InvalidSingletonOptions({ task, field: problem.field, reason: `${problem.field} ${problem.reason}` })

/** The outer attempt: standby until the lease is ours, run the tree, give the lease up; repeat on loss. */
export const attempt = <E, R>(
  tree: Attempt<E, R>,
  settings: SingletonSettings
): Effect.Effect<unknown, E | InvalidSingletonOptions, R | ClusterSupervisor | TaskContext.TaskContext | Scope.Scope> =>
  Effect.gen(function* () {
    const cluster = yield* ClusterSupervisor
    const context = yield* TaskContext.TaskContext
    const name = settings.name ?? context.name
    const grace = checkGrace(settings.handoffGraceMs, cluster)
    if (Result.isFailure(grace)) {
      return yield* Effect.fail(invalidOptions(context.name, grace.failure))
    }
    const owner = new Ownership(cluster, name, grace.success)
    yield* TaskContext.setStandby(true)
    return yield* Effect.annotateLogs(run(owner, tree, cluster.refreshIntervalMs), { singleton: name })
  })

/** Lets one region be interrupted inside an uninterruptible one (`Effect.uninterruptibleMask`). */
type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

// Uninterruptible but for the waits: a stop that arrives between acquiring the lease and starting
// the tree is seen in the ownership's race, whose handler hands the lease off.
const run = <E, R>(owner: Ownership, tree: Attempt<E, R>, refreshIntervalMs: number) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      for (;;) {
        const acquired = yield* restore(owner.standby)
        const end = yield* owner.own(acquired.epoch, acquired.validUntil, tree, restore)
        if (end._tag === "TreeEnded") {
          if (Exit.isSuccess(end.exit)) return end.exit.value
          return yield* Effect.failCause(end.exit.cause)
        }
        // The lease was lost: back to standby in the same attempt (not a failure of the tree), after
        // one refresh interval (a store that keeps granting and revoking must not make a hot loop).
        yield* TaskContext.setStandby(true)
        yield* restore(sleepMs(refreshIntervalMs))
      }
    })
  )

type OwnEnd<E> = { readonly _tag: "TreeEnded"; readonly exit: Exit.Exit<unknown, E> } | { readonly _tag: "Lost" }

/** One replica's relation to one singleton's lease, across the ownerships of one attempt. */
class Ownership {
  private readonly metrics
  private readonly runner: string
  /** The owner last reported in a `SingletonStandby` (`null`: none; `undefined`: nothing reported yet). */
  private seenOwner: string | null | undefined = undefined
  private seenEpoch: number | undefined = undefined
  /** A tree abandoned after its hand-off grace: no new ownership until it has exited. */
  private abandoned: Fiber.Fiber<unknown, unknown> | undefined = undefined

  constructor(
    private readonly cluster: ClusterSupervisor,
    private readonly name: string,
    private readonly graceMs: number
  ) {
    this.metrics = metricsOf(name)
    this.runner = cluster.runnerId
  }

  /** Polls until the lease is ours; returns its epoch and how long it is valid on the local clock. */
  get standby(): Effect.Effect<
    { readonly epoch: number; readonly validUntil: number },
    never,
    TaskContext.TaskContext
  > {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    const { cluster, name, runner } = this
    const poll: Effect.Effect<
      Option.Option<{ epoch: number; validUntil: number }>,
      never,
      TaskContext.TaskContext
    > = Effect.gen(function* () {
      if (self.abandoned !== undefined) {
        // Never run beside a tree of ours that did not stop: wait for it, however long.
        yield* Effect.logError(`singleton "${name}": waiting for an abandoned tree to exit before taking the lease`)
        yield* Fiber.await(self.abandoned)
        self.abandoned = undefined
      }
      const sentAt = yield* Clock.currentTimeMillis
      const result = yield* cluster.leases.acquire(name, runner, cluster.expiryMs).pipe(
        Effect.timeoutOption(Duration.millis(cluster.refreshIntervalMs)),
        Effect.catchCause((cause) =>
          Effect.as(Effect.logWarning(`singleton "${name}": lease store: ${describe(cause)}`), Option.none())
        )
      )
      if (Option.isSome(result) && result.value._tag === "Acquired") {
        return Option.some({ epoch: result.value.epoch, validUntil: sentAt + cluster.expiryMs })
      }
      const holder = Option.isSome(result) && result.value._tag === "Held" ? result.value : undefined
      const seen = holder?.owner ?? null
      if (seen !== self.seenOwner || holder?.epoch !== self.seenEpoch) {
        self.seenOwner = seen
        self.seenEpoch = holder?.epoch
        yield* TaskContext.emit({
          _tag: "SingletonStandby",
          name,
          runner,
          ...(holder === undefined ? {} : { owner: holder.owner, epoch: holder.epoch })
        })
        yield* Metric.update(self.metrics.owned, 0)
      }
      yield* sleepMs(cluster.refreshIntervalMs)
      return Option.none()
    })
    return Effect.gen(function* () {
      for (;;) {
        const got = yield* poll
        if (Option.isSome(got)) return got.value
      }
    })
  }

  /** Runs the tree as the owner of `epoch` until it ends, the lease is lost, or the attempt is stopped. */
  own<E, R>(
    epoch: number,
    validUntil: number,
    tree: Attempt<E, R>,
    restore: Restore
  ): Effect.Effect<OwnEnd<E>, never, R | TaskContext.TaskContext | Scope.Scope> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    const { cluster, name, runner, graceMs, metrics } = this
    return Effect.gen(function* () {
      self.seenOwner = undefined
      self.seenEpoch = undefined
      const lease = { validUntil, lost: false }
      const lost = yield* Deferred.make<string>()
      const markLost = (reason: string) =>
        Effect.suspend(() => {
          lease.lost = true
          return Deferred.succeed(lost, reason)
        })
      const refreshOnce = (deadline: number) =>
        Effect.gen(function* () {
          const sentAt = yield* Clock.currentTimeMillis
          const ok = yield* cluster.leases
            .refresh(name, runner, epoch, cluster.expiryMs)
            .pipe(Effect.timeoutOption(Duration.millis(Math.max(1, deadline - sentAt))))
          if (Option.isSome(ok) && ok.value) lease.validUntil = Math.max(lease.validUntil, sentAt + cluster.expiryMs)
          return ok
        })
      const confirmOwnership: Effect.Effect<void, OwnershipLost> = Effect.gen(function* () {
        const fail = (reason: string) => Effect.fail(new OwnershipLost({ name, epoch, reason }))
        if (lease.lost) return yield* fail("the lease is gone")
        const now = yield* Clock.currentTimeMillis
        if (now >= lease.validUntil) {
          yield* markLost("the lease expired before it could be refreshed")
          return yield* fail("the lease expired before it could be refreshed")
        }
        const answer = yield* refreshOnce(lease.validUntil).pipe(
          Effect.map((ok) => (Option.isNone(ok) ? ("timeout" as const) : ok.value)),
          Effect.catchCause((cause) => Effect.succeed(`store error: ${describe(cause)}`))
        )
        if (answer === "timeout") return yield* fail("the store did not answer before the lease's deadline")
        if (typeof answer === "string") return yield* fail(`could not confirm: ${answer}`)
        if (!answer) {
          yield* markLost("taken or expired (confirmOwnership)")
          return yield* fail("taken by another replica, or expired")
        }
      })
      // Refreshes every refreshInterval; stops when the lease is taken, or when it could not be
      // confirmed early enough to leave the tree its whole hand-off grace before the expiry.
      const keeper = Effect.gen(function* () {
        for (;;) {
          const now = yield* Clock.currentTimeMillis
          const stopAt = lease.validUntil - graceMs
          if (now >= stopAt) return yield* markLost("not refreshed in time (store unreachable or slow)")
          yield* sleepMs(Math.min(cluster.refreshIntervalMs, stopAt - now))
          if (lease.lost) return
          const at = yield* Clock.currentTimeMillis
          if (at >= lease.validUntil - graceMs) continue
          const ok = yield* refreshOnce(lease.validUntil - graceMs).pipe(
            Effect.catchCause((cause) =>
              Effect.as(
                Effect.logWarning(`singleton "${name}": lease refresh failed: ${describe(cause)}`),
                Option.none()
              )
            )
          )
          if (Option.isSome(ok) && !ok.value) return yield* markLost("taken by another replica, or expired")
        }
      })

      yield* TaskContext.setStandby(false)
      yield* Metric.update(metrics.owned, 1)
      yield* Metric.update(metrics.epoch, epoch)
      yield* TaskContext.emit({ _tag: "SingletonAcquired", name, epoch, runner })
      yield* Effect.logInfo(`singleton "${name}": acquired, epoch ${epoch}`)

      const singleton: SingletonContext = { name, epoch, runner, confirmOwnership }
      const keeperFiber = yield* Effect.forkChild(restore(keeper))
      const treeFiber = yield* Effect.forkChild(
        restore(Effect.scoped(tree).pipe(Effect.provideService(SingletonContext, singleton))) as Effect.Effect<
          unknown,
          E,
          R | TaskContext.TaskContext
        >
      )

      const release = (reason: ReleaseReason) =>
        Effect.gen(function* () {
          yield* Fiber.interrupt(keeperFiber)
          // Matches owner and epoch, so it is a no-op when the lease was taken; when it merely
          // could not be refreshed in time, it frees it at once instead of at its expiry.
          yield* cluster.leases.release(name, runner, epoch).pipe(
            Effect.timeoutOption(Duration.millis(cluster.refreshIntervalMs)),
            Effect.catchCause((cause) =>
              Effect.logWarning(`singleton "${name}": lease release failed (it expires by itself): ${describe(cause)}`)
            )
          )
          yield* Metric.update(metrics.owned, 0)
          yield* Metric.update(metrics.handoffs, 1)
          yield* TaskContext.emit({ _tag: "SingletonReleased", name, epoch, runner, reason })
          yield* Effect.logInfo(`singleton "${name}": released epoch ${epoch} (${reason})`)
        })

      // Interrupts the tree and gives it `graceMs` to run its finalizers; past that it is abandoned.
      const stopTree = Effect.gen(function* () {
        yield* Effect.forkDetach(Fiber.interrupt(treeFiber))
        const done = yield* Effect.interruptible(Fiber.await(treeFiber)).pipe(
          Effect.timeoutOption(Duration.millis(graceMs))
        )
        if (Option.isNone(done)) {
          self.abandoned = treeFiber
          yield* Effect.logError(
            `singleton "${name}": the tree did not stop within its hand-off grace (${graceMs} ms); abandoned`
          )
        }
      })

      const first = yield* restore(
        Effect.raceFirst(
          Effect.map(Fiber.await(treeFiber), (exit) => ({ _tag: "TreeEnded" as const, exit })),
          Effect.map(Deferred.await(lost), (reason) => ({ _tag: "Lost" as const, reason }))
        )
      ).pipe(
        // Stopped from outside (remove, cancel, shutdown): hand the lease off after the tree stops.
        Effect.onInterrupt(() => Effect.andThen(stopTree, release("handoff")))
      )
      if (first._tag === "TreeEnded") {
        yield* release(Exit.isSuccess(first.exit) ? "completed" : "failed")
        return first
      }
      yield* Effect.logWarning(`singleton "${name}": lease of epoch ${epoch} lost (${first.reason}); stopping the tree`)
      yield* stopTree
      yield* release("lock-lost")
      return { _tag: "Lost" } as const
    })
  }
}
