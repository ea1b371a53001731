/**
 * What the two command lines (`pnpm bench`, `pnpm soak`) share: flag parsing helpers, where a
 * relative `--out` points, and the provenance written into their results (versions, commit, machine).
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { resolve } from "node:path"
import { packageDir, rootDir } from "./paths.js"

/** Prints `message` and the usage line, and exits with code 2 (a bad command line). */
export const failWith =
  (usage: string) =>
  (message: string): never => {
    console.error(`${message}\n${usage}`)
    process.exit(2)
  }

/** Prints the usage line and exits with code 0 when `arg` asks for help. */
export const helpIf = (arg: string, usage: string): void => {
  if (arg === "--help" || arg === "-h") {
    console.log(usage)
    process.exit(0)
  }
}

/** An integer flag's value (`1_000_000` is accepted), at least `min`; else `fail`. */
export const integerFlag = (
  fail: (message: string) => never,
  flag: string,
  value: string | undefined,
  min: number
): number => {
  const n = Number(value?.replaceAll("_", ""))
  return Number.isSafeInteger(n) && n >= min ? n : fail(`${flag} needs an integer ≥ ${min}, got ${value}`)
}

/** pnpm runs the scripts in the package folder: a relative `--out` is taken from where pnpm was called. */
export const outPath = (value: string): string => resolve(process.env.INIT_CWD ?? rootDir, value)

/** Progress lines go to stderr; the tables to stdout. */
export const progress = (line: string): void => {
  process.stderr.write(`${line}\n`)
}

/** The installed version of one of the bench's dependencies. */
export const versionOf = (name: string): string => {
  const pkg = JSON.parse(readFileSync(`${packageDir}node_modules/${name}/package.json`, "utf8")) as { version: string }
  return pkg.version
}

const git = (...args: Array<string>): string | undefined => {
  try {
    return execFileSync("git", args, { cwd: rootDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return undefined
  }
}

/** The commit measured, and whether `packages/core` had uncommitted changes (`null`: unknown). */
export const revision = (): { readonly commit: string; readonly coreDirty: boolean | null } => {
  const commit = git("rev-parse", "--short=12", "HEAD")
  const status = git("status", "--porcelain", "--", "packages/core")
  return { commit: commit ?? "unknown", coreDirty: status === undefined ? null : status !== "" }
}

/** Whether `@fibervisor/core` was loaded from its sources (`bench:source`) or its build. */
export const coreLoadedFrom = (): "source" | "dist" =>
  import.meta.resolve("@fibervisor/core").endsWith(".ts") ? "source" : "dist"

/** The machine, as the results record it. */
export const machineOf = (date: string) => {
  const cpu = cpus()
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: Math.max(1, cpu.length),
    totalMemoryBytes: totalmem(),
    date
  }
}
