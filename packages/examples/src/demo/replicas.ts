/**
 * `pnpm demo --replicas N`: N replica processes (`replica.ts`) on one machine, one SQLite file of
 * leases in a temporary directory (no external service), each adding the same `Task.singleton`.
 * One owns it (`owner`, epoch 1), the others wait in `standby`. Once all are up, the run lasts
 * `duration`: at 40% of it the coordinator
 * SIGKILLs the owner — a crash: nothing is handed over — and the view shows another replica take
 * the lease once it expires (epoch 2), with the measured hand-off time. At the end the replicas are
 * stopped with SIGTERM: the owner hands off gracefully (`SingletonReleased handoff`) within its
 * grace, and a standby may take it for the last moments.
 *
 * Data flow: each replica prints `EVENT <json>` / `POLL <epoch> <n>` lines; `Replicas.line` folds
 * them into the view's state; the view (a live table in a TTY, one line per change otherwise) is
 * drawn from that state. Every wait is bounded; every child is stopped (or killed) on the way out,
 * and a replica exits by itself when the coordinator's pipe closes.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Duration, Effect } from "effect"
import logUpdate from "log-update"
import { EXPIRY, REFRESH } from "./replicaSettings.js"

export interface ReplicasOptions {
  readonly replicas: number
  readonly duration: Duration.Duration
  /** Draw the live table (else: one line per change). */
  readonly tty: boolean
}

type State = "starting" | "standby" | "owner" | "killed" | "stopped"

interface Replica {
  readonly name: string
  readonly child: ChildProcess
  state: State
  epoch: number | undefined
  polls: number
  ready: boolean
  exited: boolean
}

const script = fileURLToPath(new URL("./replica.ts", import.meta.url))

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** The replicas, what they said, and the view's lines. */
class Replicas {
  readonly list: Array<Replica> = []
  readonly log: Array<string> = []
  /** The owner the demo last took down: killed (SIGKILL) or stopped (SIGTERM). */
  gone:
    | { readonly name: string; readonly epoch: number; readonly at: number; readonly how: "crashed" | "stopped" }
    | undefined = undefined
  /** Hand-offs seen: after the crash, after the graceful stop. */
  readonly handoffs: Array<{
    readonly from: string
    readonly to: string
    readonly epoch: number
    /** From the kill (or stop) to the new owner's acquisition. */
    readonly ms: number
    /** When the new owner acquired it. */
    readonly at: number
    readonly how: "crashed" | "stopped"
  }> = []
  constructor(
    readonly start: number,
    private readonly onLine: (line: string) => void
  ) {}

  note(text: string): void {
    const line = `+${seconds(Date.now() - this.start).padStart(7)}  ${text}`
    this.log.push(line)
    this.onLine(line)
  }

  get owner(): Replica | undefined {
    return this.list.find((replica) => replica.state === "owner")
  }

  /** Folds one stdout line of `replica` into the state. */
  line(replica: Replica, line: string): void {
    if (line.startsWith("READY ")) {
      replica.ready = true
      return
    }
    if (line.startsWith("POLL ")) {
      replica.polls += 1
      return
    }
    if (!line.startsWith("EVENT ")) return
    const event = JSON.parse(line.slice(6)) as {
      _tag: string
      name: string
      epoch?: number
      owner?: string
      reason?: string
    }
    switch (event._tag) {
      case "SingletonAcquired": {
        replica.state = "owner"
        replica.epoch = event.epoch
        const gone = this.gone
        let after = ""
        if (gone !== undefined && (event.epoch ?? 0) > gone.epoch) {
          const ms = Date.now() - gone.at
          this.handoffs.push({
            from: gone.name,
            to: replica.name,
            epoch: event.epoch!,
            ms,
            at: Date.now(),
            how: gone.how
          })
          this.gone = undefined
          after = ` — hand-off ${seconds(ms)} after ${gone.name} ${gone.how}`
        }
        this.note(`${replica.name} acquired ${event.name}, epoch ${event.epoch}${after}`)
        return
      }
      case "SingletonReleased":
        if (replica.state === "owner") replica.state = "standby"
        this.note(`${replica.name} released ${event.name}, epoch ${event.epoch} (${event.reason})`)
        return
      case "SingletonStandby":
        if (replica.state !== "owner") replica.state = "standby"
        replica.epoch = undefined
        this.note(
          `${replica.name} standby` + (event.owner === undefined ? "" : ` (owner ${event.owner}, epoch ${event.epoch})`)
        )
        return
    }
  }

  frame(durationMs: number, file: string): string {
    const elapsed = Date.now() - this.start
    const rows = this.list.map((r) =>
      [
        r.name.padEnd(8),
        String(r.child.pid ?? "-").padEnd(8),
        (r.state === "killed" ? "killed (SIGKILL)" : r.state).padEnd(18),
        String(r.epoch ?? "").padEnd(6),
        String(r.polls)
      ].join("")
    )
    return [
      `fibervisor demo · ${this.list.length} replicas · ${seconds(elapsed)} of ${seconds(durationMs)}`,
      `leases: SQLite ${file} (refresh ${REFRESH}, expiry ${EXPIRY})`,
      "",
      `${"replica".padEnd(8)}${"pid".padEnd(8)}${"state".padEnd(18)}${"epoch".padEnd(6)}polls`,
      ...rows,
      "",
      ...this.log.slice(-10)
    ].join("\n")
  }
}

/** Waits (bounded) for `predicate`, checking every 50 ms; `false` at the deadline. */
const until = (predicate: () => boolean, timeoutMs: number): Effect.Effect<boolean> =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs
    while (!predicate()) {
      if (Date.now() >= deadline) return false
      yield* Effect.sleep("50 millis")
    }
    return true
  })

