/**
 * The health server's options and lifecycle: the probe listener and, with the `dashboard` option,
 * the dashboard's own listener (see `dashboardServer`).
 *
 * Owns: checking every option (unknown keys by name; the dashboard's in `dashboardOptions`),
 * starting both listeners in one sequential scope, and the release order. Data flow:
 * `HealthServer.make` → `resolve` → `start` → the probe listener, then the dashboard.
 *
 * Invariants: on release the supervisor's shutdown runs first (when `shutdownSupervisorFirst`),
 * while both listeners still answer; then event streams end after sending what was published;
 * then both listeners close, each connection once it has no request in flight. A listener that
 * fails to start leaves the supervisor running. The server's own requests are not traced.
 *
 * @internal
 */
import type { Offload, Supervisor } from "@fibervisor/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { DurableSource } from "./dashboardDurable.js"
import * as dashboardOptions from "./dashboardOptions.js"
import * as dashboard from "./dashboardServer.js"
import { describe } from "./describe.js"
import * as metrics from "./healthMetrics.js"
import * as routes from "./healthRoutes.js"
import { listen } from "./listener.js"

/** The options with their defaults applied. */
export interface Config {
  readonly port: number
  readonly host: string
  readonly serviceName: string
  readonly shutdownSupervisorFirst: boolean
  /** `undefined`: no dashboard. */
  readonly dashboard: dashboardOptions.DashboardConfig | undefined
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

const knownKeys: ReadonlySet<string> = new Set(["port", "host", "serviceName", "shutdownSupervisorFirst", "dashboard"])

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
  readonly dashboard?: unknown
}): Config | Invalid => {
  if (typeof options !== "object" || options === null) {
    return { field: "options", reason: `must be an object, got ${describe(options)}` }
  }
  if (Array.isArray(options)) return { field: "options", reason: `must be an object, got ${describe(options)}` }
  for (const key in options) {
    if (!knownKeys.has(key)) return { field: key, reason: unknownKeyReason(key) }
  }
  const { dashboard, host, port, serviceName, shutdownSupervisorFirst } = options as Record<string, unknown>
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
  const board = dashboard === undefined ? undefined : dashboardOptions.resolveDashboard(dashboard, port)
  if (board !== undefined && dashboardOptions.isInvalid(board)) return board
  return {
    port,
    host: host ?? defaultHost,
    serviceName: serviceName ?? defaultServiceName,
    shutdownSupervisorFirst: shutdownSupervisorFirst ?? true,
    dashboard: board
  }
}

export const isInvalid = (resolved: Config | Invalid): resolved is Invalid => "field" in resolved

/** The running server, as the public service describes it. */
export interface Running {
  readonly host: string
  readonly port: number
  readonly openEventStreams: Effect.Effect<number>
  readonly dashboard?: {
    readonly host: string
    readonly port: number
    readonly url: string
    readonly openEventStreams: Effect.Effect<number>
  }
}

/** A listener could not start: where it was asked to listen, and the platform's cause. */
export interface StartError {
  readonly host: string
  readonly port: number
  readonly cause: unknown
}

/**
 * Starts the server in the current scope. Finalizers run in reverse order, so on release: the
 * supervisor's shutdown runs first (when `shutdownSupervisorFirst`) while the listeners still
 * answer (503), then open event streams end (after writing what the supervisor published), then
 * the listeners close (each connection as soon as it has no request in flight).
 */
export const start = (
  config: Config,
  supervisor: Supervisor.Supervisor,
  offload: Option.Option<Offload.Offload>,
  durable: DurableSource | undefined
): Effect.Effect<Running, StartError, Scope.Scope> =>
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
    const probes = yield* listen(app, { host: config.host, port: config.port }, scope).pipe(
      Effect.mapError((error) => ({ host: config.host, port: config.port, cause: error.cause }))
    )
    const board =
      config.dashboard === undefined
        ? undefined
        : yield* dashboard.start(config.dashboard, supervisor, offload, durable, scope).pipe(
            Effect.mapError((error) => ({
              host: config.dashboard!.host,
              port: config.dashboard!.port,
              cause: error.cause
            }))
          )

    // Added last, so it runs first; added only once the listeners are up, so a server that fails
    // to start never shuts the supervisor down.
    yield* Scope.addFinalizer(
      scope,
      Effect.andThen(
        config.shutdownSupervisorFirst ? Effect.ignore(supervisor.shutdown) : Effect.void,
        Effect.all(
          [
            Effect.andThen(Deferred.succeed(closing, undefined), probes.close),
            board === undefined ? Effect.void : Effect.andThen(board.endStreams, board.close)
          ],
          { concurrency: "unbounded", discard: true }
        )
      )
    )

    const running = { host: probes.host, port: probes.port, openEventStreams: Effect.sync(() => open) }
    return board === undefined
      ? running
      : {
          ...running,
          dashboard: { host: board.host, port: board.port, url: board.url, openEventStreams: board.openEventStreams }
        }
  })
