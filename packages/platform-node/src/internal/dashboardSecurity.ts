/**
 * The dashboard's request checks and response headers: the Host allow-list (DNS rebinding), the
 * Origin check on state-changing requests (forged cross-site requests), the bearer token (compared
 * in constant time), and the headers every response carries (a strict Content-Security-Policy,
 * no sniffing, no referrer, no caching, no framing).
 *
 * Owns: pure functions over header values; no I/O. Data flow: the routes call `hostAllowed` on
 * every request, `originProblem` and `tokenProblem` on `POST /api/actions`, and `secured` on every
 * response.
 *
 * Invariants: no cookie is ever read or set (the dashboard has no session: a token the page keeps
 * in memory is the only credential, so a cross-site request carries none); no CORS header is ever
 * sent, so a foreign page cannot read a response either; a header that appears twice is refused
 * answered as Node parses it (it keeps the first `Host` and `Authorization`).
 *
 * @internal
 */
import { createHash, timingSafeEqual } from "node:crypto"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

/** The page's policy: its own script and style only, no inline code, no framing, no form posts. */
export const contentSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/** Set on every response of the dashboard. */
export const securityHeaders: Readonly<Record<string, string>> = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  // For browsers that predate `frame-ancestors`.
  "x-frame-options": "DENY",
  // Another site cannot embed a response (`<script src>`, `<img src>`) even without reading it.
  "cross-origin-resource-policy": "same-origin"
}

/** The response with the dashboard's security headers (a route's own `cache-control` is kept). */
export const secured = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.setHeaders(
    response,
    "cache-control" in response.headers
      ? { ...securityHeaders, "cache-control": response.headers["cache-control"]! }
      : securityHeaders
  )

/** Is the Host header in the allow-list (compared lower-case, exactly)? */
export const hostAllowed = (host: string | undefined, allowed: ReadonlySet<string>): boolean =>
  host !== undefined && allowed.has(host.toLowerCase())

/**
 * Why a request's Origin is refused, or `undefined` when it may go on: absent (a same-origin
 * request from an older browser, or a tool such as curl, which the token guards), or naming the
 * host the request was sent to (`http` or `https`: TLS may end at a proxy). `Origin: null` (a
 * sandboxed or file page) and any other origin are refused. `Sec-Fetch-Site`, when the browser
 * sends it, must be `same-origin` or `none`.
 */
export const originProblem = (
  origin: string | undefined,
  host: string,
  fetchSite: string | undefined
): string | undefined => {
  if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") {
    return `cross-origin request refused (Sec-Fetch-Site: ${fetchSite})`
  }
  if (origin === undefined) return undefined
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return "cross-origin request refused (malformed Origin)"
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.host !== host.toLowerCase()) {
    return "cross-origin request refused (Origin is not the dashboard's)"
  }
  return undefined
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/**
 * Why the request's credentials are refused, or `undefined` when they are the token: the header
 * must read `Bearer <token>`. Compared through digests of equal length, in constant time, so
 * neither the token's length nor its prefix leaks through timing.
 */
export const tokenProblem = (authorization: string | undefined, token: string): string | undefined => {
  if (authorization === undefined) return "no token (send Authorization: Bearer <token>)"
  const match = /^Bearer +(\S+) *$/i.exec(authorization)
  if (match === null) return "the Authorization header must read Bearer <token>"
  return timingSafeEqual(digest(match[1]!), digest(token)) ? undefined : "wrong token"
}

/** Is the request's body JSON (`application/json`, with or without parameters such as `charset`)? */
export const isJson = (contentType: string | undefined): boolean =>
  contentType !== undefined && /^application\/json\s*(?:;|$)/i.test(contentType.trim())
