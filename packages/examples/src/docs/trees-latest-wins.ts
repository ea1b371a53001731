import { Clock, Effect, Fiber, Stream } from "effect"
import { Supervisor, type SupervisorEvent, Task, TaskOutcome } from "@fibervisor/core"

// Rebuilding a tenant's search index takes 100 ms, and 20 ms to stop (its finalizer).
const reindex = (tenant: string, version: number) =>
  Task.once(
    `reindex-${tenant}-v${version}`,
    Effect.sleep("100 millis").pipe(Effect.onInterrupt(() => Effect.sleep("20 millis")))
  )

const describe = (outcome: TaskOutcome.TaskOutcome) =>
  outcome._tag === "Rejected"
    ? `Rejected ${outcome.kind}`
    : [outcome._tag, TaskOutcome.reason(outcome)].filter((part) => part !== undefined).join(": ")

const line = (start: number) => (event: SupervisorEvent.SupervisorEvent) => {
  const at = event.at - start
  switch (event._tag) {
    case "SlotTransition":
      return `${at} ${event.slot}: ${event.from} -> ${event.to} (${event.reason}) owner ${event.owner ?? "-"}, ${event.queued} queued`
    case "SlotRejected":
      return `${at} ${event.slot}: rejected ${event.task} (${event.kind})`
    default:
      return `${at} ${event._tag}`
  }
}

export const program = Effect.gen(function* () {
  const start = yield* Clock.currentTimeMillis
  const sup = yield* Supervisor.make()
  const events = yield* sup.subscribe
  const collector = yield* Effect.forkChild(
    events.pipe(
      Stream.filter((event) => event._tag === "SlotTransition" || event._tag === "SlotRejected"),
      Stream.takeUntil(
        (event) => event._tag === "SlotTransition" && event.to === "idle" && event.slot === "reindex:acme"
      ),
      Stream.map(line(start)),
      Stream.runCollect
    )
  )

  // One slot per tenant; the newest request replaces whatever is running or waiting.
  const request = (tenant: string, version: number) =>
    sup.submit(reindex(tenant, version), { slot: `reindex:${tenant}`, admission: "replace" })

  const acme1 = yield* request("acme", 1)
  const globex1 = yield* request("globex", 1) // another slot: runs alongside
  yield* Effect.sleep("10 millis")
  const acme2 = yield* request("acme", 2) // stops acme v1, waits for the slot
  const acme3 = yield* request("acme", 3) // displaces acme v2 from the queue

  const outcomes = yield* Effect.forEach([acme1, acme2, acme3, globex1], (handle) =>
    Effect.map(handle.await, (outcome) => `${handle.name}: ${describe(outcome)}`)
  )
  return { outcomes, slots: yield* Fiber.join(collector) }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
