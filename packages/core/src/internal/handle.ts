/**
 * `TaskHandle`, as `submit` returns it (`add` returns the task's entry itself, which implements
 * `TaskHandle` the same way). It reads a `Handled`: an entry, or a controller submission that is
 * still queued and hands its `settled` signal to its entry when it starts, so a handle behaves the
 * same before and after its task starts.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Duration from "effect/Duration"
import type { Supervisor, TaskHandle } from "../Supervisor.js"
import type { TaskId } from "../TaskId.js"
import type * as TaskOutcome from "../TaskOutcome.js"
import type { Signal } from "./signal.js"

/** What a handle reads: a registry entry, or a controller submission that has not started yet. */
export interface Handled {
  readonly id: TaskId
  readonly name: string
  readonly settled: Signal<TaskOutcome.TaskOutcome>
}

export class Handle implements TaskHandle {
  constructor(
    private readonly of: Handled,
    /** The supervisor `cancel` goes to. */
    private readonly owner: Pick<Supervisor, "cancel">
  ) {}
  get id() {
    return this.of.id
  }
  get name() {
    return this.of.name
  }
  get await() {
    return this.of.settled.await
  }
  get poll() {
    return Effect.sync(() => Option.fromNullishOr(this.of.settled.unsafeValue))
  }
  cancel(options?: { readonly timeout?: Duration.Input | undefined }) {
    return this.owner.cancel(this.of.id, options)
  }
}
