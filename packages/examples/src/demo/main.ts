/**
 * The demo program: the HTTP server and its Offload layer, the supervision tree, its health server
 * and dashboard (`@fibervisor/platform-node`), and the view (the live table in a TTY, event lines otherwise). Runs until `duration` has passed or the fiber is
 * interrupted (SIGINT / SIGTERM under `NodeSupervisor.runMain`), shuts down gracefully, then prints
 * the summary.
 */
import { randomBytes } from "node:crypto"
import { Supervisor, type SupervisorEvent } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { Clock, Duration, Effect, Fiber, Random, Schedule, Scope, Stream } from "effect"
import { HttpServer } from "effect/http"
import logUpdate from "log-update"
import type { DemoArgs } from "./args.js"
import { httpLayer, makeRateCache, Stats, tasks } from "./service.js"
import { eventLine, frame, Ledger, noticeLine, summary } from "./table.js"

/** The supervisors' grace, also given to `runMain` (its exit deadline is this plus 5 seconds). */
export const GRACE = "2 seconds"

/** Draws in place (a TTY) or prints event lines. */
interface View {
  readonly event: (event: SupervisorEvent.SupervisorEvent) => void
  readonly notice: (text: string) => void
}

export interface MainOptions extends DemoArgs {
  /** Draw the live table (else: one line per event). */
  readonly tty: boolean
}

/** The whole demo; never fails but for a setup error (the port is taken, say). */
export const main = (options: MainOptions) =>
  Effect.gen(function* () {
    const stats = new Stats()
    const ledger = new Ledger()
    const cache = makeRateCache(stats, { freshFor: "1 second", expireAfter: "30 seconds" })
    /** When the tree starts (after the server is up and the cache is warm). */
    let start = yield* Clock.currentTimeMillis
    /** Set once the tree is running: a setup failure (a port in use) prints no summary. */
    let started = false
    const durationMs = Duration.toMillis(options.duration)

    const serve = Effect.gen(function* () {
      const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(`${address}/rate`))
      yield* cache.warm
      start = yield* Clock.currentTimeMillis
      // The view outlives the supervisor (it shows the shutdown): its fibers live in this outer scope.
      const outer = yield* Effect.scope
      let status = "running"
      const view: View = options.tty
        ? { event: () => {}, notice: (text) => void (status = text) }
        : {
            event: (event) => console.log(eventLine(start, event)),
            notice: (text) => console.log(noticeLine(start, Date.now(), text))
          }

      yield* Effect.scoped(
        Effect.gen(function* () {
          // The view shows every failed attempt (its events): their log lines stay at debug level.
          const sup = yield* Supervisor.make({ grace: GRACE, eventBuffer: 4096, defaults: { logFailures: "debug" } })
          // Probes, the tree and its events for tooling, and the dashboard (on 127.0.0.1, with a token
          // drawn for this run: its actions work; it shows the Offload layer `httpLayer` provides). Released before `sup`: it shuts `sup` down first, so
          // /healthz and /readyz answer 503 during the drain.
          const token = randomBytes(24).toString("hex")
          const health = yield* HealthServer.make({
            port: 0,
            host: "127.0.0.1",
            dashboard: { port: options.dashboardPort, token, showPayloads: true }
          }).pipe(Effect.provideService(Supervisor.Supervisor, sup))
          console.log(
            [
              `fibervisor demo for ${Duration.format(options.duration)} (seed ${options.seed})`,
              `  Ctrl-C shuts down gracefully, a second Ctrl-C exits at once`,
              `  rate:   ${url}`,
              `  health: http://127.0.0.1:${health.port}/{healthz,readyz,tasks,events,metrics}`,
              `  dashboard: ${health.dashboard?.url ?? "(none)"}  token for its actions: ${token}`
            ].join("\n")
          )

          // Every event of the tree, up to the end of the shutdown (the stream ends when `sup` closes).
          const events = yield* Scope.provide(sup.subscribe, outer)
          const consumer = yield* Effect.forkIn(
            Stream.runForEach(events, (event) =>
              Effect.sync(() => {
                ledger.record(event)
                view.event(event)
              })
            ),
            outer
          )

          if (options.tty) {
            const draw = Effect.gen(function* () {
              const tree = yield* sup.tree
              const now = yield* Clock.currentTimeMillis
              const text = frame(tree, stats, {
                url,
                elapsedMs: now - start,
                durationMs,
                seed: options.seed,
                status,
                now,
                columns: process.stdout.columns
              })
              yield* Effect.sync(() => logUpdate(text))
              return tree
            })
            let last = yield* draw
            const drawing = yield* Effect.forkIn(
              Effect.repeat(
                Effect.tap(draw, (tree) =>
                  Effect.sync(() => {
                    if (tree.tasks.length > 0) last = tree
                  })
                ),
                Schedule.spaced("250 millis")
              ),
              outer
            )
            // Runs after the supervisor has stopped: the last frame with tasks in it stays on screen.
            yield* Scope.addFinalizer(
              outer,
              Effect.gen(function* () {
                yield* Fiber.interrupt(drawing)
                const now = yield* Clock.currentTimeMillis
                logUpdate(
                  frame(last, stats, {
                    url,
                    elapsedMs: now - start,
                    durationMs,
                    seed: options.seed,
                    status: "stopped",
                    now,
                    outcomes: ledger.outcomes(),
                    columns: process.stdout.columns
                  })
                )
                logUpdate.done()
              })
            )
          }
          // Runs before the view's finalizer: the event stream has ended by then.
          yield* Scope.addFinalizer(outer, Effect.ignore(Effect.timeout(Fiber.join(consumer), "1 second")))

          // Runs first when this scope closes, before the supervisor's shutdown.
          yield* Effect.addFinalizer(() => Effect.sync(() => view.notice("shutting down gracefully…")))

          yield* sup.addAll(tasks(stats, url))
          started = true
          yield* Effect.sleep(options.duration)
        })
      )
    }).pipe(Effect.scoped)

    yield* serve.pipe(
      Effect.provide(httpLayer(cache, options.port)),
      Effect.ensuring(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            if (started) console.log(summary(ledger, stats, { elapsedMs: now - start, seed: options.seed }))
          })
        )
      )
    )
  }).pipe(Random.withSeed(options.seed))
