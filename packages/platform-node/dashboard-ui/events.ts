/**
 * The event stream: newest first, filtered by path (a substring) and kind; paused, it keeps
 * receiving (and counts what it holds back) without moving the list under the reader.
 */
import { computed, signal } from "@preact/signals"
import { html } from "htm/preact"
import { describeEvent, formatClock, isFailureEvent } from "./format.js"
import { connection, log, type LogEntry, logRevision } from "./live.js"

export const pathFilter = signal("")
export const kindFilter = signal("")
export const paused = signal(false)
/** While paused: the newest entry's sequence number when the pause began (newer ones are held back). */
let pausedAt = 0

/** The most rows drawn at once (the newest that match). */
const SHOWN = 300

const kinds = computed(() => {
  void logRevision.value
  const seen = new Set<string>()
  for (const entry of log) if (entry.event !== undefined) seen.add(entry.event._tag)
  return [...seen].sort()
})

const matches = (entry: LogEntry, path: string, kind: string): boolean =>
  entry.event === undefined
    ? kind === "" && path === ""
    : (kind === "" || entry.event._tag === kind) &&
      (path === "" || ("path" in entry.event && entry.event.path.toLowerCase().includes(path)))

const view = computed(() => {
  void logRevision.value
  const path = pathFilter.value.trim().toLowerCase()
  const kind = kindFilter.value
  const shown: Array<LogEntry> = []
  let matching = 0
  let held = 0
  for (let i = log.length - 1; i >= 0; i--) {
    const entry = log[i]!
    if (paused.value && entry.seq > pausedAt) {
      held += 1
      continue
    }
    if (!matches(entry, path, kind)) continue
    matching += 1
    if (shown.length < SHOWN) shown.push(entry)
  }
  return { shown, matching, held }
})

const togglePause = () => {
  if (paused.value) {
    paused.value = false
  } else {
    pausedAt = log.length === 0 ? -1 : log[log.length - 1]!.seq
    paused.value = true
  }
}

const EventRow = ({ entry }: { entry: LogEntry }) => {
  const event = entry.event
  if (event === undefined) {
    return html`<tr class="note">
      <td>${formatClock(entry.receivedAt)}</td>
      <td></td>
      <td colspan="3">${entry.note}</td>
    </tr>`
  }
  return html`<tr class=${isFailureEvent(event) ? "failure" : ""} data-seq=${entry.seq} data-kind=${event._tag}>
    <td class="time">${formatClock(event.at)}</td>
    <td class="num">${entry.seq}</td>
    <td class="kind">${event._tag}</td>
    <td class="path">${"path" in event ? event.path : ""}</td>
    <td class="what">${describeEvent(event)}</td>
  </tr>`
}

export const Events = () => {
  const { shown, matching, held } = view.value
  return html`<section class="panel events" aria-labelledby="events-title">
    <div class="panel-head">
      <h2 id="events-title">Events</h2>
      <label class="input inline">
        <span>path</span>
        <input
          type="search"
          name="event-path"
          placeholder="filter by path"
          value=${pathFilter.value}
          onInput=${(e: Event) => (pathFilter.value = (e.currentTarget as HTMLInputElement).value)}
        />
      </label>
      <label class="input inline">
        <span>kind</span>
        <select
          name="event-kind"
          value=${kindFilter.value}
          onChange=${(e: Event) => (kindFilter.value = (e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">every kind</option>
          ${kinds.value.map((kind) => html`<option value=${kind}>${kind}</option>`)}
          ${
            kindFilter.value !== "" && !kinds.value.includes(kindFilter.value)
              ? html`<option value=${kindFilter.value}>${kindFilter.value}</option>`
              : null
          }
        </select>
      </label>
      <button type="button" class="pause" aria-pressed=${paused.value} onClick=${togglePause}>
        ${paused.value ? `Resume${held > 0 ? ` (${held} new)` : ""}` : "Pause"}
      </button>
      <span class=${`conn conn-${connection.value}`} role="status">${connection.value}</span>
    </div>
    <p class="count">
      ${matching === shown.length ? `${matching} events` : `the newest ${shown.length} of ${matching} events`}
      ${paused.value ? " (paused)" : ""}
    </p>
    <div class="table-scroll" tabindex="0" aria-label="events, newest first">
      <table>
        <thead>
          <tr>
            <th>time</th>
            <th class="num">seq</th>
            <th>kind</th>
            <th>path</th>
            <th>what</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map((entry, i) => html`<${EventRow} key=${entry.event === undefined ? `note-${i}-${entry.receivedAt}` : entry.seq} entry=${entry} />`)}
        </tbody>
      </table>
    </div>
  </section>`
}
