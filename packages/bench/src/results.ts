/**
 * The shape of `bench-results.json`, as an Effect `Schema`: `main.ts` encodes through it before writing
 * (so a malformed file is never written), `check.ts` and the tests decode through it.
 *
 * Schema 2 (this line) is schema 1 — what the Effect 3 line's bench writes, unchanged — plus the
 * Effect 3 line's results of the same run (`effect3`) and the comparison of the two (`comparison`).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

const Finite = Schema.Finite
const NonNegative = Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Finite.check(Schema.isGreaterThan(0))
const Count = Schema.Int.check(Schema.isGreaterThan(0))

/** Five-number summary. */
const spread = { median: Finite, min: Finite, max: Finite, q1: Finite, q3: Finite }

export const Role = Schema.Literals(["fibervisor", "baseline"])
export type Role = typeof Role.Type

export const Metric = Schema.Literals(["time", "heap"])
export type Metric = typeof Metric.Type

export const VariantResult = Schema.Struct({
  name: Schema.NonEmptyString,
  role: Role,
  /** Unit of `samples` and of the summary beside them: milliseconds (time) or bytes (heap). */
  unit: Schema.Literals(["ms", "bytes"]),
  /** One value per measured round, in the order they were taken. */
  samples: Schema.NonEmptyArray(Finite),
  /** Operations in each sample (tasks, restarts, events, add+remove cycles…). */
  ops: Schema.NonEmptyArray(Count),
  ...spread,
  /** Cost of one operation: µs (time) or bytes (heap); summary over the per-sample values. */
  perOp: Schema.Struct({ unit: Schema.Literals(["us", "bytes"]), ...spread }),
  /** Operations per second (time metric only), from the median per-op cost. */
  opsPerSecond: Schema.optionalKey(Positive)
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
  warmup: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
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
  note: Schema.optionalKey(Schema.String)
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

/** What one bench process measured: the fields both lines' results files share. */
const runFields = {
  quick: Schema.Boolean,
  /** How `@fibervisor/core` was loaded: its TypeScript sources (through tsx) or its built `dist`. */
  core: Schema.Literals(["source", "dist"]),
  /** Effect's version and the p-queue version used as baselines. */
  versions: Schema.Struct({ effect: Schema.String, pQueue: Schema.String }),
  /** The commit measured, and whether `packages/core` had uncommitted changes (null: not a git checkout). */
  revision: Schema.Struct({ commit: Schema.String, coreDirty: Schema.NullOr(Schema.Boolean) }),
  machine: Machine,
  durationSeconds: NonNegative,
  scenarios: Schema.NonEmptyArray(ScenarioResult),
  targets: Schema.Array(Target)
}

/**
 * Schema 1: the results file of the Effect 3 line's bench (`packages/effect3/bench`), and of this
 * bench before the Effect 3 comparison was added.
 */
export const ResultsV1 = Schema.Struct({ schemaVersion: Schema.Literal(1), ...runFields })
export type ResultsV1 = typeof ResultsV1.Type

/** The Effect 3 line, measured by its own bench in a child process of the same run. */
export const Effect3Line = Schema.Struct({
  /** The folder it ran in, relative to the repository root. */
  cwd: Schema.NonEmptyString,
  /** The command line it ran (the executable first). */
  command: Schema.NonEmptyArray(Schema.String),
  /** The results file it wrote, as written (schema 1). */
  results: ResultsV1
})
export type Effect3Line = typeof Effect3Line.Type

/** One line's figures for a scenario at one size: median per-op costs (µs or bytes). */
export const LineFigures = Schema.Struct({
  fibervisor: Finite,
  /** Each baseline of that line, and fibervisor ÷ it (null when a median is not positive). */
  baselines: Schema.Array(Schema.Struct({ name: Schema.NonEmptyString, perOp: Finite, ratio: Schema.NullOr(Positive) }))
})
export type LineFigures = typeof LineFigures.Type

/** The Effect 4 edition against the Effect 3 line, for one scenario at one size both ran. */
export const Comparison = Schema.Struct({
  scenario: Schema.NonEmptyString,
  n: Count,
  metric: Metric,
  /** Unit of every figure: µs per operation (time) or bytes per operation (heap). */
  unit: Schema.Literals(["us", "bytes"]),
  effect4: LineFigures,
  effect3: LineFigures,
  /**
   * fibervisor's per-op cost on the Effect 4 edition ÷ on the Effect 3 line (lower is better; above 1,
   * the Effect 4 edition is slower or heavier per operation). Null when a median is not positive.
   */
  ratio: Schema.NullOr(Positive)
})
export type Comparison = typeof Comparison.Type

/** Schema 2: this bench's results file. */
export const Results = Schema.Struct({
  schemaVersion: Schema.Literal(2),
  ...runFields,
  /** The Effect 3 line's run (null: not run, `--no-effect3`). */
  effect3: Schema.NullOr(Effect3Line),
  /** Every scenario and size both lines ran (empty when the Effect 3 line did not run). */
  comparison: Schema.Array(Comparison)
})
export type Results = typeof Results.Type

/** Either schema: what `check-results` and `plot` read. */
export const AnyResults = Schema.Union([Results, ResultsV1])
export type AnyResults = typeof AnyResults.Type

export const encodeResults = Schema.encodeSync(Results)
export const decodeResults = Schema.decodeUnknownResult(Results, { onExcessProperty: "error" })
export const decodeResultsV1 = Schema.decodeUnknownResult(ResultsV1, { onExcessProperty: "error" })
const decodeAny = Schema.decodeUnknownResult(AnyResults, { onExcessProperty: "error" })

export const writeResults = (path: string, results: Results): void => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify(encodeResults(results), null, 2) + "\n")
}

