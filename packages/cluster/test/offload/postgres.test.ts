/**
 * `Offload.layerCluster` on `ClusterOffload.layerPostgres` against the real PostgreSQL: each
 * replica is a layer with its own pool and its own claims session in this process. Dedup across
 * sessions, namespaces, slots, the unlock on every exit (checked in `pg_locks`), the session
 * terminated by `pg_terminate_backend`, the layer's close, bad options. Real clock: every wait is
 * bounded and on an observable condition.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Cause, Deferred, Effect, Exit, Layer, Option } from "effect"
import * as Scope from "effect/Scope"
import { Offload, OffloadKey } from "@fibervisor/core"
import * as ClusterOffload from "../../src/ClusterOffload.js"
import { TestDatabase, waitUntil } from "../harness/index.js"
import { captureLogs, count, counter, gate, uniqueKind } from "./helpers.js"
import { heldLocks, pgLayer, pgReplica } from "./pgHelpers.js"

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

let db: TestDatabase

beforeAll(async () => {
  db = await TestDatabase.create("offload_pg")
}, 30_000)

afterAll(async () => {
  await db?.drop()
}, 30_000)

const locks = (namespace?: string) => Effect.promise(() => heldLocks(db, namespace))
const until = (predicate: () => Promise<boolean>, message: string) =>
  Effect.promise(() => waitUntil(predicate, { timeout: 20_000, interval: 25, message }))

describe("layerPostgres: dedup across sessions", () => {
  it.live("a key held by one replica's session is deduplicated on another's", () =>
    Effect.gen(function* () {
      const a = yield* pgReplica(db, "a1")
      const b = yield* pgReplica(db, "b1")
      const kind = uniqueKind("pg-dedup")
      const first = yield* gate()
      const second = counter()
      expect(yield* a.register(keyed("k", kind), first.work)).toBe("spawned")
      yield* Deferred.await(first.started)
      expect(yield* locks()).toEqual([{ app: "fv-offload-a1", space: "key" }])
      expect(yield* b.register(keyed("k", kind), second.work)).toBe("deduplicated")
      expect(yield* a.register(keyed("k", kind), second.work)).toBe("deduplicated")
      expect(yield* count("fibervisor_offload_deduplicated_total", { kind, scope: "cluster" })).toBe(1)
      yield* first.release
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([])
      expect(yield* b.register(keyed("k", kind), second.work)).toBe("spawned")
      expect(yield* b.awaitIdle("10 seconds")).toBe(true)
      expect([first.runs(), second.runs()]).toEqual([1, 1])
    }).pipe(Effect.scoped)
  )

  it.live("many keys from two replicas at once: each key runs exactly once while in flight", () =>
    Effect.gen(function* () {
      const a = yield* pgReplica(db, "a2")
      const b = yield* pgReplica(db, "b2")
      const kind = uniqueKind("pg-many")
      const released = yield* Deferred.make<void>()
      const runs = new Map<string, number>()
      const work = (key: string) =>
        Effect.andThen(
          Effect.sync(() => runs.set(key, (runs.get(key) ?? 0) + 1)),
          Deferred.await(released)
        )
      const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
      const outcomes = yield* Effect.forEach(
        keys.flatMap(
          (key) =>
            [
              [a, key],
              [b, key],
              [a, key]
            ] as const
        ),
        ([replica, key]) => replica.register(keyed(key, kind), work(key)),
        { concurrency: 8 }
      )
      expect(outcomes.filter((o) => o === "spawned")).toHaveLength(50)
      expect(outcomes.filter((o) => o === "deduplicated")).toHaveLength(100)
      yield* Deferred.succeed(released, undefined)
      expect(yield* a.awaitIdle("20 seconds")).toBe(true)
      expect(yield* b.awaitIdle("20 seconds")).toBe(true)
      expect(keys.map((key) => runs.get(key))).toEqual(keys.map(() => 1))
      expect(yield* locks()).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("namespaces keep applications apart", () =>
    Effect.gen(function* () {
      const a = yield* pgReplica(db, "a3", {}, { namespace: "app-one" })
      const b = yield* pgReplica(db, "b3", {}, { namespace: "app-two" })
      const kind = uniqueKind("pg-ns")
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* a.register(keyed("k", kind), g1.work)).toBe("spawned")
      expect(yield* b.register(keyed("k", kind), g2.work)).toBe("spawned")
      yield* Effect.all([Deferred.await(g1.started), Deferred.await(g2.started)])
      expect(yield* locks("app-one")).toEqual([{ app: "fv-offload-a3", space: "key" }])
      expect(yield* locks("app-two")).toEqual([{ app: "fv-offload-b3", space: "key" }])
      yield* Effect.all([g1.release, g2.release])
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      expect(yield* b.awaitIdle("10 seconds")).toBe(true)
    }).pipe(Effect.scoped)
  )
})

describe("layerPostgres: cluster slots", () => {
  it.live("never more than maxConcurrent across three sessions; a freed slot is taken again", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("pg-slots")
      const config = { perKind: { [kind]: { cluster: { maxConcurrent: 2 } } } }
      const replicas = yield* Effect.all([
        pgReplica(db, "a4", config),
        pgReplica(db, "b4", config),
        pgReplica(db, "c4", config)
      ])
      const gates = yield* Effect.all([gate(), gate(), gate(), gate()])
      expect(yield* replicas[0].register(auto(kind), gates[0].work)).toBe("spawned")
      expect(yield* replicas[0].register(auto(kind), gates[1].work)).toBe("spawned")
      expect(yield* replicas[1].register(auto(kind), gates[2].work)).toBe("rejected")
      expect(yield* replicas[2].register(auto(kind), gates[2].work)).toBe("rejected")
      expect(yield* locks()).toEqual([
        { app: "fv-offload-a4", space: "slot" },
        { app: "fv-offload-a4", space: "slot" }
      ])
      yield* gates[0].release
      yield* until(async () => (await heldLocks(db)).length === 1, "a slot is freed")
      expect(yield* replicas[1].register(auto(kind), gates[2].work)).toBe("spawned")
      expect(yield* replicas[2].register(auto(kind), gates[3].work)).toBe("rejected")
      yield* Effect.all([gates[1].release, gates[2].release])
      for (const replica of replicas) expect(yield* replica.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("slots are per database: the same kind's slot taken in another database does not count", () =>
    Effect.gen(function* () {
      const other = yield* Effect.acquireRelease(
        Effect.promise(() => TestDatabase.create("offload_pg_other")),
        (database) => Effect.promise(() => database.drop())
      )
      const kind = uniqueKind("pg-perdb")
      const config = { perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }
      const elsewhere = yield* pgReplica(other, "elsewhere", config)
      const here = yield* pgReplica(db, "here", config)
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* elsewhere.register(auto(kind), g1.work)).toBe("spawned")
      yield* Deferred.await(g1.started)
      expect(yield* here.register(auto(kind), g2.work)).toBe("spawned")
      yield* Deferred.await(g2.started)
      expect(yield* locks()).toEqual([{ app: "fv-offload-here", space: "slot" }])
      yield* Effect.all([g1.release, g2.release])
      expect(yield* elsewhere.awaitIdle("10 seconds")).toBe(true)
      expect(yield* here.awaitIdle("10 seconds")).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("waiting for a slot (onFull: queue) across sessions", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("pg-wait")
      const config: Offload.OffloadClusterConfig = {
        onFull: { queue: 10 },
        perKind: { [kind]: { cluster: { maxConcurrent: 1 } } },
        cluster: { slotRetry: "50 millis", slotWait: "20 seconds" }
      }
      const a = yield* pgReplica(db, "a5", config)
      const b = yield* pgReplica(db, "b5", config)
      const first = yield* gate()
      const second = yield* gate()
      expect(yield* a.register(auto(kind), first.work)).toBe("spawned")
      expect(yield* b.register(auto(kind), second.work)).toBe("spawned")
      yield* Effect.sleep("300 millis")
      expect(second.runs()).toBe(0)
      yield* first.release
      yield* Deferred.await(second.started)
      expect(yield* locks()).toEqual([{ app: "fv-offload-b5", space: "slot" }])
      yield* second.release
      expect(yield* b.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([])
    }).pipe(Effect.scoped)
  )
})

describe("layerPostgres: every exit unlocks", () => {
  const cases: ReadonlyArray<readonly [string, Offload.OffloadClusterConfig, "release" | "cancel" | "timeout"]> = [
    ["success", {}, "release"],
    ["failure", { logFailures: false }, "release"],
    ["defect", { logFailures: false }, "release"],
    ["interruption (cancel)", {}, "cancel"],
    ["a cancel timeout", { timeout: { after: "200 millis", policy: "cancel" }, logFailures: false }, "timeout"]
  ]
  for (const [name, config, how] of cases) {
    it.live(`on ${name}`, () =>
      Effect.gen(function* () {
        const kind = uniqueKind("pg-exit")
        const slotted = { ...config, perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }
        const a = yield* pgReplica(db, `x${kind}`, slotted)
        const b = yield* pgReplica(db, `y${kind}`, slotted)
        const then =
          name === "failure" ? Effect.fail("boom") : name === "defect" ? Effect.die(new Error("boom")) : Effect.void
        const g = yield* gate(then)
        expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
        yield* Deferred.await(g.started)
        expect((yield* locks()).map((l) => l.space)).toEqual(["key", "slot"])
        if (how === "release") yield* g.release
        if (how === "cancel") expect(yield* a.cancel(keyed("k", kind))).toBe(true)
        expect(yield* a.awaitIdle("10 seconds")).toBe(true)
        if (how !== "release") expect(g.interruptedAt()).toBeDefined()
        expect(yield* locks()).toEqual([])
        expect(yield* b.register(keyed("k", kind), Effect.void)).toBe("spawned")
        expect(yield* b.awaitIdle("10 seconds")).toBe(true)
      }).pipe(Effect.scoped)
    )
  }

  it.live("closing the layer (the replica stops): drained work unlocks, and the session gives every lock back", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("pg-close")
      const scope = yield* Scope.make()
      const a = yield* Scope.provide(pgReplica(db, "a6", { grace: "100 millis" }), scope)
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      expect(yield* locks()).toHaveLength(1)
      yield* Scope.close(scope, Exit.void)
      expect(g.interruptedAt()).toBeDefined()
      expect(yield* locks()).toEqual([])
    })
  )
})

describe("layerPostgres: retry of a recent failure", () => {
  it.live("takes the key's lock again (deduplicated while another session holds it), then runs once", () =>
    Effect.gen(function* () {
      const kind = uniqueKind("pg-retry")
      const a = yield* pgReplica(db, "r1", { logFailures: false })
      const b = yield* pgReplica(db, "r2")
      let runs = 0
      const flaky = Effect.suspend(() => (++runs === 1 ? Effect.fail("first run fails") : Effect.void))
      expect(yield* a.register(keyed("k", kind), flaky)).toBe("spawned")
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      const summary = yield* a.summary!
      const id = summary.kinds.find((k) => k.kind === kind)!.recentFailures[0]!.id
      expect(yield* locks()).toEqual([])

      const g = yield* gate()
      expect(yield* b.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      expect(yield* a.retry!(id)).toEqual(Option.some("deduplicated"))
      yield* g.release
      expect(yield* b.awaitIdle("10 seconds")).toBe(true)

      expect(yield* a.retry!(id)).toEqual(Option.some("spawned"))
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      expect(runs).toBe(2)
      expect(yield* locks()).toEqual([])
      expect(yield* a.retry!(id)).toEqual(Option.none())
    }).pipe(Effect.scoped)
  )
})

describe("layerPostgres: the session terminated (pg_terminate_backend)", () => {
  it.live("the work keeps running; its claim is taken again on a new session", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const kind = uniqueKind("pg-retake")
      const a = yield* pgReplica(db, "a7", {}, { idleSessionTimeout: "3 seconds" }).pipe(Effect.provide(logs.layer))
      const b = yield* pgReplica(db, "b7")
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      yield* Deferred.await(g.started)
      expect(yield* Effect.promise(() => db.dropSession("fv-offload-a7"))).toBe(1)
      // The heartbeat (a third of 3 s) finds the session gone and takes the claim again.
      yield* until(
        async () => logs.lines.some((l) => String(l.message).includes("1 claim(s) taken again, 0 lost")),
        "the claim is taken again"
      )
      expect(yield* locks()).toEqual([{ app: "fv-offload-a7", space: "key" }])
      expect(yield* b.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      expect(g.interruptedAt()).toBeUndefined()
      yield* g.release
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([])
    }).pipe(Effect.scoped)
  )

  it.live("when another replica took the key meanwhile, the loss is logged and counted; the new owner keeps it", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const kind = uniqueKind("pg-lost")
      const a = yield* pgReplica(db, "a8", {}, { idleSessionTimeout: "30 seconds" }).pipe(Effect.provide(logs.layer))
      const b = yield* pgReplica(db, "b8")
      const g1 = yield* gate()
      const g2 = yield* gate()
      expect(yield* a.register(keyed("k", kind), g1.work)).toBe("spawned")
      yield* Deferred.await(g1.started)
      expect(yield* Effect.promise(() => db.dropSession("fv-offload-a8"))).toBe(1)
      yield* until(async () => (await heldLocks(db)).length === 0, "the server freed the lock")
      expect(yield* b.register(keyed("k", kind), g2.work)).toBe("spawned")
      // The next use of A's store finds the session gone (here a registration, before the heartbeat).
      expect(yield* a.register(keyed("other", kind), Effect.void)).toBe("rejected")
      expect(logs.lines.some((l) => String(l.message).includes("0 claim(s) taken again, 1 lost"))).toBe(true)
      expect(yield* count("fibervisor_offload_cluster_claims_lost_total", { kind })).toBe(1)
      // A works again on its new session; its old piece's end does not unlock B's claim.
      expect(yield* a.register(keyed("other", kind), Effect.void)).toBe("spawned")
      yield* g1.release
      expect(yield* a.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([{ app: "fv-offload-b8", space: "key" }])
      yield* g2.release
      expect(yield* b.awaitIdle("10 seconds")).toBe(true)
      expect(yield* locks()).toEqual([])
    }).pipe(Effect.scoped)
  )
})

describe("layerPostgres: what a claim costs", () => {
  it.live(
    "300 registrations one after another, keyed, slotted and free: all spawned (prints the figures)",
    () =>
      Effect.gen(function* () {
        const a = yield* pgReplica(db, "cost", { perKind: { "cost-slots": { cluster: { maxConcurrent: 4 } } } })
        const figures: Record<string, Array<number>> = { keyed: [], slotted: [], free: [] }
        for (let round = 0; round < 3; round++) {
          const time = (name: string, key: (i: number) => OffloadKey.OffloadKey) =>
            Effect.gen(function* () {
              const start = performance.now()
              for (let i = 0; i < 300; i++) expect(yield* a.register(key(i), Effect.void)).toBe("spawned")
              expect(yield* a.awaitIdle("30 seconds")).toBe(true)
              figures[name]!.push(Number(((performance.now() - start) / 300).toFixed(3)))
            })
          yield* time("keyed", (i) => keyed(`k${round}-${i}`, "cost-keyed"))
          yield* time("slotted", () => auto("cost-slots"))
          yield* time("free", () => auto("cost-free"))
        }
        expect(yield* locks()).toEqual([])
        process.stdout.write(`FIGURES cost (ms per registration, 3 rounds) ${JSON.stringify(figures)}\n`)
      }).pipe(Effect.scoped),
    180_000
  )
})

describe("layerPostgres: bad options", () => {
  const bad: ReadonlyArray<readonly [unknown, string, string]> = [
    [
      { idleSessionTimeout: "500 millis" },
      "idleSessionTimeout",
      "must be between 1 second and 2147483647 ms, got 500 ms"
    ],
    [{ idleSessionTimeout: "soon" }, "idleSessionTimeout", 'must be a duration such as "5 seconds", got "soon"'],
    [{ operationTimeout: -5 }, "operationTimeout", "must be positive and finite, got -5"],
    [{ applicationName: "x".repeat(64) }, "applicationName", "must be at most 63 characters, got 64"],
    [{ namespace: "" }, "namespace", 'must be a non-empty string, got ""'],
    [{ lockTimeout: "1 second" }, "lockTimeout", "is not a known option"]
  ]
  for (const [options, field, reason] of bad) {
    it.live(`${field}: ${reason}`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Layer.build(
            ClusterOffload.layerPostgres(options as ClusterOffload.PostgresOptions).pipe(
              Layer.provide(pgLayer(db, "bad"))
            )
          )
        )
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        expect(Option.getOrThrow(error)).toEqual(new ClusterOffload.InvalidClusterOffloadOptions({ field, reason }))
      }).pipe(Effect.scoped)
    )
  }

  it.live("an unreachable server fails the layer with OffloadClaimsUnavailable", () =>
    Effect.gen(function* () {
      // Port 1 on loopback: nothing listens, the connection is refused at once.
      const unreachable = PgClient.layer({
        host: "127.0.0.1",
        port: 1,
        username: "postgres",
        connectTimeout: "2 seconds"
      })
      const exit = yield* Effect.exit(
        Layer.build(ClusterOffload.layerPostgres().pipe(Layer.provide(Layer.orDie(unreachable))))
      )
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      expect(Option.getOrThrow(error)).toBeInstanceOf(Offload.OffloadClaimsUnavailable)
    }).pipe(Effect.scoped)
  )
})
