/**
 * The SLURM commands' argvs and pure parsers of their replies: `sbatch` (argv and job id),
 * `squeue` (state of many jobs in one call), `sacct` (how jobs ended and what they used),
 * `scancel`, `scontrol show config` (the array limit), and the queue counts for the resource
 * status. Array elements are `123_4` everywhere: `squeue --array` lists each on its own line, a
 * pending range (`123_[1-3,5%2]`) is expanded, `sacct` is keyed by `JobID`, not `JobIDRaw`.
 *
 * Nothing here does I/O and nothing throws: unreadable input gives `undefined` or leaves the job
 * out of the returned map. Job ids that reach a command line must match
 * {@linkcode isValidJobId}; the argv builders return `undefined` when the list is empty or any id
 * is not one (all or nothing: a silently dropped id would never get a status).
 *
 * Memory: SLURM's `K`/`M`/`G`/`T`/`P` suffixes are binary (1024^n, what `MaxRSS` and
 * `MaxVMSize` mean); GC3Pie reads them as 1000^n. This module uses 1024.
 *
 * @since 0.1.0
 * @module
 */
import { tally } from "../../src/internal/queue.ts"
import type { RunState } from "../../src/RunState.ts"
import { arrayIdOf, expandArrayId, mapState, printedIdRe, withJobList } from "./parse/jobs.ts"

export { arrayIdOf, elementId, expandArrayId, isValidJobId, mapState } from "./parse/jobs.ts"
export * from "./parse/sacct.ts"
export * from "./parse/sbatch.ts"
export * from "./parse/shape.ts"

// =============================================================================
// Jobs by tag
// =============================================================================

/**
 * Lists the user's jobs with their working directories, for finding jobs by tag
 * ({@linkcode parseTaggedJobs}): every state, so a job that already ended is found too. The
 * batch flow submits each job with `--chdir` set to its own job directory, `…/job.<tag>`, so the
 * working directory SLURM keeps carries the tag whatever the job's name or comment.
 *
 * @since 0.1.0
 * @category commands
 */
export const squeueTagsArgv = (user: string): ReadonlyArray<string> => [
  "squeue",
  "--noheader",
  "--states=all",
  `--user=${user}`,
  "--format=%i^%Z",
]

/**
 * Reads {@linkcode squeueTagsArgv}'s output: tag to job id, for jobs whose working directory is
 * a job directory (`…/job.<tag>`). An array's elements all work in the array's directory: its
 * tag maps to the array id (`123` for `123_4` and `123_[5-9]`), what `sbatch` printed.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTaggedJobs = (stdout: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const raw of stdout.split(/\r?\n/)) {
    const [id = "", workdir = ""] = raw.trim().split("^").map((f) => f.trim())
    const tag = /\/job\.([^/]+)\/?$/.exec(workdir)?.[1]
    if (!printedIdRe.test(id) || tag === undefined) continue
    out.set(tag, arrayIdOf(id))
  }
  return out
}

/**
 * Whether `sbatch`'s refusal may pass if tried again unchanged: the controller was busy or
 * unreachable, or a submit-count limit was hit (`QOSMaxSubmitJobPerUserLimit`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const sbatchRetryable = (output: string): boolean =>
  /timed out|Unable to contact|temporarily unavailable|try again|Socket|MaxSubmitJob|submit limit|Slurm backup controller in standby/i
    .test(output)

// =============================================================================
// squeue
// =============================================================================

/**
 * What `squeue` says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqueueRecord {
  /** The run state the native state maps to. */
  readonly state: RunState
  /** SLURM's state (`%T`), e.g. `PENDING`. */
  readonly native: string
  /** SLURM's reason (`%r`), e.g. `Resources`, `JobHeldUser`; empty when not printed. */
  readonly reason: string
}

/**
 * The `squeue` argv that reports the state of many jobs at once, one `ID^STATE^REASON^RAWID`
 * line per job and per array element (`--array`: a pending array is one line per element, not
 * `123_[0-3]`), or `undefined` if the list is empty or holds an id refused by
 * {@linkcode isValidJobId}. An element is asked for as `123_4`; the array id `123` lists them all.
 *
 * @since 0.1.0
 * @category commands
 */
export const squeueArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withJobList(ids, (list) => [
    "squeue",
    "--noheader",
    "--all",
    "--array",
    // Without `--states=all`, `squeue -j N` prints nothing at all (exit 0) for a job that has
    // finished, even while slurmctld still knows it (recorded: `squeue -h -j 4 -o '%i %T'` is
    // empty while `squeue -h -t all` lists `4 COMPLETED`). With it, a finished job shows its
    // final state until MinJobAge expires; only then does it vanish and sacct must tell.
    "--states=all",
    `--jobs=${list}`,
    "--format=%i^%T^%r^%A",
  ])

