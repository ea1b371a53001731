// The one list of test projects. The root vitest.config.ts passes it to `test.projects`
// (vitest 3.2 deprecates a workspace file that vitest reads on its own).
export default ["packages/*/vitest.config.ts"]
