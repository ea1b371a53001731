/** The soak's command line: its sizes (full, `--quick`, the flags) and the limits it checks against. */
import { failWith, helpIf, integerFlag, outPath } from "../cli.js"
import { packageDir } from "../paths.js"

export const usage =
  "usage: pnpm soak [--quick] [--restarts N] [--offloads N] [--distinct N] [--parallel K] [--subscribe] [--out file] [--no-save]"

/** Where a full run at the default sizes writes its figures (kept for docs/reliability.md). */
export const savedSoak = `${packageDir}results/soak.json`

/** Heap after the final GC may exceed the heap after the warm-up by at most this much. */
export const HEAP_GROWTH_LIMIT_PERCENT = 5
/** "Steady": the last segment took at most this many times the first one (reported, never asserted). */
export const STEADY_LIMIT = 1.5
/** Passes of `gc()` per reading: a second pass collects what the first one's finalizers released. */
export const GC_PASSES = 3

export interface Sizes {
  readonly restarts: number
  readonly parallel: number
  readonly offloads: number
  readonly offloadBatch: number
  readonly distinct: number
  readonly distinctBatch: number
  /** Operations per timed segment (and per heap reading). */
  readonly segment: number
}

export interface Profile {
  readonly run: Sizes
  readonly warmup: Sizes
}

export const fullProfile: Profile = {
  run: {
    restarts: 1_000_000,
    parallel: 1,
    offloads: 1_000_000,
    offloadBatch: 10_000,
    distinct: 100_000,
    distinctBatch: 1_000,
    segment: 100_000
  },
  warmup: {
    restarts: 100_000,
    parallel: 1,
    offloads: 100_000,
    offloadBatch: 10_000,
    distinct: 2_000,
    distinctBatch: 1_000,
    segment: 100_000
  }
}

export const quickProfile: Profile = {
  run: {
    restarts: 20_000,
    parallel: 1,
    offloads: 20_000,
    offloadBatch: 1_000,
    distinct: 5_000,
    distinctBatch: 1_000,
    segment: 5_000
  },
  warmup: {
    restarts: 10_000,
    parallel: 1,
    offloads: 10_000,
    offloadBatch: 1_000,
    // More than the label cap: the cap is reached before the baseline.
    distinct: 2_000,
    distinctBatch: 1_000,
    segment: 5_000
  }
}

export interface Args {
  readonly quick: boolean
  readonly restarts: number | undefined
  readonly offloads: number | undefined
  readonly distinct: number | undefined
  readonly parallel: number | undefined
  readonly subscribe: boolean
  readonly out: string | undefined
  readonly save: boolean
}

const fail = failWith(usage)

const count = (flag: string, value: string | undefined, min: number): number => integerFlag(fail, flag, value, min)

export const parseArgs = (argv: ReadonlyArray<string>): Args => {
  const args: { -readonly [K in keyof Args]: Args[K] } = {
    quick: false,
    restarts: undefined,
    offloads: undefined,
    distinct: undefined,
    parallel: undefined,
    subscribe: false,
    out: undefined,
    save: true
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") continue
    else if (arg === "--quick") args.quick = true
    else if (arg === "--subscribe") args.subscribe = true
    else if (arg === "--no-save") args.save = false
    else if (arg === "--restarts") args.restarts = count(arg, argv[++i], 1)
    else if (arg === "--offloads") args.offloads = count(arg, argv[++i], 1)
    else if (arg === "--distinct") args.distinct = count(arg, argv[++i], 0)
    else if (arg === "--parallel") args.parallel = count(arg, argv[++i], 1)
    else if (arg === "--out" && argv[i + 1] !== undefined) args.out = outPath(argv[++i]!)
    else if (arg === "--help" || arg === "-h") helpIf(arg, usage)
    else fail(`unknown argument ${arg}`)
  }
  return args
}

export const sizesOf = (args: Args): Sizes => {
  const base = (args.quick ? quickProfile : fullProfile).run
  const sizes: Sizes = {
    ...base,
    restarts: args.restarts ?? base.restarts,
    offloads: args.offloads ?? base.offloads,
    distinct: args.distinct ?? base.distinct,
    parallel: args.parallel ?? base.parallel
  }
  if (sizes.restarts % sizes.segment !== 0 || sizes.offloads % sizes.segment !== 0) {
    fail(`--restarts and --offloads must be multiples of ${sizes.segment}`)
  }
  if (sizes.restarts % sizes.parallel !== 0) fail("--restarts must be a multiple of --parallel")
  if (sizes.distinct % sizes.distinctBatch !== 0) fail(`--distinct must be a multiple of ${sizes.distinctBatch}`)
  return sizes
}
