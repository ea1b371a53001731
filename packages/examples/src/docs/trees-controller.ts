import { Effect, Option } from "effect"
import { Supervisor, Task, TaskOutcome } from "@fibervisor/core"

const describe = (outcome: TaskOutcome.TaskOutcome) =>
  outcome._tag === "Rejected"
    ? `Rejected ${outcome.kind}`
    : [outcome._tag, TaskOutcome.reason(outcome)].filter((part) => part !== undefined).join(": ")

// A report that takes 100 ms.
const report = (n: number) => Task.once(`report-${n}`, Effect.sleep("100 millis"))

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ maxSlotQueue: 2 })

  // An idle slot admits at once; while it is busy, `queue` waits in FIFO order (at most maxSlotQueue).
  const r1 = yield* sup.submit(report(1), { slot: "reports", admission: "queue" }) // runs now
  const r2 = yield* sup.submit(report(2), { slot: "reports", admission: "queue" }) // queued
  const r3 = yield* sup.submit(report(3), { slot: "reports", admission: "queue" }) // queued
  const r4 = yield* sup.submit(report(4), { slot: "reports", admission: "queue" }) // QueueFull
  const r5 = yield* sup.submit(report(5), { slot: "reports", admission: "drop-if-running" }) // SlotBusy

  const [slot] = yield* sup.slots
  const busy = `${slot.slot}: ${slot.status}, owner ${Option.getOrThrow(slot.owner).name}, ${slot.queued} queued`

  // remove (or cancel) takes a queued submission out of its queue.
  const removed = yield* sup.remove("report-3")

  // report-1 ends at 100 ms; the slot passes to report-2 once report-1's fiber has exited.
  yield* Effect.sleep("150 millis")
  const [next] = yield* sup.slots
  const r6 = yield* sup.submit(report(6), { slot: "reports", admission: "queue" })

  // Shutdown: the owner is stopped; queued submissions never start.
  yield* sup.shutdown
  const late = yield* Effect.flip(sup.submit(report(7), { slot: "reports", admission: "queue" }))

  const outcomes = yield* Effect.forEach([r1, r2, r3, r4, r5, r6], (handle) => handle.await)
  return {
    busy,
    removed,
    next: Option.getOrThrow(next.owner).name,
    outcomes: outcomes.map(describe),
    late: late._tag
  }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
