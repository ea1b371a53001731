/**
 * Bad input, as one table: every public option of the core APIs × invalid values (negative, NaN,
 * ±Infinity, zero where it is not allowed, 1.5 where an integer is needed, the wrong type at run
 * time, empty and blank strings, huge values) → a typed error whose `field` names the option
 * exactly and whose `reason` says what is wrong. Nothing throws past the Effect boundary (building
 * the effect never throws, running it never dies), nothing is clamped silently, nothing half-starts
 * (no task registered, no `TaskAdded`/`SlotSubmitted`, the task's effect never ran, no fibervisor
 * fiber started, no offload work started, no supervisor registered by a failed layer).
 *
 * Layout: the value catalogue, then one data table per API family (the rows), then the sections
 * that need a fresh TestClock — one "a minute later, still nothing" check per API, the huge values
 * that are legal (accepted, and they work without overflow), Node's 2^31-1 ms timer limit checked
 * with the TestClock (exact instants) and with the real clock (`it.live`, ~100 ms each), and "bugs
 * found" (one focused failing test per bug this table found, saying what it expects and what
 * happens today) — and last the runners of the tables: one test per row, driving every API that
 * accepts the row (a failure names the API: `[addAll] expected …`).
 *
 * Existing files test parts of this in more depth (Task.test.ts, Offload/config.test.ts,
 * tree/options.test.ts, tree/controller.test.ts "bad input"); this file is the one place that
 * lists every (API, option) × value.
 */
import { describe, expect, it, layer } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Layer, Logger, Option, Scope } from "effect"
import {
  Backoff,
  Offload,
  OffloadKey,
  RestartPolicy,
  Supervisor,
  SupervisorError,
  SupervisorRegistry,
  Task,
  TaskError
} from "@fibervisor/core"
import { live } from "../src/internal/compat.js"
import { type Ev, ofTag, setup, tags } from "./helpers/recorder.js"
import { flush, parked, TestTime } from "./helpers/tasks.js"
import { gate } from "./helpers/offload.js"

// =============================================================================================
// The value catalogue
// =============================================================================================

/** A function where a value is expected (one line, so a reason that prints it stays one line). */
const fn = () => 1

/**
 * How fibervisor prints a value in a reason (a copy of `internal/duration.ts` `describe`, the one
 * value printer every package uses).
 */
const d = (input: unknown): string => {
  if (typeof input === "string") return JSON.stringify(input)
  if (typeof input === "number") return Object.is(input, -0) ? "-0" : String(input)
  if (typeof input === "bigint") return `${input}n`
  if (typeof input === "function") return "a function"
  if (input === null) return "null"
  if (Array.isArray(input)) return "an array"
  if (Duration.isDuration(input)) return `Duration(${Duration.format(input)})`
  if (typeof input === "object") return "an object"
  return String(input)
}

/** One invalid value and the exact reason its validator gives. */
interface Bad {
  readonly label: string
  readonly value: unknown
  readonly reason: string
}

const DAY = 86_400_000
/** Node timers hold at most 2^31 - 1 ms; a longer delay passed to `setTimeout` fires at once. */
const NODE_TIMER_MAX = 2 ** 31 - 1

/** Every way a duration can be wrong (`internal/duration.ts` `decodeDuration`). */
const badDurations: ReadonlyArray<Bad> = [
  { label: "-1", value: -1, reason: "must not be negative, got -1" },
  { label: "-Infinity", value: Number.NEGATIVE_INFINITY, reason: "must not be negative, got -Infinity" },
  { label: "NaN", value: Number.NaN, reason: "must be a number of milliseconds, got NaN" },
  { label: "Infinity", value: Number.POSITIVE_INFINITY, reason: "must be finite, got Infinity" },
  { label: "Duration.infinity", value: Duration.infinity, reason: "must be finite" },
  { label: '"-1 seconds"', value: "-1 seconds", reason: 'must not be negative, got "-1 seconds"' },
  { label: '"x"', value: "x", reason: 'must be a duration such as "5 seconds", got "x"' },
  { label: '""', value: "", reason: 'must be a duration such as "5 seconds", got ""' },
  { label: '"   "', value: "   ", reason: 'must be a duration such as "5 seconds", got "   "' },
  {
    label: '"Infinity seconds"',
    value: "Infinity seconds",
    reason: `must be a duration such as "5 seconds", got "Infinity seconds"`
  },
  { label: "{}", value: {}, reason: "must be a duration, got an object" },
  { label: "[]", value: [], reason: "must be a duration, got an array" },
  { label: "[1, NaN]", value: [1, Number.NaN], reason: "must be finite" },
  { label: "[-1, 0]", value: [-1, 0], reason: "must not be negative" },
  { label: "null", value: null, reason: "must be a duration, got null" },
  { label: "true", value: true, reason: "must be a duration, got true" },
  { label: "a function", value: fn, reason: `must be a duration, got ${d(fn)}` },
  { label: "-1n", value: -1n, reason: "must not be negative, got -1n" }
]

/** Values that are not integers ≥ `min`, with the reason `reasonOf` gives. */
const badIntegers = (min: 0 | 1, reasonOf: (value: unknown) => string): ReadonlyArray<Bad> =>
  (
    [
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ['"3"', "3"],
      ['""', ""],
      ['"  "', "  "],
      ["{}", {}],
      ["[]", []],
      ["null", null],
      ["true", true],
      ["a function", fn],
      ...(min === 1 ? [["0", 0] as const] : [])
    ] as const
  ).map(([label, value]) => ({ label, value, reason: reasonOf(value) }))

const nonNegativeInteger = (v: unknown) => `must be a non-negative integer, got ${d(v)}`
const positiveInteger = (v: unknown) => `must be a positive integer, got ${d(v)}`

/** Values that are not booleans. */
const badBooleans: ReadonlyArray<Bad> = (
  [
    ['"yes"', "yes"],
    ['"true"', "true"],
    ['""', ""],
    ["1", 1],
    ["0", 0],
    ["NaN", Number.NaN],
    ["{}", {}],
    ["[]", []],
    ["null", null],
    ["a function", fn]
  ] as const
).map(([label, value]) => ({ label, value, reason: `must be a boolean, got ${d(value)}` }))

/** Values outside an enumeration (`values` quoted and joined as the reason lists them). */
const badChoices = (values: ReadonlyArray<string>, extra: ReadonlyArray<readonly [string, unknown]> = []) =>
  (
    [
      ['"x"', "x"],
      ['""', ""],
      ['"  "', "  "],
      [`"${values[0]!.toUpperCase()}"`, values[0]!.toUpperCase()],
      ["1", 1],
      ["NaN", Number.NaN],
      ["{}", {}],
      ["[]", []],
      ["null", null],
      ["true", true],
      ["a function", fn],
      ...extra
    ] as const
  ).map(([label, value]) => ({
    label,
    value,
    reason: `must be one of ${values.map((v) => `"${v}"`).join(", ")}, got ${d(value)}`
  }))

/** Values that are not non-empty strings (task names, slots). */
const badNames: ReadonlyArray<Bad> = (
  [
    ['""', ""],
    ['"   "', "   "],
    ['"\\t "', "\t "],
    ["42", 42],
    ["NaN", Number.NaN],
    ["{}", {}],
    ["[]", []],
    ["null", null],
    ["true", true],
    ["a function", fn]
  ] as const
).map(([label, value]) => ({ label, value, reason: `must be a non-empty string, got ${d(value)}` }))

/** Options objects that are not objects. */
const notObjects: ReadonlyArray<readonly [string, unknown]> = [
  ['"x"', "x"],
  ["5", 5],
  ["true", true],
  ["null", null],
  ["a function", fn]
]

/** Huge durations that are legal (finite): they must work, and must not overflow a Node timer. */
const hugeDurations: ReadonlyArray<readonly [string, Duration.Input, number]> = [
  ["2^31 ms (one past a Node timer's limit)", NODE_TIMER_MAX + 1, NODE_TIMER_MAX + 1],
  ['"30 days"', "30 days", 30 * DAY],
  ['"1000000 days"', "1000000 days", 1_000_000 * DAY],
  ["MAX_SAFE_INTEGER + 1 ms", Number.MAX_SAFE_INTEGER + 1, Number.MAX_SAFE_INTEGER + 1],
  ["1e308 ms", 1e308, 1e308]
]

// =============================================================================================
// Table 1 — task specs: Task.make's name, effect and options (also Backoff and RestartPolicy)
// =============================================================================================

/** A bad task spec: `build(effect)` makes the task around a counting effect. */
interface TaskRow {
  readonly option: string
  readonly label: string
  readonly field: string
  readonly reason: string
  /** The options object, for rows about an option (reused for `defaults` and `Supervisor.task`). */
  readonly options?: Record<string, unknown>
  readonly build: (effect: Effect.Effect<unknown>) => Task.Task<any, any>
}

const optionRow = (option: string, field: string, bad: Bad, options: Record<string, unknown>): TaskRow => ({
  option,
  label: bad.label,
  field,
  reason: bad.reason,
  options,
  build: (effect) => Task.make("t", effect, options as Task.TaskOptions)
})

