/**
 * The entry's lifecycle (src/internal/entryLifecycle.ts, the table in src/internal/entry.ts's
 * header): the transition table as code equals the table in the header, `transition` defects on a
 * move the table does not allow and leaves the phase unchanged, and a supervisor moves a real
 * entry through the phases the table names (running, stopping, abandoned, restarting, parked,
 * ended). Every timing runs on the TestClock.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Supervisor, Task, TaskContext } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"
import type { Entry } from "../../src/internal/entry.js"
import { entryOf } from "../../src/internal/entry.js"
import { canTransition, Phase, type PhaseHolder, phaseNames, transition } from "../../src/internal/entryLifecycle.js"
import { setup } from "../helpers/recorder.js"

const phases: ReadonlyArray<Phase> = Object.values(Phase)

/** The transition table of entry.ts's header: phase name → the names in its "may become" column. */
const headerTable = (): Map<string, Array<string>> => {
  const source = readFileSync(new URL("../../src/internal/entry.ts", import.meta.url), "utf8")
  const header = source.slice(0, source.indexOf("*/"))
  const table = new Map<string, Array<string>>()
  for (const line of header.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim())
    const name = /^`(\w+)`$/.exec(cells[1] ?? "")?.[1]
    if (name === undefined || cells.length < 6) continue
    const targets = cells[4]!.match(/`\w+`/g) ?? []
    table.set(
      name,
      targets.map((target) => target.slice(1, -1))
    )
  }
  return table
}

/** A stand-in holder, to drive `transition` without a supervisor. */
const holder = (phase: Phase): PhaseHolder & { current: Phase } => ({
  current: phase,
  get phase() {
    return this.current
  },
  path: "root/t",
  setPhaseUnchecked(next: Phase) {
    this.current = next
  }
})

/** Runs in the attempt: the attempt's entry (the supervisor's record of its task). */
const ownEntry = Effect.map(TaskContext.TaskContext, (ctx) => entryOf(ctx)!)

