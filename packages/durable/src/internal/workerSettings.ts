/**
 * The options of `DurableOffload.workers`, checked once when the layer is built: the poll
 * interval, the lease and its refresh period, the drain's grace, the replica's name. Unknown
 * options are refused by name; every duration goes through `options.ts`; `refreshEvery` must be
 * shorter than `lease` (a lease refreshed no sooner than it expires protects nothing).
 */
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as Result from "effect/Result"
import type { WorkersOptions } from "../DurableOffload.js"
import { InvalidOptions } from "../DurableOffloadError.js"
import { durationMillis, knownKeys, label, positiveMillis } from "./options.js"

/** The workers' settings, defaults applied. */
export interface Settings {
  readonly pollMs: number
  readonly leaseMs: number
  readonly refreshMs: number
  readonly graceMs: number
  readonly workerId: string
}

/** How often a poller reads its kind's pending count for the `fibervisor_offload_queued` gauge. */
export const queuedEveryMs = 15_000

/** How long a run interrupted at the end of the drain may take to release its job before it is abandoned. */
export const releaseWaitMs = 5_000

const known = ["pollInterval", "lease", "refreshEvery", "grace", "workerId"]

/** Checks the options of `workers`. */
export const settings = (options: WorkersOptions | undefined): Result.Result<Settings, InvalidOptions> => {
  const fail = (field: string, reason: string) =>
    Result.fail(new InvalidOptions({ operation: "workers", field, reason }))
  const checked = knownKeys(options, known)
  if (Result.isFailure(checked)) return fail(checked.failure.field, checked.failure.reason)
  const o = checked.success
  const poll = o.pollInterval === undefined ? Result.succeed(1_000) : positiveMillis(o.pollInterval)
  if (Result.isFailure(poll)) return fail("pollInterval", poll.failure)
  const lease = o.lease === undefined ? Result.succeed(30_000) : positiveMillis(o.lease)
  if (Result.isFailure(lease)) return fail("lease", lease.failure)
  const refresh = o.refreshEvery === undefined ? Result.succeed(lease.success / 3) : positiveMillis(o.refreshEvery)
  if (Result.isFailure(refresh)) return fail("refreshEvery", refresh.failure)
  if (refresh.success >= lease.success) {
    return fail("refreshEvery", `must be shorter than lease (${lease.success} ms), got ${refresh.success} ms`)
  }
  const grace = o.grace === undefined ? Result.succeed(10_000) : durationMillis(o.grace)
  if (Result.isFailure(grace)) return fail("grace", grace.failure)
  const id =
    o.workerId === undefined
      ? Result.succeed(`${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`)
      : label(o.workerId, 200)
  if (Result.isFailure(id)) return fail("workerId", id.failure)
  return Result.succeed({
    pollMs: poll.success,
    leaseMs: lease.success,
    refreshMs: refresh.success,
    graceMs: grace.success,
    workerId: id.success
  })
}