const taskRows: ReadonlyArray<TaskRow> = [
  // name
  ...[
    ...badNames,
    { label: "undefined", value: undefined, reason: "" },
    { label: '"tenant/42"', value: "tenant/42", reason: "" },
    { label: '"/"', value: "/", reason: "" }
  ].map((bad): TaskRow => ({
    option: "name",
    label: bad.label,
    field: "name",
    reason: `must be a non-empty string without "/", got ${d(bad.value)}`,
    build: (effect) => Task.make(bad.value as string, effect)
  })),
  // effect
  ...(
    [
      ["null", null],
      ["undefined", undefined],
      ["42", 42],
      ['"x"', "x"],
      ["{}", {}],
      ["a function returning an Effect", () => Effect.void],
      ["a Promise", Promise.resolve(1)]
    ] as const
  ).map(([label, value]): TaskRow => ({
    option: "effect",
    label,
    field: "effect",
    reason: `must be an Effect, got ${d(value)}`,
    build: () => Task.make("t", value as never)
  })),
  // the options object itself (Task.make copies it, so only a task changed afterwards can carry one)
  ...(
    [
      ['"x"', "x"],
      ["5", 5],
      ["true", true],
      ["a function", fn]
    ] as const
  ).map(([label, value]): TaskRow => ({
    option: "options",
    label,
    field: "options",
    reason: `must be an object, got ${d(value)}`,
    build: (effect) => Object.assign(Task.make("t", effect), { options: value })
  })),
  // durations
  ...["timeout", "resetAfter", "grace"].flatMap((option) =>
    badDurations.map((bad) => optionRow(option, option, bad, { [option]: bad.value }))
  ),
  // maxRetries
  ...badIntegers(0, (v) => `must be a non-negative integer (or undefined for unlimited), got ${d(v)}`).map((bad) =>
    optionRow("maxRetries", "maxRetries", bad, { maxRetries: bad.value })
  ),
  // restart
  ...(
    [
      ['"always"', "always"],
      ['""', ""],
      ["undefined (explicit)", undefined],
      ["null", null],
      ["1", 1],
      ["true", true],
      ["{}", {}],
      ["[]", []],
      ["a function", fn],
      ['a look-alike { _tag: "Always" }', { _tag: "Always", interval: undefined }]
    ] as const
  ).map(([label, value]) =>
    optionRow(
      "restart",
      "restart",
      { label, value, reason: `must be a RestartPolicy, got ${d(value)}` },
      { restart: value }
    )
  ),
  // RestartPolicy.always({ interval })
  ...badDurations.map((bad) =>
    optionRow("RestartPolicy.always({ interval })", "restart.interval", bad, {
      restart: RestartPolicy.always({ interval: bad.value as Duration.Input })
    })
  ),
  ...badDurations.map((bad) =>
    optionRow("Task.periodic(every)", "restart.interval", bad, {
      restart: Task.periodic("p", Effect.void, bad.value as Duration.Input).options.restart
    })
  ),
  // backoff
  ...(
    [
      ['"fast"', "fast"],
      ['""', ""],
      ["undefined (explicit)", undefined],
      ["null", null],
      ["1", 1],
      ["true", true],
      ["{}", {}],
      ["[]", []],
      ["a function", fn],
      ["an Effect", Effect.void]
    ] as const
  ).map(([label, value]) =>
    optionRow("backoff", "backoff", { label, value, reason: "must be a Schedule" }, { backoff: value })
  ),
  // Backoff.exponential(options)
  ...(
    [
      ['"x"', "x"],
      ["5", 5],
      ["true", true],
      ["null", null],
      ["a function", fn]
    ] as const
  ).map(([label, value]) =>
    optionRow(
      "Backoff.exponential(options)",
      "backoff",
      { label, value, reason: "options must be an object" },
      { backoff: Backoff.exponential(value as never) }
    )
  ),
  optionRow(
    "Backoff.exponential(options)",
    "backoff.first",
    { label: "[]", value: [], reason: "must be a duration, got undefined" },
    { backoff: Backoff.exponential([] as never) }
  ),
  ...[...badDurations, { label: "missing", value: undefined, reason: "must be a duration, got undefined" }].map((bad) =>
    optionRow("Backoff.exponential({ first })", "backoff.first", bad, {
      backoff: Backoff.exponential({ first: bad.value as Duration.Input })
    })
  ),
  ...badDurations.map((bad) =>
    optionRow("Backoff.exponential({ max })", "backoff.max", bad, {
      backoff: Backoff.exponential({ first: 1, max: bad.value as Duration.Input })
    })
  ),
  ...badDurations.map((bad) =>
    optionRow("Backoff.exponential({ floor })", "backoff.floor", bad, {
      backoff: Backoff.exponential({ first: 1, floor: bad.value as Duration.Input })
    })
  ),
  ...(
    [
      ["-1", -1],
      ["0", 0],
      ["0.5", 0.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
      ['"2"', "2"],
      ['""', ""],
      ["{}", {}],
      ["[]", []],
      ["true", true],
      ["a function", fn]
    ] as const
  ).map(([label, value]) =>
    optionRow(
      "Backoff.exponential({ factor })",
      "backoff.factor",
      {
        label,
        value,
        reason: `must be a finite number ≥ 1, got ${typeof value === "number" ? String(value) : d(value)}`
      },
      { backoff: Backoff.exponential({ first: 1, factor: value as number }) }
    )
  ),
  ...(
    [
      ['"x"', "x"],
      ['""', ""],
      ['"  "', "  "],
      ['"Full"', "Full"],
      ["1", 1],
      ["{}", {}],
      ["[]", []],
      ["true", true]
    ] as const
  ).map(([label, value]) =>
    optionRow(
      "Backoff.exponential({ jitter })",
      "backoff.jitter",
      { label, value, reason: `must be "none", "full", "equal" or "band", got ${d(value)}` },
      { backoff: Backoff.exponential({ first: 1, jitter: value as never }) }
    )
  ),
  optionRow(
    "Backoff.exponential({ first, max })",
    "backoff.first",
    { label: "first 1 minute > max 1 second", value: "1 minute", reason: "must not exceed max (60000 ms > 1000 ms)" },
    { backoff: Backoff.exponential({ first: "1 minute", max: "1 second" }) }
  ),
  optionRow(
    "Backoff.exponential({ floor, max })",
    "backoff.floor",
    { label: "floor 2 seconds > max 1 second", value: "2 seconds", reason: "must not exceed max (2000 ms > 1000 ms)" },
    { backoff: Backoff.exponential({ first: 1, max: "1 second", floor: "2 seconds" }) }
  ),
  ...[...badDurations, { label: "undefined", value: undefined, reason: "must be a duration, got undefined" }].map(
    (bad) =>
      optionRow("Backoff.constant(delay)", "backoff.delay", bad, {
        backoff: Backoff.constant(bad.value as Duration.Input)
      })
  ),
  // isFatal
  ...(
    [
      ['"x"', "x"],
      ['""', ""],
      ["true", true],
      ["1", 1],
      ["NaN", Number.NaN],
      ["{}", {}],
      ["[]", []],
      ["null", null]
    ] as const
  ).map(([label, value]) =>
    optionRow("isFatal", "isFatal", { label, value, reason: `must be a function, got ${d(value)}` }, { isFatal: value })
  ),
  // flags
  ...["significant", "escalate"].flatMap((option) =>
    badBooleans.map((bad) => optionRow(option, option, bad, { [option]: bad.value }))
  ),
  ...badBooleans.map((bad) =>
    optionRow(
      "ready",
      "ready",
      { ...bad, reason: `must be a boolean or "reported", got ${d(bad.value)}` },
      { ready: bad.value }
    )
  ),
  optionRow(
    "significant",
    "significant",
    {
      label: "true with RestartPolicy.always",
      value: true,
      reason:
        "cannot be set on a RestartPolicy.always task: it never ends by itself (OTP allows it only for transient and temporary children)"
    },
    { significant: true, restart: RestartPolicy.always() }
  )
]

/** The task options a supervisor's `defaults` can carry. */
const defaultable = new Set(["restart", "backoff", "timeout", "maxRetries", "resetAfter", "grace"])

// =============================================================================================
// Table 2 — supervisor options: Supervisor.make / layer / run, and Supervisor.task's options
// =============================================================================================

interface SupervisorRow {
  readonly option: string
  readonly label: string
  readonly options: unknown
  readonly field: string
  readonly reason: string
  /** The option also applies to a nested supervisor (`Supervisor.task`), with the same field. */
  readonly nested: boolean
}

const supRow = (option: string, field: string, bad: Bad, options: unknown, nested = true): SupervisorRow => ({
  option,
  label: bad.label,
  options,
  field,
  reason: bad.reason,
  nested
})

const supervisorRows: ReadonlyArray<SupervisorRow> = [
  // the options object itself
  ...notObjects.map(([label, value]) =>
    supRow("options", "options", { label, value, reason: `must be an object, got ${d(value)}` }, value)
  ),
  // grace (0 is allowed: abandon at once)
  ...badDurations.map((bad) => supRow("grace", "grace", bad, { grace: bad.value })),
  // maxConcurrent
  ...badIntegers(1, positiveInteger).map((bad) =>
    supRow("maxConcurrent", "maxConcurrent", bad, { maxConcurrent: bad.value })
  ),
  // eventBuffer (root only)
  ...badIntegers(1, positiveInteger).map((bad) =>
    supRow("eventBuffer", "eventBuffer", bad, { eventBuffer: bad.value }, false)
  ),
  // name (root only)
  ...[...badNames, { label: '"a/b"', value: "a/b", reason: "" }].map((bad) =>
    supRow(
      "name",
      "name",
      { ...bad, reason: `must be a non-empty string without "/", got ${d(bad.value)}` },
      { name: bad.value },
      false
    )
  ),
  // strategy, autoShutdown
  ...badChoices(["one-for-one", "one-for-all", "rest-for-one"], [['"one-for-two"', "one-for-two"]]).map((bad) =>
    supRow("strategy", "strategy", bad, { strategy: bad.value })
  ),
  ...badChoices(["never", "any-significant", "all-significant"], [['"sometimes"', "sometimes"]]).map((bad) =>
    supRow("autoShutdown", "autoShutdown", bad, { autoShutdown: bad.value })
  ),
  // intensity
  ...notObjects.map(([label, value]) =>
    supRow(
      "intensity",
      "intensity",
      { label, value, reason: `must be an object { maxRestarts, within } (or undefined for none), got ${d(value)}` },
      { intensity: value }
    )
  ),
  ...badIntegers(0, nonNegativeInteger).map((bad) =>
    supRow("intensity.maxRestarts", "intensity.maxRestarts", bad, {
      intensity: { maxRestarts: bad.value, within: "1 second" }
    })
  ),
  supRow(
    "intensity.maxRestarts",
    "intensity.maxRestarts",
    { label: "missing", value: undefined, reason: nonNegativeInteger(undefined) },
    { intensity: { within: "1 second" } }
  ),
  ...[
    ...badDurations,
    { label: "0", value: 0, reason: "must be greater than zero" },
    { label: '"0 millis"', value: "0 millis", reason: "must be greater than zero" },
    { label: "missing", value: undefined, reason: "must be a duration, got undefined" }
  ].map((bad) =>
    supRow("intensity.within", "intensity.within", bad, { intensity: { maxRestarts: 1, within: bad.value } })
  ),
  // maxSlotQueue (root only; 0 is allowed: a busy slot queues nothing)
  ...badIntegers(0, nonNegativeInteger).map((bad) =>
    supRow("maxSlotQueue", "maxSlotQueue", bad, { maxSlotQueue: bad.value }, false)
  ),
  // defaults itself
  ...notObjects.map(([label, value]) =>
    supRow("defaults", "defaults", { label, value, reason: `must be an object, got ${d(value)}` }, { defaults: value })
  ),
  // defaults.<option>: every task-spec row about an option a supervisor can default
  ...taskRows
    .filter((row) => row.options !== undefined && Object.keys(row.options).every((key) => defaultable.has(key)))
    .map((row) =>
      supRow(
        `defaults.${row.option}`,
        `defaults.${row.field}`,
        { label: row.label, value: undefined, reason: row.reason },
        { defaults: row.options }
      )
    )
]

/** Root-only options: a nested supervisor refuses them whatever their value. */
const rootOnly: ReadonlyArray<readonly [string, unknown, string]> = [
  ["eventBuffer", 8, "cannot be set on a nested supervisor: the whole tree publishes on its root's bus"],
  ["name", "db", "cannot be set on a nested supervisor: it is named by its task"],
  ["maxSlotQueue", 3, "cannot be set on a nested supervisor: controller submissions go to a root supervisor"]
]

/** `Supervisor.task(name, children)`: the children themselves. */
const childrenRows: ReadonlyArray<{
  readonly label: string
  readonly children: (effect: Effect.Effect<unknown>) => unknown
  readonly field: string
  readonly reason: string
}> = [
  ...[...notObjects, ["undefined", undefined] as const, ["{}", {}] as const].map(([label, value]) => ({
    label: `children ${label}`,
    children: () => value,
    field: "children",
    reason: `must be an array of tasks, got ${d(value)}`
  })),
  ...(
    [
      ["null", null],
      ["undefined", undefined],
      ['"x"', "x"],
      ["5", 5],
      ["{}", {}],
      ["a task look-alike", { name: "a", effect: Effect.void, options: {} }],
      ["an Effect", Effect.void]
    ] as const
  ).map(([label, value]) => ({
    label: `children[1] ${label}`,
    children: (effect: Effect.Effect<unknown>) => [Task.make("a", effect), value],
    field: "children[1]",
    reason: `must be a Task, got ${d(value)}`
  })),
  {
    label: "two children named a",
    children: (effect: Effect.Effect<unknown>) => [Task.make("a", effect), Task.make("a", effect)],
    field: "children[1].name",
    reason: `"a" is used by an earlier child`
  },
  {
    label: "a significant child under autoShutdown never",
    children: (effect: Effect.Effect<unknown>) => [Task.make("a", effect, { significant: true })],
    field: "children[0].significant",
    reason: `cannot be set under a supervisor whose autoShutdown is "never"`
  }
]

// =============================================================================================
// Table 3 — arguments of supervisor operations
// =============================================================================================

/** `sup.submit(task, options)`. */
const submitRows: ReadonlyArray<{
  readonly label: string
  readonly options: unknown
  readonly field: string
  readonly reason: string
}> = [
  ...[...notObjects, ["undefined", undefined] as const].map(([label, value]) => ({
    label: `options ${label}`,
    options: value,
    field: "options",
    reason: `must be an object { slot?, admission }, got ${d(value)}`
  })),
  ...[
    ...badChoices(["queue", "replace", "drop-if-running"], [['"later"', "later"]]),
    { label: "missing", value: undefined, reason: "" }
  ].map((bad) => ({
    label: `admission ${bad.label}`,
    options: { admission: bad.value },
    field: "admission",
    reason: `must be one of "queue", "replace", "drop-if-running", got ${d(bad.value)}`
  })),
  ...badNames.map((bad) => ({
    label: `slot ${bad.label}`,
    options: { admission: "queue", slot: bad.value },
    field: "slot",
    reason: bad.reason
  }))
]

/** Refs of the wrong type at run time: `remove`, `cancel` and `get` find nothing, and do not throw. */
const weirdRefs: ReadonlyArray<readonly [string, unknown]> = [
  ["null", null],
  ["undefined", undefined],
  ["{}", {}],
  ["[]", []],
  ["NaN", Number.NaN],
  ["-1", -1],
  ["1.5", 1.5],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["true", true],
  ['""', ""],
  ['"   "', "   "],
  ["a function", fn],
  ["a symbol", Symbol("t")],
  ["0n", 0n]
]

// =============================================================================================
// Table 4 — Offload
// =============================================================================================

/** `Offload.layer(config)`: `reason` is exact, or a pattern for the messages `effect/Schema` writes. */
interface OffloadRow {
  readonly label: string
  readonly config: unknown
  readonly field: string
  readonly reason: string | RegExp
}

/** Schema's own message for a value of the wrong type (Effect 4: "Expected number, got \"3\""). */
const schemaExpected = (type: string) => new RegExp(`^Expected ${type}, got `)

/** Schema's own message for a required key that is absent (Effect 4's text; Effect 3's was "is missing"). */
const schemaMissing = "Missing key"

const offloadPositiveInt = (path: string, wrap: (v: unknown) => unknown): ReadonlyArray<OffloadRow> =>
  (
    [
      ["0", 0],
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY]
    ] as const
  )
    .map(([label, value]): OffloadRow => ({
      label: `${path} ${label}`,
      config: wrap(value),
      field: path,
      reason: `must be a positive integer, got ${String(value)}`
    }))
    .concat(
      (
        [
          ['"3"', "3"],
          ['""', ""],
          ["{}", {}],
          ["[]", []],
          ["null", null],
          ["true", true],
          ["a function", fn]
        ] as const
      ).map(([label, value]) => ({
        label: `${path} ${label}`,
        config: wrap(value),
        field: path,
        reason: schemaExpected("number")
      }))
    )

