import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { Backoff, Supervisor, Task, TaskContext, TaskError } from "@fibervisor/core"

// Any OpenTelemetry exporter works (OTLP, Jaeger, console); an in-memory one lets us print the spans.
const exporter = new InMemorySpanExporter()
const Tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "billing" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))

// Fails its first attempt, succeeds on the second.
const sync = Effect.flatMap(TaskContext.TaskContext, (ctx) =>
  ctx.attempt === 1 ? Effect.fail(TaskError.fail("ledger locked")) : Effect.sleep("50 millis")
)

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  // Added inside a request span: each attempt is a root span linked to it.
  const handle = yield* sup
    .add(Task.make("sync", sync, { backoff: Backoff.constant("100 millis") }))
    .pipe(Effect.withSpan("POST /invoices"))
  yield* handle.await
  return exporter.getFinishedSpans().map((span) => {
    if (span.name !== "fibervisor.task.attempt") return span.name
    const { task, path, attempt, outcome } = span.attributes
    const linked = span.links.length > 0 ? ", linked to the request" : ""
    return `${span.name} task=${task} path=${path} attempt=${attempt} outcome=${outcome}${linked}`
  })
}).pipe(Effect.scoped, Effect.provide(Tracing))
// [
//   "POST /invoices",
//   "fibervisor.task.attempt task=sync path=root/sync attempt=1 outcome=failed, linked to the request",
//   "fibervisor.task.attempt task=sync path=root/sync attempt=2 outcome=succeeded, linked to the request"
// ]

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
