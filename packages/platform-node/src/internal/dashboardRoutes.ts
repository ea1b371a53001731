/**
 * The dashboard's routes: the page (`GET /`, `/assets/app.js`, `/assets/app.css`), the tree and
 * offload snapshot (`GET /api/snapshot`), the live events (`GET /api/events`), the durable jobs
 * (`GET /api/durable`, dashboardDurable.ts) and the operator's actions (`POST /api/actions`).
 *
 * Owns: the HTTP app of the dashboard's listener. Data flow: every request → Host allow-list
 * (421) → router → route → security headers on the response. `/api/snapshot` reads
 * `Supervisor.snapshot` (the tree and the `seq` of the last event it reflects) and the offload
 * summary; `/api/events` reads the event ring from the client's cursor; `/api/actions` checks the
 * origin, the token, the content type and the body, then runs `Supervisor.operatorAction`, which
 * audits the request on the bus — refused ones included.
 *
 * Invariants: a request whose Host is not allowed reaches no route; no route reads or sets a
 * cookie; a state change needs `POST` + the bearer token + a JSON body + a same-origin (or no)
 * Origin; payloads are hidden unless `showPayloads`; every error answer is JSON
 * `{ "ok": false, "error": "<why>" }`.
 *
 * @internal
 */
import type { IncomingMessage } from "node:http"
import { type Offload, type Supervisor, SupervisorTree } from "@fibervisor/core"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Assets } from "./dashboardAssets.js"
import { shell } from "./dashboardAssets.js"
import * as events from "./dashboardEvents.js"
import * as durable from "./dashboardDurable.js"
import type { DashboardConfig } from "./dashboardOptions.js"
import * as payloads from "./dashboardPayloads.js"
import * as security from "./dashboardSecurity.js"

/** What the routes read. */
export interface Dependencies {
  readonly supervisor: Supervisor.Supervisor
  readonly offload: Option.Option<Offload.Offload>
  /** `undefined` when `dashboard.durable` names no kind. */
  readonly durable: durable.DurableSource | undefined
  readonly config: DashboardConfig
  /** The Host header values answered (lower-case). */
  readonly allowedHosts: ReadonlySet<string>
  readonly assets: Assets
  readonly ring: events.EventRing
  readonly streams: StreamCounter
}

/** Counts the open event streams, and refuses one past the limit. */
export interface StreamCounter {
  /** `false` when `maxEventStreams` are open already. */
  readonly open: Effect.Effect<boolean>
  readonly close: Effect.Effect<void>
}

/** At most this many `/api/events` streams at once (each holds a fiber and a socket). */
export const maxEventStreams = 100

/** The largest action body accepted (a request names an action and a path). */
export const maxActionBody = 4096

const json = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status })

/** Every refusal reads the same way. */
export const refusal = (status: number, error: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ ok: false, error }, { status, ...(headers === undefined ? {} : { headers }) })

// ---- the page ----

const page = HttpServerResponse.text(shell, { contentType: "text/html; charset=utf-8" })

/** A file of the bundle; 304 when the browser has it (the entity tag matches); 503 when it is not built. */
const asset = (assets: Assets, which: "js" | "css") =>
  Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
    if (assets._tag === "Missing") return refusal(503, assets.reason)
    const file = assets[which]
    const headers = { etag: file.etag, "cache-control": "no-cache" }
    if (request.headers["if-none-match"] === file.etag) return HttpServerResponse.empty({ status: 304, headers })
    return HttpServerResponse.uint8Array(file.body, { contentType: file.contentType, headers })
  })

// ---- /api/snapshot ----