const offloadTimeoutRows = (path: string, wrap: (timeout: unknown) => unknown): ReadonlyArray<OffloadRow> => [
  ...(
    [
      ['"x"', "x"],
      ["5", 5],
      ["null", null],
      ["true", true],
      ["[]", []]
    ] as const
  ).map(([label, value]) => ({
    label: `${path} ${label}`,
    config: wrap(value),
    field: path,
    reason: `must be an object { after, policy }, got ${d(value)}`
  })),
  { label: `${path} {}`, config: wrap({}), field: `${path}.after`, reason: schemaMissing },
  ...[...badDurations, { label: "0", value: 0, reason: "must be greater than zero" }].map((bad) => ({
    label: `${path}.after ${bad.label}`,
    config: wrap({ after: bad.value, policy: "cancel" }),
    field: `${path}.after`,
    reason: bad.reason
  })),
  ...(
    [
      ['"nope"', "nope"],
      ['""', ""],
      ['"  "', "  "],
      ['"CANCEL"', "CANCEL"],
      ["1", 1],
      ["null", null],
      ["{}", {}],
      ["[]", []],
      ["true", true]
    ] as const
  ).map(([label, value]) => ({
    label: `${path}.policy ${label}`,
    config: wrap({ after: "1 second", policy: value }),
    field: `${path}.policy`,
    reason: `must be "cancel" or "warn", got ${d(value)}`
  })),
  {
    label: `${path}.policy missing`,
    config: wrap({ after: "1 second" }),
    field: `${path}.policy`,
    reason: schemaMissing
  },
  {
    label: `${path} with an unknown field`,
    config: wrap({ after: 5, policy: "cancel", every: 1 }),
    field: `${path}.every`,
    reason: /unexpected/i
  }
]

const offloadRows: ReadonlyArray<OffloadRow> = [
  // the config itself
  ...[...notObjects, ["[]", []] as const].map(([label, value]) => ({
    label: `config ${label}`,
    config: value,
    field: "config",
    reason: `must be an object, got ${d(value)}`
  })),
  { label: "an unknown field (a typo)", config: { maxConcurent: 3 }, field: "maxConcurent", reason: /unexpected/i },
  // maxConcurrent
  ...offloadPositiveInt("maxConcurrent", (v) => ({ maxConcurrent: v })),
  // perKind
  ...(
    [
      ["5", 5],
      ['"x"', "x"],
      ["null", null],
      ["true", true],
      ["[]", []],
      ["a function", fn]
    ] as const
  ).map(([label, value]) => ({
    label: `perKind ${label}`,
    config: { perKind: value },
    field: "perKind",
    reason: `must be an object { [kind]: { maxConcurrent?, timeout?, logFailures? } }, got ${d(value)}`
  })),
  ...(
    [
      ["5", 5],
      ['"x"', "x"],
      ["null", null],
      ["true", true],
      ["[]", []]
    ] as const
  ).map(([label, value]) => ({
    label: `perKind.revalidate ${label}`,
    config: { perKind: { revalidate: value } },
    field: "perKind.revalidate",
    reason: `must be an object { maxConcurrent?, timeout?, logFailures? }, got ${d(value)}`
  })),
  {
    label: "perKind.revalidate with an unknown field",
    config: { perKind: { revalidate: { max: 1 } } },
    field: "perKind.revalidate.max",
    reason: /unexpected/i
  },
  ...offloadPositiveInt("perKind.revalidate.maxConcurrent", (v) => ({ perKind: { revalidate: { maxConcurrent: v } } })),
  ...offloadTimeoutRows("perKind.revalidate.timeout", (t) => ({ perKind: { revalidate: { timeout: t } } })),
  // onFull (its queue is reported under onFull: the union's own message)
  ...(
    [
      ['"drop"', "drop"],
      ['""', ""],
      ['"REJECT"', "REJECT"],
      ["0", 0],
      ["-1", -1],
      ["null", null],
      ["true", true],
      ["[]", []]
    ] as const
  ).map(([label, value]) => ({
    label: `onFull ${label}`,
    config: { onFull: value },
    field: "onFull",
    reason: `must be "reject" or { queue: n } with n a positive integer, got ${d(value)}`
  })),
  {
    label: "onFull {}",
    config: { onFull: {} },
    field: "onFull",
    reason: 'must be "reject" or { queue: n } with n a positive integer, got an object without queue'
  },
  {
    label: "onFull with an unknown field",
    config: { onFull: { queue: 1, size: 2 } },
    field: "onFull",
    reason: 'must be "reject" or { queue: n } with n a positive integer, got an object with the unexpected field "size"'
  },
  ...(
    [
      ["0", 0],
      ["-1", -1],
      ["1.5", 1.5],
      ['"3"', "3"],
      ["null", null],
      ["{}", {}]
    ] as const
  ).map(([label, value]) => ({
    label: `onFull.queue ${label}`,
    config: { onFull: { queue: value } },
    field: "onFull",
    reason: `must be "reject" or { queue: n } with n a positive integer, got { queue: ${d(value)} }`
  })),
  // timeout
  ...offloadTimeoutRows("timeout", (t) => ({ timeout: t })),
  // deduplicate
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
    label: `deduplicate ${label}`,
    config: { deduplicate: value },
    field: "deduplicate",
    reason: schemaExpected("boolean")
  })),
  // grace (0 is allowed: cut off at once)
  ...badDurations.map((bad) => ({
    label: `grace ${bad.label}`,
    config: { grace: bad.value },
    field: "grace",
    reason: bad.reason
  }))
]

