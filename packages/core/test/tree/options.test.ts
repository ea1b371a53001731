/**
 * Bad input for the tree options: every new option × invalid values → a typed error naming the
 * field, through `Supervisor.make` (`InvalidSupervisorOptions`) and through a parent admitting a
 * `Supervisor.task` (`InvalidTaskSpec`, with `children[i].…` for a child), with nothing
 * half-started. Also: the task combinators keep a `Supervisor.task` a supervisor.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Backoff, RestartPolicy, Supervisor, SupervisorError, Task } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import { ofTag, setup, tags } from "../helpers/recorder.js"
import { flush } from "../helpers/tasks.js"
import { fieldsOf, forever } from "../helpers/intensity.js"

/** A row: what is passed, the field the error names, and its reason. */
type Row = readonly [label: string, options: unknown, field: string, reason: string]

/** How fibervisor prints a value in a reason (its one printer, `describe`), for the values used here. */
const d = (input: unknown): string => {
  if (input === null) return "null"
  if (input === undefined) return "undefined"
  if (typeof input === "string") return JSON.stringify(input)
  if (typeof input === "object") return "an object"
  return String(input)
}

const nonNegative = (input: unknown) => `must be a non-negative integer, got ${d(input)}`
const positive = (input: unknown) => `must be a positive integer, got ${d(input)}`

/** Why `decodeDuration` refuses an input. */
const badDuration: ReadonlyArray<readonly [string, unknown, string]> = [
  ["-1", -1, "must not be negative, got -1"],
  ["NaN", Number.NaN, "must be a number of milliseconds, got NaN"],
  ["Infinity", Number.POSITIVE_INFINITY, "must be finite, got Infinity"],
  ["Duration.infinity", Duration.infinity, "must be finite"],
  ['"x"', "x", 'must be a duration such as "5 seconds", got "x"'],
  ['"-1 seconds"', "-1 seconds", 'must not be negative, got "-1 seconds"'],
  ["{}", {}, "must be a duration, got an object"],
  ["null", null, "must be a duration, got null"],
  ["true", true, "must be a duration, got true"]
]

const strategies = `"one-for-one", "one-for-all", "rest-for-one"`
const autoShutdowns = `"never", "any-significant", "all-significant"`
const weird: ReadonlyArray<readonly [string, unknown]> = [
  ['"x"', "x"],
  ['""', ""],
  ["1", 1],
  ["null", null],
  ["{}", {}]
]
const badIntegers: ReadonlyArray<readonly [string, unknown]> = [
  ["-1", -1],
  ["1.5", 1.5],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ['"3"', "3"],
  ["null", null],
  ["{}", {}]
]
const within = "1 second"

