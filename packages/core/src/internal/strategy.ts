import * as Effect from "effect/Effect"
import { sleepMillis } from "./duration.js"
import type { Entry } from "./entry.js"
import { Signal } from "./signal.js"
import type { SupervisorImpl } from "./supervisor.js"

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

/**
 * The children a restart of `trigger` takes down with it, in start order: every live child under
 * `one-for-all`, the ones started after it under `rest-for-one`. Children that already ended stay
 * ended (an `onFailure` child that completed stays completed).
 */
const affectedBy = (supervisor: SupervisorImpl, trigger: Entry): Array<Entry> => {
  const affected: Array<Entry> = []
  for (const entry of supervisor.registry.values()) {
    if (entry === trigger) {
      affected.push(entry)
      continue
    }
    // Parked children (waiting for a group restart of their own, or stopped by a restart this one
    // took over) are taken along and started again; one still being stopped is not.
    if (entry.stopReason !== undefined || (entry.parking && !entry.exited) || entry.outcome !== undefined) continue
    if (supervisor.config.strategy === "rest-for-one" && entry.id < trigger.id) continue
    affected.push(entry)
  }
  return affected
}

/**
 * Restarts a group after `trigger`'s restart-worthy failure (its fiber has exited): stops the
 * other affected children in reverse start order, each within its grace, waits the trigger's own
 * backoff, then starts them again in start order, each once the previous one began its first
 * attempt. `RestartPolicy.never` children are stopped for good. Called when the restart begins:
 * the affected children are known from then on (a failure of theirs joins this restart).
 */
export const restartGroup = (supervisor: SupervisorImpl, trigger: Entry): Effect.Effect<void> => {
  // Ended meanwhile, or already started again by an earlier group restart that took it along.
  if (trigger.outcome !== undefined || !trigger.exited) return Effect.void
  const affected = affectedBy(supervisor, trigger)
  const run = new GroupRun(trigger)
  supervisor.groupRun = run
  for (const entry of affected) {
    entry.heldByGroup = true
    // Failed in the same instant (it joined this restart, or its own queued one was taken along).
    if (entry !== trigger && entry.exited) {
      entry.state = "waiting"
      entry.nextAttemptAt = undefined
    }
  }
  if (supervisor.listening) {
    supervisor.emit({
      _tag: "GroupRestart",
      path: supervisor.path,
      strategy: supervisor.config.strategy,
      trigger: trigger.name,
      affected: affected.map((entry) => entry.name)
    })
  }
  const others = affected.filter((entry) => entry !== trigger).reverse()
  const stopOthers = Effect.forEach(others, (entry) => stopForRestart(supervisor, entry), { discard: true })
  // The trigger's backoff runs once its siblings are down.
  const backoff = Effect.suspend(() => {
    const delayMs = trigger.restartDelayMs
    if (delayMs <= 0 || trigger.outcome !== undefined || run.superseded.isDone) return Effect.void
    trigger.nextAttemptAt = supervisor.now() + delayMs
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
          if (!entry.exited || entry.outcome !== undefined || entry.stopReason !== undefined) return Effect.void
          if (supervisor.shuttingDown) return Effect.void
          supervisor.respawn(entry)
          return entry.started
        }),
      { discard: true }
    )
  })
  return Effect.ensuring(
    Effect.andThen(Effect.andThen(stopOthers, backoff), startAll),
    Effect.sync(() => {
      if (supervisor.groupRun === run) supervisor.groupRun = undefined
    })
  )
}

/** Stops one sibling for a group restart and waits (within its grace) until its fiber has exited. */
const stopForRestart = (supervisor: SupervisorImpl, entry: Entry): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (entry.exited) return Effect.void
    if (entry.spec.restart._tag === "Never") {
      if (!supervisor.requestStop(entry, "group-restart")) return Effect.void
    } else if (!supervisor.park(entry)) {
      return Effect.void
    }
    // The grace clock runs outside this fiber: a shutdown that interrupts the group restart keeps
    // the sibling's deadline.
    supervisor.startGrace(entry, supervisor.graceOf(entry), "its grace", () => {
      // It never restarts: a second instance must not overlap the first.
      entry.parking = false
      entry.stopReason ??= "group-restart"
    })
    if (entry.outcome !== undefined) return Effect.void
    return Effect.interruptible(Effect.raceFirst(entry.gone, Effect.asVoid(entry.settled.await)))
  })
