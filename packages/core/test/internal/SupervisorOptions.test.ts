/**
 * Supervisor options decoded once with a Schema per placement (src/internal/options.ts), and the
 * memo of the hand-written task check (`resolveTask` in src/internal/task.ts: settings decoded
 * once per frozen options object). Each refusal's field and words are pinned, with every
 * option, in test/BadInput.test.ts; this file pins what the schema decides: the order of the
 * checks (the first refusal is reported), the defaults, the placement rules, and the memo.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { Task } from "@fibervisor/core"
import { nestedIntensity, resolveConfig } from "../../src/internal/options.js"
import { resolveTask } from "../../src/internal/task.js"

const root = { nested: false, defaults: undefined } as const
const nested = { nested: true, defaults: undefined } as const

const problem = (options: unknown, placement: typeof root | typeof nested = root) => {
  const decoded = resolveConfig(options, placement, "root")
  return Result.isFailure(decoded) ? decoded.failure : undefined
}

const config = (options: unknown, placement: typeof root | typeof nested = root) =>
  Result.getOrThrow(resolveConfig(options, placement, "root"))

describe("supervisor options (one Schema per placement)", () => {
  it("an unknown key is refused before any option is checked (the first refusal is reported)", () => {
    expect(problem({ grace: -1, grase: "1 second" })).toEqual({
      field: "grase",
      reason: "is not a known option (misspelt?)"
    })
  })

  it("options are checked in the schema's order: name, grace, maxConcurrent, eventBuffer, defaults, strategy, intensity, autoShutdown, maxSlotQueue", () => {
    const bad = {
      maxSlotQueue: -1,
      autoShutdown: "x",
      intensity: 1,
      strategy: "x",
      defaults: 1,
      eventBuffer: 0,
      maxConcurrent: 0,
      grace: -1,
      name: ""
    }
    const order: Array<string> = []
    const left: Record<string, unknown> = { ...bad }
    for (;;) {
      const refused = problem(left)
      if (refused === undefined) break
      order.push(refused.field)
      delete left[refused.field]
    }
    expect(order).toEqual([
      "name",
      "grace",
      "maxConcurrent",
      "eventBuffer",
      "defaults",
      "strategy",
      "intensity",
      "autoShutdown",
      "maxSlotQueue"
    ])
  })

  it("a nested supervisor refuses the root-only options first, whatever their value, and ignores other keys (its task's)", () => {
    expect(problem({ grace: -1, maxSlotQueue: 3, eventBuffer: 8 }, nested)).toEqual({
      field: "eventBuffer",
      reason: "cannot be set on a nested supervisor: the whole tree publishes on its root's bus"
    })
    expect(problem({ grace: -1, maxSlotQueue: 3 }, nested)?.field).toBe("maxSlotQueue")
    expect(problem({ restart: "whatever the task's check says", grace: "1 second" }, nested)).toBeUndefined()
  })

  it("the defaults: grace 10 s, eventBuffer 1024, maxSlotQueue 100, one-for-one, never; the name is the path", () => {
    expect(config(undefined)).toMatchObject({
      path: "root",
      graceMs: 10_000,
      maxConcurrent: undefined,
      eventBuffer: 1024,
      strategy: "one-for-one",
      intensity: undefined,
      autoShutdown: "never",
      maxSlotQueue: 100
    })
    expect(config({ name: "api", grace: 0 })).toMatchObject({ path: "api", graceMs: 0 })
  })

  it("intensity: left out is OTP's 3 in 5 s for a nested supervisor and none at a root; set to undefined is none", () => {
    expect(config({}, nested).intensity).toEqual(nestedIntensity)
    expect(config({ intensity: undefined }, nested).intensity).toBeUndefined()
    expect(config({}).intensity).toBeUndefined()
    expect(config({ intensity: { maxRestarts: 2, within: "1 second" } }).intensity).toEqual({
      maxRestarts: 2,
      withinMs: 1_000
    })
  })

  it("a nested supervisor without defaults inherits its parent's; with its own, they win", () => {
    const parent = config({ defaults: { timeout: "1 second" } }).defaults
    const child = resolveConfig({}, { nested: true, defaults: parent }, "root/g")
    expect(Result.getOrThrow(child).defaults).toBe(parent)
    const own = Result.getOrThrow(
      resolveConfig({ defaults: { timeout: "2 seconds" } }, { nested: true, defaults: parent }, "")
    )
    expect(own.defaults).not.toBe(parent)
    expect(own.defaults.timeoutMs).toBe(2_000)
  })
})

describe("the task check (resolveTask): settings memoized per frozen options object", () => {
  const defaults = config(undefined).defaults
  const check = (task: Task.Task<any, any>, under = defaults) => Result.getOrThrow(resolveTask(task, under))

  it("tasks made by one constructor share their frozen options, and their specs share the decoded settings", () => {
    const a = Task.once("a", Effect.void)
    const b = Task.once("b", Effect.void)
    expect(a.options).toBe(b.options)
    expect(Object.isFrozen(a.options)).toBe(true)
    const [specA, specB] = [check(a), check(b)]
    expect([specA.name, specB.name]).toEqual(["a", "b"])
    expect(Object.getPrototypeOf(specA)).toBe(Object.getPrototypeOf(specB))
    expect(specA.restart._tag).toBe("Never")
    expect(check(Task.restartable("r", Effect.void)).restart._tag).toBe("OnFailure")
  })

  it("the memo is keyed by the defaults too: the same options under other defaults take what they leave out from them", () => {
    const other = config({ defaults: { timeout: "5 seconds" } }).defaults
    const task = Task.once("w", Effect.void)
    expect([check(task).timeoutMs, check(task, other).timeoutMs, check(task).timeoutMs]).toEqual([0, 5_000, 0])
  })

  it("options that are not frozen are decoded on every check (a change between two adds is seen)", () => {
    const task = Task.make("w", Effect.void, { timeout: "1 second" })
    expect(check(task).timeoutMs).toBe(1_000)
    ;(task.options as { timeout?: unknown }).timeout = "2 seconds"
    expect(check(task).timeoutMs).toBe(2_000)
  })

  it("a frozen options object that is refused is refused on every check, with its field", () => {
    // `Task.make` copies its options: a task carrying a frozen object of its own is built by hand.
    const once = Task.once("w", Effect.void)
    const task = Object.assign(Object.create(Object.getPrototypeOf(once)), {
      name: "w",
      effect: Effect.void,
      options: Object.freeze({ timeout: -1 })
    })
    for (let i = 0; i < 2; i++) {
      const refused = resolveTask(task, defaults)
      expect(Result.isFailure(refused) && refused.failure.field).toBe("timeout")
    }
  })

  it("a value that is not a task is refused and never throws", () => {
    for (const value of [null, undefined, 5, "task"]) {
      const refused = resolveTask(value as never, defaults)
      expect(Result.isFailure(refused) && refused.failure.field).toBe("task")
    }
  })
})
