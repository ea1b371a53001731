/**
 * The Effect 3 line's side of a run: its own bench (`packages/effect3/bench`, frozen with the line)
 * runs in a child process, on the same Node binary as this bench, with the same scenario ids and
 * profile, against that line's built `core/dist`; its JSON results are read back.
 */
import { execFileSync, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import * as Result from "effect/Result"
import { rootDir } from "./paths.js"
import { decodeResultsV1, type Effect3Line } from "./results.js"

/** The Effect 3 line's workspace (its own lockfile and node_modules). */
export const effect3Dir = join(rootDir, "packages", "effect3")
/** Its bench harness. */
export const effect3BenchDir = join(effect3Dir, "bench")

export interface Effect3Options {
  readonly quick: boolean
  readonly only: ReadonlyArray<string> | undefined
  readonly progress: (line: string) => void
}

/**
 * Builds the line's core (what its bench loads: `dist`, as on this side) with the line's own
 * TypeScript. `tsc -b` only compares timestamps when nothing changed, so this costs a few seconds at most.
 */
const buildCore = (progress: (line: string) => void): void => {
  const tsc = join(effect3Dir, "node_modules", "typescript", "bin", "tsc")
  if (!existsSync(tsc) || !existsSync(join(effect3BenchDir, "node_modules", "tsx"))) {
    throw new Error(`the Effect 3 line is not installed: run pnpm --dir packages/effect3 install`)
  }
  if (!existsSync(join(effect3Dir, "core", "dist", "index.js"))) progress("effect3: building its core (dist)")
  execFileSync(process.execPath, [tsc, "-b", "core/tsconfig.build.json"], { cwd: effect3Dir, stdio: "inherit" })
}

const forwardLines = (stream: NodeJS.ReadableStream, line: (text: string) => void): void => {
  let pending = ""
  stream.setEncoding("utf8")
  stream.on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n")
    pending = lines.pop()!
    for (const l of lines) line(l)
  })
  stream.on("end", () => {
    if (pending !== "") line(pending)
  })
}

/** Runs the Effect 3 line's bench and returns its results; fails when it fails. */
export const runEffect3Line = async (options: Effect3Options): Promise<Effect3Line> => {
  buildCore(options.progress)
  const dir = mkdtempSync(join(tmpdir(), "fibervisor-bench-effect3-"))
  const out = join(dir, "results.json")
  // Its package's `bench` script, with this process's Node (the project's Node 22, not the system's).
  const args = [
    "--expose-gc",
    "--import",
    "tsx",
    "src/main.ts",
    ...(options.quick ? ["--quick"] : []),
    ...(options.only === undefined ? [] : ["--only", options.only.join(",")]),
    "--no-save",
    "--out",
    out
  ]
  try {
    const stdout: Array<string> = []
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: effect3BenchDir, stdio: ["ignore", "pipe", "pipe"] })
      // Its table repeats what this report prints; it is shown only when the run fails.
      forwardLines(child.stdout, (line) => stdout.push(line))
      forwardLines(child.stderr, (line) => options.progress(`effect3 | ${line}`))
      child.on("error", reject)
      child.on("close", resolve)
    })
    if (code !== 0) {
      options.progress(stdout.join("\n"))
      throw new Error(`the Effect 3 line's bench exited with ${code}`)
    }
    const decoded = decodeResultsV1(JSON.parse(readFileSync(out, "utf8")))
    if (Result.isFailure(decoded)) {
      throw new Error(`the Effect 3 line's results are not well-formed:\n${decoded.failure.message}`)
    }
    return {
      cwd: relative(rootDir, effect3BenchDir),
      command: [process.execPath, ...args.slice(0, -1), "<tmp>/results.json"],
      results: decoded.success
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
