/**
 * The admission controller behind `submit` (taskvisor's): slots by key, each with at most one owner
 * and a FIFO of submissions behind it; `queue`, `replace`, `drop-if-running`.
 *
 * Data flow: `submit` checks its options and the task, then starts the submission at once
 * (`SupervisorImpl.spawn`, with the id and the `settled` signal reserved at submission), queues it,
 * or rejects it (outcome `Rejected`, event `SlotRejected`). When an owner's entry leaves the
 * registry, `SupervisorImpl.unregister` calls `ownerExited` and the slot passes to its next submission.
 * The shutdown (`SupervisorImpl.haltPending`) calls `shutdown`; a `remove` / `cancel` of a task
 * that is only queued ends in `removeQueued`.
 *
 * Invariants:
 * - A slot frees only when its owner's fiber has exited: an abandoned owner still holds it.
 * - A queued submission counts in the supervisor's `pending` until it starts or is rejected.
 * - Only busy slots are kept: a slot with neither owner nor queue is deleted.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Option from "effect/Option"
import type { AddError, SlotInfo, SubmitOptions, Supervisor, TaskHandle, TaskRef } from "../Supervisor.js"
import { InvalidArgument, SupervisorShuttingDown } from "../SupervisorError.js"
import {
  Admission as AdmissionSchema,
  type SlotRejected,
  type SlotStatus as SlotStatusSchema
} from "../SupervisorEvent.js"
import type { Task } from "../Task.js"
import * as TaskId from "../TaskId.js"
import * as TaskOutcome from "../TaskOutcome.js"
import { type Caller, withCaller } from "./compat.js"
import { describe } from "./duration.js"
import type { Entry } from "./entry.js"
import { Handle } from "./handle.js"
import { Signal } from "./signal.js"
import { misplaced as misplacedUnder } from "./supervisor/admission.js"
import { slotRejected, slotSubmitted, slotTransition } from "./supervisor/events.js"
import { requestStop, startGrace, type StopHost } from "./supervisor/stop.js"
import { type ResolvedTask, resolveTask } from "./task.js"

/** How a submission is admitted (declared once, by `SupervisorEvent.Admission`). */
type Admission = typeof AdmissionSchema.Type
/** What a slot is doing (declared once, by `SupervisorEvent.SlotStatus`). */
type SlotStatus = typeof SlotStatusSchema.Type
/** Why a submission never starts (declared once, by `SupervisorEvent.SlotRejected`). */
type Rejection = (typeof SlotRejected.Type)["kind"]

const admissions: ReadonlyArray<Admission> = AdmissionSchema.literals

/**
 * What the controller needs from its supervisor (`SupervisorImpl` implements it): the stop
 * protocol's view (to stop an owner a `replace` displaces), plus registration and the count of
 * tasks without an outcome, which queued submissions are part of.
 */
export interface ControllerHost extends StopHost, Pick<Supervisor, "cancel"> {
  readonly path: string
  childPath(name: string): string
  hasName(name: string): boolean
  /** Registers an admitted task and starts its fiber, under the id reserved at submission. */
  spawn(
    spec: ResolvedTask,
    caller: Caller<unknown>,
    isStatic: boolean,
    id: TaskId.TaskId,
    settled: Signal<TaskOutcome.TaskOutcome>
  ): Entry
  /** A submission waits in a slot's queue: it counts as a task without an outcome (for `awaitEmpty`). */
  submissionQueued(): void
  /** A queued submission left its queue: it started (counted as its task now), or it never will. */
  submissionDequeued(): void
}

/** A submission waiting in its slot's queue. Its id is reserved at submission. */
class Submission {
  readonly settled = new Signal<TaskOutcome.TaskOutcome>()
  constructor(
    readonly id: TaskId.TaskId,
    readonly spec: ResolvedTask,
    readonly caller: Caller<unknown>,
    readonly slot: Slot
  ) {}
  get name(): string {
    return this.spec.name
  }
}

/**
 * A slot's FIFO of submissions. The hand-over takes the head in O(1) (`Array.shift` moves every
 * element behind it: O(n²) to drain a long queue): a head index, and the array is compacted once
 * its spent front is at least half of it, so each submission is moved at most a few times.
 */
class SubmissionQueue {
  private items: Array<Submission | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  /** The next submission to start, if any. */
  get first(): Submission | undefined {
    return this.items[this.head]
  }

