/**
 * A virtual clock and a controlled scheduler for the property tests: a whole scenario (the
 * supervisor, every task fiber, every timer and the driver itself) runs synchronously, in one call,
 * on virtual time.
 *
 * Why not `TestClock.adjust`: it waits for the real event loop (`setTimeout(0)`, two or three times)
 * before and after every wake-up, about 6 ms each, so a scenario of a few dozen steps costs a
 * second and 200 runs take minutes. Here every fiber is scheduled through `scheduleTask` below, so
 * "every runnable fiber has run" is exact (the task queue is empty) and costs nothing.
 *
 * The semantics are TestClock's: `sleep(d)` wakes at `now + d`, `sleep(0)` at once; `advance`
 * wakes the due sleeps one at a time in instant order, letting every fiber run after each; two
 * sleeps due at the same instant wake in registration order (`"fifo"`) or the reverse (`"lifo"`,
 * what TestClock does): the runs draw both, and the model accepts either.
 */
import { Clock, Duration, Effect, type Exit, Scheduler } from "effect"
import type { Driver } from "./commands.js"

export type TieOrder = "fifo" | "lifo"

interface Timer {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
}

/** Scheduler tasks one run may execute before it is declared a livelock (a fiber spinning at one instant). */
const MAX_TASKS = 2_000_000

export class VirtualRuntime implements Scheduler.Scheduler {
  now = 0
  private seq = 0
  private readonly timers = new Set<Timer>()
  private readonly tasks = new Scheduler.PriorityBuckets()
  private readonly idle: Array<() => void> = []

  constructor(readonly tieOrder: TieOrder) {}

  scheduleTask(task: Scheduler.Task, priority: number): void {
    this.tasks.scheduleTask(task, priority)
  }

  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]): number | false {
    return Scheduler.defaultShouldYield(fiber)
  }

  readonly clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => this.now,
    currentTimeMillis: Effect.sync(() => this.now),
    unsafeCurrentTimeNanos: () => BigInt(this.now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(this.now) * 1_000_000n),
    sleep: (duration: Duration.Duration): Effect.Effect<void> => {
      const ms = Duration.toMillis(duration)
      if (!(ms > 0)) return Effect.void
      return Effect.async<void>((resume) => {
        const timer: Timer = { at: this.now + ms, seq: this.seq++, wake: () => resume(Effect.void) }
        this.timers.add(timer)
        return Effect.sync(() => {
          this.timers.delete(timer)
        })
      })
    }
  }

  /** Resumes once no fiber is runnable (every fiber is done or waits for a timer or another fiber). */
  readonly flush: Effect.Effect<void> = Effect.async<void>((resume) => {
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

  /** Runs `effect` to its end on this runtime, synchronously. */
  run<A, E>(effect: Effect.Effect<A, E>): Exit.Exit<A, E> {
    const fiber = Effect.runFork(Effect.withClock(effect, this.clock), { scheduler: this })
    let executed = 0
    while (true) {
      if (this.tasks.buckets.length > 0) {
        const buckets = this.tasks.buckets
        this.tasks.buckets = []
        for (const [, tasks] of buckets) {
          for (const task of tasks) task()
          executed += tasks.length
        }
        if (executed > MAX_TASKS)
          throw new Error(`livelock: ${executed} scheduler tasks at virtual instant ${this.now}`)
      } else if (this.idle.length > 0) {
        this.idle.shift()!()
      } else {
        break
      }
    }
    const exit = fiber.unsafePoll()
    if (exit === null) throw new Error(`deadlock: the scenario waits for something that never happens (at ${this.now})`)
    return exit
  }
}
