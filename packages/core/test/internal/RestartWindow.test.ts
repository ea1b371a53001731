/**
 * `RestartWindow` (src/internal/supervisor/intensity.ts) alone: the sliding window behind a
 * supervisor's `intensity`, driven with plain instants (OTP's `add_restart/3` cases). The
 * supervisor-level behaviour (which restarts count, what fails) is in test/tree/intensity.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { RestartWindow } from "../../src/internal/supervisor/intensity.js"

/** Records each instant in turn; the verdicts, in order. */
const verdicts = (window: RestartWindow, instants: ReadonlyArray<number>): Array<boolean> =>
  instants.map((now) => window.record(now))

describe("RestartWindow", () => {
  it("allows maxRestarts restarts within the window and refuses the next one", () => {
    const window = new RestartWindow(3, 1_000)
    expect(verdicts(window, [0, 10, 20, 30])).toEqual([true, true, true, false])
  })

  it("counts the restart before the check: maxRestarts 0 refuses the first restart", () => {
    expect(new RestartWindow(0, 1_000).record(0)).toBe(false)
  })

  it("forgets a restart once withinMs have passed since it (exactly withinMs old is out)", () => {
    const window = new RestartWindow(1, 100)
    expect(verdicts(window, [0, 99])).toEqual([true, false])
    const fresh = new RestartWindow(1, 100)
    expect(verdicts(fresh, [0, 100])).toEqual([true, true])
    expect(fresh.size).toBe(1)
  })

  it("slides: old restarts leave as time passes, so a steady rate below the limit never trips", () => {
    const window = new RestartWindow(2, 1_000)
    // One restart every 500 ms: at most two are ever inside a 1 s window.
    expect(verdicts(window, [0, 500, 1_000, 1_500, 2_000, 2_500])).toEqual([true, true, true, true, true, true])
    expect(window.size).toBe(2)
  })

  it("a refused restart stays counted: the window must drain before the next one is allowed", () => {
    const window = new RestartWindow(1, 100)
    // 120: the restart at 0 has left, but the refused one at 50 is still inside.
    expect(verdicts(window, [0, 50, 120, 150])).toEqual([true, false, false, false])
    // 250: every earlier restart, the refused ones included, has left the window.
    expect(window.record(250)).toBe(true)
  })

  it("many restarts in one instant all count", () => {
    const window = new RestartWindow(5, 10)
    expect(
      verdicts(
        window,
        Array.from({ length: 7 }, () => 42)
      )
    ).toEqual([true, true, true, true, true, false, false])
    // Out of the window once 10 ms have passed.
    expect(window.record(52)).toBe(true)
    expect(window.size).toBe(1)
  })

  it("withinMs 0 keeps nothing: every restart is allowed", () => {
    const window = new RestartWindow(0, 0)
    // `now - now >= 0`: the restart just recorded leaves at once.
    expect(verdicts(window, [0, 0, 1])).toEqual([true, true, true])
  })
})