/** Supervisor options valid for a root and for a nested supervisor alike. */
const shared: ReadonlyArray<Row> = [
  ...[...weird, ['"one-for-two"', "one-for-two"] as const].map(([label, v]): Row => [
    `strategy ${label}`,
    { strategy: v },
    "strategy",
    `must be one of ${strategies}, got ${d(v)}`
  ]),
  ...[...weird, ['"sometimes"', "sometimes"] as const].map(([label, v]): Row => [
    `autoShutdown ${label}`,
    { autoShutdown: v },
    "autoShutdown",
    `must be one of ${autoShutdowns}, got ${d(v)}`
  ]),
  ...(
    [
      ["null", null],
      ['"x"', "x"],
      ["3", 3],
      ["true", true]
    ] as const
  ).map(([label, v]): Row => [
    `intensity ${label}`,
    { intensity: v },
    "intensity",
    `must be an object { maxRestarts, within } (or undefined for none), got ${d(v)}`
  ]),
  ["intensity {} (no maxRestarts)", { intensity: {} }, "intensity.maxRestarts", nonNegative(undefined)],
  ...badIntegers.map(([label, v]): Row => [
    `intensity.maxRestarts ${label}`,
    { intensity: { maxRestarts: v, within } },
    "intensity.maxRestarts",
    nonNegative(v)
  ]),
  ["intensity.within 0", { intensity: { maxRestarts: 1, within: 0 } }, "intensity.within", "must be greater than zero"],
  [
    'intensity.within "0 seconds"',
    { intensity: { maxRestarts: 1, within: "0 seconds" } },
    "intensity.within",
    "must be greater than zero"
  ],
  [
    "intensity.within Duration.zero",
    { intensity: { maxRestarts: 1, within: Duration.zero } },
    "intensity.within",
    "must be greater than zero"
  ],
  [
    "intensity.within missing",
    { intensity: { maxRestarts: 1 } },
    "intensity.within",
    "must be a duration, got undefined"
  ],
  ...badDuration.map(([label, v, reason]): Row => [
    `intensity.within ${label}`,
    { intensity: { maxRestarts: 1, within: v } },
    "intensity.within",
    reason
  ]),
  ...(
    [
      ["0", 0],
      ["-1", -1],
      ["1.5", 1.5],
      ['"x"', "x"]
    ] as const
  ).map(([label, v]): Row => [`maxConcurrent ${label}`, { maxConcurrent: v }, "maxConcurrent", positive(v)]),
  ['defaults "x"', { defaults: "x" }, "defaults", 'must be an object, got "x"'],
  ["defaults null", { defaults: null }, "defaults", "must be an object, got null"],
  ["defaults.timeout -1", { defaults: { timeout: -1 } }, "defaults.timeout", "must not be negative, got -1"],
  [
    "defaults.maxRetries 1.5",
    { defaults: { maxRetries: 1.5 } },
    "defaults.maxRetries",
    "must be a non-negative integer (or undefined for unlimited), got 1.5"
  ]
]

/** Options only a root has. */
const rootOnly: ReadonlyArray<Row> = [
  ...(
    [
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ['"x"', "x"],
      ["null", null]
    ] as const
  ).map(([label, v]): Row => [`maxSlotQueue ${label}`, { maxSlotQueue: v }, "maxSlotQueue", nonNegative(v)]),
  ...(
    [
      ['""', ""],
      ['"  "', "  "],
      ['"a/b"', "a/b"],
      ['"/"', "/"],
      ["1", 1],
      ["null", null],
      ["{}", {}]
    ] as const
  ).map(([label, v]): Row => [
    `name ${label}`,
    { name: v },
    "name",
    `must be a non-empty string without "/", got ${d(v)}`
  ]),
  ...(
    [
      ["0", 0],
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ['"x"', "x"]
    ] as const
  ).map(([label, v]): Row => [`eventBuffer ${label}`, { eventBuffer: v }, "eventBuffer", positive(v)]),
  ...badDuration.map(([label, v, reason]): Row => [`grace ${label}`, { grace: v }, "grace", reason])
]

const alwaysReason =
  "cannot be set on a RestartPolicy.always task: it never ends by itself (OTP allows it only for transient and temporary children)"
const neverReason = `cannot be set under a supervisor whose autoShutdown is "never"`
const maxRetriesReason = (v: unknown) => `must be a non-negative integer (or undefined for unlimited), got ${d(v)}`

