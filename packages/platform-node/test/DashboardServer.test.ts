/**
 * The dashboard's listener over real loopback sockets: where it listens, the page and its exact
 * security headers, the bundle, the Host allow-list, no cookies ever, and `/api/snapshot` (the
 * tree with its `seq`, the offload summary, payloads hidden unless `showPayloads`).
 */
import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer } from "effect"
import { Backoff, Supervisor, SupervisorTree, Task, TaskError } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { TestTime } from "@fibervisor/vitest"
import { get, jsonOf, send, start, token, uniqueRoot } from "./dashboardHelpers.js"

/** Writes `text` on a fresh connection and reads everything the server sends until it closes. */
const rawRequest = (port: number, text: string) =>
  Effect.callback<string, Error>((resume) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(text))
    let reply = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      reply += chunk
    })
    socket.on("close", () => resume(Effect.succeed(reply)))
    socket.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => socket.destroy())
  })

const csp =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** The headers every dashboard response carries. */
const expectSecurityHeaders = (headers: Record<string, unknown>, cacheControl = "no-store") => {
  expect(headers["content-security-policy"]).toBe(csp)
  expect(headers["x-content-type-options"]).toBe("nosniff")
  expect(headers["referrer-policy"]).toBe("no-referrer")
  expect(headers["cache-control"]).toBe(cacheControl)
  expect(headers["x-frame-options"]).toBe("DENY")
  expect(headers["cross-origin-resource-policy"]).toBe("same-origin")
  expect(headers["set-cookie"]).toBeUndefined()
  expect(headers["access-control-allow-origin"]).toBeUndefined()
}

describe("Dashboard: the listener", () => {
  it.live("listens on 127.0.0.1 by default, on a port of its own; the probes' port serves no page", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-bind"))
      expect(started.board.host).toBe("127.0.0.1")
      expect(started.board.port).not.toBe(started.server.port)
      expect(started.board.url).toBe(`http://127.0.0.1:${started.board.port}/`)
      expect((yield* get(started, "/")).status).toBe(200)
      // Each listener has its own routes.
      expect((yield* get(started, "/healthz")).status).toBe(404)
      const probe = yield* send({ port: started.server.port, path: "/" })
      expect(probe.status).toBe(404)
      expect((yield* send({ port: started.server.port, path: "/api/snapshot" })).status).toBe(404)
    })
  )

  it.live("the probes may listen on every interface while the dashboard stays on the loopback", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        HealthServer.layer({ port: 0, dashboard: { port: 0 } }).pipe(
          Layer.provideMerge(Supervisor.layer({ name: uniqueRoot("dash-split") }))
        )
      )
      const server = Context.get(context, HealthServer.HealthServer)
      expect(server.host).toBe("0.0.0.0")
      expect(server.dashboard).toMatchObject({ host: "127.0.0.1" })
    }).pipe(Effect.orDie)
  )

  it.live("without the option there is no dashboard", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        HealthServer.layer({ port: 0, host: "127.0.0.1" }).pipe(
          Layer.provideMerge(Supervisor.layer({ name: uniqueRoot("dash-none") }))
        )
      )
      expect(Context.get(context, HealthServer.HealthServer).dashboard).toBeUndefined()
    }).pipe(Effect.orDie)
  )

  it.live("fails with HealthServerError naming the dashboard's address when its port is taken", () =>
    Effect.gen(function* () {
      const first = yield* start(uniqueRoot("dash-taken"))
      const sup = yield* Supervisor.make({ name: uniqueRoot("dash-taken-2") })
      const error = yield* Effect.flip(
        HealthServer.make({ port: 0, host: "127.0.0.1", dashboard: { port: first.board.port } }).pipe(
          Effect.provideService(Supervisor.Supervisor, sup)
        )
      )
      expect(error).toMatchObject({ _tag: "HealthServerError", host: "127.0.0.1", port: first.board.port })
      expect(error.message).toContain(`127.0.0.1:${first.board.port}`)
      // The supervisor was not shut down.
      expect(yield* sup.isShuttingDown).toBe(false)
    })
  )
})