/** Keys that `register` refuses: the outcome is `"rejected"` and the warning says why. */
const badKeys: ReadonlyArray<readonly [label: string, key: () => unknown, problem: string]> = [
  ['OffloadKey.auto("")', () => OffloadKey.auto(""), "kind must be a non-empty string"],
  ["OffloadKey.auto(5)", () => OffloadKey.auto(5 as never), "kind must be a non-empty string"],
  ["OffloadKey.auto(null)", () => OffloadKey.auto(null as never), "kind must be a non-empty string"],
  ["OffloadKey.auto(undefined)", () => OffloadKey.auto(undefined as never), "kind must be a non-empty string"],
  ["OffloadKey.auto({})", () => OffloadKey.auto({} as never), "kind must be a non-empty string"],
  ['OffloadKey.keyed("k", "")', () => OffloadKey.keyed("k", ""), "kind must be a non-empty string"],
  ['OffloadKey.keyed("k", 5)', () => OffloadKey.keyed("k", 5 as never), "kind must be a non-empty string"],
  ['OffloadKey.keyed(5, "kind")', () => OffloadKey.keyed(5 as never, "kind"), "key must be a string"],
  ['OffloadKey.keyed(null, "kind")', () => OffloadKey.keyed(null as never, "kind"), "key must be a string"],
  ['OffloadKey.keyed({}, "kind")', () => OffloadKey.keyed({} as never, "kind"), "key must be a string"],
  ['OffloadKey.keyed(undefined, "kind")', () => OffloadKey.keyed(undefined as never, "kind"), "key must be a string"],
  ['OffloadKey.keyed("", "kind")', () => OffloadKey.keyed("", "kind"), "key must be a non-empty string"],
  ['OffloadKey.keyed("   ", "kind")', () => OffloadKey.keyed("   ", "kind"), "key must not be blank (whitespace only)"],
  ['OffloadKey.keyed("k", " ")', () => OffloadKey.keyed("k", " "), "kind must not be blank (whitespace only)"],
  ['OffloadKey.auto("   ")', () => OffloadKey.auto("   "), "kind must not be blank (whitespace only)"],
  ...(
    [
      ["null", null],
      ["undefined", undefined],
      ['"kind"', "kind"],
      ["{}", {}],
      ['a look-alike { _tag: "Auto", kind }', { _tag: "Auto", kind: "kind" }]
    ] as const
  ).map(
    ([label, value]) =>
      [`key ${label}`, () => value, "key must be an OffloadKey (OffloadKey.keyed or OffloadKey.auto)"] as const
  )
]

/** `Offload.spawn(kind, effect)` with a bad kind: the work never runs (spawn returns void). */
const badKinds: ReadonlyArray<readonly [string, unknown]> = [
  ['""', ""],
  ["5", 5],
  ["null", null],
  ["undefined", undefined],
  ["{}", {}],
  ["a function", fn]
]

// =============================================================================================
// Runners: helpers
// =============================================================================================

/** Builds an effect (which must not throw) and runs it to its exit. */
const exitOf = <A, E, R>(build: () => Effect.Effect<A, E, R>): Effect.Effect<Exit.Exit<A, E>, never, R> => {
  let effect: Effect.Effect<A, E, R> | undefined
  expect(() => {
    effect = build()
  }, "building the effect threw past the Effect boundary").not.toThrow()
  return Effect.exit(effect!)
}

/**
 * The typed failure of `exit`; fails the test on a success, a defect or an interruption. Typed as
 * the fields the tables read (the class is checked by `expectFieldError`).
 */
const typedFailure = <E>(
  exit: Exit.Exit<unknown, E>
): E & { readonly field: string; readonly reason: string; readonly task: string; readonly operation: string } => {
  if (Exit.isSuccess(exit)) return expect.fail(`expected a typed failure, got a success: ${String(exit.value)}`)
  expect(Cause.hasDies(exit.cause), `a defect instead of a typed failure:\n${Cause.pretty(exit.cause)}`).toBe(false)
  expect(Cause.hasInterruptsOnly(exit.cause)).toBe(false)
  return Option.getOrThrow(Cause.findErrorOption(exit.cause)) as any
}

/** The value of `exit`; fails the test on any failure (a defect above all). */
const success = <A>(exit: Exit.Exit<A, unknown>): A => {
  if (Exit.isFailure(exit)) return expect.fail(`expected a success, got:\n${Cause.pretty(exit.cause)}`)
  return exit.value
}

/** Checks an error's class, `field` (exactly) and `reason`, and that its message carries both. */
const expectFieldError = (
  error: unknown,
  Class: abstract new (...args: any) => { readonly _tag: string; readonly message: string },
  field: string,
  reason: string | RegExp
): void => {
  expect(error).toBeInstanceOf(Class)
  const e = error as { readonly field: string; readonly reason: string; readonly message: string }
  expect(e.field).toBe(field)
  if (typeof reason === "string") expect(e.reason).toBe(reason)
  else expect(e.reason).toMatch(reason)
  expect(e.reason.length).toBeGreaterThan(0)
  expect(e.reason).not.toContain("\n")
  expect(e.message).toContain(`${field} ${e.reason}`)
}

/**
 * Runs one API's checks; a failure is reported with the API's name in front (one test drives
 * every API that accepts the row).
 */
const via = <A, E, R>(api: string, check: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.catchDefect(check, (defect) => {
    if (defect instanceof Error) defect.message = `[${api}] ${defect.message}`
    return Effect.die(defect)
  })

/** An effect that counts how often it ran. */
const counting = () => {
  let runs = 0
  return {
    effect: Effect.sync(() => {
      runs += 1
    }) as Effect.Effect<unknown>,
    runs: () => runs
  }
}

/** Events that mean something started. */
const startedTags: ReadonlyArray<Ev["_tag"]> = [
  "TaskAdded",
  "SlotSubmitted",
  "SlotTransition",
  "AttemptStarting",
  "TaskRemoveRequested",
  "TaskFinished"
]

/**
 * Nothing half-started: once every runnable fiber has run, no task is registered or queued, none
 * of `startedTags` was published, the counted effect never ran, no fibervisor fiber was started
 * (`fibersBefore` read at the start), and the supervisor itself still runs. (A refusal schedules
 * nothing for later; "a minute later, still nothing" is checked once per API, with the clock.)
 */
const expectNothingStarted = (
  sup: Supervisor.Supervisor,
  events: Effect.Effect<ReadonlyArray<Ev>>,
  runs: () => number,
  fibersBefore: number
) =>
  Effect.gen(function* () {
    yield* flush
    expect(runs()).toBe(0)
    expect(yield* sup.size).toBe(0)
    expect(yield* sup.list).toEqual([])
    expect(yield* sup.slots).toEqual([])
    expect(tags(yield* events).filter((tag) => startedTags.includes(tag))).toEqual([])
    expect(live.fibers).toBe(fibersBefore)
    expect(yield* sup.isShuttingDown).toBe(false)
  })

/** The fibervisor fibers alive now (read after the previous test's scope has closed). */
const fibersNow = Effect.sync(() => live.fibers)

/** A supervisor with one running task "t" (parked), and a check that it is untouched. */
const withRunningTask = Effect.gen(function* () {
  const recorded = yield* setup()
  const started = yield* Deferred.make<void>()
  const handle = yield* recorded.sup.add(Task.make("t", parked(started)))
  yield* Deferred.await(started)
  const untouched = Effect.gen(function* () {
    yield* flush
    expect(yield* handle.poll).toEqual(Option.none())
    expect(Option.map(yield* recorded.sup.get("t"), (info) => [info.state, info.attempt])).toEqual(
      Option.some(["running", 1])
    )
    expect(
      tags(yield* recorded.events).filter((tag) => tag === "TaskRemoveRequested" || tag === "TaskFinished")
    ).toEqual([])
  })
  return { ...recorded, handle, untouched }
})

const offloadServices: ReadonlyArray<readonly [string, Layer.Layer<Offload.Offload>]> = [
  ["Offload.layer()", Layer.orDie(Offload.layer())],
  ["Offload.layerInline", Offload.layerInline]
]

/** Collects the messages of the log lines written while `effect` runs. */
const withLogs = <A, E, R>(effect: (logs: Array<string>) => Effect.Effect<A, E, R>) => {
  const logs: Array<string> = []
  const logger = Logger.make(({ message }) => {
    logs.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })
  return Effect.provide(effect(logs), Logger.layer([logger]))
}

// =============================================================================================
// A refusal schedules nothing: a minute later, still nothing (one row per API, with the clock)
// =============================================================================================

describe("BadInput: a refusal schedules nothing for later", () => {
  it.effect("every API refuses one bad row; a minute later nothing has started, no fiber is left", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const work = counting()
      const before = yield* fibersNow
      const bad = () => Task.make("t", work.effect, { timeout: -1 })
      const refusals: ReadonlyArray<readonly [string, () => Effect.Effect<unknown, unknown>]> = [
        ["add", () => sup.add(bad())],
        ["addAll", () => sup.addAll([Task.make("good", work.effect), bad()])],
        ["submit", () => sup.submit(bad(), { admission: "queue" })],
        ["submit options", () => sup.submit(Task.make("job", work.effect), { admission: "later" as never })],
        ["Supervisor.task child", () => sup.add(Supervisor.task("g", [bad()]))],
        [
          "Supervisor.task options",
          () => sup.add(Supervisor.task("g", [Task.make("c", work.effect)], { maxConcurrent: 0 }))
        ],
        ["Supervisor.run", () => Supervisor.run([bad()])],
        ["Supervisor.run options", () => Supervisor.run([Task.make("t", work.effect)], { grace: -1 })],
        [
          "Supervisor.layer",
          () => Supervisor.add(Task.make("t", work.effect)).pipe(Effect.provide(Supervisor.layer({ eventBuffer: 0 })))
        ],
        ["cancel timeout", () => sup.cancel("t", { timeout: Number.NaN })],
        [
          "Offload.layer",
          () => Offload.spawn("k", work.effect).pipe(Effect.provide(Offload.layer({ maxConcurrent: 0 })))
        ],
        ["awaitIdle", () => Offload.awaitIdle(-1).pipe(Effect.provide(Offload.layerInline))]
      ]
      for (const [api, refuse] of refusals) yield* via(api, Effect.map(exitOf(refuse), typedFailure))
      const offload = yield* Offload.make()
      expect(yield* offload.register(OffloadKey.auto(""), work.effect)).toBe("rejected")
      yield* TestTime.adjust("1 minute")
      expect(work.runs()).toBe(0)
      expect(yield* sup.size).toBe(0)
      expect(yield* sup.slots).toEqual([])
      expect(yield* offload.activeCount).toBe(0)
      expect(tags(yield* events).filter((tag) => startedTags.includes(tag))).toEqual([])
      expect(live.fibers).toBe(before)
    })
  )
})

// =============================================================================================
// Huge values that are legal: accepted, and they work without overflow
// =============================================================================================

