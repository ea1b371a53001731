import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Fiber, Pull, Random, Result, Schedule, Stream } from "effect"
import { Backoff, Supervisor, SupervisorEvent, Task, TaskError, type TaskId } from "@fibervisor/core"
import { TestTime } from "./helpers/tasks.js"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const failureAt = (n: number): Backoff.TaskFailure => ({
  task: "t",
  id: 1 as TaskId.TaskId,
  attempt: n + 1,
  streak: n + 1,
  reason: "boom",
  timedOut: false,
  cause: Cause.fail("boom")
})

const failures = (n: number): ReadonlyArray<Backoff.TaskFailure> => Array.from({ length: n }, (_, i) => failureAt(i))

/**
 * Steps `schedule` once per input, each step at the instant the previous delay ends (as Effect 3's
 * `Schedule.run(0, inputs)` did), and returns each step's output and delay in ms. The backoffs built
 * here never end; a schedule that does ends the list early.
 */
const stepsOf = (
  schedule: Backoff.Backoff,
  n: number
): Effect.Effect<ReadonlyArray<{ readonly output: unknown; readonly delayMs: number }>> =>
  Effect.gen(function* () {
    const step = yield* Schedule.toStep(schedule)
    const steps: Array<{ readonly output: unknown; readonly delayMs: number }> = []
    let now = 0
    for (const input of failures(n)) {
      const next = yield* step(now, input).pipe(
        Effect.map(([output, delay]) => ({ output, delayMs: Duration.toMillis(delay) })),
        Pull.catchDone(() => Effect.succeed(undefined))
      )
      if (next === undefined) break
      steps.push(next)
      now += next.delayMs
    }
    return steps
  })

/** The delays in ms of `stepsOf`. */
const delaysOf = (schedule: Backoff.Backoff, n: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.map(stepsOf(schedule, n), (steps) => steps.map((step) => step.delayMs))

/** The same, under a `Random` seeded with `seed`. */
const seededDelays = (schedule: Backoff.Backoff, n: number, seed: Seed) =>
  delaysOf(schedule, n).pipe(Random.withSeed(seed))

/** The outputs of the schedule itself (they are the delays too). */
const outputsOf = (schedule: Backoff.Backoff, n: number, seed: Seed) =>
  stepsOf(schedule, n).pipe(
    Effect.map((steps) =>
      steps.map((step) => Duration.toMillis(Duration.fromInputUnsafe(step.output as Duration.Input)))
    ),
    Random.withSeed(seed)
  )

/** The first `n` numbers a generator seeded with `seed` produces. */
const draws = (seed: Seed, n: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.replicateEffect(Random.next, n).pipe(Random.withSeed(seed))

/**
 * A `Random` whose `next` returns `values` in turn, cyclically (Effect 3's `Effect.withRandomFixed`,
 * which Effect 4 does not have).
 */
const withRandomFixed =
  (values: ReadonlyArray<number>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let i = 0
      const nextDoubleUnsafe = () => values[i++ % values.length]!
      return Effect.provideService(self, Random.Random, {
        nextDoubleUnsafe,
        nextIntUnsafe: () => Math.floor(nextDoubleUnsafe() * Number.MAX_SAFE_INTEGER)
      })
    })

interface Spec {
  readonly first: number
  readonly factor: number
  readonly max: number
  readonly floor: number
  readonly jitter: Backoff.Jitter
}

/** The base delay of retry `n`, per the JSDoc: min(first·factor^n, max). */
const baseOf = (s: Spec, n: number) => Math.min(s.first * Math.pow(s.factor, n), s.max)

/** The delay of retry `n` for the uniform number `r`, written from the JSDoc of `Backoff.exponential`. */
const expected = (s: Spec, n: number, r: number): number => {
  const d = baseOf(s, n)
  let jittered: number
  switch (s.jitter) {
    case "none":
      jittered = d
      break
    case "full":
      jittered = r * d
      break
    case "equal":
      jittered = d / 2 + (r * d) / 2
      break
    case "band": {
      const upper = Math.min(3 * d, s.max)
      jittered = s.first + r * (upper - s.first)
      break
    }
  }
  let ms = Math.max(Math.floor(jittered), s.floor)
  if (d > 0) ms = Math.max(ms, Math.min(1, s.max))
  return ms
}

/** The documented range of a jittered delay (before `floor` and the 1 ms minimum). */
const rangeOf = (s: Spec, n: number): readonly [number, number] => {
  const d = baseOf(s, n)
  switch (s.jitter) {
    case "none":
      return [Math.floor(d), d]
    case "full":
      return [0, d]
    case "equal":
      return [Math.floor(d / 2), d]
    case "band":
      return [s.first, Math.min(3 * d, s.max)]
  }
}

const jitters: ReadonlyArray<Backoff.Jitter> = ["none", "full", "equal", "band"]
type Seed = string | number
const seeds: ReadonlyArray<Seed> = [1, 42, 1234567, "fibervisor", -7]

const failureOf = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error("expected a Failure, got a Success")
  return result.failure
}

