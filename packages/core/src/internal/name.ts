/**
 * The rule for names that reach log lines, metric labels and paths as they are (task names, a root
 * supervisor's name): no control character (one would forge or break a log line), no leading or
 * trailing whitespace (invisible in a log). Owns nothing else.
 *
 * @internal
 */
import { describe } from "./duration.js"

/** A C0 or C1 control character, or DEL. */
const isControl = (code: number): boolean => code < 0x20 || (code >= 0x7f && code <= 0x9f)

const hasControlCharacter = (name: string): boolean => {
  for (let i = 0; i < name.length; i++) if (isControl(name.charCodeAt(i))) return true
  return false
}

const shortEscapes: Readonly<Record<number, string>> = { 9: "\\t", 10: "\\n", 13: "\\r" }

/** `name` with its control characters written as escapes (`\n`, `\u0085`), for a one-line reason. */
const escapeControlCharacters = (name: string): string => {
  let escaped = ""
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i)
    escaped += !isControl(code) ? name[i] : (shortEscapes[code] ?? `\\u${code.toString(16).padStart(4, "0")}`)
  }
  return escaped
}

/** Why `name` cannot be printed as is, or `undefined` when it can. */
export const printableNameProblem = (name: string): string | undefined => {
  if (hasControlCharacter(name)) return `must not contain control characters, got "${escapeControlCharacters(name)}"`
  if (name.trim() !== name) return `must not start or end with whitespace, got ${describe(name)}`
  return undefined
}
