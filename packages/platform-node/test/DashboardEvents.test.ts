/**
 * `GET /api/events`: the supervisor's events as server-sent events from the dashboard's ring,
 * resumed after `?after=<seq>` or `Last-Event-ID` without a gap or a double, a `reset` when the
 * cursor is older than the ring (or ahead of the bus), payloads hidden unless `showPayloads`,
 * pings every 15 seconds on the TestClock, and the end of every stream after the shutdown's events.
 * The ring itself is tested alone first, with a small capacity.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { Backoff, Supervisor, type SupervisorEvent, Task, TaskError, type TaskId } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { TestTime } from "@fibervisor/vitest"
import { EventRing, frame, resetFrame } from "../src/internal/dashboardEvents.js"
import {
  decodeEvent,
  get,
  jsonOf,
  openEvents,
  readUntil,
  send,
  start,
  type Started,
  uniqueRoot,
  until
} from "./dashboardHelpers.js"

const added = (seq: number): SupervisorEvent.SupervisorEvent => ({
  _tag: "TaskAdded",
  seq,
  at: seq,
  id: seq as TaskId.TaskId,
  task: `t${seq}`,
  path: `root/t${seq}`
})

const seqs = (events: ReadonlyArray<SupervisorEvent.SupervisorEvent> | "reset") =>
  events === "reset" ? "reset" : events.map((event) => event.seq)

describe("EventRing", () => {
  it("resumes any cursor from the seq it started after; older ones reset", () => {
    const ring = new EventRing(10, 4)
    expect(ring.floor).toBe(11)
    expect(seqs(ring.after(10))).toEqual([])
    expect(seqs(ring.after(9))).toBe("reset")
    for (let seq = 11; seq <= 13; seq++) ring.push(added(seq))
    expect(seqs(ring.after(10))).toEqual([11, 12, 13])
    expect(seqs(ring.after(12))).toEqual([13])
    expect(seqs(ring.after(13))).toEqual([])
    // Ahead of the ring: nothing yet (the route decides whether it is ahead of the bus).
    expect(seqs(ring.after(99))).toEqual([])
  })

  it("evicts the oldest event when full: the floor moves up with it", () => {
    const ring = new EventRing(0, 4)
    for (let seq = 1; seq <= 6; seq++) ring.push(added(seq))
    expect(ring.size).toBe(4)
    expect(ring.floor).toBe(3)
    expect(seqs(ring.after(2))).toEqual([3, 4, 5, 6])
    expect(seqs(ring.after(1))).toBe("reset")
    expect(seqs(ring.after(4))).toEqual([5, 6])
    for (let seq = 7; seq <= 13; seq++) ring.push(added(seq))
    expect(seqs(ring.after(9))).toEqual([10, 11, 12, 13])
    expect(seqs(ring.after(8))).toBe("reset")
  })

  it("a gap (events the sliding bus dropped) moves the floor past it; events already counted are skipped", () => {
    const ring = new EventRing(5, 8)
    ring.push(added(4)) // published before the ring's start: counted in the snapshot already
    ring.push(added(5))
    ring.push(added(6))
    ring.push(added(7))
    ring.push(added(10))
    ring.push(added(11))
    expect(ring.lastSeq).toBe(11)
    expect(ring.floor).toBe(10)
    expect(seqs(ring.after(9))).toEqual([10, 11])
    expect(seqs(ring.after(7))).toBe("reset")
    expect(seqs(ring.after(5))).toBe("reset")
  })

  it("frames an event as id, event and data lines; a reset carries no id", () => {
    expect(frame(added(7))).toBe(
      `id: 7\nevent: TaskAdded\ndata: {"_tag":"TaskAdded","seq":7,"at":7,"id":7,"task":"t7","path":"root/t7"}\n\n`
    )
    expect(resetFrame(3, 40)).toBe(`event: reset\ndata: {"after":3,"oldest":40}\n\n`)
  })
})

/** `/api/events` with `after`, the first message checked to be the `connected` comment. */
const connect = (started: Started, query = "", headers?: Readonly<Record<string, string | null>>) =>
  Effect.gen(function* () {
    const stream = yield* openEvents(started, `/api/events${query}`, headers)
    expect(stream.status).toBe(200)
    expect(yield* stream.next).toEqual({ comments: ["connected"] })
    return stream
  })

