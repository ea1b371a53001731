/**
 * The docs as a whole: every page is reachable from the index, relative links resolve, and no
 * file of the repository points readers at a design document they do not have.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { docsDir } from "../scripts/docs-blocks.js"

const root = path.resolve(docsDir, "..")
const pages = fs.readdirSync(docsDir).filter((name) => name.endsWith(".md"))
const read = (file: string) => fs.readFileSync(file, "utf8")

/** Relative Markdown link targets of a file, without their `#fragment`. */
const links = (file: string): Array<string> =>
  Array.from(read(file).matchAll(/\]\(([^)\s]+)\)/g), (m) => m[1]!)
    .filter((target) => !/^[a-z]+:/.test(target) && !target.startsWith("#"))
    .map((target) => target.split("#")[0]!)

describe("the docs", () => {
  it("docs/README.md links every page", () => {
    const linked = new Set(links(path.join(docsDir, "README.md")))
    expect(pages.filter((page) => page !== "README.md" && !linked.has(page))).toEqual([])
  })

  it.each([...pages.map((page) => path.join("docs", page)), "README.md"])("%s: relative links resolve", (file) => {
    const dir = path.dirname(path.join(root, file))
    expect(links(path.join(root, file)).filter((target) => !fs.existsSync(path.join(dir, target)))).toEqual([])
  })

  it("no tracked file mentions a design document", () => {
    // Spelt apart so this file does not match itself.
    const name = ["DESIGN", "md"].join(".")
    const section = ["DESIGN", "§"].join(" ")
    const files = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" })
      .split("\n")
      .filter((file) => file !== "" && !file.endsWith("pnpm-lock.yaml") && fs.existsSync(path.join(root, file)))
    const mentions = files.filter((file) => {
      const text = fs.readFileSync(path.join(root, file))
      return text.includes(name) || text.includes(section)
    })
    expect(mentions).toEqual([])
  })
})
