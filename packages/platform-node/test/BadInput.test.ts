/**
 * Bad input for the Node integration, as one table: every option of `NodeSupervisor.runMain`
 * (checked through the exported resolver `resolve` of `src/internal/runMain.ts`, which `runMain`
 * calls before anything starts) and of `HealthServer.make` / `HealthServer.layer` × invalid values
 * → a typed error whose `field` names the option exactly and whose `reason` says what is wrong.
 * Nothing throws, and nothing half-starts: a refused health server opens no socket and leaves its
 * supervisor running.
 *
 * The process-level behaviour of `runMain` with bad options (exit 1, the program never runs) and
 * the 2^31-1 ms timer limit of its deadline (25 days does not fire early) are covered by
 * runMain.test.ts with child processes; the last section, "bugs found", holds one focused test per
 * bug this table found (each failed before its fix and is kept as a regression test).
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Layer, Option, Result } from "effect"
import { Supervisor } from "@fibervisor/core"
import { HealthServer, NodeSupervisor } from "@fibervisor/platform-node"
import { describe as describeValue } from "../src/internal/describe.js"
import { resolve } from "../src/internal/runMain.js"

// =============================================================================================
// The value catalogue
// =============================================================================================

/** A function where a value is expected. */
const fn = () => 1

/** How both resolvers name a refused value (`describe` has its own table below). */
const showRunMain = describeValue
const showHealth = describeValue

const DAY = 86_400_000

// =============================================================================================
// Table 1 — NodeSupervisor.runMain options (through `resolve`)
// =============================================================================================

interface Row {
  readonly option: string
  readonly label: string
  readonly options: unknown
  readonly field: string
  readonly reason: string
}

/**
 * Durations `Duration.fromInput` cannot read, or infinite ones, or objects Effect 4 would read as a
 * `{ seconds, … }` duration of zero (`{}`, a misspelt unit).
 */
const unreadableDurations: ReadonlyArray<readonly [string, unknown]> = [
  ['"x"', "x"],
  ['""', ""],
  ['"   "', "   "],
  ['"Infinity seconds"', "Infinity seconds"],
  ["Infinity", Number.POSITIVE_INFINITY],
  ['"Infinity"', "Infinity"],
  ["Duration.infinity", Duration.infinity],
  ["{}", {}],
  ["{ second: 5 }", { second: 5 }],
  ['{ seconds: "5" }', { seconds: "5" }],
  ["null", null],
  ["true", true],
  ["a function", fn],
  ["[1, 2, 3]", [1, 2, 3]]
]

const runMainRows: ReadonlyArray<Row> = [
  ...(
    [
      ["null", null],
      ['"x"', "x"],
      ["5", 5],
      ["true", true],
      ["a function", fn]
    ] as const
  ).map(([label, value]) => ({
    option: "options",
    label,
    options: value,
    field: "options",
    reason: `must be an object, got ${showRunMain(value)}`
  })),
  ...["grace", "exitDeadline"].flatMap((option) =>
    unreadableDurations.map(([label, value]) => ({
      option,
      label,
      options: { [option]: value },
      field: option,
      reason: `must be a finite duration, got ${showRunMain(value)}`
    }))
  ),
  // grace may be zero, not negative or NaN (checked before decoding, which reads them as zero)
  ...(
    [
      ["-1", -1],
      ["-0.5", -0.5],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ["NaN", Number.NaN],
      ['"-5 seconds"', "-5 seconds"],
      ['"-0.5 millis"', "-0.5 millis"],
      ["[-1, 0]", [-1, 0]],
      ["[0, -1]", [0, -1]],
      ["[NaN, 0]", [Number.NaN, 0]],
      ["[-Infinity, 0]", [Number.NEGATIVE_INFINITY, 0]],
      ["-10n", -10n],
      ["{ seconds: -5 }", { seconds: -5 }],
      ["{ seconds: 1, milliseconds: NaN }", { seconds: 1, milliseconds: Number.NaN }]
    ] as const
  ).map(([label, value]) => ({
    option: "grace",
    label,
    options: { grace: value },
    field: "grace",
    reason: `must be a non-negative duration, got ${showRunMain(value)}`
  })),
  // exitDeadline must be greater than zero (a negative or NaN input decodes to zero)
  ...(
    [
      ["0", 0],
      ['"0 millis"', "0 millis"],
      ["-1", -1],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ["NaN", Number.NaN],
      ['"-5 seconds"', "-5 seconds"],
      ["[-1, 0]", [-1, 0]],
      ["[0, -1]", [0, -1]],
      ["[NaN, 0]", [Number.NaN, 0]],
      ["-10n", -10n],
      ["{ seconds: 0 }", { seconds: 0 }],
      ["{ seconds: -5 }", { seconds: -5 }]
    ] as const
  ).map(([label, value]) => ({
    option: "exitDeadline",
    label,
    options: { exitDeadline: value },
    field: "exitDeadline",
    reason: `must be greater than zero, got ${showRunMain(value)}`
  })),
  ...["disableErrorReporting", "disablePrettyLogger"].flatMap((option) =>
    (
      [
        ['"yes"', "yes"],
        ['""', ""],
        ["1", 1],
        ["0", 0],
        ["NaN", Number.NaN],
        ["null", null],
        ["{}", {}],
        ["[]", []],
        ["a function", fn]
      ] as const
    ).map(([label, value]) => ({
      option,
      label,
      options: { [option]: value },
      field: option,
      reason: `must be a boolean, got ${showRunMain(value)}`
    }))
  )
]