// ---------------------------------------------------------------------------------------------
// exponential
// ---------------------------------------------------------------------------------------------

describe("Backoff.exponential", () => {
  const spec = (jitter: Backoff.Jitter): Spec => ({ first: 100, factor: 2, max: 10_000, floor: 0, jitter })
  const make = (jitter: Backoff.Jitter) =>
    Backoff.exponential({ first: "100 millis", factor: 2, max: "10 seconds", jitter })
  const steps = 12

  for (const jitter of jitters) {
    it.effect(`jitter "${jitter}": each delay is in range and equals the formula for the seeded draws`, () =>
      Effect.gen(function* () {
        for (const seed of seeds) {
          const delays = yield* seededDelays(make(jitter), steps, seed)
          const randoms = yield* draws(seed, steps)
          expect(delays).toHaveLength(steps)
          delays.forEach((delay, n) => {
            const [lo, hi] = rangeOf(spec(jitter), n)
            expect(delay).toBeGreaterThanOrEqual(lo)
            expect(delay).toBeLessThanOrEqual(hi)
            expect(Number.isInteger(delay)).toBe(true)
            expect(delay).toBe(expected(spec(jitter), n, jitter === "none" ? 0 : randoms[n]!))
          })
          // The schedule's output is the delay as well.
          expect(yield* outputsOf(make(jitter), steps, seed)).toEqual(delays)
        }
      })
    )
  }

  it.effect('jitter "none" is exact: first·factor^n, capped at max', () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf(Backoff.exponential({ first: "100 millis", max: "1 second" }), 7)
      expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000])
    })
  )

  it.effect('jitter "none" draws nothing from Random', () =>
    Effect.gen(function* () {
      const [, next] = yield* Effect.all([delaysOf(Backoff.exponential({ first: "100 millis" }), 5), Random.next]).pipe(
        Random.withSeed(9)
      )
      const [firstDraw] = yield* draws(9, 1)
      expect(next).toBe(firstDraw)
    })
  )

  it.effect("a jittered backoff draws exactly one number per step", () =>
    Effect.gen(function* () {
      const [, next] = yield* Effect.all([
        delaysOf(Backoff.exponential({ first: "100 millis", jitter: "full" }), 5),
        Random.next
      ]).pipe(Random.withSeed(9))
      const sixDraws = yield* draws(9, 6)
      expect(next).toBe(sixDraws[5])
    })
  )

  it.effect("the range ends are reached for the extreme random numbers", () =>
    Effect.gen(function* () {
      const run = (jitter: Backoff.Jitter, r: number) =>
        delaysOf(Backoff.exponential({ first: "100 millis", max: "1 second", jitter }), 6).pipe(withRandomFixed([r]))
      // bases: 100, 200, 400, 800, 1000, 1000
      expect(yield* run("full", 0)).toEqual([1, 1, 1, 1, 1, 1])
      expect(yield* run("full", 0.999999999)).toEqual([99, 199, 399, 799, 999, 999])
      expect(yield* run("equal", 0)).toEqual([50, 100, 200, 400, 500, 500])
      expect(yield* run("equal", 0.999999999)).toEqual([99, 199, 399, 799, 999, 999])
      expect(yield* run("band", 0)).toEqual([100, 100, 100, 100, 100, 100])
      // upper: min(3d, max) = 300, 600, 1000, 1000, 1000, 1000
      expect(yield* run("band", 0.999999999)).toEqual([299, 599, 999, 999, 999, 999])
      expect(yield* run("band", 0.5)).toEqual([200, 350, 550, 550, 550, 550])
    })
  )

  it.effect("caps at max however many retries (also with jitter)", () =>
    Effect.gen(function* () {
      const none = yield* delaysOf(Backoff.exponential({ first: "1 second", max: "5 seconds" }), 60)
      expect(none.slice(0, 4)).toEqual([1000, 2000, 4000, 5000])
      expect(none.slice(3).every((d) => d === 5000)).toBe(true)
      for (const jitter of ["full", "equal", "band"] as const) {
        const delays = yield* seededDelays(
          Backoff.exponential({ first: "1 second", max: "5 seconds", jitter }),
          1100,
          3
        )
        expect(Math.max(...delays)).toBeLessThanOrEqual(5000)
        expect(delays.every(Number.isFinite)).toBe(true)
      }
    })
  )

  it.effect("factor 1 is a constant delay", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.exponential({ first: "300 millis", factor: 1 }), 5)).toEqual([
        300, 300, 300, 300, 300
      ])
      const s: Spec = { first: 300, factor: 1, max: 30_000, floor: 0, jitter: "equal" }
      const delays = yield* seededDelays(Backoff.exponential({ first: "300 millis", factor: 1, jitter: "equal" }), 8, 5)
      const randoms = yield* draws(5, 8)
      delays.forEach((delay, n) => {
        expect(delay).toBe(expected(s, n, randoms[n]!))
        expect(delay).toBeGreaterThanOrEqual(150)
        expect(delay).toBeLessThanOrEqual(300)
      })
    })
  )

  it.effect("a fractional factor gives whole milliseconds (Math.floor)", () =>
    Effect.gen(function* () {
      // 100, 150, 225, 337.5, 506.25, 759.375
      expect(yield* delaysOf(Backoff.exponential({ first: "100 millis", factor: 1.5 }), 6)).toEqual([
        100, 150, 225, 337, 506, 759
      ])
    })
  )

  it.effect("floor is a lower bound applied after jitter", () =>
    Effect.gen(function* () {
      const s: Spec = { first: 100, factor: 2, max: 2000, floor: 150, jitter: "full" }
      for (const seed of seeds) {
        const delays = yield* seededDelays(
          Backoff.exponential({ first: "100 millis", max: "2 seconds", floor: "150 millis", jitter: "full" }),
          10,
          seed
        )
        const randoms = yield* draws(seed, 10)
        delays.forEach((delay, n) => {
          expect(delay).toBeGreaterThanOrEqual(150)
          expect(delay).toBeLessThanOrEqual(Math.max(150, baseOf(s, n)))
          expect(delay).toBe(expected(s, n, randoms[n]!))
        })
      }
      // r = 0 pins every delay to the floor
      expect(
        yield* delaysOf(
          Backoff.exponential({ first: "100 millis", max: "2 seconds", floor: "150 millis", jitter: "full" }),
          3
        ).pipe(withRandomFixed([0]))
      ).toEqual([150, 150, 150])
      // floor above the base (jitter none)
      expect(yield* delaysOf(Backoff.exponential({ first: "10 millis", floor: "35 millis" }), 4)).toEqual([
        35, 35, 40, 80
      ])
      // floor equal to max is allowed
      expect(
        yield* delaysOf(Backoff.exponential({ first: "10 millis", max: "50 millis", floor: "50 millis" }), 3)
      ).toEqual([50, 50, 50])
    })
  )

  it.effect("delays stay whole milliseconds with a fractional floor", () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf(
        Backoff.exponential({ first: "1 millis", max: "1 second", floor: "1.5 millis", jitter: "full" }),
        3
      ).pipe(withRandomFixed([0]))
      for (const delay of delays) {
        expect(delay).toBeGreaterThanOrEqual(1.5)
        expect(Number.isInteger(delay), `delay ${delay} ms is not a whole number of milliseconds`).toBe(true)
      }
    })
  )

  it.effect("a non-zero base gives at least 1 ms; a zero base gives 0", () =>
    Effect.gen(function* () {
      expect(
        yield* delaysOf(Backoff.exponential({ first: "1 millis", factor: 1, jitter: "full" }), 3).pipe(
          withRandomFixed([0, 0.3, 0.9])
        )
      ).toEqual([1, 1, 1])
      expect(yield* delaysOf(Backoff.exponential({ first: "100 micros" }), 2)).toEqual([1, 1])
      expect(yield* delaysOf(Backoff.exponential({ first: 0 }), 3)).toEqual([0, 0, 0])
      expect(
        yield* delaysOf(Backoff.exponential({ first: "0 millis", jitter: "band" }), 3).pipe(withRandomFixed([0.7]))
      ).toEqual([0, 0, 0])
    })
  )

  it.effect("default max is max(first, 30 seconds)", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.exponential({ first: "1 second" }), 8)).toEqual([
        1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000
      ])
      expect(yield* delaysOf(Backoff.exponential({ first: "1 minute" }), 3)).toEqual([60_000, 60_000, 60_000])
      // band's upper bound is min(3d, max) with that default max
      const band = yield* delaysOf(Backoff.exponential({ first: "1 minute", jitter: "band" }), 3).pipe(
        withRandomFixed([0.999999])
      )
      // first = max = 60 s, so the band is the single point 60 s
      expect(band).toEqual([60_000, 60_000, 60_000])
    })
  )

  it.effect("defaults: factor 2, jitter none, floor 0", () =>
    Effect.gen(function* () {
      const a = yield* seededDelays(Backoff.exponential({ first: "50 millis" }), 6, 1)
      const b = yield* seededDelays(Backoff.exponential({ first: "50 millis" }), 6, 2)
      expect(a).toEqual([50, 100, 200, 400, 800, 1600])
      expect(b).toEqual(a)
    })
  )

  it.effect("accepts every DurationInput form", () =>
    Effect.gen(function* () {
      const forms: ReadonlyArray<Duration.Input> = [
        100,
        "100 millis",
        Duration.millis(100),
        BigInt(100_000_000),
        [0, 100_000_000],
        "0.1 seconds"
      ]
      for (const first of forms) {
        expect(Result.isSuccess(Backoff.validate(Backoff.exponential({ first })))).toBe(true)
        expect(yield* delaysOf(Backoff.exponential({ first, max: "1 second" }), 3)).toEqual([100, 200, 400])
      }
    })
  )

  it.effect("each run starts from the first delay (the schedule keeps no hidden state)", () =>
    Effect.gen(function* () {
      const backoff = Backoff.exponential({ first: "100 millis" })
      expect(yield* delaysOf(backoff, 3)).toEqual([100, 200, 400])
      expect(yield* delaysOf(backoff, 3)).toEqual([100, 200, 400])
    })
  )

  it.effect("never ends (the task gives up only through maxRetries)", () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf(Backoff.exponential({ first: "1 millis", max: "10 millis" }), 500)
      expect(delays).toHaveLength(500)
    })
  )
})

