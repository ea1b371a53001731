/**
 * The dashboard's durable jobs (`dashboard.durable`): per kind given, its jobs per status and its
 * latest dead letters (`GET /api/durable`), and the operator's retry of dead letters (the
 * `"durable-retry"` action).
 *
 * Owns: the handle on `@fibervisor/durable`'s service, found in the context by its key, as that
 * package's own tag finds it (platform-node does not depend on `@fibervisor/durable`: a user who
 * does not use it does not install it); what `/api/durable` answers; what a durable retry does.
 *
 * Data flow: `HealthServer.make` → `source` (the kinds of the options, the service from the
 * context) → the routes: `/api/durable` → `view` (per kind: `counts`, `list(kind, "failed")`),
 * `POST /api/actions` with `durable-retry` → `retry` (`retryFailed`).
 *
 * Invariants: only what the service offers is read (`counts`, `list`, `retryFailed`): a store
 * that cannot answer for one kind shows that kind's error, and the others still show; the
 * failure texts are hidden unless `showPayloads`; payloads are never shown (keys are).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The brand of `DurableOffload.kind`'s kinds (`Symbol.for`, so no import of the package). */
const kindTypeId = Symbol.for("@fibervisor/durable/Kind")

/**
 * A kind made by `DurableOffload.kind` (`@fibervisor/durable`): what the dashboard reads of it is
 * its name; the service recognises it.
 */
export interface DurableKind {
  readonly name: string
}

/** Is `u` a kind made by `DurableOffload.kind`? */
export const isDurableKind = (u: unknown): u is DurableKind =>
  typeof u === "object" && u !== null && kindTypeId in u && typeof (u as { name?: unknown }).name === "string"

/** Jobs of a kind per status, as `DurableOffload.counts` gives them. */
export interface DurableCounts {
  readonly pending: number
  readonly running: number
  readonly completed: number
  readonly failed: number
  readonly cancelled: number
}

/** What the dashboard reads of a stored job (`DurableOffload.Job`). */
interface StoredJob {
  readonly key: string
  readonly attempts: number
  readonly maxAttempts: number
  readonly lastError: string | null
  readonly finishedAt: number | null
}

/** The part of `@fibervisor/durable`'s `DurableOffload` service the dashboard uses. */
export interface DurableService {
  counts(kind: DurableKind): Effect.Effect<DurableCounts, unknown>
  list(
    kind: DurableKind,
    status: "failed",
    options: { readonly limit: number }
  ): Effect.Effect<ReadonlyArray<StoredJob>, unknown>
  retryFailed(kind: DurableKind, key?: string): Effect.Effect<number, unknown>
}

/**
 * `@fibervisor/durable`'s service, found by its key (`"@fibervisor/durable/DurableOffload"`):
 * Effect finds a service by its key, so this is the same service that package's tag provides.
 */
const DurableOffloadService = Context.Service<DurableService>("@fibervisor/durable/DurableOffload")

/** The kinds to show, and the service that reads them. */
export interface DurableSource {
  readonly kinds: ReadonlyArray<DurableKind>
  readonly service: DurableService
}

/** The service in the context, for `kinds`; `undefined` when the context has none. */
export const source = (kinds: ReadonlyArray<DurableKind>): Effect.Effect<DurableSource | undefined> =>
  Effect.map(Effect.serviceOption(DurableOffloadService), (service) =>
    Option.isNone(service) ? undefined : { kinds, service: service.value }
  )

/** How many dead letters of each kind `/api/durable` lists (the newest). */
const deadLettersShown = 5

/** A dead letter as `/api/durable` shows it. */
export interface DeadLetter {
  readonly key: string
  readonly attempts: number
  readonly maxAttempts: number
  /** Why its last attempt failed; `"[hidden]"` unless `showPayloads`. */
  readonly lastError: string | null
  readonly finishedAt: number | null
}

/** One kind, as `/api/durable` shows it: its counts and dead letters, or why they could not be read. */
export type KindView =
  | { readonly kind: string; readonly counts: DurableCounts; readonly deadLetters: ReadonlyArray<DeadLetter> }
  | { readonly kind: string; readonly error: string }

const hidden = "[hidden]"

/** A store's error as one line (its cause's message when it has one). */
const describeError = (error: unknown): string => {
  const cause = (error as { cause?: unknown } | undefined)?.cause
  const message = (value: unknown): string | undefined =>
    value instanceof Error && value.message !== "" ? value.message : undefined
  const text = message(cause) ?? message(error) ?? String((error as { _tag?: unknown })?._tag ?? error)
  return text.length > 500 ? `${text.slice(0, 499)}…` : text
}

/** A failure (or defect) of the service, as one line. */
const causeText = (cause: Cause.Cause<unknown>): string =>
  describeError(Option.getOrElse(Cause.findErrorOption(cause), () => Cause.squash(cause)))

const kindView = (service: DurableService, kind: DurableKind, showPayloads: boolean): Effect.Effect<KindView> =>
  Effect.all([service.counts(kind), service.list(kind, "failed", { limit: deadLettersShown })]).pipe(
    Effect.map(([counts, jobs]): KindView => ({
      kind: kind.name,
      counts: {
        pending: counts.pending,
        running: counts.running,
        completed: counts.completed,
        failed: counts.failed,
        cancelled: counts.cancelled
      },
      deadLetters: jobs.map((job) => ({
        key: job.key,
        attempts: job.attempts,
        maxAttempts: job.maxAttempts,
        lastError: job.lastError === null || showPayloads ? job.lastError : hidden,
        finishedAt: job.finishedAt
      }))
    })),
    Effect.catchCause((cause) =>
      Effect.succeed<KindView>({ kind: kind.name, error: `the durable store could not answer: ${causeText(cause)}` })
    )
  )

/** Every kind's view, in the order the options give them (at most 4 read at once). */
export const view = (source: DurableSource, showPayloads: boolean): Effect.Effect<ReadonlyArray<KindView>> =>
  Effect.forEach(source.kinds, (kind) => kindView(source.service, kind, showPayloads), { concurrency: 4 })

/** What a durable retry did: how many dead letters went back to `pending`, or why it could not run. */
export type RetryResult =
  | { readonly _tag: "Retried"; readonly count: number }
  | { readonly _tag: "UnknownKind" }
  | { readonly _tag: "StoreFailed"; readonly reason: string }

/** Puts the dead letters of `kind` (one key, or all of them) back to `pending`. */
export const retry = (source: DurableSource, kind: string, key: string | undefined): Effect.Effect<RetryResult> => {
  const found = source.kinds.find((k) => k.name === kind)
  if (found === undefined) return Effect.succeed({ _tag: "UnknownKind" })
  return source.service.retryFailed(found, key).pipe(
    Effect.map((count): RetryResult => ({ _tag: "Retried", count })),
    Effect.catchCause((cause) => Effect.succeed<RetryResult>({ _tag: "StoreFailed", reason: causeText(cause) }))
  )
}
