/**
 * The fibervisor demo: a small service under a supervision tree.
 *
 * - `root/app`: a flaky `connector` (the readiness task; exponential backoff with jitter), a
 *   periodic `heartbeat`, and a `workers` group of three under one-for-all;
 * - `GET /rate` on 127.0.0.1: an exchange rate served stale-while-revalidate, the refresh offloaded
 *   under one key so concurrent stale hits start one refresh;
 * - `root/traffic`: the service's own callers, a few requests every 300 ms.
 *
 * In a terminal it draws a live status table; otherwise it prints one line per lifecycle event. It
 * prints the URL of the web dashboard (127.0.0.1) and a token drawn for the run, which its actions
 * (restart now, cancel, remove) ask for. At the end it prints what happened to each task and the
 * cache's counts.
 *
 *   pnpm demo                          # runs for 8 seconds, then shuts down gracefully
 *   pnpm demo --duration 20s           # any Effect duration: "20 seconds", 20s, 1500ms
 *   pnpm demo --port 8080 --seed 42    # a fixed port (default: any free one), a fixed Random seed
 *   pnpm demo --duration 10m --dashboard-port 9091   # the dashboard on a fixed port, time to look
 *   pnpm demo --replicas 3 --duration 15s            # three replica processes and one cluster singleton:
 *                                                    # the owner is killed, another takes over (demo/replicas.ts)
 *
 * A seed fixes the random draws, not the run: the demo runs on the real clock, whose timing decides
 * which task draws next, so two runs with one seed can differ. (Under the TestClock, as in the
 * tests, a seed does replay a run.)
 *
 * Ctrl-C (or SIGTERM) shuts down gracefully; a second one exits at once (`NodeSupervisor.runMain`).
 */
import { NodeSupervisor } from "@fibervisor/platform-node"
import { Result } from "effect"
import { parseArgs } from "./demo/args.js"
import { GRACE, main } from "./demo/main.js"
import { replicasMain } from "./demo/replicas.js"

const args = parseArgs(process.argv.slice(2))
if (Result.isFailure(args)) {
  console.error(`demo: ${args.failure.message}`)
  process.exitCode = 2
} else if (args.success.replicas !== undefined) {
  NodeSupervisor.runMain(
    replicasMain({
      replicas: args.success.replicas,
      duration: args.success.duration,
      tty: process.stdout.isTTY === true
    }),
    { grace: GRACE }
  )
} else {
  NodeSupervisor.runMain(main({ ...args.success, tty: process.stdout.isTTY === true }), { grace: GRACE })
}