describe("Dashboard: the page", () => {
  it.live("GET / is the HTML shell with the exact CSP and security headers", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-page"))
      const reply = yield* get(started, "/")
      expect(reply.status).toBe(200)
      expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8")
      expectSecurityHeaders(reply.headers)
      expect(reply.text).toContain('<link rel="stylesheet" href="/assets/app.css">')
      expect(reply.text).toContain('<script type="module" src="/assets/app.js"></script>')
      expect(reply.text).toContain('<div id="app"></div>')
      expect(reply.text).toContain('<link rel="icon" href="data:,">')
      expect(reply.text).toContain('<meta charset="utf-8">')
      // Nothing inline for the CSP to block.
      expect(reply.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
      expect(reply.text).not.toMatch(/<style|style=/)
      const head = yield* send({ port: started.board.port, method: "HEAD", path: "/" })
      expect(head.status).toBe(200)
      expect(head.text).toBe("")
    })
  )

  it.live("serves the bundle with its content type and entity tag; 304 when the browser has it", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-assets"))
      for (const [path, type] of [
        ["/assets/app.js", "text/javascript; charset=utf-8"],
        ["/assets/app.css", "text/css; charset=utf-8"]
      ] as const) {
        const reply = yield* get(started, path)
        expect(reply.status).toBe(200)
        expect(reply.headers["content-type"]).toBe(type)
        expect(reply.text.length).toBeGreaterThan(100)
        expectSecurityHeaders(reply.headers, "no-cache")
        const etag = reply.headers["etag"] as string
        expect(etag).toMatch(/^"[\w-]+"$/)
        const again = yield* get(started, path, { "if-none-match": etag })
        expect(again.status).toBe(304)
        expect(again.text).toBe("")
        expect(again.headers["etag"]).toBe(etag)
      }
      // The module is an ES module that mounts into #app.
      expect((yield* get(started, "/assets/app.js")).text).toContain("app")
    })
  )

  it.live("unknown paths and methods: 404 JSON with the security headers", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-404"))
      for (const [method, path] of [
        ["GET", "/nope"],
        ["GET", "/api/actions"],
        ["POST", "/"],
        ["PUT", "/api/actions"],
        ["DELETE", "/api/snapshot"],
        ["GET", "/assets/other.js"],
        ["GET", "/assets/../api/snapshot/x"]
      ] as const) {
        const reply = yield* send({ port: started.board.port, method, path })
        expect(reply.status, `${method} ${path}`).toBe(404)
        expect(jsonOf(reply)).toEqual({ ok: false, error: "not found" })
        expectSecurityHeaders(reply.headers)
      }
    })
  )

  it.live("no cookie is ever set, and one sent is ignored", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-cookie"), { token })
      for (const path of ["/", "/assets/app.js", "/api/snapshot", "/nope"]) {
        const reply = yield* get(started, path, { cookie: "session=abc; token=def" })
        expect(reply.headers["set-cookie"], path).toBeUndefined()
        expect(reply.status, path).toBeLessThan(500)
      }
      // A cookie is no credential: an action with a cookie and no token is refused.
      const reply = yield* send({
        port: started.board.port,
        method: "POST",
        path: "/api/actions",
        headers: { cookie: `token=${token}`, "content-type": "application/json" },
        body: JSON.stringify({ action: "restart", path: "root/x" })
      })
      expect(reply.status).toBe(401)
      expect(reply.headers["set-cookie"]).toBeUndefined()
    })
  )
})

describe("Dashboard: the Host allow-list", () => {
  it.live("answers the loopback names with the bound port; refuses any other Host, and none, with 421", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-host"))
      const port = started.board.port
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
        expect((yield* get(started, "/api/snapshot", { host })).status, host).toBe(200)
      }
      for (const host of [
        "evil.example",
        `evil.example:${port}`,
        "127.0.0.1",
        `127.0.0.1:${port + 1}`,
        `localhost.evil.example:${port}`,
        `127.0.0.1:${port}.evil.example`
      ]) {
        for (const path of ["/", "/api/snapshot", "/assets/app.js", "/api/events", "/nope"]) {
          const reply = yield* get(started, path, { host })
          expect(reply.status, `${host} ${path}`).toBe(421)
          expect(jsonOf(reply)).toEqual({
            ok: false,
            error: "this Host is not allowed (see the dashboard's allowedHosts)"
          })
          expectSecurityHeaders(reply.headers)
        }
      }
      // Without a Host: Node answers an HTTP/1.1 request 400 itself; an HTTP/1.0 one reaches the check.
      expect((yield* get(started, "/", { host: null })).status).toBe(400)
      const raw = yield* rawRequest(port, "GET /api/snapshot HTTP/1.0\r\n\r\n")
      expect(raw).toMatch(/^HTTP\/1\.[01] 421 /)
    })
  )

  it.live("allowedHosts replaces the defaults; entries match case-insensitively and exactly", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-allowed"), { allowedHosts: ["Dash.Example.com", "proxy:8443"] })
      expect((yield* get(started, "/", { host: "dash.example.com" })).status).toBe(200)
      expect((yield* get(started, "/", { host: "DASH.EXAMPLE.COM" })).status).toBe(200)
      expect((yield* get(started, "/", { host: "proxy:8443" })).status).toBe(200)
      expect((yield* get(started, "/", { host: "proxy" })).status).toBe(421)
      expect((yield* get(started, "/", { host: "dash.example.com:443" })).status).toBe(421)
      expect((yield* get(started, "/", { host: "x.dash.example.com" })).status).toBe(421)
      // The local names are not in a list that leaves them out.
      expect((yield* get(started, "/", { host: started.authority })).status).toBe(421)
    })
  )
})