/** Options of `Supervisor.task` that are the task's own (checked by the parent first), and `eventBuffer`. */
const nestedOnly: ReadonlyArray<Row> = [
  [
    "eventBuffer 1024 (not allowed on a nested supervisor)",
    { eventBuffer: 1024 },
    "eventBuffer",
    "cannot be set on a nested supervisor: the whole tree publishes on its root's bus"
  ],
  [
    "maxSlotQueue 5 (not allowed on a nested supervisor)",
    { maxSlotQueue: 5 },
    "maxSlotQueue",
    "cannot be set on a nested supervisor: controller submissions go to a root supervisor"
  ],
  [
    'name "x" (not allowed on a nested supervisor)',
    { name: "x" },
    "name",
    "cannot be set on a nested supervisor: it is named by its task"
  ],
  ...badDuration.map(([label, v, reason]): Row => [`timeout ${label}`, { timeout: v }, "timeout", reason]),
  ...badDuration.map(([label, v, reason]): Row => [`grace ${label}`, { grace: v }, "grace", reason]),
  ["resetAfter -1", { resetAfter: -1 }, "resetAfter", "must not be negative, got -1"],
  ...(
    [
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ['"3"', "3"]
    ] as const
  ).map(([label, v]): Row => [`maxRetries ${label}`, { maxRetries: v }, "maxRetries", maxRetriesReason(v)]),
  ...(
    [
      ['"yes"', "yes"],
      ["1", 1],
      ["null", null]
    ] as const
  ).map(([label, v]): Row => [
    `significant ${label}`,
    { significant: v },
    "significant",
    `must be a boolean, got ${d(v)}`
  ]),
  ...(
    [
      ["1", 1],
      ['"true"', "true"],
      ["null", null]
    ] as const
  ).map(([label, v]): Row => [`escalate ${label}`, { escalate: v }, "escalate", `must be a boolean, got ${d(v)}`]),
  ['restart "x"', { restart: "x" }, "restart", 'must be a RestartPolicy, got "x"'],
  ["restart {}", { restart: {} }, "restart", "must be a RestartPolicy, got an object"],
  [
    "restart always({ interval: -1 })",
    { restart: RestartPolicy.always({ interval: -1 }) },
    "restart.interval",
    "must not be negative, got -1"
  ],
  ['backoff "x"', { backoff: "x" }, "backoff", "must be a Schedule"],
  ['isFatal "x"', { isFatal: "x" }, "isFatal", 'must be a function, got "x"'],
  [
    "significant with RestartPolicy.always",
    { significant: true, restart: RestartPolicy.always() },
    "significant",
    alwaysReason
  ]
]

const a = Task.make("a", forever)

/** `children` × field: the children list of a `Supervisor.task`. */
const childRows: ReadonlyArray<
  readonly [label: string, children: unknown, options: unknown, field: string, reason: string]
> = [
  ['children "x"', "x", {}, "children", 'must be an array of tasks, got "x"'],
  ["children null", null, {}, "children", "must be an array of tasks, got null"],
  ['children[1] "x"', [a, "x"], {}, "children[1]", 'must be a Task, got "x"'],
  ["children[1] {}", [a, {}], {}, "children[1]", "must be a Task, got an object"],
  [
    "children[1].timeout -1",
    [a, Task.make("b", forever, { timeout: -1 })],
    {},
    "children[1].timeout",
    "must not be negative, got -1"
  ],
  [
    "children[1].timeout NaN",
    [a, Task.make("b", forever, { timeout: Number.NaN })],
    {},
    "children[1].timeout",
    "must be a number of milliseconds, got NaN"
  ],
  [
    "children[1].maxRetries 1.5",
    [a, Task.make("b", forever, { maxRetries: 1.5 })],
    {},
    "children[1].maxRetries",
    maxRetriesReason(1.5)
  ],
  [
    "children[1].name duplicate",
    [a, Task.make("a", Effect.void)],
    {},
    "children[1].name",
    '"a" is used by an earlier child'
  ],
  [
    "children[2].name duplicate of children[0]",
    [a, Task.make("b", forever), Task.make("a", forever)],
    {},
    "children[2].name",
    '"a" is used by an earlier child'
  ],
  [
    'children[0].name ""',
    [Task.make("", forever)],
    {},
    "children[0].name",
    'must be a non-empty string without "/", got ""'
  ],
  [
    'children[1].name "  "',
    [a, Task.make("  ", forever)],
    {},
    "children[1].name",
    'must be a non-empty string without "/", got "  "'
  ],
  [
    'children[1].significant "yes"',
    [a, Task.make("b", forever, { significant: "yes" as never })],
    { autoShutdown: "any-significant" },
    "children[1].significant",
    'must be a boolean, got "yes"'
  ],
  [
    "children[0].escalate 1",
    [Task.make("e", forever, { escalate: 1 as never })],
    {},
    "children[0].escalate",
    "must be a boolean, got 1"
  ],
  [
    "children[0].significant under the default autoShutdown (never)",
    [Task.make("s", forever, { significant: true })],
    {},
    "children[0].significant",
    neverReason
  ],
  [
    'children[1].significant under autoShutdown "never"',
    [a, Task.make("s", forever, { significant: true })],
    { autoShutdown: "never" },
    "children[1].significant",
    neverReason
  ],
  [
    "children[0].significant with RestartPolicy.always",
    [Task.make("s", forever, { significant: true, restart: RestartPolicy.always() })],
    { autoShutdown: "any-significant" },
    "children[0].significant",
    alwaysReason
  ],
  [
    "children[0].restart.interval -1",
    [Task.make("p", forever, { restart: RestartPolicy.always({ interval: -1 }) })],
    {},
    "children[0].restart.interval",
    "must not be negative, got -1"
  ],
  [
    "a grandchild: children[0].children[1].timeout",
    [Supervisor.task("h", [a, Task.make("x", forever, { timeout: "x" as never })])],
    {},
    "children[0].children[1].timeout",
    'must be a duration such as "5 seconds", got "x"'
  ],
  [
    "a nested supervisor child: children[1].intensity.within 0",
    [a, Supervisor.task("h", [], { intensity: { maxRestarts: 1, within: 0 } })],
    {},
    "children[1].intensity.within",
    "must be greater than zero"
  ],
  [
    "a nested supervisor child: children[0].eventBuffer",
    [Supervisor.task("h", [], { eventBuffer: 8 } as never)],
    {},
    "children[0].eventBuffer",
    "cannot be set on a nested supervisor: the whole tree publishes on its root's bus"
  ],
  [
    "a nested supervisor child: children[0].strategy",
    [Supervisor.task("h", [], { strategy: "one-for-none" as never })],
    {},
    "children[0].strategy",
    `must be one of ${strategies}, got "one-for-none"`
  ]
]

