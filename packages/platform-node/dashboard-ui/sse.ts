/**
 * Server-sent events, parsed from the text of a `fetch` stream (the page reads `/api/events` with
 * `fetch`, not `EventSource`: any event name, and its own reconnects). No DOM here.
 */

/** One message: its `id:`, `event:` (default `message`) and `data:` lines. */
export interface Message {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Splits server-sent-event text into messages; returns the unfinished rest. */
export const parseMessages = (buffer: string, onMessage: (message: Message) => void): string => {
  const text = buffer.replace(/\r\n?/g, "\n")
  let start = 0
  let end: number
  while ((end = text.indexOf("\n\n", start)) >= 0) {
    const block = text.slice(start, end)
    start = end + 2
    let id: string | undefined
    let event = "message"
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue
      const colon = line.indexOf(":")
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
      if (field === "id") id = value
      else if (field === "event") event = value
      else if (field === "data") data.push(value)
    }
    if (id !== undefined || data.length > 0 || event !== "message") onMessage({ id, event, data: data.join("\n") })
  }
  return text.slice(start)
}
