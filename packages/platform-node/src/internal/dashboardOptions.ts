/**
 * The dashboard's options: checked strictly at run time (a plain-JS caller is checked too), with
 * their defaults applied, and the Host allow-list built once the listener's port is known.
 *
 * Owns: `HealthServerOptions.dashboard` → `DashboardConfig | Invalid`, and `allowedHosts(config,
 * port)`. Data flow: `healthServer.resolve` calls `resolveDashboard` for the `dashboard` key; the
 * server calls `hostAllowList` after it listens (with port 0 the OS picks the port).
 *
 * Invariants: every refusal names the field by its full name (`dashboard.port`,
 * `dashboard.allowedHosts[2]`) and says why, quoting the value with `describe`; an unknown key is
 * refused by name; allow-list entries are stored lower-case, and compared with the Host header
 * lower-cased, exactly (no wildcard, no suffix match).
 *
 * @internal
 */
import { type DurableKind, isDurableKind } from "./dashboardDurable.js"
import { describe } from "./describe.js"

/** The dashboard's options with their defaults applied. */
export interface DashboardConfig {
  readonly port: number
  readonly host: string
  /** `undefined`: actions are disabled. */
  readonly token: string | undefined
  /** `undefined`: the default list, built once the port is known (see `hostAllowList`). */
  readonly allowedHosts: ReadonlyArray<string> | undefined
  readonly showPayloads: boolean
  /** The durable kinds the page shows (`GET /api/durable`); empty: none. */
  readonly durable: ReadonlyArray<DurableKind>
}

/** A field that cannot be used, and why. */
export interface Invalid {
  readonly field: string
  readonly reason: string
}

/** Loopback only: the dashboard describes the application's internals and can steer it. */
export const defaultHost = "127.0.0.1"

/** A shorter token could be guessed; 16 characters of a random token are 96 bits or more. */
export const minTokenLength = 16

const knownKeys: ReadonlySet<string> = new Set(["port", "host", "token", "allowedHosts", "showPayloads", "durable"])

/** Names other servers use for these options. */
const aliases: Readonly<Record<string, string>> = {
  hostname: "host",
  address: "host",
  hosts: "allowedHosts",
  allowedOrigins: "allowedHosts",
  bearerToken: "token",
  payloads: "showPayloads"
}

const unknownKeyReason = (key: string): string => {
  const alias = Object.hasOwn(aliases, key) ? aliases[key] : undefined
  return alias === undefined
    ? "is not a known option (misspelt?)"
    : `is not a known option (misspelt?); did you mean "${alias}"?`
}

/** A character that cannot appear in an HTTP header value as sent (controls, DEL) or in a token (space). */
const hasControlOrSpace = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code <= 0x20 || code === 0x7f || code > 0x7e) return true
  }
  return false
}

/**
 * A Host header value: a DNS name or IPv4 address, or an IPv6 address in brackets, with an
 * optional `:port`. No scheme, path, user info or wildcard.
 */
const hostPattern =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/

/** Why `entry` cannot be an allow-list entry, or `undefined` when it can. */
const hostProblem = (entry: string): string | undefined => {
  if (entry.includes("*")) return `must be a host name, without wildcards, got ${describe(entry)}`
  if (entry.includes("://") || entry.includes("/")) {
    return `must be a Host header value (\`name\` or \`name:port\`), without a scheme or a path, got ${describe(entry)}`
  }
  const match = hostPattern.exec(entry.toLowerCase())
  if (match === null) {
    return `must be a Host header value (\`name\`, \`name:port\` or \`[::1]:port\`), got ${describe(entry)}`
  }
  const port = match[1]
  if (port !== undefined && Number(port) > 65535) return `has a port above 65535, got ${describe(entry)}`
  return undefined
}

const nonEmpty = (value: unknown): value is string => typeof value === "string" && value.trim().length > 0

/**
 * Checks the `dashboard` option. `probePort` is the health server's own port: the dashboard must
 * listen elsewhere (unless either asks the OS for a free port).
 */
