/**
 * No value-import cycle in `packages/core/src`. Internal modules see their collaborators through
 * type-only host interfaces (`EntryOwner`, `NestedSupervisor`, `ControllerHost`, `StopHost`, …),
 * so the type graph has back edges by design; the compiler erases them. A *value* back edge would
 * make module initialisation order matter (a class used before its module has run), so the value
 * graph must stay acyclic. Read with the TypeScript parser: an import counts as a value edge unless
 * it is `import type`, or every name it brings is marked `type`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const srcDir = fileURLToPath(new URL("../../src", import.meta.url))

const sourceFiles = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) =>
      d.isDirectory() ? sourceFiles(path.join(dir, d.name)) : d.name.endsWith(".ts") ? [path.join(dir, d.name)] : []
    )

/** Whether an import or re-export loads the module at run time. */
const isValueEdge = (node: ts.ImportDeclaration | ts.ExportDeclaration): boolean => {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause
    if (clause === undefined) return true // a side-effect import
    if (clause.isTypeOnly) return false
    if (clause.name !== undefined) return true
    const bindings = clause.namedBindings
    if (bindings === undefined || ts.isNamespaceImport(bindings)) return true
    return bindings.elements.length === 0 || bindings.elements.some((e) => !e.isTypeOnly)
  }
  if (node.isTypeOnly) return false
  const clause = node.exportClause
  return clause === undefined || !ts.isNamedExports(clause) || clause.elements.some((e) => !e.isTypeOnly)
}

/** The value imports of every module under `src`, between modules of `src`. */
const valueGraph = (): Map<string, Array<string>> => {
  const graph = new Map<string, Array<string>>()
  for (const file of sourceFiles(srcDir)) {
    const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest)
    const edges: Array<string> = []
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue
      const specifier = statement.moduleSpecifier
      if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith(".")) continue
      if (!isValueEdge(statement)) continue
      edges.push(path.resolve(path.dirname(file), specifier.text.replace(/\.js$/, ".ts")))
    }
    graph.set(file, edges)
  }
  return graph
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<Array<string>> => {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const found: Array<Array<string>> = []
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next)
    next += 1
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component)
    }
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

describe("import cycles", () => {
  it("the value-import graph of packages/core/src is acyclic", () => {
    const graph = valueGraph()
    // Not vacuous: the supervisor's modules and their value imports were found.
    expect(graph.size).toBeGreaterThan(30)
    expect(graph.get(path.join(srcDir, "internal/supervisor.ts"))).toContain(
      path.join(srcDir, "internal/supervisor/registry.ts")
    )
    const relative = cycles(graph).map((component) => component.map((file) => path.relative(srcDir, file)).sort())
    expect(relative).toEqual([])
  })

  it("the check finds a cycle when there is one", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["d"]],
      ["e", ["a"]]
    ])
    expect(cycles(graph).map((c) => c.sort())).toEqual([["a", "b", "c"], ["d"]])
  })

  it("type-only imports are not value edges; an import with one value name is", () => {
    const edge = (code: string) =>
      isValueEdge(ts.createSourceFile("x.ts", code, ts.ScriptTarget.Latest).statements[0] as ts.ImportDeclaration)
    expect(edge(`import type { A } from "./a.js"`)).toBe(false)
    expect(edge(`import { type A, type B } from "./a.js"`)).toBe(false)
    expect(edge(`import type * as A from "./a.js"`)).toBe(false)
    expect(edge(`export type { A } from "./a.js"`)).toBe(false)
    expect(edge(`import { type A, b } from "./a.js"`)).toBe(true)
    expect(edge(`import * as A from "./a.js"`)).toBe(true)
    expect(edge(`import "./a.js"`)).toBe(true)
    expect(edge(`export * from "./a.js"`)).toBe(true)
  })
})
