/**
 * Shared by the `Dashboard*.test.ts` files (not a test file itself): a supervisor with a health
 * server and its dashboard on 127.0.0.1 port 0, and an HTTP client over real loopback sockets
 * (`node:http`, so a test can send any `Host`, `Origin` or no `Host` at all, which `fetch` cannot).
 * Waiting is done by polling with a bounded number of tries, never by a fixed sleep.
 */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http"
import { Context, Effect, Layer, Option, Queue, Stream } from "effect"
import { Offload, Supervisor, SupervisorEvent } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { expect } from "@effect/vitest"

let roots = 0

/** A root supervisor name no other test uses (metrics are global). */
export const uniqueRoot = (prefix: string): string => `${prefix}-${++roots}`

/** A token long enough for the options' check. */
export const token = "0123456789abcdef-test-token"

/** A real-time pause (also under the TestClock, which `Effect.sleep` would wait for). */
export const pause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

/** Runs `effect` until `done` holds for its result, at most `tries` times, `everyMs` apart. */
export const until = <A, E, R>(
  what: string,
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  { everyMs = 10, tries = 200 }: { readonly everyMs?: number; readonly tries?: number } = {}
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
 * The `OperatorActionRequested` events of `sup`'s bus from now on: `next` takes the next one,
 * `size` says how many wait.
 */
export const audits = (sup: Supervisor.Supervisor) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<SupervisorEvent.Of<"OperatorActionRequested">>()
    const events = yield* sup.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(Stream.filter(events, SupervisorEvent.is("OperatorActionRequested")), (event) =>
        Queue.offer(queue, event)
      )
    )
    return { next: Queue.take(queue), size: Queue.size(queue) }
  })

export interface Started {
  readonly sup: Supervisor.Supervisor
  readonly server: HealthServer.HealthServer
  readonly board: NonNullable<HealthServer.HealthServer["dashboard"]>
  /** The `Offload` service, when the test asked for one. */
  readonly offload: Offload.Offload | undefined
  /** `host:port` of the dashboard, as a browser on this machine sends it. */
  readonly authority: string
}

/**
 * A supervisor named `name` with a health server and a dashboard on 127.0.0.1 (both on port 0),
 * released with the test's scope; with `offload` (or `offloadLayer`), an `Offload` service in the
 * context too.
 */
export const start = (
  name: string,
  dashboard: Omit<HealthServer.DashboardOptions, "port"> & { readonly port?: number } = {},
  more: {
    readonly supervisor?: Omit<Supervisor.SupervisorOptions, "name">
    readonly offload?: Offload.OffloadConfig
    /** An `Offload` layer of its own (instead of `Offload.layer(offload)`). */
    readonly offloadLayer?: Layer.Layer<Offload.Offload>
    /** More services below the health server (a `DurableOffload` layer, for `dashboard.durable`). */
    readonly services?: Layer.Layer<any>
    readonly health?: Omit<HealthServer.HealthServerOptions, "port" | "dashboard">
  } = {}
): Effect.Effect<Started, never, import("effect/Scope").Scope> =>
  Effect.gen(function* () {
    const base = Supervisor.layer({ name, ...more.supervisor })
    const offload = more.offloadLayer ?? (more.offload === undefined ? undefined : Offload.layer(more.offload))
    const withOffload = offload === undefined ? base : Layer.merge(base, offload)
    const services = more.services === undefined ? withOffload : Layer.merge(withOffload, more.services)
    const context = yield* Layer.build(
      HealthServer.layer({ port: 0, host: "127.0.0.1", ...more.health, dashboard: { port: 0, ...dashboard } }).pipe(
        Layer.provideMerge(services)
      )
    )
    const server = Context.get(context, HealthServer.HealthServer)
    const board = server.dashboard!
    return {
      sup: Context.get(context, Supervisor.Supervisor),
      server,
      board,
      offload: Option.getOrUndefined(Context.getOption(context, Offload.Offload)),
      authority: `127.0.0.1:${board.port}`
    }
  }).pipe(Effect.orDie)

export interface Reply {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly text: string
}

export interface RequestOptions {
  readonly method?: string
  readonly path?: string
  /** Sent as given; `host: null` sends no Host header at all. */
  readonly headers?: Readonly<Record<string, string | null>>
  readonly body?: string
  readonly port: number
}

