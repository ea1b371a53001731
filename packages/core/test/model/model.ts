/**
 * The reference model of the property tests: the design contract and the docs (tasks-and-restart-policies,
 * backoff, shutdown-and-grace, the controller section of trees) written as a small discrete-event
 * simulation over plain data. It knows nothing of Effect or of the library's code.
 *
 * Time is whole milliseconds. A state holds the registry (tasks whose fiber has not exited, in
 * spawn order), one outcome per handle, the controller's slots, the pending `cancel` calls and the
 * shutdown. Each task has at most these timers: the end of its running attempt (natural end or
 * per-attempt timeout), the end of its backoff, the exit of its fiber after a stop (the end of an
 * uninterruptible region), and its grace deadline; the shutdown has its deadline. Whatever happens
 * without time passing (an attempt of 0 ms, a restart without delay, a slot passing on) happens at
 * once, as part of the event that caused it.
 *
 * Where the docs leave an order open, every order is legal and the model keeps the set of states
 * the legal orders lead to; a step passes when the real observation equals one of them (the runner
 * then keeps only those). Open orders: timers due at the same instant (Effect 4's TestClock wakes
 * them in registration order, Effect 3's last-registered first, the virtual runtime either way);
 * which waiting task gets a freed `maxConcurrent` permit (modelled as a "grant" due at once, to
 * any waiting task); which queued submission `remove(name)` / `cancel(name)` takes when several
 * queues hold that name. One tie is never generated instead: a step that ends exactly when its
 * timeout fires (steps of 0/40/150 ms and regions of 60/450 ms against timeouts of 100/300 ms). A
 * zero backoff always comes with a retry limit (an unlimited one is a documented tight loop at one
 * instant).
 */

export type Admission = "queue" | "replace" | "drop-if-running"
/** One attempt's behaviour: succeed or fail after `n` ms, hang until stopped, or hang with the first `n` ms uninterruptible. */
export type Step = `ok:${number}` | `fail:${number}` | "hang" | `block:${number}`
export type Restart = "never" | "onFailure" | "always" | `always:${number}`
/** `const:d` is `Backoff.constant(d ms)`; `exp` is `Backoff.exponential({ first: 50 ms, factor 2, max: 400 ms })`, no jitter. */
export type BackoffSpec = `const:${number}` | "exp"

export interface Spec {
  readonly restart: Restart
  readonly backoff: BackoffSpec
  /** Per-attempt timeout in ms (absent: none). */
  readonly timeout?: number
  /** Absent: unlimited. */
  readonly maxRetries?: number
  /** The task's own grace for remove/cancel/replace in ms (absent: the supervisor's). */
  readonly grace?: number
  /** Attempt `n` runs `program[min(n, length) - 1]`: the last step repeats. */
  readonly program: ReadonlyArray<Step>
}

/**
 * A task name, or a handle: `n ≥ 0` is the n-th successful `add`/`submit` (0-based), `-n` the n-th
 * from the last one. A handle that does not exist (yet) makes the command a no-op (`"skipped"`).
 */
export type Ref = string | number

/** The handle index a numeric ref names, if it exists. */
export const handleIndex = (ref: number, handles: number): number | undefined => {
  const index = ref < 0 ? handles + ref : ref
  return index >= 0 && index < handles ? index : undefined
}

export type Command =
  | { readonly op: "add"; readonly name: string; readonly spec: Spec }
  | {
      readonly op: "submit"
      readonly name: string
      /** Absent: the task's name (the default slot). */
      readonly slot?: string
      readonly admission: Admission
      readonly spec: Spec
    }
  | { readonly op: "remove"; readonly ref: Ref }
  | { readonly op: "cancel"; readonly ref: Ref }
  | { readonly op: "advance"; readonly ms: number }
  | { readonly op: "shutdown" }

export interface Scenario {
  /** The supervisor's `grace` in ms (also the grace of every task without its own). */
  readonly grace: number
  readonly maxSlotQueue: number
  /** The supervisor's `maxConcurrent` (absent: unlimited). */
  readonly maxConcurrent?: number
  readonly commands: ReadonlyArray<Command>
}

