/**
 * Debian's Chromium, headless, driven by playwright-core: the browser of the dashboard's browser
 * tests. `/usr/bin/chromium` (or `FIBERVISOR_CHROMIUM`); `.ci/run` installs it when missing. Without
 * it the tests fail under CI (naming what to install) and are skipped elsewhere.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium, type ConsoleMessage, type Page } from "playwright-core"

export const chromiumPath = process.env.FIBERVISOR_CHROMIUM ?? "/usr/bin/chromium"

export const chromiumMissing = !existsSync(chromiumPath)

export const missingMessage =
  `Chromium not found at ${chromiumPath}: the dashboard's browser tests need it. ` +
  "Install Debian's chromium (as root: apt-get update && apt-get install -y chromium; .ci/run does it), " +
  "or set FIBERVISOR_CHROMIUM to a Chromium binary."

/** Where the tests save their screenshots (gitignored). */
export const artifacts = fileURLToPath(new URL("../../test-artifacts/", import.meta.url))

/** The flags of every launch: headless, no sandbox (containers), nothing phoning home. */
export const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

export interface Browser {
  readonly context: BrowserContext
  /** Closes the browser and deletes its profile. */
  readonly close: () => Promise<void>
}

/** Launches Chromium with a fresh user-data-dir (deleted on close). `extraArgs` are added to the flags. */
export const launch = async (
  extraArgs: ReadonlyArray<string> = [],
  options: { readonly colorScheme?: "light" | "dark" } = {}
): Promise<Browser> => {
  const profile = mkdtempSync(join(tmpdir(), "fibervisor-chromium-"))
  mkdirSync(artifacts, { recursive: true })
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [...chromiumFlags, ...extraArgs],
    viewport: { width: 1400, height: 1000 },
    colorScheme: options.colorScheme ?? "light",
    timeout: 60_000
  })
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined)
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

/**
 * What a page reported that a clean page does not: console errors and warnings, uncaught
 * exceptions, and Content-Security-Policy violations (reported by a listener added before any
 * script of the page runs).
 */
export interface Problems {
  readonly console: Array<string>
  readonly errors: Array<string>
  readonly csp: Array<string>
}

/** Starts recording `page`'s problems (call before the first navigation). */
export const watch = async (page: Page): Promise<Problems> => {
  const problems: Problems = { console: [], errors: [], csp: [] }
  await page.exposeBinding("__reportCspViolation", (_source, text: string) => {
    problems.csp.push(text)
  })
  await page.addInitScript(() => {
    // Main-thread tasks over 50 ms (the page froze for that long), for `longTasks`.
    const long: Array<number> = []
    ;(window as unknown as { __longTasks: Array<number> }).__longTasks = long
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) long.push(entry.duration)
    }).observe({ type: "longtask", buffered: true })
    document.addEventListener("securitypolicyviolation", (event) => {
      const report = (window as unknown as { __reportCspViolation: (text: string) => void }).__reportCspViolation
      void report(
        `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`
      )
    })
  })
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error" || message.type() === "warning") {
      problems.console.push(`${message.type()}: ${message.text()} (${message.location().url})`)
    }
  })
  page.on("pageerror", (error) => problems.errors.push(String(error)))
  return problems
}

/** The durations of the page's long tasks (main-thread work over 50 ms) so far, in ms. */
export const longTasks = (page: Page): Promise<Array<number>> =>
  page.evaluate(() => (window as unknown as { __longTasks?: Array<number> }).__longTasks ?? [])
