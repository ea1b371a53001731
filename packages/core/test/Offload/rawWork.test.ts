/**
 * A job without a timeout runs its work as it is, and the job's exit observer reads how it ended
 * (`offload.ts`, `Job.raw`): these pin that reading against what the work did and who stopped it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Offload, OffloadKey } from "@fibervisor/core"
import { captureLogs, counts, delta, gate, uniqueKind } from "../helpers/offload.js"

const make = (config: Offload.OffloadConfig = {}) => Offload.make({ grace: 0, ...config })

const endsAs = (
  work: Effect.Effect<void, unknown>,
  stop: boolean,
  wrap: (gated: Effect.Effect<void, unknown>) => Effect.Effect<void, unknown> = (gated) => gated
) =>
  Effect.gen(function* () {
    const offload = yield* make()
    const kind = uniqueKind("raw")
    const logs = captureLogs()
    const g = yield* gate(work)
    const before = yield* counts(kind)
    const key = OffloadKey.keyed("k", kind)
    expect(yield* offload.register(key, wrap(g.work)).pipe(Effect.provide(logs.layer))).toBe("spawned")
    yield* Deferred.await(g.started)
    if (stop) expect(yield* offload.cancel(key)).toBe(true)
    else yield* g.release
    expect(yield* offload.awaitIdle()).toBe(true)
    const summary = (yield* offload.summary!).kinds.find((k) => k.kind === kind)!
    return {
      counts: delta(before, yield* counts(kind)),
      failed: summary.failed,
      reasons: summary.recentFailures.map((f) => f.reason),
      lines: logs.lines.map((l) => l.message)
    }
  })

describe("Offload: how work run as it is ended", () => {
  it.effect("success: completed", () =>
    Effect.gen(function* () {
      const seen = yield* endsAs(Effect.void, false)
      expect([seen.counts.completed, seen.counts.failed, seen.counts.interrupted]).toEqual([1, 0, 0])
      expect(seen.lines).toEqual([])
    })
  )

  it.effect("a failure: failed, described once for the log line and the summary", () =>
    Effect.gen(function* () {
      const seen = yield* endsAs(Effect.fail("boom"), false)
      expect([seen.counts.completed, seen.counts.failed, seen.counts.interrupted]).toEqual([0, 1, 0])
      expect(seen.failed).toBe(1)
      expect(seen.lines).toEqual([`offloaded work failed: ${seen.reasons[0]}`])
    })
  )

  it.effect("work that interrupts itself (nobody stopped it) failed: it is not counted interrupted", () =>
    Effect.gen(function* () {
      const seen = yield* endsAs(Effect.interrupt, false)
      expect([seen.counts.completed, seen.counts.failed, seen.counts.interrupted]).toEqual([0, 1, 0])
      expect(seen.lines.length).toBe(1)
    })
  )

  it.effect("cancelled: interrupted, not failed, and nothing logged", () =>
    Effect.gen(function* () {
      const seen = yield* endsAs(Effect.never, true)
      expect([seen.counts.completed, seen.counts.failed, seen.counts.interrupted]).toEqual([0, 0, 1])
      expect(seen.failed).toBe(0)
      expect(seen.lines).toEqual([])
    })
  )

  it.effect("cancelled while a finalizer dies: interrupted, and the failure is logged as such", () =>
    Effect.gen(function* () {
      const seen = yield* endsAs(Effect.never, true, (gated) => Effect.ensuring(gated, Effect.die("finalizer")))
      expect([seen.counts.completed, seen.counts.failed, seen.counts.interrupted]).toEqual([0, 0, 1])
      expect(seen.lines.length).toBe(1)
      expect(seen.lines[0]).toContain("offloaded work failed while being interrupted")
    })
  )
})
