/**
 * How an offloaded job's work runs (`body`): under its kind's timeout policy ("warn" or
 * "cancel"), in a root span linked to the caller's span when a real tracer is installed, with its
 * failures described once and logged with the caller's loggers (`rawFailed` for work run as it is).
 *
 * Data flow: `OffloadImpl.start` forks `body(job)` as the job's fiber; the fiber exits with the
 * job's `Ending` (or, for work run as it is, `Job.raw`, with the work's own exit, which
 * `OffloadImpl.finished` reads and hands to `rawFailed` when it failed).
 *
 * Invariants:
 * - The work's failures never escape the body: they become the "failed" ending and a log line.
 * - Only waits are timed, never the work: a "cancel" timeout interrupts the work, a "warn" one logs.
 * - A failure raised while the work was being interrupted is logged once, never lost.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as OffloadKey from "../OffloadKey.js"
import { parentSpan } from "./compat.js"
import { describeCause } from "./describe.js"
import { sleepMillis, timeoutToMillis } from "./duration.js"
import type { ResolvedTimeout } from "./offloadConfig.js"
import type { Ending, Job } from "./offloadJob.js"

const TIMED_OUT: unique symbol = Symbol.for("@fibervisor/core/Offload/TimedOut")

/**
 * Runs the work with its timeout policy, in a root span linked to the caller's span when a real
 * tracer is installed; failures are logged here and never escape.
 */
export function body(job: Job): Effect.Effect<unknown, unknown> {
  const timeout = job.kind.limits.timeout
  const work = job.effect as Effect.Effect<unknown, unknown>
  const logFailures = job.kind.limits.logFailures
  let run: Effect.Effect<unknown, unknown>
  if (timeout === undefined) {
    // The work as it is: `finished` reads its exit (see `Job.raw`), so a job costs no closure here.
    job.raw = true
    run = work
  } else if (timeout.policy === "warn") {
    run = Effect.andThen(
      // Started inside this step (Effect 4 would start it on the next turn): its timer is armed
      // when the work starts, even if the work is cut off before the scheduler's next turn.
      Effect.forkChild(warnWhenCrossed(job, timeout), { startImmediately: true }),
      Effect.matchCauseEffect(work, { onFailure: (cause) => failed(job, cause), onSuccess: succeeded })
    )
  } else {
    // The timeout runs the work in a fiber of its own (Effect's race): when the work is
    // interrupted — by the timeout, or because the job's fiber is (`cancel`, the drain) — its
    // exit reaches neither the job's fiber nor `finished`. The race waits for the interrupted
    // work to exit, so its exit, recorded here, is known once the race has returned.
    let workExit: Exit.Exit<unknown, unknown> | undefined = undefined
    const recorded = logFailures
      ? Effect.onExit(work, (exit) =>
          Effect.sync(() => {
            workExit = exit
          })
        )
      : work
    const reportInterrupted = Effect.suspend(() =>
      workExit !== undefined && failedWhileInterrupted(workExit)
        ? logFor(job, logFailedWhileInterrupted(workExit.cause))
        : Effect.void
    )
    const raced = Effect.flatMap(
      timeoutToMillis<Exit.Exit<unknown, unknown>, Exit.Exit<unknown, unknown> | typeof TIMED_OUT>(
        Effect.exit(recorded),
        timeout.afterMs,
        (exit): Exit.Exit<unknown, unknown> | typeof TIMED_OUT => exit,
        () => TIMED_OUT
      ),
      (result: Exit.Exit<unknown, unknown> | typeof TIMED_OUT): Effect.Effect<Ending> => {
        if (result === TIMED_OUT) {
          return Effect.as(
            Effect.andThen(
              reportInterrupted,
              logFor(job, Effect.logWarning(`offloaded work timed out after ${timeout.afterMs} ms and was interrupted`))
            ),
            "timed-out"
          )
        }
        return Exit.isSuccess(result) ? succeededEnding : failed(job, result.cause)
      }
    )
    run = logFailures ? Effect.onInterrupt(raced, () => reportInterrupted) : raced
  }
  // Effect's built-in tracer records nothing; skipping the span there saves most of a job's cost.
  if (job.series.nativeTracer) return run
  const parent = parentSpan(job.caller)
  return Effect.withSpan(run, "fibervisor.offload", {
    root: true,
    kind: "internal",
    attributes: { kind: job.kind.kind, key: OffloadKey.format(job.key) },
    links: parent === undefined ? [] : [{ span: parent, attributes: {} }]
  })
}

/** The work failed by itself (under a timeout policy: see `rawFailed` for work run as it is). */
const failed = (job: Job, cause: Cause.Cause<unknown>): Effect.Effect<Ending> => {
  // Described once, here: the log line and `summary` share it.
  const failure = describeCause(cause)
  job.failure = failure
  return job.kind.limits.logFailures
    ? Effect.as(logFor(job, Effect.logWarning(`offloaded work failed: ${failure}`, cause)), "failed")
    : failedEnding
}

/**
 * Work run as it is (`Job.raw`) failed by itself: described once (the log line and `summary`
 * share it) and logged as `body` logs it, with the caller's loggers. Effect 4 runs a root fiber
 * at once and logging never suspends, so the line is written before anyone waiting for the job
 * is woken.
 */
export function rawFailed(job: Job, cause: Cause.Cause<unknown>): "failed" {
  const failure = describeCause(cause)
  job.failure = failure
  if (job.kind.limits.logFailures) {
    Effect.runForkWith(job.caller)(logFor(job, Effect.logWarning(`offloaded work failed: ${failure}`, cause)))
  }
  return "failed"
}

const warnWhenCrossed = (job: Job, timeout: ResolvedTimeout) =>
  Effect.andThen(
    sleepMillis(timeout.afterMs),
    logFor(
      job,
      Effect.logWarning(`offloaded work is still running after ${timeout.afterMs} ms (timeout policy "warn")`)
    )
  )

export const succeededEnding: Effect.Effect<Ending> = Effect.succeed("completed")
export const failedEnding: Effect.Effect<Ending> = Effect.succeed("failed")
const succeeded = (): Effect.Effect<Ending> => succeededEnding

/** The line for a failure or defect raised while the work was being interrupted (annotated by the caller). */
export const logFailedWhileInterrupted = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.logWarning(`offloaded work failed while being interrupted: ${describeCause(cause)}`, cause)

/**
 * Did work that was interrupted also fail or die (a finalizer that died during `cancel`, the
 * "cancel" timeout or the drain's cut-off)? Its exit is then an interruption, which the service
 * counts (`interrupted`, `timeout`) but would otherwise never look into. Effect 4's flat cause keeps
 * every reason, so the exit says it (Effect 3 asked the fiber for its pending interruptors).
 */
const failedWhileInterrupted = (exit: Exit.Exit<unknown, unknown>): exit is Exit.Failure<unknown, unknown> =>
  Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause) && (Cause.hasFails(exit.cause) || Cause.hasDies(exit.cause))

/** Annotates a log line with the job's kind and key (only where a line is written: annotating is not free). */
export const logFor = (job: Job, log: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.annotateLogs(log, { fibervisor: "offload", kind: job.kind.kind, key: OffloadKey.format(job.key) })
