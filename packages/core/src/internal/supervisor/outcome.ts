/**
 * Outcome accounting: what follows from a task's outcome being decided, for its supervisor (OTP's
 * `do_restart` clauses for `significant` children and `auto_shutdown`; escalation).
 *
 * **Owns** the count of tasks without an outcome (`pending`: what `awaitEmpty` and `run` wait on),
 * the count of significant tasks still undecided, and the supervisor's failure once it has failed.
 *
 * **Data flow**: `SupervisorImpl.spawn` → `added`; an outcome is decided (`onFiberExit`, an
 * abandonment, `finalizeParked`) → `settle` → `TaskFinished` → the readiness record (a readiness
 * task that ended for good) → for a task that ended by itself (no stop claimed): the intensity it
 * exceeded, or `TaskError.Escalate` / `escalate: true` → `fail` (the supervisor's failure event, a
 * warning line, its shutdown, `onFailed`); or a significant task → `AutoShutdown` and the shutdown.
 *
 * **Invariants**
 * - An outcome is decided once: a second `settle` of the same entry does nothing.
 * - `pending` counts undecided tasks plus queued controller submissions (`submissionQueued` /
 *   `submissionDequeued`): a submission handed over to a new owner leaves the count only after the
 *   owner is registered (and counted), so the count never touches zero in between.
 * - The failure is recorded before the shutdown it starts, and only the first one counts; a
 *   supervisor already shutting down no longer fails.
 * - A task stopped on purpose (`remove`, `cancel`, `replace`, a shutdown, a group restart) never
 *   escalates or triggers an auto-shutdown.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { Escalated, type SupervisorFailure } from "../../SupervisorError.js"
import type * as TaskOutcome from "../../TaskOutcome.js"
import type { EventInput } from "../bus.js"
import { unsafeForkRoot } from "../compat.js"
import type { Entry } from "../entry.js"
import type { Config } from "../options.js"
import type { ReadinessRecord } from "../readiness.js"
import { ZeroSignal } from "../zeroSignal.js"
import { autoShutdown, supervisorFailed, taskFinished } from "./events.js"

/** What outcome accounting needs from its supervisor. */
export interface OutcomeHost {
  readonly config: Config
  /** The tree's record of readiness tasks that ended for good. */
  readonly readiness: ReadinessRecord
  /** The context the supervisor was made in: the failure's warning line is logged with it. */
  readonly context: Context.Context<never>
  readonly shuttingDown: boolean
  now(): number
  /** Whether anyone listens; read once per event, right before building it (see `EventBus.listening`). */
  readonly listening: boolean
  emit(event: EventInput): void
  /** Starts the supervisor's shutdown by itself (a failure, an auto-shutdown). */
  beginShutdown(): void
  /** Called when the supervisor fails (set for a root under a `SupervisorRegistry`). */
  readonly onFailed: ((error: SupervisorFailure) => void) | undefined
}

/** The outcomes of one supervisor's tasks, and what they lead to. */
export class Outcomes {
  /** Tasks whose outcome is not decided yet, plus queued controller submissions. */
  readonly pending = new ZeroSignal()
  /** Significant tasks whose outcome is not decided yet. */
  private significantLive = 0
  /** Set when the supervisor failed (restart intensity, escalation); `join` and `run` fail with it. */
  failure: SupervisorFailure | undefined = undefined

  constructor(private readonly host: OutcomeHost) {}

  /** A task was registered: it has no outcome yet. */
  added(significant: boolean): void {
    this.pending.increment()
    if (significant) this.significantLive += 1
  }

  /** Decides `entry`'s outcome once; later calls are ignored. */
  settle(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    if (entry.isSettled) return
    const host = this.host
    entry.recordOutcome(outcome)
    if (host.listening) host.emit(taskFinished(entry, outcome))
    this.pending.decrement()
    if (entry.spec.significant) this.significantLive -= 1
    if (entry.spec.ready !== false) this.readinessSettled(entry, outcome)
    if (entry.stopReason !== undefined) return
    // The task ended by itself: escalation and auto-shutdown apply.
    if (entry.failsSupervisor !== undefined) return this.fail(entry.failsSupervisor)
    if ((entry.escalating || entry.spec.escalate) && (outcome._tag === "Failed" || outcome._tag === "Fatal")) {
      return this.fail(new Escalated({ path: host.config.path, task: entry.name, reason: outcome.reason }))
    }
    if (entry.spec.significant && outcome._tag !== "ForceAborted") this.significantEnded(entry)
  }

  /**
   * A readiness task ended for good unless it was stopped deliberately (`remove`, `cancel`,
   * `replace`) or as part of its supervisor's shutdown: a supervisor that fails or shuts down by
   * itself ends its own `Supervisor.task`, which is a readiness task too and answers for its subtree.
   */
  private readinessSettled(entry: Entry, outcome: TaskOutcome.TaskOutcome): void {
    const reason = entry.stopReason
    if (reason !== undefined && reason !== "group-restart") return
    if (this.host.shuttingDown) return
    this.host.readiness.lose(entry.path, outcome, this.host.now())
  }

  private significantEnded(entry: Entry): void {
    const host = this.host
    const mode = host.config.autoShutdown
    if (mode === "never" || (mode === "all-significant" && this.significantLive > 0)) return
    if (host.shuttingDown) return
    if (host.listening) host.emit(autoShutdown(host.config.path, mode, entry))
    host.beginShutdown()
  }

  /** Fails the supervisor: stops every child (as a shutdown does) and makes `join` fail with `error`. */
  private fail(error: SupervisorFailure): void {
    const host = this.host
    if (this.failure !== undefined || host.shuttingDown) return
    this.failure = error
    if (host.listening) host.emit(supervisorFailed(error))
    unsafeForkRoot(
      host.context,
      Effect.logWarning(error.message).pipe(Effect.annotateLogs({ fibervisor: "supervisor", path: host.config.path }))
    )
    host.beginShutdown()
    if (host.onFailed !== undefined) host.onFailed(error)
  }
}
