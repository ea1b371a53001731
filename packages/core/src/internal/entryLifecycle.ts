/**
 * The lifecycle of a task's entry as data: the phases and the transitions the table in
 * `entry.ts`'s header allows, `transition` (the one way an entry's phase changes), why a stop was
 * requested (`StopReason`) and what a task's fiber ends with (`LoopResult`).
 *
 * **Owns** `EntryLifecycle`, the base of `Entry`: one number, `flags`, holding the phase (its low
 * bits) and the entry's booleans, the predicates over the phase (`exited`, `isParked`,
 * `isSettled`, `isStopClaimed`, `stopRequested`), and `transition`, the one way the phase moves.
 *
 * **Invariants**
 * - `allowed` is the header's table, row by row; `test/internal/EntryLifecycle.test.ts` checks every
 *   pair against it.
 * - An illegal move is a bug of the supervisor: `transition` throws (a defect) before it changes
 *   anything.
 *
 * @internal
 */

import type { TaskRemoveRequested, TaskState as TaskStateSchema } from "../SupervisorEvent.js"
import type * as TaskOutcome from "../TaskOutcome.js"

/**
 * Why a stop was claimed: a `TaskRemoveRequested.reason` (declared once, by the event's schema), or
 * `"restart-now"` (a `restartNow` whose grace ran out; it publishes no `TaskRemoveRequested`).
 */
export type StopReason = (typeof TaskRemoveRequested.Type)["reason"] | "restart-now"

/** What a task is doing, as `list` reports it (declared once, by `SupervisorEvent.TaskState`). */
export type TaskState = typeof TaskStateSchema.Type

/** What a task's fiber ends with: its outcome, or `RESTART` when it hands its restart to a group restart. */
export const RESTART: unique symbol = Symbol.for("@fibervisor/core/GroupRestart")

/** The value a task's fiber exits with. */
export type LoopResult = TaskOutcome.TaskOutcome | typeof RESTART

/** What `transition` reads and writes: an `Entry` (an `EntryLifecycle`), or a stand-in in tests. */
export interface PhaseHolder {
  readonly phase: Phase
  /** The task's path, for the message of an illegal move. */
  readonly path: string
  /** For `transition` only, which checks the move first. */
  setPhaseUnchecked(phase: Phase): void
}

/** The lifecycle phases of an entry: see the table in the module header. */
export const Phase = {
  Running: 0,
  Parking: 1,
  Restarting: 2,
  Stopping: 3,
  Abandoned: 4,
  Exiting: 5,
  Parked: 6,
  Ended: 7
} as const

/** One lifecycle phase of an entry. */
export type Phase = (typeof Phase)[keyof typeof Phase]

/** The phases' names, by value (for messages). */
export const phaseNames: ReadonlyArray<keyof typeof Phase> = [
  "Running",
  "Parking",
  "Restarting",
  "Stopping",
  "Abandoned",
  "Exiting",
  "Parked",
  "Ended"
]

const bit = (...phases: ReadonlyArray<Phase>): number => phases.reduce<number>((set, phase) => set | (1 << phase), 0)

/** The transition table of the header: `allowed[from]` is the set of phases `from` may become, one bit each. */
const allowed: ReadonlyArray<number> = [
  bit(Phase.Parking, Phase.Restarting, Phase.Stopping, Phase.Exiting),
  bit(Phase.Stopping, Phase.Exiting),
  bit(Phase.Stopping, Phase.Exiting),
  bit(Phase.Abandoned, Phase.Exiting),
  bit(Phase.Ended),
  bit(Phase.Parked, Phase.Ended),
  bit(Phase.Running, Phase.Ended),
  0
]

/** May an entry in phase `from` move to `to`? (The table in the module header.) */
export const canTransition = (from: Phase, to: Phase): boolean => (allowed[from]! & (1 << to)) !== 0

/**
 * Moves `entry` to phase `to`. The one place the phase changes: a move the table does not allow is
 * a bug of the supervisor, so it defects (throws) rather than leave the entry in a phase no
 * decision expects.
 */
export const transition = (entry: PhaseHolder, to: Phase): void => {
  const from = entry.phase
  if (!canTransition(from, to)) {
    throw new Error(
      `fibervisor: illegal task phase transition ${phaseNames[from]} -> ${phaseNames[to]} (task "${entry.path}")`
    )
  }
  entry.setPhaseUnchecked(to)
}