/** Adds `task` to a fresh recorded root and checks it is refused with `field`/`reason` and nothing started. */
const refusedByParent = (
  make: () => Task.Task<any, any>,
  field: string,
  reason: string,
  options?: Supervisor.SupervisorOptions
) =>
  Effect.gen(function* () {
    const { sup, events } = yield* setup(options)
    const error = yield* Effect.flip(sup.add(make()))
    expect(error).toBeInstanceOf(SupervisorError.InvalidTaskSpec)
    expect(fieldsOf(error)).toEqual({ _tag: "InvalidTaskSpec", task: "g", field, reason })
    yield* TestTime.adjust("1 minute")
    yield* flush
    expect(yield* sup.list).toEqual([])
    expect((yield* sup.tree).tasks).toEqual([])
    const all = yield* events
    expect(tags(all)).toEqual(["TaskAddFailed"])
    expect(ofTag("TaskAddFailed")(all)[0]).toMatchObject({
      path: "root",
      task: "g",
      rejection: "InvalidSpec",
      reason: error.message
    })
    expect(error.message).toBe(`invalid task spec "g": ${field} ${reason}`)
    // The supervisor itself is fine: a good task with the same name is still admitted.
    expect(yield* sup.isShuttingDown).toBe(false)
    yield* sup.add(Task.make("g", forever))
    expect((yield* sup.list).map((t) => [t.name, t.kind])).toEqual([["g", "worker"]])
  })

