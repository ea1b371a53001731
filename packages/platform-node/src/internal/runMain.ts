/**
 * `NodeSupervisor.runMain`: runs a program on the platform's `runMain` with a `SupervisorRegistry`
 * around it, and bounds its shutdown.
 *
 * Data flow: the options are checked first (a bad one fails the program, reported like any other
 * failure); every root supervisor made under the program registers in the registry. On SIGINT or
 * SIGTERM the platform interrupts the main fiber (a graceful shutdown, through the scopes) and this
 * module arms the exit deadline (from the options, else from the roots' grace); past it, it prints
 * the tasks still running and exits 1. A root that fails ends the program with its failure. Exit
 * code: 1 on a failure or an exceeded grace, else 0; a second signal exits at once (130 / 143).
 *
 * Invariants:
 * - The deadline is a Node timer, outside Effect, and unref'd: it fires even when the runtime is
 *   stuck, and never keeps a finished process alive.
 * - One logger for everything, the main effect's failure included (Effect's default logger swapped
 *   for the pretty one unless `disablePrettyLogger`).
 *
 * @internal
 */
import { writeSync } from "node:fs"
import { DurationInput, Inputs, type SupervisorError, SupervisorRegistry, SupervisorTree } from "@fibervisor/core"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Result from "effect/Result"
import * as Runtime from "effect/Runtime"
import * as Schema from "effect/Schema"
import type { RunMainOptions } from "../NodeSupervisor.js"
import { describe } from "./describe.js"

/**
 * `runMain`'s options cannot be used: names the field and why.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidRunMainOptions extends Schema.TaggedError<InvalidRunMainOptions>(
  "@fibervisor/platform-node/InvalidRunMainOptions"
)("InvalidRunMainOptions", { field: Schema.String, reason: Schema.String }) {
  /** @since 0.2.0 */
  override get message(): string {
    return `invalid runMain options: ${this.field} ${this.reason}`
  }
}

interface Config {
  /** The `grace` option; `undefined`: the roots' longest grace, read when the shutdown starts. */
  readonly graceMs?: number
  /** The `exitDeadline` option, or the `grace` option + 5 s; `undefined`: derived when the shutdown starts. */
  readonly exitDeadlineMs?: number
  readonly disableErrorReporting: boolean
  readonly disablePrettyLogger: boolean
}

const knownKeys: ReadonlySet<string> = new Set([
  "grace",
  "exitDeadline",
  "disableErrorReporting",
  "disablePrettyLogger"
])

/** A supervisor's default grace, assumed when no root is registered. */
const defaultGraceMs = 10_000

/** Room for what runs after the supervisors (offload drain, other finalizers) in a derived deadline. */
const deadlineMarginMs = 5_000

/** Same as `Duration`'s own parsing of `"<number> <unit>"` strings (core's `DurationInput`). */
const durationString = DurationInput.stringPattern

/** The fields of a `Duration.DurationObject` (`{ seconds: 5 }`), a duration input since Effect 4. */
const durationObjectKeys: ReadonlySet<string> = new Set(DurationInput.objectFields)

/**
 * Whether a duration input is negative or NaN, which `runMain` reports in its own words (a grace
 * that is "not a non-negative duration", an exit deadline "not greater than zero"): a number
 * (millis), a bigint (nanos), a `"<number> <unit>"` string, a `[seconds, nanos]` tuple, a
 * `{ seconds, … }` object with a negative or NaN part, or a negative `Duration`.
 */
const isNegative = (input: unknown): boolean => {
  const negative = (n: unknown) => typeof n === "number" && (Number.isNaN(n) || n < 0)
  if (typeof input === "number") return negative(input)
  if (typeof input === "bigint") return input < 0n
  if (typeof input === "string") {
    const match = durationString.exec(input)
    return match !== null && negative(Number(match[1]))
  }
  if (Duration.isDuration(input)) return Duration.isNegative(input)
  if (Array.isArray(input)) return input.length === 2 && input.some(negative)
  if (typeof input === "object" && input !== null) {
    return Object.entries(input).some(([key, part]) => durationObjectKeys.has(key) && negative(part))
  }
  return false
}

