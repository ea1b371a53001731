/**
 * Group restarts: the `one-for-all` and `rest-for-one` strategies (OTP's `restart/2` clauses for
 * them). A child's restart-worthy failure, under one of these, restarts a group of its siblings.
 *
 * **Owns** the queue of group restarts waiting to run, the one fiber that runs them one at a time,
 * the restart under way (`GroupRun`), and the `idle` signal a nested supervisor's ordered start
 * waits on.
 *
 * **Data flow**: a failed attempt asks for a verdict (`RestartVerdicts.verdict` →
 * `pendingFor`: join / take over / a restart of its own) → the task's fiber exits with `RESTART`
 * → `onFiberExit` → `enqueue` → the drain fiber → `restartGroup`: mark the affected
 * children, `GroupRestart`, stop the others in reverse start order (`park`, or `requestStop` for a
 * `RestartPolicy.never` child, each within its grace), the trigger's backoff, then start them again
 * in start order (`respawn`), each once the previous one began its first attempt.
 *
 * **Invariants**
 * - One group restart runs at a time per supervisor; a shutdown interrupts the drain (`interrupt`)
 *   and none starts after it.
 * - Siblings failing in the same instant make one group restart, counted once against the
 *   intensity: a failure of a child the restart under way took along (`heldByGroup`), or of one a
 *   queued restart will start again, joins it; under `rest-for-one` an earlier child's restart
 *   takes a queued (or not yet started) restart of a later child over (`superseded`).
 * - The affected children are fixed when the restart begins; a child already stopped for good,
 *   being stopped, or decided is never taken along.
 * - A child that does not stop within its grace is never started again (a second instance must not
 *   overlap the first): its stop becomes a real one (`group-restart`).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { unsafeForkRoot, unsafeInterruptFork } from "../compat.js"
import { sleepMillis } from "../duration.js"
import type { Entry } from "../entry.js"
import { Phase } from "../entryLifecycle.js"
import { Signal } from "../signal.js"
import { groupRestart } from "./events.js"
import type { Registry } from "./registry.js"
import { claimStop, graceOf, park, requestStop, startGrace, type StopHost } from "./stop.js"

/** What starting a stopped entry's new fiber needs from its supervisor. */
export interface RespawnHost {
  /** Forks the entry's fiber on the shared task loop (its exit is observed by `onFiberExit`). */
  startFiber(entry: Entry): void
}

/** What group restarts need from their supervisor. */
export interface GroupHost extends StopHost, RespawnHost {
  readonly path: string
  readonly registry: Registry
}

/**
 * Starts a new fiber on an entry whose fiber a group restart (or `restartNow`) stopped. It counts
 * one restart (in `TaskInfo` and the metric alike) unless `countRestart` is false (a `restartNow`
 * is not a restart) or the task's own failure, which joined the group restart, counted it already.
 */
export const respawn = (host: RespawnHost, entry: Entry, countRestart = true): void => {
  if (countRestart && !entry.restartCounted) {
    entry.restarts += 1
    entry.metrics.restarts.update(1, entry.caller as Context.Context<never>, entry.series)
  }
  entry.rearm()
  host.startFiber(entry)
}

/** The group restart under way (one at a time per supervisor). */
export class GroupRun {
  /** Set once it starts its children again: from then on a failure is a restart of its own. */
  starting = false
  /**
   * Completed when a `rest-for-one` restart of an earlier child takes this one over (it covers
   * every child this one restarts): this one then starts nobody and that one runs next.
   */
  readonly superseded = new Signal<void>()
  constructor(readonly trigger: Entry) {}
}

/** The group restarts of one supervisor: queued, and the one under way. */
export class GroupRestarts {
  /** Tasks waiting for their group restart (their fiber has exited), and the fiber that runs them. */
  private readonly queue: Array<Entry> = []
  private fiber: Fiber.Fiber<void, never> | undefined = undefined
  /** The group restart under way, if any. */
  private run: GroupRun | undefined = undefined
  /** Completed when no group restart is pending (a fresh one while restarts run). */
  private idleSignal: Signal<void> | undefined = undefined

  constructor(private readonly host: GroupHost) {}

  /** `undefined` when no group restart is pending; else completed once none is. */
  get idle(): Signal<void> | undefined {
    return this.idleSignal
  }

  /**
   * How a group restart that has not started its children again yet relates to `entry`'s failure,
   * so that siblings failing in the same instant make one group restart, counted once: `"join"`
   * when it starts `entry` again anyway (the restart under way took it along, or a queued one
   * will), `"take-over"` when `entry`'s own restart will take a queued one along (under
   * `rest-for-one`, a queued trigger started after `entry`).
   */
  pendingFor(entry: Entry): "join" | "take-over" | undefined {
    if (entry.heldByGroup) return "join"
    const strategy = this.host.config.strategy
    let pending: "take-over" | undefined = undefined
    const run = this.run
    if (run !== undefined && !run.starting && strategy === "rest-for-one" && run.trigger.id > entry.id) {
      // The restart under way (of a later child) has started nobody yet: this one covers it.
      run.superseded.complete(undefined)
      pending = "take-over"
    }
    for (const trigger of this.queue) {
      // Ended, started again, or taken along by the restart under way: that restart will not run.
      if (trigger === entry || !trigger.isParked || trigger.heldByGroup) continue
      if (strategy === "one-for-all" || trigger.id < entry.id) return "join"
      pending = "take-over"
    }
    return pending
  }