/** One request over a fresh loopback connection. */
export const send = (options: RequestOptions): Effect.Effect<Reply, Error> =>
  Effect.callback<Reply, Error>((resume) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${options.port}` }
    let setHost = true
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (value === null) {
        delete headers[name]
        if (name === "host") setHost = false
      } else {
        headers[name] = value
      }
    }
    const lengthLeftOut = options.headers?.["content-length"] === null
    if (options.body !== undefined && headers["content-length"] === undefined && !lengthLeftOut) {
      headers["content-length"] = String(Buffer.byteLength(options.body))
    }
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: options.port,
        method: options.method ?? "GET",
        path: options.path ?? "/",
        headers,
        setHost,
        agent: false
      },
      (res) => {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => {
          text += chunk
        })
        res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, text })))
        res.on("error", (error) => resume(Effect.fail(error)))
      }
    )
    req.on("error", (error) => resume(Effect.fail(error)))
    if (options.body !== undefined) req.write(options.body)
    req.end()
    return Effect.sync(() => req.destroy())
  })

/** A GET of `path` on the dashboard. */
export const get = (started: Started, path: string, headers?: Readonly<Record<string, string | null>>) =>
  send({ port: started.board.port, path, ...(headers === undefined ? {} : { headers }) })

/** The JSON body of a reply (checks the content type). */
export const jsonOf = (reply: Reply): any => {
  expect(reply.headers["content-type"]).toBe("application/json")
  return JSON.parse(reply.text)
}

/** A well-formed action request: same origin, the token, JSON. */
export const act = (
  started: Started,
  body: unknown,
  headers: Readonly<Record<string, string | null>> = {}
): Effect.Effect<Reply, Error> =>
  send({
    port: started.board.port,
    method: "POST",
    path: "/api/actions",
    headers: {
      origin: `http://${started.authority}`,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...headers
    },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

// ---------------------------------------------------------------------------------------------
// Server-sent events over node:http
// ---------------------------------------------------------------------------------------------

export interface Message {
  readonly comments: ReadonlyArray<string>
  readonly event?: string
  readonly id?: string
  readonly data?: string
}

/** One SSE message (the lines before a blank line). */
export const parseMessage = (block: string): Message => {
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

/** An open `/api/events` stream. */
export interface EventStream {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The next message; `undefined` once the server ended the stream. Fails after 3 seconds. */
  readonly next: Effect.Effect<Message | undefined, Error>
  /** Goes away like a client that closes the tab. */
  readonly close: Effect.Effect<void>
  /** The body of a refused request (not an event stream). */
  readonly text: Effect.Effect<string, Error>
}

export const openEvents = (
  started: Started,
  path = "/api/events",
  headers?: Readonly<Record<string, string | null>>
): Effect.Effect<EventStream, Error> =>
  Effect.callback<EventStream, Error>((resume) => {
    const all: Record<string, string> = { host: started.authority, ...(headers as Record<string, string>) }
    const req = httpRequest(
      { host: "127.0.0.1", port: started.board.port, path, headers: all, agent: false },
      (res) => {
        res.setEncoding("utf8")
        let buffer = ""
        let ended = false
        let failure: Error | undefined
        let wake: (() => void) | undefined
        res.on("data", (chunk: string) => {
          buffer += chunk
          wake?.()
        })
        // Destroyed without an end (the server went away mid-response).
        res.on("close", () => {
          if (!ended) failure ??= new Error("the connection closed before the response ended")
          wake?.()
        })
        res.on("end", () => {
          ended = true
          wake?.()
        })
        res.on("error", (error) => {
          failure = error
          wake?.()
        })
        const nextMessage = async (): Promise<Message | undefined> => {
          while (true) {
            const end = buffer.indexOf("\n\n")
            if (end >= 0) {
              const block = buffer.slice(0, end)
              buffer = buffer.slice(end + 2)
              return parseMessage(block)
            }
            if (failure !== undefined) throw failure
            if (ended) {
              if (buffer !== "") throw new Error(`stream ended inside a message: ${JSON.stringify(buffer)}`)
              return undefined
            }
            await new Promise<void>((resolve) => {
              wake = () => {
                wake = undefined
                resolve()
              }
            })
          }
        }
        const rest = async (): Promise<string> => {
          while (!ended && failure === undefined) await new Promise<void>((resolve) => (wake = resolve))
          return buffer
        }
        resume(
          Effect.succeed({
            status: res.statusCode ?? 0,
            headers: res.headers,
            next: Effect.tryPromise({
              try: nextMessage,
              catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
            }).pipe(
              Effect.timeoutOrElse({
                duration: "3 seconds",
                orElse: () => Effect.fail(new Error("no SSE message within 3 seconds"))
              })
            ),
            close: Effect.sync(() => req.destroy()),
            text: Effect.tryPromise({
              try: rest,
              catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
            })
          })
        )
      }
    )
    req.on("error", (error) => resume(Effect.fail(error)))
    req.end()
  })

/** Decodes an event message, checking that its `event:` and `id:` lines match the data. */
export const decodeEvent = (message: Message) =>
  Effect.gen(function* () {
    expect(message.data).toBeDefined()
    const event = yield* SupervisorEvent.decode(JSON.parse(message.data!))
    expect(message.event).toBe(event._tag)
    expect(message.id).toBe(String(event.seq))
    return event
  })

/** Reads messages until an event satisfies `found`; returns every event read (comments skipped). */
export const readUntil = (stream: EventStream, found: (event: SupervisorEvent.SupervisorEvent) => boolean) =>
  Effect.gen(function* () {
    const seen: Array<SupervisorEvent.SupervisorEvent> = []
    while (true) {
      const message = yield* stream.next
      if (message === undefined) return yield* Effect.fail(new Error("the event stream ended"))
      if (message.data === undefined) continue
      if (message.event === "reset") return yield* Effect.fail(new Error(`unexpected reset: ${message.data}`))
      const event = yield* decodeEvent(message)
      seen.push(event)
      if (found(event)) return seen
    }
  })