export const EXP = { first: 50, factor: 2, max: 400 } as const

// "standby" is only set by an attempt itself (TaskContext.setStandby): the model never reaches it.
export type TaskState = "waiting" | "running" | "backing-off" | "scheduled" | "stopping" | "standby"

/** What is compared after every step. Outcomes are rendered `Tag` or `Tag: reason` (`Rejected Kind: reason`). */
export interface Observation {
  /** The command's own result: a handle index, an error tag, a boolean, `"forked"` (cancel, shutdown) or `"skipped"`. */
  readonly result: number | string | boolean
  /** `list`, in id order: handle index, name, state, attempt, restarts, lastFailure, nextAttemptAt. */
  readonly list: ReadonlyArray<readonly [number, string, TaskState, number, number, string | null, number | null]>
  /** `slots`, by slot name: slot, status, the owner's handle index, queued. */
  readonly slots: ReadonlyArray<readonly [string, string, number | null, number]>
  /** `handle.poll` of every handle, by index. */
  readonly outcomes: ReadonlyArray<string | null>
  /** Every `cancel` so far: its result, `null` while it waits (`"died"`: it failed, never expected). */
  readonly cancels: ReadonlyArray<boolean | "died" | null>
  /** The shutdown: not requested, still running, `"ok"`, the sorted names `GraceExceeded` reports stuck (or `"died"`). */
  readonly shutdown: null | "pending" | "ok" | "died" | ReadonlyArray<string>
}

type StopReason = "remove" | "cancel" | "shutdown" | "replace"

interface TaskM {
  readonly h: number
  readonly name: string
  readonly spec: Spec
  state: TaskState
  attempt: number
  restarts: number
  lastFailure: string | null
  nextAttemptAt: number | null
  streak: number
  /** The running attempt: its start, when its exit is read (null: never by itself) and what it is. */
  start: number
  end: number | null
  endKind: "ok" | "fail" | "timeout"
  /** The end of the running attempt's uninterruptible region (≤ start when it has none). */
  blockedUntil: number
  /** Backing off: when the next attempt starts. */
  wake: number | null
  /** Under `maxConcurrent`: waiting for a permit, or holding one (from an attempt's start until its end or the fiber's exit). */
  wantsPermit: boolean
  permit: boolean
  stop: StopReason | null
  /** After a stop: when the fiber exits. */
  exitAt: number | null
  /** The grace deadline of a remove/cancel/replace. */
  graceAt: number | null
}

interface SubM {
  readonly h: number
  readonly name: string
  readonly spec: Spec
}

interface SlotM {
  readonly name: string
  owner: number | null
  status: "running" | "terminating"
  queue: Array<SubM>
}

interface CancelM {
  /** The handle whose outcome it waits for (null: it returned at once). */
  readonly h: number | null
  readonly claimed: boolean
  value: boolean | null
}

export interface ModelState {
  now: number
  readonly grace: number
  readonly maxSlotQueue: number
  readonly maxConcurrent: number
  tasks: Array<TaskM>
  outcomes: Array<string | null>
  names: Array<string>
  slots: Array<SlotM>
  cancels: Array<CancelM>
  shutdown: null | { readonly deadline: number; result: null | "ok" | Array<string> }
  result: number | string | boolean
}

export const initial = (scenario: Pick<Scenario, "grace" | "maxSlotQueue" | "maxConcurrent">): ModelState => ({
  now: 0,
  grace: scenario.grace,
  maxSlotQueue: scenario.maxSlotQueue,
  maxConcurrent: scenario.maxConcurrent ?? Infinity,
  tasks: [],
  outcomes: [],
  names: [],
  slots: [],
  cancels: [],
  shutdown: null,
  result: "skipped"
})

const clone = (s: ModelState): ModelState => structuredClone(s)
const key = (s: ModelState): string => JSON.stringify(s)

