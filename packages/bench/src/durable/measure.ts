/**
 * One measured round of the durable benchmark on one system with `workers` consumers.
 *
 * Phases, on a fresh queue:
 * 1. enqueue: `n` jobs by `producers` concurrent producers, no consumer running → enqueue jobs/s;
 * 2. drain: the consumers (connected off the clock) start on that backlog; timed until the system
 *    reports all `n` completed → drain jobs/s;
 * 3. enqueue→complete: with the consumers running, `n` more jobs are enqueued; timed from the first
 *    enqueue until the system reports all `2n` completed → end-to-end jobs/s.
 *
 * "Completed" is what the system acknowledges (its own count), not the handler calls: the handler
 * counts its runs, and once they reach the target the round polls the system's count every 10 ms.
 * Every wait is bounded (`deadlineMs`); a round that does not finish throws, naming the phase.
 */
import type { BenchQueue, BenchSystem } from "./system.js"

/** A throughput figure. */
export interface Rate {
  readonly jobs: number
  readonly seconds: number
  readonly jobsPerSecond: number
}

/** What one round measured. */
export interface RoundResult {
  readonly system: string
  readonly workers: number
  /** Which repetition of this system × workers (1-based). */
  readonly repeat: number
  readonly enqueue: Rate
  readonly drain: Rate
  readonly endToEnd: Rate
  /** Handler calls beyond one per job (redeliveries); 0 in a clean round. */
  readonly extraRuns: number
}

export interface RoundOptions {
  readonly repeat: number
  readonly n: number
  readonly workers: number
  readonly concurrency: number
  readonly producers: number
  readonly deadlineMs: number
}

const rate = (jobs: number, ms: number): Rate => ({
  jobs,
  seconds: ms / 1000,
  jobsPerSecond: ms > 0 ? (jobs * 1000) / ms : Number.POSITIVE_INFINITY
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Enqueues jobs `from` … `from + n - 1` with `producers` concurrent loops. */
const enqueueAll = async (queue: BenchQueue, from: number, n: number, producers: number): Promise<void> => {
  let next = from
  const end = from + n
  const producer = async () => {
    while (next < end) await queue.enqueue(next++)
  }
  await Promise.all(Array.from({ length: Math.min(producers, n) }, producer))
}

/** Resolves when `runs()` reached `target` and the system reports `target` completed. */
const awaitCompleted = async (
  queue: BenchQueue,
  runs: () => number,
  target: number,
  deadline: number,
  phase: string
): Promise<void> => {
  while (runs() < target) {
    if (performance.now() > deadline)
      throw new Error(`${phase}: ${runs()} of ${target} handler runs before the deadline`)
    await sleep(2)
  }
  for (;;) {
    const completed = await queue.completed()
    if (completed >= target) return
    if (performance.now() > deadline)
      throw new Error(`${phase}: ${completed} of ${target} completed before the deadline`)
    await sleep(10)
  }
}

export const round = async (system: BenchSystem, name: string, options: RoundOptions): Promise<RoundResult> => {
  const { n, workers, concurrency, producers, deadlineMs, repeat } = options
  const queue = await system.queue(name, concurrency)
  let runs = 0
  try {
    const deadline = performance.now() + deadlineMs
    const t0 = performance.now()
    await enqueueAll(queue, 0, n, producers)
    const enqueue = rate(n, performance.now() - t0)

    const consumers = await queue.consumers(workers, () => {
      runs++
    })
    try {
      const t1 = performance.now()
      await consumers.run()
      await awaitCompleted(queue, () => runs, n, deadline, `${system.id} drain`)
      const drain = rate(n, performance.now() - t1)

      const t2 = performance.now()
      await enqueueAll(queue, n, n, producers)
      await awaitCompleted(queue, () => runs, 2 * n, deadline, `${system.id} enqueue→complete`)
      const endToEnd = rate(n, performance.now() - t2)
      return { system: system.id, workers, repeat, enqueue, drain, endToEnd, extraRuns: runs - 2 * n }
    } finally {
      await consumers.close()
    }
  } finally {
    await queue.close()
  }
}
