/**
 * `dashboard.durable`: `GET /api/durable` shows, per durable kind given, its jobs per status and
 * its latest dead letters (failure texts hidden unless `showPayloads`; a kind whose store cannot
 * answer shows its error, the others still show); `POST /api/actions` with
 * `{ action: "durable-retry", kind, key? }` puts dead letters back to `pending`, audited like every
 * action; the option is checked (kinds only, each once, and the service must be in the context).
 * On the real `DurableOffload.layerMemory` with workers, real clock.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Schema } from "effect"
import { Supervisor } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { HealthServer } from "@fibervisor/platform-node"
import { act, audits, get, jsonOf, start, type Started, token, uniqueRoot, until } from "./dashboardHelpers.js"

/** A kind whose handler fails each job the first `failing` times it runs it (one attempt per job). */
const failingKind = (name: string, failing: number) => {
  const runs = new Map<string, number>()
  const kind = DurableOffload.kind(name, {
    payload: Schema.Struct({ to: Schema.String }),
    key: (p) => p.to,
    maxAttempts: 1
  })
  const registration = kind.handle((payload) =>
    Effect.suspend(() => {
      const n = (runs.get(payload.to) ?? 0) + 1
      runs.set(payload.to, n)
      return n <= failing ? Effect.fail(`smtp refused ${payload.to}`) : Effect.void
    })
  )
  return { kind, registration, runs: (to: string) => runs.get(to) ?? 0 }
}

/** `DurableOffload.layerMemory` with workers for `registrations` (polling every 20 ms). */
const durableLayer = (registrations: ReadonlyArray<DurableOffload.Registration<never>>) =>
  Layer.provideMerge(
    DurableOffload.workers(registrations, { pollInterval: "20 millis", grace: 0 }),
    DurableOffload.layerMemory
  ).pipe(Layer.orDie)

interface KindView {
  readonly kind: string
  readonly counts?: Record<"pending" | "running" | "completed" | "failed" | "cancelled", number>
  readonly deadLetters?: ReadonlyArray<{
    readonly key: string
    readonly attempts: number
    readonly maxAttempts: number
    readonly lastError: string | null
    readonly finishedAt: number | null
  }>
  readonly error?: string
}

const kindsOf = (started: Started) =>
  Effect.map(get(started, "/api/durable"), (reply) => {
    expect(reply.status, reply.text).toBe(200)
    return jsonOf(reply).kinds as ReadonlyArray<KindView>
  })

/** Starts a dashboard showing `kinds`, with the durable service and its workers below it. */
/** Starts a dashboard showing `kinds`, with the durable service and its workers below it. */
const startWith = (
  name: string,
  kinds: ReadonlyArray<DurableOffload.Kind<any, any>>,
  registrations: ReadonlyArray<DurableOffload.Registration<never>>,
  options: { readonly showPayloads?: boolean } = {}
) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(durableLayer(registrations))
    const started = yield* start(
      uniqueRoot(name),
      { token, durable: kinds, ...options },
      { services: Layer.succeedContext(context) }
    )
    const service = Context.get(context, DurableOffload.DurableOffload)
    return { started, enqueue: <A, I>(kind: DurableOffload.Kind<A, I>, payload: A) => service.enqueue(kind, payload) }
  })

