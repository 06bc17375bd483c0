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
import * as Job from "../../src/Job.ts"
import * as Quantity from "../../src/Quantity.ts"
import type { RunState } from "../../src/RunState.ts"
import * as Termination from "../../src/Termination.ts"

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

/** The ids joined by commas, deduplicated, or `undefined` if empty or any id is refused. */
const joinIds = (ids: ReadonlyArray<string>): string | undefined => {
  if (ids.length === 0 || !ids.every(isValidJobId)) return undefined
  return [...new Set(ids)].join(",")
}

/** A job id as the SLURM tools print it: starts with a digit (`9_[1-3]` and `123+0` included). */
const printedIdRe = /^\d[0-9_.+a-zA-Z[\]\-,%]*$/

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
    ...opt(
      "mem",
      o.memory !== undefined ? `${Math.max(1, Math.ceil(o.memory / 1024 ** 2))}M` : undefined,
    ),
    ...opt(
      "time",
      o.walltime !== undefined
        ? String(Math.max(1, Math.ceil(Duration.toMillis(o.walltime) / 60_000)))
        : undefined,
    ),
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
export const squeueArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const list = joinIds(ids)
  if (list === undefined) return undefined
  return [
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
  ]
}

const finalStates: ReadonlySet<string> = new Set([
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
// sacct
// =============================================================================

/**
 * The columns {@linkcode sacctArgv} asks for, in order.
 *
 * @since 0.1.0
 * @category commands
 */
export const sacctColumns: ReadonlyArray<string> = [
  "JobID",
  "State",
  "ExitCode",
  "Elapsed",
  "TotalCPU",
  "NCPUS",
  "MaxRSS",
  "MaxVMSize",
  "Submit",
  "Start",
  "End",
]

/**
 * The environment `sacct` runs with: ISO timestamps (`2016-02-16T12:16:33`) whatever the site's
 * default time format.
 *
 * @since 0.1.0
 * @category commands
 */
export const sacctEnv: Readonly<Record<string, string>> = { SLURM_TIME_FORMAT: "standard" }

/**
 * The `sacct` argv that reports many jobs at once (run it with {@linkcode sacctEnv}), or
 * `undefined` if the list is empty or holds an id refused by {@linkcode isValidJobId}. No
 * `--allocations`: the step records (`N.batch`, `N.0`) carry `MaxRSS` and `MaxVMSize`.
 *
 * @since 0.1.0
 * @category commands
 */
export const sacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const list = joinIds(ids)
  if (list === undefined) return undefined
  return [
    "sacct",
    "--noheader",
    "--parsable2",
    `--format=${sacctColumns.join(",")}`,
    `--jobs=${list}`,
  ]
}

/**
 * What `sacct` says about one job (its master record and steps).
 *
 * @since 0.1.0
 * @category models
 */
export interface SacctRecord {
  /** First word of the master record's state: `CANCELLED` from `CANCELLED by 1000`. */
  readonly native: string
  /** `TERMINATING` for a final state; `RUNNING`/`SUBMITTED`/... while accounting lags. */
  readonly state: RunState
  /** How the job ended; `undefined` unless the master state is final. */
  readonly termination: Termination.Termination | undefined
  /** What the job used (fields left out when SLURM printed nothing). */
  readonly usage: Job.Usage
}

/**
 * Parses a SLURM duration `[D-][[HH:]MM:]SS[.fff]` (`00:08:07`, `05:05.002`, `1-02:00:00`).
 * Returns `undefined` for anything else (`INVALID`, empty).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSlurmDuration = (text: string): Duration.Duration | undefined => {
  const m = /^(?:(\d{1,9})-)?(?:(?:(\d{1,9}):)?(\d{1,9}):)?(\d{1,9})(?:\.(\d{1,9}))?$/.exec(
    text.trim(),
  )
  if (m === null) return undefined
  const [, d = "0", h = "0", mi = "0", s = "0", frac = ""] = m
  const second = 1_000_000_000n
  const nanos = ((BigInt(d) * 24n + BigInt(h)) * 60n + BigInt(mi)) * 60n * second +
    BigInt(s) * second + BigInt(frac.padEnd(9, "0") || "0")
  return Duration.nanos(nanos)
}

const memoryFactor: Readonly<Record<string, number>> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
}

/**
 * Parses a SLURM memory figure (`1612088K`, `72.50M`, `0`) to bytes, unrounded: the suffixes are
 * binary (1024^n), no suffix means bytes. Returns `undefined` for empty or unreadable text.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSlurmMemory = (text: string): number | undefined => {
  const m = /^(\d{1,20}(?:\.\d{1,20})?)([KMGTP]?)$/i.exec(text.trim())
  if (m === null) return undefined
  const bytes = Number(m[1]) * (memoryFactor[m[2]!.toUpperCase()] ?? NaN)
  return Number.isFinite(bytes) && bytes <= Number.MAX_SAFE_INTEGER ? bytes : undefined
}

const isoRe = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/

/** An ISO timestamp as printed with `SLURM_TIME_FORMAT=standard`, else `undefined`. */
const isoTime = (text: string | undefined): string | undefined => {
  const t = text?.trim()
  return t !== undefined && isoRe.test(t) ? t : undefined
}

/**
 * Reads `A:B` (exit code `A`, signal `B`): a signal wins over the exit code.
 */
const parseExitCode = (text: string): Termination.Termination | undefined => {
  const m = /^(-?\d{1,10}):(-?\d{1,10})$/.exec(text.trim())
  if (m === null) return undefined
  const signal = Number(m[2]) & 0x7f
  return signal > 0 ? Termination.signalled(signal) : Termination.exited(Number(m[1]))
}

/**
 * How a job in a final state ended, as far as the state alone tells: `COMPLETED` is exit 0 (SLURM
 * says so only when every step exited 0), the batch system's kills and node failures are the
 * pseudo-signals below; `FAILED` and the other states need the exit code (`undefined`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const terminationOfState = (native: string): Termination.Termination | undefined =>
  native === "COMPLETED" ? Termination.exited(0) : terminationOf(native, "")

/**
 * How a job in a final state ended. GC3Pie's overrides are kept: the batch system's kills
 * (CANCELLED, TIMEOUT; and PREEMPTED, DEADLINE) are RemoteKill with exit 75 (`EX_TEMPFAIL`),
 * node failures (NODE_FAIL; and BOOT_FAIL) RemoteError with exit 75. OUT_OF_MEMORY is
 * reported as signal 9: the cgroup OOM killer SIGKILLs the job, while SLURM prints a made-up
 * `0:125` exit code (recorded).
 */
const terminationOf = (
  native: string,
  exitCode: string,
): Termination.Termination | undefined => {
  switch (native) {
    case "CANCELLED":
    case "TIMEOUT":
    case "PREEMPTED":
    case "DEADLINE":
      return Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)
    case "NODE_FAIL":
    case "BOOT_FAIL":
      return Termination.signalled(Termination.Signals.RemoteError, Termination.EX_TEMPFAIL)
    case "OUT_OF_MEMORY":
      return Termination.signalled(9)
    default:
      return parseExitCode(exitCode)
  }
}

