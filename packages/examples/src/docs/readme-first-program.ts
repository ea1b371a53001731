import { Effect } from "effect"
import { Backoff, RestartPolicy, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"

// One attempt: connect to the broker, then consume. The first two connections drop.
const consumeQueue = Effect.gen(function* () {
  const { attempt } = yield* TaskContext.TaskContext
  yield* Effect.log(`connecting (attempt ${attempt})`)
  yield* Effect.sleep("100 millis")
  if (attempt < 3) return yield* TaskError.fail("broker connection lost")
  for (let batch = 1; batch <= 3; batch++) {
    yield* Effect.sleep("250 millis")
    yield* Effect.log(`batch ${batch} of 3 consumed`)
  }
})

const worker = Task.make("worker", consumeQueue, {
  restart: RestartPolicy.onFailure,
  // Waits 100 ms, 200 ms, 400 ms, … up to 5 s between attempts (add `jitter: "equal"` for a fleet).
  backoff: Backoff.exponential({ first: "100 millis", max: "5 seconds" }),
  timeout: "10 seconds",
  maxRetries: 5
})

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ grace: "10 seconds" }) // closing the scope = graceful shutdown
  yield* sup.add(Task.periodic("heartbeat", Effect.log("alive"), "1 second"))
  const handle = yield* sup.add(worker)
  const outcome = yield* handle.await // after 1.35 s: Completed, on the third attempt
  yield* Effect.log(`worker: ${outcome._tag}`)
  return outcome._tag
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program)
}