/** The layout of `EntryLifecycle.flags` (documented on the field). */
const PHASE_MASK = 7
const STATIC = 8
const ATTEMPT_RUNNING = 16
const ESCALATING = 32
const CANCEL_SENT = 64
const BEGUN = 128
const RESTART_COUNTED = 256
const HELD_BY_GROUP = 512
const COUNTED_OUT = 1024
/** Bits 11–13: the `StopReason` (0 = none, else its index in `stopReasons` + 1). */
const STOP_REASON_SHIFT = 11
const STOP_REASON_MASK = 7 << STOP_REASON_SHIFT
/** Bits 14–16: the `TaskState` (its index in `taskStates`; 0 = `waiting`, the initial state). */
const STATE_SHIFT = 14
const STATE_MASK = 7 << STATE_SHIFT
/** Bit 17: held by its supervisor's registry (between `Registry.add` and `Registry.remove`). */
const REGISTERED = 1 << 17

/** Every `StopReason`, in the order their codes in `flags` follow. */
const stopReasons: ReadonlyArray<StopReason> = [
  "remove",
  "cancel",
  "shutdown",
  "group-restart",
  "replace",
  "restart-now"
]

/** Every `TaskState`, in the order their codes in `flags` follow (`waiting` first: code 0). */
const taskStates: ReadonlyArray<TaskState> = ["waiting", "running", "backing-off", "scheduled", "stopping", "standby"]

/** The code of `value` in `values`; a value the list does not know is a bug of the supervisor (a defect). */
const codeOf = <A extends string>(values: ReadonlyArray<A>, value: A, what: string): number => {
  const code = values.indexOf(value)
  if (code < 0) throw new Error(`fibervisor: unknown ${what} "${value}"`)
  return code
}

/**
 * The lifecycle phase and the boolean bits of an entry, in one number (`Entry` extends it): the
 * phase moves only through `transition`; the predicates read it.
 */
export abstract class EntryLifecycle {
  /**
   * The phase and the booleans, in one number (an entry is kept for every task: every field
   * counts). Bits 0–2 (`PHASE_MASK`): the `Phase`, 0–7. Bits 3–10: one boolean each, documented
   * on its accessor: 8 `STATIC`, 16 `ATTEMPT_RUNNING`, 32 `ESCALATING`, 64 `CANCEL_SENT`,
   * 128 `BEGUN`, 256 `RESTART_COUNTED`, 512 `HELD_BY_GROUP`, 1024 `COUNTED_OUT`. Bits 11–13: the
   * `stopReason`'s code; bits 14–16: the `state`'s code (two fields fewer on every entry); bit 17
   * `REGISTERED`.
   */
  private flags: number

  /** Why the one stop was claimed: set once (entering `Stopping`, or ending a parked entry), never cleared. */
  get stopReason(): StopReason | undefined {
    const code = (this.flags & STOP_REASON_MASK) >>> STOP_REASON_SHIFT
    return code === 0 ? undefined : stopReasons[code - 1]
  }
  set stopReason(reason: StopReason | undefined) {
    const code = reason === undefined ? 0 : codeOf(stopReasons, reason, "stop reason") + 1
    this.flags = (this.flags & ~STOP_REASON_MASK) | (code << STOP_REASON_SHIFT)
  }

  /** What the task is doing, as `list` reports it (progress updates go through `Entry.setState`). */
  get state(): TaskState {
    return taskStates[(this.flags & STATE_MASK) >>> STATE_SHIFT]!
  }
  set state(state: TaskState) {
    this.flags = (this.flags & ~STATE_MASK) | (codeOf(taskStates, state, "task state") << STATE_SHIFT)
  }

  constructor(isStatic: boolean) {
    this.flags = isStatic ? STATIC : 0
  }

  /** The task's path (`root/db/pool`), for the message of an illegal move. */
  abstract get path(): string

  /** Where the entry is in its lifecycle (see the module header); changed only by `transition`. */
  get phase(): Phase {
    return (this.flags & PHASE_MASK) as Phase
  }

  /** For `transition` only, which checks the move first. */
  setPhaseUnchecked(phase: Phase): void {
    this.flags = (this.flags & ~PHASE_MASK) | phase
  }

  /** The current fiber has physically exited (`Exiting`, `Parked`, `Ended`): the name (and permit) are free once unregistered. */
  get exited(): boolean {
    return this.phase >= Phase.Exiting
  }