interface Accumulator {
  master: ReadonlyMap<string, string> | undefined
  maxRss: number | undefined
  maxVm: number | undefined
  submits: Array<string>
  starts: Array<string>
}

const maxOf = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b)

const minIso = (xs: ReadonlyArray<string | undefined>): string | undefined => {
  let best: string | undefined
  for (const x of xs) if (x !== undefined && (best === undefined || x < best)) best = x
  return best
}

const safeMemory = (bytes: number | undefined): Quantity.Memory | undefined => {
  if (bytes === undefined) return undefined
  const m = Quantity.memory(bytes)
  return Number.isSafeInteger(m) ? m : undefined
}

/**
 * Parses `sacct --parsable2` (or `--parsable`) output: a map from master job id (the id before
 * the first `.`, so `123`, `123_4`, `123+0`) to what the job's records say. `columns` names the
 * printed columns in order (default {@linkcode sacctColumns}, names matched without regard to
 * case; unknown columns are ignored). Headers, error messages and short lines are skipped; a job
 * with steps but no master record is left out.
 *
 * From the master record: state, exit code, `Elapsed` (duration), `TotalCPU` (CPU time),
 * `NCPUS` (cores), `End` (`slurm_completion_time`). From every record: the largest `MaxRSS`
 * (`maxUsedMemory`) and `MaxVMSize` (`maxUsedVirtualMemory`), rounded to whole bytes at the end;
 * `slurm_submission_time` = earliest of the master's `Submit` and `Start` and the steps'
 * `Submit` (SLURM sometimes rewrites the master's `Submit` later than its start), and
 * `slurm_start_time` = earliest `Start`. Timestamps other than ISO ones (`Unknown`, `None`,
 * relative) are ignored (GC3Pie crashed on them).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSacct = (
  stdout: string,
  columns: ReadonlyArray<string> = sacctColumns,
): ReadonlyMap<string, SacctRecord> => {
  const names = columns.map((c) => c.trim().toLowerCase())
  const jobs = new Map<string, Accumulator>()
  for (const raw of stdout.split(/\r?\n/)) {
    const fields = raw.split("|")
    if (fields.length < names.length) continue
    const row = new Map<string, string>()
    names.forEach((n, i) => {
      if (!row.has(n)) row.set(n, (fields[i] ?? "").trim())
    })
    const id = row.get("jobid") ?? ""
    if (!printedIdRe.test(id)) continue
    const dot = id.indexOf(".")
    const masterId = dot < 0 ? id : id.slice(0, dot)
    let acc = jobs.get(masterId)
    if (acc === undefined) {
      acc = { master: undefined, maxRss: undefined, maxVm: undefined, submits: [], starts: [] }
      jobs.set(masterId, acc)
    }
    if (dot < 0) acc.master = row
    acc.maxRss = maxOf(acc.maxRss, parseSlurmMemory(row.get("maxrss") ?? ""))
    acc.maxVm = maxOf(acc.maxVm, parseSlurmMemory(row.get("maxvmsize") ?? ""))
    const submit = isoTime(row.get("submit"))
    const start = isoTime(row.get("start"))
    if (submit !== undefined) acc.submits.push(submit)
    if (start !== undefined) {
      acc.starts.push(start)
      if (dot < 0) acc.submits.push(start)
    }
  }
  const out = new Map<string, SacctRecord>()
  for (const [id, acc] of jobs) {
    const master = acc.master
    if (master === undefined) continue
    const native = (master.get("state") ?? "").split(/\s+/)[0]!.replace(/\+$/, "")
    const final = finalStates.has(native)
    const termination = final ? terminationOf(native, master.get("exitcode") ?? "") : undefined
    const duration = parseSlurmDuration(master.get("elapsed") ?? "")
    const cpuTime = parseSlurmDuration(master.get("totalcpu") ?? "")
    const coresText = master.get("ncpus") ?? master.get("alloccpus") ?? ""
    const cores = /^\d{1,9}$/.test(coresText) ? Number(coresText) : undefined
    const maxUsedMemory = safeMemory(acc.maxRss)
    const maxUsedVirtualMemory = safeMemory(acc.maxVm)
    const extra: Record<string, string> = {}
    const submission = minIso(acc.submits)
    const started = minIso(acc.starts)
    const completion = isoTime(master.get("end"))
    if (submission !== undefined) extra.slurm_submission_time = submission
    if (started !== undefined) extra.slurm_start_time = started
    if (completion !== undefined) extra.slurm_completion_time = completion
    const usage = new Job.Usage({
      ...(duration !== undefined ? { duration } : {}),
      ...(cpuTime !== undefined ? { cpuTime } : {}),
      ...(maxUsedMemory !== undefined ? { maxUsedMemory } : {}),
      ...(maxUsedVirtualMemory !== undefined ? { maxUsedVirtualMemory } : {}),
      ...(cores !== undefined ? { cores } : {}),
      extra,
    })
    out.set(id, { native, state: final ? "TERMINATING" : mapState(native), termination, usage })
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
export const scancelArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const list = joinIds(ids)
  return list === undefined ? undefined : ["scancel", list]
}

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
