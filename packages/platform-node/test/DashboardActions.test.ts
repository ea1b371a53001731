/**
 * `POST /api/actions` over real loopback sockets: 200 for cancel, remove and restart by path
 * (nested tasks included), and every refusal with its status — 401 (no or a wrong token), 403
 * (actions disabled, a forged origin), 411/413 (length), 415 (not JSON), 400 (a bad body, the
 * unknown key named), 404 (no such task), 421 (a rebound Host) — each one audited on the
 * supervisor's bus as `OperatorActionRequested` with its outcome and the client's address.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import { Supervisor, Task } from "@fibervisor/core"
import { act, audits, jsonOf, send, start, type Started, token, uniqueRoot, until } from "./dashboardHelpers.js"

/** Records the audit events of `sup` (subscribed before the first request). */

/** A tree `root/app/{connector,importer}` next to `root/solo`, every task running. */
const withTree = (started: Started) =>
  Effect.gen(function* () {
    yield* started.sup.add(
      Supervisor.task("app", [Task.make("connector", Effect.never), Task.make("importer", Effect.never)])
    )
    yield* started.sup.add(Task.make("solo", Effect.never))
    const root = (yield* started.sup.tree).path
    yield* until(
      "the tree to run",
      Effect.map(
        started.sup.get("app/importer"),
        Option.map((info) => info.state)
      ),
      (state) => Option.getOrUndefined(state) === "running"
    )
    return root
  })

