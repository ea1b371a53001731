/**
 * The demo service: an exchange-rate feed kept by a flaky connector, a stale-while-revalidate cache
 * of the rate served over HTTP, background workers, and the supervision tree that runs them.
 *
 * ```text
 * root
 * |- app          one-for-one, at most 10 restarts in 10 s
 * |  |- connector  streams quotes; drops at random; exponential backoff with jitter; ready: true
 * |  |- heartbeat  periodic, every second
 * |  `- workers    one-for-all, at most 4 restarts in 10 s
 * |     |- worker-1
 * |     |- worker-2  hits a poison message now and then: the whole group restarts
 * |     `- worker-3
 * `- traffic      a few GET /rate every 300 ms, so the cache has callers
 * ```
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Backoff, Offload, OffloadKey, RestartPolicy, Supervisor, Task, TaskError } from "@fibervisor/core"
import { Clock, Duration, Effect, Layer, Random, Schedule } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"

/** What the service counts, for the live table and the summary. Mutated in place by the tasks. */
export class Stats {
  /** GET /rate served, by how the cache answered. */
  requests = 0
  fresh = 0
  stale = 0
  miss = 0
  /** Offload's decisions for the stale hits' refreshes, and refreshes that ran to the end. */
  refreshesSpawned = 0
  refreshesDeduplicated = 0
  refreshesRejected = 0
  refreshesRun = 0
  /** The traffic task's view: responses received and requests that failed. */
  responses = 0
  trafficFailures = 0
  /** Jobs the workers processed. */
  jobs = 0
  /** Sampled by the heartbeat. */
  heapUsed = 0
  beats = 0
  /** The live feed the connector keeps up to date while connected. */
  connected = false
  quote = 1.0842
}

/** The pair the demo quotes. */
export const PAIR = "EUR/USD"

// ---- the connector: a feed of quotes over a connection that drops at random ----

/** One connection: streams a quote every 100 ms for 0.5–2.5 s, then drops. */
const connect = (stats: Stats) =>
  Effect.gen(function* () {
    const lifetime = yield* Random.nextIntBetween(500, 2500)
    // The attempt's Scope closes when it ends (failure or stop): the feed is marked down.
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        stats.connected = true
      }),
      () =>
        Effect.sync(() => {
          stats.connected = false
        })
    )
    const tick = Effect.flatMap(Random.nextBetween(-0.0005, 0.0005), (move) =>
      Effect.sync(() => {
        stats.quote = Math.round(stats.quote * (1 + move) * 100_000) / 100_000
      })
    )
    yield* Effect.race(Effect.repeat(tick, Schedule.spaced("100 millis")), Effect.sleep(Duration.millis(lifetime)))
    return yield* (yield* Random.nextBoolean)
      ? TaskError.fail("connection reset by peer")
      : TaskError.fail("upstream timed out", { exitCode: 75 })
  })

// ---- the workers: one of them hits a poison message now and then ----

const worker = (stats: Stats, n: number, poisonRate: number) =>
  Task.make(
    `worker-${n}`,
    Effect.gen(function* () {
      while (true) {
        yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(100, 250)))
        if ((yield* Random.next) < poisonRate) return yield* TaskError.fail(`poison message in job #${stats.jobs + 1}`)
        stats.jobs += 1
      }
    }),
    { restart: RestartPolicy.onFailure, backoff: Backoff.constant("300 millis") }
  )

// ---- the cache: stale-while-revalidate, the refresh offloaded under one key ----

/** What GET /rate answers. */
export interface RateView {
  readonly pair: string
  readonly rate: number
  readonly version: number
  readonly ageMs: number
  readonly cache: "fresh" | "stale" | "miss"
}

interface Stored {
  readonly rate: number
  readonly version: number
  readonly storedAt: number
}

/** A cache of one rate: fresh for `freshFor`, then served stale while one refresh runs in the background. */
export interface RateCache {
  /** Serves the rate, registering a background refresh when it is stale. */
  readonly get: Effect.Effect<RateView, never, Offload.Offload>
  /** Loads the rate now (before the first request). */
  readonly warm: Effect.Effect<void>
}

