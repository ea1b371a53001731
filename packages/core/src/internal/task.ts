/**
 * Task specs checked and completed: `resolveTask` turns a `Task` and its supervisor's defaults into
 * a `ResolvedTask` (durations in ms, the restart policy decoded), or an `InvalidTaskSpec` naming
 * the field; `resolveDefaults` does the same for a supervisor's `defaults`.
 *
 * Data flow: the supervisor's `admit` and the controller's `submit` resolve each task against
 * their supervisor's defaults, and the result becomes the entry's `spec`; `Task.validate` checks a
 * task alone. A `Supervisor.task`'s one options object also holds its nested supervisor's keys,
 * which its `NestedSpec` (`tree.ts`) checks.
 *
 * Invariants:
 * - Imperative and allocation-light on purpose: it runs on every `add`.
 * - Never throws and never clamps: a bad value, or an unknown key, is refused with its field.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as LogLevel from "effect/LogLevel"
import * as Schedule from "effect/Schedule"
import * as Backoff from "../Backoff.js"
import { printableNameProblem } from "./name.js"
import * as RestartPolicy from "../RestartPolicy.js"
import { InvalidTaskSpec } from "../SupervisorError.js"
import type { Task, TaskOptions } from "../Task.js"
import type { TaskContext } from "../TaskContext.js"
import { decodeDuration, describe } from "./duration.js"
import { plainSpec, spelledOut } from "./sharedSpec.js"

/** A restart policy with its interval decoded. */
export type ResolvedRestart =
  | { readonly _tag: "Never" }
  | { readonly _tag: "OnFailure" }
  | { readonly _tag: "Always"; readonly intervalMs: number | undefined }
  | { readonly _tag: "Repeat"; readonly schedule: Schedule.Schedule<unknown, unknown, unknown, unknown> }

/** Settings a supervisor gives the tasks that do not set their own. */
export interface ResolvedDefaults {
  readonly restart: ResolvedRestart
  readonly backoff: Backoff.Backoff
  readonly timeoutMs: number
  readonly maxRetries: number
  readonly resetAfterMs: number
  readonly graceMs: number | undefined
  /** The level of the line logged for each failed attempt; `undefined`: no failure lines (`"none"`). */
  readonly logFailures: LogLevel.Severity | undefined
}

/** A task ready to run: every setting decoded and checked. */
export interface ResolvedTask extends ResolvedDefaults {
  readonly name: string
  readonly effect: Effect.Effect<unknown, unknown, unknown>
  readonly isFatal: ((error: unknown) => boolean) | undefined
  readonly significant: boolean
  /**
   * A readiness task: `true` (ready while an attempt runs; also a `Supervisor.task` with a
   * readiness task below it), `"reported"` (ready once its attempt calls `markReady`), or `false`.
   */
  readonly ready: boolean | "reported"
  readonly escalate: boolean
  /** Set for `Supervisor.task`: its nested supervisor's checked settings. */
  readonly nested: unknown
}

/**
 * What an entry keeps of its spec besides its name and effect (`Entry.spec`): for a plain task,
 * the shared settings its spec was made over (`sharedSpec.settingsOf`), so an entry keeps no spec
 * object of its own.
 */
export type TaskSettings = Omit<ResolvedTask, "name" | "effect">

/** A field of a task spec and what is wrong with it. */
export interface Problem {
  readonly field: string
  readonly reason: string
}

/**
 * What `Supervisor.task` attaches to its task: a check of the nested supervisor's options and
 * children, run at admission with the parent's defaults.
 */
export interface NestedSpec {
  /** `options` are the task's current options (combinators such as `Task.withGrace` change them). */
  resolve(defaults: ResolvedDefaults, options: unknown): Result.Result<unknown, Problem>
  /** A child at any depth is a readiness task: the supervisor task is one too. */
  readonly readyInside: boolean
}

/** The key under which `Supervisor.task` stores its `NestedSpec` on the task. */
export const NestedSpecKey: unique symbol = Symbol.for("@fibervisor/core/NestedSpec")

export const builtinDefaults: ResolvedDefaults = {
  restart: { _tag: "OnFailure" },
  backoff: Backoff.defaultBackoff,
  timeoutMs: 0,
  maxRetries: Number.POSITIVE_INFINITY,
  resetAfterMs: 0,
  graceMs: undefined,
  logFailures: "Warn"
}

