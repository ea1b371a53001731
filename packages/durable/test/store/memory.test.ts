import { describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { make } from "../../src/internal/store/memory.js"
import { conformance } from "./conformance.js"

/**
 * Scenarios memory.ts (H3's) does not pass yet; each runs as an expected failure and turns red
 * once memory.ts is fixed — then delete its entry here and set `memoryAgrees` in
 * differential.test.ts back to `true`.
 */
const memoryGaps: Readonly<Record<string, string>> = {
  "a claim dead-letters every expired row at maxAttempts, whatever its limit":
    "memory.ts stops dead-lettering once the claim's limit is reached"
}

describe("memory store", () => {
  layer(Layer.empty)((it) => {
    describe("conformance", () => {
      conformance(
        it,
        Effect.sync(() => make()),
        memoryGaps
      )
    })
  })
})
