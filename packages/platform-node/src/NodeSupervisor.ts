/**
 * Runs a program as a Node process's main entry: SIGINT / SIGTERM interrupt it, so its supervisors
 * and offload layers shut down gracefully; a hard deadline bounds that shutdown; a second signal
 * exits at once.
 *
 * @since 0.2.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { type SupervisorRegistry } from "@fibervisor/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as internal from "./internal/runMain.js"

export {
  /**
   * @since 0.2.0
   * @category errors
   */
  InvalidRunMainOptions
} from "./internal/runMain.js"

/**
 * Options of `runMain`.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunMainOptions {
  /**
   * The grace your supervisors use (default 10 seconds, the supervisor's default). Only used to
   * compute the default `exitDeadline`.
   */
  readonly grace?: Duration.DurationInput | undefined
  /**
   * How long the graceful shutdown may take after the first SIGINT / SIGTERM; then the process
   * prints the tasks still running (by path) and exits with code 1 (default `grace` + 5 seconds).
   */
  readonly exitDeadline?: Duration.DurationInput | undefined
  /** Do not log the main effect's failure (default false). */
  readonly disableErrorReporting?: boolean | undefined
  /** Keep Effect's default logger instead of the pretty one (default false). */
  readonly disablePrettyLogger?: boolean | undefined
}

/**
 * Runs `program` as the process's main effect, on top of `@effect/platform-node`'s
 * `NodeRuntime.runMain`:
 *
 * - SIGINT / SIGTERM interrupt the program: scopes close, supervisors and offload layers shut down
 *   gracefully, each within its grace.
 * - The first signal also starts a hard deadline (`exitDeadline`; the timer does not keep the
 *   process alive). When it passes, the process prints the tasks still running, by path, and exits
 *   with code 1.
 * - A second SIGINT / SIGTERM exits at once, with code 130 / 143.
 * - Exit codes: 0 when the program ended well (or was stopped by a signal and shut down cleanly), 1
 *   when it failed or when a supervisor's shutdown exceeded its grace.
 *
 * The program runs with a `SupervisorRegistry`, so every root supervisor it makes is known to the
 * deadline report. Invalid options fail the program with `InvalidRunMainOptions` (exit code 1).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Supervisor, Task } from "@fibervisor/core"
 * import { NodeSupervisor } from "@fibervisor/platform-node"
 *
 * const main = Layer.launch(
 *   Layer.effectDiscard(Supervisor.add(Task.restartable("worker", Effect.never))).pipe(
 *     Layer.provideMerge(Supervisor.layer({ grace: "20 seconds" }))
 *   )
 * )
 *
 * NodeSupervisor.runMain(main, { grace: "20 seconds", exitDeadline: "25 seconds" })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const runMain: {
  (options?: RunMainOptions): <A, E>(program: Effect.Effect<A, E, SupervisorRegistry.SupervisorRegistry>) => void
  <A, E>(program: Effect.Effect<A, E, SupervisorRegistry.SupervisorRegistry>, options?: RunMainOptions): void
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E>(program: Effect.Effect<A, E, SupervisorRegistry.SupervisorRegistry>, options?: RunMainOptions): void =>
    internal.runMain(NodeRuntime.runMain, program, options)
)