type Check<A> = Result.Result<A, Problem>

const duration = (field: string, input: unknown): Check<number> =>
  Result.mapBoth(decodeDuration(input), {
    onFailure: (reason) => ({ field, reason }),
    onSuccess: Duration.toMillis
  })

/** `undefined` (explicitly none) decodes to zero. */
const optionalDuration = (field: string, input: unknown): Check<number> =>
  input === undefined ? Result.succeed(0) : duration(field, input)

const restart = (input: unknown): Check<ResolvedRestart> => {
  if (!RestartPolicy.isRestartPolicy(input)) {
    return Result.fail({ field: "restart", reason: `must be a RestartPolicy, got ${describe(input)}` })
  }
  if (input._tag === "Repeat") {
    if (RestartPolicy.RepeatRestartConflict in input) {
      return Result.fail({
        field: "restart",
        reason: "cannot be set on a Task.repeat task: its schedule is its restart policy"
      })
    }
    return Schedule.isSchedule(input.schedule)
      ? Result.succeed(input as unknown as ResolvedRestart)
      : Result.fail({
          field: "restart.schedule",
          reason: `must be a Schedule, got ${describe(input.schedule)}`
        })
  }
  if (input._tag !== "Always") return Result.succeed(input)
  const interval: unknown = input.interval
  if (typeof interval === "object" && interval !== null && RestartPolicy.BadAlwaysOptions in interval) {
    return Result.fail({
      field: "restart",
      reason: `RestartPolicy.always takes an options object { interval? }, got ${describe((interval as Record<symbol, unknown>)[RestartPolicy.BadAlwaysOptions])}`
    })
  }
  if (input.interval === undefined) return Result.succeed({ _tag: "Always", intervalMs: undefined })
  // A zero interval means none (taskvisor's semantics): only the 1 ms hot-loop guard applies.
  return Result.map(duration("restart.interval", input.interval), (intervalMs) => ({
    _tag: "Always",
    intervalMs: intervalMs === 0 ? undefined : intervalMs
  }))
}

const maxRetries = (input: unknown): Check<number> => {
  if (input === undefined) return Result.succeed(Number.POSITIVE_INFINITY)
  if (typeof input !== "number" || !Number.isInteger(input) || input < 0) {
    return Result.fail({
      field: "maxRetries",
      reason: `must be a non-negative integer (or undefined for unlimited), got ${describe(input)}`
    })
  }
  return Result.succeed(input)
}

const logLevels: ReadonlyArray<readonly [string, LogLevel.Severity | undefined]> = [
  ["warning", "Warn"],
  ["info", "Info"],
  ["debug", "Debug"],
  ["none", undefined]
]

/** `undefined` (explicitly the default) is a warning. */
const logFailures = (input: unknown): Check<LogLevel.Severity | undefined> => {
  if (input === undefined) return Result.succeed("Warn")
  const found = logLevels.find(([name]) => name === input)
  return found !== undefined
    ? Result.succeed(found[1])
    : Result.fail({
        field: "logFailures",
        reason: `must be one of ${logLevels.map(([name]) => `"${name}"`).join(", ")}, got ${describe(input)}`
      })
}

const backoff = (input: unknown): Check<Backoff.Backoff> => Backoff.validate(input)

/**
 * Decodes the settings present in `options` over `base`. Imperative on purpose: it runs for every
 * `add`, and most tasks set one or two settings.
 */
