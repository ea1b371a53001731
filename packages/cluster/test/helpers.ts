/**
 * Shared by the singleton unit tests: replicas in one process (one supervisor each, sharing a
 * memory lease store), a store wrapper that cuts one replica off (a partition) or makes it see
 * its lease taken, and clock stepping under TestClock.
 */
import { Supervisor, type SupervisorEvent } from "@fibervisor/core"
import { EventLog, TestTime } from "@fibervisor/vitest"
import { Effect, Option } from "effect"
import type * as Scope from "effect/Scope"
import { ClusterError, ClusterSupervisor, type Task } from "../src/index.js"

export { TestTime }

/** Lease settings of the unit tests: refresh 1 s, expiry 3 s (default hand-off grace 1 s). */
export const lease = { refreshIntervalMs: 1_000, expiryMs: 3_000 } as const

/** A store wrapper whose behaviour for one replica a test can switch. */
export interface Faults {
  /** Every call fails (the replica cannot reach the store). */
  partitioned: boolean
  /** Another replica ("thief", epoch 99) holds the lease: `refresh` answers "not yours", `acquire` "held". */
  stolen: boolean
}

const faulty = (store: ClusterSupervisor.LeaseStore, faults: Faults): ClusterSupervisor.LeaseStore => {
  const down = (operation: string) =>
    Effect.fail(new ClusterError.LeaseStoreError({ operation, reason: "partitioned (test)" }))
  return {
    acquire: (name, runner, ttl) =>
      faults.partitioned
        ? down("acquire")
        : faults.stolen
          ? Effect.succeed({ _tag: "Held", owner: "thief", epoch: 99 } as const)
          : store.acquire(name, runner, ttl),
    refresh: (name, runner, epoch, ttl) =>
      faults.partitioned
        ? down("refresh")
        : faults.stolen
          ? Effect.succeed(false)
          : store.refresh(name, runner, epoch, ttl),
    release: (name, runner, epoch) => (faults.partitioned ? down("release") : store.release(name, runner, epoch))
  }
}

/** One replica: its supervisor, its events, its faults. */
export interface Replica {
  readonly runner: string
  readonly sup: Supervisor.Supervisor
  readonly log: EventLog.EventLog
  readonly faults: Faults
  readonly add: <E, R>(
    task: Task.Task<E, R>
  ) => Effect.Effect<unknown, unknown, Exclude<R, ClusterSupervisor.ClusterSupervisor>>
  /** The singleton events of this replica, `at` included. */
  readonly singletonEvents: Effect.Effect<ReadonlyArray<SupervisorEvent.SupervisorEvent>>
  readonly state: (name: string) => Effect.Effect<string | undefined>
}

/** A replica on `leases`, in the test's scope. */
export const replica = (
  runner: string,
  leases: ClusterSupervisor.LeaseStore,
  settings: { readonly refreshIntervalMs: number; readonly expiryMs: number } = lease
): Effect.Effect<Replica, never, Scope.Scope> =>
  Effect.gen(function* () {
    const sup = yield* Effect.orDie(Supervisor.make({ grace: "30 seconds" }))
    const log = yield* EventLog.collect(sup)
    const faults: Faults = { partitioned: false, stolen: false }
    const service: ClusterSupervisor.ClusterSupervisor = {
      runnerId: runner,
      refreshIntervalMs: settings.refreshIntervalMs,
      expiryMs: settings.expiryMs,
      leases: faulty(leases, faults)
    }
    return {
      runner,
      sup,
      log,
      faults,
      add: (task) =>
        sup.add(task as never).pipe(Effect.provideService(ClusterSupervisor.ClusterSupervisor, service)) as never,
      singletonEvents: Effect.map(log.all, (events) => events.filter((event) => event._tag.startsWith("Singleton"))),
      state: (name) =>
        Effect.map(sup.get(name), Option.match({ onNone: () => undefined, onSome: (info) => info.state }))
    }
  })

/** Steps the TestClock `ms` milliseconds, 100 ms at a time, letting every fiber run at each step. */
export const step = (ms: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    for (let left = ms; left > 0; left -= 100) yield* TestTime.adjust(`${Math.min(100, left)} millis`)
  })

/** Lets every runnable fiber run; the clock does not move. */
export const settle = TestTime.settle()

/** `tag@at` summaries of singleton events, for compact exact assertions. */
export const summary = (events: ReadonlyArray<SupervisorEvent.SupervisorEvent>): ReadonlyArray<string> =>
  events.map((event) => {
    const e = event as unknown as Record<string, unknown>
    const extra =
      event._tag === "SingletonReleased"
        ? ` ${String(e.reason)}`
        : event._tag === "SingletonStandby"
          ? ` owner=${String(e.owner ?? "-")}`
          : ""
    return `${event._tag}@${event.at} epoch=${String(e.epoch ?? "-")}${extra}`
  })
