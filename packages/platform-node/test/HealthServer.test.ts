/**
 * The health server over real sockets: a real supervisor, the server on 127.0.0.1 port 0, queried
 * with `fetch`. Waiting is done by polling with a bounded number of tries (real timers), never by a
 * fixed sleep. Effect's metric registry is global: every test names its own root supervisor, so
 * its task paths (the `task` label) are its own.
 */
import { connect } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Ref, Schema, Scope, Tracer } from "effect"
import { Backoff, Offload, Supervisor, SupervisorEvent, SupervisorTree, Task } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { TestTime } from "@fibervisor/vitest"

let roots = 0

/** A root supervisor name no other test uses. */
const uniqueRoot = (prefix: string): string => `${prefix}-${++roots}`

/** A real-time pause (also under the TestClock, which `Effect.sleep` would wait for). */
const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Runs `effect` until `done` holds for its result, at most `tries` times, `everyMs` apart. */
const until = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  { everyMs = 10, tries = 150 }: { readonly everyMs?: number; readonly tries?: number } = {}
): Effect.Effect<A, E | Error, R> =>
  Effect.gen(function* () {
    let last: A | undefined
    for (let i = 0; i < tries; i++) {
      last = yield* effect
      if (done(last)) return last
      yield* pause(everyMs)
    }
    return yield* Effect.fail(new Error(`gave up waiting for ${what}; last: ${JSON.stringify(last)}`))
  })

/**
 * `clock`, recording the instant each sleep started on it is due (Effect 4's `TestClock` does not
 * list its pending sleeps).
 */
const recordSleeps = (clock: Clock.Clock) => {
  const wakes: Array<number> = []
  const recording: Clock.Clock = {
    ...clock,
    sleep: (duration) =>
      Effect.suspend(() => {
        wakes.push(clock.currentTimeMillisUnsafe() + Duration.toMillis(duration))
        return clock.sleep(duration)
      })
  }
  return { wakes, clock: recording }
}

const urlOf = (server: HealthServer.HealthServer, path: string) => `http://127.0.0.1:${server.port}${path}`

interface Reply {
  readonly status: number
  readonly contentType: string | null
  readonly text: string
}

const request = (server: HealthServer.HealthServer, path: string, init?: RequestInit): Effect.Effect<Reply, Error> =>
  Effect.tryPromise({
    try: async () => {
      const response = await fetch(urlOf(server, path), init)
      return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() }
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })

/** A JSON reply: status and parsed body (checks the content type). */
const getJson = (server: HealthServer.HealthServer, path: string) =>
  Effect.map(request(server, path), (reply) => {
    expect(reply.contentType).toBe("application/json")
    return { status: reply.status, body: JSON.parse(reply.text) as unknown }
  })

/** A supervisor named `name` with a health server on it, both released with the test's scope. */
const start = (name: string, options?: Omit<Supervisor.SupervisorOptions, "name">) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(
      HealthServer.layer({ port: 0, host: "127.0.0.1" }).pipe(
        Layer.provideMerge(Supervisor.layer({ name, ...options }))
      )
    )
    return { sup: Context.get(context, Supervisor.Supervisor), server: Context.get(context, HealthServer.HealthServer) }
  }).pipe(Effect.orDie)

// ---------------------------------------------------------------------------------------------
// Server-sent events, read from a fetch body
// ---------------------------------------------------------------------------------------------

interface Message {
  readonly comments: ReadonlyArray<string>
  readonly event?: string
  readonly id?: string
  readonly data?: string
}

/** One SSE message (the lines before a blank line). */
const parseMessage = (block: string): Message => {
  const comments: Array<string> = []
  const fields: Record<string, string> = {}
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      comments.push(line.slice(1).trim())
      continue
    }
    const colon = line.indexOf(":")
    if (colon <= 0) throw new Error(`not an SSE field line: ${JSON.stringify(line)}`)
    const field = line.slice(0, colon)
    if (field in fields) throw new Error(`field ${field} twice in one message: ${JSON.stringify(block)}`)
    fields[field] = line.slice(colon + 1).replace(/^ /, "")
  }
  return { comments, ...fields }
}

/** An open `/events` stream. */
interface EventStream {
  readonly status: number
  readonly headers: Headers
  /** The next message; `undefined` once the server ended the stream. Fails after 2 seconds. */
  readonly next: Effect.Effect<Message | undefined, Error>
  /** Goes away like a client that closes the tab. */
  readonly abort: Effect.Effect<void>
}

