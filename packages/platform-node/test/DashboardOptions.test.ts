/**
 * The `dashboard` option is checked like every option: an unknown key is refused by name, a bad
 * value names its field (`dashboard.port`, `dashboard.allowedHosts[1]`) and why, and nothing
 * listens when the options are refused. Also: the defaults, and the Host allow-list they make.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Supervisor } from "@fibervisor/core"
import { HealthServer } from "@fibervisor/platform-node"
import { hostAllowList, resolveDashboard } from "../src/internal/dashboardOptions.js"

/** Listening servers of this process (a refused health server must not open one). */
const servers = () => process.getActiveResourcesInfo().filter((type) => type === "TCPServerWrap").length

const refused = (dashboard: unknown, port = 9090) =>
  Effect.gen(function* () {
    const before = servers()
    const error = yield* Effect.flip(
      Layer.build(
        HealthServer.layer({ port, host: "127.0.0.1", dashboard } as HealthServer.HealthServerOptions).pipe(
          Layer.provide(Supervisor.layer())
        )
      )
    )
    expect(servers()).toBe(before)
    return error
  })

const token = "a-long-enough-token"

describe("Dashboard options: refused by field", () => {
  const cases: ReadonlyArray<readonly [string, unknown, string, string]> = [
    [
      "null",
      null,
      "dashboard",
      "must be an object { port, host?, token?, allowedHosts?, showPayloads?, durable? }, got null"
    ],
    [
      "a number",
      8080,
      "dashboard",
      "must be an object { port, host?, token?, allowedHosts?, showPayloads?, durable? }, got 8080"
    ],
    [
      "an array",
      [],
      "dashboard",
      "must be an object { port, host?, token?, allowedHosts?, showPayloads?, durable? }, got an array"
    ],
    ["an unknown key", { port: 0, colour: "dark" }, "dashboard.colour", "is not a known option (misspelt?)"],
    [
      "hostname for host",
      { port: 0, hostname: "::1" },
      "dashboard.hostname",
      'is not a known option (misspelt?); did you mean "host"?'
    ],
    [
      "bearerToken for token",
      { port: 0, bearerToken: token },
      "dashboard.bearerToken",
      'is not a known option (misspelt?); did you mean "token"?'
    ],
    [
      "allowedOrigins for allowedHosts",
      { port: 0, allowedOrigins: [] },
      "dashboard.allowedOrigins",
      'is not a known option (misspelt?); did you mean "allowedHosts"?'
    ],
    ["no port", {}, "dashboard.port", "must be an integer from 0 to 65535 (0: any free port), got undefined"],
    [
      "a string port",
      { port: "8080" },
      "dashboard.port",
      'must be an integer from 0 to 65535 (0: any free port), got "8080"'
    ],
    [
      "a port too high",
      { port: 70000 },
      "dashboard.port",
      "must be an integer from 0 to 65535 (0: any free port), got 70000"
    ],
    [
      "a fractional port",
      { port: 80.5 },
      "dashboard.port",
      "must be an integer from 0 to 65535 (0: any free port), got 80.5"
    ],
    [
      "the probes' port",
      { port: 9090 },
      "dashboard.port",
      "must differ from the probes' port (the dashboard has a listener of its own), got 9090"
    ],
    ["an empty host", { port: 0, host: " " }, "dashboard.host", 'must be a non-empty string, got " "'],
    ["a token that is not a string", { port: 0, token: 42 }, "dashboard.token", "must be a string, got 42"],
    [
      "a short token",
      { port: 0, token: "hunter2" },
      "dashboard.token",
      "must be at least 16 characters long (a random secret), got 7"
    ],
    [
      "a token with a space",
      { port: 0, token: "correct horse battery staple" },
      "dashboard.token",
      "must be printable ASCII without spaces (it travels in an `Authorization: Bearer` header)"
    ],
    [
      "a token with a line break",
      { port: 0, token: "0123456789abcdef\r\nX-Evil: 1" },
      "dashboard.token",
      "must be printable ASCII without spaces (it travels in an `Authorization: Bearer` header)"
    ],
    [
      "allowedHosts not an array",
      { port: 0, allowedHosts: "localhost" },
      "dashboard.allowedHosts",
      'must be an array of Host header values, got "localhost"'
    ],
    [
      "allowedHosts empty",
      { port: 0, allowedHosts: [] },
      "dashboard.allowedHosts",
      "must not be empty (every request would be refused); leave it out for the local defaults"
    ],
    [
      "a wildcard host",
      { port: 0, allowedHosts: ["localhost", "*.example.com"] },
      "dashboard.allowedHosts[1]",
      'must be a host name, without wildcards, got "*.example.com"'
    ],
    [
      "a URL for a host",
      { port: 0, allowedHosts: ["https://dash.example.com"] },
      "dashboard.allowedHosts[0]",
      'must be a Host header value (`name` or `name:port`), without a scheme or a path, got "https://dash.example.com"'
    ],
    [
      "a host with a space",
      { port: 0, allowedHosts: ["dash example"] },
      "dashboard.allowedHosts[0]",
      'must be a Host header value (`name`, `name:port` or `[::1]:port`), got "dash example"'
    ],
    [
      "an IPv6 host without brackets",
      { port: 0, allowedHosts: ["::1"] },
      "dashboard.allowedHosts[0]",
      'must be a Host header value (`name`, `name:port` or `[::1]:port`), got "::1"'
    ],
    [
      "a host with a bad port",
      { port: 0, allowedHosts: ["dash:99999"] },
      "dashboard.allowedHosts[0]",
      'has a port above 65535, got "dash:99999"'
    ],
    [
      "a host not a string",
      { port: 0, allowedHosts: [7] },
      "dashboard.allowedHosts[0]",
      "must be a non-empty string, got 7"
    ],
    [
      "showPayloads not a boolean",
      { port: 0, showPayloads: "yes" },
      "dashboard.showPayloads",
      'must be a boolean, got "yes"'
    ]
  ]
  for (const [title, dashboard, field, reason] of cases) {
    it.effect(`${title} → InvalidHealthServerOptions(${field}); nothing listens`, () =>
      Effect.gen(function* () {
        const error = yield* refused(dashboard)
        expect(error).toEqual(new HealthServer.InvalidHealthServerOptions({ field, reason }))
        expect(error.message).toBe(`invalid health server options: ${field} ${reason}`)
      })
    )
  }

  it.effect("a refused token is never echoed in the error", () =>
    Effect.gen(function* () {
      const error = yield* refused({ port: 0, token: "short-secret" })
      expect(JSON.stringify(error)).not.toContain("short-secret")
      expect(error.message).not.toContain("short-secret")
    })
  )

  it("port 0 for both asks the OS for two free ports: allowed", () => {
    expect(resolveDashboard({ port: 0 }, 0)).toMatchObject({ port: 0 })
  })
})