const snapshot = (deps: Dependencies) =>
  Effect.gen(function* () {
    const { seq, tree } = yield* deps.supervisor.snapshot
    const now = yield* Clock.currentTimeMillis
    const summary = Option.isSome(deps.offload) ? deps.offload.value.summary : undefined
    const offload = summary === undefined ? null : yield* summary
    const show = deps.config.showPayloads
    return json({
      seq,
      now,
      tree: SupervisorTree.encode(show ? tree : payloads.hideTree(tree)),
      offload: offload === null || show ? offload : payloads.hideOffload(offload),
      actions: deps.config.token !== undefined,
      payloads: show,
      durable: deps.durable !== undefined
    })
  })

// ---- /api/durable ----

/** Per durable kind of the options: its jobs per status and latest dead letters (404 without any). */
const durableJobs = (deps: Dependencies) =>
  Effect.gen(function* () {
    if (deps.durable === undefined) return refusal(404, "no durable kind is shown (see the dashboard's durable option)")
    const kinds = yield* durable.view(deps.durable, deps.config.showPayloads)
    return json({ now: yield* Clock.currentTimeMillis, kinds, payloads: deps.config.showPayloads })
  })

// ---- /api/events ----

/** A sequence number as a client sends it: digits only, a safe integer. */
const parseSeq = (text: string): number | undefined =>
  /^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : undefined

/**
 * Where the client resumes: `Last-Event-ID` (sent by an `EventSource` that reconnects, newer than
 * the URL it reconnects to) over `?after=`; `undefined` for a client that wants live events only.
 */
const resumeFrom = (
  request: HttpServerRequest.HttpServerRequest,
  query: HttpServerRequest.ParsedSearchParams["Service"]
): number | undefined | { readonly invalid: string } => {
  const header = request.headers["last-event-id"]
  if (header !== undefined && header.trim() !== "") {
    return parseSeq(header.trim()) ?? { invalid: "Last-Event-ID must be an event's seq (a non-negative integer)" }
  }
  const after = query["after"]
  if (after === undefined) return undefined
  if (typeof after !== "string") return { invalid: "after must be given once" }
  return parseSeq(after) ?? { invalid: "after must be an event's seq (a non-negative integer)" }
}

const eventStream = (deps: Dependencies) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const query = yield* HttpServerRequest.ParsedSearchParams
    const after = resumeFrom(request, query)
    if (typeof after === "object") return refusal(400, after.invalid)
    const ring = deps.ring
    let start = after ?? ring.lastSeq
    let prefix = ""
    // Ahead of the ring: the feeder has not taken the newest events yet, or the client comes
    // from an earlier process (its numbers are not this tree's): ask the bus where it stands.
    if (start > ring.lastSeq && start > (yield* deps.supervisor.snapshot).seq) {
      prefix = events.resetFrame(start, ring.floor)
      start = ring.lastSeq
    }
    if (!(yield* deps.streams.open)) return refusal(503, `too many event streams (at most ${maxEventStreams})`)
    yield* Effect.addFinalizer(() => deps.streams.close)
    const transform = deps.config.showPayloads ? identity : payloads.hideEvent
    const body = Stream.succeed(events.connected + prefix).pipe(
      Stream.concat(events.messages(ring, start, transform)),
      // Ends with the messages (when the ring ends: the server is being released).
      Stream.merge(events.pings, { haltStrategy: "left" }),
      Stream.encodeText
    )
    return HttpServerResponse.stream(body, {
      contentType: "text/event-stream",
      // nginx buffers responses unless told not to.
      headers: { "x-accel-buffering": "no" }
    })
  })

const identity = <A>(a: A): A => a

// ---- /api/actions ----

/** The client's address, for the audit (`ip:port`, an IPv6 address in brackets). */
const remoteOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const socket = (request.source as Partial<IncomingMessage>).socket
  const ip = Option.getOrElse(request.remoteAddress, () => "unknown")
  const host = ip.includes(":") ? `[${ip}]` : ip
  return socket?.remotePort === undefined ? host : `${host}:${socket.remotePort}`
}

type Body =
  | { readonly action: "cancel" | "remove" | "restart"; readonly path: string }
  | { readonly action: "retry"; readonly kind: string; readonly id: string }
  | { readonly action: "durable-retry"; readonly kind: string; readonly key: string | undefined }

