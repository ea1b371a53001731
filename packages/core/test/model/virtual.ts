/**
 * A virtual clock and a controlled scheduler for the property tests: a whole scenario (the
 * supervisor, every task fiber, every timer and the driver itself) runs in one call, on virtual
 * time, without waiting for any timer.
 *
 * Why not `TestClock.adjust`: it goes through the real event loop (`setImmediate`) around every
 * wake-up and needs the shared `TestTime.settle` turns before and after it, so a scenario of a few
 * dozen steps costs about a second and 200 runs take minutes. Here every fiber is scheduled
 * through the dispatchers below, so "every runnable fiber has run" is exact (no task is queued)
 * and costs next to nothing.
 *
 * The scheduler mirrors Effect 4's default one (`MixedScheduler`) on Effect 4's public `Scheduler`
 * interface (a `Context.Reference` that hands each fiber a dispatcher): each fiber gets its own
 * dispatcher with its own priority buckets; a dispatcher that receives a task while idle queues
 * one run of its batch (where Effect's queues a `setImmediate`), and a batch runs the tasks queued
 * before it began. The runtime runs those batches in FIFO order and lets the microtask queue drain
 * after each one, as the event loop does between two `setImmediate` callbacks (fibervisor defers
 * some wake-ups to a microtask, after the current synchronous work).
 *
 * The semantics are TestClock's: `sleep(d)` wakes at `now + d`, `sleep(0)` at once; `advance`
 * wakes the due sleeps one at a time in instant order, letting every fiber run after each; two
 * sleeps due at the same instant wake in registration order (`"fifo"`, what Effect 4's TestClock
 * does) or the reverse (`"lifo"`, what Effect 3's did): the runs draw both, and the model accepts
 * either.
 */
import { Clock, Duration, Effect, type Exit, type Fiber, type Scheduler } from "effect"
import type { Driver } from "./commands.js"

export type TieOrder = "fifo" | "lifo"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
}

/** Scheduler tasks one run may execute before it is declared a livelock (a fiber spinning at one instant). */
const MAX_TASKS = 2_000_000

type Task = () => void

/** Lets every microtask queued so far, and those they queue, run (the event loop's next macrotask). */
const drainMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * One fiber's dispatcher: ready tasks by ascending priority (Effect's `PriorityBuckets`). `queue`
 * is told once per batch to run, when the first task of the batch arrives.
 */
class VirtualDispatcher implements Scheduler.SchedulerDispatcher {
  private buckets: Array<[priority: number, tasks: Array<Task>]> = []
  private queued = false

  constructor(private readonly queue: (batch: () => number) => void) {}

  scheduleTask(task: Task, priority: number): void {
    const buckets = this.buckets
    let index = 0
    while (index < buckets.length && buckets[index]![0] < priority) index++
    const bucket = buckets[index]
    if (bucket !== undefined && bucket[0] === priority) bucket[1].push(task)
    else buckets.splice(index, 0, [priority, [task]])
    if (!this.queued) {
      this.queued = true
      this.queue(this.runBatch)
    }
  }

  /** Runs the tasks queued so far (a task they schedule goes into the next batch); how many ran. */
  private readonly runBatch = (): number => {
    this.queued = false
    const buckets = this.buckets
    this.buckets = []
    let executed = 0
    for (const [, tasks] of buckets) {
      for (const task of tasks) task()
      executed += tasks.length
    }
    return executed
  }

  flush(): void {
    while (this.buckets.length > 0) this.runBatch()
  }
}

export class VirtualRuntime implements Scheduler.Scheduler {
  now = 0
  private seq = 0
  private readonly timers = new Set<Timer>()
  /** Batches waiting to run, in the order their dispatchers asked (Effect's `setImmediate`s). */
  private readonly batches: Array<() => number> = []
  private readonly idle: Array<() => void> = []
  /** Wakes sleepers: a batch of its own, like a fiber's resumption scheduled from outside. */
  private readonly timerDispatcher: VirtualDispatcher

