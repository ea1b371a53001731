/**
 * The dashboard front end's DOM-free parts, in node: the tree model (built from a snapshot, moved
 * by events), the tree filter, the event texts, and the server-sent-event parser. The page itself
 * is tested in Chromium (test/browser/).
 */
import { describe, expect, it } from "@effect/vitest"
import { describeEvent, formatCountdown, formatDuration } from "../dashboard-ui/format.js"
import { apply, countStates, fromTree, parentPaths, visibleRows, type WireTree } from "../dashboard-ui/model.js"
import { type Message, parseMessages } from "../dashboard-ui/sse.js"

const node = (path: string, extra: Record<string, unknown> = {}) => ({
  id: path.length,
  name: path.slice(path.lastIndexOf("/") + 1),
  path,
  kind: "worker" as const,
  state: "running" as const,
  attempt: 1,
  restarts: 0,
  ready: false,
  ...extra
})

const tree: WireTree = {
  path: "root",
  strategy: "one-for-one",
  state: "running",
  tasks: [
    {
      ...node("root/app", { kind: "supervisor" }),
      supervisor: {
        path: "root/app",
        strategy: "one-for-all",
        state: "running",
        tasks: [node("root/app/db"), node("root/app/cache")]
      }
    },
    node("root/traffic")
  ]
}

const stamp = (seq: number, path: string) => ({ seq, at: 1000 + seq, id: 1 as never, task: "t", path })

