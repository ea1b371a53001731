/**
 * The shape every queue under test takes in the durable benchmark, so one measuring loop
 * (measure.ts) drives DurableOffload, BullMQ and pg-boss alike.
 *
 * A system is opened once per run; each measured round asks it for a fresh `BenchQueue` (its own
 * queue name or kind), so rounds never see each other's jobs. Workers are in-process consumers with
 * their own connections: `consumers(w, onRun)` connects `w` independent consumers (a BullMQ `Worker`,
 * a pg-boss instance, a DurableOffload worker layer on its own store client), each with the same
 * local concurrency, and `run()` lets them start taking jobs — so connecting stays off the clock.
 * The handler is trivial: it calls `onRun` and returns.
 */

/** Consumers that are connected but not yet taking jobs. */
export interface BenchConsumers {
  /** Starts taking jobs; resolves once every consumer has been told to start. */
  readonly run: () => Promise<void>
  /** Stops every consumer and closes its connections. */
  readonly close: () => Promise<void>
}

/** One queue (BullMQ queue, pg-boss queue, DurableOffload kind) used by one measured round. */
export interface BenchQueue {
  /** Adds one job (payload `{ i }`); resolves when the system has stored it. */
  readonly enqueue: (i: number) => Promise<void>
  /** Connects `count` consumers; each job's handler calls `onRun` once per attempt. */
  readonly consumers: (count: number, onRun: () => void) => Promise<BenchConsumers>
  /** How many jobs of this queue the system reports as completed (acknowledged). */
  readonly completed: () => Promise<number>
  /** Removes the queue's data and closes the producer side. */
  readonly close: () => Promise<void>
}

/** One system under test. */
export interface BenchSystem {
  /** Short id used in the results file and the table: `durable-pg`, `durable-sqlite`, `bullmq`, `pg-boss`. */
  readonly id: string
  /** What it is, for the table: library, version, store. */
  readonly label: string
  /** A fresh queue; `concurrency` is each consumer's local concurrency. */
  readonly queue: (name: string, concurrency: number) => Promise<BenchQueue>
  readonly close: () => Promise<void>
}
