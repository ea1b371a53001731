/**
 * `Offload.layerCluster`'s claim step, in core alone: the `OffloadClaims` service is a fake here
 * (a shared table of locks, re-entrant per "session", as PostgreSQL's session locks are), so these
 * tests need no `@fibervisor/cluster`. Its stores have their own tests there. Under the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { captureLogs, count, counter, flush, gate, TestTime, uniqueKind } from "../helpers/offload.js"

/** A shared lock table; each `session` is one replica's claims service. */
const lockTable = () => {
  const locks = new Map<string, { session: number; count: number }>()
  const calls: Array<string> = []
  let sessions = 0
  const take = (session: number, lock: string): boolean => {
    const held = locks.get(lock)
    if (held === undefined) locks.set(lock, { session, count: 1 })
    else if (held.session === session) held.count += 1
    else return false
    return true
  }
  const claim = (session: number, lock: string): Offload.OffloadClaim => ({
    release: Effect.sync(() => {
      const held = locks.get(lock)
      if (held === undefined || held.session !== session) return
      held.count -= 1
      if (held.count === 0) locks.delete(lock)
    })
  })
  const session = (): Offload.OffloadClaims => {
    const id = ++sessions
    return {
      tryClaim: (kind, key) =>
        Effect.sync(() => {
          calls.push(`claim ${kind}:${key}`)
          const lock = `${kind}:${key}`
          return take(id, lock) ? Option.some(claim(id, lock)) : Option.none()
        }),
      trySlot: (kind, slots) =>
        Effect.sync(() => {
          calls.push(`slot ${kind}`)
          for (let i = 0; i < slots; i++) {
            const lock = `${kind}#${i}`
            // A real store skips the slots its session holds; this fake asks the table.
            if (locks.get(lock)?.session === id) continue
            if (take(id, lock)) return Option.some(claim(id, lock))
          }
          return Option.none()
        })
    }
  }
  return { session, held: () => Array.from(locks.keys()).sort(), calls }
}

const build = (claims: Offload.OffloadClaims, config: Offload.OffloadClusterConfig = {}) =>
  Effect.map(
    Layer.build(
      Offload.layerCluster({ grace: 0, ...config }).pipe(Layer.provide(Layer.succeed(Offload.OffloadClaims, claims)))
    ),
    (context) => Context.get(context, Offload.Offload)
  )

const keyed = OffloadKey.keyed
const auto = OffloadKey.auto

