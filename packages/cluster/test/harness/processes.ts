/**
 * Real child processes for the cluster's multi-process tests.
 *
 * Owns: spawning Node processes of a fixture script (the project's Node, TypeScript through tsx,
 * workspace packages from their sources), their signals (SIGKILL, SIGTERM, SIGSTOP / SIGCONT),
 * their output (kept as lines, so a test can wait for one), and their clean-up.
 *
 * Data flow: `ProcessGroup.spawn` → `Proc` (one child) → `stdout` / `stderr` lines, `exit`.
 * `ProcessGroup.killAll` (call it in `afterAll`/`afterEach`) SIGCONTs then SIGKILLs every child
 * still alive and waits, bounded, for each exit.
 *
 * Invariants: every child is registered in its group before `spawn` returns, so a failing test
 * cannot leave an orphan; every wait is bounded (`waitUntil` with a deadline); only real signals
 * are sent, never to a pid this group did not start.
 */
import { type ChildProcess, spawn as spawnChild } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The package directory: tsx and the workspace packages resolve from here. */
export const packageDir = fileURLToPath(new URL("../../", import.meta.url))

/** Absolute path of a fixture script under `test/fixtures/`. */
export const fixturePath = (file: string): string => fileURLToPath(new URL(`../fixtures/${file}`, import.meta.url))

/** How a child ended. */
export interface ProcExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Options of one child process. */
export interface SpawnOptions {
  /** A label used in messages and, by convention, as the fixture's runner id. */
  readonly name: string
  /** The fixture script (absolute path, see `fixturePath`). */
  readonly script: string
  readonly args?: ReadonlyArray<string>
  /** Added to the parent's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Echo the child's output to the test's stderr, prefixed with its name (debugging). */
  readonly echo?: boolean
}

/** Polls `predicate` every `interval` ms until it holds; fails with `message` after `timeout` ms. */
export const waitUntil = async (
  predicate: () => boolean | Promise<boolean>,
  options: { readonly timeout: number; readonly interval?: number; readonly message: string | (() => string) }
): Promise<void> => {
  const deadline = Date.now() + options.timeout
  const interval = options.interval ?? 50
  for (;;) {
    if (await predicate()) return
    if (Date.now() >= deadline) {
      const message = typeof options.message === "function" ? options.message() : options.message
      throw new Error(`waitUntil: timed out after ${options.timeout} ms: ${message}`)
    }
    await sleep(Math.min(interval, Math.max(1, deadline - Date.now())))
  }
}

/** A promise that resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** One running fixture process. */
export class Proc {
  readonly stdout: Array<string> = []
  readonly stderr: Array<string> = []
  /** Set once the child has exited. */
  exitInfo: ProcExit | undefined = undefined
  readonly exited: Promise<ProcExit>
  frozen = false

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    echo: boolean
  ) {
    this.exited = new Promise<ProcExit>((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal }
        resolve(this.exitInfo)
      })
    })
    collectLines(child.stdout, this.stdout, echo ? `[${name}] ` : undefined)
    collectLines(child.stderr, this.stderr, echo ? `[${name}!] ` : undefined)
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  get alive(): boolean {
    return this.exitInfo === undefined
  }

  /** Crash: SIGKILL, no finalizer runs. Resolves once the process is gone. */
  async kill(timeout = 10_000): Promise<ProcExit> {
    if (this.alive) {
      this.child.kill("SIGKILL")
    }
    return this.waitExit(timeout)
  }

  /** Graceful stop: SIGTERM. Resolves once the process exits (bounded by `timeout`). */
  async stop(timeout = 30_000): Promise<ProcExit> {
    if (this.frozen) this.resume()
    if (this.alive) this.child.kill("SIGTERM")
    return this.waitExit(timeout)
  }

  /** Pause the whole process (a GC pause, a frozen VM): SIGSTOP. */
  freeze(): void {
    if (this.alive) {
      this.child.kill("SIGSTOP")
      this.frozen = true
    }
  }

  /** Resume a frozen process: SIGCONT. */
  resume(): void {
    if (this.alive) this.child.kill("SIGCONT")
    this.frozen = false
  }

  /** Resolves with the exit, or fails after `timeout` ms. */
  async waitExit(timeout: number): Promise<ProcExit> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`process ${this.name} (pid ${this.pid}) did not exit within ${timeout} ms`)),
        timeout
      )
    })
    try {
      return await Promise.race([this.exited, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Whether some stdout line matches. */
  hasLine(match: string | RegExp): boolean {
    return this.stdout.some((line) => (typeof match === "string" ? line.includes(match) : match.test(line)))
  }

  /** Waits (bounded) for a stdout line matching `match`; returns it. */
  async waitForLine(match: string | RegExp, timeout = 30_000): Promise<string> {
    let found: string | undefined
    await waitUntil(
      () => {
        found = this.stdout.find((line) => (typeof match === "string" ? line.includes(match) : match.test(line)))
        return found !== undefined || !this.alive
      },
      { timeout, message: () => `${this.name}: no line matching ${String(match)}\n${this.describe()}` }
    )
    if (found === undefined) {
      throw new Error(`${this.name} exited before printing ${String(match)}\n${this.describe()}`)
    }
    return found
  }

  /** The last lines of output, for failure messages. */
  describe(lines = 30): string {
    const exit = this.exitInfo ? ` exited ${JSON.stringify(this.exitInfo)}` : ""
    return [
      `--- ${this.name} (pid ${this.pid})${exit} stdout:`,
      ...this.stdout.slice(-lines),
      `--- ${this.name} stderr:`,
      ...this.stderr.slice(-lines)
    ].join("\n")
  }
}

const collectLines = (stream: NodeJS.ReadableStream | null, into: Array<string>, echo: string | undefined) => {
  if (stream === null) return
  let pending = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    pending += chunk
    const parts = pending.split("\n")
    pending = parts.pop() ?? ""
    for (const line of parts) {
      into.push(line)
      if (echo !== undefined) process.stderr.write(`${echo}${line}\n`)
    }
  })
  stream.on("end", () => {
    if (pending !== "") into.push(pending)
  })
}

/** The children of one test file. */
export class ProcessGroup {
  readonly procs: Array<Proc> = []

  /** Starts `node --conditions=@fibervisor/source --import tsx <script> ...args` in the package dir. */
  spawn(options: SpawnOptions): Proc {
    const child = spawnChild(
      process.execPath,
      ["--conditions=@fibervisor/source", "--import", "tsx", "--no-warnings", options.script, ...(options.args ?? [])],
      {
        cwd: packageDir,
        env: { ...process.env, ...options.env, FV_RUNNER: options.name },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    const proc = new Proc(options.name, child, options.echo ?? false)
    this.procs.push(proc)
    return proc
  }

  /** Live children. */
  get alive(): ReadonlyArray<Proc> {
    return this.procs.filter((proc) => proc.alive)
  }

  /** SIGCONT + SIGKILL every child still alive, then wait (bounded) for each exit. Never throws. */
  async killAll(timeout = 10_000): Promise<void> {
    await Promise.all(
      this.procs.map(async (proc) => {
        if (!proc.alive) return
        try {
          proc.child.kill("SIGCONT")
          proc.child.kill("SIGKILL")
          await proc.waitExit(timeout)
        } catch {
          // Already gone, or the OS is slow: nothing more this group can do.
        }
      })
    )
  }

  /** All output of every child, for failure messages. */
  describe(): string {
    return this.procs.map((proc) => proc.describe()).join("\n")
  }
}
