/**
 * The shape of `bench-results.json`, as an Effect `Schema`: `main.ts` encodes through it before writing
 * (so a malformed file is never written), `check.ts` and the tests decode through it.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs"
import { dirname } from "node:path"
import * as Schema from "effect/Schema"

const Finite = Schema.Number.pipe(Schema.finite())
const NonNegative = Finite.pipe(Schema.nonNegative())
const Positive = Finite.pipe(Schema.positive())
const Count = Schema.Int.pipe(Schema.positive())

/** Five-number summary. */
const spread = { median: Finite, min: Finite, max: Finite, q1: Finite, q3: Finite }

export const Role = Schema.Literal("fibervisor", "baseline")
export type Role = typeof Role.Type

export const Metric = Schema.Literal("time", "heap")
export type Metric = typeof Metric.Type

export const VariantResult = Schema.Struct({
  name: Schema.NonEmptyString,
  role: Role,
  /** Unit of `samples` and of the summary beside them: milliseconds (time) or bytes (heap). */
  unit: Schema.Literal("ms", "bytes"),
  /** One value per measured round, in the order they were taken. */
  samples: Schema.NonEmptyArray(Finite),
  /** Operations in each sample (tasks, restarts, events, add+remove cycles…). */
  ops: Schema.NonEmptyArray(Count),
  ...spread,
  /** Cost of one operation: µs (time) or bytes (heap); summary over the per-sample values. */
  perOp: Schema.Struct({ unit: Schema.Literal("us", "bytes"), ...spread }),
  /** Operations per second (time metric only), from the median per-op cost. */
  opsPerSecond: Schema.optional(Positive)
})
export type VariantResult = typeof VariantResult.Type

export const Ratio = Schema.Struct({
  variant: Schema.NonEmptyString,
  baseline: Schema.NonEmptyString,
  /** Median per-op cost of `variant` ÷ that of `baseline` (lower is better for fibervisor). */
  ratio: Positive
})
export type Ratio = typeof Ratio.Type

export const SizeResult = Schema.Struct({
  n: Count,
  warmup: Schema.Int.pipe(Schema.nonNegative()),
  rounds: Count,
  variants: Schema.NonEmptyArray(VariantResult),
  ratios: Schema.Array(Ratio)
})
export type SizeResult = typeof SizeResult.Type

export const Flatness = Schema.Struct({
  variant: Schema.NonEmptyString,
  fromN: Count,
  toN: Count,
  /** Median per-op cost at `toN` ÷ that at `fromN`: about 1 when there is no O(n) step. */
  ratio: Positive
})
export type Flatness = typeof Flatness.Type

export const ScenarioResult = Schema.Struct({
  id: Schema.NonEmptyString,
  title: Schema.NonEmptyString,
  description: Schema.String,
  metric: Metric,
  /** What `n` counts for this scenario (tasks, failures, events, tasks registered…). */
  nMeans: Schema.String,
  /** What one operation is. */
  op: Schema.NonEmptyString,
  sizes: Schema.NonEmptyArray(SizeResult),
  flatness: Schema.Array(Flatness)
})
export type ScenarioResult = typeof ScenarioResult.Type

export const Target = Schema.Struct({
  scenario: Schema.NonEmptyString,
  n: Count,
  variant: Schema.NonEmptyString,
  versus: Schema.NonEmptyString,
  ratio: Positive,
  must: Schema.NullOr(Positive),
  aim: Schema.NullOr(Positive),
  meetsMust: Schema.NullOr(Schema.Boolean),
  meetsAim: Schema.NullOr(Schema.Boolean),
  /** Context for reading the ratio (for growth: how much the baselines grew over the same sizes). */
  note: Schema.optional(Schema.String)
})
export type Target = typeof Target.Type

export const Machine = Schema.Struct({
  node: Schema.NonEmptyString,
  v8: Schema.NonEmptyString,
  platform: Schema.NonEmptyString,
  arch: Schema.NonEmptyString,
  cpuModel: Schema.String,
  cores: Count,
  totalMemoryBytes: Count,
  /** ISO-8601 time the run started. */
  date: Schema.NonEmptyString
})
export type Machine = typeof Machine.Type

export const Results = Schema.Struct({
  schemaVersion: Schema.Literal(1),
  quick: Schema.Boolean,
  /** How `@fibervisor/core` was loaded: its TypeScript sources (through tsx) or its built `dist`. */
  core: Schema.Literal("source", "dist"),
  /** Effect's version and the p-queue version used as baselines. */
  versions: Schema.Struct({ effect: Schema.String, pQueue: Schema.String }),
  /** The commit measured, and whether `packages/core` had uncommitted changes (null: not a git checkout). */
  revision: Schema.Struct({ commit: Schema.String, coreDirty: Schema.NullOr(Schema.Boolean) }),
  machine: Machine,
  durationSeconds: NonNegative,
  scenarios: Schema.NonEmptyArray(ScenarioResult),
  targets: Schema.Array(Target)
})
export type Results = typeof Results.Type

export const encodeResults = Schema.encodeSync(Results)
export const decodeResults = Schema.decodeUnknownEither(Results, { onExcessProperty: "error" })

export const writeResults = (path: string, results: Results): void => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify(encodeResults(results), null, 2) + "\n")
}

export const readResults = (path: string): Results => {
  const decoded = decodeResults(JSON.parse(readFileSync(path, "utf8")))
  if (decoded._tag === "Left") throw new Error(`${path}: not a well-formed results file:\n${String(decoded.left)}`)
  return decoded.right
}

/** Checks the schema cannot express: every list has one entry per round, ratios name real variants. */
export const consistencyProblems = (results: Results): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const scenario of results.scenarios) {
    const names = new Set(scenario.sizes.flatMap((size) => size.variants.map((v) => v.name)))
    for (const size of scenario.sizes) {
      const where = `${scenario.id} n=${size.n}`
      for (const variant of size.variants) {
        if (variant.samples.length !== size.rounds) {
          problems.push(`${where} ${variant.name}: ${variant.samples.length} samples for ${size.rounds} rounds`)
        }
        if (variant.ops.length !== variant.samples.length) {
          problems.push(
            `${where} ${variant.name}: ${variant.ops.length} op counts for ${variant.samples.length} samples`
          )
        }
        const expectedUnit = scenario.metric === "time" ? "ms" : "bytes"
        if (variant.unit !== expectedUnit) problems.push(`${where} ${variant.name}: unit ${variant.unit}`)
        if (variant.min > variant.median || variant.median > variant.max) {
          problems.push(`${where} ${variant.name}: median outside min–max`)
        }
      }
      for (const ratio of size.ratios) {
        if (!names.has(ratio.variant) || !names.has(ratio.baseline)) {
          problems.push(`${where}: ratio names an unknown variant (${ratio.variant} / ${ratio.baseline})`)
        }
      }
    }
    for (const flat of scenario.flatness) {
      if (!names.has(flat.variant)) problems.push(`${scenario.id}: flatness of an unknown variant ${flat.variant}`)
    }
  }
  return problems
}
