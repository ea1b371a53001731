/**
 * The runner: for each scenario and size, opens every variant, warms them up, then takes the
 * measured rounds alternating between the variants (the order flips every round, so each variant
 * pays for the other's leftover garbage about as often as the other way round).
 *
 * No GC is forced before a timed sample: measured here, a `gc()` right before a 1k-task sample made
 * it 3–4× slower (the heap and JIT state it leaves behind are not the steady state), so a forced GC
 * would inflate the small sizes and hide real ratios. The heap scenario forces its own GCs.
 */
import type { Flatness, Metric, Ratio, Role, ScenarioResult, SizeResult, VariantResult } from "./results.js"
import { summarize } from "./stats.js"

/** One sample: `value` in ms (time) or bytes (heap), for `ops` operations. */
export interface Measurement {
  readonly value: number
  readonly ops: number
}

/** A variant prepared at one size; `sample` may be called many times. */
export interface Session {
  readonly sample: () => Promise<Measurement>
  readonly close?: () => Promise<void>
}

export interface Variant {
  readonly name: string
  readonly role: Role
  readonly open: (n: number) => Promise<Session>
}

export interface Plan {
  readonly n: number
  readonly warmup: number
  readonly rounds: number
}

export interface Scenario {
  readonly id: string
  readonly title: string
  readonly description: string
  readonly metric: Metric
  readonly nMeans: string
  readonly op: string
  readonly plans: ReadonlyArray<Plan>
  readonly variants: ReadonlyArray<Variant>
}

export type Progress = (line: string) => void

const perOpOf = (metric: Metric, m: Measurement): number =>
  metric === "time" ? (m.value * 1000) / m.ops : m.value / m.ops

const variantResult = (metric: Metric, variant: Variant, measurements: ReadonlyArray<Measurement>): VariantResult => {
  const raw = summarize(measurements.map((m) => m.value))
  const perOp = summarize(measurements.map((m) => perOpOf(metric, m)))
  const samples = measurements.map((m) => m.value)
  const ops = measurements.map((m) => m.ops)
  const base = {
    name: variant.name,
    role: variant.role,
    unit: metric === "time" ? ("ms" as const) : ("bytes" as const),
    samples: [samples[0]!, ...samples.slice(1)] as const,
    ops: [ops[0]!, ...ops.slice(1)] as const,
    ...raw,
    perOp: { unit: metric === "time" ? ("us" as const) : ("bytes" as const), ...perOp }
  }
  return metric === "time" && perOp.median > 0 ? { ...base, opsPerSecond: 1e6 / perOp.median } : base
}

const ratiosOf = (variants: ReadonlyArray<VariantResult>): Array<Ratio> =>
  variants
    .filter((v) => v.role === "fibervisor")
    .flatMap((v) =>
      variants
        .filter((b) => b.role === "baseline" && b.perOp.median > 0 && v.perOp.median > 0)
        .map((b) => ({ variant: v.name, baseline: b.name, ratio: v.perOp.median / b.perOp.median }))
    )

const runSize = async (scenario: Scenario, plan: Plan, progress: Progress): Promise<SizeResult> => {
  const sessions: Array<Session> = []
  try {
    for (const variant of scenario.variants) sessions.push(await variant.open(plan.n))
    const take = async (index: number): Promise<Measurement> => {
      const m = await sessions[index]!.sample()
      if (!Number.isFinite(m.value) || !(m.ops > 0)) {
        throw new Error(`${scenario.id} n=${plan.n} ${scenario.variants[index]!.name}: bad sample ${JSON.stringify(m)}`)
      }
      return m
    }
    const indices = scenario.variants.map((_, i) => i)
    for (let w = 0; w < plan.warmup; w++) {
      for (const i of w % 2 === 0 ? indices : [...indices].reverse()) await take(i)
    }
    const measured: Array<Array<Measurement>> = indices.map(() => [])
    for (let r = 0; r < plan.rounds; r++) {
      for (const i of r % 2 === 0 ? indices : [...indices].reverse()) measured[i]!.push(await take(i))
      progress(`  ${scenario.id} n=${plan.n}: round ${r + 1}/${plan.rounds}`)
    }
    const variants = scenario.variants.map((v, i) => variantResult(scenario.metric, v, measured[i]!))
    return {
      n: plan.n,
      warmup: plan.warmup,
      rounds: plan.rounds,
      variants: [variants[0]!, ...variants.slice(1)],
      ratios: ratiosOf(variants)
    }
  } finally {
    for (const session of sessions) await session.close?.()
  }
}

const flatnessOf = (sizes: ReadonlyArray<SizeResult>): Array<Flatness> => {
  if (sizes.length < 2) return []
  const first = sizes[0]!
  const last = sizes[sizes.length - 1]!
  return first.variants.flatMap((v) => {
    const at = last.variants.find((w) => w.name === v.name)
    return at === undefined || v.perOp.median <= 0 || at.perOp.median <= 0
      ? []
      : [{ variant: v.name, fromN: first.n, toN: last.n, ratio: at.perOp.median / v.perOp.median }]
  })
}

export const runScenario = async (scenario: Scenario, progress: Progress): Promise<ScenarioResult> => {
  const sizes: Array<SizeResult> = []
  for (const plan of scenario.plans) {
    const started = performance.now()
    sizes.push(await runSize(scenario, plan, progress))
    progress(`${scenario.id} n=${plan.n} done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
  return {
    id: scenario.id,
    title: scenario.title,
    description: scenario.description,
    metric: scenario.metric,
    nMeans: scenario.nMeans,
    op: scenario.op,
    sizes: [sizes[0]!, ...sizes.slice(1)],
    flatness: flatnessOf(sizes)
  }
}
