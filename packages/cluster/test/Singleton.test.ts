/**
 * `Task.singleton` on the memory lease store, under TestClock: acquisition and standby, epochs,
 * fail-over when the owner cannot refresh, a lost lease, hand-off on stop (with a slow and a
 * hanging finalizer), escalation re-registered after the backoff exactly, readiness, metrics.
 * Lease settings: refresh 1 s, expiry 3 s, default hand-off grace 1 s.
 */
import { describe, expect, it } from "@effect/vitest"
import { Backoff, RestartPolicy, Supervisor, SupervisorTree } from "@fibervisor/core"
import { Deferred, Effect, Exit, Layer, Metric, Ref } from "effect"
import { ClusterError, ClusterSupervisor, SingletonContext, Task } from "../src/index.js"
import { replica, settle, step, summary } from "./helpers.js"

/** A tree whose one worker records `start <runner> <epoch>` and `stop <runner> <epoch>` in `log`. */
const recordingTree = (
  log: Array<string>,
  runner: string,
  name = "billing",
  onStop: Effect.Effect<void> = Effect.void
) =>
  Supervisor.task(name, [
    Task.make(
      "worker",
      Effect.gen(function* () {
        const { epoch } = yield* SingletonContext.SingletonContext
        yield* Effect.acquireRelease(
          Effect.sync(() => log.push(`start ${runner} ${epoch}`)),
          () =>
            Effect.andThen(
              onStop,
              Effect.sync(() => log.push(`stop ${runner} ${epoch}`))
            )
        )
        return yield* Effect.never
      })
    )
  ])