// ---------------------------------------------------------------------------------------------
// reproducibility
// ---------------------------------------------------------------------------------------------

describe("Backoff reproducibility", () => {
  for (const jitter of ["full", "equal", "band"] as const) {
    it.effect(`jitter "${jitter}": the same seed gives the same delays, different seeds differ`, () =>
      Effect.gen(function* () {
        const backoff = Backoff.exponential({ first: "100 millis", max: "1 minute", jitter })
        const a = yield* seededDelays(backoff, 20, 2024)
        const b = yield* seededDelays(backoff, 20, 2024)
        const c = yield* seededDelays(backoff, 20, 2025)
        expect(b).toEqual(a)
        expect(c).not.toEqual(a)
        // A fresh instance with the same options and seed agrees too.
        expect(
          yield* seededDelays(Backoff.exponential({ first: "100 millis", max: "1 minute", jitter }), 20, 2024)
        ).toEqual(a)
      })
    )
  }

  it.effect("the defaultBackoff under a seeded Random is reproducible", () =>
    Effect.gen(function* () {
      const a = yield* seededDelays(Backoff.defaultBackoff, 15, "seed")
      const b = yield* seededDelays(Backoff.defaultBackoff, 15, "seed")
      const c = yield* seededDelays(Backoff.defaultBackoff, 15, "other seed")
      expect(b).toEqual(a)
      expect(c).not.toEqual(a)
    })
  )

  it.effect("the supervisor's BackoffScheduled delays follow the caller's seeded Random", () =>
    Effect.gen(function* () {
      const s: Spec = { first: 100, factor: 2, max: 1000, floor: 0, jitter: "full" }
      const sup = yield* Supervisor.make()
      const events = yield* sup.subscribe
      const collect = yield* events.pipe(
        Stream.filter(SupervisorEvent.is("BackoffScheduled")),
        Stream.take(5),
        Stream.runCollect,
        Effect.forkChild
      )
      const handle = yield* sup
        .add(
          Task.make("flaky", Effect.fail(TaskError.fail("nope")), {
            backoff: Backoff.exponential({ first: "100 millis", max: "1 second", jitter: "full" }),
            maxRetries: 5
          })
        )
        .pipe(Random.withSeed(77))
      const outcome = yield* Effect.forkChild(handle.await)
      yield* TestTime.adjust("1 minute")
      expect((yield* Fiber.join(outcome))._tag).toBe("Failed")
      const delays = (yield* Fiber.join(collect)).map((e) => e.delayMs)
      const randoms = yield* draws(77, 5)
      expect(delays).toEqual(randoms.map((r, n) => expected(s, n, r)))
    })
  )
})

