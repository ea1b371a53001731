import type * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as SupervisorEvent from "../SupervisorEvent.js"

/** An event without the `seq` and `at` the bus stamps on it. */
export type EventInput = SupervisorEvent.SupervisorEvent extends infer E
  ? E extends SupervisorEvent.SupervisorEvent
    ? Omit<E, "seq" | "at">
    : never
  : never

/** One subscriber's queue, and what it had not taken when the bus closed. */
interface Subscription {
  readonly dequeue: Queue.Dequeue<SupervisorEvent.SupervisorEvent>
  rest: Chunk.Chunk<SupervisorEvent.SupervisorEvent> | undefined
}

/**
 * The event bus of a supervision tree: the root makes it, nested supervisors publish into it, so
 * one subscription sees the whole tree (each event carries its path). A sliding `PubSub`: a slow
 * subscriber loses the oldest events, publishing never blocks.
 */
export class EventBus {
  private seq = 0
  /** With no subscriber, events are not even built (but still numbered). */
  private readonly subscriptions = new Set<Subscription>()
  private closed = false

  constructor(
    private readonly clock: Clock.Clock,
    private readonly pubsub: PubSub.PubSub<SupervisorEvent.SupervisorEvent>
  ) {}

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
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

  emit(event: EventInput): void {
    if (this.subscriptions.size === 0) {
      this.seq += 1
      return
    }
    if (this.closed) return
    const full = { ...event, seq: ++this.seq, at: this.now() } as SupervisorEvent.SupervisorEvent
    // `unsafeOffer` refuses when a subscriber's buffer is full instead of sliding; only `publish`
    // applies the sliding strategy (drop the oldest). A sliding publish never suspends.
    if (!this.pubsub.unsafeOffer(full) && this.pubsub.isActive()) Effect.runSync(PubSub.publish(this.pubsub, full))
  }

  /**
   * A subscription lasting until its scope closes. Its stream ends when the bus closes, after the
   * events it had not taken yet: a subscriber in a scope that outlives the supervisor's sees the
   * whole shutdown, however slowly it reads.
   */
  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return Effect.map(
      Effect.acquireRelease(
        Effect.map(PubSub.subscribe(this.pubsub), (dequeue): Subscription => {
          const subscription: Subscription = { dequeue, rest: undefined }
          // Subscribed to a closed bus: its queue is already shut down, the stream ends at once.
          if (!this.closed) this.subscriptions.add(subscription)
          return subscription
        }),
        (subscription) =>
          Effect.sync(() => {
            this.subscriptions.delete(subscription)
          })
      ),
      (subscription) =>
        Stream.concat(
          Stream.fromQueue(subscription.dequeue),
          Stream.suspend(() => {
            const rest = subscription.rest
            subscription.rest = undefined
            return rest === undefined ? Stream.empty : Stream.fromChunk(rest)
          })
        )
    )
  }

  /**
   * Closes the bus: each subscriber keeps what it has not taken yet (its stream delivers it, then
   * ends); later events are dropped.
   */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      for (const subscription of this.subscriptions) {
        // A queue already shut down has nothing to hand over (`takeAll` would be interrupted).
        const taken = Effect.runSync(Effect.exit(Queue.takeAll(subscription.dequeue)))
        if (Exit.isSuccess(taken)) subscription.rest = taken.value
      }
      return PubSub.shutdown(this.pubsub)
    })
  }
}

/** Makes the bus of a new tree. */
export const makeBus = (capacity: number): Effect.Effect<EventBus> =>
  Effect.zipWith(
    Effect.clock,
    PubSub.sliding<SupervisorEvent.SupervisorEvent>(capacity),
    (clock, pubsub) => new EventBus(clock, pubsub)
  )