// ---- the rules of one task ----

const stepOf = (t: TaskM): Step => t.spec.program[Math.min(t.attempt, t.spec.program.length) - 1]!
const msOf = (step: string): number => Number(step.split(":")[1])
const intervalOf = (restart: Restart): number | undefined => (restart.startsWith("always:") ? msOf(restart) : undefined)
const maxRetriesOf = (spec: Spec): number => spec.maxRetries ?? Infinity

/** The delay before retry `n` (0 for the first retry of a streak). */
export const backoffDelay = (backoff: BackoffSpec, n: number): number => {
  if (backoff === "exp") return Math.max(Math.min(EXP.first * Math.pow(EXP.factor, n), EXP.max), 1)
  return msOf(backoff)
}

const decide = (s: ModelState, h: number, outcome: string): void => {
  if (s.outcomes[h] !== null) return
  s.outcomes[h] = outcome
  for (const c of s.cancels) if (c.h === h && c.value === null) c.value = c.claimed
}

/**
 * The task is ready for its next attempt: it starts now, or, under `maxConcurrent`, waits for a
 * permit (state `waiting`; which waiting task gets a freed permit is left open: see `due`).
 */
const requestAttempt = (s: ModelState, t: TaskM): void => {
  if (s.maxConcurrent === Infinity) return startAttempt(s, t)
  t.state = "waiting"
  t.nextAttemptAt = null
  t.wake = null
  t.end = null
  t.wantsPermit = true
}

const freePermits = (s: ModelState): number => s.maxConcurrent - s.tasks.filter((t) => t.permit).length

/** Starts the next attempt now. An attempt that ends at once is read at once. */
const startAttempt = (s: ModelState, t: TaskM): void => {
  t.attempt += 1
  t.nextAttemptAt = null
  t.wake = null
  t.state = "running"
  t.start = s.now
  t.blockedUntil = s.now
  const step = stepOf(t)
  const timeout = t.spec.timeout
  const timesOut = (ms: number) => {
    if (ms === timeout)
      throw new Error(`model: a step of ${ms} ms against a timeout of ${ms} ms is a tie (not generated)`)
    return timeout !== undefined && ms > timeout
  }
  if (step === "hang") {
    t.end = timeout === undefined ? null : s.now + timeout
    t.endKind = "timeout"
  } else if (step.startsWith("block:")) {
    const u = msOf(step)
    t.blockedUntil = s.now + u
    // The timeout interrupts the attempt and waits for the region to end.
    t.end = timeout === undefined ? null : s.now + (timesOut(u) ? u : timeout)
    t.endKind = "timeout"
  } else {
    const ms = msOf(step)
    if (timesOut(ms)) {
      t.end = s.now + timeout!
      t.endKind = "timeout"
    } else {
      t.end = s.now + ms
      t.endKind = step.startsWith("ok:") ? "ok" : "fail"
    }
  }
  if (t.end === s.now) attemptEnded(s, t)
}

/**
 * Waits `delay` (backing off after a failure: a restart; scheduled after a success: not one) or
 * starts the next attempt at once.
 */
const again = (s: ModelState, t: TaskM, delay: number, waiting: "backing-off" | "scheduled"): void => {
  if (waiting === "backing-off") t.restarts += 1
  t.end = null
  if (delay <= 0) return requestAttempt(s, t)
  t.state = waiting
  t.nextAttemptAt = s.now + delay
  t.wake = s.now + delay
}