/**
 * A duration option in milliseconds. Read by core's one duration rule (`Inputs.decodeDuration`);
 * negative and NaN inputs are checked first, on the raw input, for `runMain`'s own message.
 */
const durationMs = (field: string, input: unknown, positive: boolean): Result.Result<number, InvalidRunMainOptions> => {
  const outOfRange = () =>
    Result.fail(
      new InvalidRunMainOptions({
        field,
        reason: `must be ${positive ? "greater than zero" : "a non-negative duration"}, got ${describe(input)}`
      })
    )
  if (isNegative(input)) return outOfRange()
  const decoded = Inputs.decodeDuration(input)
  if (Result.isFailure(decoded)) {
    return Result.fail(
      new InvalidRunMainOptions({ field, reason: `must be a finite duration, got ${describe(input)}` })
    )
  }
  const ms = Duration.toMillis(decoded.success)
  return positive && ms === 0 ? outOfRange() : Result.succeed(ms)
}

const flag = (field: string, input: unknown): Result.Result<boolean, InvalidRunMainOptions> =>
  input === undefined
    ? Result.succeed(false)
    : typeof input === "boolean"
      ? Result.succeed(input)
      : Result.fail(new InvalidRunMainOptions({ field, reason: `must be a boolean, got ${describe(input)}` }))

/**
 * Checks `runMain`'s options. The deadline is `exitDeadline`, else `grace` + 5 seconds; without
 * either it is derived when the shutdown starts (`deadlineOf`). An `exitDeadline` shorter than an
 * explicit `grace` is refused: it would cut the graceful shutdown short.
 */
export const resolve = (options: RunMainOptions | undefined): Result.Result<Config, InvalidRunMainOptions> =>
  Result.gen(function* () {
    if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
      return yield* Result.fail(
        new InvalidRunMainOptions({ field: "options", reason: `must be an object, got ${describe(options)}` })
      )
    }
    const o = options ?? {}
    for (const key in o) {
      if (!knownKeys.has(key)) {
        return yield* Result.fail(
          new InvalidRunMainOptions({ field: key, reason: "is not a known option (misspelt?)" })
        )
      }
    }
    const graceMs = o.grace === undefined ? undefined : yield* durationMs("grace", o.grace, false)
    let exitDeadlineMs = graceMs === undefined ? undefined : graceMs + deadlineMarginMs
    if (o.exitDeadline !== undefined) {
      exitDeadlineMs = yield* durationMs("exitDeadline", o.exitDeadline, true)
      if (graceMs !== undefined && exitDeadlineMs < graceMs) {
        return yield* Result.fail(
          new InvalidRunMainOptions({
            field: "exitDeadline",
            reason: `must not be shorter than grace (${graceMs} ms): it would cut the graceful shutdown short, got ${describe(o.exitDeadline)}`
          })
        )
      }
    }
    const disableErrorReporting = yield* flag("disableErrorReporting", o.disableErrorReporting)
    const disablePrettyLogger = yield* flag("disablePrettyLogger", o.disablePrettyLogger)
    const config: { -readonly [K in keyof Config]: Config[K] } = { disableErrorReporting, disablePrettyLogger }
    if (graceMs !== undefined) config.graceMs = graceMs
    if (exitDeadlineMs !== undefined) config.exitDeadlineMs = exitDeadlineMs
    return config
  })

/** The grace and deadline of a shutdown starting now, and whether the deadline cuts the grace short. */
export interface Deadline {
  readonly graceMs: number
  readonly exitDeadlineMs: number
  /** Where the grace comes from. */
  readonly graceFrom: "option" | "supervisors" | "default"
}

/**
 * The grace is the `grace` option, else the longest grace of the root supervisors still running,
 * else 10 seconds; the deadline is `exitDeadline`, else that grace + 5 seconds.
 */