type Invalid = { readonly invalid: string; readonly action: string; readonly path: string }

/** Where the audit of a retry points: the offload kind and the failure's id. */
const retryPath = (kind: string, id: string): string => `offload:${kind}#${id}`

/** Where the audit of a durable retry points: the durable kind and the key (`*`: every dead letter). */
const durablePath = (kind: string, key: string | undefined): string => `durable:${kind}#${key ?? "*"}`

/**
 * The request body, checked: an object with exactly `action` and `path` (a task's action),
 * `action: "retry"`, `kind` and `id` (a recent failure of offloaded work), or `action:
 * "durable-retry"`, `kind` and an optional `key` (dead letters of durable work); else why not.
 */
const parseBody = (text: string): Body | Invalid => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { invalid: "the body is not valid JSON", action: "", path: "" }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { invalid: 'the body must be a JSON object { "action", "path" }', action: "", path: "" }
  }
  const record = value as Record<string, unknown>
  const action = typeof record.action === "string" ? record.action : ""
  if (action === "retry") return parseRetry(record)
  if (action === "durable-retry") return parseDurableRetry(record)
  const path = typeof record.path === "string" ? record.path : ""
  const invalid = (reason: string) => ({ invalid: reason, action, path })
  for (const key of Object.keys(record)) {
    if (key !== "action" && key !== "path")
      return invalid(`unknown key "${key.slice(0, 64)}" (the body has action and path)`)
  }
  if (record.action === undefined) return invalid("action is missing")
  if (action !== "cancel" && action !== "remove" && action !== "restart") {
    return invalid('action must be "cancel", "remove", "restart", "retry" or "durable-retry"')
  }
  if (record.path === undefined) return invalid("path is missing")
  if (path === "") return invalid("path must be a non-empty string (a task's full path, e.g. root/app/worker)")
  return { action, path }
}

/** A retry's body: exactly `action`, `kind` and `id`, both non-empty strings. */
const parseRetry = (record: Record<string, unknown>): Body | Invalid => {
  const kind = typeof record.kind === "string" ? record.kind : ""
  const id = typeof record.id === "string" ? record.id : ""
  const invalid = (reason: string) => ({ invalid: reason, action: "retry", path: retryPath(kind, id) })
  for (const key of Object.keys(record)) {
    if (key !== "action" && key !== "kind" && key !== "id")
      return invalid(`unknown key "${key.slice(0, 64)}" (a retry has action, kind and id)`)
  }
  if (kind === "") return invalid("kind must be a non-empty string (an offload kind)")
  if (id === "") return invalid("id must be a non-empty string (a recent failure's id)")
  return { action: "retry", kind, id }
}

/** A durable retry's body: `action` and `kind`, and `key` (one dead letter) or not (all of the kind). */
const parseDurableRetry = (record: Record<string, unknown>): Body | Invalid => {
  const kind = typeof record.kind === "string" ? record.kind : ""
  const key = typeof record.key === "string" ? record.key : undefined
  const invalid = (reason: string) => ({ invalid: reason, action: "durable-retry", path: durablePath(kind, key) })
  for (const name of Object.keys(record)) {
    if (name !== "action" && name !== "kind" && name !== "key")
      return invalid(`unknown key "${name.slice(0, 64)}" (a durable retry has action, kind and key)`)
  }
  if (kind === "") return invalid("kind must be a non-empty string (a durable kind)")
  if (record.key !== undefined && (key === undefined || key === "")) {
    return invalid(
      "key must be a non-empty string (a dead letter's key), or left out for every dead letter of the kind"
    )
  }
  return { action: "durable-retry", kind, key }
}

