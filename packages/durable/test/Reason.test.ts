import { describe, expect, it } from "@effect/vitest"
import { Cause, Data } from "effect"
import { reasonOf } from "../src/internal/reason.js"

class Upstream extends Data.TaggedError("Upstream")<{ readonly message: string }> {}
class Bare extends Data.TaggedError("Bare")<{}> {}

describe("reasonOf (a failed attempt's lastError)", () => {
  it("is the failure's own message, one line, at most 500 characters", () => {
    expect(reasonOf(Cause.fail("503 from upstream"))).toBe("503 from upstream")
    expect(reasonOf(Cause.fail(new Error("boom\nstack")))).toBe("Error: boom")
    expect(reasonOf(Cause.fail(new Upstream({ message: "timeout" })))).toBe("Upstream: timeout")
    expect(reasonOf(Cause.fail(new Bare()))).toBe("Bare")
    expect(reasonOf(Cause.fail({ code: 42 }))).toBe('{"code":42}')
    const circular: Record<string, unknown> = {}
    circular["self"] = circular
    expect(reasonOf(Cause.fail(circular))).toBe("[object Object]")
    expect(reasonOf(Cause.fail("x".repeat(600)))).toBe(`${"x".repeat(500)}…`)
  })

  it("names a defect and an interruption", () => {
    expect(reasonOf(Cause.die(new TypeError("undefined is not a function")))).toBe(
      "defect: TypeError: undefined is not a function"
    )
    expect(reasonOf(Cause.interrupt())).toBe("interrupted")
  })
})
