import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

const source = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url))

export default defineProject({
  resolve: {
    // Tests run against the sources of the workspace packages, not their build.
    alias: [
      { find: /^@fibervisor\/core$/, replacement: source("core") },
      // `@fibervisor/cluster`'s `Task` re-exports the core module by its subpath.
      { find: /^@fibervisor\/core\/(.*)$/, replacement: fileURLToPath(new URL("../core/src/$1.ts", import.meta.url)) },
      { find: /^@fibervisor\/cluster$/, replacement: source("cluster") },
      { find: /^@fibervisor\/vitest$/, replacement: source("vitest") },
      {
        find: /^@fibervisor\/vitest\/(.*)$/,
        replacement: fileURLToPath(new URL("../vitest/src/$1.ts", import.meta.url))
      }
    ]
  },
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000
  }
})
