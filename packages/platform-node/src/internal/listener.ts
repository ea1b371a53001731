/**
 * A Node HTTP listener serving an Effect HTTP app in a scope, shared by the health server's probe
 * port and the dashboard's port.
 *
 * Owns: creating the Node server, serving the app on it (`effect/http` on `NodeHttpServer`),
 * reporting the bound address, and the graceful close. Data flow: `listen` builds the serving
 * layer in the caller's scope and returns the address and the close to run on release.
 *
 * Invariants: a listener never traces its own requests (probes, scrapes and dashboards polling
 * would flood the application's traces); `close` ends idle connections at once and busy ones as
 * soon as their response is done, so a release never waits on a client.
 *
 * @internal
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpMiddleware from "effect/http/HttpMiddleware"
import * as HttpServer from "effect/http/HttpServer"
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as NetAddress from "effect/net/NetAddress"
import type * as Scope from "effect/Scope"

/**
 * Closes `server` without waiting on connections that carry no request. Node's `server.close()`
 * closes the keep-alive connections idle at that moment, then waits for every other one until its
 * client drops it or a timeout passes (seconds): a connection whose response is still being written
 * (an event stream that is ending, a probe in flight), or one a client opened ahead of a request.
 * Here each connection is ended once it has no request in flight: at once, or when its last
 * response is done. Returns the close, to run once; the platform's own close then finds the server
 * closed.
 */
export const gracefulClose = (server: Server): Effect.Effect<void> => {
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

/** The host the server reports: its bound address, `::` (every interface) reported as `0.0.0.0`. */
export const boundHost = (address: NetAddress.SocketAddress, configured: string): string => {
  if (address._tag === "UnixPathAddress") return configured
  const ip = NetAddress.formatIp(address.address)
  return ip === "::" ? "0.0.0.0" : ip
}

/** A listener that serves, and how to close it. */
export interface Listening {
  /** The bound address (`"0.0.0.0"` for every interface, IPv4 or IPv6). */
  readonly host: string
  readonly port: number
  /** Closes the server (see `gracefulClose`); to run once, on release. */
  readonly close: Effect.Effect<void>
}

/**
 * Listens on `host:port` and serves `app` until `scope` closes (the platform's own close then finds
 * the server closed if `close` ran first).
 */
export const listen = <E>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, HttpServerRequest.HttpServerRequest | Scope.Scope>,
  options: { readonly host: string; readonly port: number },
  scope: Scope.Scope
): Effect.Effect<Listening, HttpServerError.ServeError> =>
  Effect.gen(function* () {
    const server = createServer()
    const close = gracefulClose(server)
    const served = HttpServer.serve(app).pipe(
      Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen, () => true)),
      Layer.provideMerge(NodeHttpServer.layerServer(() => server, { port: options.port, host: options.host }))
    )
    const context = yield* Layer.buildWithScope(served, scope)
    const address = Context.get(context, HttpServer.HttpServer).address
    return {
      host: boundHost(address, options.host),
      port: address._tag === "UnixPathAddress" ? options.port : address.port,
      close
    }
  })