describe("Dashboard: POST /api/actions", () => {
  it.live("restart, remove and cancel by full path, nested ones included: 200, each audited", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-ok"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)

      const restarted = yield* act(started, { action: "restart", path: `${root}/app/connector` })
      expect(restarted.status, restarted.text).toBe(200)
      expect(jsonOf(restarted)).toEqual({ ok: true, action: "restart", path: `${root}/app/connector`, done: true })
      yield* until(
        "the second attempt",
        Effect.map(
          started.sup.get("app/connector"),
          Option.map((info) => info.attempt)
        ),
        (attempt) => Option.getOrUndefined(attempt) === 2
      )

      // A task whose cleanup waits for the test: its stop stays under way.
      const gate = yield* Deferred.make<void>()
      yield* started.sup.add(
        Task.make(
          "slow",
          Effect.andThen(
            Effect.addFinalizer(() => Deferred.await(gate)),
            Effect.never
          )
        )
      )
      yield* until(
        "slow to run",
        Effect.map(
          started.sup.get("slow"),
          Option.map((info) => info.state)
        ),
        (state) => Option.getOrUndefined(state) === "running"
      )
      const removed = yield* act(started, { action: "remove", path: `${root}/slow` })
      expect(jsonOf(removed)).toEqual({ ok: true, action: "remove", path: `${root}/slow`, done: true })
      // A second request while the stop is under way: declined, still 200.
      const again = yield* act(started, { action: "cancel", path: `${root}/slow` })
      expect(again.status).toBe(200)
      expect(jsonOf(again)).toEqual({
        ok: true,
        action: "cancel",
        path: `${root}/slow`,
        done: false,
        reason: "a stop of the task is already under way"
      })
      yield* Deferred.succeed(gate, undefined)

      // `cancel` answers once the task's cleanup is done.
      const cancelled = yield* act(started, { action: "cancel", path: `${root}/app/importer` })
      expect(jsonOf(cancelled)).toMatchObject({ ok: true, done: true })
      expect(yield* started.sup.get("app/importer")).toEqual(Option.none())

      const seen = [yield* audit.next, yield* audit.next, yield* audit.next, yield* audit.next]
      expect(seen.map((event) => [event.action, event.path, event.outcome, event.source])).toEqual([
        ["restart", `${root}/app/connector`, "done", "dashboard"],
        ["remove", `${root}/slow`, "done", "dashboard"],
        ["cancel", `${root}/slow`, "declined", "dashboard"],
        ["cancel", `${root}/app/importer`, "done", "dashboard"]
      ])
      for (const event of seen) expect(event.remote).toMatch(/^127\.0\.0\.1:\d+$/)
    })
  )

  it.live("404 for a path that names no task (audited not-found)", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-404"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      for (const path of [`${root}/nope`, `${root}/app/nope`, root, "other/solo", "solo"]) {
        const reply = yield* act(started, { action: "restart", path })
        expect(reply.status, path).toBe(404)
        expect(jsonOf(reply)).toEqual({ ok: false, error: `no task at ${JSON.stringify(path)}` })
        expect(yield* audit.next).toMatchObject({ action: "restart", path, outcome: "not-found" })
      }
    })
  )

  it.live("403 when no token is configured: actions are disabled", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-off"))
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const reply = yield* act(started, { action: "remove", path: `${root}/solo` })
      expect(reply.status).toBe(403)
      expect(jsonOf(reply)).toEqual({ ok: false, error: "actions are disabled (no token is configured)" })
      expect(yield* audit.next).toMatchObject({
        outcome: "refused",
        reason: "actions are disabled (no token is configured)"
      })
      expect(Option.getOrThrow(yield* started.sup.get("solo")).state).toBe("running")
    })
  )

  it.live("401 without the token, with a wrong one, or a malformed header; WWW-Authenticate says Bearer", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-401"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const body = { action: "remove", path: `${root}/solo` }
      for (const [authorization, error] of [
        [null, "no token (send Authorization: Bearer <token>)"],
        [`Bearer ${token}x`, "wrong token"],
        [`Bearer ${token.slice(0, -1)}`, "wrong token"],
        ["Bearer ", "the Authorization header must read Bearer <token>"],
        [`Basic ${token}`, "the Authorization header must read Bearer <token>"],
        [token, "the Authorization header must read Bearer <token>"]
      ] as const) {
        const reply = yield* act(started, body, { authorization })
        expect(reply.status, String(authorization)).toBe(401)
        expect(reply.headers["www-authenticate"]).toBe('Bearer realm="fibervisor dashboard"')
        expect(jsonOf(reply)).toEqual({ ok: false, error })
        expect(yield* audit.next).toMatchObject({ outcome: "refused", reason: error })
      }
      // The scheme is case-insensitive.
      expect((yield* act(started, body, { authorization: `bearer ${token}` })).status).toBe(200)
    })
  )

  it.live("403 for a cross-origin request: another Origin, Origin null, Sec-Fetch-Site cross-site", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-origin"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const body = { action: "remove", path: `${root}/solo` }
      const port = started.board.port
      for (const [headers, error] of [
        [{ origin: "http://evil.example" }, "cross-origin request refused (Origin is not the dashboard's)"],
        [{ origin: `http://localhost:${port}` }, "cross-origin request refused (Origin is not the dashboard's)"],
        [{ origin: `http://127.0.0.1:${port + 1}` }, "cross-origin request refused (Origin is not the dashboard's)"],
        [{ origin: `ftp://127.0.0.1:${port}` }, "cross-origin request refused (Origin is not the dashboard's)"],
        [{ origin: "null" }, "cross-origin request refused (malformed Origin)"],
        [{ "sec-fetch-site": "cross-site" }, "cross-origin request refused (Sec-Fetch-Site: cross-site)"],
        [{ "sec-fetch-site": "same-site" }, "cross-origin request refused (Sec-Fetch-Site: same-site)"]
      ] as const) {
        const reply = yield* act(started, body, headers)
        expect(reply.status, JSON.stringify(headers)).toBe(403)
        expect(jsonOf(reply)).toEqual({ ok: false, error })
        expect(yield* audit.next).toMatchObject({ outcome: "refused", reason: error })
      }
      expect(Option.getOrThrow(yield* started.sup.get("solo")).state).toBe("running")
      // Same origin over https (TLS ended at a proxy), no Origin (curl), Sec-Fetch-Site same-origin: allowed.
      expect(
        (yield* act(started, { action: "restart", path: `${root}/solo` }, { origin: `https://127.0.0.1:${port}` }))
          .status
      ).toBe(200)
      expect((yield* act(started, { action: "restart", path: `${root}/app` }, { origin: null })).status).toBe(200)
      expect(
        (yield* act(started, { action: "restart", path: `${root}/app/connector` }, { "sec-fetch-site": "same-origin" }))
          .status
      ).toBe(200)
    })
  )

  it.live("421 for a rebound Host, before anything else; audited", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-host"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const reply = yield* act(
        started,
        { action: "remove", path: `${root}/solo` },
        { host: "evil.example", origin: "http://evil.example" }
      )
      expect(reply.status).toBe(421)
      expect(yield* audit.next).toMatchObject({
        outcome: "refused",
        reason: "this Host is not allowed (see the dashboard's allowedHosts)"
      })
      expect(Option.getOrThrow(yield* started.sup.get("solo")).state).toBe("running")
    })
  )

  it.live("415 when the body is not declared JSON (a form post, text/plain)", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-415"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const body = JSON.stringify({ action: "remove", path: `${root}/solo` })
      for (const contentType of [null, "text/plain", "application/x-www-form-urlencoded", "application/jsonp"]) {
        const reply = yield* act(started, body, { "content-type": contentType })
        expect(reply.status, String(contentType)).toBe(415)
        expect(jsonOf(reply)).toEqual({ ok: false, error: "the body must be JSON (Content-Type: application/json)" })
        expect(yield* audit.next).toMatchObject({ outcome: "refused" })
      }
      expect(
        (yield* act(
          started,
          { action: "restart", path: `${root}/solo` },
          { "content-type": "application/json; charset=utf-8" }
        )).status
      ).toBe(200)
    })
  )

  it.live("413 for a body over 4 KiB, 411 without a Content-Length", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-413"), { token })
      const root = yield* withTree(started)
      const big = JSON.stringify({ action: "remove", path: `${root}/${"x".repeat(5000)}` })
      const reply = yield* act(started, big)
      expect(reply.status).toBe(413)
      expect(jsonOf(reply)).toEqual({ ok: false, error: "the body is larger than 4096 bytes" })
      const chunked = yield* act(started, JSON.stringify({ action: "remove", path: `${root}/solo` }), {
        "content-length": null,
        "transfer-encoding": "chunked"
      })
      expect(chunked.status).toBe(411)
      expect(Option.getOrThrow(yield* started.sup.get("solo")).state).toBe("running")
    })
  )

  it.live("400 for a bad body, naming what is wrong (an unknown key by name); audited with what it named", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-400"), { token })
      const audit = yield* audits(started.sup)
      const root = yield* withTree(started)
      const solo = `${root}/solo`
      for (const [body, error] of [
        ["{", "the body is not valid JSON"],
        ["", "the body is not valid JSON"],
        ["[]", 'the body must be a JSON object { "action", "path" }'],
        ["null", 'the body must be a JSON object { "action", "path" }'],
        ['"remove"', 'the body must be a JSON object { "action", "path" }'],
        [{ action: "remove", path: solo, force: true }, 'unknown key "force" (the body has action and path)'],
        [{ action: "remove", path: solo, __proto__x: 1 }, 'unknown key "__proto__x" (the body has action and path)'],
        [{ path: solo }, "action is missing"],
        [{ action: "explode", path: solo }, 'action must be "cancel", "remove", "restart", "retry" or "durable-retry"'],
        [{ action: 1, path: solo }, 'action must be "cancel", "remove", "restart", "retry" or "durable-retry"'],
        [{ action: "remove" }, "path is missing"],
        [{ action: "remove", path: "" }, "path must be a non-empty string (a task's full path, e.g. root/app/worker)"],
        [{ action: "remove", path: 7 }, "path must be a non-empty string (a task's full path, e.g. root/app/worker)"]
      ] as const) {
        const reply = yield* act(started, body)
        expect(reply.status, JSON.stringify(body)).toBe(400)
        expect(jsonOf(reply)).toEqual({ ok: false, error })
        expect(yield* audit.next).toMatchObject({ outcome: "refused", reason: error })
      }
      // What a refused request named is in its audit.
      yield* act(started, { action: "remove", path: solo, extra: 1 })
      expect(yield* audit.next).toMatchObject({ action: "remove", path: solo, outcome: "refused" })
      expect(Option.getOrThrow(yield* started.sup.get("solo")).state).toBe("running")
    })
  )

  it.live("GET, PUT and DELETE on /api/actions are not routes: 404, not audited", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("act-methods"), { token })
      const audit = yield* audits(started.sup)
      for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
        const reply = yield* send({ port: started.board.port, method, path: "/api/actions" })
        expect(reply.status, method).toBe(404)
      }
      expect(yield* audit.size).toBe(0)
    })
  )
})
