import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against the sources of the workspace packages, not their build.
    alias: [
      { find: /^@fibervisor\/core$/, replacement: source("core") },
      { find: /^@fibervisor\/durable$/, replacement: source("durable") },
      { find: /^@fibervisor\/vitest$/, replacement: source("vitest") }
    ]
  },
  test: {
    name: "vitest",
    include: ["test/**/*.test.ts"]
  }
})
