/**
 * What a supervisor does when a task's fiber has physically exited (taskvisor's
 * `registry/completion.rs`): the one place that decides an outcome from the fiber's exit and frees
 * the task's name.
 *
 * **Owns** no state: it reads the phase the fiber exited in and its exit, moves the entry on
 * (`Exiting` → `Parked` or `Ended`, see `entry.ts`), and calls back into
 * the supervisor (`settle`, `unregister`, the group restarts) and `respawn`.
 *
 * **Data flow**: the task fiber's observer (`SupervisorImpl.startFiber`) → `onFiberExit` → the
 * grace clock stopped → an attempt the stop interrupted is closed (`AttemptCanceled`) → then, by
 * the table below, the entry waits for a restart (it stays registered) or its outcome is settled
 * and it leaves the registry (`TaskRemoved`, the controller's slot passes on). The first row that
 * matches applies:
 *
 * | the fiber exited in phase …                                | and then                                                  |
 * | ---------------------------------------------------------- | --------------------------------------------------------- |
 * | `Running`, with `RESTART` (handed to a group restart)      | `Parked`, queued for its group restart                    |
 * | `Parking` (a group restart's stop)                         | `Parked`: the restart under way starts it again           |
 * | `Restarting` (`restartNow`'s stop)                         | `Parked`, then a new fiber on the entry at once           |
 * | any of the three above, once a shutdown began              | `Parked`, then `Ended`: `Canceled` ("stopped by shutdown") |
 * | `Abandoned`                                                | `Ended`: the outcome decided after its grace is kept      |
 * | `Running`, `Stopping`, with an outcome                     | `Ended`: that outcome (`RESTART` after a claim: `Canceled`) |
 * | `Stopping`, interrupted                                    | `Ended`: `Canceled` ("stopped by <reason>")               |
 * | `Running`, failed otherwise (a defect of the loop itself)  | `Ended`: `Failed` ("the supervisor's task fiber failed: …") |
 *
 * **Invariants**
 * - Only here (and `finalizeParked`, for a parked entry) does an entry leave the registry: a name
 *   stays taken until its fiber has exited, abandoned ones included.
 * - An outcome already decided (abandoned after its grace) is kept: `settle` is a no-op then.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import * as TaskOutcome from "../../TaskOutcome.js"
import type { EventInput } from "../bus.js"
import { unsafeInterruptFork } from "../compat.js"
import { describeCause } from "../describe.js"
import type { Entry } from "../entry.js"
import { type LoopResult, Phase, RESTART, type StopReason, transition } from "../entryLifecycle.js"
import { attemptEnded, stopped } from "../taskLoop.js"
import { attemptCanceled } from "./events.js"
import { respawn, type RespawnHost } from "./groupRestart.js"
import type { Registry } from "./registry.js"

/** What the handling of a task fiber's exit needs from its supervisor. */
export interface ExitHost extends ParkedHost {
  /** The fiber that made the supervisor: grace clocks are interrupted by it. */
  readonly fiberId: number
  readonly shuttingDown: boolean
  now(): number
  /** Whether anyone listens; read once per event, right before building it (see `EventBus.listening`). */
  readonly listening: boolean
  emit(event: EventInput): void
  /** A dynamically added task's fiber exited (a shutdown waits for those). */
  dynamicExited(entry: Entry): void
  /** Queues the group restart `entry`'s failure handed over. */
  enqueueGroupRestart(entry: Entry): void
}

/** What ending a parked entry needs from its supervisor. */
export interface ParkedHost extends RespawnHost {
  readonly registry: Registry
  /** Decides `entry`'s outcome once; later calls are ignored. */
  settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void
  /** Removes an ended entry from the registry (its name is free again). */
  unregister(entry: Entry): void
}

/**
 * Ends an entry parked by a group restart (its fiber has exited) that will not be started again:
 * a stop claimed meanwhile, or the shutdown. The other way (with `onFiberExit`) out of the registry.
 */
export const finalizeParked = (host: ParkedHost, entry: Entry, reason: StopReason): void => {
  if (entry.isSettled || !entry.exited || !host.registry.holds(entry)) return
  entry.stopReason ??= reason
  host.settle(entry, stopped(entry))
  host.unregister(entry)
}

/** The task's fiber has physically exited: decide its outcome (unless abandoned) and free its name. */
export const onFiberExit = (host: ExitHost, entry: Entry, exit: Exit.Exit<LoopResult>): void => {
  // The phase the fiber exited in decides what follows (`markExited` moves it to `Exiting`).
  const phase = entry.phase
  entry.markExited()
  host.dynamicExited(entry)
  if (entry.graceTimer !== undefined) {
    unsafeInterruptFork(entry.graceTimer, host.fiberId)
    entry.graceTimer = undefined
  }
  const interrupted = Exit.isFailure(exit)
  if (interrupted && entry.attemptRunning) {
    entry.attemptRunning = false
    attemptEnded(entry, host.now() - entry.attemptStartedAt)
    if (host.listening) {
      const by =
        entry.stopReason ??
        (phase === Phase.Restarting ? "restart-now" : phase === Phase.Parking ? "group-restart" : "interruption")
      host.emit(attemptCanceled(entry, host.now() - entry.attemptStartedAt, `stopped by ${by}`))
    }
  }
  const handedOver = Exit.isSuccess(exit) && exit.value === RESTART
  const parks = phase === Phase.Parking || phase === Phase.Restarting || (phase === Phase.Running && handedOver)
  if (parks) {
    // Waits for its group restart, which starts a new fiber on this entry.
    transition(entry, Phase.Parked)
    if (host.shuttingDown) return finalizeParked(host, entry, "shutdown")
    if (handedOver) host.enqueueGroupRestart(entry)
    else if (phase === Phase.Restarting) respawn(host, entry, false)
    return
  }
  if (Exit.isSuccess(exit)) {
    host.settle(entry, exit.value === RESTART ? stopped(entry) : exit.value)
  } else {
    host.settle(
      entry,
      entry.stopReason !== undefined
        ? stopped(entry)
        : new TaskOutcome.Failed({
            reason: `the supervisor's task fiber failed: ${describeCause(exit.cause)}`,
            cause: exit.cause
          })
    )
  }
  host.unregister(entry)
}
