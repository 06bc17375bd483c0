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
  "TIMEOUT",
])

const heldReasons: ReadonlySet<string> = new Set(["JobHeldUser", "JobHeldAdmin"])

/**
 * Maps a SLURM job state (and reason) to a run state: `PENDING`/`CONFIGURING` → `SUBMITTED`
 * (`STOPPED` when held by `JobHeldUser`/`JobHeldAdmin`), `RUNNING`/`COMPLETING` → `RUNNING`,
 * `SUSPENDED` → `STOPPED`, finished states → `TERMINATING`, anything else → `UNKNOWN`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (native: string, reason = ""): RunState => {
  switch (native) {
    case "PENDING":
    case "CONFIGURING":
      return heldReasons.has(reason) ? "STOPPED" : "SUBMITTED"
    case "RUNNING":
    case "COMPLETING":
      return "RUNNING"
    case "SUSPENDED":
      return "STOPPED"
    default:
      return finalStates.has(native) ? "TERMINATING" : "UNKNOWN"
  }
}
