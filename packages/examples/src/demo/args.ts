/**
 * The demo's command line: `--duration <d>`, `--port <n>`, `--dashboard-port <n>`, `--seed <n>`,
 * `--replicas <n>` (the cluster demo: n replica processes, see `replicas.ts`).
 */
import { Data, Duration, Result } from "effect"

/** What the demo runs with. */
export interface DemoArgs {
  /** How long it runs before shutting down by itself. */
  readonly duration: Duration.Duration
  /** The HTTP port on 127.0.0.1 (0: any free port). */
  readonly port: number
  /** The dashboard's port on 127.0.0.1 (0: any free port). */
  readonly dashboardPort: number
  /**
   * The seed of Effect's `Random`: the same seed gives the same sequence of draws (failures,
   * latencies, jitter). The demo runs on the real clock, which decides the order in which tasks
   * draw, so two runs with one seed start alike but can drift apart.
   */
  readonly seed: number
  /** `--replicas n`: run the cluster demo with n replica processes instead (absent: the one-process demo). */
  readonly replicas?: number
}

/** A flag of the command line cannot be used: names the flag and why. */
export class InvalidDemoArgs extends Data.TaggedError("InvalidDemoArgs")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.field}: ${this.reason}`
  }
}

const DEFAULT_DURATION = Duration.seconds(8)

const known = new Set(["--duration", "--port", "--dashboard-port", "--seed", "--replicas"])

/** `20s`, `1500ms`, `2m`, or anything `Duration.fromInput` reads (`"20 seconds"`). */
export const parseDuration = (raw: string): Result.Result<Duration.Duration, InvalidDemoArgs> => {
  const short = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(raw)
  const input = short
    ? `${short[1]} ${{ ms: "millis", s: "seconds", m: "minutes" }[short[2] as "ms" | "s" | "m"]}`
    : raw
  const decoded = Duration.fromInput(input as Duration.Input)
  return decoded._tag === "Some" && Duration.isFinite(decoded.value)
    ? Result.succeed(decoded.value)
    : Result.fail(
        new InvalidDemoArgs({
          field: "--duration",
          reason: `expected a duration such as 20s or "20 seconds", got "${raw}"`
        })
      )
}

const parseInteger = (field: string, raw: string, min: number, max: number): Result.Result<number, InvalidDemoArgs> => {
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  return Number.isSafeInteger(value) && value >= min && value <= max
    ? Result.succeed(value)
    : Result.fail(new InvalidDemoArgs({ field, reason: `expected an integer from ${min} to ${max}, got "${raw}"` }))
}

/** Reads the flags; without `--seed` the seed is drawn at random (and printed). */
export const parseArgs = (
  argv: ReadonlyArray<string>,
  randomSeed: () => number = () => Math.floor(Math.random() * 1_000_000)
): Result.Result<DemoArgs, InvalidDemoArgs> =>
  Result.gen(function* () {
    const values = new Map<string, string>()
    for (let i = 0; i < argv.length; i += 2) {
      const flag = argv[i]!
      if (!known.has(flag)) {
        return yield* Result.fail(
          new InvalidDemoArgs({
            field: flag,
            reason: "unknown flag (expected --duration, --port, --dashboard-port, --seed or --replicas)"
          })
        )
      }
      const value = argv[i + 1]
      if (value === undefined) return yield* Result.fail(new InvalidDemoArgs({ field: flag, reason: "needs a value" }))
      values.set(flag, value)
    }
    const duration = values.has("--duration") ? yield* parseDuration(values.get("--duration")!) : DEFAULT_DURATION
    const port = values.has("--port") ? yield* parseInteger("--port", values.get("--port")!, 0, 65535) : 0
    const dashboardPort = values.has("--dashboard-port")
      ? yield* parseInteger("--dashboard-port", values.get("--dashboard-port")!, 0, 65535)
      : 0
    const seed = values.has("--seed")
      ? yield* parseInteger("--seed", values.get("--seed")!, 0, Number.MAX_SAFE_INTEGER)
      : randomSeed()
    const replicas = values.has("--replicas")
      ? yield* parseInteger("--replicas", values.get("--replicas")!, 2, 9)
      : undefined
    return replicas === undefined
      ? { duration, port, dashboardPort, seed }
      : { duration, port, dashboardPort, seed, replicas }
  })
