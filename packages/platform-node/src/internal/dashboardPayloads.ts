/**
 * What the dashboard shows of the application's own data. With `showPayloads: false` (the
 * default) every text that carries a payload — an error value's description, a cancellation's
 * reason — is replaced by `hidden`, in the events, the tree and the offload summary alike.
 *
 * Owns: the list of payload fields, and the functions that blank them. Data flow: the routes pass
 * every event, tree and summary through here before encoding them.
 *
 * Invariants: the shape never changes (a hidden field keeps its key, so the encoded forms still
 * decode with their Schemas); texts fibervisor writes itself and that carry no application data
 * stay (names, paths, exit codes, `TaskAddFailed` / `SlotRejected` reasons, offload timeouts).
 *
 * @internal
 */
import type { Offload, SupervisorEvent, SupervisorTree } from "@fibervisor/core"

/** What a hidden payload reads. */
export const hidden = "[hidden]"

/** Events whose `reason` is a payload (an error's description, a cancellation's reason). */
const reasonIsPayload: ReadonlySet<SupervisorEvent.Tag> = new Set<SupervisorEvent.Tag>([
  "AttemptFailed",
  "AttemptCanceled",
  "BackoffScheduled",
  "TaskFinished",
  "RestartIntensityExceeded",
  "Escalated"
])

/** The event with its payload hidden. */
export const hideEvent = (event: SupervisorEvent.SupervisorEvent): SupervisorEvent.SupervisorEvent =>
  reasonIsPayload.has(event._tag) && "reason" in event && event.reason !== undefined
    ? ({ ...event, reason: hidden } as SupervisorEvent.SupervisorEvent)
    : event

const hideNode = (node: SupervisorTree.TaskNode): SupervisorTree.TaskNode => {
  const supervisor = node.supervisor === undefined ? undefined : hideTree(node.supervisor)
  if (node.lastFailure === undefined && supervisor === undefined) return node
  return {
    ...node,
    ...(node.lastFailure === undefined ? undefined : { lastFailure: hidden }),
    ...(supervisor === undefined ? undefined : { supervisor })
  }
}

/** The tree with every payload hidden: tasks' `lastFailure`, and the reasons of `lost` tasks. */
export const hideTree = (tree: SupervisorTree.SupervisorTree): SupervisorTree.SupervisorTree => ({
  ...tree,
  tasks: tree.tasks.map(hideNode),
  ...(tree.lost === undefined
    ? undefined
    : // `it completed` is fibervisor's own text; any other reason is the task's.
      { lost: tree.lost.map((lost) => (lost.outcome === "Completed" ? lost : { ...lost, reason: hidden })) })
})

const timedOut = /^timed out after \d+ ms and was interrupted$/

/** The summary with the failures' descriptions hidden (a timeout's text is fibervisor's own). */
export const hideOffload = (summary: Offload.OffloadSummary): Offload.OffloadSummary => ({
  kinds: summary.kinds.map((kind) => ({
    ...kind,
    recentFailures: kind.recentFailures.map((failure) =>
      timedOut.test(failure.reason) ? failure : { ...failure, reason: hidden }
    )
  }))
})