/** The running attempt's exit is read (the attempt-exit table and the retry decision). */
const attemptEnded = (s: ModelState, t: TaskM): void => {
  const duration = s.now - t.start
  const spec = t.spec
  t.permit = false
  if (t.endKind === "ok") {
    t.streak = 0
    if (!spec.restart.startsWith("always")) return finish(s, t, "Completed")
    return again(s, t, Math.max(intervalOf(spec.restart) ?? 0, 1 - duration, 0), "scheduled")
  }
  const reason = t.endKind === "fail" ? "boom" : `attempt timed out after ${spec.timeout} ms`
  t.lastFailure = reason
  if (spec.restart === "never") return finish(s, t, `Failed: ${reason}`)
  t.streak += 1
  const retries = t.streak - 1
  if (t.streak > maxRetriesOf(spec)) {
    return finish(s, t, `Failed: retry limit reached after ${retries} of ${spec.maxRetries} retries: ${reason}`)
  }
  again(s, t, backoffDelay(spec.backoff, retries), "backing-off")
}

/** The task's fiber exits by itself with `outcome`. */
const finish = (s: ModelState, t: TaskM, outcome: string): void => {
  decide(s, t.h, outcome)
  exit(s, t)
}

/** The fiber has exited: the task leaves the registry, its name is free, its slot passes on. */
const exit = (s: ModelState, t: TaskM): void => {
  s.tasks = s.tasks.filter((x) => x !== t)
  const slot = s.slots.find((x) => x.owner === t.h)
  if (slot !== undefined) {
    slot.owner = null
    startNext(s, slot)
  }
  if (s.shutdown !== null && s.shutdown.result === null && s.grace > 0 && s.tasks.length === 0) {
    s.shutdown.result = "ok"
  }
}

const spawn = (s: ModelState, h: number, name: string, spec: Spec): TaskM => {
  const t: TaskM = {
    h,
    name,
    spec,
    state: "waiting",
    attempt: 0,
    restarts: 0,
    lastFailure: null,
    nextAttemptAt: null,
    streak: 0,
    start: s.now,
    end: null,
    endKind: "ok",
    blockedUntil: s.now,
    wake: null,
    wantsPermit: false,
    permit: false,
    stop: null,
    exitAt: null,
    graceAt: null
  }
  s.tasks.push(t)
  requestAttempt(s, t)
  return t
}

/** Claims the stop of `t`; `true` for the one claimant. The fiber exits now, or when its uninterruptible region ends. */
const requestStop = (s: ModelState, t: TaskM, reason: StopReason): boolean => {
  if (t.stop !== null || s.outcomes[t.h] !== null) return false
  t.stop = reason
  t.state = "stopping"
  t.wantsPermit = false
  t.nextAttemptAt = null
  t.wake = null
  t.end = null
  t.exitAt = Math.max(s.now, t.blockedUntil)
  return true
}

const abandon = (s: ModelState, t: TaskM, during: string, graceMs: number): void =>
  decide(s, t.h, `ForceAborted: did not stop within ${during} of ${graceMs} ms`)

/** The grace of a remove/cancel/replace: the task's own, else the supervisor's. */
const graceOf = (s: ModelState, t: TaskM): number => t.spec.grace ?? s.grace

/** Starts the per-task grace of a remove/cancel/replace: 0 decides `ForceAborted` at once. */
const startGrace = (s: ModelState, t: TaskM): void => {
  const grace = graceOf(s, t)
  if (grace === 0) abandon(s, t, "its grace", 0)
  else t.graceAt = s.now + grace
}

// ---- the controller ----

const reject = (s: ModelState, h: number, kind: string, reason: string): void =>
  decide(s, h, `Rejected ${kind}: ${reason}`)

const hasName = (s: ModelState, name: string): boolean => s.tasks.some((t) => t.name === name)

/** Starts `sub` as its slot's owner; `false` (and rejected) when its name is taken. */
const startSub = (s: ModelState, slot: SlotM, sub: SubM): boolean => {
  if (hasName(s, sub.name)) {
    reject(s, sub.h, "AlreadyExists", `a task named "${sub.name}" already exists`)
    return false
  }
  slot.owner = sub.h
  slot.status = "running"
  spawn(s, sub.h, sub.name, sub.spec)
  return true
}

const startNext = (s: ModelState, slot: SlotM): void => {
  while (slot.owner === null) {
    const next = slot.queue.shift()
    if (next === undefined) {
      s.slots = s.slots.filter((x) => x !== slot)
      return
    }
    startSub(s, slot, next)
  }
}

