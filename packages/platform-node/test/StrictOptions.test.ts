/**
 * Strict options for the Node integration (issue 12, item 19): `HealthServer` and `runMain` refuse
 * unknown keys by name; `exitDeadline` below an explicit `grace` is refused; without `grace`,
 * `runMain` reads the roots' grace from the `SupervisorRegistry` when the shutdown starts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Result } from "effect"
import { Supervisor, SupervisorRegistry } from "@fibervisor/core"
import { HealthServer, NodeSupervisor } from "@fibervisor/platform-node"
import { deadlineOf, describeDeadline, resolve } from "../src/internal/runMain.js"

/** Listening servers of this process (a refused health server must not open one). */
const servers = () => process.getActiveResourcesInfo().filter((type) => type === "TCPServerWrap").length

describe("HealthServer: unknown option keys are refused by name", () => {
  it.effect("hostname (for host) → InvalidHealthServerOptions(hostname); nothing listens on 0.0.0.0", () =>
    Effect.gen(function* () {
      const before = servers()
      const exit = yield* Effect.exit(
        Layer.build(
          HealthServer.layer({ port: 0, hostname: "127.0.0.1" } as unknown as HealthServer.HealthServerOptions).pipe(
            Layer.provide(Supervisor.layer())
          )
        )
      )
      // Before the fix: accepted, and the server listened on every interface.
      expect(exit).toEqual(
        Exit.fail(
          new HealthServer.InvalidHealthServerOptions({
            field: "hostname",
            reason: 'is not a known option (misspelt?); did you mean "host"?'
          })
        )
      )
      expect(servers()).toBe(before)
    })
  )

  it.effect("any other unknown key, and an array, are refused", () =>
    Effect.gen(function* () {
      const refused = (options: unknown) =>
        Effect.flip(
          Effect.scoped(
            HealthServer.make(options as HealthServer.HealthServerOptions).pipe(Effect.provide(Supervisor.layer()))
          )
        )
      expect(yield* refused({ port: 0, prot: 1 })).toMatchObject({
        _tag: "InvalidHealthServerOptions",
        field: "prot",
        reason: "is not a known option (misspelt?)"
      })
      expect(yield* refused([])).toMatchObject({ field: "options", reason: "must be an object, got an array" })
    })
  )
})

describe("runMain: unknown option keys, and an exit deadline below the grace", () => {
  it("a typo (exitDeadLine) is refused by name, as are other keys", () => {
    // Before the fix: accepted silently (exit code 0).
    expect(resolve({ exitDeadLine: "5 seconds" } as never)).toEqual(
      Result.fail(
        new NodeSupervisor.InvalidRunMainOptions({ field: "exitDeadLine", reason: "is not a known option (misspelt?)" })
      )
    )
    expect(Result.isFailure(resolve({ teardown: () => {} } as never))).toBe(true)
    expect(resolve([] as never)).toEqual(
      Result.fail(
        new NodeSupervisor.InvalidRunMainOptions({ field: "options", reason: "must be an object, got an array" })
      )
    )
  })

  it("exitDeadline shorter than an explicit grace is refused; equal is accepted", () => {
    expect(resolve({ grace: "20 seconds", exitDeadline: "1 second" })).toEqual(
      Result.fail(
        new NodeSupervisor.InvalidRunMainOptions({
          field: "exitDeadline",
          reason: 'must not be shorter than grace (20000 ms): it would cut the graceful shutdown short, got "1 second"'
        })
      )
    )
    expect(resolve({ grace: "20 seconds", exitDeadline: "20 seconds" })).toEqual(
      Result.succeed({
        graceMs: 20_000,
        exitDeadlineMs: 20_000,
        disableErrorReporting: false,
        disablePrettyLogger: false
      })
    )
  })
})

describe("runMain: the grace and the deadline of a shutdown", () => {
  it.effect("without grace, the longest grace of the live roots is read when the shutdown starts", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      const config = Result.getOrThrow(resolve(undefined))
      expect(deadlineOf(config, registry)).toEqual({ graceMs: 10_000, exitDeadlineMs: 15_000, graceFrom: "default" })
      yield* Supervisor.make({ grace: "6 seconds" }).pipe(
        Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
      )
      yield* Supervisor.make({ grace: "2 seconds" }).pipe(
        Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
      )
      expect(registry.graceMs).toBe(6_000)
      const current = deadlineOf(config, registry)
      expect(current).toEqual({ graceMs: 6_000, exitDeadlineMs: 11_000, graceFrom: "supervisors" })
      expect(describeDeadline(current)).toBe("(grace 6s from the supervisors, exit deadline 11s)")
      // An exitDeadline shorter than the supervisors' grace is only known now: it is warned about.
      const short = deadlineOf(Result.getOrThrow(resolve({ exitDeadline: "3 seconds" })), registry)
      expect(describeDeadline(short)).toBe(
        "(grace 6s from the supervisors, exit deadline 3s; the exit deadline is shorter than the grace: tasks may be cut off before their grace runs out)"
      )
      const explicit = deadlineOf(Result.getOrThrow(resolve({ grace: "20 seconds" })), registry)
      expect(describeDeadline(explicit)).toBe("(grace 20s, exit deadline 25s)")
    })
  )

  it.effect("a root's grace leaves the registry once its shutdown has finished", () =>
    Effect.gen(function* () {
      const registry = SupervisorRegistry.make()
      yield* Effect.scoped(
        Supervisor.make({ grace: "6 seconds" }).pipe(
          Effect.provideService(SupervisorRegistry.SupervisorRegistry, registry)
        )
      )
      expect(registry.graceMs).toBeUndefined()
    })
  )
})
