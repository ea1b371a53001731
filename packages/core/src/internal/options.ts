/**
 * Supervisor options decoded into a `Config` (`resolveConfig`), once per supervisor, with a
 * `Schema` per placement: `RootOptions` for a root (`Supervisor.make`), `NestedOptions` for a
 * nested supervisor (a `Supervisor.task`'s options, with its parent's defaults). Each option's
 * schema (`option`) carries its own rule and the exact words of its refusal, so every message is
 * the one core uses for that kind of value (`describe`, `decodeDuration`); the per-`add` task
 * check stays hand-written (`task.ts`, cached per task by `supervisor/admission.ts`).
 *
 * Data flow: `make` / `makeNested` / a `Supervisor.task`'s check → `resolveConfig` → the options
 * object checked → the placement's schema (first refusal: an unknown key, then the options in
 * the order the schema declares them) → `problemOf` (the refusal's field and reason) or the
 * decoded options with the defaults filled in.
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
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import { AutoShutdownMode, Strategy as StrategySchema } from "../SupervisorEvent.js"
import { decodeDuration, describe } from "./duration.js"
import { printableNameProblem } from "./name.js"
import { type Problem, type ResolvedDefaults, resolveDefaults } from "./task.js"

/** The built-in task defaults (a supervisor without `defaults`, and no parent's to inherit). */
const builtinDefaults: ResolvedDefaults = Result.getOrThrow(resolveDefaults(undefined))

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

/**
 * The largest event buffer: each subscriber may hold that many events before the oldest slide out
 * (the bus grows its buffers as events come, it allocates none up front), so the bound caps the
 * memory a slow subscriber can pin.
 */
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

/** Where an option's schema keeps its refusal in the issue: the field and the reason, as written. */
const problemKey = "@fibervisor/core/problem"

/**
 * One option as a schema: `check` is its rule and writes the exact message of a refusal (the same
 * words every option of core uses); `undefined` (left out, or set to `undefined`) is decoded as
 * `undefined`, for the caller to default.
 */
const option = <A>(check: (input: unknown) => Result.Result<A, Problem>) =>
  Schema.optionalKey(
    Schema.Unknown.pipe(
      Schema.decodeTo(
        Schema.declare((_: unknown): _ is A | undefined => true),
        {
          decode: SchemaGetter.transformEffect((input: unknown) =>
            input === undefined
              ? Effect.succeed(undefined)
              : Result.match(check(input), {
                  onFailure: (problem) => Effect.fail(new SchemaIssue.InvalidValue({ [problemKey]: problem }, input)),
                  onSuccess: Effect.succeed
                })
          ),
          encode: SchemaGetter.passthrough({ strict: false })
        }
      )
    )
  )

/** A root-only option on a nested supervisor: refused whatever its value. */
const refused = (field: string, reason: string) => option(() => Result.fail({ field, reason }))

const name = option((input): Result.Result<string, Problem> => {
  if (typeof input !== "string" || input.trim() === "" || input.includes("/")) {
    return Result.fail({ field: "name", reason: `must be a non-empty string without "/", got ${describe(input)}` })
  }
  const unprintable = printableNameProblem(input)
  return unprintable === undefined ? Result.succeed(input) : Result.fail({ field: "name", reason: unprintable })
})

const grace = option((input) => durationMs("grace", input, true))
const maxConcurrent = option((input) => integer("maxConcurrent", input, 1))
const eventBuffer = option((input) =>
  Result.flatMap(integer("eventBuffer", input, 1), (n) =>
    n > maxEventBuffer
      ? Result.fail({
          field: "eventBuffer",
          reason: `must be at most ${maxEventBuffer} (each subscriber may hold that many events), got ${n}`
        })
      : Result.succeed(n)
  )
)
const defaults = option(resolveDefaults)
const strategy = option((input) => oneOf("strategy", input, strategies))
const intensityOption = option(intensity)
const autoShutdown = option((input) => oneOf("autoShutdown", input, autoShutdowns))
const maxSlotQueue = option((input) => integer("maxSlotQueue", input, 0))

/**
 * A root supervisor's options, in the order they are checked (the first refusal is reported): an
 * unknown key first (Schema's excess-property check), then each option.
 */
const RootOptions = Schema.Struct({
  name,
  grace,
  maxConcurrent,
  eventBuffer,
  defaults,
  strategy,
  intensity: intensityOption,
  autoShutdown,
  maxSlotQueue
})

/**
 * A nested supervisor's options (a `Supervisor.task`'s), sharing one object with its task's
 * options: other keys are the task's (`resolveTask` checks them); the root-only ones are refused
 * first, then each option.
 */
const NestedOptions = Schema.Struct({
  ...Object.fromEntries(nestedOnly.map(([field, reason]) => [field, refused(field, reason)])),
  grace,
  maxConcurrent,
  defaults,
  strategy,
  intensity: intensityOption,
  autoShutdown
})

const decodeRoot = Schema.decodeUnknownResult(RootOptions, { onExcessProperty: "error", errors: "first" })
const decodeNested = Schema.decodeUnknownResult(NestedOptions, { onExcessProperty: "ignore", errors: "first" })

/** The first refusal in a decoding issue: an option's own problem, or an unknown key. */
const problemOf = (issue: SchemaIssue.Issue, key: PropertyKey | undefined): Problem => {
  switch (issue._tag) {
    case "Pointer":
      return problemOf(issue.issue, issue.path[0] ?? key)
    case "Composite":
    case "AnyOf":
      return issue.issues.length > 0 ? problemOf(issue.issues[0]!, key) : unknownProblem(key)
    case "Encoding":
      return problemOf(issue.issue, key)
    case "UnexpectedKey":
      return { field: String(key), reason: "is not a known option (misspelt?)" }
    case "InvalidValue": {
      const problem = issue.annotations?.[problemKey] as Problem | undefined
      if (problem !== undefined) return problem
    }
  }
  return unknownProblem(key)
}

const unknownProblem = (key: PropertyKey | undefined): Problem => ({
  field: key === undefined ? "options" : String(key),
  reason: "is invalid"
})

/**
 * Decodes and checks supervisor options, once per supervisor, with the schema of its placement;
 * `field` names the bad option.
 */
export const resolveConfig = (options: unknown, placement: Placement, path: string): Result.Result<Config, Problem> => {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    return Result.fail({ field: "options", reason: `must be an object, got ${describe(options)}` })
  }
  const input = options ?? {}
  const decoded = placement.nested ? decodeNested(input) : decodeRoot(input)
  if (Result.isFailure(decoded)) return Result.fail(problemOf(decoded.failure.issue, undefined))
  const o: typeof RootOptions.Type = decoded.success
  const inherited = o.defaults === undefined ? placement.defaults : undefined
  return Result.succeed({
    path: placement.nested ? path : (o.name ?? path),
    graceMs: o.grace ?? 10_000,
    maxConcurrent: o.maxConcurrent,
    eventBuffer: o.eventBuffer ?? 1024,
    defaults: inherited ?? o.defaults ?? builtinDefaults,
    strategy: o.strategy ?? "one-for-one",
    // Left out: OTP's default for a nested supervisor, none at a root; set to `undefined`: none.
    intensity: "intensity" in o ? o.intensity : placement.nested ? nestedIntensity : undefined,
    autoShutdown: o.autoShutdown ?? "never",
    maxSlotQueue: o.maxSlotQueue ?? 100
  })
}
