/**
 * `Supervisor.task`: a task whose attempt runs a nested supervisor over its children, and the check
 * of its options and children.
 *
 * Data flow: `supervisorTask` attaches a `NestedTaskSpec` to an ordinary task; the parent's
 * `resolveTask` runs that check at admission. Each attempt makes a nested `SupervisorImpl` in the
 * attempt's scope, on the root's bus and readiness record, starts the children in order
 * (`startStatic`) and returns the nested `join`. The nested supervisor's failure is the attempt's
 * failure: escalation is the parent's ordinary failure handling. Stopping the task closes the
 * attempt's scope, which shuts the nested supervisor down.
 *
 * Invariants:
 * - An attempt ends only once every child's fiber has exited (`awaitUnregistered`), abandoned ones
 *   included: the parent keeps the name, and a restart never runs beside the old subtree.
 * - Checking a tree is linear in its size and iterative: a check is kept per task and defaults,
 *   and the first one runs deepest level first with an explicit stack.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { AddError, SupervisorTaskOptions } from "../Supervisor.js"
import { InvalidTaskSpec, type SupervisorFailure } from "../SupervisorError.js"
import { isTask, make as makeTask, type Services, type Task } from "../Task.js"
import { TaskContext } from "../TaskContext.js"
import { type EventBus, makeBus } from "./bus.js"
import { describe } from "./duration.js"
import { entryOf } from "./entry.js"
import { type Config, resolveConfig } from "./options.js"
import type { SupervisorImpl } from "./supervisor.js"
import { makeNested } from "./supervisor/make.js"
import { type NestedSpec, NestedSpecKey, noOptions, type Problem, type ResolvedDefaults, resolveTask } from "./task.js"

/** Checks a nested supervisor's options and its children (with the defaults they will run under). */
const checkNested = (
  children: unknown,
  options: unknown,
  parentDefaults: ResolvedDefaults | undefined
): Result.Result<Config, Problem> =>
  Result.flatMap(resolveConfig(options, { nested: true, defaults: parentDefaults }, ""), (config) =>
    checkChildren(children, config)
  )

/** Checks a nested supervisor's children, under its checked `config`. */
const checkChildren = (children: unknown, config: Config): Result.Result<Config, Problem> =>
  Result.gen(function* () {
    if (!Array.isArray(children)) {
      return yield* Result.fail({ field: "children", reason: `must be an array of tasks, got ${describe(children)}` })
    }
    const names = new Set<string>()
    for (let i = 0; i < children.length; i++) {
      const child: unknown = children[i]
      if (!isTask(child)) {
        return yield* Result.fail({ field: `children[${i}]`, reason: `must be a Task, got ${describe(child)}` })
      }
      const resolved = resolveTask(child, config.defaults)
      if (Result.isFailure(resolved)) {
        return yield* Result.fail({
          field: `children[${i}].${resolved.failure.field}`,
          reason: resolved.failure.reason
        })
      }
      const name = resolved.success.name
      if (names.has(name)) {
        return yield* Result.fail({ field: `children[${i}].name`, reason: `"${name}" is used by an earlier child` })
      }
      names.add(name)
      if (resolved.success.significant && config.autoShutdown === "never") {
        return yield* Result.fail({
          field: `children[${i}].significant`,
          reason: `cannot be set under a supervisor whose autoShutdown is "never"`
        })
      }
    }
    return config
  })

/** One attempt of a supervisor task: a fresh nested supervisor, its children started in order, then its `join`. */
const attempt = (
  children: ReadonlyArray<Task<any, any>>,
  options: SupervisorTaskOptions | undefined
): Effect.Effect<void, SupervisorFailure | AddError | InvalidTaskSpec, TaskContext> =>
  Effect.flatMap(TaskContext, (ctx) => {
    const entry = entryOf(ctx)
    const owner = entry?.owner
    const run = (config: Config, bus: EventBus) => {
      let nested: SupervisorImpl | undefined
      return Effect.scoped(
        Effect.flatMap(makeNested({ ...config, path: ctx.path }, bus, owner?.readiness), (supervisor) => {
          nested = supervisor
          supervisor.parentEntry = entry
          if (entry !== undefined) entry.nested = supervisor
          return Effect.andThen(supervisor.startStatic(children), supervisor.join)
        })
      ).pipe(
        // The attempt ends only once every child's fiber has exited, abandoned ones included: the
        // parent keeps this task's name (and a restart waits) until the old subtree is really gone.
        Effect.ensuring(
          Effect.suspend(() => (nested === undefined ? Effect.void : nested.awaitUnregistered)).pipe(
            Effect.andThen(
              Effect.sync(() => {
                if (entry !== undefined) entry.nested = undefined
              })
            )
          )
        )
      )
    }
    if (entry !== undefined && owner !== undefined && entry.spec.nested !== undefined) {
      return run(entry.spec.nested as Config, owner.bus)
    }
    // Run outside a supervisor (a hand-made TaskContext): check here, publish on a bus of its own.
    const checked = checkNested(children, options, owner?.config.defaults)
    if (Result.isFailure(checked)) {
      return Effect.fail(
        new InvalidTaskSpec({ task: ctx.name, field: checked.failure.field, reason: checked.failure.reason })
      )
    }
    if (owner !== undefined) return run(checked.success, owner.bus)
    return Effect.flatMap(makeBus(checked.success.eventBuffer), (bus) => run(checked.success, bus))
  })