describe("TreeOptions: Supervisor.make refuses bad options with InvalidSupervisorOptions", () => {
  for (const [label, options, field, reason] of [...shared, ...rootOnly]) {
    it.effect(label, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Supervisor.make(options as never))
        expect(error).toBeInstanceOf(SupervisorError.InvalidSupervisorOptions)
        expect(fieldsOf(error)).toEqual({ _tag: "InvalidSupervisorOptions", field, reason })
        expect(error.message).toBe(`invalid supervisor options: ${field} ${reason}`)
      })
    )
  }

  for (const [label, options] of [
    ['"x"', "x"],
    ["5", 5],
    ["null", null]
  ] as const) {
    it.effect(`options ${label} itself`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(Supervisor.make(options as never))
        expect(fieldsOf(error)).toEqual({
          _tag: "InvalidSupervisorOptions",
          field: "options",
          reason: `must be an object, got ${d(options)}`
        })
      })
    )
  }

  it.effect("Supervisor.run with bad options fails before any task runs", () =>
    Effect.gen(function* () {
      let ran = 0
      const error = yield* Effect.flip(
        Supervisor.run(
          [
            Task.make(
              "t",
              Effect.sync(() => ran++)
            )
          ],
          {
            intensity: { maxRestarts: 1, within: 0 }
          }
        )
      )
      expect(fieldsOf(error)).toEqual({
        _tag: "InvalidSupervisorOptions",
        field: "intensity.within",
        reason: "must be greater than zero"
      })
      yield* TestTime.adjust("1 minute")
      expect(ran).toBe(0)
    })
  )

  it.effect("edge values that are allowed: maxRestarts 0, maxSlotQueue 0, grace 0, intensity undefined", () =>
    Effect.gen(function* () {
      for (const options of [
        { intensity: { maxRestarts: 0, within: 1 } },
        { intensity: { maxRestarts: 1, within: Duration.seconds(5) } },
        { intensity: { maxRestarts: 1, within: [1, 0] as [number, number] } },
        { intensity: undefined },
        { maxSlotQueue: 0 },
        { grace: 0 },
        { name: "app" },
        { strategy: "rest-for-one" as const },
        { autoShutdown: "all-significant" as const }
      ]) {
        const sup = yield* Supervisor.make(options)
        expect(yield* sup.isShuttingDown).toBe(false)
      }
    })
  )
})

describe("TreeOptions: a parent refuses a bad Supervisor.task with InvalidTaskSpec, nothing half-started", () => {
  for (const [label, options, field, reason] of [...shared, ...nestedOnly]) {
    it.effect(label, () =>
      refusedByParent(
        () => Supervisor.task("g", [Task.make("a", forever)], options as never),
        field,
        reason,
        // the significant+always row must not be refused for autoShutdown "never" first
        { autoShutdown: "any-significant" }
      )
    )
  }

  for (const [label, children, options, field, reason] of childRows) {
    it.effect(label, () =>
      refusedByParent(() => Supervisor.task("g", children as never, options as never), field, reason)
    )
  }

  it.effect('options "x" itself', () =>
    refusedByParent(() => Supervisor.task("g", [], "x" as never), "options", 'must be an object, got "x"')
  )

  it.effect("options null itself", () =>
    refusedByParent(() => Supervisor.task("g", [], null as never), "options", "must be an object, got null")
  )

  it.effect("the nested defaults are checked before the children", () =>
    refusedByParent(
      () => Supervisor.task("g", [Task.make("", forever)], { defaults: { timeout: -1 } }),
      "defaults.timeout",
      "must not be negative, got -1"
    )
  )

  it.effect("addAll is all-or-nothing: a good task before the bad supervisor task is not started either", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      let ran = 0
      const error = yield* Effect.flip(
        sup.addAll([
          Task.make(
            "good",
            Effect.sync(() => ran++)
          ),
          Supervisor.task("g", [a, Task.make("a", forever)])
        ])
      )
      expect(fieldsOf(error)).toEqual({
        _tag: "InvalidTaskSpec",
        task: "g",
        field: "children[1].name",
        reason: '"a" is used by an earlier child'
      })
      yield* TestTime.adjust("1 second")
      yield* flush
      expect(ran).toBe(0)
      expect(yield* sup.list).toEqual([])
      expect(tags(yield* events)).toEqual(["TaskAddFailed"])
    })
  )

  it.effect("Supervisor.run with a bad Supervisor.task fails with InvalidTaskSpec before anything runs", () =>
    Effect.gen(function* () {
      let ran = 0
      const error = yield* Effect.flip(
        Supervisor.run([
          Task.make(
            "good",
            Effect.sync(() => ran++)
          ),
          Supervisor.task("g", [], { intensity: { maxRestarts: -1, within: "1 second" } })
        ])
      )
      expect(fieldsOf(error)).toEqual({
        _tag: "InvalidTaskSpec",
        task: "g",
        field: "intensity.maxRestarts",
        reason: nonNegative(-1)
      })
      expect(ran).toBe(0)
    })
  )

  it.effect("Task.validate checks a Supervisor.task's nested options and children too", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Task.validate(Supervisor.task("g", [a, Task.make("b", forever, { timeout: -1 })]))
      )
      expect(fieldsOf(error)).toEqual({
        _tag: "InvalidTaskSpec",
        task: "g",
        field: "children[1].timeout",
        reason: "must not be negative, got -1"
      })
    })
  )
})

