/**
 * The SLURM commands' argvs and pure parsers of their replies: `sbatch` (job id), `squeue` (state
 * of many jobs in one call), `sacct` (how jobs ended and what they used), `scancel`, and the
 * queue counts for the resource status.
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
import * as Duration from "effect/Duration"
import { tally } from "../../src/internal/queue.ts"
import type { RunState } from "../../src/RunState.ts"
import { mebibytesUp, minutesUp } from "../batch/internal/dialect.ts"
import { mapState, printedIdRe, withJobList } from "./parse/jobs.ts"

export { isValidJobId, mapState } from "./parse/jobs.ts"
export * from "./parse/sacct.ts"

// =============================================================================
// sbatch
// =============================================================================

const submittedRe =
  /(?:^|\s)(?:sbatch:\s*)?(?:Submitted batch job|Granted job allocation)\s+(\d+)\b/
const parsableRe = /^(\d+)(?:;[^\s;]+)?$/

/**
 * Reads the job id from `sbatch`'s stdout: `Submitted batch job N` anywhere (site plugins may
 * print informational lines before or after it, see easybuild#4061), else the first line that is
 * `--parsable` output (`N` or `N;cluster`). Returns `undefined` when there is no id.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSbatchJobId = (stdout: string): string | undefined => {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim())
  for (const line of lines) {
    const m = submittedRe.exec(line)
    if (m !== null) return m[1]
  }
  for (const line of lines) {
    const m = parsableRe.exec(line)
    if (m !== null) return m[1]
  }
  return undefined
}

/**
 * What goes on an `sbatch` command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface SbatchOptions {
  /** `--job-name`. */
  readonly jobname: string
  /** `--cpus-per-task` (one task on one node). */
  readonly cores: number
  /** Memory for the whole job, in bytes (rounded up to MiB). */
  readonly memory?: number | undefined
  /** Wall-clock limit (rounded up to whole minutes, SLURM's unit). */
  readonly walltime?: Duration.Duration | undefined
  /** The job's working directory. */
  readonly workdir: string
  /** The job script. */
  readonly script: string
  /** Where SLURM writes the script's own stdout and stderr. */
  readonly output: string
  /** See {@linkcode SbatchOptions.output}. */
  readonly error: string
  /** `--partition`. */
  readonly partition?: string | undefined
  /** `--account`. */
  readonly account?: string | undefined
  /** `--qos`. */
  readonly qos?: string | undefined
  /** `--reservation`. */
  readonly reservation?: string | undefined
  /** `--gres` (`gpu:2`, `gpu:a100:1`). */
  readonly gres?: string | undefined
  /** `--gpus` (`2`, `a100:1`). */
  readonly gpus?: string | undefined
  /** `--export` (`ALL`, `NONE`, `ALL,FOO=bar`). */
  readonly exportEnv: string
}

/** SLURM expands `%j`-style patterns in `--output` / `--error`; `%%` is a literal `%`. */
const literalPattern = (path: string) => path.replaceAll("%", "%%")

/**
 * The `sbatch` argv: every option is one `--name=value` word (no value can become another
 * option), the script last. One task on one node with `cores` CPUs; memory in MiB rounded up;
 * the time limit in minutes rounded up (GC3Pie rounded down, so 30 s became `--time 0`, which
 * SLURM reads as no limit at all); no requeue.
 *
 * @since 0.1.0
 * @category commands
 */
export const sbatchArgv = (o: SbatchOptions): ReadonlyArray<string> => {
  const opt = (name: string, value: string | undefined) =>
    value === undefined ? [] : [`--${name}=${value}`]
  return [
    "sbatch",
    `--job-name=${o.jobname}`,
    `--chdir=${o.workdir}`,
    `--output=${literalPattern(o.output)}`,
    `--error=${literalPattern(o.error)}`,
    "--no-requeue",
    "--nodes=1",
    "--ntasks=1",
    `--cpus-per-task=${o.cores}`,
    ...opt("mem", o.memory !== undefined ? `${mebibytesUp(o.memory)}M` : undefined),
    ...opt("time", o.walltime !== undefined ? String(minutesUp(o.walltime)) : undefined),
    ...opt("partition", o.partition),
    ...opt("account", o.account),
    ...opt("qos", o.qos),
    ...opt("reservation", o.reservation),
    ...opt("gres", o.gres),
    ...opt("gpus", o.gpus),
    `--export=${o.exportEnv}`,
    o.script,
  ]
}

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
 * a job directory (`…/job.<tag>`).
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
    out.set(tag, id)
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
 * The `squeue` argv that reports the state of many jobs at once, one `ID^STATE^REASON` line per
 * job, or `undefined` if the list is empty or holds an id refused by {@linkcode isValidJobId}.
 *
 * @since 0.1.0
 * @category commands
 */
export const squeueArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withJobList(ids, (list) => [
    "squeue",
    "--noheader",
    "--all",
    // Without `--states=all`, `squeue -j N` prints nothing at all (exit 0) for a job that has
    // finished, even while slurmctld still knows it (recorded: `squeue -h -j 4 -o '%i %T'` is
    // empty while `squeue -h -t all` lists `4 COMPLETED`). With it, a finished job shows its
    // final state until MinJobAge expires; only then does it vanish and sacct must tell.
    "--states=all",
    `--jobs=${list}`,
    "--format=%i^%T^%r",
  ])

/**
 * Parses the reply to {@linkcode squeueArgv}: a map from job id (as printed, so array tasks stay
 * `123_4` and pending arrays `123_[1-3]`) to its state. Lines that are not `ID^STATE[^REASON]`
 * (site banners) are skipped; GC3Pie's `GC3Pie^ID^STATE^REASON` lines are read too. A job missing
 * from the map has left the controller: ask `sacct`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSqueue = (stdout: string): ReadonlyMap<string, SqueueRecord> => {
  const out = new Map<string, SqueueRecord>()
  for (const raw of stdout.split(/\r?\n/)) {
    let fields = raw.trim().split("^").map((f) => f.trim())
    if (fields[0] === "GC3Pie") fields = fields.slice(1)
    if (fields.length < 2) continue
    const [id = "", state = "", reason = ""] = fields
    if (!printedIdRe.test(id)) continue
    const native = state.split(/\s+/)[0] ?? ""
    if (native === "") continue
    out.set(id, { state: mapState(native, reason), native, reason })
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
