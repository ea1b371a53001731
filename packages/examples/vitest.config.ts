import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against the sources of the workspace packages, not their build.
    alias: [
      { find: /^@fibervisor\/core$/, replacement: source("core") },
      { find: /^@fibervisor\/vitest$/, replacement: source("vitest") },
      { find: /^@fibervisor\/durable$/, replacement: source("durable") },
      {
        find: /^@fibervisor\/vitest\/(.*)$/,
        replacement: fileURLToPath(new URL("../vitest/src/$1.ts", import.meta.url))
      },
      { find: /^@fibervisor\/platform-node$/, replacement: source("platform-node") }
    ]
  },
  test: {
    name: "examples",
    include: ["test/**/*.test.ts"]
  }
})
