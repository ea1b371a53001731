/**
 * `pnpm demo --replicas 3` (src/demo/replicas.ts): run for real as a child process (not a TTY, so
 * one line per change) on the embedded SQLite, no external service. The owner is SIGKILLed at 40%
 * of the run; another replica must take the singleton with a higher epoch (the hand-off), and the
 * graceful stop at the end must hand it off again. Also the `--replicas` flag's bounds.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { parseArgs } from "../src/demo/args.js"

const examples = fileURLToPath(new URL("..", import.meta.url))

const runDemo = (args: ReadonlyArray<string>, timeoutMs: number) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", "src/demo.ts", ...args],
      { cwd: examples, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the demo did not end within ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

describe("demo --replicas", () => {
  it(
    "three replicas: the owner is killed, another takes over with a higher epoch; the stop hands off again",
    { timeout: 180_000 },
    async () => {
      const run = await runDemo(["--replicas", "3", "--duration", "6s"], 170_000)
      const lines = run.stdout.split("\n")
      const context = `${run.stdout}\n${run.stderr}`
      expect(run.code, context).toBe(0)
      const acquired = lines.flatMap((line) => {
        const match = /(r\d) acquired billing, epoch (\d+)/.exec(line)
        return match === null ? [] : [{ runner: match[1]!, epoch: Number(match[2]) }]
      })
      const killed = /killed (r\d), the owner of epoch (\d+)/.exec(run.stdout)
      expect(killed, context).not.toBeNull()
      // Epochs strictly increase across owners, and the first owner after the crash is another replica.
      expect(
        acquired.map((a) => a.epoch),
        context
      ).toEqual(acquired.map((_, i) => i + 1))
      const afterCrash = acquired.find((a) => a.epoch === Number(killed![2]) + 1)
      expect(afterCrash?.runner, context).toBeDefined()
      expect(afterCrash?.runner).not.toBe(killed![1])
      expect(run.stdout).toMatch(
        new RegExp(
          `${afterCrash!.runner} acquired billing, epoch ${afterCrash!.epoch} — hand-off [\\d.]+ s after ${killed![1]} crashed`
        )
      )
      expect(run.stdout).toMatch(/hand-off after the crash \(SIGKILL\): r\d → r\d \(epoch \d+\) in [\d.]+ s/)
      expect(run.stdout).toMatch(/released billing, epoch \d+ \(handoff\)/)
      expect(run.stdout).toMatch(/hand-off after the graceful stop \(SIGTERM\): r\d → r\d/)
      expect(run.stderr).not.toMatch(/failed/)
    }
  )

  it("--replicas takes 2 to 9", () => {
    const read = (argv: ReadonlyArray<string>) => parseArgs(argv, () => 7)
    expect(Result.getOrThrow(read(["--replicas", "3"]))).toMatchObject({ replicas: 3, seed: 7 })
    expect(Result.getOrThrow(read([]))).not.toHaveProperty("replicas")
    for (const bad of ["1", "10", "x", "2.5"]) {
      const result = read(["--replicas", bad])
      expect(Result.isFailure(result) && result.failure.field).toBe("--replicas")
      expect(Result.isFailure(result) && result.failure.reason).toBe(`expected an integer from 2 to 9, got "${bad}"`)
    }
  })
})