/** Huge durations are legal: the deadline is chained past a Node timer's limit (runMain.test.ts). */
const hugeRunMain: ReadonlyArray<readonly [string, NodeSupervisor.RunMainOptions, number]> = [
  ['exitDeadline "30 days"', { exitDeadline: "30 days" }, 30 * DAY],
  ["exitDeadline 2^31 ms", { exitDeadline: 2 ** 31 }, 2 ** 31],
  ['exitDeadline "1000000 days"', { exitDeadline: "1000000 days" }, 1_000_000 * DAY],
  ["exitDeadline MAX_SAFE_INTEGER + 1", { exitDeadline: Number.MAX_SAFE_INTEGER + 1 }, Number.MAX_SAFE_INTEGER + 1],
  ["exitDeadline 1e308", { exitDeadline: 1e308 }, 1e308],
  ['grace "30 days" (deadline: grace + 5 s)', { grace: "30 days" }, 30 * DAY + 5_000],
  ["grace { days: 30 } (an Effect 4 duration object)", { grace: { days: 30 } }, 30 * DAY + 5_000],
  ["grace 1e308", { grace: 1e308 }, 1e308]
]

// =============================================================================================
// Table 2 — HealthServer options (through HealthServer.make and HealthServer.layer)
// =============================================================================================

const portReason = (value: unknown) => `must be an integer from 0 to 65535 (0: any free port), got ${showHealth(value)}`

const healthRows: ReadonlyArray<Row> = [
  ...(
    [
      ["undefined", undefined],
      ["null", null],
      ['"x"', "x"],
      ["9090", 9090],
      ["true", true],
      ["a function", fn]
    ] as const
  ).map(([label, value]) => ({
    option: "options",
    label,
    options: value,
    field: "options",
    reason: `must be an object, got ${showHealth(value)}`
  })),
  ...(
    [
      ["-1", -1],
      ["65536", 65536],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ["MAX_SAFE_INTEGER + 1", Number.MAX_SAFE_INTEGER + 1],
      ["1e308", 1e308],
      ['"80"', "80"],
      ['""', ""],
      ["null", null],
      ["missing", undefined],
      ["true", true],
      ["a function", fn],
      ["80n", 80n],
      ["{}", {}],
      ["[]", []],
      ["[80]", [80]],
      ["a symbol", Symbol("port")]
    ] as const
  ).map(([label, value]) => ({
    option: "port",
    label,
    options: value === undefined ? {} : { port: value },
    field: "port",
    reason: portReason(value)
  })),
  ...["host", "serviceName"].flatMap((option) =>
    (
      [
        ['""', ""],
        ['"   "', "   "],
        ['"\\t"', "\t"],
        ["42", 42],
        ["NaN", Number.NaN],
        ["null", null],
        ["true", true],
        ["a function", fn],
        ["{}", {}],
        ["[]", []],
        ['["x"]', ["x"]]
      ] as const
    ).map(([label, value]) => ({
      option,
      label,
      options: { port: 0, [option]: value },
      field: option,
      reason: `must be a non-empty string, got ${showHealth(value)}`
    }))
  ),
  ...(
    [
      ['"yes"', "yes"],
      ['""', ""],
      ["1", 1],
      ["0", 0],
      ["NaN", Number.NaN],
      ["null", null],
      ["{}", {}],
      ["[]", []],
      ["a function", fn]
    ] as const
  ).map(([label, value]) => ({
    option: "shutdownSupervisorFirst",
    label,
    options: { port: 0, shutdownSupervisorFirst: value },
    field: "shutdownSupervisorFirst",
    reason: `must be a boolean, got ${showHealth(value)}`
  }))
]

