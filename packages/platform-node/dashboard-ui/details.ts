/**
 * The details panel (the selected task, its last failure in full) and the actions form: restart
 * now, cancel, remove, by path, with the token typed here (memory only). Cancel and remove stop
 * the task for good: each asks for a confirmation first.
 */
import type { SupervisorTree } from "@fibervisor/core"
import { signal } from "@preact/signals"
import { html } from "htm/preact"
import { formatClock, formatCountdown } from "./format.js"
import { type Action, type ActionResult, actionsEnabled, postAction, revision, serverNow, token } from "./live.js"
import { pathFilter } from "./events.js"
import { selectedPath, selectedRow } from "./tree.js"

/** The path the actions apply to: the selected task's, or one typed in. */
const actionPath = signal("")
/** The selection the path field was last filled from. */
let filledFrom: string | undefined
/** An action waiting for its confirmation. */
const confirming = signal<Action | undefined>(undefined)
const busy = signal(false)
const result = signal<(ActionResult & { readonly at: number }) | undefined>(undefined)

const labels: Record<Action, string> = { restart: "Restart now", cancel: "Cancel", remove: "Remove" }
const explain: Record<Action, string> = {
  restart: "stops the running attempt (if any) and starts a new one at once, skipping any backoff",
  cancel: "stops the task for good; its outcome is Canceled",
  remove: "stops the task for good and frees its name"
}

const run = async (action: Action) => {
  confirming.value = undefined
  busy.value = true
  try {
    result.value = { ...(await postAction(action, actionPath.value.trim())), at: Date.now() }
  } finally {
    busy.value = false
  }
}

const Field = ({ label, children }: { label: string; children: unknown }) =>
  html`<div class="field">
    <dt>${label}</dt>
    <dd>${children}</dd>
  </div>`

/** A cluster singleton's role in words: who owns the lease, under which epoch, and which replica this is. */
const singletonText = (role: SupervisorTree.SingletonRole): string => {
  const epoch = role.epoch === undefined ? "" : `, epoch ${role.epoch}`
  if (role.role === "owner") return `owner of "${role.name}"${epoch} (this replica: ${role.runner})`
  const owner = role.owner === undefined ? "no live owner seen" : `owned by ${role.owner}${epoch}`
  return `standby for "${role.name}": ${owner} (this replica: ${role.runner})`
}

const Selected = () => {
  void revision.value
  const row = selectedRow.value
  if (row === undefined) {
    return html`<p class="hint">
      Select a task (click it, or focus the tree and press Enter) to see its details and act on it.
    </p>`
  }
  return html`<dl class="facts">
      <${Field} label="path"><code>${row.path}</code><//>
      <${Field} label="kind"
        >${row.kind}${row.strategy === undefined ? "" : ` (${row.strategy}, ${row.supervisorState})`}<//
      >
      <${Field} label="state"><span class=${`badge state-${row.state}`}>${row.state}</span><//>
      <${Field} label="attempt">${row.attempt}<//>
      <${Field} label="restarts">${row.restarts}<//>
      <${Field} label="next attempt">
        ${row.nextAttemptAt === undefined ? "—" : formatCountdown(row.nextAttemptAt, serverNow.value)}
      <//>
      <${Field} label="readiness">
        ${
          row.ready
            ? row.reportedReady === undefined
              ? "readiness task"
              : `readiness task, ${row.reportedReady ? "reported ready" : "not reported ready yet"}`
            : "—"
        }
      <//>
      ${row.singleton === undefined ? null : html`<${Field} label="cluster singleton">${singletonText(row.singleton)}<//>`}
      <${Field} label="last failure"
        >${row.lastFailure === undefined ? "—" : html`<pre class="failure-text">${row.lastFailure}</pre>`}<//
      >
    </dl>
    <button type="button" class="link" onClick=${() => (pathFilter.value = row.path)}>Show this task's events</button>`
}

const Actions = () => {
  const selected = selectedPath.value
  if (selected !== undefined && selected !== filledFrom) {
    filledFrom = selected
    actionPath.value = selected
    confirming.value = undefined
  }
  const enabled = actionsEnabled.value
  const pending = confirming.value
  const last = result.value
  return html`<section class="actions" aria-labelledby="actions-title">
    <h3 id="actions-title">Actions</h3>
    ${
      enabled
        ? null
        : html`<p class="hint">
            Actions are disabled: the server has no token configured (<code>dashboard.token</code>).
          </p>`
    }
    <form class="token" onSubmit=${(e: Event) => e.preventDefault()}>
      <label class="input">
        <span>token</span>
        <input
          type="password"
          name="token"
          autocomplete="off"
          spellcheck="false"
          placeholder="bearer token (kept in memory only)"
          value=${token.value}
          disabled=${!enabled}
          onInput=${(e: Event) => (token.value = (e.currentTarget as HTMLInputElement).value)}
        />
      </label>
    </form>
    <label class="input">
      <span>path</span>
      <input
        type="text"
        name="path"
        autocomplete="off"
        spellcheck="false"
        placeholder="root/app/worker-1"
        value=${actionPath.value}
        disabled=${!enabled}
        onInput=${(e: Event) => (actionPath.value = (e.currentTarget as HTMLInputElement).value)}
      />
    </label>
    <div class="buttons">
      ${(["restart", "cancel", "remove"] as const).map(
        (action) =>
          html`<button
            type="button"
            class=${action === "restart" ? "primary" : "danger"}
            data-action=${action}
            title=${explain[action]}
            disabled=${!enabled || busy.value || actionPath.value.trim() === ""}
            onClick=${() => (action === "restart" ? void run(action) : (confirming.value = action))}
          >
            ${labels[action]}
          </button>`
      )}
    </div>
    ${
      pending === undefined
        ? null
        : html`<div class="confirm" role="alertdialog" aria-labelledby="confirm-text">
            <p id="confirm-text">${labels[pending]} <code>${actionPath.value.trim()}</code>? It ${explain[pending]}.</p>
            <button type="button" class="danger" data-confirm=${pending} onClick=${() => void run(pending)}>
              Yes, ${labels[pending].toLowerCase()}
            </button>
            <button type="button" onClick=${() => (confirming.value = undefined)}>No</button>
          </div>`
    }
    <p class=${`result ${last === undefined ? "" : last.ok ? "ok" : "refused"}`} role="status" aria-live="polite">
      ${
        last === undefined
          ? ""
          : `${formatClock(last.at)} ${last.action} ${last.path}: ${last.ok ? "accepted" : "refused"} (${last.status === 0 ? "no answer" : last.status}): ${last.message}`
      }
    </p>
  </section>`
}

export const Details = () =>
  html`<aside class="panel details" aria-labelledby="details-title">
    <h2 id="details-title">Task</h2>
    <${Selected} />
    <${Actions} />
  </aside>`
