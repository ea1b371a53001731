import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

let cached: (() => void) | undefined

/**
 * A full, synchronous garbage collection. `pnpm bench` runs node with `--expose-gc`; elsewhere (vitest)
 * the flag is turned on at run time and `gc` is taken from a fresh context.
 */
export const fullGc = (passes = 1): void => {
  if (cached === undefined) {
    if (typeof globalThis.gc === "function") {
      const exposed = globalThis.gc
      cached = () => void exposed()
    } else {
      setFlagsFromString("--expose-gc")
      const fromContext = runInNewContext("gc") as () => void
      cached = () => fromContext()
    }
  }
  for (let i = 0; i < passes; i++) cached()
}

export const heapUsed = (): number => process.memoryUsage().heapUsed