describe("dashboard model", () => {
  it("builds rows depth first with depths and the supervisor's details", () => {
    const model = fromTree(tree)
    expect(model.rows.map((row) => [row.path, row.depth])).toEqual([
      ["root/app", 0],
      ["root/app/db", 1],
      ["root/app/cache", 1],
      ["root/traffic", 0]
    ])
    expect(model.byPath.get("root/app")).toMatchObject({ strategy: "one-for-all", supervisorState: "running" })
    expect([...parentPaths(model.rows)]).toContain("root/app")
  })

  it("events move state, attempt, last failure, next attempt and restarts", () => {
    const model = fromTree(tree)
    expect(
      apply(model, {
        _tag: "AttemptFailed",
        ...stamp(1, "root/app/db"),
        attempt: 1,
        durationMs: 5,
        reason: "refused",
        fatal: false
      })
    ).toBe(false)
    expect(
      apply(model, {
        _tag: "BackoffScheduled",
        ...stamp(2, "root/app/db"),
        attempt: 1,
        delayMs: 500,
        source: "failure"
      })
    ).toBe(false)
    expect(model.byPath.get("root/app/db")).toMatchObject({
      state: "backing-off",
      lastFailure: "refused",
      restarts: 1,
      nextAttemptAt: 1002 + 500
    })
    apply(model, { _tag: "AttemptStarting", ...stamp(3, "root/app/db"), attempt: 2 })
    expect(model.byPath.get("root/app/db")).toMatchObject({ state: "running", attempt: 2, nextAttemptAt: undefined })
    // A periodic task's next run is not a restart.
    apply(model, { _tag: "BackoffScheduled", ...stamp(4, "root/traffic"), attempt: 1, delayMs: 300, source: "success" })
    expect(model.byPath.get("root/traffic")).toMatchObject({ state: "scheduled", restarts: 0 })
    expect(countStates(model.rows)).toEqual({
      waiting: 0,
      running: 3,
      "backing-off": 0,
      scheduled: 1,
      stopping: 0,
      standby: 0
    })
  })

  it("a cluster singleton's role: from the snapshot, then followed by its role events", () => {
    const role = { name: "billing", role: "standby" as const, runner: "r2", owner: "r1", epoch: 3, since: 900 }
    const model = fromTree({ ...tree, tasks: [node("root/leader", { state: "standby", singleton: role })] })
    expect(model.byPath.get("root/leader")?.singleton).toEqual(role)
    const row = () => model.byPath.get("root/leader")?.singleton
    expect(
      apply(model, { _tag: "SingletonAcquired", ...stamp(1, "root/leader"), name: "billing", runner: "r2", epoch: 4 })
    ).toBe(false)
    expect(row()).toEqual({ name: "billing", role: "owner", runner: "r2", epoch: 4, since: 1001 })
    apply(model, { _tag: "SingletonStandby", ...stamp(2, "root/leader"), name: "billing", runner: "r2" })
    expect(row()).toEqual({ name: "billing", role: "standby", runner: "r2", since: 1002 })
    apply(model, {
      _tag: "SingletonReleased",
      ...stamp(3, "root/leader"),
      name: "billing",
      runner: "r2",
      epoch: 4,
      reason: "handoff"
    })
    expect(row()).toBeUndefined()
    // A role event of a task the page has no row for asks for a snapshot.
    expect(
      apply(model, { _tag: "SingletonAcquired", ...stamp(4, "root/other"), name: "x", runner: "r2", epoch: 1 })
    ).toBe(true)
    expect(fromTree(tree).byPath.get("root/traffic")?.singleton).toBeUndefined()
  })

  it("a new task is placed under its parent; a removed one goes with its subtree", () => {
    const model = fromTree(tree)
    expect(apply(model, { _tag: "TaskAdded", ...stamp(1, "root/app/queue") })).toBe(true)
    expect(model.rows.map((row) => row.path)).toEqual([
      "root/app",
      "root/app/db",
      "root/app/cache",
      "root/app/queue",
      "root/traffic"
    ])
    expect(model.byPath.get("root/app/queue")).toMatchObject({ depth: 1, provisional: true, state: "waiting" })
    expect(apply(model, { _tag: "TaskRemoved", ...stamp(2, "root/app") })).toBe(true)
    expect(model.rows.map((row) => row.path)).toEqual(["root/traffic"])
    expect(model.byPath.has("root/app/db")).toBe(false)
  })

  it("events it cannot follow ask for a snapshot", () => {
    const model = fromTree(tree)
    const group = {
      _tag: "GroupRestart" as const,
      seq: 1,
      at: 1,
      path: "root/app",
      strategy: "one-for-all" as const,
      trigger: "db",
      affected: ["cache"]
    }
    expect(apply(model, group)).toBe(true)
    expect(apply(model, { _tag: "AttemptStarting", ...stamp(2, "root/unknown"), attempt: 1 })).toBe(true)
  })

  it("filters by path text and failing, keeping ancestors; collapses subtrees", () => {
    const model = fromTree(tree)
    apply(model, {
      _tag: "AttemptFailed",
      ...stamp(1, "root/app/cache"),
      attempt: 1,
      durationMs: 5,
      reason: "x",
      fatal: false
    })
    const paths = (filter: Parameters<typeof visibleRows>[1]) => visibleRows(model.rows, filter).map((row) => row.path)
    const none = new Set<string>()
    expect(paths({ text: "CACHE", failingOnly: false, collapsed: none })).toEqual(["root/app", "root/app/cache"])
    expect(paths({ text: "", failingOnly: true, collapsed: none })).toEqual(["root/app", "root/app/cache"])
    expect(paths({ text: "", failingOnly: false, collapsed: new Set(["root/app"]) })).toEqual([
      "root/app",
      "root/traffic"
    ])
  })

  it("handles a tree of 20,000 tasks quickly", () => {
    const big: WireTree = {
      ...tree,
      tasks: Array.from({ length: 20_000 }, (_, i) => node(`root/task-${i}`))
    }
    const started = performance.now()
    const model = fromTree(big)
    for (let i = 0; i < 1000; i++) {
      apply(model, { _tag: "AttemptStarting", ...stamp(i + 1, `root/task-${i * 7}`), attempt: 2 })
    }
    const shown = visibleRows(model.rows, { text: "task-1999", failingOnly: false, collapsed: new Set() })
    expect(shown.map((row) => row.path)).toEqual([
      "root/task-1999",
      "root/task-19990",
      "root/task-19991",
      "root/task-19992",
      "root/task-19993",
      "root/task-19994",
      "root/task-19995",
      "root/task-19996",
      "root/task-19997",
      "root/task-19998",
      "root/task-19999"
    ])
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe("dashboard texts", () => {
  it("durations and countdowns", () => {
    expect(formatDuration(450)).toBe("450 ms")
    expect(formatDuration(1234)).toBe("1.2 s")
    expect(formatDuration(42_000)).toBe("42 s")
    expect(formatDuration(125_000)).toBe("2 m 05 s")
    expect(formatDuration(3_720_000)).toBe("1 h 02 m")
    expect(formatCountdown(undefined, 0)).toBe("")
    expect(formatCountdown(1500, 1000)).toBe("in 500 ms")
    expect(formatCountdown(1000, 1000)).toBe("due")
  })

  it("one line per event; unknown kinds as their fields", () => {
    expect(
      describeEvent({
        _tag: "AttemptFailed",
        ...stamp(1, "p"),
        attempt: 2,
        durationMs: 1500,
        reason: "boom",
        fatal: true
      })
    ).toBe("attempt 2 failed after 1.5 s (fatal): boom")
    expect(
      describeEvent({ _tag: "BackoffScheduled", ...stamp(1, "p"), attempt: 2, delayMs: 200, source: "failure" })
    ).toBe("next attempt in 200 ms (after a failure)")
    const operator = {
      _tag: "OperatorActionRequested" as const,
      seq: 1,
      at: 1,
      path: "root/x",
      action: "restart",
      outcome: "refused" as const,
      reason: "no token",
      remote: "127.0.0.1",
      source: "dashboard"
    }
    expect(describeEvent(operator)).toBe("operator restart: refused (no token), from 127.0.0.1 via dashboard")
    const slot = {
      _tag: "SlotTransition",
      seq: 1,
      at: 1,
      path: "root",
      slot: "s",
      from: "idle",
      to: "running",
      queued: 0,
      reason: "admitted"
    }
    expect(describeEvent(slot as never)).toBe("slot=s from=idle to=running queued=0 reason=admitted")
  })
})

describe("dashboard server-sent events", () => {
  it("parses ids, names, multi-line data and comments across chunks", () => {
    const seen: Array<Message> = []
    let rest = parseMessages(': connected\n\nid: 7\nevent: TaskAdded\ndata: {"a":', (m) => seen.push(m))
    expect(seen).toEqual([])
    rest = parseMessages(rest + "1}\n\n: ping\n\nevent: reset\ndata: {}\r\n\r\nid: 8\ndata: x\ndata: y\n\n", (m) =>
      seen.push(m)
    )
    expect(rest).toBe("")
    expect(seen).toEqual([
      { id: "7", event: "TaskAdded", data: '{"a":1}' },
      { id: undefined, event: "reset", data: "{}" },
      { id: "8", event: "message", data: "x\ny" }
    ])
  })
})
