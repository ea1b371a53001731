/**
 * The memory store: the `DurableStore` contract (internal/store.ts) in one process's heap, for
 * tests and for programs that accept losing queued work on exit. It owns the rows of one store
 * instance; nothing is shared between two `make` calls.
 *
 * Data flow: `rows` holds every row by id; `byKey` lists the ids of one (kind, key) oldest first
 * (`inspect`, dedupe, `cancel`); per kind, `queues` holds the `pending` rows in a binary heap by
 * (`runAt`, insertion) and `running` the `running` rows, so a claim costs O(log n) per row taken
 * plus the running rows (few: bounded by the workers' concurrency), never the whole backlog.
 * `ever` is the "ever" ledger: keys enqueued under `dedupe: "ever"`, kept when `cleanup` deletes
 * their rows.
 *
 * Invariants: every operation is synchronous inside one `Effect.sync`, so it is atomic with respect
 * to other fibers (one JS thread); a row object is never mutated, it is replaced, and every
 * replacement bumps the entry's `version`; a heap node is live only while its entry is `pending`
 * with the node's version (stale nodes are dropped when they surface: lazy deletion); `running`
 * holds exactly the rows whose status is `running`; `seq` orders insertion.
 */
import { Effect, Layer } from "effect"
import type { ClaimInput, Counts, DurableStore, EnqueueInput, JobRow, JobStatus } from "../store.js"
import { Store } from "../store.js"

interface Entry {
  row: JobRow
  readonly seq: number
  /** Bumped on every replacement of `row`. */
  version: number
}

/** A pending row in a kind's queue, as of one version of it. */
interface Node {
  readonly entry: Entry
  readonly runAt: number
  readonly seq: number
  readonly version: number
}

const before = (a: Node, b: Node): boolean => a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq)

/** A binary min-heap of nodes by (`runAt`, `seq`). */
class Heap {
  private readonly nodes: Array<Node> = []
  get size(): number {
    return this.nodes.length
  }
  peek(): Node | undefined {
    return this.nodes[0]
  }
  push(node: Node): void {
    const nodes = this.nodes
    nodes.push(node)
    let i = nodes.length - 1
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if (!before(nodes[i]!, nodes[parent]!)) break
      ;[nodes[i], nodes[parent]] = [nodes[parent]!, nodes[i]!]
      i = parent
    }
  }
  pop(): Node | undefined {
    const nodes = this.nodes
    const top = nodes[0]
    const last = nodes.pop()
    if (top === undefined || last === undefined || nodes.length === 0) return top
    nodes[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < nodes.length && before(nodes[l]!, nodes[m]!)) m = l
      if (r < nodes.length && before(nodes[r]!, nodes[m]!)) m = r
      if (m === i) break
      ;[nodes[i], nodes[m]] = [nodes[m]!, nodes[i]!]
      i = m
    }
    return top
  }
}

const identity = (kind: string, key: string): string => `${kind.length}:${kind}${key}`

const isActive = (status: JobStatus): boolean => status === "pending" || status === "running"

/**
 * A fresh, empty memory store.
 */