  /** Its fiber exited for a restart that has not started it again (a group restart, `restartNow`). */
  get isParked(): boolean {
    return this.phase === Phase.Parked
  }

  /** Its outcome is decided (`Abandoned`, `Ended`); the fiber may still be running (abandoned). */
  get isSettled(): boolean {
    return this.phase === Phase.Abandoned || this.phase === Phase.Ended
  }

  /** The one stop (or the outcome) is claimed: nobody else may claim it, and it never starts again. */
  get isStopClaimed(): boolean {
    return this.stopReason !== undefined || this.isSettled
  }

  /** A stop (or a restart's stop) was requested for the running fiber: no new attempt may start. */
  get stopRequested(): boolean {
    const phase = this.phase
    return phase !== Phase.Running && phase < Phase.Exiting
  }

  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0
  }

  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit
  }

  /** A static child of `Supervisor.task`: started in order, stopped in reverse order. */
  get isStatic(): boolean {
    return this.flag(STATIC)
  }

  /** A stop was requested for the current fiber. */
  get cancelSent(): boolean {
    return this.flag(CANCEL_SENT)
  }

  /** The current fiber has begun an attempt. */
  get begun(): boolean {
    return this.flag(BEGUN)
  }

  // The read-write booleans: accessors over one bit each, defined by `flagAccessors` below.
  /** An attempt is in flight (for `AttemptCanceled` when a stop interrupts it). */
  declare attemptRunning: boolean
  /** The attempt failed with `TaskError.Escalate`. */
  declare escalating: boolean
  /** Its failure already added one to `restarts` for the group restart that will start it again. */
  declare restartCounted: boolean
  /** Taken along by the group restart under way: a failure of its current attempt joins that restart. */
  declare heldByGroup: boolean
  /** A dynamic supervisor task whose subtree a shutdown found decided: it no longer waits for its fiber. */
  declare countedOut: boolean
  /**
   * Held by its supervisor's registry: lets `Registry.remove` skip a lookup by name (a shutdown
   * removes every task, and a hash lookup in a large table is a cache miss or two).
   */
  declare registered: boolean

  /** Marks that a stop was requested for the current fiber (`TaskContext.cancelled`). */
  protected markCancelSent(): void {
    this.setFlag(CANCEL_SENT, true)
  }

  /** Marks that the current fiber began its first attempt (or exited before it could). */
  protected markBegun(): void {
    this.setFlag(BEGUN, true)
  }

  /**
   * A parked entry gets a new fiber: `Parked` → `Running`. Keeps `STATIC`, `ATTEMPT_RUNNING` (the
   * task loop clears it itself) and `ESCALATING` and `REGISTERED`; clears the bits that describe one fiber
   * (`CANCEL_SENT`, `BEGUN`, `RESTART_COUNTED`, `HELD_BY_GROUP`, `COUNTED_OUT`). The stop reason
   * (none: a claimed entry is never rearmed) and the state (`Entry.rearm` sets it) are kept.
   */
  protected rearmLifecycle(): void {
    transition(this, Phase.Running)
    this.flags &= STATIC | ATTEMPT_RUNNING | ESCALATING | STOP_REASON_MASK | STATE_MASK | REGISTERED
  }
}

/**
 * Defines the read-write boolean accessors of `EntryLifecycle` on its prototype, one bit of `flags`
 * each (what a getter/setter pair per boolean would spell out five times). Prototype accessors,
 * like a class's own: no field per entry.
 */
const flagAccessors = (
  bits: Readonly<
    Record<"attemptRunning" | "escalating" | "restartCounted" | "heldByGroup" | "countedOut" | "registered", number>
  >
): void => {
  for (const [name, bit] of Object.entries(bits)) {
    Object.defineProperty(EntryLifecycle.prototype, name, {
      get(this: { flags: number }): boolean {
        return (this.flags & bit) !== 0
      },
      set(this: { flags: number }, on: boolean) {
        this.flags = on ? this.flags | bit : this.flags & ~bit
      },
      configurable: true
    })
  }
}

flagAccessors({
  attemptRunning: ATTEMPT_RUNNING,
  escalating: ESCALATING,
  restartCounted: RESTART_COUNTED,
  heldByGroup: HELD_BY_GROUP,
  countedOut: COUNTED_OUT,
  registered: REGISTERED
})
