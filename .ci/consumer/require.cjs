// A CommonJS consumer: `require` of the Effect 4 line's (ESM) packages, as Node 22 allows
// (require of ES modules without top-level await). Run by .ci/consumer-check.
const { Effect } = require("effect")
const { Supervisor, Task } = require("@fibervisor/core")
const { HealthServer, NodeSupervisor } = require("@fibervisor/platform-node")

if (typeof HealthServer.make !== "function" || typeof NodeSupervisor.runMain !== "function") {
  console.error("@fibervisor/platform-node: exports missing under require")
  process.exit(1)
}

const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()
  const handle = yield* sup.add(Task.once("job", Effect.succeed(42)))
  return (yield* handle.await)._tag
}).pipe(Effect.scoped)

Effect.runPromise(program).then((tag) => {
  console.log(`require: ${tag}`)
  if (tag !== "Completed") process.exit(1)
})
