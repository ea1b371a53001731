/**
 * The specs of plain tasks, shared: a task that sets nothing but its settings (most tasks) gets a
 * spec of two own fields (`name`, `effect`) over a prototype holding the rest, one prototype per
 * distinct settings, for the first `maxSharedSettings` seen; other tasks get a spelled-out spec.
 *
 * Data flow: `resolveTask` (task.ts) checks a task, then calls `plainSpec` when it has no
 * `isFatal`, `significant`, `ready`, `escalate` or nested supervisor; the entry made from it keeps
 * the name and effect itself and the spec's settings (`settingsOf`: the shared prototype), so the
 * plain spec object lives only through admission.
 *
 * Invariants:
 * - A shared spec reads exactly as its spelled-out equivalent (same fields, same values).
 * - Bounded: at most `maxSharedSettings` prototypes, never one per task (V8 gives every prototype
 *   a map of its own); settings are compared field by field, restart policies by value.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { TaskContext } from "../TaskContext.js"
import type { ResolvedDefaults, ResolvedRestart, ResolvedTask, TaskSettings } from "./task.js"

/**
 * The spec of a task that sets nothing but its settings (most tasks): its own `name` and `effect`
 * over a shared prototype holding the rest. Every entry keeps its spec, and a spelled-out one is
 * 14 fields (≈ 136 bytes); this one is two. The prototypes are kept for the first
 * `maxSharedSettings` distinct settings seen (compared field by field: a new `Task.once` carries
 * a new options object but the same settings); a task with other settings gets a spelled-out spec,
 * so no prototype is ever made per task (V8 gives every prototype a map of its own).
 */
export const plainSpec = (
  settings: ResolvedDefaults,
  name: string,
  effect: Effect.Effect<unknown, unknown, TaskContext>
): ResolvedTask => {
  const proto = sharedSettings(settings)
  if (proto === undefined) return spelledOut(settings, name, effect, undefined, false, false, false, undefined)
  const spec = Object.create(proto) as { -readonly [K in keyof ResolvedTask]: ResolvedTask[K] }
  spec.name = name
  spec.effect = effect
  return spec
}

/**
 * A spec with every field its own. Spelled out, the roles passed one by one (no spread, no
 * options object): this runs for every `add`, and a spread here showed up in profiles.
 */
export const spelledOut = (
  settings: ResolvedDefaults,
  name: string,
  effect: Effect.Effect<unknown, unknown, TaskContext>,
  isFatal: ResolvedTask["isFatal"],
  significant: boolean,
  ready: ResolvedTask["ready"],
  escalate: boolean,
  nested: unknown
): ResolvedTask => ({
  restart: settings.restart,
  backoff: settings.backoff,
  timeoutMs: settings.timeoutMs,
  maxRetries: settings.maxRetries,
  resetAfterMs: settings.resetAfterMs,
  graceMs: settings.graceMs,
  logFailures: settings.logFailures,
  name,
  effect,
  isFatal,
  significant,
  ready,
  escalate,
  nested
})

/** How many distinct settings get a shared prototype (each holds its restart policy and backoff for good). */
const maxSharedSettings = 32

const sharedProtos: Array<ResolvedTask> = []
/** The same prototypes, to recognise a plain spec by its prototype (`settingsOf`). */
const sharedProtoSet = new Set<object>()

/**
 * The settings of `spec`, without its name and effect: a plain spec's shared prototype (one per
 * distinct settings), or a spelled-out spec itself. An entry keeps these and its own name and
 * effect, so a plain task's spec object (two fields over the prototype, ≈ 40 bytes) dies once the
 * task is registered instead of living as long as the task.
 */
export const settingsOf = (spec: ResolvedTask): TaskSettings => {
  const proto = Object.getPrototypeOf(spec) as object
  return proto === lastProto || sharedProtoSet.has(proto) ? (proto as TaskSettings) : spec
}

/** Restart policies are compared by value: `RestartPolicy.always({ interval })` decodes to a new object per task. */
const sameRestart = (a: ResolvedRestart, b: ResolvedRestart): boolean =>
  a === b ||
  (a._tag === b._tag &&
    (a._tag !== "Always" || a.intervalMs === (b as typeof a).intervalMs) &&
    (a._tag !== "Repeat" || a.schedule === (b as typeof a).schedule))

const sameSettings = (a: ResolvedDefaults, b: ResolvedDefaults): boolean =>
  sameRestart(a.restart, b.restart) &&
  a.backoff === b.backoff &&
  a.timeoutMs === b.timeoutMs &&
  a.maxRetries === b.maxRetries &&
  a.resetAfterMs === b.resetAfterMs &&
  a.graceMs === b.graceMs &&
  a.logFailures === b.logFailures

/** The last settings looked up and their prototype: tasks added in a row mostly share their settings object. */
let lastSettings: ResolvedDefaults | undefined = undefined
let lastProto: ResolvedTask | undefined = undefined

const sharedSettings = (settings: ResolvedDefaults): ResolvedTask | undefined => {
  if (settings === lastSettings) return lastProto
  const proto = findShared(settings)
  lastSettings = settings
  lastProto = proto
  return proto
}

const findShared = (settings: ResolvedDefaults): ResolvedTask | undefined => {
  for (let i = 0; i < sharedProtos.length; i++) {
    const proto = sharedProtos[i]!
    if (sameSettings(proto, settings)) return proto
  }
  if (sharedProtos.length >= maxSharedSettings) return undefined
  const proto = spelledOut(settings, "", Effect.void, undefined, false, false, false, undefined)
  sharedProtos.push(proto)
  sharedProtoSet.add(proto)
  return proto
}
