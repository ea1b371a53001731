/**
 * The project's style rule, checked: every export of a public module (`src/*.ts` of the published
 * packages, not `src/internal/`) has a JSDoc comment with `@since` and `@category`. A module-level
 * re-export (`export * as X from` / `export * from`, as in the `index.ts` files) needs only
 * `@since`. Exports marked `@internal` are skipped (TypeDoc leaves them out: `excludeInternal`).
 * Uses the TypeScript parser alone (no type checking), so it runs in well under a second.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const packagesDir = fileURLToPath(new URL("../../", import.meta.url))

/** The published packages whose public modules are checked. */
const publicPackages = ["core", "vitest", "platform-node", "cluster", "durable"] as const

interface Export {
  /** `file:line name (kind)`, as reported. */
  readonly label: string
  readonly moduleReexport: boolean
  readonly jsDoc: ReadonlyArray<ts.JSDoc>
}

const jsDocOf = (node: ts.Node): ReadonlyArray<ts.JSDoc> =>
  ts.getJSDocCommentsAndTags(node).filter((entry): entry is ts.JSDoc => ts.isJSDoc(entry))

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) &&
  (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)

const kindOf = (node: ts.Node): string => {
  if (ts.isFunctionDeclaration(node)) return "function"
  if (ts.isClassDeclaration(node)) return "class"
  if (ts.isInterfaceDeclaration(node)) return "interface"
  if (ts.isTypeAliasDeclaration(node)) return "type"
  if (ts.isEnumDeclaration(node)) return "enum"
  if (ts.isModuleDeclaration(node)) return "namespace"
  if (ts.isVariableDeclaration(node)) return "const"
  if (ts.isExportSpecifier(node)) return "re-export"
  if (ts.isExportDeclaration(node)) return "module re-export"
  if (ts.isExportAssignment(node)) return "export default"
  return ts.SyntaxKind[node.kind]
}

/** The exported declarations of one module, in source order (overloads merged into one). */
const exportsOf = (file: string): Array<Export> => {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)
  const relative = path.relative(packagesDir, file)
  const result: Array<Export> = []
  const functions = new Map<string, Array<ts.JSDoc>>()
  const add = (node: ts.Node, name: string, jsDoc: ReadonlyArray<ts.JSDoc>, moduleReexport = false) => {
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
    result.push({ label: `${relative}:${line + 1} ${name} (${kindOf(node)})`, moduleReexport, jsDoc })
  }

  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause
      if (clause === undefined || ts.isNamespaceExport(clause)) {
        // `export * from "./X.js"` / `export * as X from "./X.js"`
        const name = clause === undefined ? "*" : clause.name.text
        add(statement, name, jsDocOf(statement), true)
      } else {
        // `export { a, b } from "./x.js"`: the comment on the name and the one on the statement
        // (TypeDoc reads only the latter, e.g. for the category of a re-exported name)
        for (const specifier of clause.elements) {
          add(specifier, specifier.name.text, [...jsDocOf(specifier), ...jsDocOf(statement)])
        }
      }
    } else if (ts.isExportAssignment(statement)) {
      add(statement, "default", jsDocOf(statement))
    } else if (isExported(statement)) {
      if (ts.isVariableStatement(statement)) {
        // the comment belongs to the statement (`export const a = 1, b = 2` shares one)
        for (const declaration of statement.declarationList.declarations) {
          add(declaration, declaration.name.getText(source), jsDocOf(statement))
        }
      } else if (ts.isFunctionDeclaration(statement) && statement.name !== undefined) {
        const name = statement.name.text
        const seen = functions.get(name)
        if (seen === undefined) {
          const jsDoc = [...jsDocOf(statement)]
          functions.set(name, jsDoc)
          add(statement, name, jsDoc)
        } else {
          // an overload: its comment counts for the function
          seen.push(...jsDocOf(statement))
        }
      } else {
        const name = (statement as ts.DeclarationStatement).name?.getText(source) ?? "default"
        add(statement, name, jsDocOf(statement))
      }
    }
  }
  return result
}

/** Whether a tag is present, with text (an empty `@since` says nothing). */
const hasTag = (jsDoc: ReadonlyArray<ts.JSDoc>, tag: string): boolean =>
  jsDoc.some((doc) =>
    (doc.tags ?? []).some(
      (entry) => entry.tagName.text === tag && (ts.getTextOfJSDocComment(entry.comment) ?? "").trim() !== ""
    )
  )

const isInternal = (jsDoc: ReadonlyArray<ts.JSDoc>): boolean =>
  jsDoc.some((doc) => (doc.tags ?? []).some((entry) => entry.tagName.text === "internal"))

/** One line per export that breaks the rule: what it is and what it is missing. */
const problems = (pkg: string): Array<string> => {
  const srcDir = path.join(packagesDir, pkg, "src")
  const files = fs
    .readdirSync(srcDir)
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
    .sort()
    .map((name) => path.join(srcDir, name))
  return files.flatMap((file) =>
    exportsOf(file).flatMap(({ jsDoc, label, moduleReexport }) => {
      if (jsDoc.length === 0) return [`${label}: no JSDoc comment`]
      if (isInternal(jsDoc)) return []
      const missing = (moduleReexport ? ["since"] : ["since", "category"]).filter((tag) => !hasTag(jsDoc, tag))
      return missing.length === 0 ? [] : [`${label}: no ${missing.map((tag) => `@${tag}`).join(" and no ")}`]
    })
  )
}

describe("JSDoc on every public export (@since, @category)", () => {
  it("sees the index re-exports and the module exports", () => {
    const core = fs.readdirSync(path.join(packagesDir, "core", "src")).filter((name) => name.endsWith(".ts"))
    const found = core.flatMap((name) => exportsOf(path.join(packagesDir, "core", "src", name)))
    expect(found.some(({ label, moduleReexport }) => moduleReexport && label.includes(" Supervisor "))).toBe(true)
    expect(found.some(({ label }) => label.includes("Supervisor.ts") && label.includes(" make "))).toBe(true)
  })

  for (const pkg of publicPackages) {
    it(`@fibervisor/${pkg}`, () => {
      expect(problems(pkg)).toEqual([])
    })
  }
})