  /** Puts `submission` in the head's place (the queue must not be empty). */
  replaceFirst(submission: Submission): void {
    this.items[this.head] = submission
  }

  push(submission: Submission): void {
    this.items.push(submission)
  }

  shift(): Submission | undefined {
    const items = this.items
    if (this.head >= items.length) return undefined
    const submission = items[this.head]
    items[this.head] = undefined
    this.head += 1
    if (this.head === items.length) {
      this.items = []
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    return submission
  }

  /** Takes out the first submission `matches` accepts. */
  remove(matches: (submission: Submission) => boolean): Submission | undefined {
    const items = this.items
    for (let i = this.head; i < items.length; i++) {
      const submission = items[i]!
      if (matches(submission)) {
        items.splice(i, 1)
        return submission
      }
    }
    return undefined
  }

  /** Takes out every submission, in order. */
  takeAll(): Array<Submission> {
    const all = this.items.slice(this.head) as Array<Submission>
    this.items = []
    this.head = 0
    return all
  }
}

/** One key of the controller: at most one owner running, a FIFO of submissions behind it. */
class Slot {
  owner: Entry | undefined = undefined
  status: SlotStatus = "idle"
  readonly queue = new SubmissionQueue()
  constructor(readonly name: string) {}
}

/**
 * taskvisor's keyed admission controller: per slot, one owner at a time; `queue` waits FIFO
 * behind it (bounded), `replace` stops it and runs the newest, `drop-if-running` is refused while
 * it runs. A slot frees only when its owner's fiber has exited (an abandoned owner still holds it).
 */
export class Controller {
  private readonly slots = new Map<string, Slot>()
  /** The slot each owner holds. */
  private readonly owned = new Map<Entry, Slot>()

  constructor(private readonly supervisor: ControllerHost) {}

  submit<E, R>(
    task: Task<E, R>,
    options: SubmitOptions | undefined
  ): Effect.Effect<TaskHandle, AddError | InvalidArgument, R> {
    return withCaller<TaskHandle, AddError | InvalidArgument, R, never>((caller) => {
      const checked = checkOptions(options)
      if (Result.isFailure(checked)) return Effect.fail(checked.failure)
      const sup = this.supervisor
      const resolved = resolveTask(task, sup.config.defaults)
      if (Result.isFailure(resolved)) return Effect.fail(resolved.failure)
      const misplaced = misplacedUnder(sup.config, resolved.success)
      if (misplaced !== undefined) return Effect.fail(misplaced)
      if (sup.shuttingDown) return Effect.fail(new SupervisorShuttingDown())
      const spec = resolved.success
      const slotName = checked.success.slot ?? spec.name
      let slot = this.slots.get(slotName)
      if (slot === undefined) {
        slot = new Slot(slotName)
        this.slots.set(slotName, slot)
      }
      const submission = new Submission(TaskId.unsafeNext(), spec, caller as Caller<unknown>, slot)
      const handle = new Handle(submission, sup)
      if (sup.listening) {
        sup.emit(slotSubmitted(submission.id, spec.name, sup.childPath(spec.name), slotName, checked.success.admission))
      }
      if (slot.owner === undefined && slot.queue.length === 0) {
        if (!this.start(submission)) this.slots.delete(slotName)
        return Effect.succeed(handle)
      }
      switch (checked.success.admission) {
        case "drop-if-running":
          this.reject(submission, "SlotBusy", `slot "${slotName}" is busy`)
          break
        case "queue":
          if (slot.queue.length >= sup.config.maxSlotQueue) {
            this.reject(
              submission,
              "QueueFull",
              `slot "${slotName}" already has ${slot.queue.length} queued (maxSlotQueue)`
            )
          } else {
            this.enqueue(slot, submission)
          }
          break
        case "replace": {
          const head = slot.queue.first
          if (head !== undefined) {
            // One queued submission takes another's place: the count of queued ones stays as it is.
            slot.queue.replaceFirst(submission)
            this.reject(head, "SupersededByReplace", `replaced by a newer submission to slot "${slotName}"`)
          } else {
            this.enqueue(slot, submission)
          }
          const owner = slot.owner
          if (owner !== undefined && slot.status === "running" && requestStop(sup, owner, "replace")) {
            // An owner parked for a group restart ends at once and has already passed the slot on.
            if (slot.owner === owner) {
              startGrace(sup, owner)
              this.transition(slot, "terminating", "replace")
            }
          }
          break
        }
      }
      return Effect.succeed(handle)
    })
  }

