import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AddError, SupervisorTaskOptions } from "../Supervisor.js"
import { InvalidTaskSpec, type SupervisorFailure } from "../SupervisorError.js"
import { isTask, make as makeTask, type Services, type Task } from "../Task.js"
import { TaskContext } from "../TaskContext.js"
import { type EventBus, makeBus } from "./bus.js"
import { describe } from "./duration.js"
import { entryOf } from "./entry.js"
import { type Config, resolveConfig } from "./options.js"
import { makeNested, type SupervisorImpl } from "./supervisor.js"
import { type NestedSpec, NestedSpecKey, type Problem, type ResolvedDefaults, resolveTask } from "./task.js"

/** Checks a nested supervisor's options and its children (with the defaults they will run under). */
const checkNested = (
  children: unknown,
  options: unknown,
  parentDefaults: ResolvedDefaults | undefined
): Either.Either<Config, Problem> =>
  Either.gen(function* () {
    const config = yield* resolveConfig(options, { nested: true, defaults: parentDefaults }, "")
    if (!Array.isArray(children)) {
      return yield* Either.left({ field: "children", reason: `must be an array of tasks, got ${describe(children)}` })
    }
    const names = new Set<string>()
    for (let i = 0; i < children.length; i++) {
      const child: unknown = children[i]
      if (!isTask(child)) {
        return yield* Either.left({ field: `children[${i}]`, reason: `must be a Task, got ${describe(child)}` })
      }
      const resolved = resolveTask(child, config.defaults)
      if (Either.isLeft(resolved)) {
        return yield* Either.left({ field: `children[${i}].${resolved.left.field}`, reason: resolved.left.reason })
      }
      const name = resolved.right.name
      if (names.has(name)) {
        return yield* Either.left({ field: `children[${i}].name`, reason: `"${name}" is used by an earlier child` })
      }
      names.add(name)
      if (resolved.right.significant && config.autoShutdown === "never") {
        return yield* Either.left({
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
    const owner = entry?.owner as SupervisorImpl | undefined
    const run = (config: Config, bus: EventBus) => {
      let nested: SupervisorImpl | undefined
      return Effect.scoped(
        Effect.flatMap(makeNested({ ...config, path: ctx.path }, bus), (supervisor) => {
          nested = supervisor
          supervisor.parentEntry = entry
          if (entry !== undefined) entry.nested = supervisor
          return Effect.zipRight(supervisor.startStatic(children), supervisor.join)
        })
      ).pipe(
        // The attempt ends only once every child's fiber has exited, abandoned ones included: the
        // parent keeps this task's name (and a restart waits) until the old subtree is really gone.
        Effect.ensuring(
          Effect.suspend(() => (nested === undefined ? Effect.void : nested.released)).pipe(
            Effect.zipRight(
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
    if (Either.isLeft(checked)) {
      return Effect.fail(
        new InvalidTaskSpec({ task: ctx.name, field: checked.left.field, reason: checked.left.reason })
      )
    }
    if (owner !== undefined) return run(checked.right, owner.bus)
    return Effect.flatMap(makeBus(checked.right.eventBuffer), (bus) => run(checked.right, bus))
  })

/** `Supervisor.task`: a task whose attempt runs a nested supervisor over `children`. */
export const supervisorTask = <const Children extends ReadonlyArray<Task<any, any>>>(
  name: string,
  children: Children,
  options?: SupervisorTaskOptions
): Task<SupervisorFailure | AddError, Services<Children>> => {
  // `Task.make` copies the options into a fresh object, so a non-object is only visible here.
  const optionsAreObject = options === undefined || (typeof options === "object" && options !== null)
  const nested: NestedSpec = {
    resolve: (defaults, current) => checkNested(children, optionsAreObject ? current : options, defaults)
  }
  // The one options object carries both the task's settings (restart, backoff, grace, …) and the
  // nested supervisor's (strategy, intensity, …); each reader takes its own keys.
  const task = makeTask(name, attempt(children, options), options as never) as unknown as Task<
    SupervisorFailure | AddError,
    Services<Children>
  >
  Object.defineProperty(task, NestedSpecKey, { value: nested })
  return task
}
