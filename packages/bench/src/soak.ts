/**
 * `pnpm soak [--quick] [--restarts N] [--offloads N] [--distinct N] [--parallel K] [--subscribe] [--out file] [--no-save]`
 *
 * The soak of issue 7, in one process, against one long-lived supervisor and one `Offload.layer()`:
 *
 * 1. restart cycles: `--parallel` tasks (default 1) failing `--restarts` times in all (default
 *    1,000,000) with `RestartPolicy.onFailure`, `Backoff.none`, `maxRetries` = their share − 1;
 *    their handles are awaited;
 * 2. offloaded effects: `Offload.spawn("soak", effect)` × `--offloads` (default 1,000,000) under the real
 *    `Offload.layer()`, in batches of 10k with `Offload.awaitIdle()` between them; `effect` is an
 *    `Effect.sync` that counts its runs (as cheap as `Effect.void`, and every run is checked);
 * 3. distinct tasks: `--distinct` uniquely named tasks (default 100,000), each failing twice (one
 *    restart), added in batches of 1,000 with `sup.awaitEmpty` between them — they churn the
 *    registry's names and push the `task` metric label past its cap.
 *
 * A warm-up runs the same three phases (smaller, other names; enough distinct tasks to fill the
 * label cap) before the baseline heap is taken. Every segment (100k operations; 5k with `--quick`)
 * is timed and followed by a full GC and a heap reading, off the clock.
 *
 * Correctness checks (exit code 1 when one fails): heap after the final full GC within 5% of the heap
 * after the warm-up (same live objects: the supervisor and the offload service still open); the
 * supervisor's registry (`sup.size`, `sup.list`), the offload service (`activeCount`, `queuedCount`)
 * and `live.fibers` back to 0; the `task` label count bounded by the cap and unchanged since the
 * warm-up; the running/active gauges back to 0; every attempt and every offloaded effect ran.
 * Timings are reported ("steady": the last segment within 1.5× of the first), never asserted; CPU
 * time per segment is shown beside the wall-clock time, since other load on the machine skews the latter.
 * Sensitivity: 5% of a ~28 MiB heap is ~1.4 MiB, i.e. ~1.5 bytes retained per operation over a full
 * run; the `--quick` run (CI) only catches leaks of roughly 70 bytes per operation or more.
 *
 * `--parallel K` spreads the restarts over K tasks running at once; `--subscribe` keeps one event
 * subscriber draining `sup.subscribe` throughout. Neither is part of the default run.
 *
 * Output: a table on stdout (progress on stderr); the JSON figures to `results/soak.json` for a full
 * run at the default sizes (or to `--out`).
 *
 * Files: this one is the entry point; `soak/profile.ts` (sizes, flags), `soak/measure.ts` (heap,
 * segments, checks), `soak/phases.ts`, `soak/run.ts`, `soak/report.ts`; `cli.ts` is shared with `pnpm bench`.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, relative } from "node:path"
import { maxTaskLabels } from "@fibervisor/core/internal/taskMetrics"
import { coreLoadedFrom, machineOf, progress, revision, versionOf } from "./cli.js"
import { run } from "./effects.js"
import { HEAP_GROWTH_LIMIT_PERCENT, fullProfile, parseArgs, quickProfile, savedSoak, sizesOf } from "./soak/profile.js"
import { checksOf, heapGrowthPercent, type SoakResults, tableOf } from "./soak/report.js"
import { soak } from "./soak/run.js"

const main = async () => {
  const args = parseArgs(process.argv.slice(2))
  if (typeof globalThis.gc !== "function") {
    console.error("note: run with node --expose-gc (pnpm soak does); exposing gc at run time instead")
  }
  const profile = args.quick ? quickProfile : fullProfile
  const sizes = sizesOf(args)
  const defaults =
    args.restarts === undefined &&
    args.offloads === undefined &&
    args.distinct === undefined &&
    args.parallel === undefined
  const date = new Date().toISOString()
  const loadAverageStart = loadavg()
  const started = performance.now()
  const r = await run(soak(sizes, profile.warmup, args.subscribe, progress))
  const durationSeconds = (performance.now() - started) / 1000
  const partial = {
    schemaVersion: 1 as const,
    quick: args.quick,
    core: coreLoadedFrom(),
    versions: { effect: versionOf("effect") },
    revision: revision(),
    machine: { ...machineOf(date), loadAverageStart, loadAverageEnd: loadavg() },
    durationSeconds,
    sizes,
    warmup: { ...profile.warmup, seconds: r.warmupSeconds },
    subscriber: args.subscribe,
    eventsSeen: r.eventsSeen,
    heap: {
      afterWarmup: r.heapAfterWarmup,
      end: r.heapEnd,
      afterClose: r.heapAfterClose,
      growthPercent: heapGrowthPercent(r),
      limitPercent: HEAP_GROWTH_LIMIT_PERCENT
    },
    phases: r.phases,
    registries: { ...r.registriesEnd, liveFibersAfterClose: r.liveFibersAfterClose },
    metrics: {
      taskLabelCap: maxTaskLabels,
      taskLabelsAfterWarmup: r.taskLabelsAfterWarmup,
      taskLabelsEnd: r.taskLabelsEnd,
      taskRunningGauge: r.taskRunningGauge,
      offloadActiveGauge: r.offloadActiveGauge
    }
  }
  const checks = checksOf(r)
  const results: SoakResults = { ...partial, checks, ok: checks.every((c) => c.ok) }
  console.log(tableOf(results))
  const out = args.out ?? (!args.quick && defaults && !args.subscribe && args.save ? savedSoak : undefined)
  if (out !== undefined) {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
    progress(`\nwrote ${relative(process.cwd(), out)}`)
  }
  process.exitCode = results.ok ? 0 : 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