// =============================================================================================
// Runners
// =============================================================================================

/** Calls `f`, which must not throw. */
const noThrow = <A>(f: () => A): A => {
  let result: A | undefined
  expect(() => {
    result = f()
  }, "threw past the Effect boundary").not.toThrow()
  return result as A
}

/** The typed failure of `exit`; fails the test on a success, a defect or an interruption. */
const typedFailure = <E>(exit: Exit.Exit<unknown, E>): E => {
  if (Exit.isSuccess(exit)) return expect.fail(`expected a typed failure, got a success`)
  expect(Cause.hasDies(exit.cause), `a defect instead of a typed failure:\n${Cause.pretty(exit.cause)}`).toBe(false)
  expect(Cause.hasInterruptsOnly(exit.cause)).toBe(false)
  return Option.getOrThrow(Cause.findErrorOption(exit.cause))
}

const expectFieldError = (error: unknown, tag: string, prefix: string, field: string, reason: string): void => {
  const e = error as {
    readonly _tag: string
    readonly field: string
    readonly reason: string
    readonly message: string
  }
  expect(e._tag).toBe(tag)
  expect(e.field).toBe(field)
  expect(e.reason).toBe(reason)
  expect(e.reason).not.toContain("\n")
  expect(e.message).toBe(`${prefix}: ${field} ${reason}`)
}

/** Listening servers of this process (a refused health server must not open one). */
const servers = () => process.getActiveResourcesInfo().filter((type) => type === "TCPServerWrap").length

describe("BadInput: NodeSupervisor.runMain options (resolve)", () => {
  for (const row of runMainRows) {
    it(`${row.option} = ${row.label} → InvalidRunMainOptions(${row.field})`, () => {
      const resolved = noThrow(() => resolve(row.options as never))
      if (Result.isSuccess(resolved)) return expect.fail(`accepted: ${JSON.stringify(resolved.success)}`)
      expect(resolved.failure).toBeInstanceOf(NodeSupervisor.InvalidRunMainOptions)
      expectFieldError(resolved.failure, "InvalidRunMainOptions", "invalid runMain options", row.field, row.reason)
    })
  }

  for (const [label, options, deadlineMs] of hugeRunMain) {
    it(`${label}: accepted, the exit deadline is ${deadlineMs} ms (no clamp)`, () => {
      const resolved = noThrow(() => resolve(options))
      expect(Result.map(resolved, ({ graceMs: _, ...rest }) => rest)).toEqual(
        Result.succeed({ exitDeadlineMs: deadlineMs, disableErrorReporting: false, disablePrettyLogger: false })
      )
    })
  }
})

