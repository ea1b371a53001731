/**
 * The Markdown pages in `docs/` quote the runnable examples of `src/docs/`. A quoted example is a
 * ```ts block right after a `<!-- example: <file> -->` marker. `pnpm docs:sync` rewrites those
 * blocks from the files; the examples test checks that they match. A `<file>` with a `/` is a path
 * from `packages/examples/` (e.g. `test/docs/testing-event-log.test.ts`: an example that is itself a
 * test file, run by vitest).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const docsDir = fileURLToPath(new URL("../../../docs/", import.meta.url))
export const examplesDir = fileURLToPath(new URL("../src/docs/", import.meta.url))
/** Examples that are test files (the Testing page): run by vitest, quoted like the others. */
export const testExamplesDir = fileURLToPath(new URL("../test/docs/", import.meta.url))
const examplesPackage = fileURLToPath(new URL("../", import.meta.url))

const block = /(<!-- example: ([\w./-]+) -->\n+```ts\n)([\s\S]*?)(```)/g

export interface Quote {
  readonly page: string
  readonly file: string
  readonly code: string
}

/** The pages that quote examples: `docs/*.md` and the repository's README. */
export const pages = (): Array<string> => [
  ...fs
    .readdirSync(docsDir)
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join(docsDir, name)),
  path.join(docsDir, "..", "README.md")
]

export const quotes = (page: string): Array<Quote> =>
  Array.from(fs.readFileSync(page, "utf8").matchAll(block), (match) => ({
    page: path.basename(page),
    file: match[2],
    code: match[3]
  }))

export const exampleFiles = (): Array<string> => [
  ...fs.readdirSync(examplesDir).filter((name) => name.endsWith(".ts")),
  ...(fs.existsSync(testExamplesDir) ? fs.readdirSync(testExamplesDir) : [])
    .filter((name) => name.endsWith(".ts"))
    .map((name) => `test/docs/${name}`)
]

export const readExample = (file: string): string =>
  fs.readFileSync(file.includes("/") ? path.join(examplesPackage, file) : path.join(examplesDir, file), "utf8")

/** Rewrites every quoted block of `page` from its example file; returns whether anything changed. */
export const sync = (page: string): boolean => {
  const before = fs.readFileSync(page, "utf8")
  const after = before.replace(block, (_all, open: string, file: string, _code: string, close: string) => {
    return `${open}${readExample(file)}${close}`
  })
  if (after !== before) fs.writeFileSync(page, after)
  return after !== before
}