describe("Offload.layerCluster", () => {
  it.effect("claims keyed work: another replica's registration of the key is deduplicated (scope cluster)", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const a = yield* build(table.session())
      const b = yield* build(table.session())
      const kind = uniqueKind("cluster")
      const g = yield* gate()
      const other = counter()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      expect(yield* b.register(keyed("k", kind), other.work)).toBe("deduplicated")
      const handle = yield* b.submit(keyed("k", kind), other.work)
      expect(handle.outcome).toBe("deduplicated")
      expect(yield* handle.await).toEqual(Option.none())
      expect(yield* count("fibervisor_offload_deduplicated_total", kind)).toBe(0)
      yield* g.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
      expect(yield* b.register(keyed("k", kind), other.work)).toBe("spawned")
      expect(yield* b.awaitIdle()).toBe(true)
      expect([g.runs(), other.runs()]).toEqual([1, 1])
    })
  )

  it.effect("decides a second local registration itself, without asking the store", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const a = yield* build(table.session())
      const kind = uniqueKind("local")
      const g = yield* gate()
      expect(yield* a.register(keyed("k", kind), g.work)).toBe("spawned")
      expect(yield* a.register(keyed("k", kind), Effect.void)).toBe("deduplicated")
      expect(yield* a.isInFlight(keyed("k", kind))).toBe(true)
      expect(table.calls).toEqual([`claim ${kind}:k`])
      expect(yield* count("fibervisor_offload_deduplicated_total", kind)).toBe(1)
      yield* g.release
      expect(yield* a.awaitIdle()).toBe(true)
    })
  )

  it.effect("auto work of a kind without a cluster limit, and deduplicate: false, never ask the store", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const a = yield* build(table.session(), { deduplicate: false })
      const kind = uniqueKind("free")
      expect(yield* a.register(auto(kind), Effect.void)).toBe("spawned")
      expect(yield* a.register(keyed("k", kind), Effect.void)).toBe("spawned")
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.calls).toEqual([])
    })
  )

  const exits: ReadonlyArray<readonly [string, (release: Effect.Effect<void>) => Effect.Effect<void, unknown>]> = [
    ["success", (wait) => wait],
    ["failure", (wait) => Effect.andThen(wait, Effect.fail("boom"))],
    ["defect", (wait) => Effect.andThen(wait, Effect.die("boom"))]
  ]
  for (const [name, body] of exits) {
    it.effect(`releases on ${name}`, () =>
      Effect.gen(function* () {
        const table = lockTable()
        const kind = uniqueKind(name)
        const a = yield* build(table.session(), {
          logFailures: false,
          perKind: { [kind]: { cluster: { maxConcurrent: 1 } } }
        })
        const done = yield* Deferred.make<void>()
        const handle = yield* a.submit(keyed("k", kind), body(Deferred.await(done)))
        yield* flush
        expect(table.held()).toEqual([`${kind}#0`, `${kind}:k`])
        yield* Deferred.succeed(done, undefined)
        yield* handle.await
        expect(table.held()).toEqual([])
      })
    )
  }

  it.effect("releases on cancel, on a cancel timeout, and when a queued piece is dropped", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const kind = uniqueKind("stops")
      const a = yield* build(table.session(), {
        logFailures: false,
        onFull: { queue: 4 },
        perKind: { [kind]: { maxConcurrent: 1, timeout: { after: "5 seconds", policy: "cancel" } } }
      })
      const g1 = yield* gate()
      expect(yield* a.register(keyed("k1", kind), g1.work)).toBe("spawned")
      expect(yield* a.register(keyed("k2", kind), Effect.never)).toBe("spawned")
      expect(table.held()).toEqual([`${kind}:k1`, `${kind}:k2`])
      expect(yield* a.cancel(keyed("k2", kind))).toBe(true) // queued: dropped
      expect(table.held()).toEqual([`${kind}:k1`])
      yield* TestTime.adjust("5 seconds") // the timeout interrupts k1
      expect(g1.interruptedAt()).toBe(5000)
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
      expect(yield* a.register(keyed("k3", kind), Effect.never)).toBe("spawned")
      expect(yield* a.cancel(keyed("k3", kind))).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  it.effect("slots: rejected when all are taken, or waiting every slotRetry until slotWait", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const kind = uniqueKind("slots")
      const limits = { perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }
      const a = yield* build(table.session(), limits)
      const rejecting = yield* build(table.session(), limits)
      const waiting = yield* build(table.session(), {
        ...limits,
        onFull: { queue: 4 },
        logFailures: false,
        cluster: { slotRetry: "1 second", slotWait: "3 seconds" }
      })
      const holder = yield* gate()
      expect(yield* a.register(auto(kind), holder.work)).toBe("spawned")
      expect(yield* rejecting.register(auto(kind), Effect.void)).toBe("rejected")
      expect(yield* count("fibervisor_offload_rejected_total", kind)).toBe(0)
      const late = counter()
      const gaveUp = counter()
      const first = yield* waiting.submit(auto(kind), late.work)
      yield* TestTime.adjust("999 millis")
      expect(table.calls.filter((c) => c === `slot ${kind}`)).toHaveLength(3)
      yield* TestTime.adjust("1 millis")
      expect(table.calls.filter((c) => c === `slot ${kind}`)).toHaveLength(4)
      yield* holder.release
      yield* TestTime.adjust("1 second")
      expect(late.runs()).toBe(1)
      expect(Option.map(yield* first.await, Exit.isSuccess)).toEqual(Option.some(true))
      // Now the waiting replica never gets it: `slotWait` ends the piece, which never ran.
      const blocker = yield* gate()
      expect(yield* a.register(auto(kind), blocker.work)).toBe("spawned")
      const second = yield* waiting.submit(auto(kind), gaveUp.work)
      yield* TestTime.adjust("3 seconds")
      const exit = yield* second.await
      expect(gaveUp.runs()).toBe(0)
      const defect = Option.isSome(exit) && Exit.isFailure(exit.value) ? Cause.squash(exit.value.cause) : undefined
      expect(defect).toEqual(new Offload.OffloadSlotUnavailable({ kind, waitedMs: 3000 }))
      yield* blocker.release
    })
  )

  it.effect("fails closed: a store that cannot answer refuses the work with a warning", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const down: Offload.OffloadClaims = {
        tryClaim: () => Effect.fail(new Offload.OffloadClaimsUnavailable({ reason: "db down" })),
        trySlot: () => Effect.fail(new Offload.OffloadClaimsUnavailable({ reason: "db down" }))
      }
      const a = yield* build(down)
      const kind = uniqueKind("down")
      const c = counter()
      expect(yield* a.register(keyed("k", kind), c.work).pipe(Effect.provide(logs.layer))).toBe("rejected")
      yield* flush
      expect(c.runs()).toBe(0)
      expect(logs.lines.map((l) => l.message)).toEqual([
        "offload rejected: the cluster claims store cannot answer (db down)"
      ])
      expect(yield* a.isInFlight(keyed("k", kind))).toBe(false)
      expect(yield* a.awaitIdle()).toBe(true)
    })
  )

  it.effect("a caller interrupted while the store answers strands no claim", () =>
    Effect.gen(function* () {
      const table = lockTable()
      const fast = table.session()
      const slow: Offload.OffloadClaims = {
        tryClaim: (kind, key) => Effect.andThen(Effect.sleep("1 second"), fast.tryClaim(kind, key)),
        trySlot: fast.trySlot
      }
      const a = yield* build(slow)
      const kind = uniqueKind("interrupted")
      const g = yield* gate()
      const caller = yield* Effect.forkChild(a.register(keyed("k", kind), g.work))
      yield* flush
      const interrupt = yield* Effect.forkChild(Fiber.interrupt(caller))
      yield* TestTime.adjust("1 second")
      yield* Fiber.join(interrupt)
      yield* Deferred.await(g.started)
      yield* g.release
      expect(yield* a.awaitIdle()).toBe(true)
      expect(table.held()).toEqual([])
    })
  )

  describe("retry", () => {
    /** The recent failures of `kind` in `service`'s summary, oldest first. */
    const failures = (service: Offload.Offload, kind: string) =>
      Effect.map(
        service.summary!,
        (summary) => summary.kinds.find((k) => k.kind === kind)?.recentFailures.map((f) => f.id) ?? []
      )

    /** A service the registering caller has, and the retrying one has not. */
    class Tenant extends Context.Service<Tenant, { readonly name: string }>()("test/cluster/Tenant") {}

    /** Work that fails its first `failing` runs, then succeeds; records the tenant it saw each time. */
    const flaky = (failing: number) => {
      const seen: Array<string> = []
      const work = Effect.gen(function* () {
        seen.push((yield* Tenant).name)
        if (seen.length <= failing) return yield* Effect.fail(`failure ${seen.length}`)
      })
      return { work, seen }
    }

    it.effect("claims the key again and runs the work with its caller's services; the failure leaves the list", () =>
      Effect.gen(function* () {
        const table = lockTable()
        const a = yield* build(table.session(), { logFailures: false })
        const kind = uniqueKind("retry")
        const { seen, work } = flaky(1)
        expect(yield* a.register(keyed("k", kind), work).pipe(Effect.provideService(Tenant, { name: "acme" }))).toBe(
          "spawned"
        )
        expect(yield* a.awaitIdle()).toBe(true)
        const [id] = yield* failures(a, kind)
        expect(table.held()).toEqual([])

        expect(yield* Offload.retry(id!).pipe(Effect.provideService(Offload.Offload, a))).toEqual(
          Option.some("spawned")
        )
        expect(yield* a.awaitIdle()).toBe(true)
        expect(seen).toEqual(["acme", "acme"])
        expect(table.calls).toEqual([`claim ${kind}:k`, `claim ${kind}:k`])
        expect(table.held()).toEqual([])
        expect(yield* failures(a, kind)).toEqual([])
        // Already retried: no longer a recent failure.
        expect(yield* a.retry!(id!)).toEqual(Option.none())
        expect(yield* a.retry!("no-such-id")).toEqual(Option.none())
      })
    )

    it.effect("another replica holding the key makes it deduplicated, and the failure stays until a later retry", () =>
      Effect.gen(function* () {
        const table = lockTable()
        const a = yield* build(table.session(), { logFailures: false })
        const b = yield* build(table.session(), { logFailures: false })
        const kind = uniqueKind("held")
        const { seen, work } = flaky(1)
        yield* a.register(keyed("k", kind), work).pipe(Effect.provideService(Tenant, { name: "acme" }))
        expect(yield* a.awaitIdle()).toBe(true)
        const [id] = yield* failures(a, kind)
        const g = yield* gate()
        expect(yield* b.register(keyed("k", kind), g.work)).toBe("spawned")

        expect(yield* a.retry!(id!)).toEqual(Option.some("deduplicated"))
        expect(yield* failures(a, kind)).toEqual([id])
        yield* g.release
        expect(yield* b.awaitIdle()).toBe(true)
        expect(yield* a.retry!(id!)).toEqual(Option.some("spawned"))
        expect(yield* a.awaitIdle()).toBe(true)
        expect(seen).toEqual(["acme", "acme"])
        expect(yield* failures(a, kind)).toEqual([])
      })
    )

    it.effect("a store that cannot answer rejects the retry and keeps the failure", () =>
      Effect.gen(function* () {
        const table = lockTable()
        const session = table.session()
        let down = false
        const flakyStore: Offload.OffloadClaims = {
          tryClaim: (kind, key) =>
            down
              ? Effect.fail(new Offload.OffloadClaimsUnavailable({ reason: "db down" }))
              : session.tryClaim(kind, key),
          trySlot: session.trySlot
        }
        const a = yield* build(flakyStore, { logFailures: false })
        const kind = uniqueKind("down")
        const { seen, work } = flaky(1)
        yield* a.register(keyed("k", kind), work).pipe(Effect.provideService(Tenant, { name: "acme" }))
        expect(yield* a.awaitIdle()).toBe(true)
        const [id] = yield* failures(a, kind)
        down = true
        expect(yield* a.retry!(id!).pipe(Effect.provide(captureLogs().layer))).toEqual(Option.some("rejected"))
        yield* flush
        expect(seen).toEqual(["acme"])
        expect(yield* failures(a, kind)).toEqual([id])
      })
    )

    it.effect("retries the work as registered, not the slot wait it gave up in", () =>
      Effect.gen(function* () {
        const table = lockTable()
        const kind = uniqueKind("waited")
        const limits = { perKind: { [kind]: { cluster: { maxConcurrent: 1 } } } }
        const holder = yield* build(table.session(), limits)
        const waiting = yield* build(table.session(), {
          ...limits,
          onFull: { queue: 4 },
          logFailures: false,
          cluster: { slotRetry: "1 second", slotWait: "2 seconds" }
        })
        const blocker = yield* gate()
        expect(yield* holder.register(auto(kind), blocker.work)).toBe("spawned")
        const c = counter()
        expect(yield* waiting.register(auto(kind), c.work)).toBe("spawned")
        yield* TestTime.adjust("2 seconds")
        expect(yield* waiting.awaitIdle()).toBe(true)
        const [id] = yield* failures(waiting, kind)
        expect(c.runs()).toBe(0)
        yield* blocker.release
        expect(yield* holder.awaitIdle()).toBe(true)

        const slotCalls = () => table.calls.filter((call) => call === `slot ${kind}`).length
        const before = slotCalls()
        expect(yield* waiting.retry!(id!)).toEqual(Option.some("spawned"))
        expect(yield* waiting.awaitIdle()).toBe(true)
        // One slot taken at once (a new claim), and the work ran once, without waiting.
        expect(slotCalls() - before).toBe(1)
        expect(c.runs()).toBe(1)
        expect(yield* failures(waiting, kind)).toEqual([])
        expect(table.held()).toEqual([])
      })
    )

    it.effect(
      "a second retry of one failure while the first is being claimed is deduplicated: the work runs once",
      () =>
        Effect.gen(function* () {
          const table = lockTable()
          const fast = table.session()
          const slow: Offload.OffloadClaims = {
            tryClaim: fast.tryClaim,
            trySlot: (kind, slots) => Effect.andThen(Effect.sleep("1 second"), fast.trySlot(kind, slots))
          }
          const kind = uniqueKind("twice")
          // Auto keys: the store does not deduplicate them, only the retry's own guard does.
          const a = yield* build(slow, { logFailures: false, perKind: { [kind]: { cluster: { maxConcurrent: 2 } } } })
          const { seen, work } = flaky(1)
          const first = yield* Effect.forkChild(
            a.register(auto(kind), work).pipe(Effect.provideService(Tenant, { name: "acme" }))
          )
          yield* TestTime.adjust("1 second")
          expect(yield* Fiber.join(first)).toBe("spawned")
          expect(yield* a.awaitIdle()).toBe(true)
          const [id] = yield* failures(a, kind)

          const retrying = yield* Effect.forkChild(a.retry!(id!))
          yield* flush
          expect(yield* a.retry!(id!)).toEqual(Option.some("deduplicated"))
          yield* TestTime.adjust("1 second")
          expect(yield* Fiber.join(retrying)).toEqual(Option.some("spawned"))
          expect(yield* a.awaitIdle()).toBe(true)
          expect(seen).toEqual(["acme", "acme"])
          expect(yield* failures(a, kind)).toEqual([])
          // The guard is released: the id is simply unknown now.
          expect(yield* a.retry!(id!)).toEqual(Option.none())
        })
    )
  })

  it.effect("checks its own options and leaves the rest to Offload.layer's", () =>
    Effect.gen(function* () {
      const fail = (config: unknown) =>
        Effect.map(
          Effect.exit(
            Layer.build(
              Offload.layerCluster(config as Offload.OffloadClusterConfig).pipe(
                Layer.provide(Layer.succeed(Offload.OffloadClaims, lockTable().session()))
              )
            )
          ),
          (exit) => (Exit.isFailure(exit) ? Option.getOrThrow(Cause.findErrorOption(exit.cause)) : undefined)
        )
      // The value printer words it "number -2" or "-2" depending on core's version: both are read.
      expect(yield* fail({ perKind: { x: { cluster: { maxConcurrent: -2 } } } })).toMatchObject({
        field: "perKind.x.cluster.maxConcurrent",
        reason: expect.stringMatching(/^must be a positive integer, got (number )?-2$/)
      })
      expect(yield* fail({ cluster: { slotWait: "later" } })).toEqual(
        new Offload.InvalidOffloadConfig({
          field: "cluster.slotWait",
          reason: 'must be a duration such as "5 seconds", got "later"'
        })
      )
      expect(yield* fail({ cluster: { retry: 1 } })).toEqual(
        new Offload.InvalidOffloadConfig({ field: "cluster.retry", reason: "is not a known option" })
      )
      expect(yield* fail({ onFull: "wait" })).toMatchObject({ field: "onFull" })
      expect(yield* fail(5)).toMatchObject({ field: "config" })
    })
  )
})