const openEvents = (server: HealthServer.HealthServer): Effect.Effect<EventStream, Error> =>
  Effect.tryPromise({
    try: async () => {
      const controller = new AbortController()
      const response = await fetch(urlOf(server, "/events"), { signal: controller.signal })
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      let buffer = ""
      let ended = false
      const nextMessage = async (): Promise<Message | undefined> => {
        while (true) {
          const end = buffer.indexOf("\n\n")
          if (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            return parseMessage(block)
          }
          if (ended) {
            if (buffer !== "") throw new Error(`stream ended inside a message: ${JSON.stringify(buffer)}`)
            return undefined
          }
          const { done, value } = await reader.read()
          if (done) ended = true
          else buffer += decoder.decode(value, { stream: true })
        }
      }
      return {
        status: response.status,
        headers: response.headers,
        next: Effect.tryPromise({
          try: nextMessage,
          catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
        }).pipe(
          Effect.timeoutOrElse({
            duration: "2 seconds",
            orElse: () => Effect.fail(new Error("no SSE message within 2 seconds"))
          })
        ),
        abort: Effect.sync(() => controller.abort())
      }
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })

/** Decodes an event message, checking that its `event:` and `id:` lines match the data. */
const decodeEvent = (message: Message) =>
  Effect.gen(function* () {
    expect(message.data).toBeDefined()
    const event = yield* SupervisorEvent.decode(JSON.parse(message.data!))
    expect(message.event).toBe(event._tag)
    expect(message.id).toBe(String(event.seq))
    return event
  })

/** Reads events until one satisfies `found`; returns every event read. */
const readUntil = (stream: EventStream, found: (event: SupervisorEvent.SupervisorEvent) => boolean) =>
  Effect.gen(function* () {
    const seen: Array<SupervisorEvent.SupervisorEvent> = []
    while (true) {
      const message = yield* stream.next
      if (message === undefined) return yield* Effect.fail(new Error("the event stream ended"))
      if (message.data === undefined) continue // a comment
      const event = yield* decodeEvent(message)
      seen.push(event)
      if (found(event)) return seen
    }
  })

const isFor =
  (path: string, tag: SupervisorEvent.SupervisorEvent["_tag"]) => (event: SupervisorEvent.SupervisorEvent) =>
    event._tag === tag && "path" in event && event.path === path

// ---------------------------------------------------------------------------------------------
// A strict parser of the Prometheus text exposition format (0.0.4)
// ---------------------------------------------------------------------------------------------

type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped"

interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  readonly timestamp?: number
}

