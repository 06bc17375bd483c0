/**
 * Grid Engine's `qstat` listing: the state codes, each job's state (array tasks folded), each
 * array task's state (ranges of waiting tasks expanded), and the queue counts.
 *
 * @since 0.1.0
 * @module
 */
import { type QueueRow, tally } from "../../../src/internal/queue.ts"
import type { RunState } from "../../../src/RunState.ts"
import { elementId, expandTaskIds, isPlainJobId } from "./ids.ts"

/**
 * Maps a Grid Engine state code to a run state:
 * - `E` (error: `Eqw`, cleared by `qmod -cj`) and `h` (hold), `s`/`S`/`T` (suspended by the user,
 *   with the queue, at a load threshold) need someone to act: `STOPPED`;
 * - `z` (zombie: finished) is `TERMINATING`;
 * - `r`, `t` (running, being transferred to the node), with `R` (restarted: `Rr`) or `d` (being
 *   deleted: `dr`, `dRr`) too, are `RUNNING`;
 * - `qw`, and `Rq` (rescheduled: requeued after a node failure or `qmod -rj`, waiting to run
 *   again) are `SUBMITTED`.
 *
 * GC3Pie reads `Eqw` as SUBMITTED (the job would wait forever for a change that never comes) and
 * `Rq` as RUNNING.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (code: string): RunState => {
  if (code === "") return "UNKNOWN"
  if (code.includes("E") || /[hsST]/.test(code)) return "STOPPED"
  if (code.includes("z")) return "TERMINATING"
  if (/[rt]/.test(code)) return "RUNNING"
  if (/[qw]/.test(code)) return "SUBMITTED"
  if (code.includes("d")) return "RUNNING"
  return "UNKNOWN"
}

const reasons: ReadonlyArray<readonly [string, string]> = [
  ["E", "error: `qstat -j` tells why, `qmod -cj` clears it"],
  ["h", "held"],
  ["s", "suspended"],
  ["S", "its queue is suspended"],
  ["T", "suspended at a load threshold"],
  ["R", "rescheduled"],
  ["d", "being deleted"],
]

/**
 * What a state code says beside the run state (`Rq`: `rescheduled`; `Eqw`: `error: ...`), or
 * `undefined` when it says nothing more (`r`, `qw`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const stateReason = (code: string): string | undefined => {
  const said = reasons.filter(([c]) => code.includes(c)).map(([, text]) => text)
  return said.length === 0 ? undefined : said.join(", ")
}

/**
 * What `qstat` says about one job (or one array task).
 *
 * @since 0.1.0
 * @category models
 */
export interface QstatRecord {
  /** The run state. */
  readonly state: RunState
  /** Grid Engine's state code (`qw`, `r`, `Eqw`, `Rq`). */
  readonly native: string
  /** The job's owner. */
  readonly user: string
  /** Slots the job uses or asks for. */
  readonly slots: number
}

interface QstatLine {
  readonly id: string
  readonly record: QstatRecord
  /** The ja-task-ID field (`1`, `3-6:1`, `1,4`), empty for a job that is not an array. */
  readonly tasks: string
}

/** One line of the default listing (id prior name user state date time [queue] slots [tasks]). */
const qstatLine = (raw: string): QstatLine | undefined => {
  const f = raw.trim().split(/\s+/)
  if (f.length < 8 || !isPlainJobId(f[0]!) || !/^\d+(\.\d+)?$/.test(f[1]!)) return undefined
  if (!/^\d{2}\/\d{2}\/\d{4}$/.test(f[5]!)) return undefined
  const queued = f[7]!.includes("@")
  const slotsText = queued ? f[8] ?? "" : f[7]!
  const native = f[4]!
  return {
    id: f[0]!,
    record: {
      state: mapState(native),
      native,
      user: f[3]!,
      slots: /^\d{1,9}$/.test(slotsText) ? Number(slotsText) : 1,
    },
    tasks: (queued ? f[9] : f[8]) ?? "",
  }
}

const qstatLines = (stdout: string): ReadonlyArray<QstatLine> =>
  stdout.split(/\r?\n/).flatMap((raw) => {
    const line = qstatLine(raw)
    return line === undefined ? [] : [line]
  })

/**
 * Parses `qstat`'s default listing: a map from job id to its state (an array job's tasks are
 * folded into one entry, a running one winning). Header, separator and other lines are skipped;
 * ids are matched exactly (GC3Pie's `egrep '^ *12'` also matched job 123).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQstat = (stdout: string): ReadonlyMap<string, QstatRecord> => {
  const out = new Map<string, QstatRecord>()
  for (const { id, record } of qstatLines(stdout)) {
    const prev = out.get(id)
    if (prev === undefined || (prev.state !== "RUNNING" && record.state === "RUNNING")) {
      out.set(id, record)
    }
  }
  return out
}

/**
 * Parses `qstat`'s default listing into one entry per array task, keyed `<job>.<task>`: a running
 * task has a line of its own, waiting tasks share one whose ja-task-ID is a range (`3-6:1`) or a
 * list (`1,4`), expanded here (so `qstat -g d`, one line per task, is not needed). Jobs that are
 * not arrays are left out (see {@linkcode parseQstat}).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQstatTasks = (stdout: string): ReadonlyMap<string, QstatRecord> => {
  const out = new Map<string, QstatRecord>()
  for (const { id, record, tasks } of qstatLines(stdout)) {
    for (const task of expandTaskIds(tasks) ?? []) out.set(elementId(id, task), record)
  }
  return out
}

/**
 * Queue counts from `qstat -u '*'`: waiting (`qw`, not held or in error) and running jobs, of
 * everyone and of `user`; each task of an array counts as a job.
 *
 * @since 0.1.0
 * @category parsing
 */
export const countJobs = (
  stdout: string,
  user: string,
): { queued: number; totalRun: number; userRun: number; userQueued: number } =>
  tally(countedRows(stdout, user))

function* countedRows(stdout: string, user: string): Generator<QueueRow> {
  for (const { record: r, tasks } of qstatLines(stdout)) {
    const row: QueueRow = {
      kind: r.state === "SUBMITTED" ? "queued" : r.state === "RUNNING" ? "running" : "other",
      mine: r.user === user,
    }
    const n = expandTaskIds(tasks)?.length ?? 1
    for (let i = 0; i < n; i++) yield row
  }
}
