/**
 * The dashboard's entry: renders the page into `#app` and starts the live state (snapshot, event
 * stream). The token for actions is typed into the actions form and kept in memory only (never a
 * cookie, storage or the URL): reloading the page forgets it.
 */
import { html } from "htm/preact"
import { render } from "preact"
import { Details } from "./details.js"
import { Durable } from "./durable.js"
import { Events } from "./events.js"
import { countStates } from "./model.js"
import { Offload } from "./offload.js"
import { connection, lastError, model, payloadsShown, revision, start } from "./live.js"
import { failingOnly, filterText, rows, Tree } from "./tree.js"

const Header = () => {
  void revision.value
  const m = model.value
  const counts = countStates(m?.rows ?? [])
  return html`<header class="top">
    <h1><span class="logo" aria-hidden="true">◉</span> fibervisor</h1>
    ${
      m === undefined
        ? null
        : html`<span class="root">
            <code>${m.rootPath}</code> <span class="tag">${m.rootStrategy}</span>
            <span class=${`badge sup-${m.rootState}`}>${m.rootState}</span>
          </span>`
    }
    <ul class="counts" aria-label="tasks by state">
      <li><b>${m?.rows.length ?? 0}</b> tasks</li>
      ${(["running", "backing-off", "scheduled", "waiting", "stopping", "standby"] as const).map(
        (state) => html`<li class=${`count-${state}`}><b>${counts[state]}</b> ${state}</li>`
      )}
    </ul>
    ${
      payloadsShown.value
        ? null
        : html`<span class="tag" title="the server hides failure reasons (dashboard.showPayloads is off)"
            >payloads hidden</span
          >`
    }
    <span class=${`conn conn-${connection.value}`} title=${lastError.value ?? ""}>${connection.value}</span>
  </header>`
}

const Lost = () => {
  void revision.value
  const m = model.value
  if (m === undefined || (m.lost.length === 0 && m.lostUnlisted === 0)) return null
  return html`<section class="panel lost" role="alert">
    <h2>Readiness tasks that ended for good</h2>
    <ul>
      ${m.lost.map((lost) => html`<li key=${lost.path}><code>${lost.path}</code> ${lost.outcome}: ${lost.reason}</li>`)}
      ${m.lostUnlisted > 0 ? html`<li>and ${m.lostUnlisted} more</li>` : null}
    </ul>
  </section>`
}

const App = () =>
  html`<${Header} />
    <main>
      <${Lost} />
      <div class="columns">
        <section class="panel tasks" aria-labelledby="tasks-title">
          <div class="panel-head">
            <h2 id="tasks-title">Tasks</h2>
            <label class="input inline">
              <span>filter</span>
              <input
                type="search"
                name="task-filter"
                placeholder="path contains…"
                value=${filterText.value}
                onInput=${(e: Event) => (filterText.value = (e.currentTarget as HTMLInputElement).value)}
              />
            </label>
            <label class="check">
              <input
                type="checkbox"
                name="failing-only"
                checked=${failingOnly.value}
                onChange=${(e: Event) => (failingOnly.value = (e.currentTarget as HTMLInputElement).checked)}
              />
              failing only
            </label>
            <span class="count">${rows.value.length} shown</span>
          </div>
          <${Tree} />
        </section>
        <${Details} />
      </div>
      <${Offload} />
      <${Durable} />
      <${Events} />
    </main>`

const root = document.getElementById("app")
if (root !== null) {
  render(html`<${App} />`, root)
  void start()
}
