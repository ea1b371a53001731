/**
 * Validation of the options the SQL stores share: table names become identifiers spliced into
 * SQL text (they cannot be bound parameters), so they are checked against a strict pattern before
 * any statement is built, and unknown option keys are refused rather than ignored.
 *
 * Invariant: every identifier that reaches a statement went through `identifier` and is quoted.
 */
import { Data, Effect } from "effect"

/**
 * A store option that cannot be used: `field` names the option, `reason` says why.
 * @since 1.0.0
 * @category errors
 */
export class InvalidStoreOptions extends Data.TaggedError("InvalidStoreOptions")<{
  readonly field: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.field}: ${this.reason}`
  }
}

/** The table holding the jobs when no `tableName` is given. */
export const defaultTableName = "fibervisor_durable_jobs"

/**
 * Lower-case letters, digits and `_`, starting with a letter or `_`; at most 40 characters, so the
 * derived names (`<table>_keys`, `<table>_inflight_key`, …) stay within Postgres's 63 bytes.
 */
const identifierPattern = /^[a-z_][a-z0-9_]{0,39}$/

/** Checks a name that will be spliced into SQL. */
export const identifier = (field: string, value: unknown): Effect.Effect<string, InvalidStoreOptions> =>
  typeof value === "string" && identifierPattern.test(value)
    ? Effect.succeed(value)
    : Effect.fail(
        new InvalidStoreOptions({
          field,
          reason: `expected 1 to 40 characters among a-z, 0-9 and "_", not starting with a digit; got ${JSON.stringify(value)}`
        })
      )

/** Refuses keys outside `known`: a misspelt option must not silently fall back to a default. */
export const knownKeys = (options: object, known: ReadonlyArray<string>): Effect.Effect<void, InvalidStoreOptions> => {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      return Effect.fail(new InvalidStoreOptions({ field: key, reason: `unknown option (known: ${known.join(", ")})` }))
    }
  }
  return Effect.void
}

/** Double-quotes a checked identifier (the pattern admits no quote, so nothing needs escaping). */
export const quote = (name: string): string => `"${name}"`
