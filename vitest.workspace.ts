// The one list of test projects. The root vitest.config.ts passes it to `test.projects`
// (vitest 3.2 deprecates a workspace file that vitest reads on its own). The frozen Effect 3 line,
// packages/effect3, is not in it: it is a workspace of its own, tested by its own vitest.
export default [
  "packages/core/vitest.config.ts",
  "packages/vitest/vitest.config.ts",
  "packages/platform-node/vitest.config.ts",
  "packages/cluster/vitest.config.ts",
  "packages/durable/vitest.config.ts",
  "packages/examples/vitest.config.ts",
  "packages/bench/vitest.config.ts"
]
