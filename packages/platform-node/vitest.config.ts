import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against the sources of the workspace packages, not their build.
    alias: [
      { find: /^@fibervisor\/core$/, replacement: source("core") },
      { find: /^@fibervisor\/platform-node$/, replacement: source("platform-node") },
      { find: /^@fibervisor\/vitest$/, replacement: source("vitest") }
    ]
  },
  test: {
    name: "platform-node",
    include: ["test/**/*.test.ts"],
    // The dashboard's bundle, built from its sources once per run (dist/dashboard/).
    globalSetup: ["test/setup/dashboard-bundle.ts"],
    testTimeout: 30_000
  }
})
