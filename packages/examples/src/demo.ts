/**
 * The fibervisor demo: a supervisor with a flaky connector (fails at random, restarts with
 * jittered backoff), a periodic heartbeat and a one-shot migration. One line per lifecycle event.
 *
 *   pnpm demo                    # runs for 8 seconds, then shuts down gracefully
 *   pnpm demo --duration 20s     # any Effect duration: "20 seconds", 20s, 1500ms
 *
 * Ctrl-C shuts down gracefully too; a second Ctrl-C exits at once.
 */
import {
  Backoff,
  RestartPolicy,
  Supervisor,
  type SupervisorEvent,
  Task,
  TaskError,
  TaskOutcome
} from "@fibervisor/core"
import { Deferred, Duration, Effect, Exit, Fiber, FiberId, Random, Scope, Stream } from "effect"

const parseDuration = (argv: ReadonlyArray<string>): Duration.Duration => {
  const index = argv.indexOf("--duration")
  if (index === -1) return Duration.seconds(8)
  const raw = argv[index + 1] ?? ""
  const short = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(raw)
  const input = short
    ? `${short[1]} ${{ ms: "millis", s: "seconds", m: "minutes" }[short[2] as "ms" | "s" | "m"]}`
    : raw
  const decoded = Duration.decodeUnknown(input)
  if (decoded._tag === "None" || !Duration.isFinite(decoded.value)) {
    console.error(`--duration: expected a duration such as 20s or "20 seconds", got "${raw}"`)
    process.exit(2)
  }
  return decoded.value
}

/** A connection that drops at random: each attempt lives 0.3–1.5 s, then fails 60% of the time. */
const connector = Effect.gen(function* () {
  const lifetime = yield* Random.nextIntBetween(300, 1500)
  yield* Effect.sleep(Duration.millis(lifetime))
  if (yield* Random.nextBoolean) return yield* TaskError.fail("connection reset by peer")
  return yield* TaskError.fail("upstream timed out", { exitCode: 75 })
})

const heartbeat = Effect.sync(() => process.memoryUsage().heapUsed)

const migration = Effect.sleep("700 millis")

const tasks = [
  Task.make("connector", connector, {
    restart: RestartPolicy.onFailure,
    backoff: Backoff.exponential({ first: "200 millis", max: "2 seconds", jitter: "equal" })
  }),
  Task.periodic("heartbeat", heartbeat, "1 second"),
  Task.once("migration", migration)
]

const start = Date.now()
const line = (event: SupervisorEvent.SupervisorEvent): string => {
  const time = `+${((event.at - start) / 1000).toFixed(3)}s`.padStart(9)
  const { _tag, seq: _seq, at: _at, ...fields } = event
  const who = "task" in fields ? `${"id" in fields ? `#${fields.id} ` : ""}${fields.task}` : "supervisor"
  const rest = Object.entries(fields)
    .filter(([key]) => key !== "task" && key !== "id")
    .map(([key, value]) => `${key}=${Array.isArray(value) ? `[${value.join(",")}]` : String(value)}`)
    .join(" ")
  return `${time}  ${who.padEnd(14)} ${_tag.padEnd(22)} ${rest}`
}

const describeOutcome = (outcome: TaskOutcome.TaskOutcome): string => {
  const reason = TaskOutcome.reason(outcome)
  return reason === undefined ? outcome._tag : `${outcome._tag} (${reason})`
}

/** Runs the tasks until `duration` has passed or `stop` is completed (Ctrl-C), then shuts down gracefully. */
const program = (duration: Duration.Duration, stop: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    // The event printer lives in the outer scope, so it sees the shutdown events; its stream ends
    // when the supervisor (inner scope) is closed.
    const outer = yield* Effect.scope
    let printer: Fiber.RuntimeFiber<void> | undefined
    const handles = yield* Effect.scoped(
      Effect.gen(function* () {
        const sup = yield* Supervisor.make({ grace: "2 seconds" })
        const events = yield* Scope.extend(sup.subscribe, outer)
        printer = yield* Effect.forkIn(
          Stream.runForEach(events, (event) => Effect.sync(() => console.log(line(event)))),
          outer
        )
        const handles = yield* sup.addAll(tasks)
        console.log(`fibervisor demo: ${handles.length} tasks for ${Duration.format(duration)} (Ctrl-C stops early)`)
        yield* Effect.raceFirst(Effect.sleep(duration), Deferred.await(stop))
        console.log("shutting down gracefully…")
        return handles
      })
    )
    if (printer !== undefined) yield* Fiber.join(printer)
    console.log("outcomes:")
    for (const handle of handles) {
      const outcome = yield* handle.await
      console.log(`  ${handle.name.padEnd(10)} ${describeOutcome(outcome)}`)
    }
  }).pipe(Effect.scoped)

const stop = Deferred.unsafeMake<void>(FiberId.none)
let signals = 0
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (++signals > 1) process.exit(signal === "SIGINT" ? 130 : 143)
    Deferred.unsafeDone(stop, Exit.void)
  })
}

Effect.runPromise(program(parseDuration(process.argv.slice(2)), stop)).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  }
)
