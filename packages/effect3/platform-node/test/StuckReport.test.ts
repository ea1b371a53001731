/**
 * The exit deadline's report on stderr stays bounded (issue 12, item 20): it names the first ten
 * tasks still running and counts the rest; a shutdown that abandons 100,000 tasks must not print
 * 100,000 lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Supervisor, SupervisorRegistry, Task } from "@fibervisor/core"
import { stuckReport } from "../src/internal/runMain.js"

const withRegistry = (registry: SupervisorRegistry.SupervisorRegistry) =>
  Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)

describe("runMain: the exit deadline's report", () => {
  it.scoped("names the first ten tasks still running, then how many more", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* withRegistry(registry)(Supervisor.make({ name: "root" }))
      for (let i = 0; i < 25; i++) yield* sup.add(Task.make(`t${String(i).padStart(2, "0")}`, Effect.never))
      yield* Effect.yieldNow()
      const lines = stuckReport(registry, 2000).trimEnd().split("\n")
      expect(lines).toEqual([
        "fibervisor: the shutdown did not finish within the exit deadline of 2000 ms; still running:",
        ...Array.from({ length: 10 }, (_, i) => `  root/t${String(i).padStart(2, "0")} (running, attempt 1)`),
        "  … and 15 more"
      ])
    })
  )

  it.scoped("ten or fewer are all named", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const sup = yield* withRegistry(registry)(Supervisor.make({ name: "root" }))
      for (let i = 0; i < 10; i++) yield* sup.add(Task.make(`t${i}`, Effect.never))
      yield* Effect.yieldNow()
      const lines = stuckReport(registry, 2000).trimEnd().split("\n")
      expect(lines).toHaveLength(11)
      expect(lines.at(-1)).toBe("  root/t9 (running, attempt 1)")
    })
  )

  it.effect("no task left: says something else holds the shutdown", () =>
    Effect.sync(() => {
      expect(stuckReport(SupervisorRegistry.make(), 1000)).toBe(
        "fibervisor: the shutdown did not finish within the exit deadline of 1000 ms; no supervised task is left running (something else is holding the shutdown)\n"
      )
    })
  )
})