const resolveSettings = (
  options: Partial<TaskOptions<unknown>>,
  base: ResolvedDefaults,
  otherKeys: ReadonlySet<string>
): ResolvedDefaults | Problem => {
  let restartPolicy = base.restart
  let backoffSchedule = base.backoff
  let timeoutMs = base.timeoutMs
  let retries = base.maxRetries
  let resetAfterMs = base.resetAfterMs
  let graceMs = base.graceMs
  let failureLevel = base.logFailures
  let changed = false
  for (const key in options) {
    if (!otherKeys.has(key)) changed = true
    let checked: Check<unknown>
    switch (key) {
      case "restart":
        checked = restart(options.restart)
        if (Result.isSuccess(checked)) restartPolicy = checked.success as ResolvedRestart
        break
      case "backoff":
        checked = backoff(options.backoff)
        if (Result.isSuccess(checked)) backoffSchedule = checked.success as Backoff.Backoff
        break
      case "timeout":
        checked = optionalDuration("timeout", options.timeout)
        if (Result.isSuccess(checked)) timeoutMs = checked.success as number
        break
      case "maxRetries":
        checked = maxRetries(options.maxRetries)
        if (Result.isSuccess(checked)) retries = checked.success as number
        break
      case "resetAfter":
        checked = optionalDuration("resetAfter", options.resetAfter)
        if (Result.isSuccess(checked)) resetAfterMs = checked.success as number
        break
      case "grace":
        checked = options.grace === undefined ? Result.succeed(undefined) : duration("grace", options.grace)
        if (Result.isSuccess(checked)) graceMs = checked.success as number | undefined
        break
      case "logFailures":
        checked = logFailures(options.logFailures)
        if (Result.isSuccess(checked)) failureLevel = checked.success as LogLevel.Severity | undefined
        break
      default:
        if (otherKeys.has(key)) continue
        return { field: key, reason: "is not a known option (misspelt?)" }
    }
    if (Result.isFailure(checked)) return checked.failure
  }
  // No setting of its own: the defaults object itself, so tasks that share it share their spec's settings.
  if (!changed) return base
  return {
    restart: restartPolicy,
    backoff: backoffSchedule,
    timeoutMs,
    maxRetries: retries,
    resetAfterMs,
    graceMs,
    logFailures: failureLevel
  }
}

const isProblem = (checked: ResolvedDefaults | Problem): checked is Problem => "reason" in checked

/**
 * The last settings decoded from a frozen options object, with what they were decoded under. The
 * task constructors (`Task.once`, `Task.restartable`, …) share one frozen options object each, so
 * a task made per request (the common case) is decoded once per supervisor defaults, not per
 * `add`. Only a frozen object is memoized: its keys cannot change under the memo. One entry, a
 * strong reference to one options object (the constructors' own, or the last frozen one seen).
 */
let memo:
  | {
      readonly options: object
      readonly base: ResolvedDefaults
      readonly otherKeys: ReadonlySet<string>
      readonly settings: ResolvedDefaults
    }
  | undefined = undefined

/** `resolveSettings`, memoized for frozen options objects (see `memo`). */
const settingsOf = (
  options: Partial<TaskOptions<unknown>>,
  base: ResolvedDefaults,
  otherKeys: ReadonlySet<string>
): ResolvedDefaults | Problem => {
  const last = memo
  if (last !== undefined && last.options === options && last.base === base && last.otherKeys === otherKeys) {
    return last.settings
  }
  const settings = resolveSettings(options, base, otherKeys)
  if (!isProblem(settings) && Object.isFrozen(options)) memo = { options, base, otherKeys, settings }
  return settings
}

/** Checks a supervisor's `defaults`; field names are prefixed with `defaults.`. */
export const resolveDefaults = (input: unknown): Result.Result<ResolvedDefaults, Problem> => {
  if (input === undefined) return Result.succeed(builtinDefaults)
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Result.fail({ field: "defaults", reason: `must be an object, got ${describe(input)}` })
  }
  const resolved = resolveSettings(input, builtinDefaults, noOtherKeys)
  return isProblem(resolved)
    ? Result.fail({ field: `defaults.${resolved.field}`, reason: resolved.reason })
    : Result.succeed(resolved)
}

const invalidSpec = (name: unknown, field: string, reason: string): InvalidTaskSpec =>
  new InvalidTaskSpec({ task: typeof name === "string" ? name : "", field, reason })

