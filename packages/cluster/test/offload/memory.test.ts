/**
 * `Offload.layerCluster` on the memory claims store, several replicas in one process, under the
 * TestClock: dedup across replicas, the local dedup first, cluster slots (reject, wait, the wait's
 * bound), the release on every exit, a lost session, a store that cannot answer, the caller's
 * interruption during the claim.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import * as ClusterOffload from "../../src/ClusterOffload.js"
import { captureLogs, closableReplica, count, counter, flush, gate, replica, TestTime, uniqueKind } from "./helpers.js"

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

describe("layerCluster: once per key across replicas", () => {
  it.effect("a key held by one replica is deduplicated on another; free again once the work has ended", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a")
      const b = yield* replica(table, "b")
      const kind = uniqueKind("dedup")
      const first = yield* gate()
      const second = counter()
      expect(yield* a.register(keyed("k", kind), first.work)).toBe("spawned")
      yield* Deferred.await(first.started)
      expect(table.held()).toEqual([`${kind}:k`])
      expect(yield* b.register(keyed("k", kind), second.work)).toBe("deduplicated")
      expect(yield* count("fibervisor_offload_deduplicated_total", { kind, scope: "cluster" })).toBe(1)
      yield* first.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
      expect(yield* b.register(keyed("k", kind), second.work)).toBe("spawned")
      expect(yield* b.awaitIdle()).toBe(true)
      expect([first.runs(), second.runs()]).toEqual([1, 1])
    })
  )

  it.effect("other keys and other kinds run at once on several replicas", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a")
      const b = yield* replica(table, "b")
      const kind = uniqueKind("spread")
      const gates = yield* Effect.all([gate(), gate(), gate()])
      expect(yield* a.register(keyed("k1", kind), gates[0].work)).toBe("spawned")
      expect(yield* b.register(keyed("k2", kind), gates[1].work)).toBe("spawned")
      expect(yield* b.register(keyed("k1", `${kind}-other`), gates[2].work)).toBe("spawned")
      yield* Effect.forEach(gates, (g) => Deferred.await(g.started))
      expect(table.held()).toEqual([`${kind}-other:k1`, `${kind}:k1`, `${kind}:k2`].sort())
      yield* Effect.forEach(gates, (g) => g.release)
      expect(yield* a.awaitIdle()).toBe(true)
      expect(yield* b.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("the local dedup runs before the store (whose claims are re-entrant per replica)", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      // The store alone lets one replica take a key twice, as PostgreSQL session locks do ...
      const claims = yield* Effect.map(Layer.build(ClusterOffload.layerMemory(table, { replica: "raw" })), (context) =>
        Context.get(context, Offload.OffloadClaims)
      )
      const once = yield* claims.tryClaim("k", "x")
      const twice = yield* claims.tryClaim("k", "x")
      expect([Option.isSome(once), Option.isSome(twice)]).toEqual([true, true])
      // ... so layerCluster must decide a second local registration itself.
      const a = yield* replica(table, "a")
      const kind = uniqueKind("local")
      const first = yield* gate()
      const second = counter()
      expect(yield* a.register(keyed("k", kind), first.work)).toBe("spawned")
      expect(yield* a.register(keyed("k", kind), second.work)).toBe("deduplicated")
      expect(yield* count("fibervisor_offload_deduplicated_total", { kind })).toBe(1)
      expect(yield* count("fibervisor_offload_deduplicated_total", { kind, scope: "cluster" })).toBe(0)
      expect(table.held("a")).toEqual([`${kind}:k`])
      yield* first.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(second.runs()).toBe(0)
      expect(table.held("a")).toEqual([])
    })
  )

  it.effect("a deduplicated handle on the same replica waits for the piece in flight and its release", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a")
      const kind = uniqueKind("handle")
      const first = yield* gate()
      const owner = yield* a.submit(keyed("k", kind), first.work)
      const duplicate = yield* a.submit(keyed("k", kind), Effect.void)
      expect([owner.outcome, duplicate.outcome]).toEqual(["spawned", "deduplicated"])
      const waiting = yield* Effect.forkChild(duplicate.await)
      yield* flush
      expect(waiting.pollUnsafe()).toBeUndefined()
      yield* first.release
      expect(yield* Fiber.join(waiting)).toEqual(Option.none())
      const exit = yield* owner.await
      expect(Option.isSome(exit) && Exit.isSuccess(exit.value)).toBe(true)
      // `await` resumes once the claim is released: the key is free for the next registration.
      expect(table.held()).toEqual([])
    })
  )

  it.effect("with deduplicate: false keys are not claimed at all", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a", { deduplicate: false })
      const b = yield* replica(table, "b", { deduplicate: false })
      const kind = uniqueKind("nodedup")
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* a.register(keyed("k", kind), g1.work)).toBe("spawned")
      expect(yield* b.register(keyed("k", kind), g2.work)).toBe("spawned")
      yield* Effect.all([Deferred.await(g1.started), Deferred.await(g2.started)])
      expect(table.held()).toEqual([])
      yield* Effect.all([g1.release, g2.release])
    })
  )
})

describe("layerCluster: every exit releases the claim", () => {
  const exits: ReadonlyArray<
    readonly [string, Offload.OffloadClusterConfig, (g: Effect.Effect<void>) => Effect.Effect<void, unknown>]
  > = [
    ["success", {}, (wait) => wait],
    ["failure", { logFailures: false }, (wait) => Effect.andThen(wait, Effect.fail("boom"))],
    ["defect", { logFailures: false }, (wait) => Effect.andThen(wait, Effect.die(new Error("boom")))]
  ]
  for (const [name, config, body] of exits) {
    it.effect(`on ${name}`, () =>
      Effect.gen(function* () {
        const table = ClusterOffload.memoryTable()
        const a = yield* replica(table, "a", config)
        const b = yield* replica(table, "b", config)
        const kind = uniqueKind(name)
        const released = yield* Deferred.make<void>()
        expect(yield* a.register(keyed("k", kind), body(Deferred.await(released)))).toBe("spawned")
        yield* flush
        expect(table.held()).toEqual([`${kind}:k`])
        yield* Deferred.succeed(released, undefined)
        expect(yield* a.awaitIdle()).toBe(true)
        expect(table.held()).toEqual([])
        expect(yield* b.register(keyed("k", kind), Effect.void)).toBe("spawned")
      })
    )
  }

  it.effect("on interruption (cancel)", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a")
      const kind = uniqueKind("cancel")
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      expect(yield* a.cancel(keyed("k", kind))).toBe(true)
      // `cancel` returns once the claim is released.
      expect(table.held()).toEqual([])
      expect(g.interruptedAt()).toBe(0)
    })
  )

  it.effect("on a cancel timeout, exactly when it fires", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const a = yield* replica(table, "a", { timeout: { after: "2 seconds", policy: "cancel" }, logFailures: false })
      const kind = uniqueKind("timeout")
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* TestTime.adjust("1999 millis")
      expect(table.held()).toEqual([`${kind}:k`])
      yield* TestTime.adjust("1 millis")
      expect(g.interruptedAt()).toBe(2000)
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("when queued work is dropped before it started", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("queued")
      const a = yield* replica(table, "a", { perKind: { [kind]: { maxConcurrent: 1 } }, onFull: { queue: 5 } })
      const running = yield* gate()
      const queued = counter()
      expect(yield* a.register(keyed("k1", kind), running.work)).toBe("spawned")
      expect(yield* a.register(keyed("k2", kind), queued.work)).toBe("spawned")
      expect(yield* a.queuedCount).toBe(1)
      expect(table.held()).toEqual([`${kind}:k1`, `${kind}:k2`])
      expect(yield* a.cancel(keyed("k2", kind))).toBe(true)
      expect(table.held()).toEqual([`${kind}:k1`])
      yield* running.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(queued.runs()).toBe(0)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("when the local service refuses the work (full): the claim is given back at once", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("full")
      const a = yield* replica(table, "a", { perKind: { [kind]: { maxConcurrent: 1 } } })
      const running = yield* gate()
      expect(yield* a.register(keyed("k1", kind), running.work)).toBe("spawned")
      expect(yield* a.register(keyed("k2", kind), Effect.void)).toBe("rejected")
      expect(table.held()).toEqual([`${kind}:k1`])
      yield* running.release
    })
  )

  it.effect("when the replica stops (drain cut-off), and when its session ends all at once", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("stop")
      const a = yield* closableReplica(table, "a", { grace: "1 second" })
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* a.offload.register(keyed("k1", kind), g1.work)).toBe("spawned")
      expect(yield* a.offload.register(keyed("k2", kind), g2.work)).toBe("spawned")
      yield* Effect.all([Deferred.await(g1.started), Deferred.await(g2.started)])
      const closing = yield* Effect.forkChild(a.close)
      yield* TestTime.adjust("1 second")
      yield* Fiber.join(closing)
      expect([g1.interruptedAt(), g2.interruptedAt()]).toEqual([1000, 1000])
      expect(table.held()).toEqual([])
    })
  )
})

describe("layerCluster: cluster-wide slots", () => {
  it.effect("never more than maxConcurrent across replicas; onFull reject refuses the rest", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("slots")
      const config = { perKind: { [kind]: { cluster: { maxConcurrent: 2 } } } }
      const replicas = yield* Effect.all([
        replica(table, "a", config),
        replica(table, "b", config),
        replica(table, "c", config)
      ])
      const gates = yield* Effect.all([gate(), gate(), gate()])
      expect(yield* replicas[0].register(auto(kind), gates[0].work)).toBe("spawned")
      expect(yield* replicas[1].register(auto(kind), gates[1].work)).toBe("spawned")
      expect(yield* replicas[2].register(auto(kind), gates[2].work)).toBe("rejected")
      expect(yield* count("fibervisor_offload_rejected_total", { kind, scope: "cluster" })).toBe(1)
      expect(table.held()).toEqual([`${kind}#slot0`, `${kind}#slot1`])
      yield* gates[0].release
      expect(yield* replicas[0].awaitIdle()).toBe(true)
      expect(yield* replicas[2].register(auto(kind), gates[2].work)).toBe("spawned")
      yield* Effect.all([gates[1].release, gates[2].release])
      expect(yield* replicas[2].awaitIdle()).toBe(true)
      expect(yield* replicas[1].awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
      expect(gates.map((g) => g.runs())).toEqual([1, 1, 1])
    })
  )

  it.effect("one replica never takes one slot twice (the store's locks are re-entrant)", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("reentrant")
      const a = yield* replica(table, "a", { perKind: { [kind]: { cluster: { maxConcurrent: 2 } } } })
      const gates = yield* Effect.all([gate(), gate()])
      expect(yield* a.register(auto(kind), gates[0].work)).toBe("spawned")
      expect(yield* a.register(auto(kind), gates[1].work)).toBe("spawned")
      expect(yield* a.register(auto(kind), Effect.void)).toBe("rejected")
      expect(table.held()).toEqual([`${kind}#slot0`, `${kind}#slot1`])
      yield* Effect.all([gates[0].release, gates[1].release])
    })
  )

  it.effect("a key and a slot together: a refused slot gives the key back", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("keyslot")
      const config = { perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }
      const a = yield* replica(table, "a", config)
      const b = yield* replica(table, "b", config)
      const g = yield* gate()
      expect(yield* a.register(keyed("k1", kind), g.work)).toBe("spawned")
      expect(yield* b.register(keyed("k2", kind), Effect.void)).toBe("rejected")
      expect(table.held()).toEqual([`${kind}#slot0`, `${kind}:k1`])
      yield* g.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("with onFull: { queue } the work waits for a slot, trying every slotRetry, exactly", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("wait")
      const config: Offload.OffloadClusterConfig = {
        onFull: { queue: 10 },
        perKind: { [kind]: { cluster: { maxConcurrent: 1 } } },
        cluster: { slotRetry: "100 millis", slotWait: "10 seconds" }
      }
      const a = yield* replica(table, "a", config)
      const b = yield* replica(table, "b", config)
      const first = yield* gate()
      const second = yield* gate()
      expect(yield* a.register(auto(kind), first.work)).toBe("spawned")
      expect(yield* b.register(auto(kind), second.work)).toBe("spawned")
      // Waiting for the slot: admitted, holding its local permit, the work not started.
      yield* TestTime.adjust("1 second")
      expect(yield* b.activeCount).toBe(1)
      expect(second.runs()).toBe(0)
      yield* first.release
      expect(yield* a.awaitIdle()).toBe(true)
      // The next try (every 100 ms from the start of the wait) takes the slot.
      yield* TestTime.adjust("99 millis")
      expect(second.runs()).toBe(0)
      yield* TestTime.adjust("1 millis")
      expect(second.runs()).toBe(1)
      expect(table.held()).toEqual([`${kind}#slot0`])
      yield* second.release
      expect(yield* b.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("the wait is bounded by slotWait: the work never runs and is counted as failed", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("bounded")
      const config: Offload.OffloadClusterConfig = {
        onFull: { queue: 10 },
        logFailures: false,
        perKind: { [kind]: { cluster: { maxConcurrent: 1 } } },
        cluster: { slotRetry: "300 millis", slotWait: "1 second" }
      }
      const a = yield* replica(table, "a", config)
      const b = yield* replica(table, "b", config)
      const holder = yield* gate()
      const waiter = counter()
      expect(yield* a.register(auto(kind), holder.work)).toBe("spawned")
      const handle = yield* b.submit(auto(kind), waiter.work)
      expect(handle.outcome).toBe("spawned")
      yield* TestTime.adjust("999 millis")
      expect(yield* b.activeCount).toBe(1)
      yield* TestTime.adjust("1 millis")
      const exit = yield* handle.await
      expect(waiter.runs()).toBe(0)
      expect(Option.isSome(exit) && Exit.isFailure(exit.value)).toBe(true)
      const defect = Option.isSome(exit) && Exit.isFailure(exit.value) ? Cause.squash(exit.value.cause) : undefined
      expect(defect).toBeInstanceOf(Offload.OffloadSlotUnavailable)
      expect(String((defect as Error).message)).toContain("within 1000 ms")
      expect(yield* count("fibervisor_offload_failed_total", { kind })).toBe(1)
      const summary = yield* b.summary!
      expect(summary.kinds.find((k) => k.kind === kind)?.recentFailures[0]?.reason).toContain("no cluster slot")
      expect(table.held()).toEqual([`${kind}#slot0`])
      yield* holder.release
    })
  )
})

describe("layerCluster: the session and the store", () => {
  it.effect("a dropped session: the work keeps running; its claim is taken again at the heartbeat", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("retake")
      const a = yield* replica(table, "a", {}, { heartbeat: "1 second" }).pipe(Effect.provide(logs.layer))
      const b = yield* replica(table, "b")
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      expect(table.dropSession("a")).toBe(true)
      expect(table.held()).toEqual([])
      yield* TestTime.adjust("1 second")
      expect(table.held("a")).toEqual([`${kind}:k`])
      expect(yield* b.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      expect(g.interruptedAt()).toBeUndefined()
      expect(logs.lines.some((l) => String(l.message).includes("1 claim(s) taken again, 0 lost"))).toBe(true)
      yield* g.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("a dropped session whose key another replica took meanwhile: the loss is logged and counted", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("lost")
      const a = yield* replica(table, "a", {}, { heartbeat: "1 second" }).pipe(Effect.provide(logs.layer))
      const b = yield* replica(table, "b")
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* a.register(keyed("k", kind), g1.work)).toBe("spawned")
      yield* Deferred.await(g1.started)
      table.dropSession("a")
      expect(yield* b.register(keyed("k", kind), g2.work)).toBe("spawned")
      yield* TestTime.adjust("1 second")
      const lost = logs.lines.find((l) => String(l.message).includes("offload claim lost with the session"))
      expect(lost?.annotations).toMatchObject({ kind, claim: `${kind}:k` })
      expect(yield* count("fibervisor_offload_cluster_claims_lost_total", { kind })).toBe(1)
      // A's piece runs on; its release must not free B's claim.
      yield* g1.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([`${kind}:k`])
      yield* g2.release
      expect(yield* b.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("a store that cannot answer refuses the work (fail closed), and the next call works again", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("closed")
      // A heartbeat far away: the lost session is found by the next claim.
      const logs = captureLogs()
      const a = yield* replica(table, "a", {}, { heartbeat: "1 hour" }).pipe(Effect.provide(logs.layer))
      const c = counter()
      table.dropSession("a")
      expect(yield* a.register(keyed("k", kind), c.work)).toBe("rejected")
      expect(yield* count("fibervisor_offload_rejected_total", { kind, scope: "cluster" })).toBe(1)
      yield* flush
      expect(c.runs()).toBe(0)
      expect(yield* a.register(keyed("k", kind), c.work)).toBe("spawned")
      expect(yield* a.awaitIdle()).toBe(true)
      expect(c.runs()).toBe(1)
    })
  )

  it.effect("a claims service that fails: rejected, with a warning naming the reason", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const failing: Offload.OffloadClaims = {
        tryClaim: () => Effect.fail(new Offload.OffloadClaimsUnavailable({ reason: "database down" })),
        trySlot: () => Effect.fail(new Offload.OffloadClaimsUnavailable({ reason: "database down" }))
      }
      const kind = uniqueKind("failing")
      const offload = yield* Effect.map(
        Layer.build(
          Offload.layerCluster({ grace: 0, perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }).pipe(
            Layer.provide(Layer.succeed(Offload.OffloadClaims, failing))
          )
        ),
        (context) => Context.get(context, Offload.Offload)
      )
      const c = counter()
      expect(yield* offload.register(keyed("k", kind), c.work).pipe(Effect.provide(logs.layer))).toBe("rejected")
      expect(yield* offload.register(auto(kind), c.work).pipe(Effect.provide(logs.layer))).toBe("rejected")
      // Auto work of a kind without a cluster limit never asks the store.
      expect(yield* offload.register(auto(`${kind}-free`), c.work)).toBe("spawned")
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(c.runs()).toBe(1)
      expect(logs.lines.filter((l) => String(l.message).includes("cannot answer (database down)"))).toHaveLength(2)
    })
  )

  it.effect("interrupting the caller during the claim strands no lock", () =>
    Effect.gen(function* () {
      const table = ClusterOffload.memoryTable()
      const kind = uniqueKind("interrupt")
      const inner = yield* Effect.map(Layer.build(ClusterOffload.layerMemory(table, { replica: "slow" })), (context) =>
        Context.get(context, Offload.OffloadClaims)
      )
      // A store that answers after one second.
      const slow: Offload.OffloadClaims = {
        tryClaim: (k, key) => Effect.andThen(Effect.sleep("1 second"), inner.tryClaim(k, key)),
        trySlot: (k, n) => Effect.andThen(Effect.sleep("1 second"), inner.trySlot(k, n))
      }
      const offload = yield* Effect.map(
        Layer.build(Offload.layerCluster({ grace: 0 }).pipe(Layer.provide(Layer.succeed(Offload.OffloadClaims, slow)))),
        (context) => Context.get(context, Offload.Offload)
      )
      const g = yield* gate()
      const caller = yield* Effect.forkChild(offload.register(keyed("k", kind), g.work))
      yield* flush
      expect(yield* offload.isInFlight(keyed("k", kind))).toBe(true)
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(caller))
      yield* TestTime.adjust("1 second")
      yield* Fiber.join(interrupting)
      // The claim was taken: the work was handed over and runs; its end releases the key.
      yield* Deferred.await(g.started)
      expect(table.held()).toEqual([`${kind}:k`])
      yield* g.release
      expect(yield* offload.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )
})

describe("layerCluster and layerMemory: bad config", () => {
  // Core's value printer words numbers as "number 0" or "0" depending on its version: both are read.
  const bad: ReadonlyArray<readonly [string, unknown, string, string | RegExp]> = [
    [
      "cluster slots zero",
      { perKind: { x: { cluster: { maxConcurrent: 0 } } } },
      "perKind.x.cluster.maxConcurrent",
      /^must be a positive integer, got (number )?0$/
    ],
    [
      "cluster slots 1.5",
      { perKind: { x: { cluster: { maxConcurrent: 1.5 } } } },
      "perKind.x.cluster.maxConcurrent",
      /^must be a positive integer, got (number )?1\.5$/
    ],
    [
      "cluster slots missing",
      { perKind: { x: { cluster: {} } } },
      "perKind.x.cluster.maxConcurrent",
      "must be a positive integer, got undefined"
    ],
    [
      "cluster not an object",
      { perKind: { x: { cluster: 3 } } },
      "perKind.x.cluster",
      /^must be an object \{ maxConcurrent \}, got (number )?3$/
    ],
    [
      "unknown key in perKind cluster",
      { perKind: { x: { cluster: { maxConcurrent: 1, max: 2 } } } },
      "perKind.x.cluster.max",
      "is not a known option"
    ],
    [
      "unknown key in cluster",
      { cluster: { slotTimeout: "1 second" } },
      "cluster.slotTimeout",
      "is not a known option"
    ],
    ["slotWait negative", { cluster: { slotWait: -1 } }, "cluster.slotWait", "must not be negative, got -1"],
    [
      "slotRetry zero",
      { cluster: { slotRetry: 0 } },
      "cluster.slotRetry",
      /^must be greater than zero and finite, got (number )?0$/
    ],
    ["cluster not an object", { cluster: "yes" }, "cluster", 'must be an object { slotRetry?, slotWait? }, got "yes"'],
    ["a base field, still checked", { maxConcurrent: -1 }, "maxConcurrent", "must be a positive integer, got -1"],
    [
      "an unknown base key, still refused",
      { perKind: { x: { cluster: { maxConcurrent: 1 }, limit: 2 } } },
      "perKind.x.limit",
      ""
    ]
  ]
  for (const [name, config, field, reason] of bad) {
    it.effect(`layerCluster: ${name} → InvalidOffloadConfig naming ${field}`, () =>
      Effect.gen(function* () {
        const table = ClusterOffload.memoryTable()
        const exit = yield* Effect.exit(
          Layer.build(
            Offload.layerCluster(config as Offload.OffloadClusterConfig).pipe(
              Layer.provide(ClusterOffload.layerMemory(table))
            )
          )
        )
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        expect(Option.isSome(error) && error.value).toBeInstanceOf(Offload.InvalidOffloadConfig)
        const value = Option.getOrThrow(error) as Offload.InvalidOffloadConfig
        expect(value.field).toBe(field)
        if (reason instanceof RegExp) expect(value.reason).toMatch(reason)
        else if (reason !== "") expect(value.reason).toBe(reason)
        expect(table.held()).toEqual([])
      })
    )
  }

  const badMemory: ReadonlyArray<readonly [unknown, string, string]> = [
    [{ heartbeat: "soon" }, "heartbeat", 'must be a duration such as "5 seconds", got "soon"'],
    [{ heartbeat: 0 }, "heartbeat", "must be positive and finite, got 0"],
    [{ replica: "" }, "replica", 'must be a non-empty string, got ""'],
    [{ replicas: "a" }, "replicas", "is not a known option"],
    ["a", "options", 'must be an object, got "a"']
  ]
  for (const [options, field, reason] of badMemory) {
    it.effect(`layerMemory: ${field} → InvalidClusterOffloadOptions (${reason})`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Layer.build(ClusterOffload.layerMemory(ClusterOffload.memoryTable(), options as ClusterOffload.MemoryOptions))
        )
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        expect(Option.getOrThrow(error)).toEqual(new ClusterOffload.InvalidClusterOffloadOptions({ field, reason }))
      })
    )
  }

  it.effect("layerMemory: a table not made by memoryTable() is refused", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(ClusterOffload.layerMemory({ dropSession: () => false, held: () => [] }))
      )
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      expect(Option.getOrThrow(error)).toMatchObject({ field: "table" })
    })
  )
})
