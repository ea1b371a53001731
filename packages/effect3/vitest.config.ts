import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [
      "core/vitest.config.ts",
      "vitest/vitest.config.ts",
      "platform-node/vitest.config.ts",
      "bench/vitest.config.ts"
    ]
  }
})
