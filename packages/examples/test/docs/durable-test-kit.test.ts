import { describe, expect, it } from "@effect/vitest"
import { DurableOffload } from "@fibervisor/durable"
import { TestTime } from "@fibervisor/vitest"
import * as TestDurableOffload from "@fibervisor/vitest/TestDurableOffload"
import { Clock, Effect, Exit, Schema } from "effect"

// The code under test: signing up enqueues a welcome email, one per address, ever.
const Welcome = DurableOffload.kind("welcome-email", {
  payload: Schema.Struct({ to: Schema.String, signedUpAt: Schema.Date }),
  key: (p) => p.to,
  dedupe: "ever"
})

const signUp = (to: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    DurableOffload.enqueue(Welcome, { to, signedUpAt: new Date(now) }, { delay: "1 minute" })
  )

describe("signing up enqueues a welcome email", () => {
  const sent: Array<string> = []
  // The handlers runAll runs. Kinds, options, keys and payloads are checked as the real layer does.
  const kit = TestDurableOffload.layer([Welcome.handle(({ to }) => Effect.sync(() => sent.push(to)))])

  it.effect("records the job; runAll runs it once it is due on the test clock", () =>
    Effect.gen(function* () {
      expect(yield* signUp("ada@example.com")).toBe("enqueued")
      expect(yield* signUp("ada@example.com")).toBe("deduplicated") // dedupe: "ever"

      const [entry] = yield* TestDurableOffload.entries
      expect(entry).toMatchObject({ kind: "welcome-email", key: "ada@example.com", status: "pending" })
      expect(entry!.payload).toEqual({ to: "ada@example.com", signedUpAt: new Date(0) }) // after a JSON round trip
      expect(yield* TestDurableOffload.runAll).toEqual([]) // not due: enqueued with a 1 minute delay

      yield* TestTime.adjust("1 minute")
      expect((yield* TestDurableOffload.runAll).map(Exit.isSuccess)).toEqual([true])
      expect(sent).toEqual(["ada@example.com"])
      expect(yield* DurableOffload.counts(Welcome)).toMatchObject({ completed: 1, pending: 0 })
    }).pipe(Effect.provide(kit))
  )
})
