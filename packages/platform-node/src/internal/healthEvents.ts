/**
 * `/events`: the supervisor's events as server-sent events.
 *
 * @internal
 */
import { type Supervisor, SupervisorEvent } from "@fibervisor/core"
import * as Effect from "effect/Effect"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** Sent first, so a client knows the stream is open (and the headers are flushed). */
export const connected = ": connected\n\n"

/**
 * A comment line sent while nothing else is, so proxies and load balancers with an idle timeout
 * keep the connection open.
 */
export const heartbeat = ": ping\n\n"

const heartbeatEvery = "15 seconds"

/** One event as an SSE message: its tag as the event type, its `seq` as the id, its encoded form as data. */
export const frame = (event: SupervisorEvent.SupervisorEvent): string =>
  `event: ${event._tag}\nid: ${event.seq}\ndata: ${JSON.stringify(SupervisorEvent.encode(event))}\n\n`

/** Counts the open streams. */
export interface StreamCounter {
  readonly opened: Effect.Effect<void>
  readonly closed: Effect.Effect<void>
}

/**
 * Subscribes to the supervisor's events in the request's scope before responding, so no event
 * published after the request arrived is missed, and the subscription is released with the scope:
 * when the stream ends, or when the client goes away (the server interrupts the request's fiber).
 * The stream ends when the supervisor's bus closes, or when `closing` completes (the health server
 * is being released: an open stream would keep the HTTP server from closing). `closing` completes
 * only once the supervisor's shutdown has finished, so its last event is already in the
 * subscription, and the fiber it woke runs before the interruption reaches the stream (a client too
 * slow to keep up can still miss the tail, as with any subscriber of the sliding bus).
 */
export const respond = (
  supervisor: Supervisor.Supervisor,
  closing: Effect.Effect<void>,
  counter: StreamCounter
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, Scope.Scope> =>
  Effect.gen(function* () {
    const events = yield* supervisor.subscribe
    yield* Effect.acquireRelease(counter.opened, () => counter.closed)
    // Ended here, before the merge, so the messages already pulled are still written.
    const messages = Stream.interruptWhen(Stream.map(events, frame), closing)
    const pings = Stream.fromSchedule(Schedule.spaced(heartbeatEvery)).pipe(Stream.as(heartbeat))
    const body = Stream.succeed(connected).pipe(
      Stream.concat(messages),
      // Ends with the messages.
      Stream.merge(pings, { haltStrategy: "left" }),
      Stream.encodeText
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache" }
    })
  })
