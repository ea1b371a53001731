/**
 * The envelope a job's payload is stored in: the payload encoded with its kind's JSON codec, and
 * the producer's trace context (W3C `traceparent`), as one JSON text (`JobRow.payload`).
 *
 * Data flow: `enqueue` → `encode` (schema encode, then `JSON.stringify`) → the store → a worker's
 * `decode` (`JSON.parse`, then schema decode) → the handler; `link` turns the `traceparent` back
 * into a span the run's span is linked to.
 *
 * Invariant: `decode(encode(p))` gives `p` back for every payload its schema encodes; a stored text
 * that is not an envelope, or whose payload no longer decodes (the schema changed), is a typed
 * failure with the reason, never a defect.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"

/** The stored shape. `v` lets a later version change it. */
interface Stored {
  readonly v: 1
  readonly payload: unknown
  readonly traceparent?: string
}

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * The calling fiber's span as a `traceparent`, when there is one. Read from the context rather
 * than with `Effect.currentParentSpan`, whose failure when there is no span builds an error.
 */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.map(Effect.context<never>(), (context) => {
  const span = Context.getOption(context, Tracer.ParentSpan)
  return Option.isSome(span)
    ? `00-${span.value.traceId}-${span.value.spanId}-${span.value.sampled ? "01" : "00"}`
    : undefined
})

/** A codec's parsers, built once per codec (building one costs far more than running it). */
const parsers = new WeakMap<
  Schema.Codec<unknown, unknown>,
  {
    readonly encode: (u: unknown) => Effect.Effect<unknown, Schema.SchemaError>
    readonly decode: (u: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  }
>()

const parsersOf = (codec: Schema.Codec<unknown, unknown>) => {
  let found = parsers.get(codec)
  if (found === undefined) {
    found = { encode: Schema.encodeUnknownEffect(codec), decode: Schema.decodeUnknownEffect(codec) }
    parsers.set(codec, found)
  }
  return found
}

/** Encodes a payload into the stored text; fails with the reason. */
export const encode = (
  codec: Schema.Codec<unknown, unknown>,
  payload: unknown,
  traceparent: string | undefined
): Effect.Effect<string, string> =>
  parsersOf(codec)
    .encode(payload)
    .pipe(
      Effect.mapError((e) => e.message),
      Effect.flatMap((encoded) =>
        Effect.try({
          try: () => {
            const stored: Stored =
              traceparent === undefined ? { v: 1, payload: encoded } : { v: 1, payload: encoded, traceparent }
            return JSON.stringify(stored)
          },
          catch: (e) => `its encoded form is not JSON: ${reasonOf(e)}`
        })
      )
    )

/** What a worker reads back: the decoded payload and the producer's trace context. */
export interface Decoded {
  readonly payload: unknown
  readonly traceparent: string | undefined
}

/** Reads a stored text back; fails with the reason. */
export const decode = (codec: Schema.Codec<unknown, unknown>, text: string): Effect.Effect<Decoded, string> =>
  Effect.try({
    try: () => JSON.parse(text) as unknown,
    catch: (e) => `the stored text is not JSON: ${reasonOf(e)}`
  }).pipe(
    Effect.flatMap((parsed) => {
      if (typeof parsed !== "object" || parsed === null || (parsed as Stored).v !== 1 || !("payload" in parsed)) {
        return Effect.fail("the stored text is not a fibervisor envelope (v 1)")
      }
      const stored = parsed as Stored
      return parsersOf(codec)
        .decode(stored.payload)
        .pipe(
          Effect.mapError((e) => e.message),
          Effect.map((payload) => ({
            payload,
            traceparent: typeof stored.traceparent === "string" ? stored.traceparent : undefined
          }))
        )
    })
  )

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * The producer's span, as a link target. Effect's built-in tracer uses ids of its own shape, so a
 * `traceparent` that is not W3C-shaped is still accepted when it has the four parts.
 */
export const link = (traceparent: string | undefined): Tracer.ExternalSpan | undefined => {
  if (traceparent === undefined) return undefined
  const w3c = traceparentPattern.exec(traceparent)
  if (w3c !== null) {
    return Tracer.externalSpan({ traceId: w3c[1]!, spanId: w3c[2]!, sampled: (parseInt(w3c[3]!, 16) & 1) === 1 })
  }
  const parts = traceparent.split("-")
  if (parts.length !== 4 || parts[1] === "" || parts[2] === "") return undefined
  return Tracer.externalSpan({ traceId: parts[1]!, spanId: parts[2]!, sampled: parts[3] === "01" })
}
