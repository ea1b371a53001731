/**
 * pg-boss 12 on the local Postgres as a benchmark system.
 *
 * The producer is one started `PgBoss` instance (it installs the `pgboss` schema in the run's
 * database); each round creates a queue with pg-boss's defaults (`notify: false`: with
 * `notify: true` every send also issues a NOTIFY, which measured here cut enqueue throughput by
 * about 3× and enqueue→complete by about 2×, so the faster default is the fair one). One consumer
 * is one more `PgBoss` instance (its own pool, no maintenance or scheduling) whose `work` fetches
 * batches of `concurrency` jobs with `burstWhenBatchFull` (fetch again at once while batches come
 * back full) and a 0.5 s poll (the minimum). Completion is read from `pgboss.job`.
 */
import { PgBoss } from "pg-boss"
import type { BenchConsumers, BenchQueue, BenchSystem } from "./system.js"

const quiet = (boss: PgBoss): PgBoss => {
  // An unhandled `error` event would crash the process; the measuring loop sees failures as
  // missing completions instead, and the message is printed.
  boss.on("error", (error) => console.error(`pg-boss: ${String(error)}`))
  return boss
}

export const pgBossSystem = async (url: string, version: string): Promise<BenchSystem> => {
  const producer = quiet(new PgBoss({ connectionString: url, max: 10, supervise: false, schedule: false }))
  await producer.start()
  return {
    id: "pg-boss",
    label: `pg-boss ${version} (Postgres)`,
    queue: async (name, concurrency) => {
      await producer.createQueue(name)
      const bench: BenchQueue = {
        enqueue: async (i) => {
          const id = await producer.send(name, { i })
          if (id === null) throw new Error(`pg-boss refused job ${i}`)
        },
        consumers: async (count, onRun) => {
          const bosses = Array.from({ length: count }, () =>
            quiet(new PgBoss({ connectionString: url, max: 2, supervise: false, schedule: false, migrate: false }))
          )
          await Promise.all(bosses.map((boss) => boss.start()))
          const consumers: BenchConsumers = {
            run: async () => {
              await Promise.all(
                bosses.map((boss) =>
                  boss.work(
                    name,
                    { batchSize: concurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
                    async (jobs) => {
                      for (let j = 0; j < jobs.length; j++) onRun()
                    }
                  )
                )
              )
            },
            close: async () => {
              await Promise.all(bosses.map((boss) => boss.stop({ graceful: true, close: true })))
            }
          }
          return consumers
        },
        completed: async () => {
          const { rows } = await producer
            .getDb()
            .executeSql(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`, [name])
          return (rows[0] as { n: number }).n
        },
        close: () => producer.deleteQueue(name)
      }
      return bench
    },
    close: () => producer.stop({ graceful: true, close: true })
  }
}