describe("Task.singleton (memory store, TestClock)", () => {
  it.effect("one replica owns (running, epoch 1), the other stands by (standby, sees the owner)", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const log: Array<string> = []
      yield* a.add(Task.singleton(recordingTree(log, "a")))
      yield* settle
      yield* b.add(Task.singleton(recordingTree(log, "b")))
      yield* settle
      expect(yield* a.state("billing")).toBe("running")
      expect(yield* b.state("billing")).toBe("standby")
      expect(log).toEqual(["start a 1"])
      expect(summary(yield* a.singletonEvents)).toEqual(["SingletonAcquired@0 epoch=1"])
      expect(summary(yield* b.singletonEvents)).toEqual(["SingletonStandby@0 epoch=1 owner=a"])
      // The owner's tree is in its snapshot; the standby replica has no subtree.
      const treeA = yield* a.sup.tree
      expect(treeA.tasks[0]!.supervisor?.tasks.map((node) => node.name)).toEqual(["worker"])
      expect(treeA.tasks[0]!.singleton).toEqual({
        name: "billing",
        role: "owner",
        runner: "a",
        owner: "a",
        epoch: 1,
        since: 0
      })
      const treeB = yield* b.sup.tree
      expect(treeB.tasks[0]!.state).toBe("standby")
      expect(treeB.tasks[0]!.supervisor).toBeUndefined()
      expect(treeB.tasks[0]!.singleton).toEqual({
        name: "billing",
        role: "standby",
        runner: "b",
        owner: "a",
        epoch: 1,
        since: 0
      })
      // The owner keeps its lease: nothing changes for a long time.
      yield* step(20_000)
      expect(log).toEqual(["start a 1"])
      expect(yield* b.state("billing")).toBe("standby")
      expect(summary(yield* b.singletonEvents)).toEqual(["SingletonStandby@0 epoch=1 owner=a"])
    }).pipe(Effect.scoped)
  )

  it.effect("an owner that cannot refresh stops its tree by expiry − grace; the other takes over at expiry", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const log: Array<string> = []
      yield* a.add(Task.singleton(recordingTree(log, "a")))
      yield* settle
      yield* b.add(Task.singleton(recordingTree(log, "b")))
      yield* settle
      a.faults.partitioned = true // a's refreshes fail from now on (its lease: valid until 3000)
      yield* step(1_900)
      expect(log).toEqual(["start a 1"])
      yield* step(100) // t = 2000 = validUntil − grace: a stops its tree
      expect(log).toEqual(["start a 1", "stop a 1"])
      expect(yield* a.state("billing")).toBe("standby")
      yield* step(900)
      expect(yield* b.state("billing")).toBe("standby") // t = 2900: the lease has not expired
      yield* step(100) // t = 3000: expired; b's poll takes it
      expect(log).toEqual(["start a 1", "stop a 1", "start b 2"])
      expect(yield* b.state("billing")).toBe("running")
      expect(summary(yield* a.singletonEvents)).toEqual([
        "SingletonAcquired@0 epoch=1",
        "SingletonReleased@2000 epoch=1 lock-lost",
        // Back in standby after one interval; the store is unreachable, so no owner is known.
        "SingletonStandby@3000 epoch=- owner=-"
      ])
      expect(summary(yield* b.singletonEvents)).toEqual([
        "SingletonStandby@0 epoch=1 owner=a",
        "SingletonAcquired@3000 epoch=2"
      ])
      // a, reconnected, stands by behind b.
      a.faults.partitioned = false
      yield* step(1_000)
      expect(yield* a.state("billing")).toBe("standby")
      expect(summary(yield* a.singletonEvents).at(-1)).toBe("SingletonStandby@4000 epoch=2 owner=b")
    }).pipe(Effect.scoped)
  )

  it.effect(
    "a lease found taken stops the tree at once (lock-lost) and confirmOwnership fails with OwnershipLost",
    () =>
      Effect.gen(function* () {
        const leases = ClusterSupervisor.memoryLeases()
        const a = yield* replica("a", leases)
        const confirmed = yield* Ref.make<Array<string>>([])
        const gate = yield* Deferred.make<void>()
        const tree = Task.make(
          "job",
          Effect.gen(function* () {
            const { confirmOwnership } = yield* SingletonContext.SingletonContext
            yield* confirmOwnership
            yield* Ref.update(confirmed, (list) => [...list, "ok"])
            yield* Deferred.await(gate)
            const result = yield* Effect.exit(confirmOwnership)
            yield* Ref.update(confirmed, (list) => [
              ...list,
              Exit.isFailure(result)
                ? String(
                    Exit.findErrorOption(result).pipe((o) =>
                      o._tag === "Some" ? o.value._tag + ": " + o.value.reason : "?"
                    )
                  )
                : "ok"
            ])
            return yield* Effect.never
          })
        )
        yield* a.add(Task.singleton(tree))
        yield* settle
        a.faults.stolen = true
        yield* Deferred.succeed(gate, undefined)
        yield* settle
        expect(yield* Ref.get(confirmed)).toEqual(["ok", "OwnershipLost: taken by another replica, or expired"])
        expect(yield* a.state("job")).toBe("standby")
        yield* step(1_000)
        expect(summary(yield* a.singletonEvents)).toEqual([
          "SingletonAcquired@0 epoch=1",
          "SingletonReleased@0 epoch=1 lock-lost",
          "SingletonStandby@1000 epoch=99 owner=thief"
        ])
      }).pipe(Effect.scoped)
  )

  it.effect("confirmOwnership fails with OwnershipLost when the store cannot confirm (partition)", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const result = yield* Deferred.make<string>()
      const go = yield* Deferred.make<void>()
      yield* a.add(
        Task.singleton(
          Task.make(
            "job",
            Effect.gen(function* () {
              const { confirmOwnership } = yield* SingletonContext.SingletonContext
              yield* Deferred.await(go)
              const error = yield* Effect.flip(confirmOwnership)
              yield* Deferred.succeed(result, `${error._tag} epoch=${error.epoch}: ${error.reason}`)
              return yield* Effect.never
            })
          )
        )
      )
      yield* settle
      a.faults.partitioned = true
      yield* Deferred.succeed(go, undefined)
      yield* settle
      expect(yield* Deferred.await(result)).toBe(
        "OwnershipLost epoch=1: could not confirm: store error: LeaseStoreError: lease store refresh failed: partitioned (test)"
      )
    }).pipe(Effect.scoped)
  )

  it.effect(
    "hand-off: removing the owner's task runs the tree's finalizers first, then the other replica takes over",
    () =>
      Effect.gen(function* () {
        const leases = ClusterSupervisor.memoryLeases()
        const a = yield* replica("a", leases)
        const b = yield* replica("b", leases)
        const log: Array<string> = []
        yield* a.add(Task.singleton(recordingTree(log, "a", "billing", Effect.sleep("300 millis"))))
        yield* settle
        yield* b.add(Task.singleton(recordingTree(log, "b")))
        yield* step(1_500)
        expect(yield* a.sup.remove("billing")).toBe(true) // t = 1500
        yield* step(200)
        expect(log).toEqual(["start a 1"]) // the finalizer (300 ms) still runs; the lease is still a's
        yield* step(100) // t = 1800: finalizer done, lease released
        expect(log).toEqual(["start a 1", "stop a 1"])
        expect(summary(yield* a.singletonEvents)).toEqual([
          "SingletonAcquired@0 epoch=1",
          "SingletonReleased@1800 epoch=1 handoff"
        ])
        yield* step(200) // b polls at 2000
        expect(log).toEqual(["start a 1", "stop a 1", "start b 2"])
        expect(summary(yield* b.singletonEvents)).toEqual([
          "SingletonStandby@0 epoch=1 owner=a",
          "SingletonAcquired@2000 epoch=2"
        ])
      }).pipe(Effect.scoped)
  )

  it.effect("hand-off with a hanging finalizer: the lease is kept for exactly handoffGrace, then released", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const log: Array<string> = []
      // "Hanging": the finalizer waits for `unblock`, which the test completes only at its end.
      const unblock = yield* Deferred.make<void>()
      yield* a.add(
        Task.singleton(recordingTree(log, "a", "billing", Deferred.await(unblock)), { handoffGrace: "1500 millis" })
      )
      yield* settle
      yield* b.add(Task.singleton(recordingTree(log, "b")))
      yield* step(500)
      expect(yield* a.sup.remove("billing")).toBe(true) // t = 500
      yield* step(1_400)
      // Still a's (the keeper refreshes during the grace): b, polling every second, cannot take it.
      expect(summary(yield* b.singletonEvents)).toEqual(["SingletonStandby@0 epoch=1 owner=a"])
      yield* step(100) // t = 2000 = 500 + grace: abandoned, released
      expect(summary(yield* a.singletonEvents)).toEqual([
        "SingletonAcquired@0 epoch=1",
        "SingletonReleased@2000 epoch=1 handoff"
      ])
      yield* settle
      expect(summary(yield* b.singletonEvents)).toEqual([
        "SingletonStandby@0 epoch=1 owner=a",
        "SingletonAcquired@2000 epoch=2"
      ])
      expect(log).toEqual(["start a 1", "start b 2"]) // a's finalizer has not finished
      yield* Deferred.succeed(unblock, undefined)
      yield* settle
      expect(log).toEqual(["start a 1", "start b 2", "stop a 1"])
    }).pipe(Effect.scoped)
  )

  it.effect("a tree that escalates releases the lease and is taken again after the outer backoff, exactly", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      let runs = 0
      const tree = Supervisor.task(
        "reconciler",
        [
          Task.make(
            "step",
            Effect.suspend(() => {
              runs++
              return runs <= 2 ? Effect.fail("boom") : Effect.never
            }),
            { backoff: Backoff.constant("100 millis") }
          )
        ],
        { intensity: { maxRestarts: 1, within: "1 minute" } }
      )
      yield* a.add(Task.singleton(tree, { restart: RestartPolicy.onFailure, backoff: Backoff.constant("5 seconds") }))
      yield* step(100) // the child fails twice (0, 100): intensity exceeded, the tree escalates at 100
      expect(summary(yield* a.singletonEvents)).toEqual([
        "SingletonAcquired@0 epoch=1",
        "SingletonReleased@100 epoch=1 failed"
      ])
      expect(yield* a.state("reconciler")).toBe("backing-off")
      yield* step(4_900)
      expect(yield* a.state("reconciler")).toBe("backing-off") // t = 5000
      yield* step(100)
      expect(summary(yield* a.singletonEvents)).toEqual([
        "SingletonAcquired@0 epoch=1",
        "SingletonReleased@100 epoch=1 failed",
        "SingletonAcquired@5100 epoch=2"
      ])
      expect(yield* a.state("reconciler")).toBe("running")
    }).pipe(Effect.scoped)
  )

  it.effect("a failed tree moves to the standby replica at its next poll; epochs strictly increase", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const epochs: Array<string> = []
      const failing = (runner: string) =>
        Task.singleton(
          Task.make(
            "cron",
            Effect.gen(function* () {
              const { epoch } = yield* SingletonContext.SingletonContext
              epochs.push(`${runner}:${epoch}`)
              yield* Effect.sleep("2500 millis")
              return yield* Effect.fail("crash")
            })
          ),
          { backoff: Backoff.constant("10 seconds") }
        )
      yield* a.add(failing("a"))
      yield* settle
      yield* b.add(failing("b"))
      yield* step(12_000)
      // a owns 0–2500 (epoch 1); b takes it at its poll at 3000 (epoch 2) and fails at 5500; a is
      // in its backoff until 12500, b until 15500.
      expect(epochs).toEqual(["a:1", "b:2"])
      yield* step(6_000) // t = 18000
      // a takes it back at 12500 (epoch 3, fails at 15000); b at 15500 (epoch 4).
      expect(epochs).toEqual(["a:1", "b:2", "a:3", "b:4"])
      const acquiredAt = [...(yield* a.singletonEvents), ...(yield* b.singletonEvents)]
        .filter((event) => event._tag === "SingletonAcquired")
        .map((event) => event.at)
        .sort((x, y) => x - y)
      expect(acquiredAt).toEqual([0, 3_000, 12_500, 15_500])
    }).pipe(Effect.scoped)
  )

  it.effect("readiness: 'owner-only' makes a standby replica not ready; the default keeps it ready", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const c = yield* replica("c", leases)
      yield* a.add(Task.singleton(Task.make("leader", Effect.never), { readiness: "owner-only" }))
      yield* settle
      yield* b.add(Task.singleton(Task.make("leader", Effect.never), { readiness: "owner-only" }))
      yield* c.add(Task.singleton(Task.make("leader", Effect.never)))
      yield* settle
      expect(SupervisorTree.isReady(yield* a.sup.tree)).toBe(true)
      expect(SupervisorTree.isReady(yield* b.sup.tree)).toBe(false)
      expect(SupervisorTree.isReady(yield* c.sup.tree)).toBe(true)
      expect(yield* c.state("leader")).toBe("standby")
    }).pipe(Effect.scoped)
  )

  it.effect("metrics: owned, epoch, hand-offs", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const read = (id: string) =>
        Effect.map(Metric.snapshot, (snapshots) => {
          const found = snapshots.find(
            (metric) =>
              metric.id === id && (metric.attributes as Record<string, string> | undefined)?.singleton === "metered"
          )
          if (found === undefined) return undefined
          return found.type === "Gauge"
            ? Number(found.state.value)
            : found.type === "Counter"
              ? Number(found.state.count)
              : NaN
        })
      yield* a.add(Task.singleton(Task.make("metered", Effect.never)))
      yield* settle
      expect(yield* read("fibervisor_singleton_owned")).toBe(1)
      expect(yield* read("fibervisor_singleton_epoch")).toBe(1)
      expect(yield* read("fibervisor_singleton_handoffs_total")).toBeUndefined() // never counted yet
      expect(yield* a.sup.remove("metered")).toBe(true)
      yield* settle
      expect(yield* read("fibervisor_singleton_owned")).toBe(0)
      expect(yield* read("fibervisor_singleton_handoffs_total")).toBe(1)
    }).pipe(Effect.scoped)
  )

  it.effect("the tree's per-attempt timeout does not end a replica's wait in standby", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      const b = yield* replica("b", leases)
      const tree = Task.make("timed", Effect.never, { timeout: "1 second" })
      yield* a.add(Task.singleton(tree))
      yield* settle
      yield* b.add(Task.singleton(tree))
      yield* step(10_000)
      expect(yield* b.state("timed")).toBe("standby")
      expect(summary(yield* b.singletonEvents)).toEqual(["SingletonStandby@0 epoch=1 owner=a"])
      expect((yield* b.log.all).filter((event) => event._tag === "AttemptTimedOut")).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.effect("the lease name option lets differently named tasks share one singleton", () =>
    Effect.gen(function* () {
      const leases = ClusterSupervisor.memoryLeases()
      const a = yield* replica("a", leases)
      yield* a.add(Task.singleton(Task.make("one", Effect.never), { name: "shared" }))
      yield* settle
      yield* a.add(Task.singleton(Task.make("two", Effect.never), { name: "shared" }))
      yield* settle
      expect(yield* a.state("one")).toBe("running")
      expect(yield* a.state("two")).toBe("standby")
      const events = yield* a.singletonEvents
      expect(events.map((event) => (event as { readonly name: string }).name)).toEqual(["shared", "shared"])
    }).pipe(Effect.scoped)
  )
})