describe("TreeOptions: significant", () => {
  it.effect("significant with RestartPolicy.always is refused at the root too (field significant)", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup({ autoShutdown: "any-significant" })
      const error = yield* Effect.flip(
        sup.add(Task.make("g", forever, { significant: true, restart: RestartPolicy.always() }))
      )
      expect(fieldsOf(error)).toEqual({
        _tag: "InvalidTaskSpec",
        task: "g",
        field: "significant",
        reason: alwaysReason
      })
      yield* flush
      expect(yield* sup.list).toEqual([])
      expect(ofTag("TaskAddFailed")(yield* events).map((e) => [e.task, e.rejection])).toEqual([["g", "InvalidSpec"]])
    })
  )

  // BUG (suspected): the root's admission check words its reason with the field name in it, so the
  // error reads `... "g": significant significant cannot be set ...`; every other reason (and the
  // `children[i].significant` one) completes a sentence that starts with the field name.
  for (const [label, task] of [
    ["a worker", () => Task.make("g", forever, { significant: true })],
    ["a Supervisor.task", () => Supervisor.task("g", [a], { significant: true, autoShutdown: "any-significant" })]
  ] as const) {
    it.effect(`significant ${label} added to a root whose autoShutdown is "never" is refused`, () =>
      Effect.gen(function* () {
        const { sup, events } = yield* setup()
        const error = yield* Effect.flip(sup.add(task()))
        expect(error).toBeInstanceOf(SupervisorError.InvalidTaskSpec)
        expect(fieldsOf(error)).toMatchObject({ _tag: "InvalidTaskSpec", task: "g", field: "significant" })
        yield* flush
        expect(yield* sup.list).toEqual([])
        expect(ofTag("TaskAddFailed")(yield* events).map((e) => [e.task, e.rejection])).toEqual([["g", "InvalidSpec"]])
        expect((error as SupervisorError.InvalidTaskSpec).reason).toBe(neverReason)
        expect(error.message).toBe(`invalid task spec "g": significant ${neverReason}`)
      })
    )
  }

  it.effect("a significant Supervisor.task is admitted by a root with autoShutdown", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup({ autoShutdown: "all-significant" })
      yield* sup.add(Supervisor.task("g", [a], { significant: true }))
      yield* flush
      expect((yield* sup.list).map((t) => [t.name, t.kind, t.state])).toEqual([["g", "supervisor", "running"]])
    })
  )
})