export const make = (): DurableStore => {
  const rows = new Map<string, Entry>()
  const byKey = new Map<string, Array<string>>()
  const queues = new Map<string, Heap>()
  const running = new Map<string, Map<string, Entry>>()
  const ever = new Set<string>()
  let seq = 0
  let tokens = 0

  const queueOf = (kind: string): Heap => {
    let heap = queues.get(kind)
    if (heap === undefined) {
      heap = new Heap()
      queues.set(kind, heap)
    }
    return heap
  }
  const runningOf = (kind: string): Map<string, Entry> => {
    let map = running.get(kind)
    if (map === undefined) {
      map = new Map()
      running.set(kind, map)
    }
    return map
  }

  /** Replaces a row, keeping the kind's queue and running set in step with its status. */
  const put = (entry: Entry, row: JobRow): void => {
    entry.row = row
    entry.version++
    if (row.status === "running") runningOf(row.kind).set(row.id, entry)
    else running.get(row.kind)?.delete(row.id)
    if (row.status === "pending") {
      queueOf(row.kind).push({ entry, runAt: row.runAt, seq: entry.seq, version: entry.version })
    }
  }

  const live = (node: Node): boolean => node.entry.version === node.version && node.entry.row.status === "pending"

  const latest = (kind: string, key: string): Entry | undefined => {
    const ids = byKey.get(identity(kind, key))
    return ids === undefined || ids.length === 0 ? undefined : rows.get(ids[ids.length - 1]!)
  }

  const inFlight = (kind: string, key: string): Entry | undefined => {
    const ids = byKey.get(identity(kind, key))
    if (ids === undefined) return undefined
    for (const id of ids) {
      const entry = rows.get(id)!
      if (isActive(entry.row.status)) return entry
    }
    return undefined
  }

  /** The row still `running` under this token, or nothing (a late or fenced-off worker). */
  const held = (id: string, token: string): Entry | undefined => {
    const entry = rows.get(id)
    return entry !== undefined && entry.row.status === "running" && entry.row.token === token ? entry : undefined
  }

  const enqueue = (input: EnqueueInput): "enqueued" | "deduplicated" => {
    const ident = identity(input.kind, input.key)
    if (input.dedupe === "ever" ? ever.has(ident) || byKey.has(ident) : inFlight(input.kind, input.key)) {
      return "deduplicated"
    }
    if (input.dedupe === "ever") ever.add(ident)
    const id = String(++seq)
    const entry: Entry = {
      seq,
      version: 0,
      row: {
        id,
        kind: input.kind,
        key: input.key,
        payload: input.payload,
        status: "pending",
        attempts: 0,
        maxAttempts: input.maxAttempts,
        runAt: input.runAt,
        token: null,
        lockedBy: null,
        lockedUntil: null,
        lastError: null,
        createdAt: input.now,
        updatedAt: input.now,
        finishedAt: null
      }
    }
    rows.set(id, entry)
    const ids = byKey.get(ident)
    if (ids === undefined) byKey.set(ident, [id])
    else ids.push(id)
    put(entry, entry.row)
    return "enqueued"
  }

  const claim = (input: ClaimInput): ReadonlyArray<JobRow> => {
    if (input.limit <= 0) return []
    // As the SQL stores do: first every expired lease that was its row's last attempt is
    // dead-lettered (crash recovery: that attempt counted, none is left); then the first `limit`
    // due rows — pending ones, and running ones whose lease expired — are claimed.
    const expired: Array<Entry> = []
    for (const entry of [...(running.get(input.kind)?.values() ?? [])]) {
      const row = entry.row
      if (row.lockedUntil === null || row.lockedUntil > input.now) continue
      if (row.attempts < row.maxAttempts) {
        expired.push(entry)
        continue
      }
      put(entry, {
        ...row,
        status: "failed",
        token: null,
        lockedBy: null,
        lockedUntil: null,
        lastError: `lease expired during attempt ${row.attempts} of ${row.maxAttempts}`,
        updatedAt: input.now,
        finishedAt: input.now
      })
    }
    const heap = queues.get(input.kind)
    const due: Array<Entry> = expired
    let taken = 0
    while (heap !== undefined && taken < input.limit) {
      const top = heap.peek()
      if (top === undefined) break
      if (!live(top)) {
        heap.pop()
        continue
      }
      if (top.runAt > input.now) break
      heap.pop()
      due.push(top.entry)
      taken++
    }
    due.sort((a, b) => a.row.runAt - b.row.runAt || a.seq - b.seq)
    const claimed: Array<JobRow> = []
    for (const [index, entry] of due.entries()) {
      const row = entry.row
      if (index >= input.limit) {
        // Not taken this time: a pending row goes back to its queue.
        if (row.status === "pending") {
          queueOf(row.kind).push({ entry, runAt: row.runAt, seq: entry.seq, version: entry.version })
        }
        continue
      }
      const next: JobRow = {
        ...row,
        status: "running",
        attempts: row.attempts + 1,
        token: `${row.id}.${++tokens}`,
        lockedBy: input.worker,
        lockedUntil: input.now + input.lockFor,
        updatedAt: input.now
      }
      put(entry, next)
      claimed.push(next)
    }
    return claimed
  }

  const finish = (entry: Entry, row: JobRow, status: JobStatus, lastError: string | null, now: number): void =>
    put(entry, {
      ...row,
      status,
      token: null,
      lockedBy: null,
      lockedUntil: null,
      lastError,
      updatedAt: now,
      finishedAt: isActive(status) ? null : now
    })

  const store: DurableStore = {
    enqueue: (input) => Effect.sync(() => enqueue(input)),
    claim: (input) => Effect.sync(() => claim(input)),
    refresh: (leases, now, lockFor) =>
      Effect.sync(() => {
        const extended: Array<string> = []
        for (const lease of leases) {
          const entry = held(lease.id, lease.token)
          if (entry === undefined) continue
          put(entry, { ...entry.row, lockedUntil: now + lockFor, updatedAt: now })
          extended.push(lease.id)
        }
        return extended
      }),
    complete: (id, token, now) =>
      Effect.sync(() => {
        const entry = held(id, token)
        if (entry === undefined) return false
        finish(entry, entry.row, "completed", entry.row.lastError, now)
        return true
      }),
    fail: (id, token, input) =>
      Effect.sync(() => {
        const entry = held(id, token)
        if (entry === undefined) return false
        if (input.retryAt === null) finish(entry, entry.row, "failed", input.error, input.now)
        else finish(entry, { ...entry.row, runAt: input.retryAt }, "pending", input.error, input.now)
        return true
      }),
    release: (id, token, now) =>
      Effect.sync(() => {
        const entry = held(id, token)
        if (entry === undefined) return false
        const row = entry.row
        finish(entry, { ...row, attempts: Math.max(0, row.attempts - 1) }, "pending", row.lastError, now)
        return true
      }),
    inspect: (kind, key) => Effect.sync(() => latest(kind, key)?.row),
    list: (kind, status, limit) =>
      Effect.sync(() => {
        const found: Array<Entry> = []
        for (const entry of rows.values()) {
          if (entry.row.kind === kind && entry.row.status === status) found.push(entry)
        }
        found.sort((a, b) => b.seq - a.seq)
        return found.slice(0, Math.max(0, limit)).map((entry) => entry.row)
      }),
    cancel: (kind, key, now) =>
      Effect.sync(() => {
        const entry = inFlight(kind, key)
        if (entry === undefined) return "absent" as const
        if (entry.row.status === "running") return "running" as const
        finish(entry, entry.row, "cancelled", entry.row.lastError, now)
        return "cancelled" as const
      }),
    retryFailed: (kind, key, now) =>
      Effect.sync(() => {
        // Newest first: of several dead letters of one key, the one `inspect` shows comes back.
        const failed: Array<Entry> = []
        for (const entry of rows.values()) {
          const row = entry.row
          if (row.kind === kind && row.status === "failed" && (key === undefined || row.key === key)) failed.push(entry)
        }
        failed.sort((a, b) => b.seq - a.seq)
        const seen = new Set<string>()
        let count = 0
        for (const entry of failed) {
          const row = entry.row
          if (seen.has(row.key)) continue
          seen.add(row.key)
          // In-flight dedupe holds here too: a key enqueued again since it failed keeps its one live row.
          if (inFlight(kind, row.key) !== undefined) continue
          finish(entry, { ...row, attempts: 0, runAt: now }, "pending", row.lastError, now)
          count++
        }
        return count
      }),
    counts: (kind) =>
      Effect.sync(() => {
        const counts = { pending: 0, running: 0, failed: 0, completed: 0, cancelled: 0 }
        for (const entry of rows.values()) {
          if (entry.row.kind === kind) counts[entry.row.status]++
        }
        return counts satisfies Counts
      }),
    cleanup: (before) =>
      Effect.sync(() => {
        let count = 0
        for (const [id, entry] of rows) {
          const row = entry.row
          if ((row.status !== "completed" && row.status !== "cancelled") || row.finishedAt === null) continue
          if (row.finishedAt >= before) continue
          rows.delete(id)
          const ident = identity(row.kind, row.key)
          const ids = byKey.get(ident)!
          ids.splice(ids.indexOf(id), 1)
          if (ids.length === 0) byKey.delete(ident)
          count++
        }
        return count
      })
  }
  return store
}

/**
 * A `Store` layer over a fresh memory store (one per layer build).
 */
export const layer: Layer.Layer<DurableStore> = Layer.sync(Store, make)
