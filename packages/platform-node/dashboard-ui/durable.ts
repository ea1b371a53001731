/**
 * Durable jobs (when the server shows some: the `dashboard.durable` option): per kind, its jobs
 * per status and its latest dead letters (newest first), each with a "retry" button, and a
 * "retry all" per kind with dead letters, when actions are enabled (the token is the one typed in
 * the actions form). A kind whose store could not answer shows why.
 */
import { signal } from "@preact/signals"
import { html } from "htm/preact"
import { formatClock } from "./format.js"
import { actionsEnabled, durable, durableError, type DurableRetryResult, postDurableRetry } from "./live.js"
import type { DurableKind } from "./model.js"

/** The retry under way (`kind#key`, `kind#*` for all), and what the server said of the last one. */
const retrying = signal<string | undefined>(undefined)
const retried = signal<(DurableRetryResult & { readonly at: number }) | undefined>(undefined)

const retry = async (kind: string, key: string | undefined) => {
  retrying.value = `${kind}#${key ?? "*"}`
  try {
    retried.value = { ...(await postDurableRetry(kind, key)), at: Date.now() }
  } finally {
    retrying.value = undefined
  }
}

const retryButton = (kind: string, key: string | undefined) =>
  actionsEnabled.value
    ? html`<button
        type="button"
        class="retry"
        data-durable-retry=${key ?? "*"}
        aria-label=${key === undefined ? `retry every dead letter of ${kind}` : `retry ${kind} ${key}`}
        title=${key === undefined ? "put every dead letter of this kind back to pending" : "put this job back to pending"}
        disabled=${retrying.value !== undefined}
        onClick=${() => void retry(kind, key)}
      >
        ${key === undefined ? "retry all" : "retry"}
      </button>`
    : null

const Row = ({ kind }: { readonly kind: DurableKind }) => {
  const counts = kind.counts
  if (counts === undefined) {
    return html`<tr data-durable-kind=${kind.kind}>
      <td class="kind">${kind.kind}</td>
      <td class="failed" colspan="6">${kind.error ?? "no answer"}</td>
    </tr>`
  }
  const dead = kind.deadLetters ?? []
  return html`<tr data-durable-kind=${kind.kind}>
    <td class="kind">${kind.kind}</td>
    <td class="num">${counts.pending}</td>
    <td class="num">${counts.running}</td>
    <td class="num">${counts.completed}</td>
    <td class=${`num${counts.failed > 0 ? " failed" : ""}`}>${counts.failed}</td>
    <td class="num">${counts.cancelled}</td>
    <td class="recent">
      ${
        dead.length === 0
          ? "—"
          : html`<ul>
                ${dead.map(
                  (letter) =>
                    html`<li key=${letter.key}>
                      <time>${letter.finishedAt === null ? "" : formatClock(letter.finishedAt)}</time>
                      <code>${letter.key}</code> ${`(${letter.attempts}/${letter.maxAttempts})`}
                      ${letter.lastError ?? ""} ${retryButton(kind.kind, letter.key)}
                    </li>`
                )}
              </ul>
              ${counts.failed > 0 ? retryButton(kind.kind, undefined) : null}`
      }
    </td>
  </tr>`
}

export const Durable = () => {
  const kinds = durable.value
  if (kinds === null) return null
  const last = retried.value
  return html`<section class="panel durable" aria-labelledby="durable-title">
    <h2 id="durable-title">Durable jobs</h2>
    ${durableError.value === undefined ? null : html`<p class="result refused">${durableError.value}</p>`}
    <div class="table-scroll">
      <table>
        <thead>
          <tr>
            <th>kind</th>
            <th class="num">pending</th>
            <th class="num">running</th>
            <th class="num">completed</th>
            <th class="num">dead letters</th>
            <th class="num">cancelled</th>
            <th>latest dead letters</th>
          </tr>
        </thead>
        <tbody>
          ${kinds.map((kind) => html`<${Row} key=${kind.kind} kind=${kind} />`)}
        </tbody>
      </table>
    </div>
    ${
      last === undefined
        ? null
        : html`<p class=${`result ${last.ok ? "ok" : "refused"}`} role="status" aria-live="polite">
            ${`${formatClock(last.at)} retry ${last.kind} ${last.key ?? "(all)"}: ${last.ok ? "accepted" : "refused"} (${last.status === 0 ? "no answer" : last.status}): ${last.message}`}
          </p>`
    }
  </section>`
}