describe("Dashboard: /api/events", () => {
  it.live("streams live events with id, event and data; the headers of an event stream", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-live"))
      const stream = yield* connect(started)
      expect(stream.headers["content-type"]).toBe("text/event-stream")
      expect(stream.headers["cache-control"]).toBe("no-store")
      expect(stream.headers["x-accel-buffering"]).toBe("no")
      expect(stream.headers["content-security-policy"]).toBeDefined()
      expect(stream.headers["set-cookie"]).toBeUndefined()
      yield* until("the stream to be counted", started.board.openEventStreams, (open) => open === 1)
      yield* started.sup.add(Task.make("w", Effect.never))
      const seen = yield* readUntil(stream, (event) => event._tag === "AttemptStarting")
      expect(seen.map((event) => [event._tag, "path" in event ? event.path : ""])).toEqual([
        ["TaskAdded", `${(yield* started.sup.tree).path}/w`],
        ["AttemptStarting", `${(yield* started.sup.tree).path}/w`]
      ])
      expect(seen[1]!.seq).toBe(seen[0]!.seq + 1)
      yield* stream.close
      yield* until("the stream to be released", started.board.openEventStreams, (open) => open === 0)
    })
  )

  it.live("snapshot, then ?after=<its seq>: every later event exactly once, none it already reflects", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-resume"))
      yield* started.sup.add(Task.make("a", Effect.never))
      yield* until("a to run", started.sup.list, (list) => list[0]?.state === "running")
      const snapshot = jsonOf(yield* get(started, "/api/snapshot"))
      // Events after the snapshot, before the client connects.
      yield* started.sup.add(Task.make("b", Effect.never))
      yield* started.sup.remove("a")
      yield* until("a to be gone", started.sup.list, (list) => list.length === 1)
      const stream = yield* connect(started, `?after=${snapshot.seq}`)
      const root = snapshot.tree.path
      const seen = yield* readUntil(stream, (event) => event._tag === "TaskRemoved" && event.path === `${root}/a`)
      expect(seen[0]!.seq).toBe(snapshot.seq + 1)
      expect(seen.map((event) => event.seq)).toEqual(seen.map((_, i) => snapshot.seq + 1 + i))
      expect(seen.map((event) => event._tag)).toContain("TaskAdded")
    })
  )

  it.live("a reconnect resumes after the last id it saw, with Last-Event-ID winning over ?after", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-reconnect"))
      const first = yield* connect(started)
      yield* started.sup.add(Task.make("a", Effect.never))
      const before = yield* readUntil(first, (event) => event._tag === "AttemptStarting")
      const last = before.at(-1)!.seq
      yield* first.close
      // Missed while disconnected.
      yield* started.sup.add(Task.make("b", Effect.never))
      yield* until("b to run", started.sup.list, (list) => list.length === 2 && list[1]!.state === "running")
      // The browser's EventSource reconnects to its old URL with the newer Last-Event-ID.
      const second = yield* connect(started, "?after=0", { "last-event-id": String(last) })
      const after = yield* readUntil(second, (event) => event._tag === "AttemptStarting")
      expect(after.map((event) => event.seq)).toEqual([last + 1, last + 2])
    })
  )

  it.live("a cursor older than the ring gets a reset, then live events", () =>
    Effect.gen(function* () {
      // Events before the dashboard started are not in its ring.
      const sup = yield* Supervisor.make({ name: uniqueRoot("ev-old") })
      yield* sup.add(Task.make("early", Effect.never))
      yield* until("early to run", sup.list, (list) => list[0]?.state === "running")
      const context = yield* Layer.build(
        HealthServer.layer({ port: 0, host: "127.0.0.1", dashboard: { port: 0 } }).pipe(
          Layer.provide(Layer.succeed(Supervisor.Supervisor, sup))
        )
      )
      const board = Context.get(context, HealthServer.HealthServer).dashboard!
      const started: Started = {
        sup,
        server: Context.get(context, HealthServer.HealthServer),
        board,
        offload: undefined,
        authority: `127.0.0.1:${board.port}`
      }
      const { seq } = yield* sup.snapshot
      expect(seq).toBe(2)
      const stream = yield* connect(started, "?after=0")
      expect(yield* stream.next).toEqual({
        comments: [],
        event: "reset",
        data: JSON.stringify({ after: 0, oldest: 3 })
      })
      yield* sup.add(Task.make("late", Effect.never))
      const seen = yield* readUntil(stream, (event) => event._tag === "TaskAdded")
      expect(seen.map((event) => event.seq)).toEqual([3])
      // The snapshot's own seq resumes fine.
      const again = yield* connect(started, `?after=${seq}`)
      expect((yield* readUntil(again, () => true))[0]!.seq).toBe(3)
    }).pipe(Effect.orDie)
  )

  it.live("a cursor ahead of every event (a client of an earlier process) gets a reset", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-future"))
      const stream = yield* connect(started, "?after=999999")
      const reset = yield* stream.next
      expect(reset).toMatchObject({ event: "reset" })
      expect(JSON.parse(reset!.data!)).toMatchObject({ after: 999999 })
      yield* started.sup.add(Task.make("w", Effect.never))
      const seen = yield* readUntil(stream, (event) => event._tag === "TaskAdded")
      expect(seen).toHaveLength(1)
    })
  )

  it.live("HEAD answers the stream's headers and holds no stream open", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-head"))
      const reply = yield* send({ port: started.board.port, method: "HEAD", path: "/api/events" })
      expect(reply.status).toBe(200)
      expect(reply.headers["content-type"]).toBe("text/event-stream")
      expect(reply.text).toBe("")
      yield* until("the stream to be released", started.board.openEventStreams, (open) => open === 0)
    })
  )

  it.live("400 for a cursor that is not a seq", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-bad"))
      for (const [query, headers, error] of [
        ["?after=-1", undefined, "after must be an event's seq (a non-negative integer)"],
        ["?after=1.5", undefined, "after must be an event's seq (a non-negative integer)"],
        ["?after=abc", undefined, "after must be an event's seq (a non-negative integer)"],
        ["?after=99999999999999999999", undefined, "after must be an event's seq (a non-negative integer)"],
        ["?after=1&after=2", undefined, "after must be given once"],
        ["", { "last-event-id": "x" }, "Last-Event-ID must be an event's seq (a non-negative integer)"]
      ] as const) {
        const reply = yield* get(started, `/api/events${query}`, headers)
        expect(reply.status, query).toBe(400)
        expect(jsonOf(reply)).toEqual({ ok: false, error })
      }
      expect(yield* started.board.openEventStreams).toBe(0)
    })
  )

  it.effect("payloads are hidden in events unless showPayloads", () =>
    Effect.gen(function* () {
      for (const show of [false, true]) {
        const started = yield* start(uniqueRoot("ev-payloads"), { showPayloads: show })
        const stream = yield* connect(started)
        yield* started.sup.add(
          Task.make("flaky", Effect.fail(TaskError.fail("secret=42")), { backoff: Backoff.constant("1 minute") })
        )
        yield* TestTime.settle()
        const seen = yield* readUntil(stream, (event) => event._tag === "BackoffScheduled")
        const failed = seen.find((event) => event._tag === "AttemptFailed")!
        const backoff = seen.find((event) => event._tag === "BackoffScheduled")!
        expect(failed).toMatchObject({ reason: show ? "secret=42" : "[hidden]" })
        expect(backoff).toMatchObject({ reason: show ? "secret=42" : "[hidden]" })
        yield* stream.close
      }
    })
  )

  // On the TestClock: the server's fibers run with the services of the scope that built it.
  it.effect("sends a ping comment on an idle stream every 15 seconds", () =>
    Effect.gen(function* () {
      const clock = yield* Clock.Clock
      const wakes: Array<number> = []
      const recording: Clock.Clock = {
        ...clock,
        sleep: (duration) =>
          Effect.suspend(() => {
            wakes.push(clock.currentTimeMillisUnsafe() + Duration.toMillis(duration))
            return clock.sleep(duration)
          })
      }
      const started = yield* start(uniqueRoot("ev-ping")).pipe(Effect.provideService(Clock.Clock, recording))
      const stream = yield* connect(started)
      for (let ping = 1; ping <= 2; ping++) {
        yield* until(
          "the ping timer",
          Effect.sync(() => wakes.slice()),
          (due) => due.includes(ping * 15_000)
        )
        yield* TestTime.adjust("15 seconds")
        expect(yield* stream.next).toEqual({ comments: ["ping"] })
      }
      yield* stream.close
    })
  )

  it.live("on release, every stream sends the shutdown's events, then ends", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("ev-release")
      const outcome = yield* Effect.scoped(
        Effect.gen(function* () {
          const started = yield* start(root)
          const stream = yield* connect(started)
          yield* started.sup.add(Task.make("w", Effect.never))
          yield* readUntil(stream, (event) => event._tag === "AttemptStarting")
          return stream
        })
      )
      // Released: the rest of the stream is the shutdown, then its end.
      const tags: Array<string> = []
      while (true) {
        const message = yield* outcome.next
        if (message === undefined) break
        if (message.data === undefined) continue
        tags.push((yield* decodeEvent(message))._tag)
      }
      expect(tags).toEqual([
        "ShutdownRequested",
        "TaskRemoveRequested",
        "AttemptCanceled",
        "TaskFinished",
        "TaskRemoved",
        "AllStoppedWithinGrace"
      ])
    })
  )

  it.live("at most 100 streams at once: the next one is refused with 503", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("ev-many"))
      const streams = yield* Effect.forEach(Array.from({ length: 100 }), () => connect(started), {
        concurrency: 10
      })
      const refused = yield* get(started, "/api/events")
      expect(refused.status).toBe(503)
      expect(jsonOf(refused)).toEqual({ ok: false, error: "too many event streams (at most 100)" })
      yield* streams[0]!.close
      yield* until("one stream released", started.board.openEventStreams, (open) => open === 99)
      const another = yield* connect(started)
      yield* another.close
      yield* Effect.forEach(streams, (stream) => stream.close, { discard: true })
    })
  )
})
