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
   * The grace your supervisors use. Only used to compute the default `exitDeadline` and for the
   * shutdown log line. Default: read from the `SupervisorRegistry` when the shutdown starts — the
   * longest `grace` among the root supervisors still running (10 seconds if there is none).
   */
  readonly grace?: Duration.DurationInput | undefined
  /**
   * How long the graceful shutdown may take after the first SIGINT / SIGTERM (or after a root
   * supervisor failed); then the process prints the tasks still running (by path) and exits with
   * code 1. Default: the grace (above) + 5 seconds. Refused when shorter than an explicit `grace`;
   * when shorter than a grace read from the supervisors, the shutdown log line warns.
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
 *   gracefully, each within its grace. The first signal is logged with the grace and the deadline
 *   (`received SIGTERM, shutting down (grace 20s, exit deadline 25s)`).
 * - A root supervisor made by `Supervisor.make` / `Supervisor.layer` that fails (escalation,
 *   restart intensity) ends the program with its failure: it is interrupted, shuts down as on a
 *   signal (within the same deadline), and the process exits with code 1. So a program that only
 *   holds its layers open (`Layer.launch`) does not outlive a failed supervisor.
 * - The first signal also starts a hard deadline (`exitDeadline`; the timer does not keep the
 *   process alive). When it passes, the process prints the tasks still running, by path, and exits
 *   with code 1.
 * - A second SIGINT / SIGTERM exits at once, with code 130 / 143.
 * - Exit codes: 0 when the program ended well (or was stopped by a signal and shut down cleanly), 1
 *   when it failed or when a supervisor's shutdown exceeded its grace.
 *
 * The program runs with a `SupervisorRegistry`, so every root supervisor it makes is known to the
 * deadline report and is watched. Invalid options (unknown keys included) fail the program with
 * `InvalidRunMainOptions` (exit code 1).
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
 * // The grace is read from the supervisor (20 s); the exit deadline defaults to it + 5 s.
 * NodeSupervisor.runMain(main)
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