// ---- timers ----

type Due =
  | { readonly k: "attemptEnd" | "wake" | "exit" | "grace" | "grant"; readonly h: number }
  | { readonly k: "shutdownDeadline" }

const due = (s: ModelState): Array<Due> => {
  const out: Array<Due> = []
  for (const t of s.tasks) {
    if (t.stop === null && t.end === s.now) out.push({ k: "attemptEnd", h: t.h })
    if (t.stop === null && t.wake === s.now) out.push({ k: "wake", h: t.h })
    if (t.stop !== null && t.exitAt === s.now) out.push({ k: "exit", h: t.h })
    if (t.graceAt === s.now) out.push({ k: "grace", h: t.h })
  }
  if (s.shutdown !== null && s.shutdown.result === null && s.shutdown.deadline === s.now) {
    out.push({ k: "shutdownDeadline" })
  }
  // A free permit goes to any one of the waiting tasks (the docs do not say which).
  if (freePermits(s) > 0) for (const t of s.tasks) if (t.wantsPermit) out.push({ k: "grant", h: t.h })
  return out
}

const nextTimer = (s: ModelState): number | undefined => {
  let next: number | undefined = undefined
  const consider = (at: number | null) => {
    if (at === null) return
    if (at < s.now) throw new Error(`model: a timer at ${at} was missed (now ${s.now})`)
    if (next === undefined || at < next) next = at
  }
  for (const t of s.tasks) {
    if (t.stop === null) {
      consider(t.end)
      consider(t.wake)
    } else {
      consider(t.exitAt)
    }
    consider(t.graceAt)
  }
  if (s.shutdown !== null && s.shutdown.result === null) consider(s.shutdown.deadline)
  return next
}

/** The shutdown's deadline (or, with grace 0, its start): every task still in the registry is stuck. */
const decideShutdown = (s: ModelState): void => {
  const stuck = s.tasks.map((t) => t.name)
  for (const t of s.tasks) abandon(s, t, "the shutdown grace", s.grace)
  s.shutdown!.result = stuck.length === 0 ? "ok" : stuck.sort()
}

const fire = (s: ModelState, ev: Due): void => {
  if (ev.k === "shutdownDeadline") return decideShutdown(s)
  const t = s.tasks.find((x) => x.h === ev.h)!
  switch (ev.k) {
    case "attemptEnd":
      return attemptEnded(s, t)
    case "wake":
      return requestAttempt(s, t)
    case "grant":
      t.wantsPermit = false
      t.permit = true
      return startAttempt(s, t)
    case "exit":
      t.exitAt = null
      decide(s, t.h, `Canceled: stopped by ${t.stop}`)
      return exit(s, t)
    case "grace":
      t.graceAt = null
      return abandon(s, t, "its grace", graceOf(s, t))
  }
}

/** Fires everything due now, in every order; the distinct resulting states. */
const settle = (states: ReadonlyArray<ModelState>): Array<ModelState> => {
  const done = new Map<string, ModelState>()
  const seen = new Set<string>()
  const stack = [...states]
  while (stack.length > 0) {
    if (seen.size > 10_000) throw new Error("model: more than 10000 orders at one instant")
    const s = stack.pop()!
    const events = due(s)
    if (events.length === 0) {
      done.set(key(s), s)
      continue
    }
    const before = key(s)
    for (const ev of events) {
      const next = events.length === 1 ? s : clone(s)
      fire(next, ev)
      const k = key(next)
      if (k === before) throw new Error(`model: firing ${JSON.stringify(ev)} changed nothing`)
      if (!seen.has(k)) {
        seen.add(k)
        stack.push(next)
      }
    }
  }
  return Array.from(done.values())
}