// ---------------------------------------------------------------------------------------------
// constant, none, defaultBackoff
// ---------------------------------------------------------------------------------------------

describe("Backoff.constant / none / defaultBackoff", () => {
  it.effect("constant: the same delay forever", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.constant("250 millis"), 6)).toEqual([250, 250, 250, 250, 250, 250])
      expect(yield* delaysOf(Backoff.constant(Duration.seconds(2)), 3)).toEqual([2000, 2000, 2000])
      expect(yield* delaysOf(Backoff.constant(75), 2)).toEqual([75, 75])
      expect(yield* delaysOf(Backoff.constant([1, 0]), 2)).toEqual([1000, 1000])
      expect(yield* delaysOf(Backoff.constant(BigInt(5_000_000)), 2)).toEqual([5, 5])
    })
  )

  it.effect("constant ignores Random", () =>
    Effect.gen(function* () {
      const a = yield* seededDelays(Backoff.constant("1 second"), 4, 1)
      const b = yield* seededDelays(Backoff.constant("1 second"), 4, 2)
      expect(a).toEqual([1000, 1000, 1000, 1000])
      expect(b).toEqual(a)
    })
  )

  it.effect("none: zero delay forever", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.none, 5)).toEqual([0, 0, 0, 0, 0])
      expect(Result.isSuccess(Backoff.validate(Backoff.none))).toBe(true)
    })
  )

  it.effect("defaultBackoff: 200 ms, ×2, 30 s cap, equal jitter", () =>
    Effect.gen(function* () {
      const s: Spec = { first: 200, factor: 2, max: 30_000, floor: 0, jitter: "equal" }
      for (const seed of seeds) {
        const delays = yield* seededDelays(Backoff.defaultBackoff, 14, seed)
        const randoms = yield* draws(seed, 14)
        delays.forEach((delay, n) => {
          const d = baseOf(s, n)
          expect(delay).toBeGreaterThanOrEqual(d / 2)
          expect(delay).toBeLessThanOrEqual(d)
          expect(delay).toBe(expected(s, n, randoms[n]!))
        })
        // from retry 8 on the base is capped: 200·2^8 = 51 200 > 30 000
        expect(delays.slice(8).every((d) => d >= 15_000 && d <= 30_000)).toBe(true)
      }
      // the extremes pin it down completely
      expect(yield* delaysOf(Backoff.defaultBackoff, 9).pipe(withRandomFixed([0]))).toEqual([
        100, 200, 400, 800, 1600, 3200, 6400, 12_800, 15_000
      ])
      expect(yield* delaysOf(Backoff.defaultBackoff, 9).pipe(withRandomFixed([0.9999999]))).toEqual([
        199, 399, 799, 1599, 3199, 6399, 12_799, 25_599, 29_999
      ])
    })
  )

  it("every built backoff is a Schedule and passes validate", () => {
    for (const b of [
      Backoff.defaultBackoff,
      Backoff.none,
      Backoff.constant("1 second"),
      Backoff.exponential({ first: "1 second" })
    ]) {
      expect(Schedule.isSchedule(b)).toBe(true)
      expect(Backoff.validate(b)).toEqual(Result.succeed(b))
    }
  })
})

