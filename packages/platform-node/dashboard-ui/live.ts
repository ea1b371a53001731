/**
 * The page's live state: the snapshot, the event stream and the actions, as signals.
 *
 * - On start: `GET /api/snapshot` (its `seq` is the last event it includes), then
 *   `GET /api/events?after=<seq>`, read with `fetch` (any event name, and the reconnects are ours).
 * - Each event is logged, and applied to the model when it is newer than the model's snapshot.
 * - A snapshot is fetched again soon after events the model cannot follow, and every few seconds:
 *   it replaces the model, and the logged events newer than it are applied again.
 * - When the stream breaks it reconnects with `after=<last seq received>`: no gap, no duplicate (an
 *   event at or below the last `seq` received is dropped). A `reset` message (the server no longer
 *   holds the events after that seq; the stream goes on live) refetches the snapshot; the log says
 *   events were missed.
 * - The token for actions lives in a signal only (memory): never a cookie, never storage.
 */
import { batch, signal } from "@preact/signals"
import { type Message, parseMessages } from "./sse.js"
import {
  apply,
  type DurableKind,
  fromTree,
  type Model,
  type OffloadKind,
  type Snapshot,
  type WireEvent
} from "./model.js"

/** One entry of the event log. */
export interface LogEntry {
  readonly seq: number
  /** A real event, or a note the page adds (a reset, a reconnect). */
  readonly event: WireEvent | undefined
  readonly note: string | undefined
  /** Client clock when received (for notes). */
  readonly receivedAt: number
}

export type Connection = "connecting" | "live" | "reconnecting"

/** The most entries the event log keeps (oldest dropped first). */
export const LOG_LIMIT = 5000

// ---- signals the views read ----

/** The model, or `undefined` before the first snapshot. Mutated in place; `revision` says when. */
export const model = signal<Model | undefined>(undefined)
/** Bumped (at most every 100 ms) when the model changed. */
export const revision = signal(0)
export const offload = signal<ReadonlyArray<OffloadKind> | null>(null)
/** The durable kinds (`GET /api/durable`), or `null` when the server shows none. */
export const durable = signal<ReadonlyArray<DurableKind> | null>(null)
/** Why the last `GET /api/durable` failed, if it did. */
export const durableError = signal<string | undefined>(undefined)
/** Whether the server accepts actions (it has a token configured). */
export const actionsEnabled = signal(false)
/** Whether the server shows payloads (failure reasons); else they read `[hidden]`. */
export const payloadsShown = signal(true)
/** The server's clock now (client clock + the offset measured at the last snapshot), ticking. */
export const serverNow = signal(Date.now())
export const connection = signal<Connection>("connecting")
/** The last error in fetching or streaming, shown in the header. */
export const lastError = signal<string | undefined>(undefined)
/** The event log, oldest first; `logRevision` says when it changed. */
export const log: Array<LogEntry> = []
export const logRevision = signal(0)
/** The token typed into the actions form: memory only. */
export const token = signal("")

// ---- state ----

let offset = 0
/** The `seq` of the snapshot the model was built from. */
let modelSeq = -1
/** The last event `seq` received from the stream (or the snapshot's, before any). */
let lastSeq = -1
let dirty = false
let logDirty = false
let flushTimer: ReturnType<typeof setTimeout> | undefined
let refreshTimer: ReturnType<typeof setTimeout> | undefined
let refreshing: Promise<void> | undefined
let lastRefreshAt = 0
/** How long the last snapshot took to fetch and build: big trees are refetched less often. */
let lastRefreshCost = 0
let stream: AbortController | undefined
let retries = 0
/**
 * The first connection asks for up to this many events before the snapshot (the log shows what
 * happened just before the page opened); the model is not changed by them.
 */
const BACKLOG = 200
/** Until the first connection has answered: a `reset` then only means the backlog is shorter. */
let first = true

const flush = () => {
  flushTimer = undefined
  batch(() => {
    if (dirty) revision.value += 1
    if (logDirty) logRevision.value += 1
  })
  dirty = false
  logDirty = false
}

const scheduleFlush = () => {
  if (flushTimer === undefined) flushTimer = setTimeout(flush, 100)
}

const record = (entry: LogEntry) => {
  log.push(entry)
  if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT)
  logDirty = true
  scheduleFlush()
}

const note = (text: string) => record({ seq: lastSeq, event: undefined, note: text, receivedAt: Date.now() })

// ---- snapshot ----

const fetchSnapshot = async (): Promise<Snapshot> => {
  const sent = Date.now()
  const response = await fetch("/api/snapshot", { cache: "no-store", headers: { accept: "application/json" } })
  if (!response.ok) throw new Error(`GET /api/snapshot answered ${response.status}`)
  const snapshot = (await response.json()) as Snapshot
  const received = Date.now()
  offset = snapshot.now - (sent + received) / 2
  return snapshot
}

