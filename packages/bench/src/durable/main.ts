/**
 * `pnpm bench:durable [--quick] [--n N] [--workers 1,4] [--concurrency C] [--producers P] [--poll-ms MS] [--repeats R] [--sqlite-synchronous full|normal] [--only id,id] [--out file] [--no-save]`
 *
 * Throughput of durable job queues on this machine, in one run: DurableOffload on Postgres and on
 * SQLite, BullMQ on the local Redis, pg-boss on the local Postgres — the same job count, the same
 * trivial handler, the same consumer counts (see measure.ts for the phases). Prints a table on
 * stdout (progress on stderr) and writes the results as JSON: to `--out` if given, and — for a
 * full run of every system, unless `--no-save` — to `packages/bench/results/durable.json`.
 * Creates its own Postgres database and Redis key prefix, and removes them at the end.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { packageDir, rootDir } from "../paths.js"
import { bullmqSystem, redisVersion } from "./bullmq.js"
import { createDatabase, postgresVersion } from "./database.js"
import { durableSystem } from "./durable.js"
import { round, type RoundResult } from "./measure.js"
import { pgBossSystem } from "./pgboss.js"
import { type DurableResults, problems, table } from "./results.js"
import type { BenchSystem } from "./system.js"

const usage =
  "usage: pnpm bench:durable [--quick] [--n N] [--workers 1,4] [--concurrency C] [--producers P] [--poll-ms MS] [--repeats R] [--sqlite-synchronous full|normal] [--only id,id] [--out file] [--no-save]"

/** Every system, in the order they run. */
const systemIds = ["durable-pg", "durable-sqlite", "bullmq", "pg-boss"] as const

/** The results kept for the docs. */
const savedDurableResults = `${packageDir}results/durable.json`

interface Args {
  readonly quick: boolean
  readonly n: number
  readonly workers: ReadonlyArray<number>
  readonly concurrency: number
  readonly producers: number
  readonly pollMs: number
  readonly repeats: number
  readonly synchronous: "full" | "normal"
  readonly only: ReadonlyArray<string>
  readonly out: string | undefined
  readonly save: boolean
}

const fail = (message: string): never => {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

const positiveInt = (flag: string, value: string | undefined): number => {
  const n = Number(value)
  return Number.isInteger(n) && n > 0 ? n : fail(`${flag}: expected a positive integer, got ${JSON.stringify(value)}`)
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  let quick = false
  let n: number | undefined
  let workers: ReadonlyArray<number> = [1, 4]
  let concurrency = 10
  let producers = 8
  let pollMs = 100
  let repeats: number | undefined
  let synchronous: "full" | "normal" = "full"
  let only: ReadonlyArray<string> = systemIds
  let out: string | undefined
  let save = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") continue
    else if (arg === "--quick") quick = true
    else if (arg === "--no-save") save = false
    else if (arg === "--n") n = positiveInt(arg, argv[++i])
    else if (arg === "--concurrency") concurrency = positiveInt(arg, argv[++i])
    else if (arg === "--producers") producers = positiveInt(arg, argv[++i])
    else if (arg === "--poll-ms") pollMs = positiveInt(arg, argv[++i])
    else if (arg === "--repeats") repeats = positiveInt(arg, argv[++i])
    else if (arg === "--sqlite-synchronous") {
      const value = argv[++i]
      if (value !== "full" && value !== "normal")
        fail(`--sqlite-synchronous: full or normal, got ${JSON.stringify(value)}`)
      synchronous = value as "full" | "normal"
    } else if (arg === "--workers") workers = (argv[++i] ?? "").split(",").map((w) => positiveInt(arg, w))
    else if (arg === "--only") {
      only = (argv[++i] ?? "").split(",").filter((s) => s !== "")
      const unknown = only.filter((id) => !(systemIds as ReadonlyArray<string>).includes(id))
      if (unknown.length > 0 || only.length === 0)
        fail(`--only: unknown system(s) ${unknown.join(",")}; known: ${systemIds.join(",")}`)
    }
    // pnpm runs the script in the package folder: a relative --out is taken from where pnpm was called.
    else if (arg === "--out" && argv[i + 1] !== undefined) out = resolve(process.env.INIT_CWD ?? rootDir, argv[++i]!)
    else if (arg === "--help" || arg === "-h") {
      console.log(usage)
      process.exit(0)
    } else fail(`unknown argument ${arg}`)
  }
  return {
    quick,
    n: n ?? (quick ? 40 : 2000),
    workers,
    concurrency,
    producers,
    pollMs,
    repeats: repeats ?? (quick ? 1 : 3),
    synchronous,
    only,
    out,
    save
  }
}