export const makeRateCache = (
  stats: Stats,
  options: { readonly freshFor: Duration.Input; readonly expireAfter: Duration.Input }
): RateCache => {
  const freshMs = Duration.toMillis(options.freshFor)
  const expireMs = Duration.toMillis(options.expireAfter)
  let stored: Stored | undefined
  let versions = 0

  /** Asks the upstream (100–400 ms) for the latest quote of the feed. */
  const load = Effect.gen(function* () {
    yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(100, 400)))
    const entry = { rate: stats.quote, version: ++versions, storedAt: yield* Clock.currentTimeMillis }
    stored = entry
    return entry
  })

  const refresh = Effect.tap(load, () =>
    Effect.sync(() => {
      stats.refreshesRun += 1
    })
  )

  const view = (entry: Stored, cache: RateView["cache"], now: number): RateView => ({
    pair: PAIR,
    rate: entry.rate,
    version: entry.version,
    ageMs: now - entry.storedAt,
    cache
  })

  const get = Effect.gen(function* () {
    stats.requests += 1
    const now = yield* Clock.currentTimeMillis
    const entry = stored
    const age = entry === undefined ? Number.POSITIVE_INFINITY : now - entry.storedAt
    if (entry !== undefined && age < freshMs) {
      stats.fresh += 1
      return view(entry, "fresh", now)
    }
    if (entry !== undefined && age < expireMs) {
      // Any number of concurrent stale hits start one refresh: the others are "deduplicated".
      const outcome = yield* Offload.register(OffloadKey.keyed("rate", "revalidate"), refresh)
      if (outcome === "spawned") stats.refreshesSpawned += 1
      else if (outcome === "deduplicated") stats.refreshesDeduplicated += 1
      else stats.refreshesRejected += 1
      stats.stale += 1
      return view(entry, "stale", now)
    }
    stats.miss += 1
    const loaded = yield* load
    return view(loaded, "miss", yield* Clock.currentTimeMillis)
  })

  return { get, warm: Effect.asVoid(load) }
}

// ---- HTTP: GET /rate on 127.0.0.1 ----

/**
 * The HTTP server on `127.0.0.1:port` serving `GET /rate` from the cache, with the `Offload` layer
 * its refreshes run in. Provides `HttpServer` (for its address) and `Offload` (the dashboard shows
 * its kinds). Released in reverse: the server stops accepting, then Offload drains the refresh in
 * flight.
 */
export const httpLayer = (cache: RateCache, port: number) =>
  HttpRouter.add(
    "GET",
    "/rate",
    Effect.map(cache.get, (rate) => HttpServerResponse.jsonUnsafe(rate, { headers: { "x-cache": rate.cache } }))
  ).pipe(
    // The demo prints its own lines: no access log, no "Listening on" line.
    (routes) => HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" })),
    Layer.provideMerge(
      Offload.layer({
        perKind: { revalidate: { maxConcurrent: 4, timeout: { after: "2 seconds", policy: "cancel" } } },
        grace: "1 second"
      })
    )
  )

// ---- traffic: the service's own callers ----

const message = (error: unknown): string =>
  error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)

/** One GET /rate with `fetch`; interrupting it aborts the request. */
const request = (stats: Stats, url: string) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      return (await response.json()) as RateView
    },
    catch: (error) => {
      stats.trafficFailures += 1
      return TaskError.fail(`GET /rate: ${message(error)}`)
    }
  }).pipe(
    Effect.tap(() =>
      Effect.sync(() => {
        stats.responses += 1
      })
    )
  )

/** Every 300 ms, 2 to 6 concurrent GET /rate. */
const traffic = (stats: Stats, url: string) =>
  Task.make(
    "traffic",
    Effect.flatMap(Random.nextIntBetween(2, 7), (n) =>
      Effect.forEach(Array.from({ length: n }), () => request(stats, url), {
        concurrency: "unbounded",
        discard: true
      })
    ).pipe(Effect.repeat(Schedule.spaced("300 millis"))),
    { restart: RestartPolicy.onFailure, backoff: Backoff.constant("500 millis") }
  )

// ---- the tree ----

/** The root's tasks: the `app` subtree and the traffic generator. */
export const tasks = (stats: Stats, url: string) =>
  [
    Supervisor.task(
      "app",
      [
        // The readiness task: the service is ready only while the feed is connected.
        Task.make("connector", connect(stats), {
          ready: true,
          restart: RestartPolicy.onFailure,
          backoff: Backoff.exponential({ first: "200 millis", max: "3 seconds", jitter: "equal" }),
          resetAfter: "2 seconds"
        }),
        Task.periodic(
          "heartbeat",
          Effect.sync(() => {
            stats.beats += 1
            stats.heapUsed = process.memoryUsage().heapUsed
          }),
          "1 second"
        ),
        Supervisor.task("workers", [worker(stats, 1, 0), worker(stats, 2, 0.06), worker(stats, 3, 0)], {
          strategy: "one-for-all",
          intensity: { maxRestarts: 4, within: "10 seconds" }
        })
      ],
      {
        intensity: { maxRestarts: 10, within: "10 seconds" },
        restart: RestartPolicy.onFailure,
        backoff: Backoff.exponential({ first: "500 millis", max: "5 seconds", jitter: "equal" })
      }
    ),
    traffic(stats, url)
  ] as const
