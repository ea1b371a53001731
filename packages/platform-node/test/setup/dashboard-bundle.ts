/**
 * Vitest global setup: bundles the dashboard's front end into dist/dashboard/ once per run, from
 * the sources, so the server's `/assets/*` routes (and the browser tests) serve the current UI.
 */
import { writeDashboard } from "../../scripts/dashboard-bundle.js"

export default async function setup(): Promise<void> {
  await writeDashboard()
}
