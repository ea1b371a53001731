/**
 * The invariant checker of the real-process tests, on hand-made observations: each invariant
 * accepts what the store and workers should do and names each way of breaking it, so a scenario
 * that breaks one cannot pass unseen.
 */
import { describe, expect, it } from "@effect/vitest"
import { check, type Expected, type Final, jobId, type Observed, type SignalRecord } from "./invariants.js"
import type { Run } from "./runLog.js"

const A = 101
const B = 202

const run = (over: Partial<Run> & Pick<Run, "key" | "startedAt">): Run => ({
  kind: "work",
  attempt: 1,
  worker: over.pid === B ? "b" : "a",
  pid: A,
  finishedAt: over.startedAt + 100,
  outcome: "completed",
  ...over
})

const job = (key: string, over: Partial<Expected> = {}): Expected => ({
  kind: "work",
  key,
  maxAttempts: 3,
  outcome: "completed",
  ...over
})

const observe = (input: {
  readonly expected: ReadonlyArray<Expected>
  readonly finals: Record<string, Final | undefined>
  readonly runs: ReadonlyArray<Run>
  readonly signals?: ReadonlyArray<SignalRecord>
  readonly exits?: ReadonlyArray<readonly [number, number]>
}): Observed => ({
  expected: input.expected,
  finals: new Map(Object.entries(input.finals).map(([key, final]) => [jobId("work", key), final])),
  runs: input.runs,
  signals: input.signals ?? [],
  exits: new Map(input.exits ?? []),
  graceMs: 1000,
  concurrencyOf: new Map([
    [A, 1],
    [B, 1]
  ]),
  now: 1_000_000
})

