/**
 * The routes of the health server: `/healthz` (503 once the supervisor shuts down), `/readyz`
 * (readiness from the tree snapshot: no readiness task lost, every live one ready), `/tasks` (the
 * snapshot, Schema-encoded), `/events` (server-sent events), `/metrics` (Prometheus text).
 *
 * Data flow: everything a route reads comes in through `Dependencies`, and the supervisor only
 * through its public interface: the routes share no state with the server's lifecycle.
 *
 * @internal
 */
import { type Supervisor, SupervisorTree } from "@fibervisor/core"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as events from "./healthEvents.js"
import * as metrics from "./healthMetrics.js"

/** What the routes read. */
export interface Dependencies {
  readonly supervisor: Supervisor.Supervisor
  readonly prometheus: metrics.Prometheus
  /** Completes when the server is being released: open event streams end. */
  readonly closing: Effect.Effect<void>
  readonly streams: events.StreamCounter
}

const json = (body: unknown, status: number) => HttpServerResponse.jsonUnsafe(body, { status })

/** 200 while the supervisor is not shutting down, else 503. */
const healthz = (supervisor: Supervisor.Supervisor) =>
  Effect.map(supervisor.isShuttingDown, (shuttingDown) =>
    shuttingDown ? json({ status: "shutting-down" }, 503) : json({ status: "ok" }, 200)
  )

/** A live readiness task that is not ready: its state, and why when it runs. */
const waiting = (node: SupervisorTree.TaskNode) =>
  node.state === "running" && node.reportedReady === false
    ? { path: node.path, state: node.state, reason: "has not reported ready" }
    : { path: node.path, state: node.state }

/** A readiness task that ended for good. */
const ended = (lost: SupervisorTree.LostTask) => ({
  path: lost.path,
  state: "ended",
  outcome: lost.outcome,
  reason: lost.reason
})

/**
 * 200 when the supervisor is not shutting down, no readiness task ended for good, and every live
 * readiness task is ready (`SupervisorTree.isReady`); else 503 naming what is not ready.
 */
const readyz = (supervisor: Supervisor.Supervisor) =>
  Effect.gen(function* () {
    const shuttingDown = yield* supervisor.isShuttingDown
    const tree = yield* supervisor.tree
    const notReady = [...(tree.lost ?? []).map(ended), ...SupervisorTree.notReady(tree).map(waiting)]
    const more = tree.lostUnlisted === undefined ? {} : { unlisted: tree.lostUnlisted }
    if (shuttingDown) return json({ status: "shutting-down", notReady, ...more }, 503)
    if (!SupervisorTree.isReady(tree)) return json({ status: "not-ready", notReady, ...more }, 503)
    return json({ status: "ready" }, 200)
  })

/** The tree snapshot, Schema-encoded. */
const tasks = (supervisor: Supervisor.Supervisor) =>
  Effect.map(supervisor.tree, (tree) => json(SupervisorTree.encode(tree), 200))

const scrape = (prometheus: metrics.Prometheus) =>
  prometheus.scrape.pipe(
    Effect.map((text) => HttpServerResponse.text(text, { contentType: metrics.contentType })),
    Effect.catch((error) =>
      Effect.as(
        Effect.logWarning("metrics scrape failed", error),
        HttpServerResponse.text(`# failed to collect metrics: ${error.message}\n`, {
          status: 500,
          contentType: metrics.contentType
        })
      )
    )
  )

/**
 * Every route (all `GET`; the router also answers `HEAD` with them); anything else is answered 404
 * by the router.
 */
export const routes = (deps: Dependencies) =>
  [
    HttpRouter.route("GET", "/healthz", healthz(deps.supervisor)),
    HttpRouter.route("GET", "/readyz", readyz(deps.supervisor)),
    HttpRouter.route("GET", "/tasks", tasks(deps.supervisor)),
    HttpRouter.route("GET", "/events", events.respond(deps.supervisor, deps.closing, deps.streams)),
    HttpRouter.route("GET", "/metrics", scrape(deps.prometheus))
  ] as const

/** The routes as one HTTP app (the request's `Scope` is the router's). */
export const app = (deps: Dependencies) =>
  Effect.gen(function* () {
    const router = yield* HttpRouter.make
    yield* router.addAll(routes(deps))
    return router.asHttpEffect()
  })
