import type { RunMain } from "@effect/platform/Runtime"
import { writeSync } from "node:fs"
import { SupervisorRegistry, SupervisorTree } from "@fibervisor/core"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
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
  readonly exitDeadlineMs: number
  readonly disableErrorReporting: boolean
  readonly disablePrettyLogger: boolean
}

/** Same as `Duration`'s own parsing of `"<number> <unit>"` strings. */
const durationString = /^(-?\d+(?:\.\d+)?)\s+(nanos?|micros?|millis?|seconds?|minutes?|hours?|days?|weeks?)$/

/**
 * Whether a duration input is negative or NaN, which `Duration.decodeUnknown` would silently read
 * as zero: a number (millis), a bigint (nanos), a `"<number> <unit>"` string, or a
 * `[seconds, nanos]` tuple with a negative or NaN part.
 */
const isNegative = (input: unknown): boolean => {
  const negative = (n: number) => Number.isNaN(n) || n < 0
  if (typeof input === "number") return negative(input)
  if (typeof input === "bigint") return input < 0n
  if (typeof input === "string") {
    const match = durationString.exec(input)
    return match !== null && negative(Number(match[1]))
  }
  if (Array.isArray(input) && input.length === 2 && input.every((part) => typeof part === "number")) {
    return input.some(negative)
  }
  return false
}

const durationMs = (field: string, input: unknown, positive: boolean): Either.Either<number, InvalidRunMainOptions> => {
  const outOfRange = () =>
    Either.left(
      new InvalidRunMainOptions({
        field,
        reason: `must be ${positive ? "greater than zero" : "a non-negative duration"}, got ${describe(input)}`
      })
    )
  // Checked on the raw input: decoding reads a negative or NaN duration as zero.
  if (isNegative(input)) return outOfRange()
  const decoded = Duration.decodeUnknown(input)
  if (decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
    return Either.left(
      new InvalidRunMainOptions({ field, reason: `must be a finite duration, got ${describe(input)}` })
    )
  }
  const ms = Duration.toMillis(decoded.value)
  if (Number.isNaN(ms) || ms < 0 || (positive && ms === 0)) return outOfRange()
  return Either.right(ms)
}

const flag = (field: string, input: unknown): Either.Either<boolean, InvalidRunMainOptions> =>
  input === undefined
    ? Either.right(false)
    : typeof input === "boolean"
      ? Either.right(input)
      : Either.left(new InvalidRunMainOptions({ field, reason: `must be a boolean, got ${describe(input)}` }))

/** Checks `runMain`'s options; the default deadline is the grace plus 5 seconds. */
export const resolve = (options: RunMainOptions | undefined): Either.Either<Config, InvalidRunMainOptions> =>
  Either.gen(function* () {
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      return yield* Either.left(
        new InvalidRunMainOptions({ field: "options", reason: `must be an object, got ${describe(options)}` })
      )
    }
    const o = options ?? {}
    const graceMs = o.grace === undefined ? 10_000 : yield* durationMs("grace", o.grace, false)
    const exitDeadlineMs =
      o.exitDeadline === undefined ? graceMs + 5_000 : yield* durationMs("exitDeadline", o.exitDeadline, true)
    const disableErrorReporting = yield* flag("disableErrorReporting", o.disableErrorReporting)
    const disablePrettyLogger = yield* flag("disablePrettyLogger", o.disablePrettyLogger)
    return { exitDeadlineMs, disableErrorReporting, disablePrettyLogger }
  })

/** What the deadline prints: every task still running in the registered supervisors, by path. */
export const stuckReport = (registry: SupervisorRegistry.SupervisorRegistry, deadlineMs: number): string => {
  const lines = registry.roots.flatMap((root) => {
    const tree = Effect.runSync(root.tree)
    return SupervisorTree.leaves(tree).map((node) => `  ${node.path} (${node.state}, attempt ${node.attempt})`)
  })
  const head = `fibervisor: the shutdown did not finish within the exit deadline of ${deadlineMs} ms`
  return lines.length === 0
    ? `${head}; no supervised task is left running (something else is holding the shutdown)\n`
    : `${head}; still running:\n${lines.join("\n")}\n`
}

const maxTimerMs = 2 ** 31 - 1

const signalCode = (signal: NodeJS.Signals): number => (signal === "SIGINT" ? 130 : 143)

/** `NodeSupervisor.runMain`, with the platform's `runMain` passed in. */
export const runMain = <A, E>(
  platformRunMain: RunMain,
  program: Effect.Effect<A, E, SupervisorRegistry.SupervisorRegistry>,
  options: RunMainOptions | undefined
): void => {
  const resolved = resolve(options)
  const config: Config = Either.isRight(resolved)
    ? resolved.right
    : { exitDeadlineMs: 15_000, disableErrorReporting: false, disablePrettyLogger: false }
  const registry = SupervisorRegistry.make()
  let deadline: ReturnType<typeof setTimeout> | undefined
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1
    if (signals > 1) {
      writeSync(2, `fibervisor: second ${signal}, exiting now\n`)
      process.exit(signalCode(signal))
    }
    // The platform's handler (also registered) interrupts the main fiber; this one bounds the wait.
    armDeadline(config.exitDeadlineMs, () => {
      writeSync(2, stuckReport(registry, config.exitDeadlineMs))
      process.exit(1)
    })
  }
  /** Node timers hold at most 2^31 - 1 ms (longer ones fire at once): longer deadlines are chained. */
  const armDeadline = (remainingMs: number, fire: () => void): void => {
    const step = Math.min(remainingMs, maxTimerMs)
    deadline = setTimeout(() => (remainingMs > step ? armDeadline(remainingMs - step, fire) : fire()), step)
    // A pending deadline must not keep the process alive once everything else is done.
    deadline.unref()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const main = Either.isRight(resolved)
    ? Effect.provideService(program, SupervisorRegistry.SupervisorRegistry, registry)
    : Effect.fail(resolved.left)
  platformRunMain(main as Effect.Effect<A, E | InvalidRunMainOptions>, {
    disableErrorReporting: config.disableErrorReporting,
    disablePrettyLogger: config.disablePrettyLogger,
    teardown: (exit, onExit) => {
      if (deadline !== undefined) clearTimeout(deadline)
      const failed = Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
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