export const deadlineOf = (config: Config, registry: SupervisorRegistry.SupervisorRegistry): Deadline => {
  const rootsGraceMs = registry.graceMs
  const graceMs = config.graceMs ?? rootsGraceMs ?? defaultGraceMs
  const graceFrom = config.graceMs !== undefined ? "option" : rootsGraceMs !== undefined ? "supervisors" : "default"
  return { graceMs, exitDeadlineMs: config.exitDeadlineMs ?? graceMs + deadlineMarginMs, graceFrom }
}

const format = (ms: number): string => Duration.format(Duration.millis(ms))

/** `(grace 6s, exit deadline 10s)`, with a warning when the deadline cuts the grace short. */
export const describeDeadline = (deadline: Deadline): string => {
  const from =
    deadline.graceFrom === "option"
      ? ""
      : deadline.graceFrom === "supervisors"
        ? " from the supervisors"
        : " by default"
  const short =
    deadline.exitDeadlineMs < deadline.graceMs
      ? "; the exit deadline is shorter than the grace: tasks may be cut off before their grace runs out"
      : ""
  return `(grace ${format(deadline.graceMs)}${from}, exit deadline ${format(deadline.exitDeadlineMs)}${short})`
}

/** How many stuck tasks the deadline's report names; the rest are counted (the output stays bounded). */
const reportedPaths = 10

/**
 * What the deadline prints: the tasks still running in the registered supervisors, by path — the
 * first ten, then how many more (a shutdown that abandons 100,000 tasks must not print 100,000 lines).
 */
export const stuckReport = (registry: SupervisorRegistry.SupervisorRegistry, deadlineMs: number): string => {
  const nodes = registry.roots.flatMap((root) => SupervisorTree.leaves(Effect.runSync(root.tree)))
  const head = `fibervisor: the shutdown did not finish within the exit deadline of ${deadlineMs} ms`
  if (nodes.length === 0)
    return `${head}; no supervised task is left running (something else is holding the shutdown)\n`
  const lines = nodes.slice(0, reportedPaths).map((node) => `  ${node.path} (${node.state}, attempt ${node.attempt})`)
  if (nodes.length > reportedPaths) {
    lines.push(`  … and ${(nodes.length - reportedPaths).toLocaleString("en-US")} more`)
  }
  return `${head}; still running:\n${lines.join("\n")}\n`
}

/** The longest step of the deadline timer: what one Node timer holds (core's `DurationInput`). */
const maxTimerMs = DurationInput.maxTimerMs

const signalCode = (signal: NodeJS.Signals): number => (signal === "SIGINT" ? 130 : 143)

/**
 * The platform's `runMain` (`NodeRuntime.runMain` of `@effect/platform-node`): runs the main fiber,
 * keeps the process alive while it runs, interrupts it on SIGINT / SIGTERM, calls `teardown`.
 */
export type PlatformRunMain = <E, A>(
  effect: Effect.Effect<A, E>,
  options?: {
    readonly disableErrorReporting?: boolean | undefined
    readonly teardown?: Runtime.Teardown | undefined
  }
) => void

/**
 * Effect 3's `NodeRuntime.runMain` logged with the pretty logger unless `disablePrettyLogger`;
 * Effect 4's leaves the loggers alone, so the swap is done here: Effect's default logger is
 * replaced by `Logger.consolePretty()` (on stdout, colours only on a terminal), the others stay.
 */
const withPrettyLogger =
  (config: Config) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
    if (config.disablePrettyLogger) return effect
    const pretty = Logger.consolePretty()
    return Effect.updateService(effect, Logger.CurrentLoggers, (loggers) => {
      if (!loggers.has(Logger.defaultLogger)) return loggers
      const replaced = new Set(loggers)
      replaced.delete(Logger.defaultLogger)
      replaced.add(pretty)
      return replaced
    })
  }

/**
 * Logs the main effect's failure as the platform would (not an interruption, nor an error that
 * says it is already reported), but inside `withPrettyLogger`, so with the same logger as the rest.
 */
const reportFailure = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tapCause(effect, (cause) =>
    Cause.hasInterruptsOnly(cause) || !Runtime.getErrorReported(Cause.squash(cause))
      ? Effect.void
      : Effect.logError(cause)
  )

