/**
 * A recording `DurableOffload` for tests: enqueued jobs are recorded (kind, key, payload), not
 * stored, and run on demand — `runAll` runs the due ones in the calling fiber, so under the test's
 * clock.
 *
 * It checks what the real service checks, with the same functions (`DurableOffload.prepare`): a
 * bad kind or bad options fail with the same typed errors, a payload that does not encode fails
 * with `PayloadError`, an invalid key is `"rejected"`. Handlers receive the payload after the same
 * round trip through its stored form, so a payload whose schema does not round-trip shows up here.
 * Dedupe follows the kind's mode (`"in-flight"`: while pending or running; `"ever"`: for good).
 *
 * What it does not simulate: leases, replicas, concurrency, and the retry delay (a failed attempt
 * puts the job back to pending for the next `runAll` until `maxAttempts`, then it is a dead letter).
 * Test those with `DurableOffload.layerMemory` and real workers under `TestClock`.
 *
 * Import it from `@fibervisor/vitest/TestDurableOffload` (not the index: `@fibervisor/durable` is
 * an optional peer of this package).
 *
 * @since 1.0.0
 */
import { DurableOffload } from "@fibervisor/durable"
import { DurableOffloadError } from "@fibervisor/durable"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { recorderAccessors } from "./internal/accessors.js"

/**
 * One job the recording layer accepted.
 *
 * @since 1.0.0
 * @category models
 */
export interface Entry {
  readonly id: string
  readonly kind: string
  readonly key: string
  /** The payload as the handler receives it (after the round trip through its stored form). */
  readonly payload: unknown
  readonly status: DurableOffload.JobStatus
  readonly attempts: number
  readonly maxAttempts: number
  /** When it becomes due (epoch ms, from the test's clock). */
  readonly runAt: number
  readonly lastError: string | null
  readonly createdAt: number
  readonly finishedAt: number | null
}

/**
 * Control of the recording layer.
 *
 * @since 1.0.0
 * @category models
 */
export interface TestDurableOffload {
  /** Jobs pending (due or not), oldest first. */
  readonly entries: Effect.Effect<ReadonlyArray<Entry>>
  /** Every job accepted, in any status, oldest first. */
  readonly history: Effect.Effect<ReadonlyArray<Entry>>
  /**
   * Runs every due pending job (`runAt` reached on the test's clock) whose kind has a handler, one
   * attempt each, one by one in the calling fiber, oldest first; returns their exits. Jobs of kinds
   * without a handler stay pending.
   */
  readonly runAll: Effect.Effect<ReadonlyArray<Exit.Exit<unknown, unknown>>>
  /** Forgets every job (pending or not), and the "ever" ledger. */
  readonly clear: Effect.Effect<void>
}

/**
 * The `TestDurableOffload` service tag.
 *
 * @since 1.0.0
 * @category tags
 */
export const TestDurableOffload: Context.Service<TestDurableOffload, TestDurableOffload> =
  Context.Service<TestDurableOffload>("@fibervisor/vitest/TestDurableOffload")

interface Row {
  entry: Entry
  readonly seq: number
  readonly run: ((payload: unknown, job: DurableOffload.JobContext) => Effect.Effect<unknown, unknown>) | undefined
  readonly timeoutMs: number | undefined
}

/** `cleanup`'s `olderThan` in ms, checked as the real service checks it. */
const olderThanMillis = (options: unknown): Effect.Effect<number, DurableOffloadError.InvalidOptions> => {
  const fail = (field: string, reason: string) =>
    Effect.fail(new DurableOffloadError.InvalidOptions({ operation: "cleanup", field, reason }))
  if (typeof options !== "object" || options === null) return fail("options", "must be an object")
  const unknown = Object.keys(options).find((k) => k !== "olderThan")
  if (unknown !== undefined) return fail(unknown, "is not a known option (known: olderThan)")
  const input = (options as { readonly olderThan?: unknown }).olderThan
  const decoded =
    typeof input === "number" && (!Number.isFinite(input) || input < 0)
      ? Option.none()
      : Duration.fromInput(input as Duration.Input)
  if (Option.isNone(decoded)) return fail("olderThan", "must be a finite, non-negative duration")
  const ms = Duration.toMillis(decoded.value)
  return Number.isFinite(ms) && ms >= 0
    ? Effect.succeed(ms)
    : fail("olderThan", "must be a finite, non-negative duration")
}

const identity = (kind: string, key: string) => `${kind.length}:${kind}${key}`

const toJob = <A>(entry: Entry): DurableOffload.Job<A> => ({
  id: entry.id,
  kind: entry.kind,
  key: entry.key,
  payload: Option.some(entry.payload as A),
  status: entry.status,
  attempts: entry.attempts,
  maxAttempts: entry.maxAttempts,
  runAt: entry.runAt,
  lockedBy: entry.status === "running" ? "test" : null,
  lastError: entry.lastError,
  createdAt: entry.createdAt,
  updatedAt: entry.finishedAt ?? entry.createdAt,
  finishedAt: entry.finishedAt
})

