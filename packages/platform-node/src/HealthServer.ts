/**
 * An HTTP server for probes, tooling and scrapes, reporting on the `Supervisor` in its context
 * (every route is `GET`, anything else is answered 404):
 *
 * - `/healthz` (liveness): 200 `{"status":"ok"}` while the supervisor is not shutting down, else
 *   503 `{"status":"shutting-down"}`.
 * - `/readyz` (readiness): 200 `{"status":"ready"}` when `SupervisorTree.isReady`: every readiness
 *   task (`ready: true`: has a running attempt; `ready: "reported"`: its running attempt called
 *   `markReady`) is ready and none ended for good; else 503
 *   `{"status":"not-ready","notReady":[{"path":"root/db","state":"backing-off"}]}`, where a task that
 *   ended for good reads `{"path":"root/db","state":"ended","outcome":"Failed","reason":"…"}` and a
 *   reported one not ready yet `{"path":"root/conn","state":"running","reason":"has not reported ready"}`;
 *   503 `{"status":"shutting-down","notReady":[…]}` while the supervisor shuts down.
 * - `/tasks`: the tree snapshot, `SupervisorTree.encode`d.
 * - `/events`: server-sent events, one per `SupervisorEvent` (`event: <_tag>`, `id: <seq>`,
 *   `data: <SupervisorEvent.encode(event) as JSON>`), after a `: connected` comment; a `: ping`
 *   comment every 15 seconds keeps idle proxies from closing the connection. Events published after
 *   the request arrived are not missed (unless the client is so slow that the sliding bus drops them).
 * - `/metrics`: Effect's metrics (every `fibervisor_*` metric) in the Prometheus text format, rendered
 *   by `effect/observability/PrometheusMetrics`. The names are the metrics' own
 *   (`fibervisor_task_attempts_total`, `fibervisor_task_running`,
 *   `fibervisor_task_attempt_duration_seconds_bucket`/`_sum`/`_count`, `fibervisor_offload_*`), with the
 *   metric's attributes as labels (`task`, `kind`), and a `target_info` series naming the service. The
 *   registry is Effect's global one: the application's own metrics are there too (and Effect's runtime
 *   metrics, `effect_fiber_*`, when the application enables them).
 *
 * The server does not trace its own requests. Do not expose its port outside the cluster: `/tasks`
 * and `/events` describe the application's internals.
 *
 * With the `dashboard` option (since 1.0.0) it also serves a live web dashboard on a listener of its
 * own (127.0.0.1 by default): the tree with states, restarts, last failures and next-attempt
 * countdowns, the event stream, the offload kinds, and — when a `token` is set — the operator's
 * actions (cancel, remove, restart now, by path), each audited on the supervisor's event bus. See
 * `docs/dashboard.md` for its routes and security model.
 *
 * @since 0.2.0
 */
import { Offload, Supervisor } from "@fibervisor/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { source as durableSource } from "./internal/dashboardDurable.js"
import * as internal from "./internal/healthServer.js"

/**
 * Options of the health server.
 *
 * @since 0.2.0
 * @category models
 */
export interface HealthServerOptions {
  /** The port to listen on, an integer from 0 to 65535; 0 asks the OS for a free one (see `HealthServer.port`). */
  readonly port: number
  /**
   * The address to listen on (default `"0.0.0.0"`, every IPv4 interface: Kubernetes probes connect
   * to the pod's IP, so a server on `127.0.0.1` would fail them; use `"::"` for IPv6 as well).
   */
  readonly host?: string | undefined
  /** The service's name, shown in `/metrics`' `target_info` series as `service_name` (default `"fibervisor"`). */
  readonly serviceName?: string | undefined
  /**
   * On release, shut the supervisor down before closing the server (default `true`), so that during
   * the drain the probes answer 503 and `/events` streams the shutdown, instead of the connections
   * being refused: a layer is released before the layers it depends on, so the server would
   * otherwise close before the supervisor's shutdown starts. `Supervisor.shutdown` is one shared
   * operation, so the supervisor's own release then only waits for its result. Set to `false` when
   * the server is released while its supervisor keeps running.
   */
  readonly shutdownSupervisorFirst?: boolean | undefined
  /**
   * Serve the dashboard, on a listener of its own (see `DashboardOptions`); none without it.
   *
   * @since 1.0.0
   */
  readonly dashboard?: DashboardOptions | undefined
}

/**
 * Options of the dashboard (`HealthServerOptions.dashboard`). Checked like every option: an
 * unknown key is refused by name, a bad value names its field (`dashboard.port`).
 *
 * @since 1.0.0
 * @category models
 */
export interface DashboardOptions {
  /**
   * The port to listen on, an integer from 0 to 65535 (0 asks the OS for a free one: see
   * `HealthServer.dashboard`); not the probes' port: the dashboard has a listener of its own.
   */
  readonly port: number
  /**
   * The address to listen on (default `"127.0.0.1"`: this machine only). The dashboard shows the
   * application's internals and, with a token, steers it: put it behind a reverse proxy with TLS
   * and authentication rather than on a public interface.
   */
  readonly host?: string | undefined
  /**
   * The bearer token that enables the actions (at least 16 printable ASCII characters, no spaces).
   * Without it every action is refused (403 `actions are disabled`). Requests send it as
   * `Authorization: Bearer <token>`; the page asks the operator for it and keeps it in memory only.
   */
  readonly token?: string | undefined
  /**
   * The `Host` header values the dashboard answers (`"name"` or `"name:port"`, compared
   * case-insensitively and exactly); any other is refused with 421, which defeats DNS rebinding.
   * Default: `localhost`, `127.0.0.1` and `[::1]` and the bound address, each with the bound port.
   * A list replaces the default (add the local names too if you still want them).
   */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /**
   * Show payloads — error descriptions, failure and cancellation reasons — in the events, the tree
   * and the offload failures (default `false`: each reads `"[hidden]"`).
   */
  readonly showPayloads?: boolean | undefined
  /**
   * Durable kinds (`DurableOffload.kind(…)` of `@fibervisor/durable`) whose jobs the page shows:
   * per kind, its jobs per status and its latest dead letters, each with a "retry" action. Needs
   * the `DurableOffload` service in the context (its layer below the health server's); each kind
   * once. The store is read when the page asks (every 5 s while it is open).
   *
   * @since 1.0.0
   */
  readonly durable?: ReadonlyArray<DurableKind> | undefined
}