describe("check", () => {
  it("a clean run of two keys passes", () => {
    const verdict = check(
      observe({
        expected: [job("k1"), job("k2")],
        finals: { k1: { status: "completed", attempts: 1 }, k2: { status: "completed", attempts: 1 } },
        runs: [run({ key: "k1", startedAt: 0 }), run({ key: "k2", startedAt: 10, pid: B })]
      })
    )
    expect(verdict.violations).toEqual([])
    expect(verdict.runs).toBe(2)
  })

  it("I4: a key with no row, or left pending, is lost", () => {
    const verdict = check(
      observe({
        expected: [job("k1"), job("k2")],
        finals: { k1: undefined, k2: { status: "pending", attempts: 0 } },
        runs: []
      })
    )
    expect(verdict.violations).toEqual([
      "work/k1: no row in the store (lost)",
      "work/k2: ended pending, expected completed"
    ])
  })

  it("I5: two runs of a key at once is a violation; after a kill it is not", () => {
    const overlapping = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 2 } },
        runs: [
          run({ key: "k1", startedAt: 0, finishedAt: 500 }),
          run({ key: "k1", startedAt: 300, pid: B, attempt: 2 })
        ]
      })
    )
    expect(overlapping.violations).toEqual([
      "work/k1: b(pid 202) attempt 2 [completed] started while a(pid 101) attempt 1 [completed] was running"
    ])
    const afterKill = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 2 } },
        runs: [
          run({ key: "k1", startedAt: 0, finishedAt: null, outcome: "running" }),
          run({ key: "k1", startedAt: 2300, pid: B, attempt: 2 })
        ],
        signals: [{ pid: A, signal: "SIGKILL", at: 200 }],
        exits: [[A, 250]]
      })
    )
    expect(afterKill.violations).toEqual([])
  })

  it("I5: a run started before the kill of the process holding the key overlaps it", () => {
    const verdict = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 2 } },
        runs: [
          run({ key: "k1", startedAt: 0, finishedAt: null, outcome: "running" }),
          run({ key: "k1", startedAt: 100, pid: B, attempt: 2 })
        ],
        signals: [{ pid: A, signal: "SIGKILL", at: 200 }]
      })
    )
    expect(verdict.violations).toHaveLength(1)
  })

  it("I5: an overlap while the first process is paused is reported as a lease overlap", () => {
    const verdict = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 2 } },
        runs: [
          run({ key: "k1", startedAt: 0, finishedAt: 6000 }),
          run({ key: "k1", startedAt: 2500, pid: B, attempt: 2 })
        ],
        signals: [
          { pid: A, signal: "SIGSTOP", at: 100 },
          { pid: A, signal: "SIGCONT", at: 5000 }
        ]
      })
    )
    expect(verdict.violations).toEqual([])
    expect(verdict.leaseOverlaps).toEqual([
      { key: "work/k1", first: { pid: A, attempt: 1 }, second: { pid: B, attempt: 2 }, afterPauseMs: 2400 }
    ])
  })

  it("attempts: the store's count must equal the counted runs, numbered in order", () => {
    const verdict = check(
      observe({
        expected: [job("k1"), job("k2")],
        finals: { k1: { status: "completed", attempts: 2 }, k2: { status: "completed", attempts: 1 } },
        runs: [run({ key: "k1", startedAt: 0 }), run({ key: "k2", startedAt: 0, attempt: 2 })]
      })
    )
    expect(verdict.violations).toEqual([
      "work/k1: the store counted 2 attempt(s), the workers ran 1 counted run(s): a(pid 101) attempt 1 [completed]",
      "work/k2: a(pid 101) attempt 2 [completed] should carry attempt 1"
    ])
  })

  it("attempts: an attempt claimed by a worker killed before it logged is allowed only after a SIGKILL", () => {
    const runs = [run({ key: "k1", startedAt: 3000, pid: B, attempt: 2 })]
    const finals = { k1: { status: "completed" as const, attempts: 2 } }
    const killed = check(
      observe({
        expected: [job("k1")],
        finals,
        runs,
        signals: [{ pid: A, signal: "SIGKILL", at: 500 }],
        exits: [[A, 600]]
      })
    )
    expect(killed.violations).toEqual([])
    expect(killed.unloggedAttempts).toEqual([{ key: "work/k1", attempts: 1 }])
    expect(check(observe({ expected: [job("k1")], finals, runs })).violations).toEqual([
      "work/k1: b(pid 202) attempt 2 [completed] should carry attempt 1",
      "work/k1: the store counted 2 attempt(s), the workers ran 1 counted run(s): b(pid 202) attempt 2 [completed]"
    ])
    // The kill came after the run that skipped an attempt: no excuse.
    expect(
      check(
        observe({
          expected: [job("k1")],
          finals,
          runs,
          signals: [{ pid: A, signal: "SIGKILL", at: 4000 }],
          exits: [[A, 4100]]
        })
      ).violations
    ).toHaveLength(1)
    // A `once` job whose only attempt was claimed by the killed worker: dead-lettered, no run.
    const deadOnExpiry = check(
      observe({
        expected: [job("k1", { maxAttempts: 1, outcome: "failed" })],
        finals: { k1: { status: "failed", attempts: 1 } },
        runs: [],
        signals: [{ pid: A, signal: "SIGKILL", at: 500 }],
        exits: [[A, 600]]
      })
    )
    expect(deadOnExpiry.violations).toEqual([])
    expect(deadOnExpiry.unloggedAttempts).toEqual([{ key: "work/k1", attempts: 1 }])
  })

  it("attempts: a released (interrupted) run is not counted and its number is used again", () => {
    const released = [
      run({ key: "k1", startedAt: 0, finishedAt: 1500, outcome: "interrupted" }),
      run({ key: "k1", startedAt: 2000, pid: B })
    ]
    const signals: ReadonlyArray<SignalRecord> = [{ pid: A, signal: "SIGTERM", at: 400 }]
    const ok = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 1 } },
        runs: released,
        signals,
        exits: [[A, 1600]]
      })
    )
    expect(ok.violations).toEqual([])
    expect(ok.drains).toEqual([{ pid: A, ms: 1200, startedAfter: 0 }])
    const counted = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 2 } },
        runs: released,
        signals,
        exits: [[A, 1600]]
      })
    )
    expect(counted.violations).toHaveLength(1)
  })

  it("attempts: an interruption without a SIGTERM (not a release) is counted", () => {
    const verdict = check(
      observe({
        expected: [job("k1")],
        finals: { k1: { status: "completed", attempts: 1 } },
        runs: [
          run({ key: "k1", startedAt: 0, finishedAt: 1500, outcome: "interrupted" }),
          run({ key: "k1", startedAt: 2000, pid: B })
        ]
      })
    )
    expect(verdict.violations).toEqual([
      "work/k1: b(pid 202) attempt 1 [completed] should carry attempt 2",
      "work/k1: the store counted 1 attempt(s), the workers ran 2 counted run(s): a(pid 101) attempt 1 [interrupted], b(pid 202) attempt 1 [completed]"
    ])
  })

  it("dead letters: failed after exactly maxAttempts", () => {
    const failing = (n: number) =>
      Array.from({ length: n }, (_, i) => run({ key: "k1", startedAt: i * 200, attempt: i + 1, outcome: "failed" }))
    const ok = check(
      observe({
        expected: [job("k1", { outcome: "failed" })],
        finals: { k1: { status: "failed", attempts: 3 } },
        runs: failing(3)
      })
    )
    expect(ok.violations).toEqual([])
    const early = check(
      observe({
        expected: [job("k1", { outcome: "failed" })],
        finals: { k1: { status: "failed", attempts: 2 } },
        runs: failing(2)
      })
    )
    expect(early.violations).toEqual(["work/k1: dead-lettered after 2 attempt(s), maxAttempts is 3"])
  })

  it("I7: no exit, a run never ended, an interruption before the grace", () => {
    const signals: ReadonlyArray<SignalRecord> = [
      { pid: A, signal: "SIGTERM", at: 1000 },
      { pid: B, signal: "SIGTERM", at: 1000 }
    ]
    const verdict = check(
      observe({
        expected: [job("k2"), job("k3")],
        finals: {
          k2: { status: "completed", attempts: 1 },
          k3: { status: "completed", attempts: 0 }
        },
        runs: [
          run({ key: "k2", startedAt: 500, finishedAt: null, outcome: "running" }),
          run({ key: "k3", startedAt: 500, finishedAt: 1500, outcome: "interrupted" })
        ],
        signals,
        exits: [[A, 3000]]
      })
    )
    expect(verdict.violations).toEqual([
      "work/k2: a(pid 101) attempt 1 [running] in flight at the SIGTERM never ended",
      "work/k3: a(pid 101) attempt 1 [interrupted] interrupted 500 ms after the SIGTERM, before the 1000 ms grace",
      "pid 202: did not exit after SIGTERM"
    ])
  })

  it("I7: one claim's worth of runs may start after SIGTERM (a claim in flight); more means claiming went on", () => {
    const signals: ReadonlyArray<SignalRecord> = [{ pid: A, signal: "SIGTERM", at: 1000 }]
    const afterSignal = (keys: ReadonlyArray<string>) =>
      check(
        observe({
          expected: keys.map((key) => job(key)),
          finals: Object.fromEntries(keys.map((key) => [key, { status: "completed" as const, attempts: 1 }])),
          runs: keys.map((key, i) => run({ key, startedAt: 1100 + i * 200 })),
          signals,
          exits: [[A, 2000]]
        })
      )
    const one = afterSignal(["k1"])
    expect(one.violations).toEqual([])
    expect(one.drains).toEqual([{ pid: A, ms: 1000, startedAfter: 1 }])
    expect(afterSignal(["k1", "k2"]).violations).toEqual([
      "pid 101: 2 runs of work started after the SIGTERM, more than one claim's 1 (claiming went on)"
    ])
  })
})
