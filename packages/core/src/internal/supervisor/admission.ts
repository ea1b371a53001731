/**
 * Admission: whether a supervisor takes a task (`add`, `addAll`, `run`, a nested supervisor's
 * static children; the controller's `submit` uses `misplaced` and decides the rest itself).
 *
 * **Owns** the order of the checks and the `TaskAddFailed` event of a refusal; nothing else.
 *
 * **Data flow**: `SupervisorImpl.add` / `addAll`, `startStatic` → `admit` (or `admitAll`) →
 * `resolveTask` (the spec's own check, `task.ts`) → shutting down? → misplaced under this
 * supervisor? → name taken (registered, or earlier in the same batch)? → the resolved spec, which
 * the caller registers (`SupervisorImpl.spawn`) in the same synchronous step.
 *
 * **Invariants**
 * - Check-and-register is atomic: nothing between `admit` and `spawn` yields, so a name found free
 *   is still free when it is taken.
 * - A batch is all-or-nothing: `admitAll` registers nothing itself and fails on the first refusal;
 *   names are checked against the registry and against the batch's earlier tasks.
 * - Every refusal is one `TaskAddFailed` event (when someone listens), emitted before the failure
 *   is returned.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { AddError } from "../../Supervisor.js"
import { InvalidTaskSpec, SupervisorShuttingDown, TaskAlreadyExists } from "../../SupervisorError.js"
import type { Task } from "../../Task.js"
import type { EventInput } from "../bus.js"
import { type Caller, withCaller } from "../compat.js"
import { describe } from "../duration.js"
import type { Entry } from "../entry.js"
import type { Config } from "../options.js"
import type { Signal } from "../signal.js"
import { type ResolvedTask, resolveTask } from "../task.js"
import { taskAddFailed } from "./events.js"

/** What admission reads from its supervisor. */
export interface AdmissionHost {
  readonly config: Config
  /** Once set, every task is refused. */
  readonly shuttingDown: boolean
  hasName(name: string): boolean
  /** Whether anyone listens; read once per event, right before building it (see `EventBus.listening`). */
  readonly listening: boolean
  emit(event: EventInput): void
}

/** Checks a task for admission; emits `TaskAddFailed` when it is refused. */
export const admit = (
  host: AdmissionHost,
  task: Task<any, any>,
  pendingNames: ReadonlySet<string> | undefined
): Result.Result<ResolvedTask, AddError> => {
  const resolved = resolveTask(task, host.config.defaults)
  if (Result.isFailure(resolved)) {
    addFailed(host, resolved.failure.task, "InvalidSpec", resolved.failure.message)
    return resolved
  }
  const name = resolved.success.name
  if (host.shuttingDown) {
    addFailed(host, name, "ShuttingDown", "the supervisor is shutting down")
    return Result.fail(new SupervisorShuttingDown())
  }
  const refused = misplaced(host.config, resolved.success)
  if (refused !== undefined) {
    addFailed(host, name, "InvalidSpec", refused.message)
    return Result.fail(refused)
  }
  if (host.hasName(name) || pendingNames?.has(name)) {
    addFailed(host, name, "AlreadyExists", "the name is taken")
    return Result.fail(new TaskAlreadyExists({ name }))
  }
  return resolved
}

/** A spec that is valid alone but not under a supervisor with this `config`. */
export const misplaced = (config: Config, spec: ResolvedTask): InvalidTaskSpec | undefined => {
  if (!spec.significant || config.autoShutdown !== "never") return undefined
  return new InvalidTaskSpec({
    task: spec.name,
    field: "significant",
    reason: `cannot be set under a supervisor whose autoShutdown is "never"`
  })
}

/** Admits a batch all-or-nothing. */
export const admitAll = (
  host: AdmissionHost,
  tasks: Iterable<Task<any, any>>
): Result.Result<Array<ResolvedTask>, AddError> => {
  if (typeof tasks !== "object" || tasks === null || typeof tasks[Symbol.iterator] !== "function") {
    return Result.fail(
      new InvalidTaskSpec({
        task: "",
        field: "tasks",
        reason: `must be an iterable of tasks, got ${describe(tasks)}`
      })
    )
  }
  const names = new Set<string>()
  const specs: Array<ResolvedTask> = []
  for (const task of tasks) {
    const admitted = admit(host, task, names)
    if (Result.isFailure(admitted)) return Result.fail(admitted.failure)
    names.add(admitted.success.name)
    specs.push(admitted.success)
  }
  return Result.succeed(specs)
}

const addFailed = (
  host: AdmissionHost,
  name: string,
  rejection: "AlreadyExists" | "ShuttingDown" | "InvalidSpec",
  reason: string
): void => {
  if (host.listening) {
    host.emit(taskAddFailed(host.config.path, name, rejection, reason))
  }
}

/** What the ordered start of a nested supervisor's static children needs from it. */
export interface StaticStartHost extends AdmissionHost {
  /** `undefined` when no group restart is pending; else completed once none is. */
  readonly groupIdle: Signal<void> | undefined
  /** Registers an admitted task and starts its fiber. */
  spawn(spec: ResolvedTask, caller: Caller<unknown>, isStatic: boolean): Entry
}

/**
 * Starts a nested supervisor's static children in order, each once the previous one began its
 * first attempt (or ended before it could). The batch is admitted first, all or nothing.
 */
export const startStatic = (
  host: StaticStartHost,
  tasks: ReadonlyArray<Task<any, any>>
): Effect.Effect<void, AddError> =>
  withCaller<void, AddError, never, never>((caller) => {
    const admitted = admitAll(host, tasks)
    if (Result.isFailure(admitted)) return Effect.fail(admitted.failure)
    // A group restart under way (an earlier child failed) finishes before the next child starts.
    const next = (spec: ResolvedTask): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (host.shuttingDown) return Effect.void
        const idle = host.groupIdle
        if (idle !== undefined) return Effect.andThen(idle.await, next(spec))
        return host.spawn(spec, caller as Caller<unknown>, true).started
      })
    return Effect.forEach(admitted.success, next, { discard: true })
  })
