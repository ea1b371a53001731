/**
 * The tree view: one row per task, nested supervisors' tasks indented under the task that runs
 * them. Virtualised: only the rows in view (and a few around them) are in the DOM, so a tree of
 * thousands of tasks scrolls and updates without freezing the page.
 *
 * Keyboard: the grid is one tab stop (the focused row); ↑ ↓ Home End PageUp PageDown move, → opens
 * a supervisor's children (or goes to the first), ← closes them (or goes to the parent), Enter or
 * Space selects the row for the details and actions panel.
 */
import { computed, signal } from "@preact/signals"
import { html } from "htm/preact"
import { useEffect, useLayoutEffect, useRef } from "preact/hooks"
import { formatCountdown } from "./format.js"
import { model, revision, serverNow } from "./live.js"
import { parentPaths, type Row, visibleRows } from "./model.js"

/** Row height in px: `.tree-row` in app.css has the same. */
export const ROW_HEIGHT = 30
const OVERSCAN = 8

export const filterText = signal("")
export const failingOnly = signal(false)
export const collapsed = signal<ReadonlySet<string>>(new Set())
/** The row the details panel shows. */
export const selectedPath = signal<string | undefined>(undefined)
/** The row holding the grid's tab stop. */
const focusedPath = signal<string | undefined>(undefined)
const scrollTop = signal(0)
/** Set by a key that moved the focus: the next render focuses the row (it may be a new element). */
let pendingFocus = false
const viewportHeight = signal(480)

export const rows = computed((): ReadonlyArray<Row> => {
  void revision.value
  const m = model.value
  if (m === undefined) return []
  return visibleRows(m.rows, { text: filterText.value, failingOnly: failingOnly.value, collapsed: collapsed.value })
})

const parents = computed(() => {
  void revision.value
  return parentPaths(model.value?.rows ?? [])
})

export const selectedRow = computed((): Row | undefined => {
  void revision.value
  const path = selectedPath.value
  return path === undefined ? undefined : model.value?.byPath.get(path)
})

const toggle = (path: string, open?: boolean) => {
  const next = new Set(collapsed.value)
  const isOpen = !next.has(path)
  if (open === isOpen) return
  if (isOpen) next.add(path)
  else next.delete(path)
  collapsed.value = next
}

const Countdown = ({ at }: { at: number | undefined }) => {
  const text = formatCountdown(at, serverNow.value)
  return html`<span class=${text === "due" ? "due" : ""}>${text}</span>`
}

/**
 * One row. `revision` is passed only so that the row is drawn again when the model changed: rows are
 * updated in place, and @preact/signals skips a component whose props are the same objects.
 */
const TreeRow = ({ row, index, isParent }: { row: Row; index: number; isParent: boolean; revision: number }) => {
  const open = !collapsed.value.has(row.path)
  const focused = focusedPath.value === row.path || (focusedPath.value === undefined && index === 0)
  const selected = selectedPath.value === row.path
  const failure = row.lastFailure ?? ""
  return html`<div
    role="row"
    class=${`tree-row${selected ? " selected" : ""}${row.provisional ? " provisional" : ""}`}
    data-path=${row.path}
    data-state=${row.state}
    tabindex=${focused ? 0 : -1}
    aria-rowindex=${index + 2}
    aria-level=${row.depth + 1}
    aria-selected=${selected}
    aria-expanded=${isParent ? open : undefined}
    onClick=${() => {
      focusedPath.value = row.path
      selectedPath.value = row.path
    }}
  >
    <span role="gridcell" class="cell name" style=${{ paddingLeft: `${0.5 + row.depth * 1.1}rem` }}>
      ${
        isParent
          ? html`<button
              type="button"
              class="toggle"
              tabindex="-1"
              aria-label=${open ? `collapse ${row.path}` : `expand ${row.path}`}
              onClick=${(e: Event) => {
                e.stopPropagation()
                toggle(row.path)
              }}
            >
              ${open ? "▾" : "▸"}
            </button>`
          : html`<span class="toggle-space"></span>`
      }
      <span class="task-name" title=${row.path}>${row.name}</span>
      ${row.strategy === undefined ? null : html`<span class="tag">${row.strategy}</span>`}
      ${row.ready ? html`<span class="tag ready" title="readiness task">ready</span>` : null}
    </span>
    <span role="gridcell" class="cell state"><span class=${`badge state-${row.state}`}>${row.state}</span></span>
    <span role="gridcell" class="cell num attempt">${row.attempt}</span>
    <span role="gridcell" class="cell num restarts">${row.restarts}</span>
    <span role="gridcell" class="cell next"><${Countdown} at=${row.nextAttemptAt} /></span>
    <span role="gridcell" class="cell failure" title=${failure}>${failure}</span>
  </div>`
}

