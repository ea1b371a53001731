/**
 * What an attempt may report about its role in a cluster: `standby` (it runs, but waits for a
 * role another replica holds) and the singleton events. Used by `@fibervisor/cluster`'s
 * `Task.singleton`, through `TaskContext.setStandby` / `TaskContext.emit`.
 *
 * Data flow: the attempt reads its `TaskContext`; when that is a supervisor's `Entry`, the state is
 * set on the entry (`list`, `tree`, `/tasks` read it) and the event goes on the tree's bus, stamped
 * with the task's id, name and path; the role the event implies is kept on the entry for the tree
 * snapshot's `singleton` field (shown while an attempt runs). A hand-made `TaskContext` (outside a supervisor) ignores both.
 *
 * Invariants: only a running attempt changes the state; `setState` never overwrites `stopping`; the task loop's own transitions (a new
 * attempt starts `running`, the end of one sets `waiting` / `backing-off`) still apply.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as SupervisorTree from "../SupervisorTree.js"
import type { RoleEvent as RoleEventInput, TaskContext } from "../TaskContext.js"
import { entryOf } from "./entry.js"

/** Shows the attempt behind `context` as `standby` (`true`) or `running` (`false`). */
export const setStandby = (context: TaskContext, standby: boolean): Effect.Effect<void> =>
  Effect.sync(() => {
    const entry = entryOf(context)
    if (entry !== undefined && entry.attemptRunning) entry.setState(standby ? "standby" : "running")
  })

/**
 * Publishes a role event on the tree bus of the task behind `context`, and records the role it
 * implies for the snapshot's `singleton` field: `SingletonAcquired` → owner, `SingletonStandby` →
 * standby (with the owner it saw), `SingletonReleased` → none until the next of the others.
 */
export const emit = (context: TaskContext, event: RoleEventInput): Effect.Effect<void> =>
  Effect.sync(() => {
    const entry = entryOf(context)
    if (entry === undefined) return
    entry.singleton = roleOf(event, entry.owner.now())
    if (entry.owner.listening) {
      entry.owner.emit({ ...event, id: entry.id, task: entry.name, path: entry.path } as never)
    }
  })

const roleOf = (event: RoleEventInput, now: number): SupervisorTree.SingletonRole | undefined => {
  switch (event._tag) {
    case "SingletonAcquired":
      return {
        name: event.name,
        role: "owner",
        runner: event.runner,
        owner: event.runner,
        epoch: event.epoch,
        since: now
      }
    case "SingletonStandby":
      return {
        name: event.name,
        role: "standby",
        runner: event.runner,
        ...(event.owner === undefined ? {} : { owner: event.owner }),
        ...(event.epoch === undefined ? {} : { epoch: event.epoch }),
        since: now
      }
    case "SingletonReleased":
      return undefined
  }
}