  /** Queues a group restart triggered by `entry` (whose fiber has exited); they run one at a time. */
  enqueue(entry: Entry): void {
    this.queue.push(entry)
    if (this.fiber !== undefined) return
    const idle = new Signal<void>()
    this.idleSignal = idle
    const done = () => {
      this.fiber = undefined
      this.idleSignal = undefined
      idle.complete(undefined)
    }
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      const next = this.next()
      if (next === undefined || this.host.shuttingDown) {
        done()
        return Effect.void
      }
      return Effect.andThen(this.restartGroup(next), drain)
    })
    this.fiber = unsafeForkRoot(
      this.host.context,
      Effect.onInterrupt(drain, () => Effect.sync(done))
    )
  }

  /** A shutdown began: no group restart runs any more (the one under way is interrupted). */
  interrupt(): void {
    if (this.fiber !== undefined) unsafeInterruptFork(this.fiber, this.host.fiberId)
  }

  /**
   * The next queued group restart: the oldest, except under `rest-for-one`, where the one of the
   * earliest started child goes first (it takes the later ones along).
   */
  private next(): Entry | undefined {
    const queue = this.queue
    if (queue.length <= 1 || this.host.config.strategy !== "rest-for-one") return queue.shift()
    let first = 0
    for (let i = 1; i < queue.length; i++) if (queue[i]!.id < queue[first]!.id) first = i
    return queue.splice(first, 1)[0]
  }

  /**
   * Restarts a group after `trigger`'s restart-worthy failure (its fiber has exited): stops the
   * other affected children in reverse start order, each within its grace, waits the trigger's own
   * backoff, then starts them again in start order, each once the previous one began its first
   * attempt. `RestartPolicy.never` children are stopped for good. Called when the restart begins:
   * the affected children are known from then on (a failure of theirs joins this restart).
   */
  private restartGroup(trigger: Entry): Effect.Effect<void> {
    // Ended meanwhile, or already started again by an earlier group restart that took it along.
    if (!trigger.isParked) return Effect.void
    const host = this.host
    const affected = affectedBy(host, trigger)
    const run = new GroupRun(trigger)
    this.run = run
    for (const entry of affected) {
      entry.heldByGroup = true
      // Failed in the same instant (it joined this restart, or its own queued one was taken along).
      if (entry !== trigger && entry.isParked) {
        entry.state = "waiting"
        entry.nextAttemptAt = undefined
      }
    }
    if (host.listening) host.emit(groupRestart(host.path, host.config.strategy, trigger, affected))
    const others = affected.filter((entry) => entry !== trigger).reverse()
    const stopOthers = Effect.forEach(others, (entry) => stopForRestart(host, entry), { discard: true })
    // The trigger's backoff runs once its siblings are down.
    const backoff = Effect.suspend(() => {
      const delayMs = trigger.restartDelayMs
      if (delayMs <= 0 || trigger.isSettled || run.superseded.isDone) return Effect.void
      trigger.nextAttemptAt = host.now() + delayMs
      return Effect.raceFirst(sleepMillis(delayMs), run.superseded.await)
    })
    const startAll = Effect.suspend(() => {
      // Taken over: the restart that took it over starts these children.
      if (run.superseded.isDone) return Effect.void
      run.starting = true
      return Effect.forEach(
        affected,
        (entry) =>
          Effect.suspend(() => {
            // Removed, abandoned or stopped for good meanwhile: it stays down.
            if (!entry.isParked) return Effect.void
            if (host.shuttingDown) return Effect.void
            respawn(host, entry)
            return entry.started
          }),
        { discard: true }
      )
    })
    return Effect.ensuring(
      Effect.andThen(Effect.andThen(stopOthers, backoff), startAll),
      Effect.sync(() => {
        if (this.run === run) this.run = undefined
      })
    )
  }
}

/**
 * The children a restart of `trigger` takes down with it, in start order: every live child under
 * `one-for-all`, the ones started after it under `rest-for-one`. Children that already ended stay
 * ended (an `onFailure` child that completed stays completed).
 */
const affectedBy = (host: GroupHost, trigger: Entry): Array<Entry> => {
  const affected: Array<Entry> = []
  for (const entry of host.registry.values()) {
    if (entry === trigger) {
      affected.push(entry)
      continue
    }
    // Parked children (waiting for a group restart of their own, or stopped by a restart this one
    // took over) are taken along and started again; one still being stopped is not.
    if (entry.phase !== Phase.Running && !entry.isParked) continue
    if (host.config.strategy === "rest-for-one" && entry.id < trigger.id) continue
    affected.push(entry)
  }
  return affected
}

/** Stops one sibling for a group restart and waits (within its grace) until its fiber has exited. */
const stopForRestart = (host: GroupHost, entry: Entry): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (entry.exited) return Effect.void
    if (entry.spec.restart._tag === "Never") {
      if (!requestStop(host, entry, "group-restart")) return Effect.void
    } else if (!park(host, entry)) {
      return Effect.void
    }
    // The grace clock runs outside this fiber: a shutdown that interrupts the group restart keeps
    // the sibling's deadline.
    startGrace(host, entry, graceOf(host, entry), "its grace", () => {
      // It never restarts: a second instance must not overlap the first (a real stop keeps its own).
      if (entry.phase === Phase.Parking) claimStop(entry, "group-restart")
    })
    if (entry.isSettled) return Effect.void
    return Effect.interruptible(Effect.raceFirst(entry.gone, Effect.asVoid(entry.settled.await)))
  })
