/**
 * `HealthServer`: its options, and the server's lifecycle in the caller's scope.
 *
 * Data flow: `start` builds the routes (`healthRoutes.ts`) over the supervisor and a Prometheus
 * renderer, serves them on a Node `http.Server` through `@effect/platform-node`, and reports the
 * address it bound.
 *
 * Invariants: release runs in a sequential child scope, in this order: the supervisor's shutdown
 * (with `shutdownSupervisorFirst`) while the probes still answer (503), then the open event streams
 * end after what the supervisor published, then the HTTP server closes, each connection once it
 * has no request in flight. A server that fails to start never shuts the supervisor down. Its own
 * requests are not traced.
 *
 * @internal
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { Supervisor } from "@fibervisor/core"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as HttpMiddleware from "effect/http/HttpMiddleware"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import * as Scope from "effect/Scope"
import { describe } from "./describe.js"
import * as metrics from "./healthMetrics.js"
import * as routes from "./healthRoutes.js"

/** The options with their defaults applied. */
export interface Config {
  readonly port: number
  readonly host: string
  readonly serviceName: string
  readonly shutdownSupervisorFirst: boolean
}

/** A field that cannot be used, and why. */
export interface Invalid {
  readonly field: string
  readonly reason: string
}

/** Every interface (IPv4): Kubernetes probes connect to the pod's IP, not to its loopback. */
export const defaultHost = "0.0.0.0"

export const defaultServiceName = "fibervisor"

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value.trim().length > 0

const knownKeys: ReadonlySet<string> = new Set(["port", "host", "serviceName", "shutdownSupervisorFirst"])

/** Names other servers use for these options. */
const aliases: Readonly<Record<string, string>> = { hostname: "host", address: "host", name: "serviceName" }

const unknownKeyReason = (key: string): string => {
  const alias = Object.hasOwn(aliases, key) ? aliases[key] : undefined
  return alias === undefined
    ? "is not a known option (misspelt?)"
    : `is not a known option (misspelt?); did you mean "${alias}"?`
}

/** Checks the options (as received at run time, so a plain-JS caller is checked too). */
export const resolve = (options: {
  readonly port: number
  readonly host?: string | undefined
  readonly serviceName?: string | undefined
  readonly shutdownSupervisorFirst?: boolean | undefined
}): Config | Invalid => {
  if (typeof options !== "object" || options === null) {
    return { field: "options", reason: `must be an object, got ${describe(options)}` }
  }
  if (Array.isArray(options)) return { field: "options", reason: `must be an object, got ${describe(options)}` }
  for (const key in options) {
    if (!knownKeys.has(key)) return { field: key, reason: unknownKeyReason(key) }
  }
  const { host, port, serviceName, shutdownSupervisorFirst } = options as Record<string, unknown>
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { field: "port", reason: `must be an integer from 0 to 65535 (0: any free port), got ${describe(port)}` }
  }
  if (host !== undefined && !nonEmpty(host)) {
    return { field: "host", reason: `must be a non-empty string, got ${describe(host)}` }
  }
  if (serviceName !== undefined && !nonEmpty(serviceName)) {
    return { field: "serviceName", reason: `must be a non-empty string, got ${describe(serviceName)}` }
  }
  if (shutdownSupervisorFirst !== undefined && typeof shutdownSupervisorFirst !== "boolean") {
    return { field: "shutdownSupervisorFirst", reason: `must be a boolean, got ${describe(shutdownSupervisorFirst)}` }
  }
  return {
    port,
    host: host ?? defaultHost,
    serviceName: serviceName ?? defaultServiceName,
    shutdownSupervisorFirst: shutdownSupervisorFirst ?? true
  }
}

export const isInvalid = (resolved: Config | Invalid): resolved is Invalid => "field" in resolved

/**
 * Closes `server` without waiting on connections that carry no request. Node's `server.close()`
 * closes the keep-alive connections idle at that moment, then waits for every other one until its
 * client drops it or a timeout passes (seconds): a connection whose response is still being written
 * (an event stream that is ending, a probe in flight), or one a client opened ahead of a request.
 * Here each connection is ended once it has no request in flight: at once, or when its last
 * response is done. Returns the close, to run once; the platform's own close then finds the server
 * closed.
 */
const gracefulClose = (server: Server): Effect.Effect<void> => {
  const inFlight = new Map<Socket, number>()
  let closing = false
  const endIfIdle = (socket: Socket) => {
    if (closing && inFlight.get(socket) === 0) socket.end(() => socket.destroy())
  }
  server.on("connection", (socket: Socket) => {
    inFlight.set(socket, 0)
    socket.once("close", () => inFlight.delete(socket))
  })
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket
    if (!inFlight.has(socket)) return
    inFlight.set(socket, inFlight.get(socket)! + 1)
    // `close`: the response is done (after Node's own handling of it), or the connection is gone.
    response.once("close", () => {
      if (!inFlight.has(socket)) return
      inFlight.set(socket, inFlight.get(socket)! - 1)
      endIfIdle(socket)
    })
  })
  return Effect.callback<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    closing = true
    server.close(() => resume(Effect.void))
    for (const socket of inFlight.keys()) endIfIdle(socket)
  })
}

/** The running server, as the public service describes it. */
export interface Running {
  readonly host: string
  readonly port: number
  readonly openEventStreams: Effect.Effect<number>
}

/** The host the server reports: its bound address, `::` (every interface) reported as `0.0.0.0`. */
const boundHost = (address: NetAddress.SocketAddress, configured: string): string => {
  if (address._tag === "UnixPathAddress") return configured
  const ip = NetAddress.formatIp(address.address)
  return ip === "::" ? "0.0.0.0" : ip
}

/**
 * Starts the server in the current scope. Finalizers run in reverse order, so on release: the
 * supervisor's shutdown runs first (when `shutdownSupervisorFirst`) while the server still answers
 * (503), then open event streams end (after writing what the supervisor published), then the HTTP
 * server closes (each connection as soon as it has no request in flight).
 */
export const start = (
  config: Config,
  supervisor: Supervisor.Supervisor
): Effect.Effect<Running, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    // A sequential child scope, so the release order below holds whatever the caller's scope does.
    const scope = yield* Scope.fork(yield* Effect.scope, "sequential")
    const prometheus = metrics.make(config.serviceName)

    const closing = yield* Deferred.make<void>()
    let open = 0
    const streams = {
      opened: Effect.sync(() => {
        open += 1
      }),
      closed: Effect.sync(() => {
        open -= 1
      })
    }
    const app = yield* routes.app({ supervisor, prometheus, closing: Deferred.await(closing), streams })
    const server = createServer()
    const close = gracefulClose(server)
    const served = HttpServer.serve(app).pipe(
      // Probes and scrapes every few seconds would flood the application's traces.
      Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen, () => true)),
      Layer.provideMerge(NodeHttpServer.layerServer(() => server, { port: config.port, host: config.host }))
    )
    const context = yield* Layer.buildWithScope(served, scope)
    const address = Context.get(context, HttpServer.HttpServer).address

    // Added last, so it runs first; added only once the server listens, so a server that fails to
    // start never shuts the supervisor down.
    yield* Scope.addFinalizer(
      scope,
      Effect.andThen(
        config.shutdownSupervisorFirst ? Effect.ignore(supervisor.shutdown) : Effect.void,
        Effect.andThen(Deferred.succeed(closing, undefined), close)
      )
    )

    return {
      host: boundHost(address, config.host),
      port: address._tag === "UnixPathAddress" ? config.port : address.port,
      openEventStreams: Effect.sync(() => open)
    }
  })