export const resolveDashboard = (options: unknown, probePort: number): DashboardConfig | Invalid => {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return {
      field: "dashboard",
      reason: `must be an object { port, host?, token?, allowedHosts?, showPayloads?, durable? }, got ${describe(options)}`
    }
  }
  for (const key in options) {
    if (!knownKeys.has(key)) return { field: `dashboard.${key}`, reason: unknownKeyReason(key) }
  }
  const { allowedHosts, durable, host, port, showPayloads, token } = options as Record<string, unknown>
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return {
      field: "dashboard.port",
      reason: `must be an integer from 0 to 65535 (0: any free port), got ${describe(port)}`
    }
  }
  if (port !== 0 && port === probePort) {
    return {
      field: "dashboard.port",
      reason: `must differ from the probes' port (the dashboard has a listener of its own), got ${port}`
    }
  }
  if (host !== undefined && !nonEmpty(host)) {
    return { field: "dashboard.host", reason: `must be a non-empty string, got ${describe(host)}` }
  }
  if (token !== undefined) {
    if (typeof token !== "string") {
      return { field: "dashboard.token", reason: `must be a string, got ${describe(token)}` }
    }
    // The token itself is never echoed: the reason says what is wrong with it, not what it is.
    if (token.length < minTokenLength) {
      return {
        field: "dashboard.token",
        reason: `must be at least ${minTokenLength} characters long (a random secret), got ${token.length}`
      }
    }
    if (hasControlOrSpace(token)) {
      return {
        field: "dashboard.token",
        reason: "must be printable ASCII without spaces (it travels in an `Authorization: Bearer` header)"
      }
    }
  }
  let hosts: Array<string> | undefined
  if (allowedHosts !== undefined) {
    if (!Array.isArray(allowedHosts)) {
      return {
        field: "dashboard.allowedHosts",
        reason: `must be an array of Host header values, got ${describe(allowedHosts)}`
      }
    }
    if (allowedHosts.length === 0) {
      return {
        field: "dashboard.allowedHosts",
        reason: "must not be empty (every request would be refused); leave it out for the local defaults"
      }
    }
    hosts = []
    for (let i = 0; i < allowedHosts.length; i++) {
      const entry: unknown = allowedHosts[i]
      if (typeof entry !== "string" || entry.trim() === "") {
        return { field: `dashboard.allowedHosts[${i}]`, reason: `must be a non-empty string, got ${describe(entry)}` }
      }
      const problem = hostProblem(entry)
      if (problem !== undefined) return { field: `dashboard.allowedHosts[${i}]`, reason: problem }
      hosts.push(entry.toLowerCase())
    }
  }
  if (showPayloads !== undefined && typeof showPayloads !== "boolean") {
    return { field: "dashboard.showPayloads", reason: `must be a boolean, got ${describe(showPayloads)}` }
  }
  const kinds = durableKinds(durable)
  if ("field" in kinds) return kinds
  return {
    port,
    host: host ?? defaultHost,
    token,
    allowedHosts: hosts,
    showPayloads: showPayloads ?? false,
    durable: kinds.kinds
  }
}

/** Checks `dashboard.durable`: kinds made by `DurableOffload.kind`, each name once. */
const durableKinds = (durable: unknown): { readonly kinds: ReadonlyArray<DurableKind> } | Invalid => {
  if (durable === undefined) return { kinds: [] }
  if (!Array.isArray(durable)) {
    return {
      field: "dashboard.durable",
      reason: `must be an array of durable kinds (DurableOffload.kind(…)), got ${describe(durable)}`
    }
  }
  const names = new Set<string>()
  for (let i = 0; i < durable.length; i++) {
    const kind: unknown = durable[i]
    if (!isDurableKind(kind)) {
      return {
        field: `dashboard.durable[${i}]`,
        reason: `must be a durable kind (DurableOffload.kind(…) of @fibervisor/durable), got ${describe(kind)}`
      }
    }
    if (names.has(kind.name)) {
      return { field: `dashboard.durable[${i}]`, reason: `names kind ${JSON.stringify(kind.name)} a second time` }
    }
    names.add(kind.name)
  }
  return { kinds: durable as ReadonlyArray<DurableKind> }
}

export const isInvalid = (resolved: DashboardConfig | Invalid): resolved is Invalid => "field" in resolved

/** `host` as it appears in a Host header: an IPv6 address in brackets. */
export const hostHeaderName = (host: string): string => (host.includes(":") ? `[${host}]` : host)

/** Addresses that mean "every interface": not a name a browser sends. */
const wildcards: ReadonlySet<string> = new Set(["0.0.0.0", "::", "[::]"])

/**
 * The Host header values the dashboard answers: the configured list, or by default `localhost`,
 * `127.0.0.1` and `[::1]` and the bound address (unless it is a wildcard), each with the bound port.
 */
export const hostAllowList = (config: DashboardConfig, boundHost: string, port: number): ReadonlySet<string> => {
  if (config.allowedHosts !== undefined) return new Set(config.allowedHosts)
  const names = ["localhost", "127.0.0.1", "[::1]"]
  if (!wildcards.has(boundHost)) names.push(hostHeaderName(boundHost).toLowerCase())
  // On port 80 a browser sends the name alone.
  return new Set(names.flatMap((name) => (port === 80 ? [`${name}:80`, name] : [`${name}:${port}`])))
}