  constructor(readonly tieOrder: TieOrder) {
    this.timerDispatcher = new VirtualDispatcher(this.queueBatch)
  }

  readonly executionMode = "async" as const

  /** Effect's default budget: a fiber yields after `maxOpsBeforeYield` operations. */
  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return fiber.currentOpCount >= fiber.cache.maxOpsBeforeYield
  }

  private readonly queueBatch = (batch: () => number): void => {
    this.batches.push(batch)
  }

  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return new VirtualDispatcher(this.queueBatch)
  }

  readonly clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => this.now,
    currentTimeMillis: Effect.sync(() => this.now),
    currentTimeNanosUnsafe: () => BigInt(this.now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(this.now) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => BigInt(this.now) * 1_000_000n,
    monotonicTimeNanos: Effect.sync(() => BigInt(this.now) * 1_000_000n),
    sleep: (duration: Duration.Duration): Effect.Effect<void> => {
      const ms = Duration.toMillis(duration)
      if (!(ms > 0)) return Effect.void
      return Effect.callback<void>((resume) => {
        // The sleeper resumes in a scheduled task, once the waking driver has suspended (not
        // nested in the driver's own run loop).
        const timer: Timer = {
          at: this.now + ms,
          seq: this.seq++,
          wake: () => this.timerDispatcher.scheduleTask(() => resume(Effect.void), 0)
        }
        this.timers.add(timer)
        return Effect.sync(() => {
          this.timers.delete(timer)
        })
      })
    }
  }

  /** Resumes once no fiber is runnable (every fiber is done or waits for a timer or another fiber). */
  readonly flush: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.idle.push(() => resume(Effect.void))
  })

  /** The due timer to wake next, if any is due by `target`. */
  private next(target: number): Timer | undefined {
    let best: Timer | undefined = undefined
    for (const timer of this.timers) {
      if (timer.at > target) continue
      if (
        best === undefined ||
        timer.at < best.at ||
        (timer.at === best.at && (this.tieOrder === "fifo" ? timer.seq < best.seq : timer.seq > best.seq))
      ) {
        best = timer
      }
    }
    return best
  }

  /** Moves the clock forward by `ms`, waking each due timer in turn and letting every fiber run after each. */
  advance(ms: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      const target = this.now + ms
      const loop: Effect.Effect<void> = Effect.flatMap(this.flush, () => {
        const timer = this.next(target)
        if (timer === undefined) {
          this.now = target
          return this.flush
        }
        this.timers.delete(timer)
        this.now = timer.at
        timer.wake()
        return loop
      })
      return loop
    })
  }

  readonly driver: Driver = { flush: this.flush, advance: (ms) => this.advance(ms) }

  /** Runs `effect` to its end on this runtime. */
  async run<A, E>(effect: Effect.Effect<A, E>): Promise<Exit.Exit<A, E>> {
    const fiber = Effect.runFork(Effect.provideService(effect, Clock.Clock, this.clock), { scheduler: this })
    let executed = 0
    while (true) {
      // What ran last may have queued microtasks: they run before the next batch, as in Node.
      await Promise.resolve()
      const batch = this.batches.shift()
      if (batch !== undefined) {
        executed += batch()
        if (executed > MAX_TASKS)
          throw new Error(`livelock: ${executed} scheduler tasks at virtual instant ${this.now}`)
        continue
      }
      // Nothing is queued: make sure no microtask is still on its way to queue something.
      await drainMicrotasks()
      if (this.batches.length > 0) continue
      const resume = this.idle.shift()
      if (resume === undefined) break
      resume()
    }
    const exit = fiber.pollUnsafe()
    if (exit === undefined) {
      throw new Error(`deadlock: the scenario waits for something that never happens (at ${this.now})`)
    }
    return exit
  }
}
