import { describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { make } from "../../src/internal/store/memory.js"
import { conformance } from "./conformance.js"

describe("memory store", () => {
  layer(Layer.empty)((it) => {
    describe("conformance", () => {
      conformance(
        it,
        Effect.sync(() => make())
      )
    })
  })
})
