/**
 * The worker process of the real-process tests (started by harness.ts, configured by environment
 * variables): a DurableOffload workers layer for the kinds of kinds.ts on the store under test,
 * whose handler logs each run into the Postgres run log (runLog.ts) — a row when the run starts
 * (kind, key, attempt, worker, pid, started_at), updated when it ends (finished_at, outcome
 * `completed`, `failed` or `interrupted`). A SIGKILLed run keeps outcome `running` and no end.
 *
 * Prints `fixture ready` once the layer is built. SIGTERM interrupts the main fiber: the workers
 * layer closes (stop claiming, drain within grace, interrupt and release the rest) and the
 * process exits 0; any failure prints its cause and exits 1.
 */
import { PgClient } from "@effect/sql-pg"
import { Cause, Clock, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { DurableOffload } from "../../src/index.js"
import { kinds, type Payload } from "./kinds.js"
import { createGatesTable, createRunsTable, type RunOutcome } from "./runLog.js"
import { durableLayer } from "./stores.js"

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined || value === "") throw new Error(`fixture: ${name} is not set`)
  return value
}
const worker = env("FV_WORKER")
const concurrency = Number(env("FV_CONCURRENCY"))

const main = Effect.gen(function* () {
  const log = yield* PgClient.make({
    url: Redacted.make(env("FV_LOG_URL")),
    maxConnections: 4,
    applicationName: `fv-durable-fixture-${worker}`
  }).pipe(Effect.provide(Reactivity.layer))
  yield* log.unsafe(createRunsTable)
  yield* log.unsafe(createGatesTable)

  /** Sleeps in 100 ms steps until `until` (epoch ms) or until the test opens the gate of `key`. */
  const holdUntilGate = (key: string, until: number): Effect.Effect<void> =>
    Effect.gen(function* () {
      for (;;) {
        if ((yield* Clock.currentTimeMillis) >= until) return
        const open = yield* log.unsafe(`SELECT 1 FROM offload_gates WHERE key = $1`, [key]).pipe(Effect.orDie)
        if (open.length > 0) return
        yield* Effect.sleep(100)
      }
    })

  const handler = (payload: Payload, job: DurableOffload.JobContext) =>
    Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      const [row] = yield* log
        .unsafe<{ readonly id: string }>(
          `INSERT INTO offload_runs (kind, key, attempt, worker, pid, started_at, outcome)
           VALUES ($1, $2, $3, $4, $5, $6, 'running') RETURNING id::text AS id`,
          [job.kind, job.key, job.attempt, worker, process.pid, startedAt]
        )
        .pipe(Effect.orDie)
      const finish = (outcome: RunOutcome) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          log.unsafe(`UPDATE offload_runs SET finished_at = $1, outcome = $2 WHERE id = $3::bigint`, [
            now,
            outcome,
            row!.id
          ])
        ).pipe(Effect.orDie)
      const work =
        payload.slowOn === worker ? holdUntilGate(job.key, startedAt + payload.slowMs) : Effect.sleep(payload.ms)
      yield* work.pipe(Effect.onInterrupt(() => finish("interrupted")))
      if (payload.fail) {
        yield* finish("failed")
        return yield* Effect.fail(`${job.key}: failing as asked (attempt ${job.attempt})`)
      }
      yield* finish("completed")
    })

  const { work, once } = kinds(concurrency)
  const app = DurableOffload.workers([work.handle(handler), once.handle(handler)], {
    pollInterval: Number(env("FV_POLL_MS")),
    lease: Number(env("FV_LEASE_MS")),
    grace: Number(env("FV_GRACE_MS")),
    workerId: `${worker}-${process.pid}`
  }).pipe(
    Layer.provide(
      durableLayer(env("FV_STORE") === "sqlite" ? "sqlite" : "pg", env("FV_STORE_LOCATION"), env("FV_TABLE"))
    )
  )
  yield* Layer.build(app)
  console.log(`fixture ready ${worker} pid ${process.pid}`)
  return yield* Effect.never
})

const fiber = Effect.runFork(Effect.scoped(main))
fiber.addObserver((exit) => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) process.exit(0)
  console.error(`fixture ${worker} failed:\n${Cause.pretty(exit.cause)}`)
  process.exit(1)
})
process.once("SIGTERM", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
