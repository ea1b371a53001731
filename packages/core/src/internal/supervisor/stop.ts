/**
 * The stop protocol: how a supervisor stops one task (`remove`, `cancel`, `replace`, a group
 * restart, a shutdown, `restartNow`) and what happens when it does not stop in time (taskvisor's
 * `registry/removal.rs`; OTP's `shutdown` timeout and `brutal_kill`).
 *
 * **Owns** no state of its own: it moves entries through the stop phases (`Running` → `Parking` /
 * `Restarting` / `Stopping` → `Abandoned`; see `entry.ts`), writes `stopReason`, `graceTimer` and
 * `abandonedAtOnce`, and starts grace clocks.
 *
 * **Data flow**: `remove` / `cancel` (`removeByRef`, `cancelByRef`; a path is `resolve`d to the nested
 * supervisor that holds the task; a task not started yet is only taken out of its controller queue), `replace`, a group restart or a shutdown → `requestStop`
 * (claim, `TaskRemoveRequested`, `TaskContext.cancelled`, interrupt; a parked task ends at once
 * through `finalizeParked`) → usually `startGrace` → the fiber exits (`onFiberExit` decides the
 * outcome) or the grace runs out → `abandon` → `ForceAborted`. A stop for a restart → `park` (the
 * fiber is stopped, the entry stays) → a group restart or `restartNow` starts a new fiber on the
 * entry; `restartEntry` is `restartNow`'s.
 *
 * **Invariants**
 * - One claimant: `requestStop` succeeds once per task (not after its outcome is decided); `park`
 *   never overrides a real stop.
 * - `TaskContext.cancelled` completes before the fiber is interrupted, so an attempt can see why.
 * - An abandoned task's name stays taken (and its slot held) until its fiber really exits;
 *   abandoning only decides the outcome.
 * - A grace clock is a fiber of its own: it keeps its deadline whatever happens to the fiber that
 *   asked for the stop (a group restart or a shutdown interrupted meanwhile). One clock per task:
 *   a new stop's clock replaces a `restartNow`'s.
 * - A task that did not stop within its grace is never started again (a second instance must not
 *   overlap the first).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { TaskRef } from "../../Supervisor.js"
import { InvalidArgument, TaskTerminationTimeout } from "../../SupervisorError.js"
import * as TaskOutcome from "../../TaskOutcome.js"
import type { EventInput } from "../bus.js"
import { type InterruptBatch, unsafeForkRoot, unsafeInterruptFork } from "../compat.js"
import { decodeDuration, describe, sleepMillis, timeoutOptionMillis } from "../duration.js"
import type { Entry } from "../entry.js"
import { Phase, type StopReason, transition } from "../entryLifecycle.js"
import type { Config } from "../options.js"
import type { ReadinessRecord } from "../readiness.js"
import { taskRemoveRequested, taskRestartRequested } from "./events.js"
import type { Registry } from "./registry.js"

/** What an ordered stop gives a static child without a grace of its own. */
export const SHARE = "its share"

/** What the stop protocol needs from its supervisor. */
export interface StopHost {
  readonly config: Config
  /** The tree's record of readiness tasks that ended for good (a deliberate stop withdraws them). */
  readonly readiness: ReadinessRecord
  /** The context the supervisor was made in: grace clocks run with it. */
  readonly context: Context.Context<never>
  /** The fiber that made the supervisor: its stops are interruptions by this fiber. */
  readonly fiberId: number
  readonly shuttingDown: boolean
  now(): number
  /** Whether anyone listens; read once per event, right before building it (see `EventBus.listening`). */
  readonly listening: boolean
  emit(event: EventInput): void
  /** Decides `entry`'s outcome once; later calls are ignored. */
  settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void
  /** Ends an entry whose fiber exited for a group restart that will not start it again. */
  finalizeParked(entry: Entry, reason: StopReason): void
}

/** What `remove`, `cancel` and `restartNow` need besides the stop protocol's view: finding the task. */
export interface StopByRefHost extends StopHost {
  readonly registry: Registry
  /** Takes a queued controller submission out of its queue; `false` if there is none. */
  removeQueued(ref: TaskRef): boolean
}

/** Is `ref` a path (relative to its supervisor) rather than a name or an id? Names never contain `/`. */
const isPath = (ref: TaskRef): ref is string => typeof ref === "string" && ref.includes("/")

/**
 * For a path (`"app/connector"`): the entry its first segment names in `host`, the running nested
 * supervisor of that entry (a `Supervisor.task` with a running attempt; `undefined` for any other
 * task), and the rest of the path.
 */
const descend = (host: StopByRefHost, path: string) => {
  const slash = path.indexOf("/")
  const entry = host.registry.named(path.slice(0, slash))
  return { entry, nested: entry?.nested, rest: path.slice(slash + 1) }
}