// ---------------------------------------------------------------------------------------------
// validate
// ---------------------------------------------------------------------------------------------

describe("Backoff.validate", () => {
  it("accepts any Schedule (it is returned unchanged)", () => {
    const spaced = Schedule.spaced("1 second")
    const composed = Schedule.max([Schedule.exponential("10 millis"), Schedule.recurs(3)])
    expect(Backoff.validate(spaced)).toEqual(Result.succeed(spaced))
    expect(Backoff.validate(composed)).toEqual(Result.succeed(composed))
  })

  const cases: ReadonlyArray<{
    readonly title: string
    readonly build: () => unknown
    readonly field: string
    readonly mentions?: ReadonlyArray<string>
  }> = [
    {
      title: "factor < 1",
      build: () => Backoff.exponential({ first: "1 second", factor: 0.5 }),
      field: "backoff.factor",
      mentions: ["0.5"]
    },
    { title: "factor 0", build: () => Backoff.exponential({ first: "1 second", factor: 0 }), field: "backoff.factor" },
    {
      title: "negative factor",
      build: () => Backoff.exponential({ first: "1 second", factor: -2 }),
      field: "backoff.factor"
    },
    {
      title: "factor NaN",
      build: () => Backoff.exponential({ first: "1 second", factor: NaN }),
      field: "backoff.factor",
      mentions: ["NaN"]
    },
    {
      title: "factor Infinity",
      build: () => Backoff.exponential({ first: "1 second", factor: Infinity }),
      field: "backoff.factor",
      mentions: ["Infinity"]
    },
    {
      title: "factor -Infinity",
      build: () => Backoff.exponential({ first: "1 second", factor: -Infinity }),
      field: "backoff.factor"
    },
    {
      title: "factor as a string",
      build: () => Backoff.exponential({ first: "1 second", factor: "2" as any }),
      field: "backoff.factor",
      mentions: ['"2"']
    },
    {
      title: "first > max",
      build: () => Backoff.exponential({ first: "2 seconds", max: "1 second" }),
      field: "backoff.first",
      mentions: ["max"]
    },
    {
      title: "floor > max",
      build: () => Backoff.exponential({ first: "1 second", max: "2 seconds", floor: "3 seconds" }),
      field: "backoff.floor",
      mentions: ["max"]
    },
    {
      title: "floor > default max",
      build: () => Backoff.exponential({ first: "1 second", floor: "1 minute" }),
      field: "backoff.floor"
    },
    {
      title: "negative first",
      build: () => Backoff.exponential({ first: -1 }),
      field: "backoff.first",
      mentions: ["negative"]
    },
    {
      title: "negative first (string)",
      build: () => Backoff.exponential({ first: "-5 millis" }),
      field: "backoff.first",
      mentions: ["negative"]
    },
    { title: "NaN first", build: () => Backoff.exponential({ first: NaN }), field: "backoff.first", mentions: ["NaN"] },
    {
      title: "Infinity first",
      build: () => Backoff.exponential({ first: Infinity }),
      field: "backoff.first",
      mentions: ["finite"]
    },
    {
      title: "infinite Duration first",
      build: () => Backoff.exponential({ first: Duration.infinity }),
      field: "backoff.first",
      mentions: ["finite"]
    },
    {
      title: "garbage first",
      build: () => Backoff.exponential({ first: "ten seconds" as any }),
      field: "backoff.first",
      mentions: ["ten seconds"]
    },
    { title: "missing first", build: () => Backoff.exponential({} as any), field: "backoff.first" },
    {
      title: "first as an object",
      build: () => Backoff.exponential({ first: { ms: 5 } as any }),
      field: "backoff.first"
    },
    {
      title: "negative max",
      build: () => Backoff.exponential({ first: 0, max: -1 }),
      field: "backoff.max",
      mentions: ["negative"]
    },
    { title: "NaN max", build: () => Backoff.exponential({ first: 0, max: NaN }), field: "backoff.max" },
    {
      title: "Infinity max",
      build: () => Backoff.exponential({ first: "1 second", max: Infinity }),
      field: "backoff.max"
    },
    {
      title: "infinite Duration max",
      build: () => Backoff.exponential({ first: "1 second", max: Duration.infinity }),
      field: "backoff.max"
    },
    {
      title: "garbage max",
      build: () => Backoff.exponential({ first: "1 second", max: "forever" as any }),
      field: "backoff.max",
      mentions: ["forever"]
    },
    {
      title: "negative floor",
      build: () => Backoff.exponential({ first: "1 second", floor: -3 }),
      field: "backoff.floor"
    },
    { title: "NaN floor", build: () => Backoff.exponential({ first: "1 second", floor: NaN }), field: "backoff.floor" },
    {
      title: "Infinity floor",
      build: () => Backoff.exponential({ first: "1 second", floor: Infinity }),
      field: "backoff.floor"
    },
    {
      title: "garbage floor",
      build: () => Backoff.exponential({ first: "1 second", floor: "a bit" as any }),
      field: "backoff.floor"
    },
    { title: "negative tuple", build: () => Backoff.exponential({ first: [-1, 0] }), field: "backoff.first" },
    { title: "negative bigint", build: () => Backoff.exponential({ first: BigInt(-1) }), field: "backoff.first" },
    {
      title: "unknown jitter",
      build: () => Backoff.exponential({ first: "1 second", jitter: "gaussian" as any }),
      field: "backoff.jitter",
      mentions: ["gaussian"]
    },
    { title: "options not an object", build: () => Backoff.exponential(null as any), field: "backoff" },
    { title: "negative constant", build: () => Backoff.constant(-1), field: "backoff.delay", mentions: ["negative"] },
    { title: "NaN constant", build: () => Backoff.constant(NaN), field: "backoff.delay" },
    { title: "Infinity constant", build: () => Backoff.constant(Infinity), field: "backoff.delay" },
    {
      title: "garbage constant",
      build: () => Backoff.constant("ten seconds" as any),
      field: "backoff.delay",
      mentions: ["ten seconds"]
    },
    { title: "a number", build: () => 42, field: "backoff", mentions: ["Schedule"] },
    { title: "a string", build: () => "exponential", field: "backoff", mentions: ["Schedule"] },
    { title: "a plain object", build: () => ({ initial: 0, step: () => Effect.void }), field: "backoff" },
    { title: "null", build: () => null, field: "backoff" },
    { title: "undefined", build: () => undefined, field: "backoff" },
    { title: "an Effect", build: () => Effect.void, field: "backoff" }
  ]

  for (const c of cases) {
    it(`${c.title} → Failure naming "${c.field}"`, () => {
      let built: unknown
      expect(() => {
        built = c.build()
      }).not.toThrow()
      let result: ReturnType<typeof Backoff.validate> | undefined
      expect(() => {
        result = Backoff.validate(built)
      }).not.toThrow()
      const problem = failureOf(result!)
      expect(problem.field).toBe(c.field)
      expect(typeof problem.reason).toBe("string")
      expect(problem.reason.length).toBeGreaterThan(5)
      // readable: one line, and no "undefined undefined"-style rendering of the bad value
      expect(problem.reason).not.toContain("\n")
      expect(problem.reason).not.toContain("undefined undefined")
      for (const word of c.mentions ?? []) expect(problem.reason).toContain(word)
    })
  }

  it.effect("an invalid backoff stepped anyway dies with the field (it does not throw)", () =>
    Effect.gen(function* () {
      const bad = Backoff.exponential({ first: "1 second", factor: 0.5 })
      const exit = yield* Effect.exit(delaysOf(bad, 1))
      expect(exit._tag).toBe("Failure")
      if (exit._tag === "Failure") {
        expect(Cause.hasDies(exit.cause)).toBe(true)
        expect(Cause.pretty(exit.cause)).toContain("backoff.factor")
      }
    })
  )
})
