/**
 * The offload service's fiber starts (`Starts`): the jobs given room are started together, after
 * the current synchronous work, by one `later` callback per batch, each in its own root fiber, and
 * their run time is measured there.
 *
 * Data flow: `OffloadImpl.start` gives the job its slot and `add`s it; `run` (a `later` callback)
 * reads the clock, makes each job's fiber — in the async context its caller had at admission — and
 * starts it, in order (jobs added meanwhile, by `pump` in a job's `finished`, join the same batch);
 * `finished` hands back its end reading (`ended`).
 *
 * Why the fiber is made here and not at admission: work waiting for its first step then holds a
 * `Job` only. Whatever waits out a scheduler turn may survive a young-generation GC, and when much
 * of it does, V8 starts allocating it in the old generation (allocation-site pretenuring): a burst
 * of short jobs then costs a full GC per burst, twice the run time.
 *
 * Invariants:
 * - A job's run time starts at its fiber's first step (not at admission: queued and scheduling time
 *   are not run time). A job interrupted before its first step ran for 0 ms.
 * - One clock reading per short job, not two: when the job started just before ended inside its
 *   own first step (as most short jobs do) and woke nobody, its end reading is the next job's start
 *   (nothing but this loop ran in between); otherwise the clock is read again.
 * - A batch is one `later` item: the interruptions `later` delivers first (a supervisor's stops)
 *   wait for the batch's end; the offload service's own stops never go through `later`.
 * - Starts keep the admission order. A job stopped before its start has ended at its stop
 *   (`OffloadImpl.stop`), has no fiber, and is skipped here: its work never runs.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Exit from "effect/Exit"
import { later, startUnstarted, unstartedDetachedIn } from "./compat.js"
import { body } from "./offloadBody.js"
import type { Job } from "./offloadJob.js"

/** `Job.startedAt` of a job whose fiber has not taken its first step. */
export const notStarted = -1

/** The jobs waiting for their fiber's first step, and the clock reading the next start may reuse. */
export class Starts {
  private readonly pending: Array<Job> = []
  private scheduled = false
  /** The job whose end was the last thing that happened (see `ended`), and its end reading. */
  private lastEnded: Job | undefined = undefined
  private lastEnd = 0

  constructor(
    private readonly clock: Clock.Clock,
    /** The fibers' exit observer (`OffloadImpl.finished`). */
    private readonly finished: (job: Job, exit: Exit.Exit<unknown, unknown>) => void
  ) {}

  /** Makes and starts `job`'s fiber after the current synchronous work, after the jobs added before it. */
  add(job: Job): void {
    this.pending.push(job)
    if (!this.scheduled) {
      this.scheduled = true
      later(this.run)
    }
  }

  /**
   * `job` ended at `now` and nothing has run since that reading but bookkeeping: the next start
   * may take it as its own reading. Only a job that woke nobody says so (a woken fiber runs inside
   * the call, see `OffloadImpl.wakeEnded`).
   */
  ended(job: Job, now: number): void {
    this.lastEnded = job
    this.lastEnd = now
  }

  private readonly run = (): void => {
    const pending = this.pending
    let previous: Job | undefined = undefined
    // `pending` grows while this runs (a job's end starts queued work): those start in this batch.
    for (let i = 0; i < pending.length; i++) {
      const job = pending[i]!
      // Stopped before its start: it has ended already (`OffloadImpl.stop`).
      if (job.done) continue
      job.startedAt =
        previous !== undefined && this.lastEnded === previous ? this.lastEnd : this.clock.currentTimeMillisUnsafe()
      this.lastEnded = undefined
      // Set before it runs: a job may stop itself (`cancel` of its own key) while it runs.
      const fiber = (job.fiber = unstartedDetachedIn(job.caller, job.asyncContext, (exit) => this.finished(job, exit)))
      job.asyncContext = undefined
      startUnstarted(fiber, body(job))
      previous = job
    }
    pending.length = 0
    this.lastEnded = undefined
    this.scheduled = false
  }
}
