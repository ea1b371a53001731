/**
 * What a user installs: packs every publishable package with `pnpm pack` (after building it) and
 * checks the tarball: README and LICENSE, the build, peer ranges and engines of the Effect 4 line
 * (1.x) as the docs state them, no development-only export condition, internals sealed, `@since`
 * tags not ahead of the version.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const publishable = ["core", "platform-node", "vitest", "cluster", "durable"] as const

// Under `pnpm test`, npm_execpath is the running pnpm (also when CI runs it through corepack).
const pnpm = (args: ReadonlyArray<string>, cwd: string): string => {
  const execPath = process.env.npm_execpath
  return execPath !== undefined && /pnpm/.test(path.basename(execPath)) && /\.c?js$/.test(execPath)
    ? execFileSync(process.execPath, [execPath, ...args], { cwd, encoding: "utf8" })
    : execFileSync("pnpm", args, { cwd, encoding: "utf8" })
}

interface Packed {
  readonly files: ReadonlyArray<string>
  readonly manifest: Record<string, any>
  readonly manifestText: string
}

const destination = fs.mkdtempSync(path.join(os.tmpdir(), "fibervisor-pack-"))
const packed = new Map<string, Packed>()

beforeAll(() => {
  // `files` ships dist/: build it first (incremental, quick when up to date).
  execFileSync(
    process.execPath,
    [
      path.join(root, "node_modules/typescript/bin/tsc"),
      "-b",
      ...publishable.map((pkg) => path.join(root, `packages/${pkg}/tsconfig.build.json`))
    ],
    { cwd: root }
  )
  for (const pkg of publishable) {
    const dir = path.join(root, "packages", pkg)
    const { name, version } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
    pnpm(["pack", "--pack-destination", destination], dir)
    const tarball = path.join(destination, `${name.replace("@", "").replace("/", "-")}-${version}.tgz`)
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n")
    const manifestText = execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" })
    packed.set(pkg, { files, manifest: JSON.parse(manifestText), manifestText })
  }
}, 180_000)

afterAll(() => fs.rmSync(destination, { recursive: true, force: true }))

const get = (pkg: string): Packed => packed.get(pkg)!

/** Every `@since x.y.z` tag in a package's sources. */
const sinceTags = (dir: string): Array<string> =>
  fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .flatMap((file) =>
      Array.from(fs.readFileSync(path.join(dir, file), "utf8").matchAll(/@since (\S+)/g), (m) => m[1]!)
    )

const compare = (a: string, b: string): number => {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)]
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return 0
}

describe.each(publishable)("the %s tarball", (pkg) => {
  it("carries README.md, LICENSE and the build", () => {
    const { files } = get(pkg)
    expect(files).toContain("package/README.md")
    expect(files).toContain("package/LICENSE")
    expect(files).toContain("package/dist/index.js")
    expect(files).toContain("package/dist/index.d.ts")
  })

  it("publishes no development-only condition and seals the internals", () => {
    const { manifest, manifestText } = get(pkg)
    expect(manifestText).not.toContain("@fibervisor/source")
    expect(manifestText).not.toContain("@fibervisor/internal")
    expect(manifestText).not.toContain("workspace:")
    expect(manifest.exports["./internal/*"]).toBeNull()
    expect(manifest.exports["."]).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" })
    expect(manifest.main).toBe("./dist/index.js")
    expect(manifest.types).toBe("./dist/index.d.ts")
    expect(manifest.license).toBe("MIT")
  })

  it("takes effect 4.1.5 or later in the 4.x line as a peer", () => {
    expect(get(pkg).manifest.peerDependencies.effect).toBe("^4.1.5")
  })

  it("is on the Effect 4 line: version 1.x, Node 22.19 or later", () => {
    const { manifest } = get(pkg)
    expect(manifest.version).toMatch(/^1\.\d+\.\d+$/)
    expect(manifest.engines).toEqual({ node: ">=22.19" })
  })

  it("has no @since tag ahead of its version", () => {
    const { version } = get(pkg).manifest
    const ahead = sinceTags(path.join(root, "packages", pkg, "src")).filter((since) => compare(since, version) > 0)
    expect(ahead).toEqual([])
  })
})

describe("peer and plain dependencies", () => {
  it("@fibervisor/platform-node takes the @effect packages as peers with ranges", () => {
    const { manifest } = get("platform-node")
    expect(manifest.peerDependencies).toEqual({
      effect: "^4.1.5",
      "@effect/platform-node": "^4.1.5",
      "@fibervisor/core": `^${manifest.version}`
    })
    expect(Object.keys(manifest.dependencies ?? {}).filter((dep) => dep.startsWith("@effect/"))).toEqual([])
    for (const range of Object.values<string>(manifest.dependencies ?? {})) expect(range).toMatch(/^\^/)
  })

  it("@fibervisor/platform-node needs no @effect/platform (gone in Effect 4) and no OpenTelemetry", () => {
    const { manifest } = get("platform-node")
    const deps = [
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.optionalDependencies ?? {})
    ]
    expect(deps.filter((dep) => dep === "@effect/platform" || /opentelemetry/.test(dep))).toEqual([])
  })

  it("@fibervisor/vitest takes @effect/vitest 4 and vitest 5 as peers, and its sources import neither", () => {
    const { manifest, files } = get("vitest")
    expect(manifest.peerDependencies).toEqual({
      effect: "^4.1.5",
      "@effect/vitest": "^4.1.5",
      vitest: ">=5.0.0 <6.0.0",
      "@fibervisor/core": `^${manifest.version}`,
      // Only for the subpaths that need them (TestDurableOffload, TestDatabase): optional.
      "@fibervisor/durable": `^${manifest.version}`,
      "@effect/sql-pg": "^4.1.5"
    })
    expect(manifest.peerDependenciesMeta).toEqual({
      "@fibervisor/durable": { optional: true },
      "@effect/sql-pg": { optional: true }
    })
    const sources = files.filter((file) => file.startsWith("package/src/"))
    expect(sources.length).toBeGreaterThan(0)
    for (const file of sources) {
      const text = fs.readFileSync(path.join(root, "packages/vitest", file.slice("package/".length)), "utf8")
      expect(text).not.toMatch(/from "(@effect\/)?vitest"/)
    }
  })

  it.each(["cluster", "durable"] as const)(
    "@fibervisor/%s takes effect and core as peers, and each SQL driver as an optional peer",
    (pkg) => {
      const { manifest } = get(pkg)
      expect(manifest.peerDependencies).toEqual({
        effect: "^4.1.5",
        "@fibervisor/core": `^${manifest.version}`,
        "@effect/sql-pg": "^4.1.5",
        "@effect/sql-sqlite-node": "^4.1.0"
      })
      expect(manifest.peerDependenciesMeta).toEqual({
        "@effect/sql-pg": { optional: true },
        "@effect/sql-sqlite-node": { optional: true }
      })
      expect(manifest.dependencies ?? {}).toEqual({})
    }
  )
})