const startReplica = (replicas: Replicas, name: string, file: string): Replica => {
  // node:sqlite prints an ExperimentalWarning on Node 22: not the demo's news.
  const child = spawn(process.execPath, [...process.execArgv, "--disable-warning=ExperimentalWarning", script], {
    env: { ...process.env, FV_DEMO_FILE: file, FV_DEMO_RUNNER: name },
    stdio: ["pipe", "pipe", "inherit"]
  })
  const replica: Replica = { name, child, state: "starting", epoch: undefined, polls: 0, ready: false, exited: false }
  let pending = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk
    const lines = pending.split("\n")
    pending = lines.pop() ?? ""
    for (const line of lines) replicas.line(replica, line)
  })
  child.once("exit", () => {
    replica.exited = true
    if (replica.state !== "killed") replica.state = "stopped"
  })
  replicas.list.push(replica)
  return replica
}

/** Stops every replica still alive: SIGTERM, then SIGKILL past the deadline. */
const stopAll = (replicas: Replicas): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (const replica of replicas.list) if (!replica.exited) replica.child.kill("SIGTERM")
    const stopped = yield* until(() => replicas.list.every((r) => r.exited), 10_000)
    if (!stopped) for (const replica of replicas.list) if (!replica.exited) replica.child.kill("SIGKILL")
    yield* until(() => replicas.list.every((r) => r.exited), 5_000)
  })

/** The replicas demo; interrupting it (Ctrl-C) stops the replicas and removes the temporary directory. */
export const replicasMain = (options: ReplicasOptions): Effect.Effect<void> =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "fibervisor-demo-"))),
      (path) => Effect.sync(() => rmSync(path, { recursive: true, force: true }))
    )
    const file = join(dir, "leases.db")
    const durationMs = Duration.toMillis(options.duration)
    const replicas = new Replicas(Date.now(), options.tty ? () => {} : (line) => console.log(line))
    console.log(
      [
        `fibervisor demo: ${options.replicas} replicas of one service for ${Duration.format(options.duration)}`,
        `  each adds Task.singleton("billing"); leases in ${file}`,
        `  at 40% the owner is killed (SIGKILL); another replica takes over once its lease expires`
      ].join("\n")
    )
    yield* Effect.addFinalizer(() => stopAll(replicas))
    if (options.tty) {
      const drawing = yield* Effect.forkScoped(
        Effect.forever(
          Effect.andThen(
            Effect.sync(() => logUpdate(replicas.frame(durationMs, file))),
            Effect.sleep("200 millis")
          )
        )
      )
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          drawing.interruptUnsafe()
          logUpdate(replicas.frame(durationMs, file))
          logUpdate.done()
        })
      )
    }
    for (let i = 1; i <= options.replicas; i++) {
      const replica = startReplica(replicas, `r${i}`, file)
      // One at a time: the first one creates the leases table (and usually wins the first lease).
      yield* until(() => replica.ready || replica.exited, 60_000)
    }
    yield* until(() => replicas.owner !== undefined || replicas.list.every((r) => r.exited), 60_000)
    if (replicas.owner === undefined) {
      replicas.note("no replica acquired the singleton (see their errors above); stopping")
      return
    }
    // The run's duration counts from here: starting the processes (tsx, SQLite) takes a while.
    const upAt = Date.now()
    replicas.note(
      `all ${options.replicas} replicas are up; the run lasts ${Duration.format(options.duration)} from now`
    )
    yield* until(() => Date.now() - upAt >= durationMs * 0.4, durationMs)
    const victim = replicas.owner
    if (victim !== undefined) {
      replicas.gone = { name: victim.name, epoch: victim.epoch ?? 0, at: Date.now(), how: "crashed" }
      victim.state = "killed"
      victim.child.kill("SIGKILL")
      replicas.note(`killed ${victim.name}, the owner of epoch ${victim.epoch} (SIGKILL: nothing is handed over)`)
    }
    // Run to the end; a hand-off still under way gets up to 15 s more, and the new owner 2 s to show it works.
    yield* until(() => Date.now() - upAt >= durationMs, durationMs)
    yield* until(() => replicas.handoffs.length > 0, 15_000)
    const crash = replicas.handoffs[0]
    if (crash !== undefined) yield* until(() => Date.now() >= crash.at + 2_000, 2_000)
    // A graceful hand-off: SIGTERM to the owner, which releases the lease within its grace; a
    // standby takes it at its next refresh, with no expiry to wait for.
    const owner = replicas.owner
    if (owner !== undefined && replicas.list.some((r) => r !== owner && !r.exited)) {
      replicas.note(`stopping ${owner.name}, the owner (SIGTERM: it hands the lease off)`)
      replicas.gone = { name: owner.name, epoch: owner.epoch ?? 0, at: Date.now(), how: "stopped" }
      owner.child.kill("SIGTERM")
      yield* until(() => owner.exited, 10_000)
      yield* until(() => replicas.owner !== undefined && replicas.owner !== owner, 5_000)
    }
    replicas.note("stopping the other replicas (SIGTERM)")
    yield* stopAll(replicas)
    for (const how of ["crashed", "stopped"] as const) {
      const seen = replicas.handoffs.find((h) => h.how === how)
      const what = how === "crashed" ? "after the crash (SIGKILL)" : "after the graceful stop (SIGTERM)"
      replicas.note(
        seen === undefined
          ? `no hand-off was seen ${what}`
          : `hand-off ${what}: ${seen.from} → ${seen.to} (epoch ${seen.epoch}) in ${seconds(seen.ms)}` +
              (how === "crashed" ? ` (lease expiry ${EXPIRY}, refresh ${REFRESH})` : " (released at once)")
      )
    }
  }).pipe(Effect.scoped)
