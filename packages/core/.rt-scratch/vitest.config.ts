import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  resolve: {
    alias: [
      { find: /^@fibervisor\/core$/, replacement: fileURLToPath(new URL("./index.ts", import.meta.url)) },
      { find: /^@fibervisor\/vitest$/, replacement: fileURLToPath(new URL("../../vitest/src/index.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", ".rt-scratch/**/*.test.ts"]
  }
})