const advance = (s: ModelState, ms: number): Array<ModelState> => {
  const target = s.now + ms
  const out: Array<ModelState> = []
  const stack = [s]
  while (stack.length > 0) {
    if (stack.length + out.length > 1000) throw new Error(`model: more than 1000 states within one advance`)
    const st = stack.pop()!
    const next = nextTimer(st)
    if (next === undefined || next > target) {
      st.now = target
      out.push(st)
      continue
    }
    if (next === st.now) throw new Error(`model: unsettled timers at ${next}`)
    st.now = next
    stack.push(...settle([st]))
  }
  return out
}

// ---- commands ----

const lookup = (s: ModelState, ref: string | number): TaskM | undefined =>
  typeof ref === "string" ? s.tasks.find((t) => t.name === ref) : s.tasks.find((t) => t.h === ref)

/** `remove`/`cancel` of a ref not in the registry: takes a matching queued submission out (any one, if several match). */
const removeQueued = (s: ModelState, ref: string | number): Array<ModelState> => {
  const matches: Array<[number, number]> = []
  s.slots.forEach((slot, i) =>
    slot.queue.forEach((sub, j) => {
      if (typeof ref === "string" ? sub.name === ref : sub.h === ref) matches.push([i, j])
    })
  )
  if (matches.length === 0) return [s]
  return matches.map(([i, j]) => {
    const next = matches.length === 1 ? s : clone(s)
    const [sub] = next.slots[i]!.queue.splice(j, 1)
    reject(next, sub!.h, "RemovedFromQueue", "removed before it started")
    next.result = true
    return next
  })
}

/** The states the command can lead to (before the timers due now are fired). */
const apply = (s: ModelState, cmd: Command): Array<ModelState> => {
  s.result = "skipped"
  switch (cmd.op) {
    case "advance":
      s.result = "advanced"
      return advance(s, cmd.ms)
    case "add": {
      if (s.shutdown !== null) s.result = "SupervisorShuttingDown"
      else if (hasName(s, cmd.name)) s.result = "TaskAlreadyExists"
      else {
        const h = s.outcomes.push(null) - 1
        s.names.push(cmd.name)
        spawn(s, h, cmd.name, cmd.spec)
        s.result = h
      }
      return [s]
    }
    case "submit": {
      if (s.shutdown !== null) {
        s.result = "SupervisorShuttingDown"
        return [s]
      }
      const h = s.outcomes.push(null) - 1
      s.names.push(cmd.name)
      s.result = h
      const sub: SubM = { h, name: cmd.name, spec: cmd.spec }
      const slotName = cmd.slot ?? cmd.name
      let slot = s.slots.find((x) => x.name === slotName)
      if (slot === undefined) {
        slot = { name: slotName, owner: null, status: "running", queue: [] }
        s.slots.push(slot)
      }
      if (slot.owner === null && slot.queue.length === 0) {
        if (!startSub(s, slot, sub)) s.slots = s.slots.filter((x) => x !== slot)
        return [s]
      }
      switch (cmd.admission) {
        case "drop-if-running":
          reject(s, h, "SlotBusy", `slot "${slotName}" is busy`)
          break
        case "queue":
          if (slot.queue.length >= s.maxSlotQueue) {
            reject(s, h, "QueueFull", `slot "${slotName}" already has ${slot.queue.length} queued (maxSlotQueue)`)
          } else {
            slot.queue.push(sub)
          }
          break
        case "replace": {
          const head = slot.queue[0]
          if (head !== undefined) {
            slot.queue[0] = sub
            reject(s, head.h, "SupersededByReplace", `replaced by a newer submission to slot "${slotName}"`)
          } else {
            slot.queue.push(sub)
          }
          const owner = slot.owner === null ? undefined : s.tasks.find((t) => t.h === slot.owner)
          if (owner !== undefined && slot.status === "running" && requestStop(s, owner, "replace")) {
            startGrace(s, owner)
            slot.status = "terminating"
          }
          break
        }
      }
      return [s]
    }
    case "remove": {
      const ref = typeof cmd.ref === "number" ? handleIndex(cmd.ref, s.outcomes.length) : cmd.ref
      if (ref === undefined) return [s]
      const t = lookup(s, ref)
      s.result = false
      if (t === undefined) return removeQueued(s, ref)
      if (requestStop(s, t, "remove")) {
        startGrace(s, t)
        s.result = true
      }
      return [s]
    }
    case "cancel": {
      const ref = typeof cmd.ref === "number" ? handleIndex(cmd.ref, s.outcomes.length) : cmd.ref
      if (ref === undefined) return [s]
      s.result = "forked"
      const t = lookup(s, ref)
      if (t === undefined) {
        return removeQueued(s, ref).map((next) => {
          next.cancels.push({ h: null, claimed: next.result === true, value: next.result === true })
          next.result = "forked"
          return next
        })
      }
      const claimed = requestStop(s, t, "cancel")
      if (claimed) startGrace(s, t)
      s.cancels.push({ h: t.h, claimed, value: s.outcomes[t.h] !== null ? claimed : null })
      return [s]
    }
    case "shutdown": {
      if (s.shutdown !== null) return [s]
      s.result = "forked"
      s.shutdown = { deadline: s.now + s.grace, result: null }
      for (const slot of s.slots) {
        for (const sub of slot.queue.splice(0)) reject(s, sub.h, "ShuttingDown", "the supervisor is shutting down")
      }
      for (const t of s.tasks) requestStop(s, t, "shutdown")
      // Grace 0: decided right after the interrupts are sent, before any fiber has processed one.
      if (s.grace === 0 || s.tasks.length === 0) decideShutdown(s)
      return [s]
    }
  }
}

