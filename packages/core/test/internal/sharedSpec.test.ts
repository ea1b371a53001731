/**
 * `resolveTask` shares the settings of tasks that set nothing else (`task.ts` `plainSpec`): the
 * spec reads exactly as a spelled-out one, whatever the settings, and past the cap of shared
 * settings a task still gets its own right values.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Result } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task } from "@fibervisor/core"
import type { Entry } from "../../src/internal/entry.js"
import { settingsOf } from "../../src/internal/sharedSpec.js"
import { builtinDefaults, type ResolvedTask, resolveTask, type TaskSettings } from "../../src/internal/task.js"

const fields = [
  "restart",
  "backoff",
  "timeoutMs",
  "maxRetries",
  "resetAfterMs",
  "graceMs",
  "logFailures",
  "name",
  "effect",
  "isFatal",
  "significant",
  "ready",
  "escalate",
  "nested"
] as const

const read = (spec: ResolvedTask) => Object.fromEntries(fields.map((field) => [field, spec[field]]))

const resolved = (task: Task.Task<unknown, unknown>): ResolvedTask => {
  const result = resolveTask(task, builtinDefaults)
  if (Result.isFailure(result)) throw new Error(result.failure.reason)
  return result.success
}

describe("resolveTask: shared settings", () => {
  it("a task with no options reads the defaults, its own name and effect", () => {
    const effect = Effect.succeed(1)
    expect(read(resolved(Task.make("a", effect)))).toEqual({
      ...builtinDefaults,
      name: "a",
      effect,
      isFatal: undefined,
      significant: false,
      ready: false,
      escalate: false,
      nested: undefined
    })
  })

  it("tasks with the same settings share them; their names and effects stay their own", () => {
    const a = resolved(Task.once("a", Effect.void))
    const b = resolved(Task.once("b", Effect.never))
    expect(Object.getPrototypeOf(a)).toBe(Object.getPrototypeOf(b))
    expect(a.name).toBe("a")
    expect(b.name).toBe("b")
    expect(b.effect).toBe(Effect.never)
    expect(a.restart._tag).toBe("Never")
  })

  it("every setting a task sets is its own, also past the cap of shared settings (64 distinct timeouts)", () => {
    for (let i = 1; i <= 64; i++) {
      const spec = resolved(
        Task.make(`t${i}`, Effect.void, {
          timeout: `${i} millis`,
          maxRetries: i,
          restart: RestartPolicy.always({ interval: `${i} seconds` }),
          backoff: Backoff.constant("5 millis")
        })
      )
      expect(spec.name).toBe(`t${i}`)
      expect(spec.timeoutMs).toBe(i)
      expect(spec.maxRetries).toBe(i)
      expect(spec.restart).toEqual({ _tag: "Always", intervalMs: i * 1000 })
    }
  })

  it("a task with flags or isFatal gets a spec of its own", () => {
    const isFatal = () => true
    const spec = resolved(Task.make("f", Effect.void, { isFatal, significant: true, escalate: true }))
    expect(Object.getPrototypeOf(spec)).toBe(Object.prototype)
    expect(spec.isFatal).toBe(isFatal)
    expect(spec.significant).toBe(true)
    expect(spec.escalate).toBe(true)
  })
})

describe("settingsOf: what an entry keeps of its spec", () => {
  const settingsFields = fields.filter((field) => field !== "name" && field !== "effect")
  const readSettings = (settings: TaskSettings) =>
    Object.fromEntries(settingsFields.map((field) => [field, settings[field]]))

  // The defaults' settings were shared by the first test above (the cap of 32 is process-wide).
  it("a plain spec's settings are the prototype it shares with every task of the same settings", () => {
    const a = resolved(Task.make("a", Effect.succeed(1)))
    const b = resolved(Task.make("b", Effect.succeed(2)))
    expect(settingsOf(a)).toBe(settingsOf(b))
    expect(settingsOf(a)).not.toBe(a)
    expect(readSettings(settingsOf(a))).toEqual(readSettings(a))
  })

  it("a spelled-out spec (flags, isFatal, past the cap) is its own settings", () => {
    const flagged = resolved(Task.make("f", Effect.void, { significant: true }))
    expect(settingsOf(flagged)).toBe(flagged)
    for (let i = 0; i < 64; i++) {
      const spec = resolved(Task.make(`t${i}`, Effect.void, { timeout: `${1000 + i} millis` }))
      const settings = settingsOf(spec)
      expect(readSettings(settings)).toEqual(readSettings(spec))
      if (settings !== spec) expect(Object.hasOwn(settings, "name")).toBe(true)
    }
  })

  it.effect("an entry reads its own name and effect, and its settings through the shared prototype", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: "settings" })
      const effect = Effect.never
      const handle = yield* sup.add(Task.make("mine", effect))
      const other = yield* sup.add(Task.make("other", Effect.never))
      const entry = handle as unknown as Entry
      expect(entry.name).toBe("mine")
      expect(entry.effect).toBe(effect)
      expect(entry.path).toBe("settings/mine")
      expect(entry.spec).toBe((other as unknown as Entry).spec)
      expect(entry.spec.restart._tag).toBe("OnFailure")
      expect(Option.map(yield* sup.get("mine"), (info) => info.name)).toEqual(Option.some("mine"))
    })
  )
})
