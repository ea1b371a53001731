/**
 * Supervisor options decoded into a `Config` (`resolveConfig`): for a root (`Supervisor.make`) and
 * for a nested supervisor (a `Supervisor.task`'s options, with its parent's defaults).
 *
 * Invariants:
 * - Nothing is ignored silently: an unknown key is refused at a root, a root-only option on a
 *   nested supervisor, each with its reason.
 * - The defaults are decided here: grace 10 s, `eventBuffer` 1024, `maxSlotQueue` 100,
 *   `one-for-one`, intensity 3 in 5 s for a nested supervisor and none for a root (OTP's).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Result from "effect/Result"
import { AutoShutdownMode, Strategy as StrategySchema } from "../SupervisorEvent.js"
import { decodeDuration, describe } from "./duration.js"
import { printableNameProblem } from "./name.js"
import { type Problem, type ResolvedDefaults, resolveDefaults } from "./task.js"

/** The restart strategies (OTP's), as `SupervisorEvent.Strategy` declares them. */
export type Strategy = typeof StrategySchema.Type

/** When a supervisor completes by itself, as `SupervisorEvent.AutoShutdownMode` declares it. */
export type AutoShutdown = typeof AutoShutdownMode.Type

/** Supervisor options after decoding. */
export interface Config {
  /** The supervisor's path in the tree (a root's name, or a nested supervisor's task path). */
  readonly path: string
  readonly graceMs: number
  readonly maxConcurrent: number | undefined
  readonly eventBuffer: number
  readonly defaults: ResolvedDefaults
  readonly strategy: Strategy
  readonly intensity: { readonly maxRestarts: number; readonly withinMs: number } | undefined
  readonly autoShutdown: AutoShutdown
  readonly maxSlotQueue: number
}

/** Where a supervisor sits: a root, or nested under a task of another supervisor. */
export interface Placement {
  readonly nested: boolean
  /** The parent's defaults, inherited by a nested supervisor that sets none. */
  readonly defaults: ResolvedDefaults | undefined
}

/** Root-only options, refused on a nested supervisor (nothing is ignored silently). */
const nestedOnly: ReadonlyArray<readonly [string, string]> = [
  ["eventBuffer", "cannot be set on a nested supervisor: the whole tree publishes on its root's bus"],
  ["name", "cannot be set on a nested supervisor: it is named by its task"],
  ["maxSlotQueue", "cannot be set on a nested supervisor: controller submissions go to a root supervisor"]
]

const rootKeys: ReadonlySet<string> = new Set([
  "grace",
  "maxConcurrent",
  "defaults",
  "eventBuffer",
  "name",
  "strategy",
  "intensity",
  "autoShutdown",
  "maxSlotQueue"
])

/** The largest event buffer: the bus allocates it up front. */
const maxEventBuffer = 1_000_000

const strategies: ReadonlyArray<Strategy> = StrategySchema.literals
const autoShutdowns: ReadonlyArray<AutoShutdown> = AutoShutdownMode.literals

/** OTP's default for nested supervisors: 3 restarts in 5 seconds. */
export const nestedIntensity = { maxRestarts: 3, withinMs: 5_000 } as const

const integer = (field: string, input: unknown, min: number): Result.Result<number, Problem> =>
  typeof input === "number" && Number.isInteger(input) && input >= min
    ? Result.succeed(input)
    : Result.fail({
        field,
        reason: `must be ${min === 0 ? "a non-negative" : "a positive"} integer, got ${describe(input)}`
      })

const oneOf = <A extends string>(field: string, input: unknown, values: ReadonlyArray<A>): Result.Result<A, Problem> =>
  values.includes(input as A)
    ? Result.succeed(input as A)
    : Result.fail({ field, reason: `must be one of ${values.map((v) => `"${v}"`).join(", ")}, got ${describe(input)}` })