describe("Dashboard: /api/snapshot", () => {
  it.effect("the tree with the seq of the last event it reflects, the clock's now, actions and payloads flags", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-snap"))
      const { sup } = started
      yield* sup.add(Supervisor.task("app", [Task.make("worker", Effect.never)]))
      yield* TestTime.adjust("1500 millis")
      const reply = yield* get(started, "/api/snapshot")
      expect(reply.status).toBe(200)
      expectSecurityHeaders(reply.headers)
      const body = jsonOf(reply)
      const expected = yield* sup.snapshot
      expect(body).toEqual({
        seq: expected.seq,
        now: 1500,
        tree: SupervisorTree.encode(expected.tree),
        offload: null,
        actions: false,
        payloads: false,
        durable: false
      })
      expect(body.seq).toBeGreaterThan(0)
      expect(body.tree.tasks[0].supervisor.tasks[0]).toMatchObject({
        path: `${body.tree.path}/app/worker`,
        state: "running"
      })
    })
  )

  it.effect("payloads are hidden by default: lastFailure, the reasons of lost tasks", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-hide"))
      yield* started.sup.add(
        Task.make("flaky", Effect.fail(TaskError.fail("secret: password=hunter2")), {
          backoff: Backoff.constant("1 minute")
        })
      )
      yield* started.sup.add(Task.make("db", Effect.fail(TaskError.fatal("secret connection string")), { ready: true }))
      yield* TestTime.adjust("1 second")
      const body = jsonOf(yield* get(started, "/api/snapshot"))
      expect(body.payloads).toBe(false)
      const flaky = body.tree.tasks.find((node: { name: string }) => node.name === "flaky")
      expect(flaky).toMatchObject({ state: "backing-off", lastFailure: "[hidden]" })
      expect(body.tree.lost).toEqual([expect.objectContaining({ outcome: "Fatal", reason: "[hidden]" })])
      expect(JSON.stringify(body)).not.toContain("secret")
    })
  )

  it.effect("with showPayloads the texts are shown", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("dash-show"), { showPayloads: true, token })
      yield* started.sup.add(
        Task.make("flaky", Effect.fail(TaskError.fail("boom")), { backoff: Backoff.constant("1 minute") })
      )
      yield* TestTime.adjust("1 second")
      const body = jsonOf(yield* get(started, "/api/snapshot"))
      expect(body).toMatchObject({ payloads: true, actions: true })
      expect(body.tree.tasks[0]).toMatchObject({ lastFailure: "boom" })
    })
  )

  it.effect("with Offload in the context: per kind counts and recent failures (hidden unless showPayloads)", () =>
    Effect.gen(function* () {
      for (const show of [false, true]) {
        const started = yield* start(
          uniqueRoot("dash-offload"),
          { showPayloads: show },
          // grace 0: a failed assertion never leaves the release waiting on the TestClock.
          {
            offload: {
              grace: 0,
              logFailures: false,
              perKind: { slow: { timeout: { after: "1 second", policy: "cancel" } } }
            }
          }
        )
        const offload = started.offload!
        const t0 = yield* Clock.currentTimeMillis
        expect(jsonOf(yield* get(started, "/api/snapshot")).offload).toEqual({ kinds: [] })
        yield* offload.spawn("mail", Effect.void)
        yield* offload.spawn("mail", Effect.fail("smtp secret"))
        yield* offload.spawn("slow", Effect.never)
        yield* offload.spawn("slow", Effect.never)
        yield* TestTime.settle()
        expect(jsonOf(yield* get(started, "/api/snapshot")).offload).toEqual({
          kinds: [
            {
              kind: "mail",
              active: 0,
              queued: 0,
              completed: 1,
              failed: 1,
              timedOut: 0,
              recentFailures: [{ id: "f1", at: t0, reason: show ? "smtp secret" : "[hidden]" }]
            },
            { kind: "slow", active: 2, queued: 0, completed: 0, failed: 0, timedOut: 0, recentFailures: [] }
          ]
        })
        yield* TestTime.adjust("1 second")
        const slow = jsonOf(yield* get(started, "/api/snapshot")).offload.kinds[1]
        // A timeout's text is fibervisor's own: shown either way.
        expect(slow).toMatchObject({
          active: 0,
          timedOut: 2,
          recentFailures: [
            { at: t0 + 1000, reason: "timed out after 1000 ms and was interrupted" },
            { at: t0 + 1000, reason: "timed out after 1000 ms and was interrupted" }
          ]
        })
      }
    })
  )
})