describe("TreeOptions: task combinators on a Supervisor.task", () => {
  it.effect(
    "withRestart, withBackoff, withTimeout, withMaxRetries, withGrace, withResetAfter, withIsFatal keep it a supervisor",
    () =>
      Effect.gen(function* () {
        const { sup } = yield* setup()
        const task = Supervisor.task("g", [Task.make("x", forever), Task.make("y", forever)], {
          strategy: "one-for-all"
        }).pipe(
          Task.withRestart(RestartPolicy.never),
          Task.withBackoff(Backoff.constant("5 millis")),
          Task.withTimeout(undefined),
          Task.withMaxRetries(2),
          Task.withGrace("2 seconds"),
          Task.withResetAfter("1 minute"),
          Task.withIsFatal(() => false)
        )
        expect(task.options).toMatchObject({ strategy: "one-for-all", restart: RestartPolicy.never, maxRetries: 2 })
        yield* sup.add(task)
        yield* flush
        const list = yield* sup.list
        expect(list.map((t) => [t.name, t.path, t.kind, t.state])).toEqual([["g", "root/g", "supervisor", "running"]])
        const node = (yield* sup.tree).tasks[0]!
        expect(node.kind).toBe("supervisor")
        expect(node.supervisor?.strategy).toBe("one-for-all")
        expect(node.supervisor?.tasks.map((t) => [t.path, t.kind])).toEqual([
          ["root/g/x", "worker"],
          ["root/g/y", "worker"]
        ])
      })
  )

  const combinators: ReadonlyArray<readonly [string, (t: Task.Task<any, any>) => Task.Task<any, any>]> = [
    ["withRestart", Task.withRestart(RestartPolicy.never)],
    ["withBackoff", Task.withBackoff(Backoff.constant("5 millis"))],
    ["withTimeout", Task.withTimeout("1 second")],
    ["withMaxRetries", Task.withMaxRetries(2)],
    ["withGrace", Task.withGrace("2 seconds")],
    ["withResetAfter", Task.withResetAfter("1 minute")],
    ["withIsFatal", Task.withIsFatal(() => true)]
  ]
  for (const [label, combinator] of combinators) {
    it.effect(`${label}: the nested options and children are still checked`, () =>
      Effect.gen(function* () {
        yield* refusedByParent(
          () => combinator(Supervisor.task("g", [a], { intensity: { maxRestarts: 1, within: 0 } })),
          "intensity.within",
          "must be greater than zero"
        )
        yield* refusedByParent(
          () => combinator(Supervisor.task("g", [a, Task.make("a", forever)])),
          "children[1].name",
          '"a" is used by an earlier child'
        )
      })
    )
  }

  it.effect("a combinator's own bad value is refused with its field (withTimeout(-1), withMaxRetries(1.5))", () =>
    Effect.gen(function* () {
      yield* refusedByParent(
        () => Supervisor.task("g", [a]).pipe(Task.withTimeout(-1)),
        "timeout",
        "must not be negative, got -1"
      )
      yield* refusedByParent(
        () => Supervisor.task("g", [a]).pipe(Task.withMaxRetries(1.5)),
        "maxRetries",
        maxRetriesReason(1.5)
      )
    })
  )

  it.effect("withRestart(always()) on a significant Supervisor.task is refused (field significant)", () =>
    refusedByParent(
      () => Supervisor.task("g", [a], { significant: true }).pipe(Task.withRestart(RestartPolicy.always())),
      "significant",
      alwaysReason,
      { autoShutdown: "any-significant" }
    )
  )

  // BUG (suspected): `grace` is documented as both the nested supervisor's grace and how long the
  // parent waits for it, but `Task.withGrace` on a Supervisor.task only changes the parent's wait:
  // the nested supervisor's config was captured from the options given to Supervisor.task
  // (src/internal/tree.ts: `NestedSpec.resolve` closes over the original `options`, and
  // Task.withOption copies only the NestedSpecKey). Here the nested supervisor keeps its default
  // 10 s grace and waits 5 s for `slow`, while the parent abandons g at 1 s.
  it.effect("withGrace on a Supervisor.task is also the nested supervisor's grace (like the grace option)", () =>
    Effect.gen(function* () {
      const { sup, events } = yield* setup()
      const slow = Task.make(
        "slow",
        Effect.acquireRelease(Effect.void, () => Effect.sleep("5 seconds")).pipe(
          Effect.andThen(Effect.never),
          Effect.scoped
        )
      )
      yield* sup.add(Supervisor.task("opt", [slow], { grace: "1 second" }))
      yield* sup.add(Supervisor.task("comb", [slow]).pipe(Task.withGrace("1 second")))
      yield* flush
      yield* sup.remove("opt")
      yield* sup.remove("comb")
      yield* TestTime.adjust("6 seconds")
      yield* flush
      const all = yield* events
      const graceExceeded = ofTag("GraceExceeded")(all).map((e) => [e.at, e.path, e.graceMs, e.paths])
      expect(graceExceeded).toContainEqual([1000, "root/opt", 1000, ["root/opt/slow"]])
      expect(graceExceeded).toContainEqual([1000, "root/comb", 1000, ["root/comb/slow"]])
      // Not: the nested supervisor waiting its default 10 s grace, done only when slow stopped at 5000.
      expect(
        ofTag("AllStoppedWithinGrace")(all)
          .filter((e) => e.path === "root/comb")
          .map((e) => e.at)
      ).toEqual([])
    })
  )
})
