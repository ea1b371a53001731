/**
 * The README's first program (`src/docs/readme-first-program.ts`) under the TestClock: what it
 * logs, in order, and when it ends. The README quotes the file (checked with the docs pages) and
 * shows these lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Logger, TestClock } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as readme from "../src/docs/readme-first-program.js"

describe("README: a first program", () => {
  it.effect("restarts the worker twice, shows progress and ends after 1.35 s", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        const text = Array.isArray(message) ? message.join(" ") : String(message)
        lines.push(/\s/.test(text) ? `message="${text}"` : `message=${text}`)
      })
      const fiber = yield* Effect.fork(
        readme.program.pipe(
          Effect.zipLeft(Effect.flatMap(Clock.currentTimeMillis, (ms) => Effect.sync(() => lines.push(`at ${ms}`)))),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("Completed")
      expect(lines).toEqual([
        "message=alive",
        'message="connecting (attempt 1)"',
        'message="connecting (attempt 2)"',
        'message="connecting (attempt 3)"',
        'message="batch 1 of 3 consumed"',
        "message=alive",
        'message="batch 2 of 3 consumed"',
        'message="batch 3 of 3 consumed"',
        'message="worker: Completed"',
        "at 1350"
      ])
      // The README shows the same lines (the logger's level and fiber left out).
      const shown = fs.readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8")
      expect(shown).toContain(
        lines
          .slice(0, -1)
          .map((line) => `level=INFO ${line}`)
          .join("\n")
      )
    })
  )
})