/** Fetches a snapshot and rebuilds the model from it, with the logged events newer than it. */
const refresh = (): Promise<void> => {
  if (refreshing !== undefined) return refreshing
  refreshing = (async () => {
    const started = performance.now()
    try {
      const snapshot = await fetchSnapshot()
      if (snapshot.seq < modelSeq) {
        // The server's sequence went back: it is another process (restarted). Start over from it.
        log.length = 0
        note(`the server restarted (sequence ${modelSeq} → ${snapshot.seq}): reloaded`)
        lastSeq = snapshot.seq
        reconnect(0)
      }
      const next = fromTree(snapshot.tree)
      for (const entry of log) {
        if (entry.event !== undefined && entry.seq > snapshot.seq) apply(next, entry.event)
      }
      modelSeq = snapshot.seq
      batch(() => {
        model.value = next
        offload.value = snapshot.offload?.kinds ?? null
        durableShown = snapshot.durable === true
        if (!durableShown) durable.value = null
        actionsEnabled.value = snapshot.actions
        payloadsShown.value = snapshot.payloads !== false
        serverNow.value = Date.now() + offset
        revision.value += 1
        lastError.value = undefined
      })
    } catch (error) {
      lastError.value = String(error instanceof Error ? error.message : error)
    } finally {
      lastRefreshCost = performance.now() - started
      lastRefreshAt = Date.now()
      refreshing = undefined
    }
  })()
  return refreshing
}

/** The shortest time between two snapshots: 1 s, more for a tree that is slow to fetch. */
const minimumGap = () => Math.max(1000, lastRefreshCost * 10)

/** Fetches a snapshot soon (events the model cannot follow arrived). */
const refreshSoon = () => {
  if (refreshTimer !== undefined) return
  const wait = Math.max(250, lastRefreshAt + minimumGap() - Date.now())
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined
    void refresh()
  }, wait)
}

// ---- durable jobs ----

/** Whether the server shows durable jobs (the last snapshot said so). */
let durableShown = false
let lastDurableAt = 0
let durableFetching: Promise<void> | undefined

/** Fetches `GET /api/durable` (the store is read on each request: every 5 s at most, and after a retry). */
const refreshDurable = (): Promise<void> => {
  if (durableFetching !== undefined) return durableFetching
  durableFetching = (async () => {
    try {
      const response = await fetch("/api/durable", { cache: "no-store", headers: { accept: "application/json" } })
      if (!response.ok) throw new Error(`GET /api/durable answered ${response.status}`)
      const body = (await response.json()) as { readonly kinds: ReadonlyArray<DurableKind> }
      batch(() => {
        durable.value = body.kinds
        durableError.value = undefined
      })
    } catch (error) {
      durableError.value = String(error instanceof Error ? error.message : error)
    } finally {
      lastDurableAt = Date.now()
      durableFetching = undefined
    }
  })()
  return durableFetching
}

// ---- the event stream ----

const onMessage = (message: Message) => {
  if (message.event === "reset") {
    if (first) {
      // The backlog asked for is older than what the server holds: nothing the page had is missed,
      // but the stream goes on live from now, so the model is brought up to date.
      first = false
      void refresh()
      return
    }
    // The server no longer holds the events after our last one; the stream goes on live from here.
    note(`events after ${lastSeq} are no longer held by the server: some were missed; the tree was reloaded`)
    void refresh()
    return
  }
  const seq = message.id === undefined ? Number.NaN : Number(message.id)
  if (!Number.isFinite(seq) || seq <= lastSeq) return // a duplicate (or not an event)
  lastSeq = seq
  first = false
  let event: WireEvent
  try {
    event = JSON.parse(message.data) as WireEvent
  } catch {
    return
  }
  record({ seq, event, note: undefined, receivedAt: Date.now() })
  const m = model.value
  if (m !== undefined && seq > modelSeq) {
    if (apply(m, event)) refreshSoon()
    dirty = true
    scheduleFlush()
  }
}

const read = async (controller: AbortController) => {
  const after = first ? Math.max(0, modelSeq - BACKLOG) : lastSeq
  if (first) lastSeq = after
  const response = await fetch(`/api/events?after=${after}`, {
    cache: "no-store",
    headers: { accept: "text/event-stream" },
    signal: controller.signal
  })
  if (!response.ok || response.body === null) throw new Error(`GET /api/events answered ${response.status}`)
  connection.value = "live"
  lastError.value = undefined
  if (retries > 0) note(`reconnected, resuming after event ${lastSeq}`)
  retries = 0
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  while (true) {
    const { done, value } = await reader.read()
    if (done) return
    buffer = parseMessages(buffer + value, onMessage)
  }
}

let reconnectTimer: ReturnType<typeof setTimeout> | undefined

/** (Re)opens the stream after `delay` ms, from `lastSeq`. */
const reconnect = (delay: number) => {
  stream?.abort()
  stream = undefined
  if (reconnectTimer !== undefined) clearTimeout(reconnectTimer)
  reconnectTimer = setTimeout(() => {
    reconnectTimer = undefined
    const controller = new AbortController()
    stream = controller
    read(controller).then(
      () => broken(controller, "the server ended the event stream"),
      (error: unknown) => broken(controller, String(error instanceof Error ? error.message : error))
    )
  }, delay)
}

