/**
 * A controller slot's queue hands the slot over in O(1): a long queue (20,000 submissions) drains
 * in FIFO order with exact counts, and no hand-over shifts the queue's array (`Array.shift` moves
 * every element behind the head: O(n²) for the whole queue). Removing from, replacing the head of
 * and shutting down a queue whose front has already drained keep the order and the counts.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Supervisor, Task, TaskOutcome } from "@fibervisor/core"
import { TestTime } from "@fibervisor/vitest"

/** Counts `Array.prototype.shift` calls on arrays longer than `minLength` until `restore`. */
const shiftCounter = (minLength: number) => {
  const original = Array.prototype.shift
  let long = 0
  Array.prototype.shift = function (this: Array<unknown>) {
    if (this.length > minLength) long += 1
    return original.call(this)
  }
  return {
    get long() {
      return long
    },
    restore: () => {
      Array.prototype.shift = original
    }
  }
}

let restoreShift: (() => void) | undefined
afterEach(() => {
  restoreShift?.()
  restoreShift = undefined
})

/**
 * A supervisor with `count` submissions to slot "s": `q0`, `q1`, …; `q<blockAt>` waits for the
 * returned gate, so the ones before it have run and it owns the slot when this returns.
 */
const longQueue = (count: number, blockAt: number) =>
  Effect.gen(function* () {
    const sup = yield* Supervisor.make({ maxSlotQueue: count })
    const gate = yield* Deferred.make<void>()
    const ran: Array<string> = []
    const handles = []
    for (let i = 0; i < count; i++) {
      const name = `q${i}`
      const body = Effect.sync(() => ran.push(name))
      const task = Task.once(name, i === blockAt ? Effect.andThen(Deferred.await(gate), body) : body)
      handles.push(yield* sup.submit(task, { slot: "s", admission: "queue" }))
    }
    // The slot hands over `blockAt` times before `q<blockAt>` parks: more scheduler turns than a
    // bounded settle gives, so wait for the one before it to be done, then let it take the slot.
    if (blockAt > 0) yield* handles[blockAt - 1]!.await
    yield* TestTime.settle()
    return { sup, gate, ran, handles }
  })

const names = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `q${from + i}`)

describe("ControllerQueue: a long slot queue", () => {
  it.effect("20,000 queued submissions run one at a time, in submission order, each exactly once", () =>
    Effect.gen(function* () {
      const { gate, handles, ran, sup } = yield* longQueue(20_001, 0)
      expect(yield* sup.slots).toMatchObject([{ slot: "s", status: "running", queued: 20_000 }])
      const shifts = shiftCounter(1_000)
      restoreShift = shifts.restore
      yield* Deferred.succeed(gate, undefined)
      yield* sup.awaitEmpty
      shifts.restore()
      expect(ran).toEqual(names(0, 20_001))
      for (const handle of handles) expect(yield* handle.await).toEqual(TaskOutcome.completed)
      expect(yield* sup.slots).toEqual([])
      // No hand-over shifted the queue.
      expect(shifts.long).toBe(0)
    })
  )

  it.effect("a queue whose front has drained: remove, then replace the head; the rest keeps its order", () =>
    Effect.gen(function* () {
      const { gate, handles, ran, sup } = yield* longQueue(3_000, 1_000)
      expect(ran).toEqual(names(0, 1_000))
      expect(yield* sup.slots).toMatchObject([{ slot: "s", status: "running", queued: 1_999 }])
      expect(yield* sup.remove("q1500")).toBe(true)
      expect(yield* handles[1_500]!.await).toMatchObject({ _tag: "Rejected", kind: "RemovedFromQueue" })
      expect(yield* sup.remove("q1500")).toBe(false)
      expect(yield* sup.slots).toMatchObject([{ queued: 1_998 }])
      // `replace` takes the head's place (q1001 is superseded) and stops the owner (q1000).
      const replacement = yield* sup.submit(
        Task.once(
          "r",
          Effect.sync(() => ran.push("r"))
        ),
        { slot: "s", admission: "replace" }
      )
      expect(yield* handles[1_001]!.await).toMatchObject({ _tag: "Rejected", kind: "SupersededByReplace" })
      yield* sup.awaitEmpty
      expect(yield* handles[1_000]!.await).toMatchObject({ _tag: "Canceled" })
      expect(yield* replacement.await).toEqual(TaskOutcome.completed)
      expect(ran.slice(1_000)).toEqual(["r", ...names(1_002, 3_000).filter((name) => name !== "q1500")])
      yield* Deferred.succeed(gate, undefined)
    })
  )

  it.effect("a queue whose front has drained: a shutdown rejects every queued submission once", () =>
    Effect.gen(function* () {
      const { handles, ran, sup } = yield* longQueue(3_000, 1_000)
      yield* sup.shutdown
      const outcomes = yield* Effect.forEach(handles, (handle) => handle.await)
      expect(ran).toEqual(names(0, 1_000))
      expect(outcomes.slice(0, 1_000).every((outcome) => outcome._tag === "Completed")).toBe(true)
      expect(outcomes[1_000]).toMatchObject({ _tag: "Canceled", reason: "stopped by shutdown" })
      const queued = outcomes.slice(1_001)
      expect(queued.length).toBe(1_999)
      expect(queued.every((outcome) => outcome._tag === "Rejected" && outcome.kind === "ShuttingDown")).toBe(true)
      expect(yield* sup.slots).toEqual([])
    })
  )
})
