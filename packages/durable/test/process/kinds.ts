/**
 * The kinds the fixture workers run and the tests enqueue, declared once for both sides.
 *
 * The payload says how long the handler works (`ms`; on the worker named `slowOn`, up to `slowMs`
 * instead, ended early when the test opens the key's gate — so a scenario can make one worker hold
 * a job, and let it go, while the others run it quickly) and whether it
 * fails (`fail`: every attempt fails, so the job is dead-lettered after `maxAttempts`). `work` allows 3 attempts with a short
 * fixed retry delay; `once` allows 1 (a killed attempt is dead-lettered when its lease expires).
 * The per-attempt timeout is far above any handler's duration: a timeout is not what these
 * scenarios test (the TestClock suites do).
 */
import { Schedule, Schema } from "effect"
import { DurableOffload } from "../../src/index.js"

export const Payload = Schema.Struct({
  key: Schema.String,
  ms: Schema.Number,
  fail: Schema.Boolean,
  slowOn: Schema.String,
  slowMs: Schema.Number
})
export type Payload = typeof Payload.Type

export const kinds = (concurrency: number) => ({
  work: DurableOffload.kind("work", {
    payload: Payload,
    key: (p: Payload) => p.key,
    maxAttempts: 3,
    retry: Schedule.spaced("200 millis"),
    timeout: "120 seconds",
    concurrency
  }),
  once: DurableOffload.kind("once", {
    payload: Payload,
    key: (p: Payload) => p.key,
    maxAttempts: 1,
    retry: Schedule.spaced("200 millis"),
    timeout: "120 seconds",
    concurrency
  })
})

export type KindName = "work" | "once"

export const maxAttemptsOf: Record<KindName, number> = { work: 3, once: 1 }