const broken = (controller: AbortController, reason: string) => {
  if (stream !== controller) return // replaced on purpose
  stream = undefined
  connection.value = "reconnecting"
  lastError.value = reason
  retries += 1
  // 0.5 s, 1 s, 2 s, … at most 10 s between tries.
  reconnect(Math.min(10_000, 250 * 2 ** Math.min(retries, 6)))
  // The snapshot is refetched too (the tree may have moved on while the stream was down).
  refreshSoon()
}

// ---- actions ----

export type Action = "cancel" | "remove" | "restart"

export interface ActionResult {
  readonly action: Action
  readonly path: string
  readonly status: number
  readonly ok: boolean
  readonly message: string
}

/** What the server answered an action: the status, and the message the page shows for it. */
interface Answer {
  readonly status: number
  readonly ok: boolean
  readonly message: string
}

/**
 * `POST /api/actions` with `body` and the token (when one was typed). `describe` words a JSON
 * answer without an `error`; an answer that is not JSON is shown as it is, a network error as
 * status 0. `then` runs after an accepted action (the page refetches what it changed).
 */
const post = async (
  body: Record<string, string>,
  describe: (
    answer: { readonly done?: unknown; readonly reason?: unknown; readonly retried?: unknown },
    ok: boolean,
    text: string
  ) => string,
  then: () => void
): Promise<Answer> => {
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" }
  if (token.value !== "") headers.authorization = `Bearer ${token.value}`
  try {
    const response = await fetch("/api/actions", {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      cache: "no-store"
    })
    const text = await response.text()
    let message = text
    try {
      const answer = JSON.parse(text) as { error?: unknown; done?: unknown; reason?: unknown; retried?: unknown }
      message = typeof answer.error === "string" ? answer.error : describe(answer, response.ok, text)
    } catch {
      // not JSON: the text as it is
    }
    if (response.ok) then()
    return { status: response.status, ok: response.ok, message }
  } catch (error) {
    return { status: 0, ok: false, message: String(error instanceof Error ? error.message : error) }
  }
}

/** `POST /api/actions` with the token (when one was typed); resolves with the server's answer. */
export const postAction = async (action: Action, path: string): Promise<ActionResult> => ({
  action,
  path,
  ...(await post(
    { action, path },
    (answer, ok, text) =>
      ok ? (answer.done === false ? "declined by the supervisor (a stop already under way?)" : "done") : text,
    refreshSoon
  ))
})

/** What the server said of a retry of a recent offload failure. */
export interface RetryResult {
  readonly kind: string
  readonly id: string
  readonly status: number
  readonly ok: boolean
  readonly message: string
}

/** `POST /api/actions` with `{ action: "retry", kind, id }` and the token (when one was typed). */
export const postRetry = async (kind: string, id: string): Promise<RetryResult> => ({
  kind,
  id,
  ...(await post(
    { action: "retry", kind, id },
    (answer) =>
      answer.done === false && typeof answer.reason === "string" ? `not retried: ${answer.reason}` : "retried",
    refreshSoon
  ))
})

/** What the server said of a retry of durable dead letters. */
export interface DurableRetryResult {
  readonly kind: string
  /** `undefined`: every dead letter of the kind. */
  readonly key: string | undefined
  readonly status: number
  readonly ok: boolean
  readonly message: string
}

/** `POST /api/actions` with `{ action: "durable-retry", kind, key? }` and the token (when one was typed). */
export const postDurableRetry = async (kind: string, key: string | undefined): Promise<DurableRetryResult> => ({
  kind,
  key,
  ...(await post(
    key === undefined ? { action: "durable-retry", kind } : { action: "durable-retry", kind, key },
    (answer, _ok, text) => (typeof answer.retried === "number" ? `${answer.retried} back to pending` : text),
    () => void refreshDurable()
  ))
})

// ---- start ----

/** Starts everything: the first snapshot, the stream after it, the clock and the periodic refresh. */
export const start = async (): Promise<void> => {
  setInterval(() => {
    serverNow.value = Date.now() + offset
  }, 250)
  setInterval(() => {
    // Offload counts and anything the events did not say: refetched every 5 s (2 s with offload
    // kinds), less often when the tree is slow to fetch; not while the page is hidden.
    if (document.visibilityState === "hidden") return
    const every = Math.max(offload.value === null ? 5000 : 2000, minimumGap())
    if (Date.now() - lastRefreshAt >= every) void refresh()
    // Durable jobs live in a database, not in the events: read every 5 s.
    if (durableShown && Date.now() - lastDurableAt >= 5000) void refreshDurable()
  }, 1000)
  while (model.value === undefined) {
    await refresh()
    if (model.value === undefined) await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  lastSeq = modelSeq
  reconnect(0)
  if (durableShown) void refreshDurable()
}