/** Puts dead letters of a durable kind back to `pending`, audits it, and answers. */
const durableRetry = (
  deps: Dependencies,
  body: { readonly kind: string; readonly key: string | undefined },
  remote: string
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    const path = durablePath(body.kind, body.key)
    const audit = (acted: Supervisor.OperatorResult) =>
      deps.supervisor.operatorAction({ action: "durable-retry", path, remote, source: "dashboard", acted })
    const kindText = JSON.stringify(body.kind.slice(0, 256))
    const result: durable.RetryResult =
      deps.durable === undefined ? { _tag: "UnknownKind" } : yield* durable.retry(deps.durable, body.kind, body.key)
    switch (result._tag) {
      case "UnknownKind":
        yield* audit({ outcome: "not-found", reason: "no such durable kind on the dashboard" })
        return refusal(404, `no durable kind ${kindText} is shown (see the dashboard's durable option)`)
      case "StoreFailed": {
        const reason = `the durable store could not answer: ${result.reason}`
        yield* audit({ outcome: "declined", reason })
        return refusal(503, reason)
      }
      case "Retried": {
        if (result.count === 0) {
          const what =
            body.key === undefined
              ? "no dead letter"
              : `no dead letter with key ${JSON.stringify(body.key.slice(0, 256))}`
          yield* audit({ outcome: "not-found", reason: "no such dead letter" })
          return refusal(404, `${what} of durable kind ${kindText}`)
        }
        yield* audit({ outcome: "done" })
        return json({
          ok: true,
          action: "durable-retry",
          kind: body.kind,
          ...(body.key === undefined ? {} : { key: body.key }),
          retried: result.count,
          done: true
        })
      }
    }
  })

/** What the dashboard says of a retry that was not admitted. */
const retryDeclined: Record<Exclude<Offload.OffloadOutcome, "spawned">, string> = {
  deduplicated: "work under the same key is in flight; the failure stays retryable",
  rejected: "the offload service refused the work (full or closing); the failure stays retryable",
  disabled: "the offload service is disabled"
}

/** Retries a recent failure of offloaded work, audits it, and answers. */
const retry = (
  deps: Dependencies,
  body: { readonly kind: string; readonly id: string },
  remote: string
): Effect.Effect<HttpServerResponse.HttpServerResponse> =>
  Effect.gen(function* () {
    const path = retryPath(body.kind, body.id)
    const audit = (acted: Supervisor.OperatorResult) =>
      deps.supervisor.operatorAction({ action: "retry", path, remote, source: "dashboard", acted })
    const notFound = `no recent failure ${JSON.stringify(body.id.slice(0, 64))} of offload kind ${JSON.stringify(
      body.kind.slice(0, 256)
    )}`
    const offload = Option.getOrUndefined(deps.offload)
    const summary = offload?.summary === undefined ? undefined : yield* offload.summary
    const listed = summary?.kinds
      .find((kind) => kind.kind === body.kind)
      ?.recentFailures.some((failure) => failure.id === body.id)
    const outcome = listed === true && offload?.retry !== undefined ? yield* offload.retry(body.id) : Option.none()
    if (Option.isNone(outcome)) {
      yield* audit({ outcome: "not-found", reason: "no such recent failure" })
      return refusal(404, notFound)
    }
    const answer = { ok: true, action: "retry", kind: body.kind, id: body.id, outcome: outcome.value }
    if (outcome.value === "spawned") {
      yield* audit({ outcome: "done" })
      return json({ ...answer, done: true })
    }
    const reason = retryDeclined[outcome.value]
    yield* audit({ outcome: "declined", reason })
    return json({ ...answer, done: false, reason })
  })

