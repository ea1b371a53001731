/**
 * One replica of `pnpm demo --replicas N` (started by `replicas.ts`, one process each): a supervisor
 * with `Task.singleton` of a `billing` tree — a `poller` that "polls" every 500 ms as the lease's
 * epoch — on `ClusterSupervisor.layerSqlite` (one SQLite file shared by every replica of the host;
 * lease refresh 500 ms, expiry 2 s).
 *
 * It talks to the coordinator on stdout, one line each: `READY <pid>`, `EVENT <json>` for every
 * singleton event (`SupervisorEvent.encode`), `POLL <epoch> <n>` for each poll. SIGTERM shuts the
 * supervisor down gracefully (the owner hands the lease off); SIGKILL is the crash the demo shows.
 *
 * Environment: FV_DEMO_FILE (the SQLite file), FV_DEMO_RUNNER (this replica's id).
 */
import { ClusterSupervisor, SingletonContext, Task } from "@fibervisor/cluster"
import { Backoff, RestartPolicy, Supervisor, SupervisorEvent } from "@fibervisor/core"
import { Effect, Fiber, Stream } from "effect"
import { EXPIRY, REFRESH } from "./replicaSettings.js"

const filename = process.env.FV_DEMO_FILE
const runner = process.env.FV_DEMO_RUNNER ?? `r${process.pid}`
const print = (line: string) => Effect.sync(() => void process.stdout.write(`${line}\n`))

const poller = Task.make(
  "poller",
  Effect.gen(function* () {
    const { epoch, confirmOwnership } = yield* SingletonContext.SingletonContext
    for (let n = 1; ; n++) {
      // Only the owner of this epoch acts: a replica whose lease is gone stops here.
      yield* confirmOwnership
      yield* print(`POLL ${epoch} ${n}`)
      yield* Effect.sleep("500 millis")
    }
  }).pipe(Effect.orDie)
)

const billing = Task.singleton(Supervisor.task("billing", [poller]), {
  restart: RestartPolicy.onFailure,
  backoff: Backoff.constant("1 second"),
  handoffGrace: "1 second"
})

/** Prints singleton events; detached, so it also sees the hand-off of the shutdown. */
let printer: Fiber.Fiber<void> | undefined

const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make({ grace: "3 seconds" })
  printer = yield* Effect.forkDetach(
    Stream.runForEach(sup.events, (event) =>
      event._tag.startsWith("Singleton") ? print(`EVENT ${JSON.stringify(SupervisorEvent.encode(event))}`) : Effect.void
    )
  )
  yield* Effect.sleep("1 millis") // the printer subscribes before the first event
  yield* sup.add(billing)
  yield* print(`READY ${process.pid}`)
  return yield* Effect.never
}).pipe(
  Effect.scoped,
  Effect.provide(
    ClusterSupervisor.layerSqlite({
      filename: filename ?? "",
      runnerId: runner,
      refreshInterval: REFRESH,
      expiry: EXPIRY
    })
  )
)

if (filename === undefined) {
  process.stderr.write("replica: FV_DEMO_FILE is not set (run it through `pnpm demo --replicas N`)\n")
  process.exit(2)
}
const fiber = Effect.runFork(program)
let stopping = false
process.on("SIGTERM", () => {
  stopping = true
  const drained = Effect.suspend(() =>
    printer === undefined ? Effect.void : Effect.timeoutOption(Fiber.await(printer), "2 seconds")
  )
  void Effect.runPromise(Effect.andThen(Fiber.interrupt(fiber), drained)).then(() => {
    process.stdout.write("EXITING\n", () => process.exit(0))
  })
})
// The coordinator's Ctrl-C reaches the whole process group: the coordinator stops its replicas.
process.on("SIGINT", () => {})
// The coordinator is gone (its end of the pipe closed): a crash of the coordinator ends the replicas.
process.stdin.on("close", () => process.kill(process.pid, "SIGTERM"))
process.stdin.resume()
fiber.addObserver((exit) => {
  if (exit._tag === "Failure" && !stopping) {
    process.stderr.write(`replica ${runner} failed: ${String(exit.cause)}\n`)
    process.exit(1)
  }
})