describe("BadInput: huge values that are legal are accepted and work", () => {
  for (const [label, input] of hugeDurations) {
    it.effect(
      `task timeout / grace / resetAfter / restart interval / backoff = ${label}: accepted, the task runs`,
      () =>
        Effect.gen(function* () {
          const { sup, waitFor } = yield* setup()
          for (const [name, options] of [
            ["timeout", { timeout: input }],
            ["grace", { grace: input }],
            ["resetAfter", { resetAfter: input }],
            ["interval", { restart: RestartPolicy.always({ interval: input }) }],
            ["backoff", { backoff: Backoff.exponential({ first: input, max: input, floor: input }) }],
            ["constant", { backoff: Backoff.constant(input) }]
          ] as const) {
            yield* Task.validate(Task.make(name, Effect.void, options))
            const started = yield* Deferred.make<void>()
            yield* sup.add(Task.make(name, parked(started), options))
            yield* Deferred.await(started)
            yield* waitFor("AttemptStarting", (e) => e.task === name)
          }
          expect((yield* sup.list).map((info) => [info.name, info.state])).toEqual(
            ["timeout", "grace", "resetAfter", "interval", "backoff", "constant"].map((name) => [name, "running"])
          )
        })
    )
  }

  for (const [label, value] of [
    ["MAX_SAFE_INTEGER + 1", Number.MAX_SAFE_INTEGER + 1],
    ["1e308", 1e308]
  ] as const) {
    it.effect(`maxRetries = ${label}: accepted; a failing task keeps retrying`, () =>
      Effect.gen(function* () {
        const { sup } = yield* setup()
        yield* sup.add(
          Task.make("flaky", Effect.fail(TaskError.fail("boom")), {
            maxRetries: value,
            backoff: Backoff.constant("1 second")
          })
        )
        yield* flush
        yield* TestTime.adjust("3 seconds")
        expect(Option.map(yield* sup.get("flaky"), (info) => [info.attempt, info.restarts, info.state])).toEqual(
          Option.some([4, 4, "backing-off"])
        )
      })
    )

    it.effect(`maxConcurrent / maxSlotQueue / intensity.maxRestarts = ${label}: accepted; tasks run`, () =>
      Effect.gen(function* () {
        const sup = yield* Supervisor.make({
          maxConcurrent: value,
          maxSlotQueue: value,
          intensity: { maxRestarts: value, within: "1 second" }
        })
        const outcomes = yield* sup.run([Task.once("a", Effect.void), Task.once("b", Effect.void)])
        expect(outcomes.map((o) => o._tag)).toEqual(["Completed", "Completed"])
        const handle = yield* sup.submit(Task.once("s", Effect.void), { admission: "queue" })
        expect((yield* handle.await)._tag).toBe("Completed")
      })
    )

    it.effect(`Backoff.exponential factor = ${label}: accepted; the delays are exact and capped at max`, () =>
      Effect.gen(function* () {
        const { sup, waitFor, events } = yield* setup()
        yield* sup.add(
          Task.make("flaky", Effect.fail(TaskError.fail("boom")), {
            backoff: Backoff.exponential({ first: "1 millis", factor: value, max: "30 days" }),
            maxRetries: 3
          })
        )
        yield* flush
        yield* TestTime.adjust(1 + 2 * 30 * DAY)
        expect((yield* waitFor("TaskFinished")).outcome).toBe("Failed")
        expect(ofTag("BackoffScheduled")(yield* events).map((e) => [e.at, e.delayMs])).toEqual([
          [0, 1],
          [1, 30 * DAY],
          [1 + 30 * DAY, 30 * DAY]
        ])
      })
    )

    it.effect(`Offload maxConcurrent / perKind maxConcurrent / onFull.queue = ${label}: accepted; work runs`, () =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({
          maxConcurrent: value,
          perKind: { k: { maxConcurrent: value } },
          onFull: { queue: value }
        })
        const work = counting()
        expect(yield* offload.register(OffloadKey.auto("k"), work.effect)).toBe("spawned")
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(work.runs()).toBe(1)
      })
    )
  }

  for (const [label, input, ms] of hugeDurations) {
    it.effect(`Offload timeout.after / grace = ${label}, awaitIdle(${label}), cancel timeout ${label}: accepted`, () =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({ timeout: { after: input, policy: "cancel" }, grace: input })
        const work = counting()
        expect(yield* offload.register(OffloadKey.auto("k"), work.effect)).toBe("spawned")
        expect(yield* offload.awaitIdle(input)).toBe(true)
        expect(work.runs()).toBe(1)
        const sup = yield* Supervisor.make({ grace: input })
        const started = yield* Deferred.make<void>()
        yield* sup.add(Task.make("t", parked(started)))
        yield* Deferred.await(started)
        expect(yield* sup.cancel("t", { timeout: input })).toBe(true)
        expect(ms).toBeGreaterThan(NODE_TIMER_MAX)
      })
    )
  }
})

// =============================================================================================
// Durations past a Node timer's limit (2^31 - 1 ms ≈ 24.9 days): exact under the TestClock, and
// not firing at once on the real clock
// =============================================================================================

describe("BadInput: durations past a Node timer's limit (TestClock: exact instants)", () => {
  it.effect('Supervisor grace "30 days": a stuck task is abandoned exactly 30 days after its remove', () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ grace: "30 days" })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const handle = yield* sup.add(Task.make("stuck", parked(started, Deferred.await(release))))
      yield* Deferred.await(started)
      expect(yield* sup.remove("stuck")).toBe(true)
      yield* TestTime.adjust(30 * DAY - 1)
      expect(yield* handle.poll).toEqual(Option.none())
      yield* TestTime.adjust(1)
      yield* flush
      expect(Option.getOrThrow(yield* handle.poll)).toMatchObject({
        _tag: "ForceAborted",
        reason: `did not stop within its grace of ${30 * DAY} ms`
      })
      yield* Deferred.succeed(release, undefined)
    })
  )

  it.effect('task timeout "30 days": the attempt times out exactly at 30 days', () =>
    Effect.gen(function* () {
      const { sup, waitFor } = yield* setup()
      yield* sup.add(Task.make("slow", Effect.never, { timeout: "30 days", restart: RestartPolicy.never }))
      yield* flush
      yield* TestTime.adjust(30 * DAY - 1)
      expect(Option.map(yield* sup.get("slow"), (i) => i.state)).toEqual(Option.some("running"))
      yield* TestTime.adjust(1)
      const timedOut = yield* waitFor("AttemptTimedOut")
      expect([timedOut.at, timedOut.timeoutMs]).toEqual([30 * DAY, 30 * DAY])
    })
  )

  it.effect(
    'backoff "30 days" (constant and exponential) and interval "30 days": the next attempt starts exactly then',
    () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        for (const [name, options] of [
          ["constant", { backoff: Backoff.constant("30 days") }],
          ["exponential", { backoff: Backoff.exponential({ first: "30 days" }) }]
        ] as const) {
          yield* sup.add(Task.make(name, Effect.fail(TaskError.fail("boom")), { ...options, maxRetries: 1 }))
        }
        yield* sup.add(Task.make("periodic", Effect.void, { restart: RestartPolicy.always({ interval: "30 days" }) }))
        yield* flush
        yield* TestTime.adjust(30 * DAY - 1)
        expect(
          (yield* sup.list).map((i) => [i.name, i.attempt, i.state, Option.getOrUndefined(i.nextAttemptAt)])
        ).toEqual([
          ["constant", 1, "backing-off", 30 * DAY],
          ["exponential", 1, "backing-off", 30 * DAY],
          ["periodic", 1, "scheduled", 30 * DAY]
        ])
        yield* TestTime.adjust(1)
        yield* flush
        expect(
          ofTag("AttemptStarting")(yield* events)
            .filter((e) => e.attempt === 2)
            .map((e) => [e.task, e.at])
            .sort(([a], [b]) => String(a).localeCompare(String(b)))
        ).toEqual([
          ["constant", 30 * DAY],
          ["exponential", 30 * DAY],
          ["periodic", 30 * DAY]
        ])
      })
  )
})

describe("BadInput: Offload and cancel durations past a Node timer's limit (TestClock: exact instants)", () => {
  it.effect('Offload timeout "30 days" (policy cancel): the work is interrupted exactly 30 days after it started', () =>
    withLogs((logs) =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({ timeout: { after: "30 days", policy: "cancel" } })
        const g = yield* gate()
        yield* offload.register(OffloadKey.keyed("a", "k"), g.work)
        yield* Deferred.await(g.started)
        yield* TestTime.adjust(30 * DAY - 1)
        expect(g.interruptedAt()).toBe(undefined)
        expect(yield* offload.isInFlight(OffloadKey.keyed("a", "k"))).toBe(true)
        yield* TestTime.adjust(1)
        expect(yield* offload.awaitIdle()).toBe(true)
        expect(g.interruptedAt()).toBe(30 * DAY)
        expect(logs).toContain(`offloaded work timed out after ${30 * DAY} ms and was interrupted`)
      })
    )
  )

  it.effect('Offload timeout "30 days" (policy warn): the warning is logged exactly at 30 days, the work goes on', () =>
    withLogs((logs) =>
      Effect.gen(function* () {
        const offload = yield* Offload.make({ timeout: { after: "30 days", policy: "warn" } })
        const g = yield* gate()
        yield* offload.register(OffloadKey.keyed("a", "k"), g.work)
        yield* Deferred.await(g.started)
        const warning = `offloaded work is still running after ${30 * DAY} ms (timeout policy "warn")`
        yield* TestTime.adjust(30 * DAY - 1)
        expect(logs).not.toContain(warning)
        yield* TestTime.adjust(1)
        yield* flush
        expect(logs).toContain(warning)
        expect(g.interruptedAt()).toBe(undefined)
        yield* g.release
        expect(yield* offload.awaitIdle()).toBe(true)
      })
    )
  )

  it.effect('Offload awaitIdle("30 days"): false exactly at 30 days while the work is still running', () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make()
      const g = yield* gate()
      yield* offload.register(OffloadKey.keyed("a", "k"), g.work)
      yield* Deferred.await(g.started)
      const idle = yield* Effect.forkChild(offload.awaitIdle("30 days"))
      yield* flush
      yield* TestTime.adjust(30 * DAY - 1)
      expect(idle.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust(1)
      expect(yield* Fiber.join(idle)).toBe(false)
      yield* g.release
    })
  )

  it.effect('Offload grace "30 days": the drain cuts the work off exactly 30 days after the scope began to close', () =>
    withLogs((logs) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const offload = yield* Scope.provide(Offload.make({ grace: "30 days" }), scope)
        const g = yield* gate()
        yield* offload.register(OffloadKey.keyed("a", "k"), g.work)
        yield* Deferred.await(g.started)
        const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
        yield* flush
        yield* TestTime.adjust(30 * DAY - 1)
        expect(g.interruptedAt()).toBe(undefined)
        yield* TestTime.adjust(1)
        yield* Fiber.join(closing)
        expect(g.interruptedAt()).toBe(30 * DAY)
        expect(logs).toContain(
          `offload drain: 1 piece(s) of work still in flight after the grace of ${30 * DAY} ms were cut off`
        )
      })
    )
  )

  it.effect('sup.cancel(timeout "30 days"): fails with TaskTerminationTimeout exactly at 30 days', () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ grace: "60 days" })
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      yield* sup.add(Task.make("stuck", parked(started, Deferred.await(release))))
      yield* Deferred.await(started)
      const cancel = yield* Effect.forkChild(Effect.result(sup.cancel("stuck", { timeout: "30 days" })))
      yield* flush
      yield* TestTime.adjust(30 * DAY - 1)
      expect(cancel.pollUnsafe()).toBeUndefined()
      yield* TestTime.adjust(1)
      const result = yield* Fiber.join(cancel)
      expect(result._tag).toBe("Failure")
      expect(result._tag === "Failure" && result.failure).toMatchObject({
        _tag: "TaskTerminationTimeout",
        task: "stuck",
        timeoutMs: 30 * DAY
      })
      yield* Deferred.succeed(release, undefined)
    })
  )
})