/**
 * The `squeue` of every job of one user, in {@linkcode squeueArgv}'s format (array elements one
 * per line): one call for any number of jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const squeueMineArgv = (user: string): ReadonlyArray<string> => [
  "squeue",
  "--noheader",
  "--all",
  "--array",
  "--states=all",
  `--user=${user}`,
  "--format=%i^%T^%r^%A",
]

/**
 * Parses the reply to {@linkcode squeueArgv}: a map from job id (as printed: array elements are
 * `123_4`; a pending range `123_[1-3,5%2]`, printed without `--array`, is expanded to each
 * element it names) to its state. Lines that are not `ID^STATE[^REASON[^RAWID]]` (site banners)
 * are skipped; GC3Pie's `GC3Pie^ID^STATE^REASON` lines are read too. `ids`, when given, are the
 * ids asked for: one that is no printed id but a line's raw id (`%A`: an element asked for as
 * `127`, not `123_4`) is keyed by that raw id too. A job missing from the map has left the
 * controller: ask `sacct`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSqueue = (
  stdout: string,
  ids: ReadonlyArray<string> = [],
): ReadonlyMap<string, SqueueRecord> => {
  const out = new Map<string, SqueueRecord>()
  const byRaw = new Map<string, SqueueRecord>()
  for (const raw of stdout.split(/\r?\n/)) {
    let fields = raw.trim().split("^").map((f) => f.trim())
    if (fields[0] === "GC3Pie") fields = fields.slice(1)
    if (fields.length < 2) continue
    const [id = "", state = "", reason = "", rawId = ""] = fields
    if (!printedIdRe.test(id)) continue
    const native = state.split(/\s+/)[0] ?? ""
    if (native === "") continue
    const record = { state: mapState(native, reason), native, reason }
    for (const e of expandArrayId(id)) out.set(e, record)
    if (/^\d+$/.test(rawId)) byRaw.set(rawId, record)
  }
  for (const id of ids) {
    const record = out.has(id) ? undefined : byRaw.get(id)
    if (record !== undefined) out.set(id, record)
  }
  return out
}

// =============================================================================
// scancel
// =============================================================================

/**
 * The `scancel` argv for many jobs (scancel splits a comma-separated list itself), or
 * `undefined` if the list is empty or holds an id refused by {@linkcode isValidJobId}.
 *
 * @since 0.1.0
 * @category commands
 */
export const scancelArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withJobList(ids, (list) => ["scancel", list])

// =============================================================================
// Resource status
// =============================================================================

/**
 * The `sinfo` argv that prints every node once per partition with its CPU counts
 * (`NODE^allocated/idle/other/total`), restricted to one partition if given.
 *
 * @since 0.1.0
 * @category commands
 */
export const sinfoArgv = (partition?: string): ReadonlyArray<string> => [
  "sinfo",
  "--noheader",
  "--Node",
  "--format=%N^%C",
  ...(partition !== undefined ? [`--partition=${partition}`] : []),
]

/**
 * Sums the idle CPUs in the reply to {@linkcode sinfoArgv}, counting each node once (a node in
 * two partitions is listed twice). Returns `undefined` when no line is readable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseIdleCpus = (stdout: string): number | undefined => {
  const idle = new Map<string, number>()
  for (const raw of stdout.split(/\r?\n/)) {
    const m = /^([^\s^]+)\^(\d{1,9})\/(\d{1,9})\/(\d{1,9})\/(\d{1,9})$/.exec(raw.trim())
    if (m !== null) idle.set(m[1]!, Number(m[3]))
  }
  if (idle.size === 0) return undefined
  let sum = 0
  for (const n of idle.values()) sum += n
  return sum
}

/**
 * The `squeue` argv that lists every queued and running job of every user, one
 * `ID^STATE^USER` line each. `--array` prints one line per array task, so a pending array of N
 * tasks counts N jobs (GC3Pie counted the one collapsed line).
 *
 * @since 0.1.0
 * @category commands
 */
export const squeueAllArgv: ReadonlyArray<string> = [
  "squeue",
  "--noheader",
  "--all",
  "--array",
  "--format=%i^%T^%u",
]

/**
 * Queue counts for the resource status.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobCounts {
  /** Jobs of all users waiting (`PENDING`, `CONFIGURING`). */
  readonly queued: number
  /** Jobs of all users running (`RUNNING`, `COMPLETING`). */
  readonly totalRun: number
  /** The user's running jobs. */
  readonly userRun: number
  /** The user's waiting jobs. */
  readonly userQueued: number
}

/**
 * Counts the jobs in the reply to {@linkcode squeueAllArgv} (GC3Pie's `count_jobs`); lines that
 * are not `ID^STATE^USER` are skipped.
 *
 * @since 0.1.0
 * @category parsing
 */
export const countJobs = (stdout: string, user: string): JobCounts =>
  tally(
    stdout.split(/\r?\n/).map((raw) => raw.trim().split("^").map((f) => f.trim()))
      .filter((f) => f.length >= 3 && printedIdRe.test(f[0]!))
      .map(([, state, owner]) => ({
        kind: state === "PENDING" || state === "CONFIGURING"
          ? "queued"
          : state === "RUNNING" || state === "COMPLETING"
          ? "running"
          : "other",
        mine: owner === user,
      })),
  )
