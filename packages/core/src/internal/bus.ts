import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as SupervisorEvent from "../SupervisorEvent.js"

/** An event without the `seq` and `at` the bus stamps on it. */
export type EventInput = SupervisorEvent.SupervisorEvent extends infer E
  ? E extends SupervisorEvent.SupervisorEvent
    ? Omit<E, "seq" | "at">
    : never
  : never

/**
 * The event bus of a supervision tree: the root makes it, nested supervisors publish into it, so
 * one subscription sees the whole tree (each event carries its path). A sliding `PubSub`: a slow
 * subscriber loses the oldest events, publishing never blocks.
 */
export class EventBus {
  private seq = 0
  /** With no subscriber, events are not even built. */
  private subscribers = 0

  constructor(
    private readonly clock: Clock.Clock,
    private readonly pubsub: PubSub.PubSub<SupervisorEvent.SupervisorEvent>
  ) {}

  now(): number {
    return this.clock.unsafeCurrentTimeMillis()
  }

  get listening(): boolean {
    return this.subscribers > 0
  }

  emit(event: EventInput): void {
    if (this.subscribers === 0) return
    const full = { ...event, seq: ++this.seq, at: this.now() } as SupervisorEvent.SupervisorEvent
    // `unsafeOffer` refuses when a subscriber's buffer is full instead of sliding; only `publish`
    // applies the sliding strategy (drop the oldest). A sliding publish never suspends.
    if (!this.pubsub.unsafeOffer(full) && this.pubsub.isActive()) Effect.runSync(PubSub.publish(this.pubsub, full))
  }

  get subscribe(): Effect.Effect<Stream.Stream<SupervisorEvent.SupervisorEvent>, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.tap(PubSub.subscribe(this.pubsub), () => {
        this.subscribers += 1
      }),
      () =>
        Effect.sync(() => {
          this.subscribers -= 1
        })
    ).pipe(Effect.map((dequeue) => Stream.fromQueue(dequeue)))
  }

  get close(): Effect.Effect<void> {
    return PubSub.shutdown(this.pubsub)
  }
}

/** Makes the bus of a new tree. */
export const makeBus = (capacity: number): Effect.Effect<EventBus> =>
  Effect.zipWith(
    Effect.clock,
    PubSub.sliding<SupervisorEvent.SupervisorEvent>(capacity),
    (clock, pubsub) => new EventBus(clock, pubsub)
  )