/** Reads a results file of either schema. */
export const readResults = (path: string): AnyResults => {
  const decoded = decodeAny(JSON.parse(readFileSync(path, "utf8")))
  if (Result.isFailure(decoded)) {
    throw new Error(`${path}: not a well-formed results file:\n${decoded.failure.message}`)
  }
  return decoded.success
}

const figuresOf = (size: SizeResult): LineFigures | undefined => {
  const fibervisor = size.variants.find((v) => v.role === "fibervisor")
  if (fibervisor === undefined) return undefined
  return {
    fibervisor: fibervisor.perOp.median,
    baselines: size.variants
      .filter((v) => v.role === "baseline")
      .map((b) => ({
        name: b.name,
        perOp: b.perOp.median,
        ratio: size.ratios.find((r) => r.variant === fibervisor.name && r.baseline === b.name)?.ratio ?? null
      }))
  }
}

/** The comparison of every scenario and size both lines ran, in this line's order. */
export const compare = (
  effect4: ReadonlyArray<ScenarioResult>,
  effect3: ReadonlyArray<ScenarioResult>
): Array<Comparison> =>
  effect4.flatMap((scenario) => {
    const other = effect3.find((s) => s.id === scenario.id)
    if (other === undefined) return []
    return scenario.sizes.flatMap((size): Array<Comparison> => {
      const otherSize = other.sizes.find((s) => s.n === size.n)
      const v4 = figuresOf(size)
      const v3 = otherSize === undefined ? undefined : figuresOf(otherSize)
      if (v4 === undefined || v3 === undefined) return []
      return [
        {
          scenario: scenario.id,
          n: size.n,
          metric: scenario.metric,
          unit: scenario.metric === "time" ? "us" : "bytes",
          effect4: v4,
          effect3: v3,
          ratio: v4.fibervisor > 0 && v3.fibervisor > 0 ? v4.fibervisor / v3.fibervisor : null
        }
      ]
    })
  })

/** Checks the schema cannot express: every list has one entry per round, ratios name real variants. */
const scenarioProblems = (scenarios: ReadonlyArray<ScenarioResult>, prefix: string): Array<string> => {
  const problems: Array<string> = []
  for (const scenario of scenarios) {
    const names = new Set(scenario.sizes.flatMap((size) => size.variants.map((v) => v.name)))
    for (const size of scenario.sizes) {
      const where = `${prefix}${scenario.id} n=${size.n}`
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
      if (!names.has(flat.variant)) {
        problems.push(`${prefix}${scenario.id}: flatness of an unknown variant ${flat.variant}`)
      }
    }
  }
  return problems
}

/** JSON with every object's keys sorted: equal for equal data, whatever order the fields were written in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v
  )

/**
 * Checks the schema cannot express. For schema 2 also: the Effect 3 line's results are consistent,
 * ran the same profile, and the comparison is exactly what both lines' figures give.
 */
export const consistencyProblems = (results: AnyResults): ReadonlyArray<string> => {
  const problems = scenarioProblems(results.scenarios, "")
  if (results.schemaVersion === 1) return problems
  const line = results.effect3
  if (line === null) {
    if (results.comparison.length > 0) problems.push("a comparison without the Effect 3 line's results")
    return problems
  }
  problems.push(...scenarioProblems(line.results.scenarios, "effect3: "))
  if (line.results.quick !== results.quick) {
    problems.push(`effect3: quick ${line.results.quick}, this run quick ${results.quick}`)
  }
  const expected = compare(results.scenarios, line.results.scenarios)
  if (canonical(expected) !== canonical(results.comparison)) {
    problems.push("comparison: does not match the figures of the two lines")
  }
  for (const scenario of results.scenarios) {
    if (!expected.some((c) => c.scenario === scenario.id)) {
      problems.push(`comparison: scenario ${scenario.id} has no size the Effect 3 line also ran`)
    }
  }
  return problems
}
