import { Effect } from "effect"
import { Backoff, Supervisor, Task } from "@fibervisor/core"

export const program = Effect.gen(function* () {
  const sup = yield* Supervisor.make()

  const invalid = [
    Task.make("", Effect.void),
    Task.make("negative-timeout", Effect.void, { timeout: -5 }),
    Task.make("fractional-retries", Effect.void, { maxRetries: 1.5 }),
    Task.make("first-above-max", Effect.void, {
      backoff: Backoff.exponential({ first: "1 second", max: "100 millis" })
    }),
    Task.make("shrinking", Effect.void, { backoff: Backoff.exponential({ first: "1 second", factor: 0.5 }) })
  ]

  // `add` checks the spec before anything runs and fails with InvalidTaskSpec: never a throw, never a clamp.
  const problems = []
  for (const task of invalid) {
    const problem = yield* sup.add(task).pipe(
      Effect.as("added"),
      Effect.catchTag("InvalidTaskSpec", (error) => Effect.succeed(`${error.field}: ${error.reason}`))
    )
    problems.push(problem)
  }

  // Task.validate checks a task without a supervisor.
  const validated = yield* Effect.flip(Task.validate(Task.make("forever", Effect.void, { resetAfter: Infinity })))

  // Bad supervisor options fail `make` with InvalidSupervisorOptions; `defaults` fields are prefixed.
  const options = yield* Effect.flip(Effect.scoped(Supervisor.make({ defaults: { maxRetries: -1 } })))

  return { problems, validated: validated.message, options: options.message }
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(program).then(console.log, console.error)
}