describe("BadInput: durations past a Node timer's limit (real clock: nothing fires at once)", () => {
  /** A real-time pause (it.live runs on the real clock). */
  const realPause = Effect.sleep("100 millis")
  const longs: ReadonlyArray<readonly [string, Duration.Input]> = [
    ["2^31 ms", NODE_TIMER_MAX + 1],
    ['"30 days"', "30 days"],
    ["1e308 ms", 1e308]
  ]

  for (const [label, grace] of longs) {
    it.live(`grace ${label} (supervisor, and task): a stuck task's remove is not abandoned at once`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make({ grace })
          const release = yield* Deferred.make<void>()
          const handles = []
          for (const [name, options] of [
            ["by-supervisor", {}],
            ["by-task", { grace }]
          ] as const) {
            const started = yield* Deferred.make<void>()
            handles.push(yield* sup.add(Task.make(name, parked(started, Deferred.await(release)), options)))
            yield* Deferred.await(started)
            expect(yield* sup.remove(name)).toBe(true)
          }
          const shutdown = yield* Effect.forkChild(sup.shutdown)
          yield* realPause
          for (const handle of handles) expect(yield* handle.poll).toEqual(Option.none())
          expect((yield* sup.list).map((i) => i.state)).toEqual(["stopping", "stopping"])
          expect(shutdown.pollUnsafe()).toBeUndefined()
          yield* Deferred.succeed(release, undefined)
          for (const handle of handles) {
            expect(yield* handle.await).toMatchObject({ _tag: "Canceled", reason: "stopped by remove" })
          }
          expect(Exit.isSuccess(yield* Fiber.await(shutdown))).toBe(true)
        })
      )
    )

    it.live(`timeout ${label}: an attempt of 100 ms completes, it is not timed out at once`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const { sup, events } = yield* setup()
          const handle = yield* sup.add(
            Task.make("slow", Effect.sleep("100 millis"), { timeout: grace, restart: RestartPolicy.never })
          )
          expect(yield* handle.await).toMatchObject({ _tag: "Completed" })
          expect(tags(yield* events)).not.toContain("AttemptTimedOut")
        })
      )
    )

    it.live(`backoff / interval ${label}: the next attempt does not start at once`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          yield* sup.add(
            Task.make("constant", Effect.fail(TaskError.fail("boom")), { backoff: Backoff.constant(grace) })
          )
          yield* sup.add(
            Task.make("exponential", Effect.fail(TaskError.fail("boom")), {
              backoff: Backoff.exponential({ first: grace, max: grace })
            })
          )
          yield* sup.add(Task.make("periodic", Effect.void, { restart: RestartPolicy.always({ interval: grace }) }))
          yield* realPause
          expect((yield* sup.list).map((i) => [i.name, i.attempt, i.state])).toEqual([
            ["constant", 1, "backing-off"],
            ["exponential", 1, "backing-off"],
            ["periodic", 1, "scheduled"]
          ])
        })
      )
    )

    it.live(`cancel timeout ${label}: a stuck task's cancel does not give up at once`, () =>
      Effect.scoped(
        Effect.gen(function* () {
          const sup = yield* Supervisor.make()
          const started = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          yield* sup.add(Task.make("stuck", parked(started, Deferred.await(release))))
          yield* Deferred.await(started)
          const cancel = yield* Effect.forkChild(sup.cancel("stuck", { timeout: grace }))
          yield* realPause
          expect(cancel.pollUnsafe()).toBeUndefined()
          yield* Deferred.succeed(release, undefined)
          expect(yield* Fiber.join(cancel)).toBe(true)
        })
      )
    )

    it.live(
      `Offload timeout.after ${label} and awaitIdle(${label}): the work is not cut off, the wait does not end at once`,
      () =>
        Effect.scoped(
          Effect.gen(function* () {
            const offload = yield* Offload.make({ timeout: { after: grace, policy: "cancel" }, grace })
            const g = yield* gate()
            expect(yield* offload.register(OffloadKey.keyed("a", "k"), g.work)).toBe("spawned")
            yield* Deferred.await(g.started)
            const idle = yield* Effect.forkChild(offload.awaitIdle(grace))
            yield* realPause
            expect(idle.pollUnsafe()).toBeUndefined()
            expect(g.interruptedAt()).toBe(undefined)
            expect(yield* offload.isInFlight(OffloadKey.keyed("a", "k"))).toBe(true)
            yield* g.release
            expect(yield* Fiber.join(idle)).toBe(true)
          })
        )
    )
  }
})

// =============================================================================================
// Bugs found (one focused failing test each; see the report)
// =============================================================================================

/**
 * Runs `effect` on the real clock while recording every `setTimeout` delay, and returns the long
 * ones (over 10^9 ms): which long timers it armed.
 */
const longTimersArmedBy = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const delays: Array<number> = []
      const original = globalThis.setTimeout
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          globalThis.setTimeout = ((handler: () => void, ms?: number, ...rest: Array<unknown>) => {
            delays.push(Number(ms ?? 0))
            return (original as (...args: Array<unknown>) => ReturnType<typeof setTimeout>)(handler, ms, ...rest)
          }) as typeof setTimeout
        }),
        () =>
          Effect.sync(() => {
            globalThis.setTimeout = original
          })
      )
      yield* effect
      return delays.filter((ms) => ms > 1e9)
    })
  )

