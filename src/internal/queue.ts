/**
 * @internal The queue counts of a resource status, tallied once for every scheduler: each
 * dialect only says, per listed job, whether it waits or runs and whether it is the user's.
 */

/** @internal Jobs waiting and running, of everyone and of the user. */
export interface QueueCounts {
  readonly queued: number
  readonly totalRun: number
  readonly userRun: number
  readonly userQueued: number
}

/** @internal One listed job, as the tally sees it. */
export interface QueueRow {
  readonly kind: "queued" | "running" | "other"
  readonly mine: boolean
}

/** @internal Counts the rows. */
export const tally = (rows: Iterable<QueueRow>): QueueCounts => {
  let queued = 0
  let totalRun = 0
  let userRun = 0
  let userQueued = 0
  for (const r of rows) {
    if (r.kind === "queued") {
      queued++
      if (r.mine) userQueued++
    } else if (r.kind === "running") {
      totalRun++
      if (r.mine) userRun++
    }
  }
  return { queued, totalRun, userRun, userQueued }
}
