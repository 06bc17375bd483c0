/**
 * Grid Engine's job control and resource status: `qdel` of jobs and array tasks, the free slots
 * of `qstat -f`, and the jobs found by tag in `qstat -j '*'`.
 *
 * @since 0.1.0
 * @module
 */
import { withIds } from "../../batch/internal/dialect.ts"
import { isValidJobId } from "./ids.ts"

/**
 * The `qdel` argv for many jobs, or `undefined` if the list is empty or holds a bad id.
 *
 * @since 0.1.0
 * @category commands
 */
export const qdelArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["qdel"], ids, isValidJobId)

/**
 * The argvs of the resource status: every user's jobs, and the queue instances with their slots.
 *
 * @since 0.1.0
 * @category commands
 */
export const statusArgvs = (queue?: string): ReadonlyArray<ReadonlyArray<string>> => [
  ["qstat", "-u", "*"],
  ["qstat", "-f", ...(queue !== undefined ? ["-q", queue] : [])],
]

/**
 * Free slots from `qstat -f`: queue-instance lines `queue@host  BIP  resv/used/tot ...`;
 * non-batch queues and instances in an unusable state (`d`isabled, `E`rror, `a`larm, `s`uspended,
 * `u`nknown, `o`rphaned, `c`onfiguration ambiguous) are left out. Per host: total = largest
 * `tot`, taken = largest `resv + used` over its queues (GC3Pie's rule); free = sum of
 * `total − taken`. `undefined` when no line is readable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFreeSlots = (stdout: string): number | undefined => {
  const hosts = new Map<string, { total: number; taken: number }>()
  for (const raw of stdout.split(/\r?\n/)) {
    const m =
      /^([A-Za-z0-9._-]+)@(\S+)\s+([BIPCTN]+)\s+(?:(\d+)\/)?(\d+)\/(\d+)(?:\s+\S+\s+\S+\s*(\S*))?/i
        .exec(raw.trim())
    if (m === null || !m[3]!.toUpperCase().includes("B")) continue
    if (/[dEasuoc]/.test(m[7] ?? "")) continue
    const resv = Number(m[4] ?? "0")
    const used = Number(m[5])
    const total = Number(m[6])
    const h = hosts.get(m[2]!) ?? { total: 0, taken: 0 }
    hosts.set(m[2]!, { total: Math.max(h.total, total), taken: Math.max(h.taken, resv + used) })
  }
  if (hosts.size === 0) return undefined
  let free = 0
  for (const h of hosts.values()) free += Math.max(0, h.total - h.taken)
  return free
}

/**
 * Every job's details (`qstat -j '*'`), for finding jobs by tag.
 *
 * @since 0.1.0
 * @category commands
 */
export const qstatAllDetailsArgv: ReadonlyArray<string> = ["qstat", "-j", "*"]

/**
 * Tag to job id, from `qstat -j` blocks whose `cwd` is a job directory (`…/job.<tag>`): the
 * batch flow submits each job with `-cwd` from its own job directory.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTaggedJobs = (stdout: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  let id: string | undefined
  for (const line of stdout.split(/\r?\n/)) {
    const number = /^job_number:\s+(\d{1,12})\s*$/.exec(line)
    if (number !== null) id = number[1]
    const cwd = /^cwd:\s+\S*\/job\.([^/\s]+)\/?\s*$/.exec(line)
    if (cwd !== null && id !== undefined) out.set(cwd[1]!, id)
  }
  return out
}
