/**
 * `/readyz` and `/tasks` tell the truth about readiness (issue 12, items 1 and 2), over real
 * sockets: a readiness task that ended for good keeps `/readyz` at 503 (it answered 200 for as
 * long as the process lived), and a `ready: "reported"` task is ready only once it said so.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer } from "effect"
import { Backoff, Supervisor, Task, TaskContext } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { TestTime } from "@fibervisor/vitest"

let roots = 0
const uniqueRoot = (prefix: string): string => `${prefix}-${++roots}`

/** A real-time pause (the TestClock does not move it). */
const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Runs `effect` until `done` holds for its result, at most 150 times, 10 ms apart (real time). */
const until = <A, E>(what: string, effect: Effect.Effect<A, E>, done: (a: A) => boolean) =>
  Effect.gen(function* () {
    let last: A | undefined
    for (let i = 0; i < 150; i++) {
      last = yield* effect
      if (done(last)) return last
      yield* pause(10)
    }
    return yield* Effect.fail(new Error(`gave up waiting for ${what}; last: ${JSON.stringify(last)}`))
  })

const getJson = (server: HealthServer.HealthServer, path: string) =>
  Effect.tryPromise(async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`)
    return { status: response.status, body: (await response.json()) as unknown }
  })

const start = (name: string) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      HealthServer.layer({ port: 0, host: "127.0.0.1" }).pipe(Layer.provideMerge(Supervisor.layer({ name })))
    )
    return { sup: Context.get(context, Supervisor.Supervisor), server: Context.get(context, HealthServer.HealthServer) }
  }).pipe(Effect.orDie)

describe("/readyz: a readiness task that ended for good", () => {
  it.effect("answers 503 naming it with its outcome and reason, /tasks lists it; 200 again once it is re-added", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("ready-dead")
      const { server, sup } = yield* start(root)
      yield* sup.add(
        Task.make("db", Effect.fail("refused"), { ready: true, maxRetries: 2, backoff: Backoff.constant(0) })
      )
      yield* sup.add(Task.make("auth", Effect.die("bad key"), { ready: true, isFatal: () => true, maxRetries: 0 }))
      const reply = yield* until("db ended", getJson(server, "/readyz"), ({ body }) =>
        JSON.stringify(body).includes("ended")
      )
      // Before the fix: 200 {"status":"ready"}, the dead tasks having left the registry.
      expect(reply).toEqual({
        status: 503,
        body: {
          status: "not-ready",
          notReady: [
            {
              path: `${root}/db`,
              state: "ended",
              outcome: "Failed",
              reason: "retry limit reached after 2 of 2 retries: refused"
            },
            {
              path: `${root}/auth`,
              state: "ended",
              outcome: "Failed",
              reason: "retry limit reached after 0 of 0 retries: defect: bad key"
            }
          ]
        }
      })
      const tasks = yield* getJson(server, "/tasks")
      expect(tasks.status).toBe(200)
      expect((tasks.body as { lost: ReadonlyArray<{ path: string }> }).lost.map((lost) => lost.path)).toEqual([
        `${root}/db`,
        `${root}/auth`
      ])
      // Liveness is not readiness: the process is alive.
      expect((yield* getJson(server, "/healthz")).status).toBe(200)

      yield* sup.add(Task.make("db", Effect.never, { ready: true }))
      yield* sup.add(Task.make("auth", Effect.never, { ready: true }))
      const ready = yield* until("ready", getJson(server, "/readyz"), ({ status }) => status === 200)
      expect(ready).toEqual({ status: 200, body: { status: "ready" } })
    })
  )
})

describe('/readyz: a ready: "reported" task', () => {
  it.effect("answers 503 while its running attempt has not reported ready, 200 once it has", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("ready-reported")
      const { server, sup } = yield* start(root)
      const connected = yield* Deferred.make<void>()
      yield* sup.add(
        Task.make(
          "conn",
          Effect.gen(function* () {
            const ctx = yield* TaskContext.TaskContext
            yield* Deferred.await(connected)
            yield* ctx.markReady
            return yield* Effect.never
          }),
          { ready: "reported" }
        )
      )
      yield* TestTime.settle()
      expect(yield* getJson(server, "/readyz")).toEqual({
        status: 503,
        body: {
          status: "not-ready",
          notReady: [{ path: `${root}/conn`, state: "running", reason: "has not reported ready" }]
        }
      })
      const tasks = (yield* getJson(server, "/tasks")).body as { tasks: ReadonlyArray<Record<string, unknown>> }
      expect(tasks.tasks[0]).toMatchObject({ path: `${root}/conn`, ready: true, reportedReady: false })
      yield* Deferred.succeed(connected, undefined)
      const ready = yield* until("ready", getJson(server, "/readyz"), ({ status }) => status === 200)
      expect(ready).toEqual({ status: 200, body: { status: "ready" } })
    })
  )
})
