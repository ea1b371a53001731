/**
 * The README's first program (`src/docs/readme-first-program.ts`) under the TestClock: what it
 * logs, in order, and when it ends. The README quotes the file (checked with the docs pages) and
 * shows these lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { TestTime } from "@fibervisor/vitest"
import { Clock, Effect, Fiber, Logger } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as readme from "../src/docs/readme-first-program.js"

describe("README: a first program", () => {
  it.effect("restarts the worker twice, shows progress and ends after 1.35 s", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      // As Effect's default logger writes a line, without its timestamp, fiber id and annotations.
      const logger = Logger.make(({ logLevel, message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        lines.push(`${logLevel.toUpperCase()}: ${text}`)
      })
      const fiber = yield* Effect.forkChild(
        readme.program.pipe(
          Effect.tap(Effect.flatMap(Clock.currentTimeMillis, (ms) => Effect.sync(() => lines.push(`at ${ms}`)))),
          Effect.provide(Logger.layer([logger]))
        )
      )
      yield* TestTime.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("Completed")
      expect(lines).toEqual([
        "INFO: alive",
        "INFO: connecting (attempt 1)",
        'WARN: task "root/worker" attempt 1 failed: broker connection lost; next attempt in 100 ms',
        "INFO: connecting (attempt 2)",
        'WARN: task "root/worker" attempt 2 failed: broker connection lost; next attempt in 200 ms',
        "INFO: connecting (attempt 3)",
        "INFO: batch 1 of 3 consumed",
        "INFO: alive",
        "INFO: batch 2 of 3 consumed",
        "INFO: batch 3 of 3 consumed",
        "INFO: worker: Completed",
        "at 1350"
      ])
      // The README shows the same lines.
      const shown = fs.readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
      expect(shown).toContain(lines.slice(0, -1).join("\n"))
    })
  )
})
