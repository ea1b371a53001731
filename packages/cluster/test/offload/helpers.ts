/**
 * Helpers of the offload tests (not a test file): replicas of `Offload.layerCluster` on a shared
 * memory table in one process, gated work, captured logs, metric reads.
 */
import { TestTime } from "@fibervisor/vitest"
import { Cause, Clock, Context, Deferred, Effect, Exit, Layer, Logger, Metric, References } from "effect"
import * as Scope from "effect/Scope"
import { Offload } from "@fibervisor/core"
import * as ClusterOffload from "../../src/ClusterOffload.js"

export { TestTime }

/** Lets every ready fiber run until it suspends (the clock does not move). */
export const flush = TestTime.settle()

let kinds = 0
/** A kind no other test uses (the metric registry is global). */
export const uniqueKind = (prefix: string): string => `${prefix}-${++kinds}`

/** One replica: `Offload.layerCluster(config)` on its own session of `table`, built in the test's scope. */
export const replica = (
  table: ClusterOffload.MemoryTable,
  name: string,
  config: Offload.OffloadClusterConfig = {},
  memory: Omit<ClusterOffload.MemoryOptions, "replica"> = {}
): Effect.Effect<Offload.Offload, unknown, Scope.Scope> =>
  Effect.map(
    Layer.build(
      Offload.layerCluster({ grace: 0, ...config }).pipe(
        Layer.provide(ClusterOffload.layerMemory(table, { replica: name, ...memory }))
      )
    ),
    (context) => Context.get(context, Offload.Offload)
  )

/** One replica in a scope of its own, closed by the returned effect (a replica that stops). */
export const closableReplica = (
  table: ClusterOffload.MemoryTable,
  name: string,
  config: Offload.OffloadClusterConfig = {}
) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const offload = yield* Scope.provide(replica(table, name, config), scope)
    return { offload, close: Scope.close(scope, Exit.void) }
  })

/** Work that counts its runs, signals `started`, then waits for `release` (then runs `then`). */
export const gate = (then: Effect.Effect<void, unknown> = Effect.void) =>
  Effect.gen(function* () {
    const started = yield* Deferred.make<void>()
    const released = yield* Deferred.make<void>()
    let runs = 0
    let interruptedAt: number | undefined = undefined
    const work = Effect.sync(() => {
      runs += 1
    }).pipe(
      Effect.andThen(Deferred.succeed(started, undefined)),
      Effect.andThen(Deferred.await(released)),
      Effect.andThen(then),
      Effect.onInterrupt(() =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            interruptedAt = now
          })
        )
      )
    )
    return {
      work,
      started,
      release: Effect.asVoid(Deferred.succeed(released, undefined)),
      runs: () => runs,
      interruptedAt: () => interruptedAt
    }
  })

/** Work that only counts its runs. */
export const counter = () => {
  let runs = 0
  return {
    work: Effect.sync(() => {
      runs += 1
    }),
    runs: () => runs
  }
}

/** One captured log line. */
export interface Line {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
  readonly cause: string
}

/** A test logger: provide `layer` (or build the replica inside it) and read `lines`. */
export const captureLogs = () => {
  const lines: Array<Line> = []
  const layer = Logger.layer([
    Logger.make(({ cause, fiber, logLevel, message }) => {
      lines.push({
        level: logLevel,
        message: Array.isArray(message) && message.length === 1 ? message[0] : message,
        annotations: { ...fiber.getRef(References.CurrentLogAnnotations) },
        cause: cause.reasons.length === 0 ? "" : Cause.pretty(cause)
      })
    })
  ])
  return { lines, layer }
}

/** A counter's value for exactly these attributes (0 when never touched). */
export const count = (name: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const wanted = Object.entries(attributes).sort()
    const found = snapshots.find((s) => {
      if (s.id !== name) return false
      const have = Object.entries(s.attributes ?? {}).sort()
      return JSON.stringify(have) === JSON.stringify(wanted)
    })
    return found?.type === "Counter" ? Number(found.state.count) : 0
  })
