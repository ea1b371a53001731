/**
 * Offload kinds (when the snapshot has them): active, queued, completed, failed and timed out per
 * kind, and each kind's recent failures (newest first, at most five), each with a "retry" button
 * when actions are enabled (the token is the one typed in the actions form).
 */
import { signal } from "@preact/signals"
import { html } from "htm/preact"
import { formatClock } from "./format.js"
import { actionsEnabled, offload, postRetry, type RetryResult } from "./live.js"

/** The failure being retried (its id), and what the server said of the last retry. */
const retrying = signal<string | undefined>(undefined)
const retried = signal<(RetryResult & { readonly at: number }) | undefined>(undefined)

const retry = async (kind: string, id: string) => {
  retrying.value = id
  try {
    retried.value = { ...(await postRetry(kind, id)), at: Date.now() }
  } finally {
    retrying.value = undefined
  }
}

export const Offload = () => {
  const kinds = offload.value
  if (kinds === null) return null
  const timeouts = kinds.some((kind) => kind.timedOut !== undefined)
  const last = retried.value
  return html`<section class="panel offload" aria-labelledby="offload-title">
    <h2 id="offload-title">Offload</h2>
    ${
      kinds.length === 0
        ? html`<p class="hint">No offload kind has run yet.</p>`
        : html`<div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th>kind</th>
                  <th class="num">active</th>
                  <th class="num">queued</th>
                  <th class="num">completed</th>
                  <th class="num">failed</th>
                  ${timeouts ? html`<th class="num">timed out</th>` : null}
                  <th>recent failures</th>
                </tr>
              </thead>
              <tbody>
                ${kinds.map(
                  (kind) =>
                    html`<tr key=${kind.kind} data-kind=${kind.kind}>
                      <td class="kind">${kind.kind}</td>
                      <td class="num">${kind.active}</td>
                      <td class="num">${kind.queued}</td>
                      <td class="num">${kind.completed}</td>
                      <td class=${`num${kind.failed > 0 ? " failed" : ""}`}>${kind.failed}</td>
                      ${
                        timeouts
                          ? html`<td class=${`num${(kind.timedOut ?? 0) > 0 ? " failed" : ""}`}>
                              ${kind.timedOut ?? 0}
                            </td>`
                          : null
                      }
                      <td class="recent">
                        ${
                          kind.recentFailures.length === 0
                            ? "—"
                            : html`<ul>
                                ${kind.recentFailures
                                  .slice(-5)
                                  .reverse()
                                  .map(
                                    (failure, i) =>
                                      html`<li key=${failure.id ?? i}>
                                        <time>${formatClock(failure.at)}</time> ${failure.reason}
                                        ${
                                          failure.id === undefined || !actionsEnabled.value
                                            ? null
                                            : html`<button
                                                type="button"
                                                class="retry"
                                                data-retry=${failure.id}
                                                aria-label=${`retry ${kind.kind} failure ${failure.id}`}
                                                title="register this work again (same key, same services)"
                                                disabled=${retrying.value !== undefined}
                                                onClick=${() => void retry(kind.kind, failure.id!)}
                                              >
                                                retry
                                              </button>`
                                        }
                                      </li>`
                                  )}
                              </ul>`
                        }
                      </td>
                    </tr>`
                )}
              </tbody>
            </table>
          </div>`
    }
    ${
      last === undefined
        ? null
        : html`<p class=${`result ${last.ok ? "ok" : "refused"}`} role="status" aria-live="polite">
            ${`${formatClock(last.at)} retry ${last.kind} ${last.id}: ${last.ok ? "accepted" : "refused"} (${last.status === 0 ? "no answer" : last.status}): ${last.message}`}
          </p>`
    }
  </section>`
}
