/**
 * Counterexamples the model-based property tests (SupervisorModel.test.ts) found, shrunk and kept
 * as ordinary tests: each replays its command list under TestClock and compares the supervisor
 * with the model after every step (and every timer instant of an advance), as the property does.
 * A failure names the step and prints the fields that differ.
 */
import { describe, it } from "@effect/vitest"
import { TestTime } from "@fibervisor/vitest"
import { type Driver, runScenario } from "./commands.js"
import type { Spec } from "./model.js"

const testClock: Driver = { flush: TestTime.adjust(0), advance: (ms) => TestTime.adjust(ms) }

const hangs: Spec = { restart: "never", backoff: "const:100", program: ["hang"] }

describe("Regressions", () => {
  // `list` is "sorted by id" (Supervisor.ts). A queued submission keeps the id it got at
  // `submit`; it used to be listed in spawn order, after a task added later (here: c before b after
  // step 4). Found with seed 42, shrunk; fixed in a166ac4 ("list in id order").
  it.effect("list is sorted by id when a queued submission starts after a later add", () =>
    runScenario(
      {
        grace: 200,
        maxSlotQueue: 1,
        commands: [
          { op: "submit", name: "a", slot: "x", admission: "queue", spec: hangs },
          { op: "submit", name: "b", slot: "x", admission: "queue", spec: hangs },
          { op: "add", name: "c", spec: hangs },
          { op: "remove", ref: "a" }
        ]
      },
      testClock
    )
  )

  // `TaskInfo.nextAttemptAt` is set "while backing-off" (events-and-outcomes.md). Under
  // `maxConcurrent`, a task whose backoff had ended and that waited for a permit (`waiting`) used to
  // keep reporting the instant its backoff ended (140 here, at 140 ms and after). Found with seed 42
  // once maxConcurrent was generated, shrunk and simplified; fixed in a166ac4.
  it.effect("nextAttemptAt is none while a task waits for a permit after its backoff", () =>
    runScenario(
      {
        grace: 200,
        maxSlotQueue: 0,
        maxConcurrent: 1,
        commands: [
          { op: "add", name: "a", spec: { restart: "onFailure", backoff: "const:100", program: ["fail:40"] } },
          { op: "add", name: "b", spec: hangs },
          { op: "advance", ms: 250 }
        ]
      },
      testClock
    )
  )
})
