/**
 * The dashboard's listener: its own port (127.0.0.1 by default), apart from the probes', serving
 * the page, the snapshot, the live events and the operator's actions (see `dashboardRoutes`).
 *
 * Owns: starting the dashboard in the health server's scope — the event ring and its feeder, the
 * bundle, the Host allow-list (built once the port is known), the listener — and ending its event
 * streams on release. Data flow: `healthServer.start` calls `start` after the probe listener is
 * up; on release it calls `endStreams` (once the supervisor's shutdown has finished) and `close`.
 *
 * Invariants: the ring subscribes before the listener accepts a request, so no event published
 * after the dashboard started is missing from it; `endStreams` waits (briefly) until the ring holds
 * every event the bus had published, then ends every stream after it has sent them, so a client
 * sees the whole shutdown.
 *
 * @internal
 */
import type { Offload, Supervisor } from "@fibervisor/core"
import * as Effect from "effect/Effect"
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as assets from "./dashboardAssets.js"
import type { DurableSource } from "./dashboardDurable.js"
import * as events from "./dashboardEvents.js"
import { type DashboardConfig, hostAllowList, hostHeaderName } from "./dashboardOptions.js"
import * as routes from "./dashboardRoutes.js"
import { listen } from "./listener.js"

/** The running dashboard. */
export interface RunningDashboard {
  readonly host: string
  readonly port: number
  /** Where a browser on this machine opens it. */
  readonly url: string
  /** How many `/api/events` streams are open. */
  readonly openEventStreams: Effect.Effect<number>
  /** Ends the event streams once they have sent every event published so far. */
  readonly endStreams: Effect.Effect<void>
  /** Closes the listener (see `listener.gracefulClose`). */
  readonly close: Effect.Effect<void>
}

/** How long `endStreams` waits for the ring to catch up with the bus. */
const catchUpMillis = 1000

/** A URL a local browser can open: a wildcard address is reached through the loopback. */
const urlOf = (host: string, port: number): string =>
  `http://${host === "0.0.0.0" || host === "::" ? "127.0.0.1" : hostHeaderName(host)}:${port}/`

/** Starts the dashboard in `scope` (its feeder and listener are released with it). */
export const start = (
  config: DashboardConfig,
  supervisor: Supervisor.Supervisor,
  offload: Option.Option<Offload.Offload>,
  durable: DurableSource | undefined,
  scope: Scope.Scope
): Effect.Effect<RunningDashboard, HttpServerError.ServeError> =>
  Effect.gen(function* () {
    const ring = yield* Scope.provide(events.makeRing(supervisor), scope)
    const bundle = yield* assets.load
    let open = 0
    const streams: routes.StreamCounter = {
      open: Effect.sync(() => {
        if (open >= routes.maxEventStreams) return false
        open += 1
        return true
      }),
      close: Effect.sync(() => {
        open -= 1
      })
    }
    // The allow-list needs the port, and the app the allow-list: the app reads it when it answers.
    let allowedHosts: ReadonlySet<string> = new Set()
    const app = yield* routes.app({
      supervisor,
      offload,
      durable,
      config,
      get allowedHosts() {
        return allowedHosts
      },
      assets: bundle,
      ring,
      streams
    })
    const listening = yield* listen(app, { host: config.host, port: config.port }, scope)
    allowedHosts = hostAllowList(config, listening.host, listening.port)
    const endStreams = Effect.gen(function* () {
      const { seq } = yield* supervisor.snapshot
      yield* Effect.gen(function* () {
        while (ring.lastSeq < seq && !ring.isEnded) yield* ring.awaitChange
      }).pipe(Effect.timeoutOption(catchUpMillis))
      ring.end()
    })
    return {
      host: listening.host,
      port: listening.port,
      url: urlOf(listening.host, listening.port),
      openEventStreams: Effect.sync(() => open),
      endStreams,
      close: listening.close
    }
  })
