import { fileURLToPath } from "node:url"

/** The bench package's folder. */
export const packageDir = fileURLToPath(new URL("..", import.meta.url))
/** The Effect 3 line's root (packages/effect3). */
export const rootDir = fileURLToPath(new URL("../..", import.meta.url))
/** Written by every run (gitignored). */
export const defaultOut = `${rootDir}bench-results.json`
/** The results kept for the docs: written by a full run of every scenario (`--no-save` skips it). */
export const savedResults = `${packageDir}results/results.json`
/** The plot of the saved results. */
export const savedPlot = `${packageDir}results/per-op.svg`
