/**
 * `POST /api/actions` with `{ action: "retry", kind, id }`: a recent failure of offloaded work is
 * registered again (200, `outcome` says what admission decided), 404 for an id not in the kind's
 * recent failures, 400 for a bad retry body — each audited as `OperatorActionRequested` — and
 * the same token / Origin checks as every action. The snapshot's recent failures carry the id.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Option } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { act, audits, get, jsonOf, start, type Started, token, uniqueRoot, until } from "./dashboardHelpers.js"

/** The recent failures of `kind`, as the snapshot shows them. */
const failuresOf = (started: Started, kind: string) =>
  Effect.map(
    get(started, "/api/snapshot"),
    (reply) =>
      (
        (jsonOf(reply).offload?.kinds ?? []) as ReadonlyArray<{ kind: string; recentFailures: Array<{ id: string }> }>
      ).find((k) => k.kind === kind)?.recentFailures ?? []
  )

describe("Dashboard: retry failed offloaded work", () => {
  it.live("200: the failure's work runs again and leaves the list; audited done; 404 once it is gone", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("retry-ok"), { token }, { offload: { logFailures: false } })
      const audit = yield* audits(started.sup)
      let runs = 0
      yield* started.offload!.spawn(
        "mail",
        Effect.suspend(() => (++runs === 1 ? Effect.fail("smtp down") : Effect.void))
      )
      const [failure] = yield* until("the failure", failuresOf(started, "mail"), (list) => list.length === 1)
      expect(failure!.id).toMatch(/^f\d+$/)
      const reply = yield* act(started, { action: "retry", kind: "mail", id: failure!.id })
      expect(reply.status, reply.text).toBe(200)
      expect(jsonOf(reply)).toEqual({
        ok: true,
        action: "retry",
        kind: "mail",
        id: failure!.id,
        outcome: "spawned",
        done: true
      })
      yield* until(
        "the second run",
        Effect.sync(() => runs),
        (n) => n === 2
      )
      expect(yield* failuresOf(started, "mail")).toEqual([])
      expect(yield* audit.next).toMatchObject({
        action: "retry",
        path: `offload:mail#${failure!.id}`,
        outcome: "done",
        source: "dashboard"
      })
      const again = yield* act(started, { action: "retry", kind: "mail", id: failure!.id })
      expect(again.status).toBe(404)
      expect(jsonOf(again)).toEqual({
        ok: false,
        error: `no recent failure ${JSON.stringify(failure!.id)} of offload kind "mail"`
      })
      expect(yield* audit.next).toMatchObject({ action: "retry", outcome: "not-found" })
    })
  )

  it.live("on Offload.layerCluster: the failure's key is claimed again before the work runs", () =>
    Effect.gen(function* () {
      const claimed: Array<string> = []
      const claims: Offload.OffloadClaims = {
        tryClaim: (kind, key) =>
          Effect.sync(() => {
            claimed.push(`${kind}:${key}`)
            return Option.some({ release: Effect.void })
          }),
        trySlot: () => Effect.succeed(Option.some({ release: Effect.void }))
      }
      const offloadLayer = Offload.layerCluster({ logFailures: false }).pipe(
        Layer.provide(Layer.succeed(Offload.OffloadClaims, claims)),
        Layer.orDie
      )
      const started = yield* start(uniqueRoot("retry-cluster"), { token }, { offloadLayer })
      let runs = 0
      const outcome = yield* started.offload!.register(
        OffloadKey.keyed("user:1", "mail"),
        Effect.suspend(() => (++runs === 1 ? Effect.fail("smtp down") : Effect.void))
      )
      expect(outcome).toBe("spawned")
      const [failure] = yield* until("the failure", failuresOf(started, "mail"), (list) => list.length === 1)
      const reply = yield* act(started, { action: "retry", kind: "mail", id: failure!.id })
      expect(reply.status, reply.text).toBe(200)
      expect(jsonOf(reply)).toMatchObject({ outcome: "spawned", done: true })
      yield* until(
        "the second run",
        Effect.sync(() => runs),
        (n) => n === 2
      )
      expect(claimed).toEqual(["mail:user:1", "mail:user:1"])
      expect(yield* failuresOf(started, "mail")).toEqual([])
    })
  )

  it.live("404 for an unknown id, an id of another kind, or without an Offload service", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("retry-404"), { token }, { offload: { logFailures: false } })
      const audit = yield* audits(started.sup)
      yield* started.offload!.spawn("mail", Effect.fail("boom"))
      const [failure] = yield* until("the failure", failuresOf(started, "mail"), (list) => list.length === 1)
      for (const body of [
        { action: "retry", kind: "mail", id: "f999" },
        { action: "retry", kind: "other", id: failure!.id }
      ]) {
        const reply = yield* act(started, body)
        expect(reply.status, JSON.stringify(body)).toBe(404)
        expect(yield* audit.next).toMatchObject({ action: "retry", outcome: "not-found" })
      }
      expect(yield* failuresOf(started, "mail")).toHaveLength(1)
      const bare = yield* start(uniqueRoot("retry-none"), { token })
      expect((yield* act(bare, { action: "retry", kind: "mail", id: "f1" })).status).toBe(404)
    })
  )

  it.live("declined (200, done: false) while the same key runs: the failure stays retryable", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("retry-dedup"), { token }, { offload: { logFailures: false } })
      const audit = yield* audits(started.sup)
      const offload = started.offload!
      const key = OffloadKey.keyed("user-1", "sync")
      yield* offload.register(key, Effect.fail("boom"))
      const [failure] = yield* until("the failure", failuresOf(started, "sync"), (list) => list.length === 1)
      const hold = yield* Deferred.make<void>()
      yield* offload.register(key, Deferred.await(hold))
      const reply = yield* act(started, { action: "retry", kind: "sync", id: failure!.id })
      expect(reply.status).toBe(200)
      expect(jsonOf(reply)).toMatchObject({ ok: true, outcome: "deduplicated", done: false })
      expect(yield* audit.next).toMatchObject({ action: "retry", outcome: "declined" })
      expect(yield* failuresOf(started, "sync")).toHaveLength(1)
      yield* Deferred.succeed(hold, undefined)
    })
  )

  it.live("the same checks as every action: 401 without the token, 403 cross-origin, 400 for a bad body", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("retry-refused"), { token }, { offload: { logFailures: false } })
      const audit = yield* audits(started.sup)
      yield* started.offload!.spawn("mail", Effect.fail("boom"))
      const [failure] = yield* until("the failure", failuresOf(started, "mail"), (list) => list.length === 1)
      const body = { action: "retry", kind: "mail", id: failure!.id }
      expect((yield* act(started, body, { authorization: null })).status).toBe(401)
      expect(yield* audit.next).toMatchObject({ outcome: "refused" })
      expect((yield* act(started, body, { origin: "http://evil.example" })).status).toBe(403)
      expect(yield* audit.next).toMatchObject({ outcome: "refused" })
      for (const [bad, error] of [
        [{ ...body, path: "x" }, 'unknown key "path" (a retry has action, kind and id)'],
        [{ action: "retry", id: failure!.id }, "kind must be a non-empty string (an offload kind)"],
        [{ action: "retry", kind: "mail", id: 3 }, "id must be a non-empty string (a recent failure's id)"],
        [{ action: "retry", kind: "mail" }, "id must be a non-empty string (a recent failure's id)"]
      ] as const) {
        const reply = yield* act(started, bad)
        expect(reply.status, JSON.stringify(bad)).toBe(400)
        expect(jsonOf(reply)).toEqual({ ok: false, error })
        expect(yield* audit.next).toMatchObject({ action: "retry", outcome: "refused", reason: error })
      }
      // Nothing was retried.
      expect(yield* failuresOf(started, "mail")).toHaveLength(1)
    })
  )
})