const make = <R>(
  registrations: ReadonlyArray<DurableOffload.Registration<R>>
): Effect.Effect<
  Context.Context<DurableOffload.DurableOffload | TestDurableOffload>,
  DurableOffloadError.InvalidKind,
  R | Scope.Scope
> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<R>()
    const handlers = new Map<string, DurableOffload.Registration<R>>()
    for (const registration of registrations) {
      const info = yield* DurableOffload.describeKind(registration.kind)
      handlers.set(info.name, registration)
    }
    const rows: Array<Row> = []
    const ever = new Set<string>()
    let seq = 0
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
      })
    )

    const latest = (kind: string, key: string) => {
      for (let i = rows.length - 1; i >= 0; i--)
        if (rows[i]!.entry.kind === kind && rows[i]!.entry.key === key) return rows[i]
      return undefined
    }
    const live = (kind: string, key: string) =>
      rows.find(
        (r) =>
          r.entry.kind === kind && r.entry.key === key && (r.entry.status === "pending" || r.entry.status === "running")
      )
    const update = (row: Row, patch: Partial<Entry>) => {
      row.entry = { ...row.entry, ...patch }
    }

    const enqueue: DurableOffload.DurableOffload["enqueue"] = (kind, payload, options) =>
      Effect.gen(function* () {
        const info = yield* DurableOffload.describeKind(kind)
        const prepared = yield* DurableOffload.prepare(kind, payload, options)
        if (closed || Result.isFailure(prepared.key)) {
          yield* Effect.logWarning(
            `durable enqueue rejected: ${closed ? "the service is closed" : Result.isFailure(prepared.key) ? prepared.key.failure : ""}`
          ).pipe(Effect.annotateLogs({ fibervisor: "durable", kind: info.name }))
          return "rejected" as const
        }
        const key = prepared.key.success
        const ident = identity(info.name, key)
        if (info.dedupe === "ever" ? ever.has(ident) || latest(info.name, key) !== undefined : live(info.name, key)) {
          return "deduplicated" as const
        }
        if (info.dedupe === "ever") ever.add(ident)
        const decoded = yield* DurableOffload.decodeStored(kind, prepared.stored)
        const now = yield* Clock.currentTimeMillis
        const handler = handlers.get(info.name)
        rows.push({
          seq: ++seq,
          timeoutMs: info.timeoutMs,
          run:
            handler === undefined
              ? undefined
              : (p, job) =>
                  Effect.provide(
                    Effect.suspend(() => handler.handler(p, job)),
                    context
                  ),
          entry: {
            id: String(seq),
            kind: info.name,
            key,
            payload: decoded,
            status: "pending",
            attempts: 0,
            maxAttempts: info.maxAttempts,
            runAt: now + prepared.delayMs,
            lastError: null,
            createdAt: now,
            finishedAt: null
          }
        })
        return "enqueued" as const
      })

    const runOne = (row: Row): Effect.Effect<Exit.Exit<unknown, unknown>> =>
      Effect.gen(function* () {
        const attempt = row.entry.attempts + 1
        update(row, { status: "running", attempts: attempt })
        const job: DurableOffload.JobContext = {
          id: row.entry.id,
          kind: row.entry.kind,
          key: row.entry.key,
          attempt,
          maxAttempts: row.entry.maxAttempts
        }
        const work = row.run!(row.entry.payload, job)
        const timed =
          row.timeoutMs === undefined
            ? work
            : Effect.flatMap(Effect.timeoutOption(work, row.timeoutMs), (o) =>
                Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(`timed out after ${row.timeoutMs} ms`)
              )
        const exit = yield* Effect.exit(timed)
        const now = yield* Clock.currentTimeMillis
        if (Exit.isSuccess(exit)) {
          update(row, { status: "completed", finishedAt: now })
        } else {
          const reason = Cause.pretty(exit.cause).split("\n")[0] ?? "failed"
          if (attempt >= row.entry.maxAttempts) update(row, { status: "failed", lastError: reason, finishedAt: now })
          else update(row, { status: "pending", lastError: reason, runAt: now })
        }
        return exit
      })

    const service: DurableOffload.DurableOffload = {
      enqueue,
      inspect: (kind, key) =>
        Effect.map(DurableOffload.describeKind(kind), (info) => {
          const row = latest(info.name, key)
          return row === undefined ? Option.none() : Option.some(toJob(row.entry))
        }),
      list: (kind, status, options) =>
        Effect.map(DurableOffload.describeKind(kind), (info) =>
          rows
            .filter((r) => r.entry.kind === info.name && r.entry.status === status)
            .reverse()
            .slice(0, options?.limit ?? 100)
            .map((r) => toJob(r.entry))
        ),
      cancel: (kind, key) =>
        Effect.gen(function* () {
          const info = yield* DurableOffload.describeKind(kind)
          const row = live(info.name, key)
          if (row === undefined) return "absent" as const
          if (row.entry.status === "running") return "running" as const
          update(row, { status: "cancelled", finishedAt: yield* Clock.currentTimeMillis })
          return "cancelled" as const
        }),
      retryFailed: (kind, key) =>
        Effect.gen(function* () {
          const info = yield* DurableOffload.describeKind(kind)
          const now = yield* Clock.currentTimeMillis
          const seen = new Set<string>()
          let count = 0
          for (const row of [...rows].reverse()) {
            const e = row.entry
            if (e.kind !== info.name || e.status !== "failed" || (key !== undefined && e.key !== key)) continue
            if (seen.has(e.key)) continue
            seen.add(e.key)
            if (live(e.kind, e.key) !== undefined) continue
            update(row, { status: "pending", attempts: 0, runAt: now, finishedAt: null })
            count++
          }
          return count
        }),
      counts: (kind) =>
        Effect.map(DurableOffload.describeKind(kind), (info) => {
          const counts = { pending: 0, running: 0, failed: 0, completed: 0, cancelled: 0 }
          for (const row of rows) if (row.entry.kind === info.name) counts[row.entry.status]++
          return counts
        }),
      cleanup: (options) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const olderThan = yield* olderThanMillis(options)
          let count = 0
          for (let i = rows.length - 1; i >= 0; i--) {
            const e = rows[i]!.entry
            if ((e.status === "completed" || e.status === "cancelled") && e.finishedAt! < now - olderThan) {
              rows.splice(i, 1)
              count++
            }
          }
          return count
        })
    }

    const control: TestDurableOffload = {
      entries: Effect.sync(() => rows.filter((r) => r.entry.status === "pending").map((r) => r.entry)),
      history: Effect.sync(() => rows.map((r) => r.entry)),
      runAll: Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const due = rows
          .filter((r) => r.entry.status === "pending" && r.entry.runAt <= now && r.run !== undefined)
          .sort((a, b) => a.entry.runAt - b.entry.runAt || a.seq - b.seq)
        const exits: Array<Exit.Exit<unknown, unknown>> = []
        for (const row of due) exits.push(yield* runOne(row))
        return exits
      }),
      clear: Effect.sync(() => {
        rows.length = 0
        ever.clear()
      })
    }
    return Context.make(DurableOffload.DurableOffload, service).pipe(Context.add(TestDurableOffload, control))
  })