describe("Task.singleton bad options", () => {
  const outcomeOf = (options: unknown, settings?: { readonly refreshIntervalMs: number; readonly expiryMs: number }) =>
    Effect.gen(function* () {
      const a = yield* replica("a", ClusterSupervisor.memoryLeases(), settings)
      const handle = (yield* a.add(Task.singleton(Task.make("s", Effect.never), options as never))) as {
        readonly await: Effect.Effect<{ readonly _tag: string; readonly reason?: string }>
      }
      const outcome = yield* handle.await
      return `${outcome._tag}: ${outcome.reason}`
    }).pipe(Effect.scoped)

  it.effect("unknown keys, bad values and a grace that does not fit end the task Fatal, naming the field", () =>
    Effect.gen(function* () {
      expect(yield* outcomeOf({ handofGrace: "1 second" })).toMatch(
        /^Fatal: handofGrace is not an option \(known: name,/
      )
      expect(yield* outcomeOf({ handoffGrace: -5 })).toMatch(/^Fatal: handoffGrace must be positive and finite, got -5/)
      expect(yield* outcomeOf({ handoffGrace: "soon" })).toMatch(/handoffGrace must be a duration/)
      expect(yield* outcomeOf({ readiness: "owner" })).toMatch(/readiness must be "owner-only" or "any", got "owner"/)
      expect(yield* outcomeOf({ name: "" })).toMatch(/name must be a non-empty string/)
      expect(yield* outcomeOf("fast")).toMatch(/options must be an object, got "fast"/)
      expect(yield* outcomeOf({ handoffGrace: "2 seconds" })).toMatch(
        /handoffGrace must be below the layer's expiry − refreshInterval \(2000 ms\), got 2000 ms/
      )
    })
  )
})

describe("ClusterSupervisor layers: options", () => {
  const failure = (layer: ReturnType<typeof ClusterSupervisor.layerMemory>) =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(Layer.build(layer)))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = Exit.isFailure(exit) ? Exit.findErrorOption(exit) : undefined
      return error !== undefined && error._tag === "Some"
        ? (error.value as ClusterError.InvalidClusterOptions)
        : undefined
    })

  it.effect("refuses unknown keys and bad lease settings with the field and the reason", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
        [{ refresh: "1 second" }, "refresh", /is not an option/],
        [{ refreshInterval: "3 seconds", expiry: "3 seconds" }, "refreshInterval", /shorter than expiry \(3000 ms\)/],
        [{ expiry: 0 }, "expiry", /must be positive and finite, got 0/],
        [{ expiry: Number.POSITIVE_INFINITY }, "expiry", /must be positive and finite/],
        [{ refreshInterval: true }, "refreshInterval", /must be a duration/],
        [{ runnerId: "" }, "runnerId", /non-empty string/],
        [{ runnerId: 7 }, "runnerId", /non-empty string/]
      ]
      for (const [options, field, reason] of cases) {
        const error = yield* failure(ClusterSupervisor.layerMemory(options as never))
        expect(error?._tag).toBe("InvalidClusterOptions")
        expect(error?.field).toBe(field)
        expect(error?.reason).toMatch(reason)
      }
      const table = yield* failure(
        ClusterSupervisor.layerSqlite({ filename: "x.db", table: "drop table; --" }) as never
      )
      expect([table?.field, table?.reason]).toEqual(["table", expect.stringMatching(/lower-case SQL identifier/)])
      const file = yield* failure(ClusterSupervisor.layerSqlite({ filename: "" }) as never)
      expect(file?.field).toBe("filename")
      const port = yield* failure(ClusterSupervisor.layerPostgres({ port: 70000 }) as never)
      expect(port?.field).toBe("port")
    })
  )

  it.effect("defaults: refresh 5 s, expiry 15 s, a random runner id", () =>
    Effect.gen(function* () {
      const cluster = yield* ClusterSupervisor.ClusterSupervisor
      expect([cluster.refreshIntervalMs, cluster.expiryMs]).toEqual([5_000, 15_000])
      expect(cluster.runnerId).toMatch(/^runner-[a-z0-9]+$/)
    }).pipe(Effect.provide(ClusterSupervisor.layerMemory()))
  )
})