describe("BadInput: bugs found", () => {
  it.effect(
    "BUG: eventBuffer MAX_SAFE_INTEGER + 1 / 1e308 / 2^32 dies with RangeError instead of InvalidSupervisorOptions",
    () =>
      Effect.gen(function* () {
        // Today: PubSub.sliding allocates `Array.from({ length: capacity })` → a defect "Invalid array
        // length". (2^31 is worse: the allocation succeeds lazily and the process dies of OOM; not run.)
        for (const eventBuffer of [Number.MAX_SAFE_INTEGER + 1, 1e308, 2 ** 32]) {
          const error = typedFailure(yield* exitOf(() => Supervisor.make({ eventBuffer })))
          expect(error).toBeInstanceOf(SupervisorError.InvalidSupervisorOptions)
          expect(error.field).toBe("eventBuffer")
        }
      })
  )

  it.effect("BUG: a non-task where a task is expected throws (Task.validate) or dies (add, addAll, submit, run)", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make()
      for (const build of [
        () => Task.validate(null as never),
        () => sup.add(null as never),
        () => sup.addAll([null] as never),
        () => sup.addAll(null as never),
        () => sup.submit(null as never, { admission: "queue" }),
        () => Supervisor.run(null as never),
        () => Supervisor.run([undefined] as never)
      ]) {
        const error = typedFailure(yield* exitOf(build as () => Effect.Effect<unknown, unknown>))
        expect((error as unknown as { readonly _tag: string })._tag).toMatch(/^Invalid/)
      }
      expect(yield* sup.size).toBe(0)
    })
  )

  it.effect("BUG: Backoff.exponential factor null / jitter null are silently replaced by the defaults", () =>
    Effect.gen(function* () {
      const factor = typedFailure(
        yield* Effect.exit(
          Task.validate(
            Task.make("t", Effect.void, { backoff: Backoff.exponential({ first: 1, factor: null as never }) })
          )
        )
      )
      expect(factor.field).toBe("backoff.factor")
      const jitter = typedFailure(
        yield* Effect.exit(
          Task.validate(
            Task.make("t", Effect.void, { backoff: Backoff.exponential({ first: 1, jitter: null as never }) })
          )
        )
      )
      expect(jitter.field).toBe("backoff.jitter")
    })
  )

  it.effect(
    'BUG: reasons built with JSON.stringify misname NaN / Infinity / functions ("got null", "got undefined")',
    () =>
      Effect.gen(function* () {
        // [the reason given, what it must name]
        const checked: Array<readonly [string, string]> = []
        for (const [jitter, name] of [
          [Number.NaN, "NaN"],
          [Number.POSITIVE_INFINITY, "Infinity"],
          [fn, "function"]
        ] as const) {
          const error = typedFailure(
            yield* Effect.exit(
              Task.validate(
                Task.make("t", Effect.void, { backoff: Backoff.exponential({ first: 1, jitter: jitter as never }) })
              )
            )
          )
          checked.push([error.reason, name])
        }
        for (const [config, name] of [
          [{ onFull: Number.NaN }, "NaN"],
          [{ onFull: { queue: Number.POSITIVE_INFINITY } }, "Infinity"],
          [{ onFull: fn }, "function"],
          [{ timeout: { after: 1, policy: Number.NaN } }, "NaN"],
          [{ perKind: { k: { timeout: { after: 1, policy: Number.NEGATIVE_INFINITY } } } }, "-Infinity"]
        ] as const) {
          checked.push([typedFailure(yield* Effect.exit(Effect.scoped(Offload.make(config as never)))).reason, name])
        }
        // Today: "got null" (NaN, ±Infinity), "got undefined" / "got {}" (a function).
        for (const [reason, name] of checked) expect(reason).toContain(name)
      })
  )

  it.effect('BUG: RestartPolicy.always(null / "x" / 5) is silently accepted as "no interval"', () =>
    Effect.gen(function* () {
      for (const options of [null, "x", 5, []]) {
        const error = typedFailure(
          yield* exitOf(() =>
            Task.validate(Task.make("t", Effect.void, { restart: RestartPolicy.always(options as never) }))
          )
        )
        expect(error.field).toMatch(/^restart/)
      }
    })
  )

  it.effect('BUG: sup.cancel(ref, null / "x" / 5) ignores the bad options and cancels the task', () =>
    Effect.gen(function* () {
      for (const options of [null, "x", 5]) {
        const { sup, untouched } = yield* withRunningTask
        const error = typedFailure(yield* exitOf(() => sup.cancel("t", options as never)))
        expect(error).toBeInstanceOf(SupervisorError.InvalidArgument)
        expect(error.field).toBe("options")
        yield* untouched
      }
    })
  )

  it.effect(
    "BUG: an array where an options object is expected is accepted as {} (Supervisor.make([]), defaults: [])",
    () =>
      Effect.gen(function* () {
        const options = typedFailure(yield* exitOf(() => Supervisor.make([] as never)))
        expect(options.field).toBe("options")
        const defaults = typedFailure(yield* exitOf(() => Supervisor.make({ defaults: [] as never })))
        expect(defaults.field).toBe("defaults")
      })
  )

  it.effect("BUG: misspelt options are ignored silently (Supervisor.make, Task.make), unlike Offload.layer", () =>
    Effect.gen(function* () {
      const sup = typedFailure(yield* exitOf(() => Supervisor.make({ grase: "1 second" } as never)))
      expect(sup.field).toBe("grase")
      const task = typedFailure(yield* exitOf(() => Task.validate(Task.make("t", Effect.void, { timout: 5 } as never))))
      expect(task.field).toBe("timout")
    })
  )

  it.effect(
    "BUG: Backoff.exponential({ first: 0 }) gives NaN delays once factor^n overflows (BackoffScheduled delayMs NaN)",
    () =>
      Effect.gen(function* () {
        // 0 · factor^n is 0 until factor^n is Infinity, then 0 · Infinity = NaN: with factor 1e308 at
        // the third retry; with the default factor 2 at retry 1025.
        const { sup, waitFor, events } = yield* setup()
        yield* sup.add(
          Task.make("flaky", Effect.fail(TaskError.fail("boom")), {
            backoff: Backoff.exponential({ first: 0, factor: 1e308 }),
            maxRetries: 3
          })
        )
        yield* TestTime.adjust("1 second")
        yield* waitFor("TaskFinished")
        expect(ofTag("BackoffScheduled")(yield* events).map((e) => e.delayMs)).toEqual([0, 0, 0])
      })
  )

  it.effect("BUG: a timeout below 1 ns (1e-7 ms) silently becomes 0, i.e. no timeout at all", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const exit = yield* exitOf(() =>
        sup.add(Task.make("t", Effect.never, { timeout: 1e-7, restart: RestartPolicy.never }))
      )
      // Either refused, or a (tiny) timeout that fires; today it runs forever with no timeout.
      if (Exit.isSuccess(exit)) {
        yield* TestTime.adjust("1 second")
        expect(tags(yield* events)).toContain("AttemptTimedOut")
      } else {
        expect(typedFailure(exit).field).toBe("timeout")
      }
    })
  )

  for (const service of ["Offload.layer()", "Offload.layerInline"] as const) {
    it.effect(`BUG (${service}): an empty or blank key and a blank kind are accepted ("spawned")`, () =>
      Effect.gen(function* () {
        const offload = yield* Offload.Offload
        const outcomes: Array<string> = []
        for (const key of [OffloadKey.keyed("", "k"), OffloadKey.keyed("   ", "k"), OffloadKey.auto("   ")]) {
          outcomes.push(yield* offload.register(key, Effect.void))
        }
        yield* offload.awaitIdle()
        expect(outcomes).toEqual(["rejected", "rejected", "rejected"])
      }).pipe(Effect.provide(service === "Offload.layer()" ? Layer.orDie(Offload.layer()) : Offload.layerInline))
    )
  }

  it.live(
    "BUG: a duration past 2^31 - 1 ms arms no timer on the real clock, so it never fires (monthly periodic task)",
    () =>
      Effect.gen(function* () {
        // Effect's real Clock (effect/src/internal/clock.ts, MAX_TIMER_MILLIS) treats any delay above
        // 2^31 - 1 ms as infinite and calls no `setTimeout` at all: nothing fires early, but nothing
        // ever fires either — `Task.periodic("monthly", job, "30 days")` runs once and never again, a
        // grace of 30 days never abandons, a timeout of 30 days never times out. (The TestClock fires
        // them at the exact instant, so the suite cannot see it.) Here: which long timers are armed.
        const longTimers = (interval: Duration.Input) =>
          longTimersArmedBy(
            Effect.gen(function* () {
              const { sup, waitFor } = yield* setup()
              yield* sup.add(Task.periodic("monthly", Effect.void, interval))
              yield* waitFor("BackoffScheduled")
              yield* Effect.sleep("20 millis")
            })
          )
        // The control: one below the limit arms its timer.
        expect(yield* longTimers(NODE_TIMER_MAX)).toEqual([NODE_TIMER_MAX])
        // 30 days should arm a timer too (e.g. a chain of ≤ 2^31 - 1 ms steps, as runMain's deadline does).
        expect((yield* longTimers("30 days")).length).toBeGreaterThan(0)
      })
  )

  it.live(
    "BUG: Offload's timeout, awaitIdle timeout and drain grace and cancel's timeout past 2^31 - 1 ms armed no timer",
    () =>
      Effect.gen(function* () {
        // Same cause as above, in the waits that used Effect's timeout directly. Each scenario runs
        // on the real clock for a few milliseconds; what matters is the timer it arms.
        const armed = (scenario: (after: Duration.Input) => Effect.Effect<unknown, unknown, Scope.Scope>) =>
          longTimersArmedBy(withLogs(() => Effect.scoped(scenario("30 days"))))
        const running = (offload: Offload.Offload) =>
          Effect.gen(function* () {
            const g = yield* gate()
            yield* offload.register(OffloadKey.keyed("a", "k"), g.work)
            yield* Deferred.await(g.started)
            return g
          })
        const scenarios: Record<string, (after: Duration.Input) => Effect.Effect<unknown, unknown, Scope.Scope>> = {
          "timeout (cancel)": (after) =>
            Effect.flatMap(Offload.make({ timeout: { after, policy: "cancel" }, grace: 0 }), running),
          "timeout (warn)": (after) =>
            Effect.flatMap(Offload.make({ timeout: { after, policy: "warn" }, grace: 0 }), running),
          awaitIdle: (after) =>
            Effect.gen(function* () {
              const offload = yield* Offload.make({ grace: 0 })
              yield* running(offload)
              yield* Effect.forkChild(offload.awaitIdle(after))
              yield* Effect.sleep("5 millis")
            }),
          "drain grace": (after) =>
            Effect.gen(function* () {
              const offload = yield* Offload.make({ grace: after })
              const g = yield* running(offload)
              // The drain starts when the scope closes; release the work a little later.
              yield* Effect.addFinalizer(() => Effect.asVoid(Effect.forkDetach(Effect.delay(g.release, "5 millis"))))
            }),
          "cancel timeout": (after) =>
            Effect.gen(function* () {
              // The cleanup takes a few milliseconds (within the grace), so the cancel really waits:
              // Effect 4's timeout arms its timer only when the wait has not ended within the turn.
              const sup = yield* Supervisor.make({ grace: "1 second" })
              const started = yield* Deferred.make<void>()
              yield* sup.add(Task.make("t", parked(started, Effect.sleep("5 millis"))))
              yield* Deferred.await(started)
              yield* sup.cancel("t", { timeout: after })
            })
        }
        for (const [name, scenario] of Object.entries(scenarios)) {
          expect([name, yield* armed(scenario)]).toEqual([name, [NODE_TIMER_MAX]])
        }
      })
  )

  it.effect("BUG: Offload config reasons for a non-object timeout / perKind are raw Schema type dumps", () =>
    Effect.gen(function* () {
      for (const config of [{ timeout: 5 }, { perKind: 5 }, { perKind: { k: 5 } }]) {
        const error = typedFailure(yield* Effect.exit(Effect.scoped(Offload.make(config as never))))
        expect(error.reason).not.toMatch(/DurationFromSelf|readonly|filter/)
      }
    })
  )
})

// =============================================================================================
// The per-row tables run last: @effect/vitest's `layer(...)` (one shared test environment per
// block, ~1 ms a test instead of ~10 ms for a fresh TestContext) assigns its methods onto the
// shared `it`, so every `it.effect`/`it.scoped` registered after a `layer` block would run in that
// block's environment (its TestClock already minutes ahead). Everything that needs a fresh
// TestClock at 0 is registered above this point.
// =============================================================================================

// =============================================================================================
// Runners: task specs — one test per row, through every API that takes a task
// =============================================================================================

layer(Layer.empty)("BadInput: task specs (Task.make name / effect / options, Backoff, RestartPolicy)", (it) => {
  for (const row of taskRows) {
    const apis = ["Task.validate", "add", "addAll", "submit", "Supervisor.run", "a Supervisor.task child"]
    if (row.options !== undefined) apis.push("Supervisor.task options")
    it.effect(`${row.option} = ${row.label} → InvalidTaskSpec(${row.field}) via ${apis.join(", ")}`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const work = counting()
        const before = yield* fibersNow
        const expected = (error: unknown, field = row.field) =>
          expectFieldError(error, SupervisorError.InvalidTaskSpec, field, row.reason)
        const messages: Array<string> = []

        yield* via(
          "Task.validate",
          Effect.gen(function* () {
            const task = row.build(work.effect)
            const error = typedFailure(yield* exitOf(() => Task.validate(task)))
            expected(error)
            expect(error.task).toBe(typeof task.name === "string" ? task.name : "")
          })
        )
        yield* via(
          "add",
          Effect.gen(function* () {
            const error = typedFailure(yield* exitOf(() => sup.add(row.build(work.effect))))
            expected(error)
            messages.push(error.message)
          })
        )
        yield* via(
          "addAll (the good task before it does not start either)",
          Effect.gen(function* () {
            const good = Task.make("good", work.effect)
            const error = typedFailure(yield* exitOf(() => sup.addAll([good, row.build(work.effect)])))
            expected(error)
            messages.push(error.message)
          })
        )
        yield* via(
          "submit",
          Effect.gen(function* () {
            for (const admission of ["queue", "replace", "drop-if-running"] as const) {
              expected(typedFailure(yield* exitOf(() => sup.submit(row.build(work.effect), { admission, slot: "s" }))))
            }
          })
        )
        yield* via(
          "Supervisor.run",
          Effect.gen(function* () {
            expected(typedFailure(yield* exitOf(() => Supervisor.run([row.build(work.effect)]))))
          })
        )
        yield* via(
          "a Supervisor.task child",
          Effect.gen(function* () {
            const error = typedFailure(yield* exitOf(() => sup.add(Supervisor.task("g", [row.build(work.effect)]))))
            expected(error, `children[0].${row.field}`)
            expect(error.task).toBe("g")
            messages.push(error.message)
          })
        )
        if (row.options !== undefined) {
          yield* via(
            "Supervisor.task options",
            Effect.gen(function* () {
              const error = typedFailure(
                yield* exitOf(() =>
                  sup.add(Supervisor.task("g", [Task.make("child", work.effect)], row.options as never))
                )
              )
              expected(error)
              expect(error.task).toBe("g")
              messages.push(error.message)
            })
          )
        }
        yield* expectNothingStarted(sup, events, work.runs, before)
        // Every refused admission published its TaskAddFailed, with the error's message.
        expect(ofTag("TaskAddFailed")(yield* events).map((e) => [e.rejection, e.reason])).toEqual(
          messages.map((message) => ["InvalidSpec", message])
        )
      })
    )
  }
})

// =============================================================================================
// Runners: supervisor options — one test per row, through make, layer, run (and Supervisor.task)
// =============================================================================================

