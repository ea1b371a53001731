/**
 * `pnpm --filter @fibervisor/bench check-results [file]` — checks that a results file (default: the
 * `bench-results.json` at the repository root) is well-formed: it decodes through the `Results`
 * schema (2; a schema-1 file, as the Effect 3 line writes, is also read), every list has one entry per
 * round, and the comparison with the Effect 3 line is what both lines' figures give. Timings are never judged.
 */
import { resolve } from "node:path"
import { defaultOut, rootDir } from "./paths.js"
import { consistencyProblems, readResults } from "./results.js"

const arg = process.argv.slice(2).find((a) => a !== "--")
const path = arg === undefined ? defaultOut : resolve(process.env.INIT_CWD ?? rootDir, arg)

try {
  const results = readResults(path)
  const problems = consistencyProblems(results)
  if (problems.length > 0) {
    console.error(`${path}: inconsistent results:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
    process.exit(1)
  }
  const sizes = results.scenarios.reduce((count, s) => count + s.sizes.length, 0)
  const effect3 =
    results.schemaVersion === 1
      ? "schema 1: no Effect 3 comparison"
      : results.effect3 === null
        ? "the Effect 3 line not run"
        : `the Effect 3 line compared at ${results.comparison.length} sizes`
  console.log(
    `${path}: well-formed (${results.scenarios.length} scenarios, ${sizes} sizes${results.quick ? ", quick run" : ""}; ${effect3})`
  )
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
}
