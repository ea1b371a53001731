/**
 * Operator actions (`Supervisor.operatorAction`): a dashboard's or a health server's request to
 * cancel, remove or restart the task at a path, audited on the bus.
 *
 * **Owns** nothing: it checks the request, finds the task through the stop protocol's `findByRef`
 * (a path relative to the supervisor, through running nested supervisors) and acts through
 * `removeByRef`, `claimCancel` or `restartByRef` (`supervisor/stop.ts`).
 *
 * **Data flow**: `SupervisorImpl.operatorAction` → `operatorAction` → the request's fields cut to
 * audited texts (`auditInput`) → refused / not-found / the action → `OperatorActionRequested`
 * with the outcome → the `OperatorResult` (a `cancel` resumes once the task's outcome is decided).
 *
 * **Invariants**
 * - Every request that is an object is audited exactly once, whatever its outcome.
 * - Audited texts come from the request and are cut to a bounded length, so a request cannot
 *   flood the bus.
 * - The lookup and the stop claim are one synchronous step (inside `Effect.suspend`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { OperatorRequest, OperatorResult } from "../../Supervisor.js"
import { operatorActionRequested } from "./events.js"
import { claimCancel, findByRef, removeByRef, restartByRef, type StopByRefHost } from "./stop.js"

/** What operator actions need from their supervisor: the stop protocol's view, which finds tasks. */
export type OperatorHost = StopByRefHost

/** `Supervisor.operatorAction`: see the module header. */
export const operatorAction = (host: OperatorHost, request: OperatorRequest): Effect.Effect<OperatorResult> =>
  Effect.suspend(() => {
    const input = auditInput(request)
    if (input === undefined) return Effect.succeed(invalidRequest)
    const { action, path } = input
    const audit = (outcome: OperatorResult["outcome"], reason?: string): OperatorResult => {
      const result: OperatorResult = reason === undefined ? { outcome } : { outcome, reason }
      if (host.listening) {
        host.emit(
          operatorActionRequested({
            path,
            action,
            outcome,
            ...(reason === undefined ? undefined : { reason: bounded(reason, maxAuditReason) }),
            remote: input.remote,
            source: input.source
          })
        )
      }
      return result
    }
    if (input.refused !== undefined) return Effect.succeed(audit("refused", input.refused))
    const acted = request.acted
    if (acted !== undefined && typeof acted === "object" && acted !== null) {
      const outcome = (["done", "declined", "not-found", "refused"] as const).find((o) => o === acted.outcome)
      if (outcome === undefined) return Effect.succeed(audit("refused", "unknown outcome"))
      return Effect.succeed(audit(outcome, typeof acted.reason === "string" ? acted.reason : undefined))
    }
    if (action !== "cancel" && action !== "remove" && action !== "restart") {
      return Effect.succeed(audit("refused", "unknown action (cancel, remove or restart)"))
    }
    const prefix = `${host.config.path}/`
    const relative = path.startsWith(prefix) ? path.slice(prefix.length) : undefined
    const entry = relative === undefined || relative === "" ? undefined : findByRef(host, relative)
    if (relative === undefined || entry === undefined) return Effect.succeed(audit("not-found", "no task at this path"))
    switch (action) {
      case "remove":
        return Effect.succeed(removeByRef(host, relative) ? audit("done") : audit("declined", stopUnderWay))
      case "restart":
        return Effect.succeed(
          restartByRef(host, relative) ? audit("done") : audit("declined", "the task cannot be restarted now")
        )
      case "cancel": {
        const claim = claimCancel(host, relative)
        if (typeof claim === "boolean" || !claim.claimed) return Effect.succeed(audit("declined", stopUnderWay))
        const result = audit("done")
        return Effect.as(claim.entry.settled.await, result)
      }
    }
  })

const stopUnderWay = "a stop of the task is already under way"

/** Audited texts come from the request: each is cut to a bounded length, so a request cannot flood the bus. */
const maxAuditField = 512
const maxAuditReason = 300

const bounded = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

/** Refused without an audit: the request itself is not an object (a programming error, not an operator's). */
const invalidRequest: OperatorResult = { outcome: "refused", reason: "the request must be an object" }

const text = (value: unknown): string => (typeof value === "string" ? value : "")

/** The request's fields as audited texts, `undefined` when the request is not an object. */
const auditInput = (request: OperatorRequest) => {
  if (typeof request !== "object" || request === null) return undefined
  const refused = request.refused
  return {
    action: bounded(text(request.action), 32),
    path: bounded(text(request.path), maxAuditField),
    remote: bounded(text(request.remote), 128),
    source: bounded(text(request.source), 64),
    refused: refused === undefined ? undefined : text(refused) || "refused"
  }
}