layer(Layer.empty)("BadInput: supervisor options", (it) => {
  const nestedRows: ReadonlyArray<SupervisorRow> = rootOnly.map(([option, value, reason]) => ({
    option,
    label: `${String(value)} (on a nested supervisor)`,
    options: { [option]: value },
    field: option,
    reason,
    nested: true
  }))
  for (const row of [...supervisorRows, ...nestedRows]) {
    const rootOnlyRow = nestedRows.includes(row)
    const apis = rootOnlyRow ? [] : ["Supervisor.make", "Supervisor.layer", "Supervisor.run"]
    if (row.nested) apis.push("Supervisor.task (InvalidTaskSpec)")
    it.effect(
      `${row.option} = ${row.label} → ${rootOnlyRow ? "InvalidTaskSpec" : "InvalidSupervisorOptions"}(${row.field}) via ${apis.join(", ")}`,
      () =>
        Effect.gen(function* () {
          const work = counting()
          const registry = SupervisorRegistry.make()
          const before = yield* fibersNow
          const expected = (error: unknown) =>
            expectFieldError(error, SupervisorError.InvalidSupervisorOptions, row.field, row.reason)
          if (!rootOnlyRow) {
            yield* via(
              "Supervisor.make",
              Effect.gen(function* () {
                expected(
                  typedFailure(
                    yield* exitOf(() =>
                      Effect.scoped(Supervisor.make(row.options as never)).pipe(
                        Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
                      )
                    )
                  )
                )
              })
            )
            yield* via(
              "Supervisor.layer (the layer fails to build)",
              Effect.gen(function* () {
                expected(
                  typedFailure(
                    yield* exitOf(() =>
                      Supervisor.add(Task.make("t", work.effect)).pipe(
                        Effect.provide(Supervisor.layer(row.options as never)),
                        Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
                      )
                    )
                  )
                )
              })
            )
            yield* via(
              "Supervisor.run (its batch never runs)",
              Effect.gen(function* () {
                expected(
                  typedFailure(yield* exitOf(() => Supervisor.run([Task.make("t", work.effect)], row.options as never)))
                )
              })
            )
            yield* flush
            expect(work.runs()).toBe(0)
            expect(registry.roots).toEqual([])
            expect(live.fibers).toBe(before)
          }
          if (row.nested) {
            yield* via(
              "Supervisor.task, admitted by a parent",
              Effect.gen(function* () {
                const { sup, events } = yield* setup()
                const start = yield* fibersNow
                const error = typedFailure(
                  yield* exitOf(() =>
                    sup.add(Supervisor.task("g", [Task.make("child", work.effect)], row.options as never))
                  )
                )
                expectFieldError(error, SupervisorError.InvalidTaskSpec, row.field, row.reason)
                expect(error.task).toBe("g")
                yield* expectNothingStarted(sup, events, work.runs, start)
              })
            )
          }
        })
    )
  }

  for (const row of childrenRows) {
    it.effect(`Supervisor.task ${row.label} → InvalidTaskSpec(${row.field}), admitted by a parent`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const work = counting()
        const before = yield* fibersNow
        const error = typedFailure(
          yield* exitOf(() => sup.add(Supervisor.task("g", row.children(work.effect) as never)))
        )
        expectFieldError(error, SupervisorError.InvalidTaskSpec, row.field, row.reason)
        expect(error.task).toBe("g")
        yield* expectNothingStarted(sup, events, work.runs, before)
      })
    )
  }
})

// =============================================================================================
// Runners: supervisor operations
// =============================================================================================

layer(Layer.empty)("BadInput: supervisor operations", (it) => {
  for (const bad of badDurations) {
    it.effect(
      `cancel(ref, { timeout: ${bad.label} }) → InvalidArgument(cancel, timeout); the task is not stopped`,
      () =>
        Effect.gen(function* () {
          const { sup, untouched } = yield* withRunningTask
          for (const ref of ["t", "unknown"]) {
            for (const [api, cancel] of [
              ["sup.cancel", () => sup.cancel(ref, { timeout: bad.value as Duration.Input })],
              [
                "Supervisor.cancel",
                () =>
                  Supervisor.cancel(ref, { timeout: bad.value as Duration.Input }).pipe(
                    Effect.provideService(Supervisor.Supervisor, sup)
                  )
              ]
            ] as const) {
              yield* via(
                `${api}("${ref}")`,
                Effect.gen(function* () {
                  const error = typedFailure(yield* exitOf(cancel))
                  expectFieldError(error, SupervisorError.InvalidArgument, "timeout", bad.reason)
                  expect(error.operation).toBe("cancel")
                })
              )
            }
          }
          yield* untouched
        })
    )
  }

  for (const row of submitRows) {
    it.effect(`submit(task, ${row.label}) → InvalidArgument(submit, ${row.field}); nothing is queued`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const work = counting()
        const before = yield* fibersNow
        for (const [api, submit] of [
          ["sup.submit", () => sup.submit(Task.make("job", work.effect), row.options as never)],
          [
            "Supervisor.submit",
            () =>
              Supervisor.submit(Task.make("job", work.effect), row.options as never).pipe(
                Effect.provideService(Supervisor.Supervisor, sup)
              )
          ]
        ] as const) {
          yield* via(
            api,
            Effect.gen(function* () {
              const error = typedFailure(yield* exitOf(submit))
              expectFieldError(error, SupervisorError.InvalidArgument, row.field, row.reason)
              expect(error.operation).toBe("submit")
            })
          )
        }
        yield* expectNothingStarted(sup, events, work.runs, before)
      })
    )
  }

  for (const [label, ref] of weirdRefs) {
    it.effect(
      `ref ${label}: remove → false, cancel → false, get → None, nothing thrown; the running task is untouched`,
      () =>
        Effect.gen(function* () {
          const { sup, untouched } = yield* withRunningTask
          const provided = <A, E>(effect: Effect.Effect<A, E, Supervisor.Supervisor>) =>
            Effect.provideService(effect, Supervisor.Supervisor, sup)
          expect(success(yield* exitOf(() => sup.remove(ref as never)))).toBe(false)
          expect(success(yield* exitOf(() => provided(Supervisor.remove(ref as never))))).toBe(false)
          expect(success(yield* exitOf(() => sup.cancel(ref as never)))).toBe(false)
          expect(success(yield* exitOf(() => sup.cancel(ref as never, { timeout: "1 second" })))).toBe(false)
          expect(success(yield* exitOf(() => provided(Supervisor.cancel(ref as never))))).toBe(false)
          expect(success(yield* exitOf(() => sup.get(ref as never)))).toEqual(Option.none())
          yield* untouched
        })
    )
  }
})

// =============================================================================================
// Runners: Offload
// =============================================================================================

layer(Layer.empty)("BadInput: Offload", (it) => {
  for (const row of offloadRows) {
    it.effect(
      `config ${row.label} → InvalidOffloadConfig(${row.field}) via Offload.make, Offload.layer; no work runs`,
      () =>
        Effect.gen(function* () {
          const work = counting()
          const before = yield* fibersNow
          const made = typedFailure(yield* exitOf(() => Effect.scoped(Offload.make(row.config as never))))
          yield* via(
            "Offload.make",
            Effect.sync(() => expectFieldError(made, Offload.InvalidOffloadConfig, row.field, row.reason))
          )
          const provided = typedFailure(
            yield* exitOf(() =>
              Offload.spawn("k", work.effect).pipe(Effect.provide(Offload.layer(row.config as never)))
            )
          )
          yield* via(
            "Offload.layer",
            Effect.sync(() => {
              expectFieldError(provided, Offload.InvalidOffloadConfig, row.field, row.reason)
              expect(provided).toEqual(made)
            })
          )
          yield* flush
          expect(work.runs()).toBe(0)
          expect(live.fibers).toBe(before)
        })
    )
  }

  for (const [label, key, problem] of badKeys) {
    it.effect(`register(${label}) → "rejected", a warning says "${problem}", the work never runs`, () =>
      Effect.gen(function* () {
        for (const [service, serviceLayer] of offloadServices) {
          yield* via(
            service,
            withLogs((logs) =>
              Effect.gen(function* () {
                const offload = yield* Offload.Offload
                const work = counting()
                const before = yield* fibersNow
                expect(success(yield* exitOf(() => offload.register(key() as never, work.effect)))).toBe("rejected")
                expect(logs).toEqual([`offload rejected: ${problem}`])
                yield* flush
                expect(work.runs()).toBe(0)
                expect(yield* offload.activeCount).toBe(0)
                expect(success(yield* exitOf(() => offload.isInFlight(key() as never)))).toBe(false)
                expect(success(yield* exitOf(() => offload.cancel(key() as never)))).toBe(false)
                expect(live.fibers).toBe(before)
              })
            ).pipe(Effect.provide(serviceLayer))
          )
        }
      })
    )
  }

  for (const [label, kind] of badKinds) {
    it.effect(`spawn(kind ${label}) → void, a warning says why, the work never runs`, () =>
      Effect.gen(function* () {
        for (const [service, serviceLayer] of offloadServices) {
          yield* via(
            service,
            withLogs((logs) =>
              Effect.gen(function* () {
                const work = counting()
                const before = yield* fibersNow
                expect(success(yield* exitOf(() => Offload.spawn(kind as never, work.effect)))).toBe(undefined)
                expect(logs).toEqual(["offload rejected: kind must be a non-empty string"])
                yield* flush
                expect(work.runs()).toBe(0)
                expect(yield* Effect.flatMap(Offload.Offload, (o) => o.activeCount)).toBe(0)
                expect(live.fibers).toBe(before)
              })
            ).pipe(Effect.provide(serviceLayer))
          )
        }
      })
    )
  }

  for (const bad of badDurations) {
    it.effect(
      `awaitIdle(${bad.label}) → InvalidArgument(awaitIdle, timeout) via layer, layerInline, layerDisabled`,
      () =>
        Effect.gen(function* () {
          for (const [service, serviceLayer] of [
            ...offloadServices,
            ["Offload.layerDisabled", Offload.layerDisabled] as const
          ]) {
            yield* via(
              service,
              Effect.gen(function* () {
                const offload = yield* Offload.Offload
                for (const awaitIdle of [
                  () => offload.awaitIdle(bad.value as Duration.Input),
                  () =>
                    Offload.awaitIdle(bad.value as Duration.Input).pipe(Effect.provideService(Offload.Offload, offload))
                ]) {
                  const error = typedFailure(yield* exitOf(awaitIdle))
                  expectFieldError(error, SupervisorError.InvalidArgument, "timeout", bad.reason)
                  expect(error.operation).toBe("awaitIdle")
                }
              }).pipe(Effect.provide(serviceLayer))
            )
          }
        })
    )
  }

  it.effect("awaitIdle with a bad timeout does not touch the work in flight", () =>
    Effect.gen(function* () {
      const offload = yield* Offload.make()
      const g = yield* gate()
      expect(yield* offload.register(OffloadKey.keyed("a", "k"), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      typedFailure(yield* Effect.exit(offload.awaitIdle(-1)))
      expect(yield* offload.isInFlight(OffloadKey.keyed("a", "k"))).toBe(true)
      expect(g.interruptedAt()).toBe(undefined)
      yield* g.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(g.runs()).toBe(1)
    })
  )
})