const durationMs = (field: string, input: unknown, allowZero: boolean): Result.Result<number, Problem> =>
  Result.flatMap(
    Result.mapBoth(decodeDuration(input), {
      onFailure: (reason): Problem => ({ field, reason }),
      onSuccess: Duration.toMillis
    }),
    (ms) => (ms === 0 && !allowZero ? Result.fail({ field, reason: "must be greater than zero" }) : Result.succeed(ms))
  )

const intensity = (input: unknown): Result.Result<Config["intensity"], Problem> =>
  Result.gen(function* () {
    if (typeof input !== "object" || input === null) {
      return yield* Result.fail({
        field: "intensity",
        reason: `must be an object { maxRestarts, within } (or undefined for none), got ${describe(input)}`
      })
    }
    const o = input as { readonly maxRestarts?: unknown; readonly within?: unknown }
    const maxRestarts = yield* integer("intensity.maxRestarts", o.maxRestarts, 0)
    const withinMs = yield* durationMs("intensity.within", o.within, false)
    return { maxRestarts, withinMs }
  })

/** Decodes and checks supervisor options; `field` names the bad option. */
export const resolveConfig = (options: unknown, placement: Placement, path: string): Result.Result<Config, Problem> =>
  Result.gen(function* () {
    if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
      return yield* Result.fail({ field: "options", reason: `must be an object, got ${describe(options)}` })
    }
    const o = (options ?? {}) as Record<string, unknown>
    // A nested supervisor's options share one object with its task's: `resolveTask` checks the keys.
    if (!placement.nested) {
      for (const key in o) {
        if (!rootKeys.has(key)) return yield* Result.fail({ field: key, reason: "is not a known option (misspelt?)" })
      }
    }
    let name = path
    if (!placement.nested && o.name !== undefined) {
      if (typeof o.name !== "string" || o.name.trim() === "" || o.name.includes("/")) {
        return yield* Result.fail({
          field: "name",
          reason: `must be a non-empty string without "/", got ${describe(o.name)}`
        })
      }
      const unprintable = printableNameProblem(o.name)
      if (unprintable !== undefined) return yield* Result.fail({ field: "name", reason: unprintable })
      name = o.name
    }
    if (placement.nested) {
      const refused = nestedOnly.find(([field]) => o[field] !== undefined)
      if (refused !== undefined) return yield* Result.fail({ field: refused[0], reason: refused[1] })
    }
    const graceMs = o.grace === undefined ? 10_000 : yield* durationMs("grace", o.grace, true)
    const maxConcurrent =
      o.maxConcurrent === undefined ? undefined : yield* integer("maxConcurrent", o.maxConcurrent, 1)
    const eventBuffer = o.eventBuffer === undefined ? 1024 : yield* integer("eventBuffer", o.eventBuffer, 1)
    if (eventBuffer > maxEventBuffer) {
      return yield* Result.fail({
        field: "eventBuffer",
        reason: `must be at most ${maxEventBuffer} (the bus allocates it up front), got ${eventBuffer}`
      })
    }
    const defaults =
      o.defaults === undefined && placement.defaults !== undefined
        ? placement.defaults
        : yield* resolveDefaults(o.defaults)
    const strategy = o.strategy === undefined ? "one-for-one" : yield* oneOf("strategy", o.strategy, strategies)
    const limits = !("intensity" in o)
      ? placement.nested
        ? nestedIntensity
        : undefined
      : o.intensity === undefined
        ? undefined
        : yield* intensity(o.intensity)
    const autoShutdown =
      o.autoShutdown === undefined ? "never" : yield* oneOf("autoShutdown", o.autoShutdown, autoShutdowns)
    const maxSlotQueue = o.maxSlotQueue === undefined ? 100 : yield* integer("maxSlotQueue", o.maxSlotQueue, 0)
    return {
      path: name,
      graceMs,
      maxConcurrent,
      eventBuffer,
      defaults,
      strategy,
      intensity: limits,
      autoShutdown,
      maxSlotQueue
    }
  })