const actions = (deps: Dependencies) =>
  Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    const headers = request.headers
    const remote = remoteOf(request)
    /** Audits the refusal on the bus, then answers it. */
    const refuse = (
      status: number,
      error: string,
      named?: { readonly action: string; readonly path: string },
      extra?: Record<string, string>
    ) =>
      Effect.as(
        deps.supervisor.operatorAction({
          action: named?.action ?? "",
          path: named?.path ?? "",
          remote,
          source: "dashboard",
          refused: error
        }),
        refusal(status, error, extra)
      )
    const originProblem = security.originProblem(headers["origin"], headers["host"] ?? "", headers["sec-fetch-site"])
    if (originProblem !== undefined) return yield* refuse(403, originProblem)
    const token = deps.config.token
    if (token === undefined) return yield* refuse(403, "actions are disabled (no token is configured)")
    const tokenProblem = security.tokenProblem(headers["authorization"], token)
    if (tokenProblem !== undefined) {
      return yield* refuse(401, tokenProblem, undefined, { "www-authenticate": 'Bearer realm="fibervisor dashboard"' })
    }
    if (!security.isJson(headers["content-type"])) {
      return yield* refuse(415, "the body must be JSON (Content-Type: application/json)")
    }
    const length = headers["content-length"]
    if (length === undefined) return yield* refuse(411, "a Content-Length is required")
    if (!/^\d+$/.test(length) || Number(length) > maxActionBody) {
      return yield* refuse(413, `the body is larger than ${maxActionBody} bytes`)
    }
    const text = yield* Effect.result(request.text)
    if (text._tag === "Failure") return yield* refuse(400, "the body could not be read")
    const body = parseBody(text.success)
    if ("invalid" in body) return yield* refuse(400, body.invalid, body)
    if (body.action === "retry") return yield* retry(deps, body, remote)
    if (body.action === "durable-retry") return yield* durableRetry(deps, body, remote)
    const result = yield* deps.supervisor.operatorAction({ ...body, remote, source: "dashboard" })
    switch (result.outcome) {
      case "done":
        return json({ ok: true, action: body.action, path: body.path, done: true })
      case "declined":
        return json({ ok: true, action: body.action, path: body.path, done: false, reason: result.reason })
      case "not-found":
        return refusal(404, `no task at ${JSON.stringify(body.path.slice(0, 512))}`)
      case "refused":
        return refusal(400, result.reason ?? "refused")
    }
  })

// ---- the app ----

/** Every route; the router answers `HEAD` with the `GET` ones. */
export const routes = (deps: Dependencies) =>
  [
    HttpRouter.route("GET", "/", Effect.succeed(page)),
    HttpRouter.route("GET", "/assets/app.js", asset(deps.assets, "js")),
    HttpRouter.route("GET", "/assets/app.css", asset(deps.assets, "css")),
    HttpRouter.route("GET", "/api/snapshot", snapshot(deps)),
    HttpRouter.route("GET", "/api/events", eventStream(deps)),
    HttpRouter.route("GET", "/api/durable", durableJobs(deps)),
    HttpRouter.route("POST", "/api/actions", actions(deps))
  ] as const

const notFound = refusal(404, "not found")

const hostRefused = "this Host is not allowed (see the dashboard's allowedHosts)"

/**
 * The dashboard as one HTTP app: the Host check before any route, the security headers on every
 * answer (404s and refusals included).
 */
export const app = (
  deps: Dependencies
): Effect.Effect<
  Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest | Scope.Scope>
> =>
  Effect.gen(function* () {
    const router = yield* HttpRouter.make
    yield* router.addAll(routes(deps))
    const routed = router.asHttpEffect().pipe(
      // The router fails only for a path or method it does not know.
      Effect.catch(() => Effect.succeed(notFound))
    )
    return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      if (security.hostAllowed(request.headers["host"], deps.allowedHosts)) return Effect.map(routed, security.secured)
      const refused = security.secured(refusal(421, hostRefused))
      // An action sent through a rebound name is an attack on the actions: audited like the others.
      return request.method === "POST" && request.url.split("?")[0] === "/api/actions"
        ? Effect.as(
            deps.supervisor.operatorAction({
              action: "",
              path: "",
              remote: remoteOf(request),
              source: "dashboard",
              refused: hostRefused
            }),
            refused
          )
        : Effect.succeed(refused)
    })
  })