describe("Dashboard options: defaults and the Host allow-list", () => {
  it("127.0.0.1, no token (actions disabled), the local allow-list, payloads hidden", () => {
    expect(resolveDashboard({ port: 8081 }, 9090)).toEqual({
      port: 8081,
      host: "127.0.0.1",
      token: undefined,
      allowedHosts: undefined,
      showPayloads: false,
      durable: []
    })
  })

  it("the default allow-list: the loopback names and the bound address, with the bound port", () => {
    const config = resolveDashboard({ port: 0 }, 9090)
    if ("field" in config) throw new Error("refused")
    expect([...hostAllowList(config, "127.0.0.1", 4321)]).toEqual(["localhost:4321", "127.0.0.1:4321", "[::1]:4321"])
    expect([...hostAllowList(config, "10.0.0.7", 4321)]).toContain("10.0.0.7:4321")
    expect([...hostAllowList(config, "fd00::7", 4321)]).toContain("[fd00::7]:4321")
    // A wildcard is no name a browser sends.
    expect([...hostAllowList(config, "0.0.0.0", 4321)]).toHaveLength(3)
    // On port 80 the browser leaves the port out.
    expect([...hostAllowList(config, "127.0.0.1", 80)]).toContain("localhost")
  })

  it("a configured list replaces the defaults, lower-cased", () => {
    const config = resolveDashboard(
      { port: 0, allowedHosts: ["Dash.Example.COM", "[::1]:8080", "10.1.2.3:9000"], token, showPayloads: true },
      9090
    )
    if ("field" in config) throw new Error("refused")
    expect(config).toMatchObject({ token, showPayloads: true })
    expect([...hostAllowList(config, "127.0.0.1", 4321)]).toEqual(["dash.example.com", "[::1]:8080", "10.1.2.3:9000"])
  })
})