/**
 * The supervisor that holds the task `ref` names, and `ref` there: `host` itself for an id or a
 * name, a nested supervisor for a path through running nested supervisors (each stops its own
 * tasks); `undefined` when a path leads nowhere.
 */
export const resolve = (host: StopByRefHost, ref: TaskRef): readonly [StopByRefHost, TaskRef] | undefined => {
  let owner = host
  let local = ref
  while (isPath(local)) {
    const { nested, rest } = descend(owner, local)
    if (nested === undefined) return undefined
    owner = nested
    local = rest
  }
  return [owner, local]
}

/**
 * `Supervisor.restartNow` by id, name or path: stops the task's fiber and starts a new one on its
 * entry (`restartEntry`). A path leads only through nested supervisors that are neither shutting
 * down nor being stopped.
 */
export const restartByRef = (host: StopByRefHost, ref: TaskRef): boolean => {
  let owner = host
  let local = ref
  while (isPath(local)) {
    const { entry, nested, rest } = descend(owner, local)
    if (nested === undefined || owner.shuttingDown || entry!.stopRequested) return false
    owner = nested
    local = rest
  }
  const entry = owner.registry.get(local)
  return entry !== undefined && restartEntry(owner, entry)
}

/** The entry `ref` names: by id or name in `host`, or by a path through running nested supervisors. */
export const findByRef = (host: StopByRefHost, ref: TaskRef): Entry | undefined => {
  const found = resolve(host, ref)
  return found === undefined ? undefined : found[0].registry.get(found[1])
}

/** `Supervisor.remove`: claims the stop of the task `ref` (an id, a name or a path) names (or drops a queued submission). */
export const removeByRef = (host: StopByRefHost, ref: TaskRef): boolean => {
  const found = resolve(host, ref)
  if (found === undefined) return false
  const [owner, local] = found
  const entry = owner.registry.get(local)
  if (entry === undefined) return owner.removeQueued(local)
  if (!requestStop(owner, entry, "remove")) return false
  startGrace(owner, entry)
  return true
}

/**
 * The first half of `cancel`, by id, name or path: claims the stop. The task's entry (to wait on),
 * or what `cancel` returns when there is none (a queued submission taken out of its queue).
 */
export const claimCancel = (
  host: StopByRefHost,
  ref: TaskRef
): { readonly entry: Entry; readonly claimed: boolean } | boolean => {
  const found = resolve(host, ref)
  if (found === undefined) return false
  const [owner, local] = found
  const entry = owner.registry.get(local)
  if (entry === undefined) return owner.removeQueued(local)
  const claimed = requestStop(owner, entry, "cancel")
  if (claimed) startGrace(owner, entry)
  return { entry, claimed }
}

/**
 * `Supervisor.cancel`: `remove`, then waits for the outcome (within `timeout`, if given). Run
 * inside `Effect.suspend`: the options are checked, and the stop claimed, when it runs.
 */
export const cancelByRef = (
  host: StopByRefHost,
  ref: TaskRef,
  options: { readonly timeout?: Duration.Input | undefined } | undefined
): Effect.Effect<boolean, TaskTerminationTimeout | InvalidArgument> => {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    return Effect.fail(
      new InvalidArgument({
        operation: "cancel",
        field: "options",
        reason: `must be an object { timeout? }, got ${describe(options)}`
      })
    )
  }
  let timeoutMs = 0
  if (options?.timeout !== undefined) {
    const decoded = decodeDuration(options.timeout)
    if (Result.isFailure(decoded)) {
      return Effect.fail(new InvalidArgument({ operation: "cancel", field: "timeout", reason: decoded.failure }))
    }
    timeoutMs = Duration.toMillis(decoded.success)
  }
  const claim = claimCancel(host, ref)
  if (typeof claim === "boolean") return Effect.succeed(claim)
  const { claimed, entry } = claim
  const cleanup = Effect.as(entry.settled.await, claimed)
  if (options?.timeout === undefined) return cleanup
  return Effect.flatMap(timeoutOptionMillis(cleanup, timeoutMs), (done) =>
    Option.isSome(done)
      ? Effect.succeed(done.value)
      : Effect.fail(new TaskTerminationTimeout({ task: entry.name, id: entry.id, timeoutMs }))
  )
}