  private enqueue(slot: Slot, submission: Submission): void {
    slot.queue.push(submission)
    this.supervisor.submissionQueued()
  }

  /** Starts `submission` as its slot's owner; `false` (and rejected) when its name is taken. */
  private start(submission: Submission): boolean {
    const sup = this.supervisor
    const slot = submission.slot
    if (sup.hasName(submission.name)) {
      this.reject(submission, "AlreadyExists", `a task named "${submission.name}" already exists`)
      return false
    }
    const entry = sup.spawn(submission.spec, submission.caller, false, submission.id, submission.settled)
    slot.owner = entry
    this.owned.set(entry, slot)
    this.transition(slot, "running", "admitted")
    return true
  }

  private reject(submission: Submission, kind: Rejection, reason: string): void {
    const sup = this.supervisor
    if (sup.listening) {
      sup.emit(
        slotRejected(submission.id, submission.name, sup.childPath(submission.name), submission.slot.name, kind, reason)
      )
    }
    submission.settled.complete(new TaskOutcome.Rejected({ kind, reason }))
  }

  private transition(slot: Slot, to: SlotStatus, reason: string): void {
    const from = slot.status
    slot.status = to
    const sup = this.supervisor
    if (!sup.listening) return
    sup.emit(slotTransition(sup.path, slot.name, from, to, slot.queue.length, reason, slot.owner?.name))
  }

  /** An entry left the registry: if it owned a slot, the slot passes to the next submission. */
  ownerExited(entry: Entry): void {
    const slot = this.owned.get(entry)
    if (slot === undefined) return
    this.owned.delete(entry)
    slot.owner = undefined
    this.startNext(slot)
  }

  private startNext(slot: Slot): void {
    while (slot.owner === undefined) {
      const next = slot.queue.shift()
      if (next === undefined) {
        if (slot.status !== "idle") this.transition(slot, "idle", "owner exited")
        this.slots.delete(slot.name)
        return
      }
      this.start(next)
      // After the start, so the count of undecided tasks never touches zero in between.
      this.supervisor.submissionDequeued()
    }
  }

  /** Takes a queued submission out of its queue: it resolves `Rejected { kind: "RemovedFromQueue" }`. */
  removeQueued(ref: TaskRef): boolean {
    for (const slot of this.slots.values()) {
      const submission = slot.queue.remove((s) => (typeof ref === "string" ? s.name === ref : s.id === ref))
      if (submission === undefined) continue
      this.reject(submission, "RemovedFromQueue", "removed before it started")
      this.supervisor.submissionDequeued()
      return true
    }
    return false
  }

  /** Shutdown: queued work never starts. */
  shutdown(): void {
    for (const slot of this.slots.values()) {
      const queued = slot.queue.takeAll()
      for (const submission of queued) {
        this.reject(submission, "ShuttingDown", "the supervisor is shutting down")
        this.supervisor.submissionDequeued()
      }
    }
  }

  slotInfos(): ReadonlyArray<SlotInfo> {
    return Array.from(this.slots.values(), (slot) => ({
      slot: slot.name,
      status: slot.status,
      owner: slot.owner === undefined ? Option.none() : Option.some({ id: slot.owner.id, name: slot.owner.name }),
      queued: slot.queue.length
    }))
  }
}

const checkOptions = (
  options: SubmitOptions | undefined
): Result.Result<{ readonly slot: string | undefined; readonly admission: Admission }, InvalidArgument> => {
  const fail = (field: string, reason: string) =>
    Result.fail(new InvalidArgument({ operation: "submit", field, reason }))
  if (typeof options !== "object" || options === null) {
    return fail("options", `must be an object { slot?, admission }, got ${describe(options)}`)
  }
  if (!admissions.includes(options.admission)) {
    return fail("admission", `must be one of "queue", "replace", "drop-if-running", got ${describe(options.admission)}`)
  }
  const slot: unknown = options.slot
  if (slot !== undefined && (typeof slot !== "string" || slot.trim() === "")) {
    return fail("slot", `must be a non-empty string, got ${describe(slot)}`)
  }
  return Result.succeed({ slot: slot as string | undefined, admission: options.admission })
}
