/**
 * The offload service's fiber starts (`Starts`): the jobs given room are started together, after
 * the current synchronous work, by one `later` callback per batch, each in its own root fiber, and
 * their run time is measured there.
 *
 * Data flow: `OffloadImpl.start` makes the job's fiber unstarted and `add`s the job; `run` (a
 * `later` callback) reads the clock, starts each job's fiber in order (jobs added meanwhile, by
 * `pump` in a job's `finished`, join the same batch), and `finished` hands back its end reading
 * (`ended`).
 *
 * Invariants:
 * - A job's run time starts at its fiber's first step (not at admission: queued and scheduling time
 *   are not run time). A job interrupted before its first step ran for 0 ms.
 * - One clock reading per short job, not two: when the job started just before ended inside its
 *   own first step (as most short jobs do) and woke nobody, its end reading is the next job's start
 *   (nothing but this loop ran in between); otherwise the clock is read again.
 * - Starts keep the admission order, and a fiber stopped before its start never runs its effect.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import { later, startUnstarted } from "./compat.js"
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

  constructor(private readonly clock: Clock.Clock) {}

  /** Starts `job`'s fiber (made unstarted) after the current synchronous work, after the jobs added before it. */
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
      job.startedAt =
        previous !== undefined && this.lastEnded === previous ? this.lastEnd : this.clock.currentTimeMillisUnsafe()
      this.lastEnded = undefined
      startUnstarted(job.fiber!, body(job))
      previous = job
    }
    pending.length = 0
    this.lastEnded = undefined
    this.scheduled = false
  }
}
