/**
 * The registry of one supervisor: which tasks it holds, found by id or by name (OTP's "Access
 * #state.children" section; taskvisor's `registry/state.rs`).
 *
 * **Owns** the two indexes (name → `Entry`, and `TaskId → Entry` made on the first lookup by id) and the count of registered entries,
 * whose `whenEmpty` resumes once every task's fiber has exited.
 *
 * **Data flow**: `SupervisorImpl.spawn` → `add` (the task is registered before its fiber starts);
 * the fiber's exit (`onFiberExit`, or `finalizeParked` for a task parked by a group
 * restart) → `remove`, then `TaskRemoved` and the controller's hand-over, then `left`.
 *
 * **Invariants**
 * - A name stays taken until its entry's fiber has exited, abandoned ones included: an entry is
 *   removed only when its fiber has exited (and, if it was parked, its outcome is decided).
 * - The count drops only in `left`, after whatever the removal hands over (a slot's next owner) is
 *   registered, so that the registry never touches empty in between (`whenEmpty` would resume).
 * - `values()` is the live index in insertion order: an entry removed while a caller iterates is
 *   skipped, one added is visited (callers that stop tasks while iterating rely on both).
 * - Once draining (the shutdown has begun), a removed entry stays in the indexes, unflagged, until
 *   the last one leaves; every read skips it, so the registry reads exactly as if it were deleted.
 * - Insertion order is id order, except for controller submissions, whose id is reserved when they
 *   are queued: `inIdOrder` sorts only when one of those broke the order.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type { TaskRef } from "../../Supervisor.js"
import type { TaskId } from "../../TaskId.js"
import type { Entry } from "../entry.js"
import { ZeroSignal } from "../zeroSignal.js"

/** The tasks one supervisor holds, by id and by name. */
export class Registry {
  /** Every entry, by name (names are unique among registered entries): the live index. */
  private readonly byName = new Map<string, Entry>()
  /**
   * By id, made on the first lookup by id and kept from then on: most supervisors are never asked
   * by id, and a second index costs every task a hash-table insert and delete (perf, issue 15).
   */
  private idIndex: Map<TaskId, Entry> | undefined = undefined
  /** Entries in the registry (a task leaves it when its fiber has exited). */
  private readonly count = new ZeroSignal()
  /**
   * Set once the supervisor's shutdown has begun (`drain`): from then on the registry only shrinks
   * (nothing is admitted), so a removed entry is only unflagged (`Entry.registered`) and left in the
   * indexes, which are cleared at once when the last entry leaves. Deleting 100k names one by one
   * from a large hash table cost a shutdown ≈ 0.3 µs per task (issue 15); reads skip the stale ones.
   */
  private draining = false
  /** Removed entries still in the indexes (only while draining). */
  private stale = 0

  get size(): number {
    return this.byName.size - this.stale
  }

  /** Registers `entry` under its id and name (the name must be free). */
  add(entry: Entry): void {
    entry.registered = true
    this.byName.set(entry.name, entry)
    this.idIndex?.set(entry.id, entry)
    this.count.increment()
  }

  /** Takes `entry` out of both indexes: its name is free again. `left()` follows once the removal is handed over. */
  remove(entry: Entry): void {
    // Admission keeps one registered entry per name, so the flag says whether the name is this entry's.
    if (!entry.registered) return
    entry.registered = false
    if (this.draining) {
      this.stale += 1
      return
    }
    this.byName.delete(entry.name)
    this.idIndex?.delete(entry.id)
  }

  /** Counts a removed entry out; resumes `whenEmpty` when it was the last. */
  left(): void {
    if (this.stale > 0 && this.stale === this.byName.size) {
      this.byName.clear()
      this.idIndex?.clear()
      this.stale = 0
    }
    this.count.decrement()
  }

  /** The shutdown has begun: removals leave the indexes as they are until the last entry leaves (see `draining`). */
  drain(): void {
    this.draining = true
  }

  /** Resumes when the registry is empty: every task's fiber has exited, abandoned ones included. */
  get whenEmpty(): Effect.Effect<void> {
    return this.count.await
  }

  /** The entry `ref` names (an id, or a name). */
  get(ref: TaskRef): Entry | undefined {
    return live(typeof ref === "string" ? this.byName.get(ref) : this.byId.get(ref))
  }

  private get byId(): Map<TaskId, Entry> {
    if (this.idIndex === undefined) {
      this.idIndex = new Map()
      for (const entry of this.values()) this.idIndex.set(entry.id, entry)
    }
    return this.idIndex
  }

  /** The entry named `name`. */
  named(name: string): Entry | undefined {
    return live(this.byName.get(name))
  }

  hasName(name: string): boolean {
    return this.stale === 0 ? this.byName.has(name) : this.named(name) !== undefined
  }

  /** `entry` is registered (in this registry: an entry belongs to one supervisor). */
  holds(entry: Entry): boolean {
    return entry.registered
  }

  /** The live index, in insertion order (see the header); stale entries (while draining) are skipped. */
  values(): IterableIterator<Entry> {
    return this.draining ? registeredOnly(this.byName.values()) : this.byName.values()
  }

  /**
   * Calls `f` with each registered entry, in insertion order, by the live index's rule (one
   * removed meanwhile is skipped, one added is visited). `Map.forEach`, not an iterator: a shutdown
   * walks every task, and an iterator's result objects cost ≈ 40 bytes each.
   */
  forEach(f: (entry: Entry) => void): void {
    this.byName.forEach((entry) => {
      if (entry.registered) f(entry)
    })
  }

  /** The entries in id order. */
  inIdOrder(): Array<Entry> {
    const entries = Array.from(this.values())
    for (let i = 1; i < entries.length; i++) {
      if (entries[i - 1]!.id > entries[i]!.id) return entries.sort((a, b) => a.id - b.id)
    }
    return entries
  }

  /** Parked entries: their fiber exited for a group restart that has not started them again yet. */
  parked(): Array<Entry> {
    const found: Array<Entry> = []
    this.forEach((entry) => {
      if (entry.isParked) found.push(entry)
    })
    return found
  }

  /** Entries whose fiber has not exited yet. */
  stillRunning(): Array<Entry> {
    const found: Array<Entry> = []
    this.forEach((entry) => {
      if (!entry.exited) found.push(entry)
    })
    return found
  }
}

/** `entry` if it is still registered (a stale one, removed while draining, reads as absent). */
const live = (entry: Entry | undefined): Entry | undefined =>
  entry !== undefined && entry.registered ? entry : undefined

/** The registered entries of `entries`, each checked when it is reached (the live index's rule). */
function* registeredOnly(entries: IterableIterator<Entry>): IterableIterator<Entry> {
  for (const entry of entries) if (entry.registered) yield entry
}
