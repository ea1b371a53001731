/**
 * The one-line reason a failed attempt gets (stored as the row's `lastError`, logged, passed to the
 * retry schedule): the failure's own message when there is one, so that an operator reading a dead
 * letter sees `503 from upstream` rather than a rendered `Cause`. Cut to 500 characters.
 */
import * as Cause from "effect/Cause"

const clip = (text: string): string => (text.length > 500 ? `${text.slice(0, 500)}…` : text)

const describeValue = (u: unknown): string => {
  if (typeof u === "string") return u
  // A tagged error first: it is often an `Error` too, whose `name` is not its tag.
  if (typeof u === "object" && u !== null && "_tag" in u) {
    const message = "message" in u && typeof u.message === "string" && u.message !== "" ? `: ${u.message}` : ""
    return `${String(u._tag)}${message}`
  }
  if (u instanceof Error) return u.message === "" ? u.name : `${u.name}: ${u.message}`
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/**
 * A failed attempt's reason, one line (stored as `lastError`, logged): a failure's own message
 * (`"503 from upstream"`, `"Error: boom"`, `"Tag: message"`), `"defect: …"` for a defect,
 * `"interrupted"` when the handler interrupted itself.
 */
export const reasonOf = (cause: Cause.Cause<unknown>): string => {
  const failure = cause.reasons.find(Cause.isFailReason)
  if (failure !== undefined) return clip(describeValue(failure.error).split("\n")[0]!)
  const defect = cause.reasons.find(Cause.isDieReason)
  if (defect !== undefined) return clip(`defect: ${describeValue(defect.defect).split("\n")[0]!}`)
  return Cause.hasInterrupts(cause) ? "interrupted" : clip(Cause.pretty(cause).split("\n")[0] ?? "failed")
}