interface Family {
  readonly name: string
  readonly type: MetricType
  help?: string
  readonly samples: Array<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types: ReadonlyArray<MetricType> = ["counter", "gauge", "histogram", "summary", "untyped"]

const parseValue = (text: string, line: number): number => {
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (text === "NaN") return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${text}`)
  return Number(text)
}

/** `{a="x",b="y"}` from `at` (the `{`); returns the labels and the index after the `}`. */
const parseLabels = (text: string, at: number, line: number): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  let i = at + 1
  while (true) {
    if (text[i] === "}") return [labels, i + 1]
    const eq = text.indexOf("=", i)
    if (eq < 0) throw new Error(`line ${line}: label without "="`)
    const name = text.slice(i, eq)
    if (!labelName.test(name)) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`)
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`)
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value of ${name} not quoted`)
    let value = ""
    i = eq + 2
    while (true) {
      const c = text[i]
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`)
      if (c === '"') break
      if (c === "\\") {
        const escaped = text[i + 1]
        if (escaped === "\\") value += "\\"
        else if (escaped === '"') value += '"'
        else if (escaped === "n") value += "\n"
        else throw new Error(`line ${line}: bad escape \\${escaped}`)
        i += 2
      } else {
        value += c
        i += 1
      }
    }
    labels[name] = value
    i += 1
    if (text[i] === ",") i += 1
    else if (text[i] !== "}") throw new Error(`line ${line}: expected "," or "}" after label ${name}`)
  }
}

const suffixes: Record<MetricType, ReadonlyArray<string>> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"]
}

/**
 * Parses an exposition, failing on anything the format does not allow: a sample before (or without)
 * its family's `TYPE`, a second `TYPE` or `HELP` for a name, a family's samples not in one group, a
 * duplicate series, a bad name, label or value; for histograms, buckets that decrease or a `+Inf`
 * bucket that differs from `_count`. Comments other than `HELP` and `TYPE` (such as `# UNIT`) are
 * allowed, as the format says.
 */
const parsePrometheus = (text: string): Map<string, Family> => {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a line feed")
  const families = new Map<string, Family>()
  const helps = new Map<string, string>()
  const closed = new Set<string>()
  const series = new Set<string>()
  let current: string | undefined
  const lines = text.slice(0, -1).split("\n")
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === "") return
    if (raw.startsWith("#")) {
      const match = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw)
      if (match === null) return // a plain comment
      const [, keyword, name, rest = ""] = match
      if (!metricName.test(name!)) throw new Error(`line ${line}: bad metric name ${name}`)
      if (keyword === "HELP") {
        if (helps.has(name!)) throw new Error(`line ${line}: second HELP for ${name}`)
        helps.set(name!, rest)
        return
      }
      if (families.has(name!)) throw new Error(`line ${line}: second TYPE for ${name}`)
      if (!types.includes(rest as MetricType)) throw new Error(`line ${line}: bad type ${rest}`)
      families.set(name!, { name: name!, type: rest as MetricType, samples: [] })
      return
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw)
    if (nameMatch === null) throw new Error(`line ${line}: bad sample ${JSON.stringify(raw)}`)
    const name = nameMatch[0]
    let labels: Record<string, string> = {}
    let at = name.length
    if (raw[at] === "{") [labels, at] = parseLabels(raw, at, line)
    const rest = raw.slice(at)
    const parts = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest)
    if (parts === null) throw new Error(`line ${line}: bad value part ${JSON.stringify(rest)}`)
    const family = [...families.values()].find((f) => suffixes[f.type].some((suffix) => `${f.name}${suffix}` === name))
    if (family === undefined) throw new Error(`line ${line}: sample ${name} has no TYPE before it`)
    if (family.name !== current) {
      if (closed.has(family.name)) throw new Error(`line ${line}: samples of ${family.name} are not in one group`)
      if (current !== undefined) closed.add(current)
      current = family.name
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`)
    series.add(key)
    family.samples.push({
      name,
      labels,
      value: parseValue(parts[1]!, line),
      ...(parts[2] === undefined ? {} : { timestamp: Number(parts[2]) })
    })
  })
  for (const [name, help] of helps) {
    if (!families.has(name)) throw new Error(`HELP for ${name} without a TYPE`)
    families.get(name)!.help = help
  }
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family)
  return families
}

const withoutLe = (labels: Readonly<Record<string, string>>) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([key]) => key !== "le")
      .sort()
  )

const checkHistogram = (family: Family) => {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number }>()
  const group = (labels: Readonly<Record<string, string>>) => {
    const key = withoutLe(labels)
    let g = groups.get(key)
    if (g === undefined) groups.set(key, (g = { buckets: [] }))
    return g
  }
  for (const sample of family.samples) {
    if (sample.name.endsWith("_bucket")) {
      const le = sample.labels.le
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`)
      group(sample.labels).buckets.push([parseValue(le, 0), sample.value])
    } else if (sample.name.endsWith("_count")) group(sample.labels).count = sample.value
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0])
    sorted.forEach(([, value], i) => {
      if (i > 0 && value < sorted[i - 1]![1]) throw new Error(`${family.name}${key}: buckets decrease`)
    })
    const inf = sorted.at(-1)
    if (inf === undefined || inf[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
    if (inf[1] !== g.count) throw new Error(`${family.name}${key}: +Inf bucket ${inf[1]} but count ${g.count}`)
  }
}

