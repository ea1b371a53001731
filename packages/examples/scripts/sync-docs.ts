/** Copies each example of `src/docs/` into the Markdown blocks that quote it (`pnpm docs:sync`). */
import * as path from "node:path"
import { pages, sync } from "./docs-blocks.js"

for (const page of pages()) {
  if (sync(page)) console.log(`updated ${path.basename(page)}`)
}