describe("Dashboard: durable jobs", () => {
  it.live("GET /api/durable: counts per status and the latest dead letters, failure texts hidden", () =>
    Effect.gen(function* () {
      const mail = failingKind("dash-mail", 1)
      const idle = failingKind("dash-idle", 0)
      const { enqueue, started } = yield* startWith(
        "durable-view",
        [mail.kind, idle.kind],
        [mail.registration, idle.registration]
      )
      yield* enqueue(mail.kind, { to: "a@example.com" })
      yield* enqueue(mail.kind, { to: "b@example.com" })
      const kinds = yield* until("two dead letters", kindsOf(started), (k) => k[0]?.counts?.failed === 2)
      expect(kinds.map((k) => k.kind)).toEqual(["dash-mail", "dash-idle"])
      const [view, quiet] = kinds
      expect(view!.counts).toEqual({ pending: 0, running: 0, completed: 0, failed: 2, cancelled: 0 })
      expect(view!.deadLetters!.map((d) => d.key).sort()).toEqual(["a@example.com", "b@example.com"])
      for (const dead of view!.deadLetters!) {
        expect(dead).toMatchObject({ attempts: 1, maxAttempts: 1, lastError: "[hidden]" })
        expect(typeof dead.finishedAt).toBe("number")
      }
      expect(quiet).toEqual({
        kind: "dash-idle",
        counts: { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 },
        deadLetters: []
      })
      const snapshot = jsonOf(yield* get(started, "/api/snapshot"))
      expect(snapshot.durable).toBe(true)
    }).pipe(Effect.scoped)
  )

  it.live("showPayloads: the dead letters' failure texts are shown", () =>
    Effect.gen(function* () {
      const mail = failingKind("dash-mail-shown", 1)
      const { enqueue, started } = yield* startWith("durable-shown", [mail.kind], [mail.registration], {
        showPayloads: true
      })
      yield* enqueue(mail.kind, { to: "c@example.com" })
      const [view] = yield* until("the dead letter", kindsOf(started), (k) => k[0]?.counts?.failed === 1)
      expect(view!.deadLetters![0]!.lastError).toContain("smtp refused c@example.com")
    }).pipe(Effect.scoped)
  )

  it.live("durable-retry: one key, then every dead letter of the kind; audited; 404 when none is left", () =>
    Effect.gen(function* () {
      const mail = failingKind("dash-retry", 1)
      const { enqueue, started } = yield* startWith("durable-retry", [mail.kind], [mail.registration])
      const audit = yield* audits(started.sup)
      for (const to of ["d@example.com", "e@example.com", "f@example.com"]) yield* enqueue(mail.kind, { to })
      yield* until("three dead letters", kindsOf(started), (k) => k[0]?.counts?.failed === 3)

      const one = yield* act(started, { action: "durable-retry", kind: "dash-retry", key: "d@example.com" })
      expect(one.status, one.text).toBe(200)
      expect(jsonOf(one)).toEqual({
        ok: true,
        action: "durable-retry",
        kind: "dash-retry",
        key: "d@example.com",
        retried: 1,
        done: true
      })
      expect(yield* audit.next).toMatchObject({
        action: "durable-retry",
        path: "durable:dash-retry#d@example.com",
        outcome: "done",
        source: "dashboard"
      })
      yield* until("the retried job to complete", kindsOf(started), (k) => k[0]?.counts?.completed === 1)
      expect(mail.runs("d@example.com")).toBe(2)

      const all = yield* act(started, { action: "durable-retry", kind: "dash-retry" })
      expect(all.status, all.text).toBe(200)
      expect(jsonOf(all)).toEqual({ ok: true, action: "durable-retry", kind: "dash-retry", retried: 2, done: true })
      expect(yield* audit.next).toMatchObject({ path: "durable:dash-retry#*", outcome: "done" })
      const [done] = yield* until("every job to complete", kindsOf(started), (k) => k[0]?.counts?.completed === 3)
      expect(done!.counts!.failed).toBe(0)
      expect(done!.deadLetters).toEqual([])

      const none = yield* act(started, { action: "durable-retry", kind: "dash-retry" })
      expect(none.status).toBe(404)
      expect(jsonOf(none)).toEqual({ ok: false, error: 'no dead letter of durable kind "dash-retry"' })
      expect(yield* audit.next).toMatchObject({ outcome: "not-found" })
      const gone = yield* act(started, { action: "durable-retry", kind: "dash-retry", key: "d@example.com" })
      expect(jsonOf(gone)).toEqual({
        ok: false,
        error: 'no dead letter with key "d@example.com" of durable kind "dash-retry"'
      })
    }).pipe(Effect.scoped)
  )

  it.live("durable-retry refused: unknown kind (404), a bad body (400), no token (401); each audited", () =>
    Effect.gen(function* () {
      const mail = failingKind("dash-bad", 1)
      const { started } = yield* startWith("durable-bad", [mail.kind], [mail.registration])
      const audit = yield* audits(started.sup)
      const unknown = yield* act(started, { action: "durable-retry", kind: "other" })
      expect(unknown.status).toBe(404)
      expect(jsonOf(unknown).error).toBe('no durable kind "other" is shown (see the dashboard\'s durable option)')
      expect(yield* audit.next).toMatchObject({
        action: "durable-retry",
        path: "durable:other#*",
        outcome: "not-found"
      })
      const cases: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
        [{ action: "durable-retry" }, "kind must be a non-empty string (a durable kind)"],
        [{ action: "durable-retry", kind: 3 }, "kind must be a non-empty string (a durable kind)"],
        [
          { action: "durable-retry", kind: "dash-bad", key: "" },
          "key must be a non-empty string (a dead letter's key), or left out for every dead letter of the kind"
        ],
        [
          { action: "durable-retry", kind: "dash-bad", key: 7 },
          "key must be a non-empty string (a dead letter's key), or left out for every dead letter of the kind"
        ],
        [
          { action: "durable-retry", kind: "dash-bad", id: "x" },
          'unknown key "id" (a durable retry has action, kind and key)'
        ]
      ]
      for (const [body, error] of cases) {
        const reply = yield* act(started, body)
        expect(reply.status, JSON.stringify(body)).toBe(400)
        expect(jsonOf(reply)).toEqual({ ok: false, error })
        expect(yield* audit.next).toMatchObject({ action: "durable-retry", outcome: "refused", reason: error })
      }
      const anonymous = yield* act(started, { action: "durable-retry", kind: "dash-bad" }, { authorization: null })
      expect(anonymous.status).toBe(401)
    }).pipe(Effect.scoped)
  )

  it.live("a kind whose store cannot answer shows its error, the others still show; its retry is a 503", () =>
    Effect.gen(function* () {
      const good = failingKind("dash-good", 0)
      const broken = failingKind("dash-broken", 0)
      const real = DurableOffload.DurableOffload.of(
        yield* Effect.flatMap(Layer.build(DurableOffload.layerMemory), (context) =>
          Effect.succeed(Context.get(context, DurableOffload.DurableOffload))
        )
      )
      const down = <A>(): Effect.Effect<A, never> =>
        Effect.fail({ _tag: "StoreError", operation: "counts", cause: new Error("connection refused") }) as never
      const flaky: DurableOffload.DurableOffload = {
        enqueue: (kind, payload, options) => real.enqueue(kind, payload, options),
        inspect: (kind, key) => real.inspect(kind, key),
        list: (kind, status, options) => (kind.name === "dash-broken" ? down() : real.list(kind, status, options)),
        cancel: (kind, key) => real.cancel(kind, key),
        retryFailed: (kind, key) => (kind.name === "dash-broken" ? down() : real.retryFailed(kind, key)),
        counts: (kind) => (kind.name === "dash-broken" ? down() : real.counts(kind)),
        cleanup: (options) => real.cleanup(options)
      }
      const started = yield* start(
        uniqueRoot("durable-down"),
        { token, durable: [broken.kind, good.kind] },
        { services: Layer.succeed(DurableOffload.DurableOffload, flaky) }
      )
      expect(yield* kindsOf(started)).toEqual([
        { kind: "dash-broken", error: "the durable store could not answer: connection refused" },
        {
          kind: "dash-good",
          counts: { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 },
          deadLetters: []
        }
      ])
      const reply = yield* act(started, { action: "durable-retry", kind: "dash-broken" })
      expect(reply.status).toBe(503)
      expect(jsonOf(reply)).toEqual({ ok: false, error: "the durable store could not answer: connection refused" })
    }).pipe(Effect.scoped)
  )

  it.live("without dashboard.durable: GET /api/durable is a 404, the snapshot says durable: false", () =>
    Effect.gen(function* () {
      const started = yield* start(uniqueRoot("durable-none"), { token })
      const reply = yield* get(started, "/api/durable")
      expect(reply.status).toBe(404)
      expect(jsonOf(reply)).toEqual({
        ok: false,
        error: "no durable kind is shown (see the dashboard's durable option)"
      })
      expect(jsonOf(yield* get(started, "/api/snapshot")).durable).toBe(false)
    }).pipe(Effect.scoped)
  )

  it.live("the option: kinds only, each once, and the DurableOffload service in the context", () =>
    Effect.gen(function* () {
      const kind = failingKind("dash-option", 0).kind
      const failure = (dashboard: unknown, services?: Layer.Layer<any>) =>
        Effect.gen(function* () {
          const exit = yield* Effect.exit(
            Layer.build(
              HealthServer.layer({
                port: 0,
                host: "127.0.0.1",
                dashboard: { port: 0, ...(dashboard as object) } as HealthServer.DashboardOptions
              }).pipe(
                Layer.provideMerge(
                  services === undefined
                    ? Supervisor.layer({ name: uniqueRoot("durable-option") })
                    : Layer.merge(Supervisor.layer({ name: uniqueRoot("durable-option") }), services)
                )
              )
            )
          )
          return Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        }).pipe(Effect.scoped)
      expect(yield* failure({ durable: kind })).toMatchObject({
        _tag: "InvalidHealthServerOptions",
        field: "dashboard.durable",
        reason: expect.stringMatching(/^must be an array of durable kinds \(DurableOffload\.kind\(…\)\), got /)
      })
      expect(yield* failure({ durable: [kind, { name: "fake" }] })).toMatchObject({
        field: "dashboard.durable[1]",
        reason: expect.stringMatching(
          /^must be a durable kind \(DurableOffload\.kind\(…\) of @fibervisor\/durable\), got /
        )
      })
      expect(yield* failure({ durable: [kind, kind] })).toMatchObject({
        field: "dashboard.durable[1]",
        reason: 'names kind "dash-option" a second time'
      })
      expect(yield* failure({ durable: [kind] })).toMatchObject({
        field: "dashboard.durable",
        reason:
          "needs the DurableOffload service in the context (provide a DurableOffload layer of @fibervisor/durable below the health server)"
      })
      expect(yield* failure({ durable: [kind] }, DurableOffload.layerMemory)).toBeUndefined()
      expect(yield* failure({ durable: [] })).toBeUndefined()
    })
  )
})
