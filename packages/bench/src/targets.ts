/**
 * The performance targets (listed in docs/benchmarks.md), checked at the largest size each scenario ran:
 * the ratios to the Effect 4 baselines, and fibervisor's per-op cost against the Effect 3 line's measured
 * in the same run (at most 1×). They are reported, never asserted: the bench is an instrument, CI never
 * fails on a timing.
 */
import type { Comparison, ScenarioResult, Target } from "./results.js"

interface TargetSpec {
  readonly scenario: string
  readonly versus: string
  readonly must: number | null
  readonly aim: number | null
}

/** The Effect 4 targets (issue 15), against Effect 4's own machinery. */
const specs: ReadonlyArray<TargetSpec> = [
  { scenario: "one-shot", versus: "FiberSet.run", must: 3, aim: 2 },
  { scenario: "restart", versus: "Effect.retry", must: 1.5, aim: 1 },
  { scenario: "idle-memory", versus: "raw fiber", must: 2.5, aim: 2 },
  { scenario: "offload", versus: "FiberSet.run", must: 1.5, aim: null },
  { scenario: "offload", versus: "p-queue", must: 1, aim: 0.5 },
  { scenario: "shutdown", versus: "FiberSet", must: 2, aim: 1.5 }
]

/** What the Effect 4 edition is held to against the Effect 3 line: never slower or heavier per operation. */
export const versusEffect3 = "Effect 3 line"
const effect3Must = 1
/** And what it aims at: under a third of the Effect 3 line's cost. */
const effect3Aim = 0.3

export const targetsOf = (
  scenarios: ReadonlyArray<ScenarioResult>,
  comparison: ReadonlyArray<Comparison> = []
): Array<Target> => {
  const targets: Array<Target> = []
  for (const spec of specs) {
    const scenario = scenarios.find((s) => s.id === spec.scenario)
    const size = scenario?.sizes[scenario.sizes.length - 1]
    const ratio = size?.ratios.find((r) => r.variant === "fibervisor" && r.baseline === spec.versus)
    if (size === undefined || ratio === undefined) continue
    targets.push({
      scenario: spec.scenario,
      n: size.n,
      variant: ratio.variant,
      versus: spec.versus,
      ratio: ratio.ratio,
      must: spec.must,
      aim: spec.aim,
      meetsMust: spec.must === null ? null : ratio.ratio <= spec.must,
      meetsAim: spec.aim === null ? null : ratio.ratio <= spec.aim
    })
  }
  // Against the Effect 3 line, at the largest size both ran: fibervisor's own absolute cost, not a ratio
  // to a baseline (Effect 4's fibers are several times cheaper, so the ratios alone would hide a regression).
  for (const scenario of scenarios) {
    const at = comparison.filter((c) => c.scenario === scenario.id && c.ratio !== null)
    const last = at[at.length - 1]
    if (last === undefined || last.ratio === null) continue
    targets.push({
      scenario: scenario.id,
      n: last.n,
      variant: "fibervisor",
      versus: versusEffect3,
      ratio: last.ratio,
      must: effect3Must,
      aim: effect3Aim,
      meetsMust: last.ratio <= effect3Must,
      meetsAim: last.ratio <= effect3Aim
    })
  }
  // "Per-operation cost from 1k to 100k tasks: flat" has no number; the ratios are reported as they
  // are, beside the baselines' growth over the same sizes (a larger heap makes every GC slower, for all).
  for (const scenario of scenarios) {
    for (const flat of scenario.flatness) {
      if (flat.variant !== "fibervisor") continue
      const baselines = scenario.flatness.filter((f) => f.variant !== "fibervisor")
      const note =
        baselines.length === 0
          ? undefined
          : `baseline growth: ${baselines.map((b) => `${b.variant} ${b.ratio.toPrecision(3)}×`).join(", ")}`
      targets.push({
        scenario: scenario.id,
        n: flat.toN,
        variant: flat.variant,
        versus: `itself at n=${flat.fromN}`,
        ratio: flat.ratio,
        must: null,
        aim: null,
        meetsMust: null,
        meetsAim: null,
        ...(note === undefined ? {} : { note })
      })
    }
  }
  return targets
}