/** `NodeSupervisor.runMain`, with the platform's `runMain` passed in. */
export const runMain = <A, E>(
  platformRunMain: PlatformRunMain,
  program: Effect.Effect<A, E, SupervisorRegistry.SupervisorRegistry>,
  options: RunMainOptions | undefined
): void => {
  const resolved = resolve(options)
  const config: Config = Result.isSuccess(resolved)
    ? resolved.success
    : { disableErrorReporting: false, disablePrettyLogger: false }
  const logged = withPrettyLogger(config)
  const registry = SupervisorRegistry.make()
  let deadline: ReturnType<typeof setTimeout> | undefined
  let signals = 0
  /** The main fiber's context (its loggers), for what is logged outside any fiber. */
  let mainContext: Context.Context<never> | undefined
  const log = (effect: Effect.Effect<void>): void => {
    const annotated = Effect.annotateLogs(effect, { fibervisor: "runMain" })
    if (mainContext === undefined) Effect.runFork(logged(annotated))
    else Effect.runForkWith(mainContext)(annotated)
  }
  /** Bounds the shutdown that starts now (once: the first signal or root failure arms it). */
  const startDeadline = (): Deadline => {
    const current = deadlineOf(config, registry)
    if (deadline === undefined) {
      armDeadline(current.exitDeadlineMs, () => {
        writeSync(2, stuckReport(registry, current.exitDeadlineMs))
        process.exit(1)
      })
    }
    return current
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1
    if (signals > 1) {
      writeSync(2, `fibervisor: second ${signal}, exiting now\n`)
      process.exit(signalCode(signal))
    }
    // The platform's handler (also registered) interrupts the main fiber; this one bounds the wait.
    const current = startDeadline()
    log(Effect.logInfo(`received ${signal}, shutting down ${describeDeadline(current)}`))
  }
  // A root supervisor that fails (escalation, restart intensity) ends the program with its failure,
  // so that a program that only holds its layers open (`Layer.launch`) exits non-zero.
  const rootFailed = Deferred.makeUnsafe<never, SupervisorError.SupervisorFailure>()
  let rootFailures = 0
  registry.onFailure((failure) => {
    rootFailures += 1
    if (rootFailures > 1) return
    // Logged and bounded as it happens: its own shutdown has just started.
    const current = startDeadline()
    log(
      Effect.logError(
        `root supervisor "${failure.path}" failed (${failure._tag}), shutting down ${describeDeadline(current)}`
      )
    )
    Deferred.doneUnsafe(rootFailed, Exit.fail(failure))
  })
  const watchRoots = Deferred.await(rootFailed)
  /** Node timers hold at most 2^31 - 1 ms (longer ones fire at once): longer deadlines are chained. */
  const armDeadline = (remainingMs: number, fire: () => void): void => {
    const step = Math.min(remainingMs, maxTimerMs)
    deadline = setTimeout(() => (remainingMs > step ? armDeadline(remainingMs - step, fire) : fire()), step)
    // A pending deadline must not keep the process alive once everything else is done.
    deadline.unref()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const main: Effect.Effect<A, E | InvalidRunMainOptions | SupervisorError.SupervisorFailure> = Result.isSuccess(
    resolved
  )
    ? Effect.flatMap(Effect.context<never>(), (current) => {
        mainContext = current
        return Effect.raceFirst(
          Effect.provideService(program, SupervisorRegistry.SupervisorRegistry, registry),
          watchRoots
        )
      })
    : Effect.fail(resolved.failure)
  platformRunMain(logged(config.disableErrorReporting ? main : reportFailure(main)), {
    // Reported above, with our logger.
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      if (deadline !== undefined) clearTimeout(deadline)
      const failed = Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)
      const code = failed || registry.exceeded.length > 0 ? 1 : 0
      if (code === 0 && signals === 0) {
        // Nothing else will exit: let a second signal get Node's default behaviour back.
        process.removeListener("SIGINT", onSignal)
        process.removeListener("SIGTERM", onSignal)
      }
      onExit(code)
    }
  })
}
