/**
 * `pnpm demo` and Ctrl-C (issue 12, item 25): a terminal's Ctrl-C sends SIGINT to the whole
 * foreground process group — pnpm, the shell it runs the script in, tsx and the demo. The demo
 * shuts down gracefully and exits 0; pnpm must pass that on, with no "Command failed with signal"
 * lines. With `sh` (dash) as the script shell, dash itself died of the SIGINT and pnpm exited 130
 * (fixed by `shellEmulator: true` in pnpm-workspace.yaml); and the tsx CLI relayed to the demo a
 * SIGINT it had already had, read as a second Ctrl-C (exit 130; the demo script now runs node with
 * tsx's loader). The test starts `pnpm demo` in a process
 * group of its own and signals the group, as a terminal does.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../..", import.meta.url))

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly output: string
}

/** `pnpm demo --duration 60s`, signalled once it prints its first event (the program is up). */
const ctrlC = (): Promise<Run> =>
  new Promise((resolve, reject) => {
    // The pnpm that runs this suite (`pnpm test` sets npm_execpath), else the one on the PATH.
    const execpath = process.env.npm_execpath
    const [command, ...prefix] =
      execpath !== undefined && /pnpm/.test(execpath) ? [process.execPath, execpath] : ["pnpm"]
    const child = spawn(command!, [...prefix, "demo", "--duration", "60s"], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let signalled = false
    const onData = (chunk: string) => {
      output += chunk
      if (!signalled && /TaskAdded|AttemptStarting/.test(output)) {
        signalled = true
        process.kill(-child.pid!, "SIGINT")
      }
    }
    child.stdout.setEncoding("utf8").on("data", onData)
    child.stderr.setEncoding("utf8").on("data", onData)
    const bound = setTimeout(() => {
      process.kill(-child.pid!, "SIGKILL")
      reject(new Error(`the demo did not end in time:\n${output}`))
    }, 90_000)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(bound)
      resolve({ code, signal, output })
    })
  })

describe("pnpm demo: Ctrl-C", () => {
  it("the graceful shutdown ends with exit code 0 and no pnpm error lines", async () => {
    const run = await ctrlC()
    expect(run.output).toMatch(/shutting down gracefully/)
    expect(run.output).not.toMatch(/ERR_PNPM|ELIFECYCLE|Command failed/)
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null })
  }, 120_000)
})
