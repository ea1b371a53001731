import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against the sources of the workspace packages, not their build.
    alias: [
      { find: /^@fibervisor\/core$/, replacement: source("core") },
      { find: /^@fibervisor\/vitest$/, replacement: source("vitest") }
    ]
  },
  test: {
    name: "core",
    include: ["test/**/*.test.ts"],
    // After each test file: no fibervisor fiber alive, no timer or listener left, gauges at 0.
    setupFiles: ["./test/leakCheck.ts"]
  }
})