/** The value of the one sample named `name` whose labels include `labels`. */
const valueOf = (families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined => {
  const found = [...families.values()]
    .flatMap((family) => family.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}

describe("the Prometheus parser of these tests", () => {
  it("accepts a well-formed exposition and refuses malformed ones", () => {
    const good = [
      "# HELP a_total Things",
      "# UNIT a_total 1",
      "# TYPE a_total counter",
      'a_total{x="1",y="q\\"uote"} 3',
      "# TYPE h histogram",
      'h_bucket{le="1"} 1',
      'h_bucket{le="+Inf"} 2',
      "h_sum 3.5",
      "h_count 2 1700000000000",
      ""
    ].join("\n")
    const families = parsePrometheus(good)
    expect(families.get("a_total")?.samples[0]?.labels).toEqual({ x: "1", y: 'q"uote' })
    expect(valueOf(families, "h_count", {})).toBe(2)
    expect(() => parsePrometheus("a 1\n")).toThrow(/no TYPE/)
    expect(() => parsePrometheus("# TYPE a gauge\n# TYPE a gauge\na 1\n")).toThrow(/second TYPE/)
    expect(() => parsePrometheus('# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="1"} 1\n')).toThrow(/one group/)
    expect(() => parsePrometheus('# TYPE a gauge\na{x="1} 1\n')).toThrow(/unterminated/)
    expect(() => parsePrometheus("# TYPE a gauge\na one\n")).toThrow(/bad value/)
    expect(() => parsePrometheus("# TYPE a wat\n")).toThrow(/bad type/)
    expect(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n')).toThrow(/count 3/)
    expect(() => parsePrometheus("# TYPE a gauge\na 1")).toThrow(/line feed/)
  })
})

describe("HealthServer", () => {
  it.effect("refuses bad options with InvalidHealthServerOptions naming the field", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<[HealthServer.HealthServerOptions, string]> = [
        [{ port: -1 }, "port"],
        [{ port: 1.5 }, "port"],
        [{ port: 65536 }, "port"],
        [{ port: NaN }, "port"],
        [{ port: "8080" as unknown as number }, "port"],
        [{ port: 0, host: "" }, "host"],
        [{ port: 0, host: "   " }, "host"],
        [{ port: 0, host: 42 as unknown as string }, "host"],
        [{ port: 0, serviceName: "" }, "serviceName"],
        [{ port: 0, shutdownSupervisorFirst: "yes" as unknown as boolean }, "shutdownSupervisorFirst"],
        [undefined as unknown as HealthServer.HealthServerOptions, "options"]
      ]
      for (const [options, field] of cases) {
        const error = yield* Layer.build(HealthServer.layer(options)).pipe(
          Effect.provide(Supervisor.layer()),
          Effect.scoped,
          Effect.flip
        )
        expect(error._tag).toBe("InvalidHealthServerOptions")
        expect(error).toMatchObject({ field })
        expect(error.message).toContain(`invalid health server options: ${field}`)
      }
    })
  )

  it.live("fails with HealthServerError when the port is taken, leaving the supervisor running", () =>
    Effect.gen(function* () {
      const { sup, server } = yield* start(uniqueRoot("health-taken"))
      expect(server.host).toBe("127.0.0.1")
      expect(server.port).toBeGreaterThan(0)
      const error = yield* HealthServer.make({ port: server.port, host: "127.0.0.1" }).pipe(
        Effect.provideService(Supervisor.Supervisor, sup),
        Effect.scoped,
        Effect.flip
      )
      expect(error._tag).toBe("HealthServerError")
      expect(error).toMatchObject({ host: "127.0.0.1", port: server.port })
      expect(error.message).toContain("EADDRINUSE")
      expect(yield* sup.isShuttingDown).toBe(false)
      expect((yield* getJson(server, "/healthz")).status).toBe(200)
    })
  )

  it.live("answers /healthz and /readyz 200 with JSON; unknown routes and other methods 404", () =>
    Effect.gen(function* () {
      const { server } = yield* start(uniqueRoot("health-ok"))
      expect(yield* getJson(server, "/healthz")).toEqual({ status: 200, body: { status: "ok" } })
      expect(yield* getJson(server, "/readyz")).toEqual({ status: 200, body: { status: "ready" } })
      expect((yield* request(server, "/nope")).status).toBe(404)
      expect((yield* request(server, "/healthz/more")).status).toBe(404)
      expect((yield* request(server, "/healthz", { method: "POST" })).status).toBe(404)
    })
  )

  it.live("does not trace its own requests", () =>
    Effect.gen(function* () {
      const names: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          names.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const { server } = yield* start(uniqueRoot("health-untraced")).pipe(Effect.withTracer(tracer))
      for (const path of ["/healthz", "/readyz", "/tasks", "/metrics", "/nope"]) yield* request(server, path)
      // No span at all (traced, each request would be a span named after its method: "GET").
      expect(names).toEqual([])
      // The tracer records spans: the server's requests would have been seen.
      yield* Effect.withTracer(Effect.withSpan(Effect.void, "control"), tracer)
      expect(names).toContain("control")
    })
  )

  it.live("serves /tasks as the Schema-encoded tree", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("health-tasks")
      const { sup, server } = yield* start(root)
      yield* sup.add(Task.make("api", Effect.never, { ready: true }))
      yield* sup.add(Supervisor.task("db", [Task.restartable("pool", Effect.never)]))
      yield* until(
        "every task running",
        Effect.map(sup.tree, (tree) => SupervisorTree.flatten(tree).map((node) => node.state)),
        (states) => states.length === 3 && states.every((state) => state === "running")
      )
      const { status, body } = yield* getJson(server, "/tasks")
      expect(status).toBe(200)
      const tree = yield* Schema.decodeUnknownEffect(SupervisorTree.SupervisorTree)(body)
      expect(tree.path).toBe(root)
      expect(tree.state).toBe("running")
      expect(SupervisorTree.flatten(tree).map(({ path, ready, kind }) => ({ path, ready, kind }))).toEqual([
        { path: `${root}/api`, ready: true, kind: "worker" },
        { path: `${root}/db`, ready: false, kind: "supervisor" },
        { path: `${root}/db/pool`, ready: false, kind: "worker" }
      ])
      // What was served is what the supervisor reports, encoded.
      expect(body).toEqual(SupervisorTree.encode(yield* sup.tree))
    })
  )

  // The TestClock holds the task in its backoff until the test moves it, so the 503 is observed
  // deterministically; the sockets and the polling run in real time.
  it.effect("answers /readyz 503 naming a ready task that is backing off, and 200 once it runs", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("health-ready")
      const { sup, server } = yield* start(root)
      const attempts = yield* Ref.make(0)
      yield* sup.add(
        Task.make(
          "db",
          Effect.flatMap(
            Ref.updateAndGet(attempts, (n) => n + 1),
            (n) => (n === 1 ? Effect.fail("connection refused") : Effect.never)
          ),
          { ready: true, backoff: Backoff.constant("1 second") }
        )
      )
      // Not marked ready: never named, whatever its state.
      yield* sup.add(Task.make("cache", Effect.fail("down"), { backoff: Backoff.constant("1 hour") }))

      const notReady = yield* until("db backing off", getJson(server, "/readyz"), ({ body }) =>
        JSON.stringify(body).includes("backing-off")
      )
      expect(notReady).toEqual({
        status: 503,
        body: { status: "not-ready", notReady: [{ path: `${root}/db`, state: "backing-off" }] }
      })
      expect(yield* getJson(server, "/healthz")).toEqual({ status: 200, body: { status: "ok" } })

      yield* TestTime.adjust("1 second")
      const ready = yield* until("ready", getJson(server, "/readyz"), ({ status }) => status === 200)
      expect(ready).toEqual({ status: 200, body: { status: "ready" } })
      expect(yield* Ref.get(attempts)).toBe(2)
    })
  )

  it.live("streams /events from the request on, and releases the subscription when the client goes away", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("health-events")
      const { sup, server } = yield* start(root)
      expect(yield* server.openEventStreams).toBe(0)

      const stream = yield* openEvents(server)
      expect(stream.status).toBe(200)
      expect(stream.headers.get("content-type")).toBe("text/event-stream")
      expect(stream.headers.get("cache-control")).toBe("no-cache")
      expect(yield* stream.next).toEqual({ comments: ["connected"] })
      // Subscribed before the response started.
      expect(yield* server.openEventStreams).toBe(1)

      yield* sup.add(Task.make("ticker", Effect.never))
      const seen = yield* readUntil(stream, isFor(`${root}/ticker`, "AttemptStarting"))
      const tags = seen.filter((event) => "path" in event && event.path === `${root}/ticker`).map((e) => e._tag)
      expect(tags).toEqual(["TaskAdded", "AttemptStarting"])
      expect(seen[0]).toMatchObject({ _tag: "TaskAdded", task: "ticker", path: `${root}/ticker` })
      expect(seen.at(-1)).toMatchObject({ _tag: "AttemptStarting", attempt: 1 })

      yield* stream.abort
      yield* until("the subscription released", server.openEventStreams, (open) => open === 0)

      // The server is healthy and a new client gets the events after its request.
      expect(yield* getJson(server, "/healthz")).toEqual({ status: 200, body: { status: "ok" } })
      const again = yield* openEvents(server)
      expect(yield* again.next).toEqual({ comments: ["connected"] })
      yield* sup.add(Task.make("second", Effect.never))
      const next = yield* readUntil(again, () => true)
      expect(next).toMatchObject([{ _tag: "TaskAdded", path: `${root}/second` }])
      yield* again.abort
      yield* until("the second subscription released", server.openEventStreams, (open) => open === 0)
    })
  )

  // On the TestClock: the server's fibers run with the services of the scope that built it.
  it.effect("sends a ping comment on an idle event stream every 15 seconds", () =>
    Effect.gen(function* () {
      const sleeps = recordSleeps(yield* Clock.Clock)
      const { server } = yield* start(uniqueRoot("health-ping")).pipe(Effect.provideService(Clock.Clock, sleeps.clock))
      const stream = yield* openEvents(server)
      expect(yield* stream.next).toEqual({ comments: ["connected"] })
      for (let ping = 1; ping <= 2; ping++) {
        // The stream's timer is set (it is the only one).
        yield* until(
          "the ping timer",
          Effect.sync(() => sleeps.wakes.slice()),
          (wakes) => wakes.includes(ping * 15_000)
        )
        yield* TestTime.adjust("15 seconds")
        expect(yield* stream.next).toEqual({ comments: ["ping"] })
      }
      yield* stream.abort
    })
  )

  it.live("answers 503 while the supervisor shuts down, streams the shutdown, and closes once it is done", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("health-drain")
      const scope = yield* Scope.make()
      // The natural composition: the server is released before the supervisor it depends on, so
      // it drains the supervisor first.
      const context = yield* Layer.buildWithScope(
        HealthServer.layer({ port: 0, host: "127.0.0.1" }).pipe(
          Layer.provideMerge(Supervisor.layer({ name: root, grace: "10 seconds" }))
        ),
        scope
      ).pipe(Effect.orDie)
      const sup = Context.get(context, Supervisor.Supervisor)
      const server = Context.get(context, HealthServer.HealthServer)

      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      // Stuck in its finalizer until the test releases it (well within its grace).
      yield* sup.add(
        Task.make(
          "stuck",
          Effect.acquireRelease(Deferred.succeed(started, undefined), () => Deferred.await(release)).pipe(
            Effect.andThen(Effect.never)
          ),
          { ready: true }
        )
      )
      yield* Deferred.await(started)
      yield* until("ready", getJson(server, "/readyz"), ({ status }) => status === 200)
      const stream = yield* openEvents(server)
      expect(yield* stream.next).toEqual({ comments: ["connected"] })

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))

      const health = yield* until("healthz 503", getJson(server, "/healthz"), ({ status }) => status === 503)
      expect(health).toEqual({ status: 503, body: { status: "shutting-down" } })
      expect(yield* getJson(server, "/readyz")).toEqual({
        status: 503,
        body: { status: "shutting-down", notReady: [{ path: `${root}/stuck`, state: "stopping" }] }
      })
      yield* readUntil(stream, (event) => event._tag === "ShutdownRequested" && event.path === root)
      expect(closing.pollUnsafe()).toBeUndefined()

      yield* Deferred.succeed(release, undefined)
      const rest = yield* readUntil(stream, (event) => event._tag === "AllStoppedWithinGrace")
      expect(rest.map((event) => event._tag)).toContain("TaskRemoved")
      // Then the server ends the stream, and closes.
      expect(yield* stream.next).toBeUndefined()
      yield* Fiber.join(closing).pipe(
        Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.fail("closing hung") })
      )
      expect(yield* sup.isShuttingDown).toBe(true)
      const refused = yield* Effect.flip(request(server, "/healthz"))
      expect(refused.message).toBe("fetch failed")
    })
  )

  it.live("with shutdownSupervisorFirst: false, releasing the server leaves the supervisor running", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: uniqueRoot("health-keep") })
      const scope = yield* Scope.make()
      const server = yield* HealthServer.make({ port: 0, host: "127.0.0.1", shutdownSupervisorFirst: false }).pipe(
        Effect.provideService(Supervisor.Supervisor, sup),
        Scope.provide(scope)
      )
      const stream = yield* openEvents(server)
      expect(yield* stream.next).toEqual({ comments: ["connected"] })
      // An open event stream does not keep the server from closing.
      yield* Scope.close(scope, Exit.void).pipe(
        Effect.timeoutOrElse({ duration: "2 seconds", orElse: () => Effect.fail("closing hung") })
      )
      expect(yield* stream.next).toBeUndefined()
      expect(yield* sup.isShuttingDown).toBe(false)
      expect((yield* Effect.flip(request(server, "/healthz"))).message).toBe("fetch failed")
    })
  )

  it.live("closes at once on release, ending connections that carry no request", () =>
    Effect.gen(function* () {
      const sup = yield* Supervisor.make({ name: uniqueRoot("health-close") })
      const scope = yield* Scope.make()
      const server = yield* HealthServer.make({ port: 0, host: "127.0.0.1" }).pipe(
        Effect.provideService(Supervisor.Supervisor, sup),
        Scope.provide(scope)
      )
      // A connection opened ahead of any request (Node's own close would wait seconds for it)...
      const raw = yield* Effect.callback<{ readonly closed: Promise<void> }>((resume) => {
        const socket = connect(server.port, "127.0.0.1", () =>
          resume(Effect.succeed({ closed: new Promise<void>((done) => socket.once("close", () => done())) }))
        )
      })
      // ...and a keep-alive connection left idle by a finished request.
      expect((yield* getJson(server, "/healthz")).status).toBe(200)

      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - started).toBeLessThan(1_000)
      yield* Effect.promise(() => raw.closed).pipe(
        Effect.timeoutOrElse({ duration: "1 second", orElse: () => Effect.fail("the raw connection stayed open") })
      )
    })
  )

  it.live("serves /metrics as Prometheus text with the task and offload series", () =>
    Effect.gen(function* () {
      const root = uniqueRoot("health-metrics")
      const kind = `${root}-mail`
      const { sup, server } = yield* start(root)
      const offload = Context.get(yield* Layer.build(Offload.layer()).pipe(Effect.orDie), Offload.Offload)

      const handle = yield* sup.add(Task.once("job", Effect.void))
      yield* handle.await
      yield* offload.spawn(kind, Effect.void)
      expect(yield* offload.awaitIdle("1 second")).toBe(true)

      const reply = yield* request(server, "/metrics")
      expect(reply.status).toBe(200)
      expect(reply.contentType).toBe("text/plain; version=0.0.4; charset=utf-8")
      const families = parsePrometheus(reply.text)

      const task = { task: `${root}/job` }
      const offloaded = { kind }
      const expected: ReadonlyArray<[string, MetricType]> = [
        ["fibervisor_task_attempts_total", "counter"],
        ["fibervisor_task_running", "gauge"],
        ["fibervisor_task_attempt_duration_seconds", "histogram"],
        ["fibervisor_offload_spawned_total", "counter"],
        ["fibervisor_offload_completed_total", "counter"],
        ["fibervisor_offload_active", "gauge"],
        ["fibervisor_offload_duration_seconds", "histogram"]
      ]
      for (const [name, type] of expected) expect(families.get(name)?.type, name).toBe(type)
      expect(families.get("fibervisor_task_attempts_total")?.help).toBe("Task attempts started")
      expect([...families.keys()].filter((name) => name.includes("_total_total"))).toEqual([])

      expect(valueOf(families, "fibervisor_task_attempts_total", task)).toBe(1)
      expect(valueOf(families, "fibervisor_task_running", task)).toBe(0)
      expect(valueOf(families, "fibervisor_task_attempt_duration_seconds_count", task)).toBe(1)
      expect(valueOf(families, "fibervisor_task_attempt_duration_seconds_bucket", { ...task, le: "+Inf" })).toBe(1)
      expect(valueOf(families, "fibervisor_offload_spawned_total", offloaded)).toBe(1)
      expect(valueOf(families, "fibervisor_offload_completed_total", offloaded)).toBe(1)
      expect(valueOf(families, "fibervisor_offload_active", offloaded)).toBe(0)
      expect(valueOf(families, "fibervisor_offload_duration_seconds_count", offloaded)).toBe(1)
      // The attributes are the labels, and nothing else; the service is named in target_info.
      expect(
        families.get("fibervisor_task_attempts_total")?.samples.find((s) => s.labels.task === task.task)?.labels
      ).toEqual({ task: `${root}/job` })
      expect(families.get("target_info")?.type).toBe("gauge")
      expect(families.get("target_info")?.samples).toEqual([
        { name: "target_info", labels: { service_name: "fibervisor" }, value: 1 }
      ])
    })
  )
})