const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(`${packageDir}node_modules/${name}/package.json`, "utf8")) as { version: string }).version

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  const suffix = randomBytes(5).toString("hex")
  const versions = {
    durable: versionOf("@fibervisor/durable"),
    effect: versionOf("effect"),
    bullmq: versionOf("bullmq"),
    "pg-boss": versionOf("pg-boss"),
    postgres: await postgresVersion(),
    redis: await redisVersion()
  }
  const database = await createDatabase(suffix)
  const sqliteDir = mkdtempSync(join(tmpdir(), "fv-bench-durable-"))
  const systems: Array<BenchSystem> = []
  const rounds: Array<RoundResult> = []
  const started = Date.now()
  const loadAtStart = loadavg()[0]!
  try {
    for (const id of args.only) {
      if (id === "durable-pg")
        systems.push(
          await durableSystem(
            { store: "pg", location: database.url, pollMs: args.pollMs, synchronous: args.synchronous },
            versions.durable
          )
        )
      else if (id === "durable-sqlite")
        systems.push(
          await durableSystem(
            {
              store: "sqlite",
              location: join(sqliteDir, "durable.db"),
              pollMs: args.pollMs,
              synchronous: args.synchronous
            },
            versions.durable
          )
        )
      else if (id === "bullmq") systems.push(bullmqSystem(`fvbench-${suffix}`, versions.bullmq))
      else if (id === "pg-boss") systems.push(await pgBossSystem(database.url, versions["pg-boss"]))
    }
    // Repetitions interleave the systems (repeat → workers → system), so a change in the machine's
    // load touches every system alike instead of one system's samples.
    for (let repeat = 1; repeat <= args.repeats; repeat++) {
      for (const workers of args.workers) {
        for (const system of systems) {
          console.error(`${system.id}: ${workers} worker(s), N = ${args.n}, repeat ${repeat}/${args.repeats} …`)
          const name = `fvbench_${suffix}_${system.id.replace(/-/g, "_")}_w${workers}_r${repeat}`
          rounds.push(
            await round(system, name, {
              repeat,
              n: args.n,
              workers,
              concurrency: args.concurrency,
              producers: args.producers,
              deadlineMs: Math.max(120_000, args.n * 100)
            })
          )
        }
      }
    }
  } finally {
    for (const system of systems) await system.close().catch((e) => console.error(`closing ${system.id}: ${e}`))
    await database.drop()
    rmSync(sqliteDir, { recursive: true, force: true })
  }
  const results: DurableResults = {
    version: 1,
    quick: args.quick,
    date: new Date().toISOString(),
    durableFrom: process.execArgv.some((arg) => arg.includes("@fibervisor/source")) ? "source" : "dist",
    machine: {
      node: process.version,
      cpuModel: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! }
    },
    versions,
    settings: {
      n: args.n,
      repeats: args.repeats,
      workers: args.workers,
      concurrency: args.concurrency,
      producers: args.producers,
      durablePollMs: args.pollMs,
      sqliteSynchronous: args.synchronous,
      placement: "in-process"
    },
    systems: systems.map(({ id, label }) => ({ id, label })),
    rounds
  }
  const wrong = problems(results)
  if (wrong.length > 0) throw new Error(`results are incomplete: ${wrong.join("; ")}`)
  console.log(table(results))
  console.error(`${((Date.now() - started) / 1000).toFixed(1)} s`)
  const json = `${JSON.stringify(results, null, 2)}\n`
  if (args.out !== undefined) writeFileSync(args.out, json)
  // The kept results are the default settings' (a full run of every system).
  if (args.save && !args.quick && args.only.length === systemIds.length && args.synchronous === "full") {
    writeFileSync(savedDurableResults, json)
    console.error(`saved ${savedDurableResults}`)
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
