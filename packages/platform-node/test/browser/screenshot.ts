/**
 * Takes the dashboard's screenshots for the docs (docs/images/dashboard.png and
 * dashboard-dark.png) from the real demo: runs `pnpm demo`'s program, opens its dashboard in
 * headless Chromium, lets the tree run a few seconds, selects the flaky connector, and shoots.
 *
 *   pnpm --filter @fibervisor/platform-node dashboard:screenshot
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { launch } from "./chromium.js"

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url))
const images = fileURLToPath(new URL("../../../../docs/images/", import.meta.url))

const demo = spawn(
  process.execPath,
  ["--conditions=@fibervisor/source", "--import", "tsx", "src/demo.ts", "--duration", "60s", "--seed", "7"],
  { cwd: examples, stdio: ["ignore", "pipe", "inherit"] }
)
const url = await new Promise<string>((resolve, reject) => {
  let out = ""
  demo.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk
    const found = /^ {2}dashboard: (\S+)/m.exec(out)?.[1]
    if (found !== undefined) resolve(found)
  })
  demo.on("exit", (code) => reject(new Error(`the demo exited (${code}) before printing its dashboard`)))
})

try {
  for (const scheme of ["light", "dark"] as const) {
    const browser = await launch([], { colorScheme: scheme })
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage())
      await page.setViewportSize({ width: 1400, height: 900 })
      await page.goto(url)
      await page.locator('.tree-row[data-path="root/app/connector"]').click()
      await page.waitForTimeout(5000)
      const name = scheme === "light" ? "dashboard.png" : "dashboard-dark.png"
      await page.screenshot({ path: `${images}${name}` })
      console.log(`wrote docs/images/${name}`)
    } finally {
      await browser.close()
    }
  }
} finally {
  demo.kill("SIGTERM")
}
