/**
 * PBS's (Torque, OpenPBS / PBS Pro) argvs and pure parsers: `qsub` (job id), `qstat -f` (state,
 * and for finished jobs the exit status and usage, for every job polled in one call), `tracejob`
 * (accounting for jobs `qstat` has forgotten), `qdel`, `qstat -a` and `pbsnodes -a` for the
 * resource status.
 *
 * Exit statuses: 0–255 is the job's own exit; above 256 the job was killed by signal
 * `status − 256` (Torque and PBS Pro); negative values are the server's `JOB_EXEC_*` codes, which
 * differ between the variants. Torque's −10/−11/−12 (memory, walltime, CPU time over the limit)
 * and PBS Pro's −24/−25/−28/−29 (`JOB_EXEC_KILL_NCPUS_BURST`, `_NCPUS_SUM`, `_CPUT`,
 * `_WALLTIME`) are the batch system's kills (`RemoteKill`, exit 75); PBS Pro's −26/−27
 * (`JOB_EXEC_KILL_VMEM`, `_MEM`) are signal 9, as SLURM's `OUT_OF_MEMORY` and LSF's
 * `TERM_MEMLIMIT`; any other negative code means the job could not run (`RemoteError`). (On PBS
 * Pro −11 is `JOB_EXEC_RERUN`, not a walltime kill.) GC3Pie's tracejob regex accepted no minus
 * sign and lost them; its PBS Pro parser always failed.
 *
 * `qstat -f -F json` (PBS Pro) is read as well as the text format: its nested objects
 * (`resources_used`, `Resource_List`) become the same dotted attribute names.
 *
 * Memory: PBS's `kb`, `mb`, `gb`, `tb` are 1024-based (GC3Pie read them as 1000s).
 *
 * `qsub`'s parallel shapes, arrays and rerunnability are in `parse/submit.ts` (re-exported
 * here). Arrays: `qsub` prints the array's id, `123[].server`; an element is `123[4].server`,
 * and `qstat -f` lists it by that id when asked for it (its parent `123[]` is never taken for
 * an element: ids are matched by their sequence number with the brackets).
 *
 * @since 0.1.0
 * @module
 */
import { tally } from "../../src/internal/queue.ts"
import { withIds } from "../batch/internal/dialect.ts"
import { isValidJobId, jobIdRe } from "./parse/jobs.ts"
import { mapState } from "./parse/qstat.ts"

export { type Flavour, isValidJobId, sequenceOf } from "./parse/jobs.ts"
export * from "./parse/qstat.ts"
export * from "./parse/submit.ts"

// =============================================================================
// qsub
// =============================================================================

/**
 * Reads the job id from `qsub`'s output: the first line that is a job id (`123.server`, an
 * array's `123[].server`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQsubJobId = (stdout: string): string | undefined => {
  for (const line of stdout.split(/\r?\n/)) {
    const t = line.trim()
    if (jobIdRe.test(t)) return t
  }
  return undefined
}

/**
 * Whether `qsub`'s refusal may pass if tried again unchanged (server busy or unreachable).
 *
 * @since 0.1.0
 * @category parsing
 */
export const qsubRetryable = (output: string): boolean =>
  /cannot connect|Connection refused|timed out|try again|Server.*busy|Maximum number of jobs/i
    .test(output)

// =============================================================================
// qdel and the resource status
// =============================================================================

/**
 * The `qdel` argv for many jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const qdelArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["qdel"], ids, isValidJobId)

/**
 * Queue counts from `qstat -a` (columns: Job id, Username, Queue, Name, SessID, NDS, TSK,
 * Memory, Time, S, Time): the state is the second-to-last column, whatever the name holds.
 * Torque cuts user names to 8 characters; a cut name counts as the user's.
 *
 * @since 0.1.0
 * @category parsing
 */
export const countJobs = (
  stdout: string,
  user: string,
): { queued: number; totalRun: number; userRun: number; userQueued: number } =>
  tally(
    stdout.split(/\r?\n/).map((raw) => raw.trim().split(/\s+/))
      .filter((f) => f.length >= 11 && jobIdRe.test(f[0]!))
      .map((f) => {
        const state = mapState(f[f.length - 2]!)
        const u = f[1]!
        return {
          kind: state === "SUBMITTED" ? "queued" : state === "RUNNING" ? "running" : "other",
          mine: u === user || (u.length >= 8 && user.startsWith(u)),
        }
      }),
  )

/**
 * Free cores from `pbsnodes -a`: for each node that is up (`free`, or busy with jobs), `np`
 * minus the cores its `jobs = 0/1.srv, 1/2.srv` list holds (a `2-3/4.srv` range counts two);
 * nodes `down`, `offline` or `unknown` count nothing. `undefined` when no node is readable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFreeCores = (stdout: string): number | undefined => {
  let nodes = 0
  let free = 0
  let node: { np?: number; used: number; state: string } | undefined
  const flush = () => {
    if (node === undefined || node.np === undefined) return
    nodes++
    if (!/down|offline|unknown/.test(node.state)) free += Math.max(0, node.np - node.used)
  }
  for (const raw of stdout.split(/\r?\n/)) {
    if (/^\S/.test(raw)) {
      flush()
      node = { used: 0, state: "" }
      continue
    }
    const kv = /^\s+([\w.]+) = (.*)$/.exec(raw)
    if (kv === null || node === undefined) continue
    const [, key, value] = kv as unknown as [string, string, string]
    if (key === "state") node.state = value
    if ((key === "np" || key === "resources_available.ncpus") && /^\d{1,9}$/.test(value.trim())) {
      node.np = Number(value)
    }
    if (key === "jobs") {
      for (const entry of value.split(",")) {
        const r = /^\s*(\d+)(?:-(\d+))?\//.exec(entry)
        if (r !== null) node.used += r[2] !== undefined ? Number(r[2]) - Number(r[1]) + 1 : 1
      }
    }
  }
  flush()
  return nodes === 0 ? undefined : free
}