/**
 * The check of one `Supervisor.task`. Its last result is kept: the same check runs again when the
 * task's parent starts it (and at every restart of the parent), and checking a tree level by level
 * that way would cost O(depth²). The first check of a tree is made deepest level first, with an
 * explicit stack: a recursive check of 3,000 levels would overflow the call stack.
 */
class NestedTaskSpec implements NestedSpec {
  private lastDefaults: ResolvedDefaults | undefined = undefined
  private lastOptions: unknown = undefined
  private lastResult: Result.Result<Config, Problem> | undefined = undefined
  readonly readyInside: boolean

  constructor(
    readonly children: unknown,
    /** `Task.make` copies the options into a fresh object, so a non-object is only visible here. */
    private readonly rawOptions: unknown
  ) {
    this.readyInside = Array.isArray(children) && children.some(isReadinessTask)
  }

  /** The options the nested supervisor is checked with, given the task's current options. */
  optionsOf(current: unknown): unknown {
    const raw = this.rawOptions
    return raw === undefined || (typeof raw === "object" && raw !== null) ? current : raw
  }

  cached(defaults: ResolvedDefaults, current: unknown): Result.Result<Config, Problem> | undefined {
    return this.lastResult !== undefined && this.lastDefaults === defaults && this.lastOptions === current
      ? this.lastResult
      : undefined
  }

  keep(defaults: ResolvedDefaults, current: unknown, result: Result.Result<Config, Problem>): void {
    this.lastDefaults = defaults
    this.lastOptions = current
    this.lastResult = result
  }

  resolve(defaults: ResolvedDefaults, current: unknown): Result.Result<unknown, Problem> {
    return this.cached(defaults, current) ?? checkDeepestFirst(this, defaults, current)
  }
}

const nestedSpecOf = (task: unknown): NestedTaskSpec | undefined => {
  const spec = (task as { readonly [NestedSpecKey]?: unknown })[NestedSpecKey]
  return spec instanceof NestedTaskSpec ? spec : undefined
}

interface Level {
  readonly spec: NestedTaskSpec
  readonly defaults: ResolvedDefaults
  readonly options: unknown
  readonly config: Result.Result<Config, Problem>
}

/**
 * Checks `top` and every `Supervisor.task` below it without recursion: the levels are listed
 * parents first (each with the defaults its parent gives it), then checked in reverse, so the check
 * of a level finds each nested child's result kept already.
 */
const checkDeepestFirst = (
  top: NestedTaskSpec,
  defaults: ResolvedDefaults,
  current: unknown
): Result.Result<Config, Problem> => {
  const levels: Array<Level> = []
  const list = (spec: NestedTaskSpec, parentDefaults: ResolvedDefaults, options: unknown): void => {
    const config = resolveConfig(spec.optionsOf(options), { nested: true, defaults: parentDefaults }, "")
    levels.push({ spec, defaults: parentDefaults, options, config })
  }
  list(top, defaults, current)
  for (let i = 0; i < levels.length; i++) {
    const { config, spec } = levels[i]!
    if (Result.isFailure(config) || !Array.isArray(spec.children)) continue
    for (const child of spec.children as ReadonlyArray<unknown>) {
      if (!isTask(child)) continue
      const childSpec = nestedSpecOf(child)
      // `resolveTask` reads the options the same way.
      if (childSpec !== undefined) list(childSpec, config.success.defaults, child.options ?? noOptions)
    }
  }
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i]!
    if (level.spec.cached(level.defaults, level.options) !== undefined) continue
    level.spec.keep(
      level.defaults,
      level.options,
      Result.flatMap(level.config, (config) => checkChildren(level.spec.children, config))
    )
  }
  return top.cached(defaults, current)!
}

/** Marked `ready` (an invalid value is refused at admission), or a supervisor task with one below it. */
const isReadinessTask = (child: unknown): boolean => {
  if (!isTask(child)) return false
  const ready: unknown = typeof child.options === "object" && child.options !== null ? child.options.ready : undefined
  if (ready !== undefined) return ready === true || ready === "reported"
  return (child as { readonly [NestedSpecKey]?: NestedSpec })[NestedSpecKey]?.readyInside === true
}

/** `Supervisor.task`: a task whose attempt runs a nested supervisor over `children`. */
export const supervisorTask = <const Children extends ReadonlyArray<Task<any, any>>>(
  name: string,
  children: Children,
  options?: SupervisorTaskOptions
): Task<SupervisorFailure | AddError, Services<Children>> => {
  const nested = new NestedTaskSpec(children, options)
  // The one options object carries both the task's settings (restart, backoff, grace, …) and the
  // nested supervisor's (strategy, intensity, …); each reader takes its own keys.
  const task = makeTask(name, attempt(children, options), options as never) as unknown as Task<
    SupervisorFailure | AddError,
    Services<Children>
  >
  Object.defineProperty(task, NestedSpecKey, { value: nested })
  return task
}