/** Checks a task and fills what it leaves out from `defaults`. */
export const resolveTask = (
  task: Task<unknown, unknown> | Task<any, any>,
  defaults: ResolvedDefaults | undefined
): Result.Result<ResolvedTask, InvalidTaskSpec> => {
  if (typeof task !== "object" || task === null) {
    return Result.fail(
      new InvalidTaskSpec({ task: "", field: "task", reason: `must be a Task, got ${describe(task)}` })
    )
  }
  const name: unknown = task.name
  // "/" separates the segments of a task's path (root/db/pool): a name containing it would be ambiguous.
  if (typeof name !== "string" || name.trim() === "" || name.includes("/")) {
    return Result.fail(invalidSpec(name, "name", `must be a non-empty string without "/", got ${describe(name)}`))
  }
  // A name reaches log lines and metric labels as is. The name itself is bad: the error's `task`
  // is "" (and never carries a control character).
  const unprintable = printableNameProblem(name)
  if (unprintable !== undefined) return Result.fail(invalidSpec("", "name", unprintable))
  const effect: unknown = task.effect
  if (!Effect.isEffect(effect)) {
    return Result.fail(invalidSpec(name, "effect", `must be an Effect, got ${describe(effect)}`))
  }
  const options: TaskOptions<unknown> = task.options ?? noOptions
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return Result.fail(invalidSpec(name, "options", `must be an object, got ${describe(options)}`))
  }
  if ("isFatal" in options && options.isFatal !== undefined && typeof options.isFatal !== "function") {
    return Result.fail(invalidSpec(name, "isFatal", `must be a function, got ${describe(options.isFatal)}`))
  }
  const significant = flag(options.significant)
  if (significant === undefined) {
    return Result.fail(invalidSpec(name, "significant", `must be a boolean, got ${describe(options.significant)}`))
  }
  const readyOption: unknown = options.ready
  if (readyOption !== undefined && typeof readyOption !== "boolean" && readyOption !== "reported") {
    return Result.fail(invalidSpec(name, "ready", `must be a boolean or "reported", got ${describe(readyOption)}`))
  }
  const escalate = flag(options.escalate)
  if (escalate === undefined) {
    return Result.fail(invalidSpec(name, "escalate", `must be a boolean, got ${describe(options.escalate)}`))
  }
  const nestedSpec = (task as { readonly [NestedSpecKey]?: NestedSpec })[NestedSpecKey]
  if (nestedSpec !== undefined && readyOption === "reported") {
    return Result.fail(
      invalidSpec(
        name,
        "ready",
        `cannot be "reported" on a Supervisor.task: nothing runs in its attempt to report it (mark its children)`
      )
    )
  }
  const ready: boolean | "reported" = readyOption === undefined ? nestedSpec?.readyInside === true : readyOption
  const resolved = settingsOf(
    options,
    defaults ?? builtinDefaults,
    nestedSpec === undefined ? taskKeys : nestedTaskKeys
  )
  if (isProblem(resolved)) return Result.fail(invalidSpec(name, resolved.field, resolved.reason))
  const settings = resolved
  if (significant && settings.restart._tag === "Always") {
    return Result.fail(
      invalidSpec(
        name,
        "significant",
        "cannot be set on a RestartPolicy.always task: it never ends by itself (OTP allows it only for transient and temporary children)"
      )
    )
  }
  let nested: unknown = undefined
  if (nestedSpec !== undefined) {
    const checked = nestedSpec.resolve(defaults ?? builtinDefaults, options)
    if (Result.isFailure(checked)) return Result.fail(invalidSpec(name, checked.failure.field, checked.failure.reason))
    nested = checked.success
  }
  const isFatal = options.isFatal
  if (isFatal === undefined && !significant && ready === false && !escalate && nested === undefined) {
    return Result.succeed(plainSpec(settings, name, task.effect as Effect.Effect<unknown, unknown, TaskContext>))
  }
  return Result.succeed(
    spelledOut(
      settings,
      name,
      task.effect as Effect.Effect<unknown, unknown, TaskContext>,
      isFatal,
      significant,
      ready,
      escalate,
      nested
    )
  )
}

/** The options of a task that has none (one object, so that checks kept per options object hold). */
export const noOptions: TaskOptions<unknown> = Object.freeze({})

/** Task options besides the settings a supervisor's `defaults` can also hold. */
const taskKeys: ReadonlySet<string> = new Set(["isFatal", "significant", "escalate", "ready"])
const noOtherKeys: ReadonlySet<string> = new Set()
/** A `Supervisor.task`'s one options object also holds its nested supervisor's options. */
const nestedTaskKeys: ReadonlySet<string> = new Set([
  ...taskKeys,
  "strategy",
  "intensity",
  "autoShutdown",
  "maxConcurrent",
  "defaults",
  "eventBuffer",
  "name",
  "maxSlotQueue"
])

/** `undefined` means false; anything but a boolean is refused (`undefined` returned). */
const flag = (input: unknown): boolean | undefined =>
  input === undefined ? false : typeof input === "boolean" ? input : undefined