describe("BadInput: HealthServer options (make and layer)", () => {
  for (const row of healthRows) {
    it.effect(
      `${row.option} = ${row.label} → InvalidHealthServerOptions(${row.field}); no socket, the supervisor keeps running`,
      () =>
        Effect.gen(function* () {
          const before = servers()
          const sup = yield* Supervisor.make()
          const made = typedFailure(
            yield* Effect.exit(
              Effect.suspend(() =>
                Effect.scoped(noThrow(() => HealthServer.make(row.options as never))).pipe(
                  Effect.provideService(Supervisor.Supervisor, sup)
                )
              )
            )
          )
          expect(made).toBeInstanceOf(HealthServer.InvalidHealthServerOptions)
          expectFieldError(made, "InvalidHealthServerOptions", "invalid health server options", row.field, row.reason)
          const layered = typedFailure(
            yield* Effect.exit(
              Effect.suspend(() =>
                Effect.scoped(Layer.build(noThrow(() => HealthServer.layer(row.options as never)))).pipe(
                  Effect.provide(Layer.succeed(Supervisor.Supervisor, sup))
                )
              )
            )
          )
          expect(layered).toEqual(made)
          expect(servers()).toBe(before)
          expect(yield* sup.isShuttingDown).toBe(false)
        }).pipe(Effect.scoped)
    )
  }
})

describe("BadInput: how a refused value is named (describe)", () => {
  class Point {
    readonly x = 1
  }
  for (const [label, value, expected] of [
    ['"x"', "x", '"x"'],
    ['""', "", '""'],
    ["a string with a line break", "a\nb", '"a\\nb"'],
    ["0", 0, "0"],
    ["-0", -0, "-0"],
    ["-1.5", -1.5, "-1.5"],
    ["NaN", Number.NaN, "NaN"],
    ["Infinity", Number.POSITIVE_INFINITY, "Infinity"],
    ["-Infinity", Number.NEGATIVE_INFINITY, "-Infinity"],
    ["1e308", 1e308, "1e+308"],
    ["80n", 80n, "80n"],
    ["-10n", -10n, "-10n"],
    ["true", true, "true"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ['Symbol("port")', Symbol("port"), "Symbol(port)"],
    ["Symbol()", Symbol(), "Symbol()"],
    ["{}", {}, "an object"],
    ["a null-prototype object", Object.create(null), "an object"],
    ["a class instance", new Point(), "an object"],
    ["a Date", new Date(0), "an object"],
    ["[]", [], "an array"],
    ["[-1, 0]", [-1, 0], "an array"],
    ["a function", fn, "a function"],
    ["a class", Point, "a function"],
    ["Duration.infinity", Duration.infinity, "Duration(Infinity)"],
    ["Duration.seconds(5)", Duration.seconds(5), "Duration(5s)"]
  ] as const) {
    it(`${label} → ${expected}`, () => {
      const described = noThrow(() => describeValue(value))
      expect(described).toBe(expected)
      expect(described).not.toContain("\n")
    })
  }
})

// =============================================================================================
// Bugs found (one focused test each, failing before its fix; kept as regression tests)
// =============================================================================================

describe("BadInput: bugs found", () => {
  it('BUG: runMain grace -1 / NaN / -Infinity / "-5 seconds" / [-1, 0] / -10n is silently read as 0', () => {
    // `Duration.decodeUnknown` turns negative and NaN inputs into Duration.zero, and `grace` allows
    // zero: the exit deadline silently became 5 s instead of the option being refused. Fixed by
    // checking the raw input before decoding.
    for (const grace of [-1, Number.NaN, Number.NEGATIVE_INFINITY, "-5 seconds", [-1, 0], [Number.NaN, 0], -10n]) {
      const resolved = noThrow(() => resolve({ grace: grace as never }))
      expect(Result.isFailure(resolved), `grace ${String(grace)} was accepted`).toBe(true)
      if (Result.isFailure(resolved)) expect(resolved.failure.field).toBe("grace")
    }
  })

  it.effect('BUG: HealthServer reasons print {} as "[object Object]" and [] as nothing at all', () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      for (const [options, names] of [
        [{ port: {} }, "object"],
        [{ port: [] }, "array"],
        [{ port: 0, host: [] }, "array"],
        [{ port: 0, serviceName: {} }, "object"]
      ] as const) {
        const error = typedFailure(
          yield* Effect.exit(
            Effect.scoped(HealthServer.make(options as never)).pipe(Effect.provideService(Supervisor.Supervisor, sup))
          )
        )
        expect(error.reason).not.toMatch(/\[object Object\]|got $/)
        expect(error.reason).toContain(names)
      }
    }).pipe(Effect.scoped)
  )
})
