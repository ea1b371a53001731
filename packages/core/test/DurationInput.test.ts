import { describe, expect, it } from "@effect/vitest"
import { Duration, Option } from "effect"
import { DurationInput } from "@fibervisor/core"

describe("DurationInput: the duration facts every package shares", () => {
  it("maxTimerMs is what one Node timer holds", () => {
    expect(DurationInput.maxTimerMs).toBe(2_147_483_647)
  })

  it("stringPattern accepts what Effect's parser accepts, and nothing it refuses", () => {
    for (const input of ["5 seconds", "1 nano", "1.5 millis", "-3 weeks", "2 days"]) {
      expect(DurationInput.stringPattern.test(input)).toBe(true)
      expect(Option.isSome(Duration.fromInput(input as Duration.Input))).toBe(true)
    }
    for (const input of ["5", "5seconds", "1e3 millis", "5 fortnights", " 5 seconds"]) {
      expect(DurationInput.stringPattern.test(input)).toBe(false)
    }
  })

  it("objectFields are a DurationObject's fields: each one decodes", () => {
    expect(DurationInput.objectFields).toHaveLength(8)
    for (const field of DurationInput.objectFields) {
      expect(Duration.toMillis(Duration.fromInputUnsafe({ [field]: 1 }))).toBeGreaterThan(0)
    }
  })
})
