import { expect, it } from "@effect/vitest"
import { Supervisor } from "@fibervisor/core"
import { DurableOffload } from "@fibervisor/durable"
import { HealthServer } from "@fibervisor/platform-node"
import { Context, Effect, Layer, Schema } from "effect"

const SendInvoice = DurableOffload.kind("send-invoice", {
  payload: Schema.Struct({ invoice: Schema.String }),
  key: (p) => p.invoice,
  maxAttempts: 1
})
const Workers = DurableOffload.workers([SendInvoice.handle(() => Effect.fail("the mail server refused it"))], {
  pollInterval: "50 millis"
})

// The dashboard shows the durable kinds it is given; the DurableOffload service sits below it
// (`DurableOffload.layerPostgres({ url })` or `layerSqlite({ filename })` in production).
const app = HealthServer.layer({
  port: 0,
  dashboard: { port: 0, token: "a-random-secret-of-16+-chars", durable: [SendInvoice] }
}).pipe(Layer.provideMerge(Layer.mergeAll(Supervisor.layer(), Layer.provideMerge(Workers, DurableOffload.layerMemory))))

/** What `GET /api/durable` answers (the part read here). */
interface DurableJobs {
  readonly kinds: ReadonlyArray<{ readonly kind: string; readonly counts: { readonly failed: number } }>
}

it.live("the dashboard lists a kind's dead letters at GET /api/durable", () =>
  Effect.gen(function* () {
    const context = yield* Layer.build(app)
    yield* DurableOffload.enqueue(SendInvoice, { invoice: "INV-7" }).pipe(Effect.provideContext(context))
    const url = Context.get(context, HealthServer.HealthServer).dashboard!.url
    const read = Effect.promise(
      () => fetch(`${url}api/durable`).then((response) => response.json()) as Promise<DurableJobs>
    )
    let body = yield* read
    while (body.kinds[0]!.counts.failed === 0) {
      yield* Effect.sleep("50 millis")
      body = yield* read
    }
    expect(body.kinds[0]).toMatchObject({
      kind: "send-invoice",
      counts: { failed: 1 },
      deadLetters: [{ key: "INV-7", attempts: 1, lastError: "[hidden]" }]
    })
  }).pipe(Effect.scoped)
)
