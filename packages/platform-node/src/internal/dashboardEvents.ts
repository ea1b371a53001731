/**
 * The dashboard's event stream: one subscription to the supervisor's bus feeds a bounded ring of
 * the latest events, and every `/api/events` connection reads the ring from its own cursor, so a
 * client that reconnects resumes after the last event it saw without a gap.
 *
 * Owns: the ring (`EventRing`), its feeder fiber, and the SSE body of a connection. Data flow:
 * bus → feeder → `EventRing.push` → wakes the connections → each takes the events after its
 * cursor → frames (`id: <seq>`, `event: <_tag>`, `data: <encoded event>`) → the response body.
 *
 * Invariants:
 * - `floor`: every event with `seq >= floor` that the bus published after the feeder subscribed
 *   is in the ring, in order. A cursor `c` can resume iff `c >= floor - 1`; an older one (evicted,
 *   or before a gap the sliding bus made) gets one `reset` message and goes on live, and the client
 *   refetches the snapshot (whose `seq` tells it which events to apply).
 * - A cursor never moves backwards, and a connection never sends an event twice.
 * - A cursor ahead of every event the bus has published (a client of an earlier process) is reset.
 * - The ring never blocks the bus: the feeder only copies references.
 *
 * @internal
 */
import { type Supervisor, SupervisorEvent } from "@fibervisor/core"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** How many events the ring keeps (a reconnect within this many events resumes without a reset). */
export const ringCapacity = 4096

/** Sent first, so a client knows the stream is open (and the headers are flushed). */
export const connected = ": connected\n\n"

/** A comment line sent every 15 seconds, so proxies with an idle timeout keep the connection open. */
export const heartbeat = ": ping\n\n"

export const heartbeatEvery = "15 seconds"

/** The bounded ring of the latest events. */
export class EventRing {
  private readonly events: Array<SupervisorEvent.SupervisorEvent> = []
  /** Index of the oldest event in `events` (a circular buffer once full). */
  private head = 0
  private changed = Deferred.makeUnsafe<void>()
  private ended = false

  constructor(
    /** The `seq` of the last event published before the feeder subscribed. */
    public lastSeq: number,
    readonly capacity: number = ringCapacity
  ) {
    this.floor = lastSeq + 1
  }

  /** The lowest `seq` a client may resume from (see the module's invariants). */
  floor: number

  get size(): number {
    return this.events.length
  }

  /** Has the feeder's subscription ended (the supervisor's bus closed)? */
  get isEnded(): boolean {
    return this.ended
  }

  /** Adds the next event from the bus. */
  push(event: SupervisorEvent.SupervisorEvent): void {
    // Published before the feeder's first read of `lastSeq` (already in the snapshot's count).
    if (event.seq <= this.lastSeq) return
    // The sliding bus dropped events the feeder did not take in time: nothing before this resumes.
    if (event.seq !== this.lastSeq + 1) this.floor = event.seq
    if (this.events.length < this.capacity) {
      this.events.push(event)
    } else {
      this.events[this.head] = event
      this.head = (this.head + 1) % this.capacity
      this.floor = Math.max(this.floor, this.events[this.head]!.seq)
    }
    this.lastSeq = event.seq
  }

  /** Wakes the connections waiting for events (after a batch of pushes). */
  notify(): void {
    const changed = this.changed
    this.changed = Deferred.makeUnsafe<void>()
    Deferred.doneUnsafe(changed, Exit.void)
  }

  /** No event comes any more: connections end once they have sent what they have not. */
  end(): void {
    this.ended = true
    this.notify()
  }

  /** Resumes after the next `notify`. */
  get awaitChange(): Effect.Effect<void> {
    return Effect.suspend(() => Deferred.await(this.changed))
  }

  /** The events with a `seq` greater than `cursor`, oldest first; `"reset"` when `cursor` cannot resume. */
  after(cursor: number): ReadonlyArray<SupervisorEvent.SupervisorEvent> | "reset" {
    if (cursor < this.floor - 1) return "reset"
    if (cursor >= this.lastSeq) return []
    const out: Array<SupervisorEvent.SupervisorEvent> = []
    const size = this.events.length
    // The newest `lastSeq - cursor` events, in order (the ring holds them: cursor >= floor - 1).
    const wanted = Math.min(this.lastSeq - cursor, size)
    for (let i = size - wanted; i < size; i++) out.push(this.events[(this.head + i) % size]!)
    return out
  }
}

/**
 * Subscribes to the supervisor's events in `scope` and feeds the ring from a fiber of that scope.
 * Subscribes first and reads the snapshot's `seq` next: an event published between the two is in
 * both, and the ring skips it (its `seq` is not above `lastSeq`).
 */
export const makeRing = (
  supervisor: Supervisor.Supervisor,
  capacity: number = ringCapacity
): Effect.Effect<EventRing, never, Scope.Scope> =>
  Effect.gen(function* () {
    const events = yield* supervisor.subscribe
    const { seq } = yield* supervisor.snapshot
    const ring = new EventRing(seq, capacity)
    yield* events.pipe(
      Stream.runForEachArray((batch) =>
        Effect.sync(() => {
          for (const event of batch) ring.push(event)
          ring.notify()
        })
      ),
      Effect.ensuring(Effect.sync(() => ring.end())),
      Effect.forkScoped
    )
    return ring
  })

/** One event as an SSE message: its `seq` as the id, its tag as the event type, its encoded form as data. */
export const frame = (event: SupervisorEvent.SupervisorEvent): string =>
  `id: ${event.seq}\nevent: ${event._tag}\ndata: ${JSON.stringify(SupervisorEvent.encode(event))}\n\n`

/** The message that tells a client to refetch the snapshot: no `id`, so its Last-Event-ID stays. */
export const resetFrame = (after: number, oldest: number): string =>
  `event: reset\ndata: ${JSON.stringify({ after, oldest })}\n\n`

/**
 * The messages of one connection from `cursor` on: what the ring holds after it, then each new
 * batch as it comes; a `reset` message when the cursor cannot resume (then live from the ring's
 * newest event). Ends once the ring has ended and everything was sent.
 */
export const messages = (
  ring: EventRing,
  start: number,
  transform: (event: SupervisorEvent.SupervisorEvent) => SupervisorEvent.SupervisorEvent
): Stream.Stream<string> => {
  let cursor = start
  const pull: Effect.Effect<readonly [string, ...Array<string>], Cause.Done> = Effect.suspend(() => {
    const events = ring.after(cursor)
    if (events === "reset") {
      const message = resetFrame(cursor, ring.floor)
      cursor = ring.lastSeq
      return Effect.succeed([message] as const)
    }
    if (events.length > 0) {
      cursor = events[events.length - 1]!.seq
      // One chunk per batch: written to the socket together.
      return Effect.succeed([events.map((event) => frame(transform(event))).join("")] as const)
    }
    if (ring.isEnded) return Cause.done()
    return Effect.andThen(ring.awaitChange, pull)
  })
  return Stream.fromPull(Effect.succeed(pull))
}

/** The comment pings, every 15 seconds. */
export const pings: Stream.Stream<string> = Stream.fromSchedule(Schedule.spaced(heartbeatEvery)).pipe(
  Stream.as(heartbeat)
)