const moveFocus = (list: ReadonlyArray<Row>, index: number, container: HTMLElement | null) => {
  const target = list[Math.max(0, Math.min(list.length - 1, index))]
  if (target === undefined || container === null) return
  focusedPath.value = target.path
  pendingFocus = true
  const at = list.indexOf(target) * ROW_HEIGHT
  if (at < container.scrollTop) container.scrollTop = at
  else if (at + ROW_HEIGHT > container.scrollTop + container.clientHeight) {
    container.scrollTop = at + ROW_HEIGHT - container.clientHeight
  }
  scrollTop.value = container.scrollTop
}

export const Tree = () => {
  const scroller = useRef<HTMLDivElement>(null)
  // Rows are updated in place: the revision says when to draw again.
  void revision.value
  const list = rows.value
  const parentSet = parents.value

  useEffect(() => {
    const element = scroller.current
    if (element === null) return
    const observer = new ResizeObserver(() => {
      viewportHeight.value = element.clientHeight
    })
    observer.observe(element)
    return () => observer.disconnect()
  }, [])

  // Keep the keyboard focus on the focused row when it is re-rendered (virtualised rows come and go):
  // in the same task as the DOM update, so a key pressed meanwhile is not lost on <body>.
  useLayoutEffect(() => {
    const element = scroller.current
    const path = focusedPath.value
    if (element === null || path === undefined) return
    if (!pendingFocus && !element.contains(document.activeElement)) return
    const row = element.querySelector<HTMLElement>(`[data-path="${CSS.escape(path)}"]`)
    if (row === null) return
    pendingFocus = false
    if (document.activeElement !== row) row.focus({ preventScroll: true })
  })

  const first = Math.max(0, Math.floor(scrollTop.value / ROW_HEIGHT) - OVERSCAN)
  const count = Math.ceil(viewportHeight.value / ROW_HEIGHT) + OVERSCAN * 2
  const shown = list.slice(first, first + count)

  const onKeyDown = (e: KeyboardEvent) => {
    const current = list.findIndex((row) => row.path === focusedPath.value)
    const index = current < 0 ? 0 : current
    const page = Math.max(1, Math.floor(viewportHeight.value / ROW_HEIGHT) - 1)
    const row = list[index]
    switch (e.key) {
      case "ArrowDown":
        moveFocus(list, index + 1, scroller.current)
        break
      case "ArrowUp":
        moveFocus(list, index - 1, scroller.current)
        break
      case "PageDown":
        moveFocus(list, index + page, scroller.current)
        break
      case "PageUp":
        moveFocus(list, index - page, scroller.current)
        break
      case "Home":
        moveFocus(list, 0, scroller.current)
        break
      case "End":
        moveFocus(list, list.length - 1, scroller.current)
        break
      case "ArrowRight":
        if (row === undefined || !parentSet.has(row.path)) return
        if (collapsed.value.has(row.path)) toggle(row.path, true)
        else moveFocus(list, index + 1, scroller.current)
        break
      case "ArrowLeft": {
        if (row === undefined) return
        if (parentSet.has(row.path) && !collapsed.value.has(row.path)) toggle(row.path, false)
        else {
          const parent = row.path.slice(0, row.path.lastIndexOf("/"))
          const at = list.findIndex((r) => r.path === parent)
          if (at >= 0) moveFocus(list, at, scroller.current)
        }
        break
      }
      case "Enter":
      case " ":
        if (row !== undefined) selectedPath.value = row.path
        break
      default:
        return
    }
    e.preventDefault()
  }

  return html`<div
    class="tree"
    role="treegrid"
    aria-label="tasks"
    aria-rowcount=${list.length + 1}
    onKeyDown=${onKeyDown}
  >
    <div role="row" class="tree-row tree-head" aria-rowindex="1">
      <span role="columnheader" class="cell name">task</span>
      <span role="columnheader" class="cell state">state</span>
      <span role="columnheader" class="cell num">attempt</span>
      <span role="columnheader" class="cell num">restarts</span>
      <span role="columnheader" class="cell next">next attempt</span>
      <span role="columnheader" class="cell failure">last failure</span>
    </div>
    <div
      class="tree-scroll"
      ref=${scroller}
      onScroll=${(e: Event) => {
        scrollTop.value = (e.currentTarget as HTMLElement).scrollTop
      }}
    >
      <div class="tree-spacer" style=${{ height: `${list.length * ROW_HEIGHT}px` }}>
        <div class="tree-window" style=${{ transform: `translateY(${first * ROW_HEIGHT}px)` }}>
          ${shown.map(
            (row, i) =>
              html`<${TreeRow}
                key=${row.path}
                row=${row}
                index=${first + i}
                isParent=${parentSet.has(row.path)}
                revision=${revision.value}
              />`
          )}
        </div>
      </div>
      ${
        list.length === 0
          ? html`<p class="empty">${model.value === undefined ? "loading…" : "no task matches"}</p>`
          : null
      }
    </div>
  </div>`
}