/**
 * A kind made by `DurableOffload.kind` (`@fibervisor/durable`), as the dashboard takes it: any
 * such kind is one (platform-node does not depend on `@fibervisor/durable`; the option is checked
 * at run time).
 *
 * @since 1.0.0
 * @category models
 */
export interface DurableKind {
  readonly name: string
}

/**
 * A running health server.
 *
 * @since 0.2.0
 * @category models
 */
export interface HealthServer {
  /** The address the server listens on (`"0.0.0.0"` for every interface). */
  readonly host: string
  /** The port the server listens on: the one the OS chose when the options asked for 0. */
  readonly port: number
  /** How many `/events` streams are open (each holds one subscription to the supervisor's events). */
  readonly openEventStreams: Effect.Effect<number>
  /**
   * The dashboard, when the options asked for one: where it listens, the URL a browser on this
   * machine opens, and how many `/api/events` streams are open.
   *
   * @since 1.0.0
   */
  readonly dashboard?: {
    readonly host: string
    readonly port: number
    readonly url: string
    readonly openEventStreams: Effect.Effect<number>
  }
}

/**
 * The `HealthServer` service tag.
 *
 * @since 0.2.0
 * @category tags
 */
export const HealthServer: Context.Service<HealthServer, HealthServer> = Context.Service<HealthServer>(
  "@fibervisor/platform-node/HealthServer"
)

/**
 * Health server options that cannot be used: names the field and why.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidHealthServerOptions extends Schema.TaggedError<InvalidHealthServerOptions>(
  "@fibervisor/platform-node/InvalidHealthServerOptions"
)("InvalidHealthServerOptions", { field: Schema.String, reason: Schema.String }) {
  /** @since 0.2.0 */
  override get message(): string {
    return `invalid health server options: ${this.field} ${this.reason}`
  }
}

/**
 * The server could not listen (the port is taken, the address is not local, …).
 *
 * @since 0.2.0
 * @category errors
 */
export class HealthServerError extends Schema.TaggedError<HealthServerError>(
  "@fibervisor/platform-node/HealthServerError"
)("HealthServerError", { host: Schema.String, port: Schema.Number, reason: Schema.String, cause: Schema.Defect() }) {
  /** @since 0.2.0 */
  override get message(): string {
    return `the health server could not listen on ${this.host}:${this.port}: ${this.reason}`
  }
}

/**
 * Starts a health server in the current scope, reporting on the `Supervisor` in the context (and,
 * on the dashboard, on the `Offload` service when the context has one, and on the durable kinds of
 * `dashboard.durable` through the `DurableOffload` service, which must then be in the context). The options are checked
 * first (`InvalidHealthServerOptions` names the field; an unknown key, e.g. `hostname` for `host`,
 * is refused by name). On release it shuts the supervisor down first (see
 * `shutdownSupervisorFirst`), ends open event streams, then closes the listeners.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: HealthServerOptions
): Effect.Effect<HealthServer, HealthServerError | InvalidHealthServerOptions, Supervisor.Supervisor | Scope.Scope> =>
  Effect.gen(function* () {
    const config = internal.resolve(options)
    if (internal.isInvalid(config)) return yield* new InvalidHealthServerOptions(config)
    const supervisor = yield* Supervisor.Supervisor
    const offload = yield* Effect.serviceOption(Offload.Offload)
    const kinds = config.dashboard?.durable ?? []
    const durable = kinds.length === 0 ? undefined : yield* durableSource(kinds)
    if (kinds.length > 0 && durable === undefined) {
      return yield* new InvalidHealthServerOptions({
        field: "dashboard.durable",
        reason:
          "needs the DurableOffload service in the context (provide a DurableOffload layer of @fibervisor/durable below the health server)"
      })
    }
    return yield* internal.start(config, supervisor, offload, durable).pipe(
      Effect.mapError(
        (error) =>
          new HealthServerError({
            host: error.host,
            port: error.port,
            reason: error.cause instanceof Error ? error.cause.message : String(error.cause),
            cause: error.cause
          })
      )
    )
  })

/**
 * Provides a `HealthServer` serving the `Supervisor` in the context.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Supervisor, Task } from "@fibervisor/core"
 * import { HealthServer } from "@fibervisor/platform-node"
 *
 * // The server reports on the supervisor below it; on release it drains the supervisor first,
 * // so probes answer 503 during the shutdown.
 * const Live = HealthServer.layer({ port: 9090 }).pipe(Layer.provideMerge(Supervisor.layer({ grace: "20 seconds" })))
 *
 * const program = Effect.gen(function* () {
 *   const sup = yield* Supervisor.Supervisor
 *   yield* sup.add(Task.make("http", Effect.never, { ready: true }))
 *   yield* Effect.never
 * }).pipe(Effect.provide(Live))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: HealthServerOptions
): Layer.Layer<HealthServer, HealthServerError | InvalidHealthServerOptions, Supervisor.Supervisor> =>
  Layer.effect(HealthServer, make(options))
