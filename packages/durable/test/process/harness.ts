/**
 * The process harness of the real-process tests: starts fixture worker processes (fixture.ts, a
 * DurableOffload worker app), signals them (SIGKILL, SIGTERM, SIGSTOP/SIGCONT), records when each
 * signal was sent and when each process exited, and kills every child it started in `close`.
 *
 * Invariants: every wait is bounded (`waitFor` throws with a description after its deadline, and
 * polls an observable condition — never sleeps for a fixed time to let something happen); a child
 * is always killed in `close`, even a stopped (SIGSTOP) one (SIGKILL works on stopped processes),
 * so a failing test leaves nothing running; `killAllChildren` does the same for every harness of the
 * test file (its `afterAll`), should a test end before its own `close`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const fixture = fileURLToPath(new URL("./fixture.ts", import.meta.url))
const packageDir = fileURLToPath(new URL("../..", import.meta.url))

/** What a fixture worker is told through its environment (see fixture.ts). */
export interface WorkerConfig {
  readonly store: "pg" | "sqlite"
  /** Postgres URL (store "pg") or SQLite file name (store "sqlite"). */
  readonly storeLocation: string
  /** Postgres URL of the observation log (the `offload_runs` table). */
  readonly logUrl: string
  readonly tableName: string
  readonly leaseMs: number
  readonly pollMs: number
  readonly graceMs: number
  readonly concurrency: number
}

/** A signal the harness sent, or a process's exit, with the time (epoch ms) it happened. */
export interface Signalled {
  readonly pid: number
  readonly signal: "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT"
  readonly at: number
}

/** One fixture process. */
export interface Worker {
  readonly name: string
  readonly pid: number
  /** Epoch ms of the exit, once it exited. */
  readonly exitedAt: () => number | undefined
  readonly exit: () => { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined
  /** Everything it printed (stdout and stderr), for failure messages. */
  readonly output: () => string
}

/** Every child started by any harness of this test file and not yet seen exiting. */
const live = new Set<ChildProcess>()

/** SIGKILLs every child any harness of this file started that is still alive (for `afterAll`). */
export const killAllChildren = async (): Promise<void> => {
  const alive = [...live].filter((child) => child.exitCode === null && child.signalCode === null)
  for (const child of alive) child.kill("SIGKILL")
  await waitFor(
    () => alive.every((child) => child.exitCode !== null || child.signalCode !== null),
    () => `children ${alive.map((c) => c.pid).join(", ")} to die after SIGKILL`,
    15_000
  )
  live.clear()
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every `everyMs` until it is true; throws `describe()` after `timeoutMs`. */
export const waitFor = async (
  condition: () => boolean | Promise<boolean>,
  describe: () => string | Promise<string>,
  timeoutMs = 45_000,
  everyMs = 50
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${await describe()}`)
    await sleep(everyMs)
  }
}

export interface Harness {
  /** Starts a fixture worker; resolves once it reports itself ready (its workers layer is built). */
  readonly start: (name: string, overrides?: { readonly concurrency?: number }) => Promise<Worker>
  readonly kill: (worker: Worker) => void
  readonly stop: (worker: Worker) => void
  readonly pause: (worker: Worker) => void
  readonly resume: (worker: Worker) => void
  /** Resolves when the worker has exited (bounded). */
  readonly awaitExit: (worker: Worker, timeoutMs?: number) => Promise<void>
  /** Every signal sent so far, in order. */
  readonly signals: () => ReadonlyArray<Signalled>
  /** SIGKILLs every child still alive and waits for them to go. */
  readonly close: () => Promise<void>
}

export const makeHarness = (config: WorkerConfig): Harness => {
  const children = new Map<number, ChildProcess>()
  const signals: Array<Signalled> = []

  const send = (worker: Worker, signal: Signalled["signal"]) => {
    signals.push({ pid: worker.pid, signal, at: Date.now() })
    process.kill(worker.pid, signal)
  }

  const start = async (name: string, overrides?: { readonly concurrency?: number }): Promise<Worker> => {
    const child = spawn(process.execPath, ["--conditions=@fibervisor/source", "--import", "tsx", fixture], {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        FV_WORKER: name,
        FV_STORE: config.store,
        FV_STORE_LOCATION: config.storeLocation,
        FV_LOG_URL: config.logUrl,
        FV_TABLE: config.tableName,
        FV_LEASE_MS: String(config.leaseMs),
        FV_POLL_MS: String(config.pollMs),
        FV_GRACE_MS: String(config.graceMs),
        FV_CONCURRENCY: String(overrides?.concurrency ?? config.concurrency)
      }
    })
    let output = ""
    let ready = false
    let exitedAt: number | undefined
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    const onData = (chunk: string) => {
      output += chunk
      if (!ready && output.includes("fixture ready")) ready = true
    }
    child.stdout!.setEncoding("utf8").on("data", onData)
    child.stderr!.setEncoding("utf8").on("data", onData)
    live.add(child)
    child.on("exit", (code, signal) => {
      live.delete(child)
      exitedAt = Date.now()
      exit = { code, signal }
    })
    if (child.pid === undefined) throw new Error(`could not start fixture ${name}`)
    children.set(child.pid, child)
    const worker: Worker = { name, pid: child.pid, exitedAt: () => exitedAt, exit: () => exit, output: () => output }
    await waitFor(
      () => ready || exit !== undefined,
      () => `fixture ${name} to report ready; output so far:\n${output}`,
      90_000
    )
    if (!ready) throw new Error(`fixture ${name} exited before it was ready (${JSON.stringify(exit)}):\n${output}`)
    return worker
  }

  const awaitExit = (worker: Worker, timeoutMs = 45_000) =>
    waitFor(
      () => worker.exitedAt() !== undefined,
      () => `fixture ${worker.name} (pid ${worker.pid}) to exit; output:\n${worker.output()}`,
      timeoutMs
    )

  return {
    start,
    kill: (worker) => send(worker, "SIGKILL"),
    stop: (worker) => send(worker, "SIGTERM"),
    pause: (worker) => send(worker, "SIGSTOP"),
    resume: (worker) => send(worker, "SIGCONT"),
    awaitExit,
    signals: () => signals,
    close: async () => {
      const alive = [...children.values()].filter((child) => child.exitCode === null && child.signalCode === null)
      for (const child of alive) child.kill("SIGKILL")
      await waitFor(
        () => alive.every((child) => child.exitCode !== null || child.signalCode !== null),
        () => `children ${alive.map((c) => c.pid).join(", ")} to die after SIGKILL`,
        15_000
      )
      children.clear()
    }
  }
}
