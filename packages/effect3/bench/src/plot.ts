/**
 * `pnpm --filter @fibervisor/bench plot [results.json] [out.svg]` — draws the per-operation cost
 * against N for each scenario. Defaults: `packages/bench/results/results.json` (the full run kept
 * for the docs) to `packages/bench/results/per-op.svg`; pass the root `bench-results.json` to plot
 * the latest run.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, relative, resolve } from "node:path"
import { rootDir, savedPlot, savedResults } from "./paths.js"
import { readResults } from "./results.js"
import { renderSvg } from "./svg.js"

const [input, output] = process.argv.slice(2).filter((a) => a !== "--")
const base = process.env.INIT_CWD ?? rootDir
const from = input === undefined ? savedResults : resolve(base, input)
const to = output === undefined ? savedPlot : resolve(base, output)

mkdirSync(dirname(to), { recursive: true })
writeFileSync(to, renderSvg(readResults(from)))
console.log(`wrote ${relative(process.cwd(), to)} from ${relative(process.cwd(), from)}`)