/**
 * The recording layer: `DurableOffload` (recording) and `TestDurableOffload` (control). Pass the
 * handlers `runAll` should run (`kind.handle(…)`); their requirements are taken from the layer's
 * context. A bad kind among them fails the layer with `InvalidKind`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { DurableOffload } from "@fibervisor/durable"
 * import { TestDurableOffload } from "@fibervisor/vitest/TestDurableOffload"
 *
 * const Email = DurableOffload.kind("email", { payload: Schema.Struct({ to: Schema.String }), key: (p) => p.to })
 * const sent: Array<string> = []
 *
 * const test = Effect.gen(function* () {
 *   yield* DurableOffload.enqueue(Email, { to: "ada@example.com" })
 *   const kit = yield* TestDurableOffload
 *   yield* kit.runAll
 *   return sent // ["ada@example.com"]
 * }).pipe(Effect.provide(layer([Email.handle(({ to }) => Effect.sync(() => sent.push(to)))])))
 * ```
 *
 * @since 1.0.0
 * @category layers
 */
export const layer = <R = never>(
  registrations: ReadonlyArray<DurableOffload.Registration<R>> = []
): Layer.Layer<DurableOffload.DurableOffload | TestDurableOffload, DurableOffloadError.InvalidKind, R> =>
  Layer.effectContext(make(registrations))

const accessors = recorderAccessors(TestDurableOffload)

/**
 * Jobs pending (due or not), oldest first.
 *
 * @since 1.0.0
 * @category accessors
 */
export const entries: Effect.Effect<ReadonlyArray<Entry>, never, TestDurableOffload> = accessors.entries

/**
 * Every job accepted, in any status, oldest first.
 *
 * @since 1.0.0
 * @category accessors
 */
export const history: Effect.Effect<ReadonlyArray<Entry>, never, TestDurableOffload> = accessors.history

/**
 * Runs the due pending jobs (one attempt each) in the calling fiber and returns their exits.
 *
 * @since 1.0.0
 * @category accessors
 */
export const runAll: Effect.Effect<
  ReadonlyArray<Exit.Exit<unknown, unknown>>,
  never,
  TestDurableOffload
> = accessors.runAll

/**
 * Forgets every job and the "ever" ledger.
 *
 * @since 1.0.0
 * @category accessors
 */
export const clear: Effect.Effect<void, never, TestDurableOffload> = accessors.clear
