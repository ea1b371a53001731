/**
 * BullMQ 6 on the local Redis (127.0.0.1:6379) as a benchmark system.
 *
 * Each round's queue lives under a key prefix of its own (`fvbench-<random>`) and is obliterated
 * when the round ends. One consumer is one `Worker` (its own Redis connections, blocking fetch, no
 * polling) with the round's `concurrency`; `autorun: false` keeps it idle until `run()`. Jobs are
 * kept on completion (BullMQ's default) so `getCompletedCount` reports them.
 */
import { Queue, Worker } from "bullmq"
import { Redis } from "ioredis"
import type { BenchConsumers, BenchQueue, BenchSystem } from "./system.js"

const connection = { host: "127.0.0.1", port: 6379 }

/** The server's version, from `INFO server`. */
export const redisVersion = async (): Promise<string> => {
  const client = new Redis({ ...connection, lazyConnect: true })
  try {
    await client.connect()
    return /redis_version:(\S+)/.exec(await client.info("server"))?.[1] ?? "unknown"
  } finally {
    client.disconnect()
  }
}

/**
 * @param prefix the Redis key prefix of this run: every key it writes starts with it.
 */
export const bullmqSystem = (prefix: string, version: string): BenchSystem => ({
  id: "bullmq",
  label: `BullMQ ${version} (Redis)`,
  queue: async (name, concurrency) => {
    const queue = new Queue(name, { connection, prefix })
    await queue.waitUntilReady()
    const bench: BenchQueue = {
      enqueue: async (i) => {
        await queue.add("job", { i })
      },
      consumers: async (count, onRun) => {
        const workers = Array.from(
          { length: count },
          () =>
            new Worker(
              name,
              async () => {
                onRun()
              },
              { connection: { ...connection, maxRetriesPerRequest: null }, prefix, concurrency, autorun: false }
            )
        )
        await Promise.all(workers.map((worker) => worker.waitUntilReady()))
        const running: Array<Promise<void>> = []
        const consumers: BenchConsumers = {
          run: async () => {
            for (const worker of workers) running.push(worker.run())
          },
          close: async () => {
            await Promise.all(workers.map((worker) => worker.close()))
            await Promise.all(running)
          }
        }
        return consumers
      },
      completed: () => queue.getCompletedCount(),
      close: async () => {
        await queue.obliterate({ force: true })
        await queue.close()
      }
    }
    return bench
  },
  close: async () => {}
})