/** Claims the stop of `entry`: completes `cancelled`, then interrupts its fiber. `true` for the one claimant. */
export const requestStop = (
  host: StopHost,
  entry: Entry,
  reason: Exclude<StopReason, "restart-now">,
  batch?: InterruptBatch
): boolean => {
  if (entry.isStopClaimed) return false
  const phase = entry.phase
  entry.stopReason = reason
  entry.state = "stopping"
  entry.nextAttemptAt = undefined
  // Stopping a subtree deliberately withdraws the readiness tasks that ended for good in it.
  if (!host.readiness.empty && reason !== "shutdown" && reason !== "group-restart") host.readiness.clear(entry.path)
  if (host.listening) {
    host.emit(taskRemoveRequested(entry, reason))
  }
  entry.signalCancelled()
  if (entry.exited) {
    // Parked by a group restart: nothing runs, it ends now.
    host.finalizeParked(entry, reason)
  } else {
    // A `restartNow`'s grace clock does nothing once a stop is claimed: the stop's own clock (or
    // the shutdown's deadline) is the one that counts.
    if (phase === Phase.Restarting && entry.graceTimer !== undefined) {
      unsafeInterruptFork(entry.graceTimer, host.fiberId)
      entry.graceTimer = undefined
    }
    transition(entry, Phase.Stopping)
    if (batch === undefined) unsafeInterruptFork(entry.fiber, host.fiberId)
    else batch.add(entry.fiber)
  }
  return true
}

/** A park whose grace ran out becomes a real stop for `reason`: the task is never started again. */
export const claimStop = (entry: Entry, reason: StopReason): void => {
  entry.stopReason = reason
  transition(entry, Phase.Stopping)
}

/**
 * Stops `entry`'s fiber so that a new one can start on the entry: `Parking` for a group restart,
 * `Restarting` for `restartNow`. `false` unless it is `Running` (being stopped, or ending anyway).
 */
export const park = (
  host: StopHost,
  entry: Entry,
  to: typeof Phase.Parking | typeof Phase.Restarting = Phase.Parking
): boolean => {
  if (entry.phase !== Phase.Running) return false
  transition(entry, to)
  entry.state = "waiting"
  entry.nextAttemptAt = undefined
  entry.signalCancelled()
  unsafeInterruptFork(entry.fiber, host.fiberId)
  return true
}

/** Stops `entry`'s fiber and starts a new one once it has exited (see `onFiberExit`). */
export const restartEntry = (host: StopHost, entry: Entry): boolean => {
  // Exited without an outcome: parked, its group restart starts it again.
  if (host.shuttingDown || entry.exited) return false
  const state = entry.state
  const attemptRunning = entry.attemptRunning
  if (!park(host, entry, Phase.Restarting)) return false
  if (host.listening) {
    host.emit(taskRestartRequested(entry, state))
  }
  // Only an attempt has finalizers to wait for: a task backing off or scheduled is only sleeping.
  if (!attemptRunning) return true
  const graceMs = graceOf(host, entry)
  const expire = () => {
    // Exited (and started again), or a real stop came meanwhile.
    if (entry.phase !== Phase.Restarting) return
    // Never restarted: a second attempt must not overlap the one that did not stop.
    claimStop(entry, "restart-now")
    abandon(host, entry, graceMs, "its grace")
  }
  if (graceMs === 0) expire()
  else entry.graceTimer = unsafeForkRoot(host.context, Effect.andThen(sleepMillis(graceMs), Effect.sync(expire)))
  return true
}

/** The grace `remove`, `cancel` and ordered stops give `entry`. */
export const graceOf = (host: StopHost, entry: Entry): number => entry.spec.graceMs ?? host.config.graceMs

/**
 * Starts the grace clock of a stop (`remove`, `cancel`, `replace`, a group restart, an ordered
 * stop): when it runs out, `expire` runs and the task is abandoned. The clock is a fiber of its
 * own, so it keeps its deadline whatever happens to the one that asked.
 */
export const startGrace = (
  host: StopHost,
  entry: Entry,
  graceMs = graceOf(host, entry),
  during = "its grace",
  expire?: () => void
): void => {
  if (entry.exited) return
  const end = () => {
    entry.nested?.finishIfDue()
    expire?.()
    abandon(host, entry, graceMs, during)
  }
  if (graceMs === 0) return end()
  // A `restartNow` under way had its own timer.
  if (entry.graceTimer !== undefined) unsafeInterruptFork(entry.graceTimer, host.fiberId)
  entry.graceTimer = unsafeForkRoot(
    host.context,
    Effect.andThen(
      sleepMillis(graceMs),
      Effect.sync(() => {
        if (!entry.exited) end()
      })
    )
  )
}

/** Abandons a task that did not stop within `graceMs`: its outcome is `ForceAborted`, its name stays taken. */
export const abandon = (host: StopHost, entry: Entry, graceMs: number, during: string): void => {
  if (graceMs === 0 && !entry.isSettled && !entry.exited) entry.abandonedAtOnce = host.now()
  abandonWith(
    host,
    entry,
    during === SHARE
      ? `did not stop within ${SHARE} (${graceMs} ms) of the shutdown grace`
      : `did not stop within ${during} of ${graceMs} ms`
  )
}

/** Decides `entry`'s outcome as `ForceAborted` for `reason` (its fiber may still be running). */
export const abandonWith = (host: StopHost, entry: Entry, reason: string): void => {
  if (entry.isSettled) return
  entry.state = "stopping"
  host.settle(entry, new TaskOutcome.ForceAborted({ reason }))
}
