/**
 * The event bus of a supervision tree: each event stamped with `seq` and `at`, then offered to one
 * sliding buffer per subscriber.
 *
 * Data flow: the root makes the bus (`makeBus`) and nested supervisors publish on it; every emit
 * site (`supervisor.ts` and `supervisor/*.ts`, `taskLoop.ts`, `controller.ts`) reads `listening`, builds
 * the event and calls `emit`; `subscribe` gives each subscriber a `Stream` over its buffer; `close`
 * (a root scope finalizer, run after the shutdown) ends every stream after what it still holds.
 *
 * Invariants:
 * - `seq` counts every event of the tree, built or not, so every subscriber sees the same numbers.
 * - Publishing never blocks and never runs a subscriber's code: waiters wake through `Signal`.
 * - No outcome depends on the bus: a subscriber that loses events loses no outcome.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as SupervisorEvent from "../SupervisorEvent.js"
import { Signal } from "./signal.js"

/** An event without the `seq` and `at` the bus stamps on it. */
export type EventInput = SupervisorEvent.SupervisorEvent extends infer E
  ? E extends SupervisorEvent.SupervisorEvent
    ? Omit<E, "seq" | "at">
    : never
  : never

/**
 * One subscriber's buffer of events, sliding: when it is full, the oldest event is dropped.
 *
 * The bus keeps its own buffers rather than an Effect `PubSub`: Effect 4's `PubSub` resumes a
 * waiting subscriber inside `publish`, so a subscriber's code would run in the middle of the
 * supervisor's bookkeeping (an event is emitted, say, between registering a task and starting its
 * fiber). Here an event is in every buffer as soon as it is emitted, and a waiting subscriber is
 * woken after the current synchronous work (`Signal`).
 */
class Subscription {
  private events: Array<SupervisorEvent.SupervisorEvent> = []
  /** The index of the oldest event not taken yet. */
  private head = 0
  /** Set while the subscriber waits for an event. */
  private waiter: Signal<void> | undefined = undefined
  /**
   * The subscriber was waiting when the current burst began: it holds one more event, the one
   * `PubSub` would have handed to it directly.
   */
  private extra = 0
  ended = false

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.events.length - this.head
  }

  offer(event: SupervisorEvent.SupervisorEvent): void {
    if (this.ended) return
    if (this.size >= this.capacity + this.extra) this.head += 1
    this.events.push(event)
    this.compact()
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      this.extra = 1
      waiter.complete(undefined)
    }
  }

  /** No event comes after these (the bus closed, or the subscription's scope did). */
  end(): void {
    this.ended = true
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.complete(undefined)
  }

  private compact(): void {
    if (this.head >= 1024 && this.head * 2 >= this.events.length) {
      this.events = this.events.slice(this.head)
      this.head = 0
    }
  }

  /** Everything buffered, or a wait for the next event; done once ended and drained. */
  readonly pull: Effect.Effect<ReadonlyArray<SupervisorEvent.SupervisorEvent>, Cause.Done> = Effect.suspend(() => {
    if (this.size > 0) {
      const taken = this.head === 0 ? this.events : this.events.slice(this.head)
      this.events = []
      this.head = 0
      this.extra = 0
      return Effect.succeed(taken)
    }
    if (this.ended) return Cause.done()
    return Effect.andThen((this.waiter ??= new Signal<void>()).await, this.pull)
  })
}

/**
 * The event bus of a supervision tree: the root makes it, nested supervisors publish into it, so
 * one subscription sees the whole tree (each event carries its path). Sliding: a slow subscriber
 * loses the oldest events, publishing never blocks.
 */
export class EventBus {
  private seq = 0
  /** With no subscriber, events are not even built (but still numbered). */
  private readonly subscriptions = new Set<Subscription>()
  private closed = false

  constructor(
    private readonly clock: Clock.Clock,
    private readonly capacity: number
  ) {}

  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /**
   * Whether anyone listens. Read it once per event, right before building it
   * (`if (bus.listening) bus.emit({ ... })`), and for nothing else: when nobody listens the event
   * is not built but its number is spent, so `seq` counts every event of the tree and a subscriber
   * that comes late (an SSE client that reconnects) sees the numbers an early one sees.
   */
  get listening(): boolean {
    if (this.subscriptions.size > 0) return true
    this.seq += 1
    return false
  }

  /**
   * The number of the last event of the tree (built or not): a snapshot read together with it,
   * in the same synchronous step, reflects exactly the events up to it.
   */
  get lastSeq(): number {
    return this.seq
  }

  emit(event: EventInput): void {
    if (this.subscriptions.size === 0) {
      this.seq += 1
      return
    }
    if (this.closed) return
    const full = { ...event, seq: ++this.seq, at: this.now() } as SupervisorEvent.SupervisorEvent
    for (const subscription of this.subscriptions) subscription.offer(full)
  }

  /**
   * A subscription lasting until its scope closes. Its stream ends when the bus closes, after the
   * events it had not taken yet: a subscriber in a scope that outlives the supervisor's sees the
   * whole shutdown, however slowly it reads.
   */
  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => {
          const subscription = new Subscription(this.capacity)
          // Subscribed to a closed bus: the stream ends at once.
          if (this.closed) subscription.end()
          else this.subscriptions.add(subscription)
          return subscription
        }),
        (subscription) =>
          Effect.sync(() => {
            this.subscriptions.delete(subscription)
            subscription.end()
          })
      ),
      (subscription) =>
        Stream.fromPull(
          Effect.succeed(
            subscription.pull as Effect.Effect<
              readonly [SupervisorEvent.SupervisorEvent, ...Array<SupervisorEvent.SupervisorEvent>],
              Cause.Done
            >
          )
        )
    )
  }

  /**
   * Closes the bus: each subscriber keeps what it has not taken yet (its stream delivers it, then
   * ends); later events are dropped.
   */
  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.closed = true
      for (const subscription of this.subscriptions) subscription.end()
    })
  }
}

/** Makes the bus of a new tree. */
export const makeBus = (capacity: number): Effect.Effect<EventBus> =>
  Clock.clockWith((clock) => Effect.sync(() => new EventBus(clock, capacity)))
