/**
 * Bundles the dashboard's front end (`dashboard-ui/`: Preact, htm and signals) with esbuild into
 * one ES module and one stylesheet: no CDN, no inline script or style (the dashboard's CSP forbids
 * them). Licence comments are kept at the end of each file.
 *
 *   tsx scripts/dashboard-bundle.ts            # writes dist/dashboard/app.js and app.css
 *   tsx scripts/dashboard-bundle.ts <outdir>   # elsewhere
 *
 * `bundleDashboard()` returns the files in memory (the server's source-mode fallback and the tests).
 */
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const packageDir = fileURLToPath(new URL("..", import.meta.url))

/** Where the package build writes the bundle (the server reads it from there). */
export const defaultOutdir = fileURLToPath(new URL("../dist/dashboard/", import.meta.url))

export interface DashboardBundle {
  /** `app.js`: the whole front end, minified ES2022 module. */
  readonly js: string
  /** `app.css`. */
  readonly css: string
}

/** Bundles the front end in memory. */
export const bundleDashboard = async (): Promise<DashboardBundle> => {
  const result = await esbuild.build({
    absWorkingDir: packageDir,
    entryPoints: [
      { in: "dashboard-ui/main.ts", out: "app" },
      { in: "dashboard-ui/app.css", out: "app" }
    ],
    outdir: "out",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome110", "firefox115", "safari16"],
    minify: true,
    legalComments: "eof",
    charset: "utf8",
    sourcemap: false,
    write: false,
    logLevel: "silent",
    tsconfig: "dashboard-ui/tsconfig.json",
    define: { "process.env.NODE_ENV": '"production"' }
  })
  const text = (ext: string) => {
    const file = result.outputFiles.find((output) => output.path.endsWith(`app.${ext}`))
    if (file === undefined) throw new Error(`the dashboard bundle has no app.${ext}`)
    return file.text
  }
  return { js: text("js"), css: text("css") }
}

/** Bundles the front end into `outdir` (default `dist/dashboard/`): `app.js`, `app.css`. */
export const writeDashboard = async (outdir: string = defaultOutdir): Promise<DashboardBundle> => {
  const bundle = await bundleDashboard()
  await mkdir(outdir, { recursive: true })
  await writeFile(join(outdir, "app.js"), bundle.js)
  await writeFile(join(outdir, "app.css"), bundle.css)
  return bundle
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outdir = process.argv[2] ?? defaultOutdir
  const bundle = await writeDashboard(outdir)
  const bytes = (text: string) => Buffer.byteLength(text)
  console.log(`dashboard: ${join(outdir, "app.js")} (${bytes(bundle.js)} bytes), app.css (${bytes(bundle.css)} bytes)`)
}
