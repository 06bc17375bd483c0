/**
 * @internal SLURM's job ids (which may be put on a command line, which the tools print) and job
 * states.
 *
 * @module
 */
import type { RunState } from "../../../src/RunState.ts"
import { uniqueIds } from "../../batch/internal/dialect.ts"

// =============================================================================
// Job ids
// =============================================================================

const jobIdRe = /^[0-9_.+a-zA-Z]+$/

/**
 * Tells whether a job id may be put on a command line: letters, digits, `_`, `.` and `+` only
 * (`123`, `123_4`, `123+0`, `123.batch`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidJobId = (id: string): boolean => jobIdRe.test(id)

/** @internal The ids joined by commas, deduplicated, or `undefined` if empty or any id is refused. */
export const joinIds = (ids: ReadonlyArray<string>): string | undefined =>
  uniqueIds(ids, isValidJobId)?.join(",")

/** @internal The argv `build` makes of the ids joined by commas ({@linkcode joinIds}), or `undefined`. */
export const withJobList = (
  ids: ReadonlyArray<string>,
  build: (list: string) => ReadonlyArray<string>,
): ReadonlyArray<string> | undefined => {
  const list = joinIds(ids)
  return list === undefined ? undefined : build(list)
}

/** @internal A job id as the SLURM tools print it: starts with a digit (`9_[1-3]`, `123+0`). */
export const printedIdRe = /^\d[0-9_.+a-zA-Z[\]\-,%]*$/

// =============================================================================
// Array ids
// =============================================================================

/**
 * The id of an array's element: `<array id>_<index>` (`123_4`), what `squeue --array` and
 * `sacct` print and what `squeue`, `sacct` and `scancel` take.
 *
 * @since 0.1.0
 * @category constructors
 */
export const elementId = (arrayId: string, index: number): string => `${arrayId}_${index}`

/** The most elements one printed range is expanded to (SLURM's own MaxArraySize is at most 4000001). */
const MAX_EXPANDED = 4_000_001

/**
 * Expands a job id as SLURM prints it into the ids it stands for: a pending array's range
 * `123_[1-3,5%2]` (indices 1, 2, 3 and 5; `%2` is the throttle) gives `123_1 123_2 123_3 123_5`;
 * any other id gives itself. An unreadable or absurdly large range gives the id itself.
 *
 * @since 0.1.0
 * @category parsing
 */
export const expandArrayId = (printed: string): ReadonlyArray<string> => {
  const m = /^(\d+)_\[([0-9,-]+)(?:%\d+)?\]$/.exec(printed)
  if (m === null) return [printed]
  const [, base = "", ranges = ""] = m
  const out: Array<string> = []
  for (const part of ranges.split(",")) {
    const r = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part)
    if (r === null) return [printed]
    const from = Number(r[1])
    const to = r[2] === undefined ? from : Number(r[2])
    if (to < from || out.length + to - from >= MAX_EXPANDED) return [printed]
    for (let i = from; i <= to; i++) out.push(elementId(base, i))
  }
  return out
}

/**
 * The array id of a job id as printed: `123` for `123_4`, `123_[1-3]` and `123`; the id itself
 * otherwise (`123+0`, a heterogeneous job's component).
 *
 * @since 0.1.0
 * @category parsing
 */
export const arrayIdOf = (printed: string): string => /^(\d+)_/.exec(printed)?.[1] ?? printed

// =============================================================================
// Job states
// =============================================================================

/** @internal The states of a job that has ended. */
export const finalStates: ReadonlySet<string> = new Set([
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "REVOKED",
  "TIMEOUT",
])

/**
 * The reasons of a pending job that waits for a person, not for resources: held by its user or
 * an admin, or requeued in held state (`squeue` prints the text, `scontrol` the name).
 */
const heldReasons: ReadonlySet<string> = new Set([
  "JobHeldUser",
  "JobHeldAdmin",
  "job requeued in held state",
  "job_requeued_in_held_state",
])

/** States of a job that is back in the queue, waiting to run again. */
const requeuedStates: ReadonlySet<string> = new Set(["REQUEUED", "REQUEUE_FED"])

/** States of a job that waits for a person: suspended, stopped, or held after a requeue. */
const stoppedStates: ReadonlySet<string> = new Set([
  "SUSPENDED",
  "STOPPED",
  "REQUEUE_HOLD",
  "SPECIAL_EXIT",
  "RESV_DEL_HOLD",
])

/** States of a job that holds its nodes: running, or finishing, resizing, signalled. */
const runningStates: ReadonlySet<string> = new Set([
  "RUNNING",
  "COMPLETING",
  "RESIZING",
  "SIGNALING",
  "STAGE_OUT",
])

/**
 * Maps a SLURM job state (and reason) to a run state:
 * - `PENDING`/`CONFIGURING` → `SUBMITTED` (`STOPPED` when held: `JobHeldUser`, `JobHeldAdmin`,
 *   requeued in held state);
 * - `REQUEUED`/`REQUEUE_FED` (back in the queue, to run again: a requeue, a preemption or a node
 *   failure of a job submitted with `--requeue`) → `SUBMITTED`;
 * - `RUNNING`, `COMPLETING` (also right after a requeue), `RESIZING`, `SIGNALING`,
 *   `STAGE_OUT` → `RUNNING`;
 * - `SUSPENDED`, `STOPPED`, `REQUEUE_HOLD`, `SPECIAL_EXIT` (requeued and held after a special
 *   exit code), `RESV_DEL_HOLD` → `STOPPED`;
 * - the final states (`COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `PREEMPTED` without requeue,
 *   `NODE_FAIL`, `BOOT_FAIL`, `DEADLINE`, `OUT_OF_MEMORY`, `REVOKED`) → `TERMINATING`;
 * - anything else → `UNKNOWN`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (native: string, reason = ""): RunState => {
  if (native === "PENDING" || native === "CONFIGURING") {
    return heldReasons.has(reason) ? "STOPPED" : "SUBMITTED"
  }
  if (requeuedStates.has(native)) return "SUBMITTED"
  if (runningStates.has(native)) return "RUNNING"
  if (stoppedStates.has(native)) return "STOPPED"
  return finalStates.has(native) ? "TERMINATING" : "UNKNOWN"
}
