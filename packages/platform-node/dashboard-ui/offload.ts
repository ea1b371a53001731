/**
 * Offload kinds (when the snapshot has them): active, queued, completed, failed and timed out per
 * kind, and each kind's recent failures (newest first, at most five).
 */
import { html } from "htm/preact"
import { formatClock } from "./format.js"
import { offload } from "./live.js"

export const Offload = () => {
  const kinds = offload.value
  if (kinds === null) return null
  const timeouts = kinds.some((kind) => kind.timedOut !== undefined)
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
                                      html`<li key=${i}><time>${formatClock(failure.at)}</time> ${failure.reason}</li>`
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
  </section>`
}
