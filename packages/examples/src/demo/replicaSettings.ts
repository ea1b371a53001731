/**
 * The lease settings of `pnpm demo --replicas N` (shared by the coordinator, which prints them,
 * and each replica, which uses them): a hand-off after a crash takes about `EXPIRY`.
 */
export const REFRESH = "500 millis"
export const EXPIRY = "2 seconds"
