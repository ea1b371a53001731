/**
 * The dashboard's page: the HTML shell and the bundle it loads (`app.js`, `app.css`, built by
 * esbuild from `dashboard-ui/` by the package build into `dist/dashboard/`).
 *
 * Owns: finding and loading the bundle once, at start, and the shell's markup. Data flow: `load`
 * reads `<package>/dist/dashboard/app.{js,css}` (the same path from `src/internal/*.ts` and
 * `dist/internal/*.js`); when they are missing and this module runs from its TypeScript source
 * (the repository's tests and demo), it bundles the front end in memory with
 * `scripts/dashboard-bundle.ts`. The routes serve what it loaded.
 *
 * Invariants: the shell has no inline script or style (the CSP forbids them) and names every
 * resource it needs (an icon as a `data:` URL, so the browser asks for no `/favicon.ico`); a
 * missing bundle never stops the server: the API works and `/assets/*` answer 503 saying why.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

/** The page: the stylesheet, the module, and the element the front end mounts into. */
export const shell = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>fibervisor dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`

/** One file of the bundle, with its entity tag (so a browser revalidates rather than downloads). */
export interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  readonly etag: string
}

/** The bundle, or why it is not there. */
export type Assets =
  | { readonly _tag: "Loaded"; readonly js: Asset; readonly css: Asset; readonly from: string }
  | { readonly _tag: "Missing"; readonly reason: string }

const asset = (text: string, contentType: string): Asset => {
  const body = new TextEncoder().encode(text)
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`
  return { body, contentType, etag }
}

const javascript = "text/javascript; charset=utf-8"
const css = "text/css; charset=utf-8"

/** Where the package build writes the bundle, from this module's place in `src/internal` or `dist/internal`. */
const bundleDir = new URL("../../dist/dashboard/", import.meta.url)

/** The front end's bundler: in the repository, not in the published package. */
const bundler = new URL("../../scripts/dashboard-bundle.ts", import.meta.url)

const fromSource = import.meta.url.endsWith(".ts")

interface Bundler {
  readonly bundleDashboard: () => Promise<{ readonly js: string; readonly css: string }>
}

const readBuilt = async (): Promise<Assets> => {
  const [js, style] = await Promise.all([
    readFile(new URL("app.js", bundleDir), "utf8"),
    readFile(new URL("app.css", bundleDir), "utf8")
  ])
  return { _tag: "Loaded", js: asset(js, javascript), css: asset(style, css), from: fileURLToPath(bundleDir) }
}

const bundleNow = async (): Promise<Assets> => {
  // A computed specifier: neither tsc nor a bundler follows it into the repository's scripts.
  const specifier: string = bundler.href
  const { bundleDashboard } = (await import(specifier)) as Bundler
  const bundle = await bundleDashboard()
  return { _tag: "Loaded", js: asset(bundle.js, javascript), css: asset(bundle.css, css), from: "memory" }
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Loads the bundle: the built files, else (running from source) a fresh bundle; never fails —
 * `Missing` says why, and a warning is logged.
 */
export const load: Effect.Effect<Assets> = Effect.promise(async (): Promise<Assets> => {
  try {
    return await readBuilt()
  } catch (notBuilt) {
    if (!fromSource) {
      return {
        _tag: "Missing",
        reason: `the dashboard bundle is not built (${message(notBuilt)}); run the package build`
      }
    }
    try {
      return await bundleNow()
    } catch (failed) {
      return { _tag: "Missing", reason: `the dashboard bundle could not be built from source: ${message(failed)}` }
    }
  }
}).pipe(
  Effect.tap((assets) =>
    assets._tag === "Missing"
      ? Effect.logWarning(`dashboard: ${assets.reason}; the API works, the page does not`).pipe(
          Effect.annotateLogs({ fibervisor: "dashboard" })
        )
      : Effect.void
  )
)
