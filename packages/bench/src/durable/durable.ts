/**
 * @fibervisor/durable's DurableOffload as a benchmark system, on Postgres (the run's database) or
 * SQLite (a file in a temporary folder).
 *
 * Each round's queue is a kind of its own (`payload { i }`, key `String(i)`, in-flight dedupe, so
 * no job is deduplicated); all kinds share one store table. The producer is a `DurableOffload`
 * layer on its own store client; one consumer is a `DurableOffload.workers` layer on another store
 * client (its own pool, or its own SQLite connection), built when `run()` is called — the client is
 * connected off the clock. Consumers poll every `pollMs` when idle (default 100 ms; a local enqueue
 * cannot wake them: the producer is another client, as it would be in another process).
 */
import { Effect, Exit, Layer, ManagedRuntime, Schema, Scope } from "effect"
import { DurableOffload } from "@fibervisor/durable"
import type { BenchConsumers, BenchQueue, BenchSystem } from "./system.js"

const tableName = "fv_bench_jobs"

export interface DurableBackend {
  readonly store: "pg" | "sqlite"
  /** Postgres URL or SQLite file name. */
  readonly location: string
  readonly pollMs: number
  /** SQLite only: `full` (the store's default: a commit survives a power loss) or `normal` (WAL: survives a process crash). */
  readonly synchronous: "full" | "normal"
}

/** A DurableOffload service on a store client of its own: a pool of `connections` on Postgres, one connection on SQLite (WAL). */
const durableLayer = (backend: DurableBackend, connections: number) =>
  Layer.orDie(
    backend.store === "pg"
      ? DurableOffload.layerPostgres({ url: backend.location, tableName, maxConnections: connections })
      : DurableOffload.layerSqlite({ filename: backend.location, tableName, synchronous: backend.synchronous })
  )

export const durableSystem = async (backend: DurableBackend, version: string): Promise<BenchSystem> => {
  const producer = ManagedRuntime.make(durableLayer(backend, 10))
  await producer.context()
  return {
    id: `durable-${backend.store}`,
    label: `DurableOffload ${version} (${backend.store === "pg" ? "Postgres" : "SQLite"})`,
    queue: async (name, concurrency) => {
      const Job = DurableOffload.kind(name, {
        payload: Schema.Struct({ i: Schema.Number }),
        key: (p: { readonly i: number }) => String(p.i),
        maxAttempts: 3,
        concurrency
      })
      await producer.runPromise(DurableOffload.validateKind(Job))
      const bench: BenchQueue = {
        enqueue: async (i) => {
          const outcome = await producer.runPromise(DurableOffload.enqueue(Job, { i }))
          if (outcome !== "enqueued") throw new Error(`DurableOffload: job ${i} ${outcome}`)
        },
        consumers: async (count, onRun) => {
          const clients = Array.from({ length: count }, () => ManagedRuntime.make(durableLayer(backend, 4)))
          await Promise.all(clients.map((client) => client.context()))
          const scopes: Array<Scope.Closeable> = []
          const consumers: BenchConsumers = {
            run: async () => {
              const handler = Job.handle(() => Effect.sync(onRun))
              for (const client of clients) {
                const scope = await client.runPromise(Scope.make())
                scopes.push(scope)
                await client.runPromise(
                  Layer.buildWithScope(DurableOffload.workers([handler], { pollInterval: backend.pollMs }), scope)
                )
              }
            },
            close: async () => {
              await Promise.all(scopes.map((scope, i) => clients[i]!.runPromise(Scope.close(scope, Exit.void))))
              await Promise.all(clients.map((client) => client.dispose()))
            }
          }
          return consumers
        },
        completed: async () => (await producer.runPromise(DurableOffload.counts(Job))).completed,
        close: async () => {}
      }
      return bench
    },
    close: () => producer.dispose()
  }
}
