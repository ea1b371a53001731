/**
 * `pnpm bench [--quick] [--only id,id] [--out file] [--no-save] [--no-effect3]`
 *
 * Runs every scenario (fibervisor and its baselines in this one process, alternating), then the
 * Effect 3 line's bench on the same scenarios, sizes and profile (a child process on the same Node;
 * `--no-effect3` skips it), prints a table on stdout (progress goes to stderr) and writes the results
 * as JSON: to `bench-results.json` at the repository root (or `--out`), and — for a full run of every
 * scenario — to `packages/bench/results/results.json`, the copy kept for the docs (plot it with `pnpm plot`).
 */
import { relative } from "node:path"
import { coreLoadedFrom, failWith, helpIf, machineOf, outPath, progress, revision, versionOf } from "./cli.js"
import { runEffect3Line } from "./effect3.js"
import { runScenario } from "./harness.js"
import { defaultOut, savedResults } from "./paths.js"
import { compare, type Effect3Line, type Results, type ScenarioResult, writeResults } from "./results.js"
import { fullProfile, quickProfile, scenarios } from "./scenarios.js"
import { report } from "./table.js"
import { targetsOf } from "./targets.js"

const usage = "usage: pnpm bench [--quick] [--only id,id] [--out file] [--no-save] [--no-effect3]"

interface Args {
  readonly quick: boolean
  readonly only: ReadonlyArray<string> | undefined
  readonly out: string
  readonly save: boolean
  readonly effect3: boolean
}

const parseArgs = (argv: ReadonlyArray<string>): Args => {
  let quick = false
  let only: Array<string> | undefined
  let out = defaultOut
  let save = true
  let effect3 = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") continue
    else if (arg === "--quick") quick = true
    else if (arg === "--no-save") save = false
    else if (arg === "--no-effect3") effect3 = false
    else if (arg === "--only" && argv[i + 1] !== undefined) only = argv[++i]!.split(",").filter((s) => s !== "")
    else if (arg === "--out" && argv[i + 1] !== undefined) out = outPath(argv[++i]!)
    else if (arg === "--help" || arg === "-h") helpIf(arg, usage)
    else failWith(usage)(`unknown argument ${arg}`)
  }
  return { quick, only, out, save, effect3 }
}

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof globalThis.gc !== "function") {
    console.error("note: run with node --expose-gc (pnpm bench does); exposing gc at run time instead")
  }
  const profile = args.quick ? quickProfile : fullProfile
  const all = scenarios(profile)
  const unknown = args.only?.filter((id) => !all.some((s) => s.id === id)) ?? []
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(", ")}; known: ${all.map((s) => s.id).join(", ")}`)
    process.exit(2)
  }
  const selected = args.only === undefined ? all : all.filter((s) => args.only!.includes(s.id))
  const date = new Date().toISOString()
  const started = performance.now()
  const done: Array<ScenarioResult> = []
  for (const scenario of selected) {
    progress(`${scenario.id}: ${scenario.plans.map((p) => `n=${p.n} ×${p.rounds}`).join(", ")}`)
    done.push(await runScenario(scenario, progress))
  }
  const durationSeconds = (performance.now() - started) / 1000
  let effect3: Effect3Line | null = null
  if (args.effect3) {
    progress(`\nthe Effect 3 line (packages/effect3/bench, node ${process.version}): same scenarios and profile`)
    effect3 = await runEffect3Line({ quick: args.quick, only: args.only, progress })
  }
  const comparison = effect3 === null ? [] : compare(done, effect3.results.scenarios)
  const core = coreLoadedFrom()
  const results: Results = {
    schemaVersion: 2,
    quick: args.quick,
    core,
    versions: { effect: versionOf("effect"), pQueue: versionOf("p-queue") },
    revision: revision(),
    machine: machineOf(date),
    durationSeconds,
    scenarios: [done[0]!, ...done.slice(1)],
    targets: targetsOf(done, comparison),
    effect3,
    comparison
  }
  console.log(report(results))
  writeResults(args.out, results)
  progress(`\nwrote ${relative(process.cwd(), args.out)}`)
  if (!args.quick && args.only === undefined && args.save && effect3 !== null) {
    writeResults(savedResults, results)
    progress(`wrote ${relative(process.cwd(), savedResults)} (kept for the docs; pnpm --filter @fibervisor/bench plot)`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