describe("the entry's lifecycle", () => {
  it("the transition table in code is the table in entry.ts's header, row by row", () => {
    const table = headerTable()
    expect([...table.keys()]).toEqual(phaseNames)
    for (const from of phases) {
      const documented = table.get(phaseNames[from]!)!
      const allowed = phases.filter((to) => canTransition(from, to)).map((to) => phaseNames[to])
      expect([phaseNames[from], allowed]).toEqual([phaseNames[from], documented])
    }
  })

  it("nothing leaves Ended, and no phase moves to itself", () => {
    for (const to of phases) expect(canTransition(Phase.Ended, to)).toBe(false)
    for (const phase of phases) expect(canTransition(phase, phase)).toBe(false)
  })

  it("transition moves an entry along every allowed edge", () => {
    for (const from of phases) {
      for (const to of phases.filter((to) => canTransition(from, to))) {
        const entry = holder(from)
        transition(entry, to)
        expect(entry.current).toBe(to)
      }
    }
  })

  it("transition defects on every move the table does not allow, naming both phases and the task, and changes nothing", () => {
    let refused = 0
    for (const from of phases) {
      for (const to of phases.filter((to) => !canTransition(from, to))) {
        const entry = holder(from)
        expect(() => transition(entry, to)).toThrow(
          `fibervisor: illegal task phase transition ${phaseNames[from]} -> ${phaseNames[to]} (task "root/t")`
        )
        expect(entry.current).toBe(from)
        refused++
      }
    }
    // 64 pairs, 15 allowed edges.
    expect(refused).toBe(64 - 15)
  })

  it.effect(
    "a supervisor moves a task's entry Running → Stopping → Abandoned → Ended (remove, a grace that runs out)",
    () =>
      Effect.gen(function* () {
        const { sup } = yield* setup()
        const seen = yield* Deferred.make<Entry>()
        const release = yield* Deferred.make<void>()
        // Ignores its stop for 2 s: the 1 s grace runs out first.
        const stubborn = Effect.flatMap(ownEntry, (entry) => Deferred.succeed(seen, entry)).pipe(
          Effect.andThen(Deferred.await(release)),
          Effect.uninterruptible
        )
        yield* sup.add(Task.make("stubborn", stubborn, { grace: "1 second" }))
        yield* TestTime.adjust(0)
        const entry = yield* Deferred.await(seen)
        expect(phaseNames[entry.phase]).toBe("Running")
        expect([entry.exited, entry.isSettled, entry.isStopClaimed, entry.stopRequested]).toEqual([
          false,
          false,
          false,
          false
        ])
        expect(yield* sup.remove("stubborn")).toBe(true)
        expect(phaseNames[entry.phase]).toBe("Stopping")
        expect([entry.isStopClaimed, entry.stopRequested, entry.isSettled]).toEqual([true, true, false])
        yield* TestTime.adjust("1 second")
        expect(phaseNames[entry.phase]).toBe("Abandoned")
        expect([entry.isSettled, entry.exited, entry.outcome?._tag]).toEqual([true, false, "ForceAborted"])
        yield* Deferred.succeed(release, undefined)
        yield* TestTime.adjust(0)
        expect(phaseNames[entry.phase]).toBe("Ended")
        expect([entry.isSettled, entry.exited]).toEqual([true, true])
      })
  )

  it.effect("restartNow moves it Running → Restarting → (Exiting → Parked) → Running on the same entry", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const entries: Array<Entry> = []
      yield* sup.add(
        Task.make(
          "svc",
          Effect.flatMap(ownEntry, (entry) => Effect.sync(() => entries.push(entry))).pipe(Effect.andThen(Effect.never))
        )
      )
      yield* TestTime.adjust(0)
      const entry = entries[0]!
      expect(yield* sup.restartNow("svc")).toBe(true)
      expect(phaseNames[entry.phase]).toBe("Restarting")
      expect([entry.stopRequested, entry.isStopClaimed]).toEqual([true, false])
      yield* TestTime.adjust(0)
      expect(entries).toHaveLength(2)
      expect(entries[1]).toBe(entry)
      expect(phaseNames[entry.phase]).toBe("Running")
      expect([entry.exited, entry.stopRequested, entry.attempt]).toEqual([false, false, 2])
      yield* sup.remove("svc")
      yield* TestTime.adjust(0)
      expect(phaseNames[entry.phase]).toBe("Ended")
    })
  )

  it.effect("a one-for-all group restart parks a sibling (Parking → Parked) and starts it again (Running)", () =>
    Effect.gen(function* () {
      const { sup } = yield* setup()
      const entries = new Map<string, Array<Entry>>()
      const attempts = new Map<string, number>()
      const record = (name: string) =>
        Effect.flatMap(ownEntry, (entry) =>
          Effect.sync(() => {
            entries.set(name, [...(entries.get(name) ?? []), entry])
            attempts.set(name, (attempts.get(name) ?? 0) + 1)
          })
        )
      const failsOnce = Effect.andThen(
        record("a"),
        // Fails once, when both children run.
        Effect.suspend(() =>
          attempts.get("a") === 1 ? Effect.andThen(Effect.sleep("100 millis"), Effect.fail("boom")) : Effect.never
        )
      )
      const phasesOfB: Array<string> = []
      const b = Effect.andThen(record("b"), Effect.never).pipe(
        Effect.onInterrupt(() => Effect.sync(() => phasesOfB.push(phaseNames[entries.get("b")![0]!.phase]!)))
      )
      yield* sup.add(Supervisor.task("g", [Task.make("a", failsOnce), Task.make("b", b)], { strategy: "one-for-all" }))
      yield* TestTime.adjust("1 second")
      const entryB = entries.get("b")![0]!
      expect(phasesOfB).toEqual(["Parking"])
      expect(entries.get("b")).toEqual([entryB, entryB])
      expect(phaseNames[entryB.phase]).toBe("Running")
      expect(entryB.restarts).toBe(1)
      yield* sup.remove("g")
      yield* TestTime.adjust("1 second")
      expect(phaseNames[entryB.phase]).toBe("Ended")
    })
  )
})