/** The earliest instant at which one of `states` has a timer due. */
export const nextInstant = (states: ReadonlyArray<ModelState>): number | undefined => {
  let next: number | undefined = undefined
  for (const s of states) {
    const at = nextTimer(s)
    if (at !== undefined && (next === undefined || at < next)) next = at
  }
  return next
}

/** Every state the command can lead to, with the timers due now fired (deduplicated). */
export const step = (states: ReadonlyArray<ModelState>, cmd: Command): Array<ModelState> => {
  const next = settle(states.flatMap((s) => apply(clone(s), cmd)))
  if (next.length === 0) throw new Error("model: no state left")
  if (next.length > 1000) throw new Error(`model: ${next.length} states after ${JSON.stringify(cmd)}`)
  return next
}

export const observe = (s: ModelState): Observation => ({
  result: s.result,
  list: [...s.tasks]
    .sort((a, b) => a.h - b.h)
    .map((t) => [t.h, t.name, t.state, t.attempt, t.restarts, t.lastFailure, t.nextAttemptAt] as const),
  slots: [...s.slots]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((slot) => [slot.name, slot.status, slot.owner, slot.queue.length] as const),
  outcomes: [...s.outcomes],
  cancels: s.cancels.map((c) => c.value),
  shutdown: s.shutdown === null ? null : s.shutdown.result === null ? "pending" : s.shutdown.result
})

/** Everything has ended: every outcome decided, every call returned, the registry and the slots empty. */
export const quiet = (s: ModelState): boolean =>
  s.tasks.length === 0 &&
  s.slots.length === 0 &&
  s.outcomes.every((o) => o !== null) &&
  s.cancels.every((c) => c.value !== null) &&
  (s.shutdown === null || s.shutdown.result !== null)

/**
 * One legal run of the model through `commands`: the first state wherever an order is open, and
 * advances taken timer instant by timer instant (as the runner does).
 */
export const sampleRun = (scenario: Scenario, commands: ReadonlyArray<Command>): ModelState => {
  let state = initial(scenario)
  for (const cmd of commands) {
    if (cmd.op !== "advance") {
      state = step([state], cmd)[0]!
      continue
    }
    const target = state.now + cmd.ms
    do {
      const next = nextTimer(state)
      const to = next === undefined || next > target ? target : next
      state = step([state], { op: "advance", ms: to - state.now })[0]!
    } while (state.now < target)
  }
  return state
}
