/**
 * Text for the page: durations, clock times, one line per event. No DOM here.
 */
import type { WireEvent } from "./model.js"

/** `450 ms`, `1.2 s`, `2 m 05 s`, `1 h 02 m`. */
export const formatDuration = (ms: number): string => {
  const value = Math.max(0, ms)
  if (value < 1000) return `${Math.round(value)} ms`
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)} s`
  const totalSeconds = Math.floor(value / 1000)
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor((totalSeconds % 3600) / 60)
  const seconds = totalSeconds % 60
  return hours > 0
    ? `${hours} h ${String(minutes).padStart(2, "0")} m`
    : `${minutes} m ${String(seconds).padStart(2, "0")} s`
}

/** The next-attempt cell: `in 1.2 s`, or `due` once the time has come. */
export const formatCountdown = (nextAttemptAt: number | undefined, serverNow: number): string => {
  if (nextAttemptAt === undefined) return ""
  const left = nextAttemptAt - serverNow
  return left <= 0 ? "due" : `in ${formatDuration(left)}`
}

const two = (n: number) => String(n).padStart(2, "0")

/** `14:03:07.125`, local time. */
export const formatClock = (at: number): string => {
  const date = new Date(at)
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, "0")}`
}

/** Fields every event (or every task event) has: not repeated in its details. */
const common = new Set(["_tag", "seq", "at", "path", "id", "task"])

const value = (raw: unknown): string =>
  typeof raw === "string" ? raw : Array.isArray(raw) ? raw.join(", ") : JSON.stringify(raw)

/** The rest of an event, `key=value`, for kinds without a sentence of their own. */
const fields = (event: Record<string, unknown>): string =>
  Object.keys(event)
    .filter((key) => !common.has(key) && event[key] !== undefined)
    .map((key) => `${key}=${value(event[key])}`)
    .join(" ")

/** One line saying what an event says (its kind and path are shown beside it). */
export const describeEvent = (event: WireEvent): string => {
  switch (event._tag) {
    case "AttemptStarting":
      return `attempt ${event.attempt}`
    case "AttemptSucceeded":
      return `attempt ${event.attempt} succeeded after ${formatDuration(event.durationMs)}`
    case "AttemptFailed":
      return `attempt ${event.attempt} failed after ${formatDuration(event.durationMs)}${event.fatal ? " (fatal)" : ""}: ${event.reason}`
    case "AttemptTimedOut":
      return `attempt ${event.attempt} timed out after ${formatDuration(event.timeoutMs)}`
    case "AttemptCanceled":
      return `attempt ${event.attempt} canceled: ${event.reason}`
    case "BackoffScheduled":
      return `next attempt in ${formatDuration(event.delayMs)} (after a ${event.source})`
    case "TaskFinished":
      return `${event.outcome}${event.reason === undefined ? "" : `: ${event.reason}`}`
    case "TaskRemoveRequested":
      return `stop requested (${event.reason})`
    case "TaskRestartRequested":
      return `restart requested while ${event.state}`
    case "OperatorActionRequested":
      return `operator ${event.action}: ${event.outcome}${event.reason === undefined ? "" : ` (${event.reason})`}, from ${event.remote} via ${event.source}`
    default:
      return fields(event as unknown as Record<string, unknown>)
  }
}

/** Whether an event reports a failure (shown in the failure colour). */
export const isFailureEvent = (event: WireEvent): boolean =>
  event._tag === "AttemptFailed" ||
  event._tag === "AttemptTimedOut" ||
  event._tag === "TaskAddFailed" ||
  event._tag === "GraceExceeded" ||
  event._tag === "RestartIntensityExceeded" ||
  event._tag === "Escalated" ||
  event._tag === "SlotRejected" ||
  (event._tag === "OperatorActionRequested" && event.outcome === "refused") ||
  (event._tag === "TaskFinished" && (event.outcome === "Failed" || event.outcome === "Fatal"))
