/**
 * LSF's argvs and pure parsers, for IBM Spectrum LSF 10 (`lsf`) and OpenLava 3 (`openlava`, an
 * LSF 7-era fork): `bsub` (job id), `bjobs -l` (state, exit, usage of every job polled in one
 * call), `bacct -l` (LSF) or `bhist -l` (OpenLava, which has no `bacct`) for jobs `bjobs` has
 * forgotten, `bkill`, and `bjobs -u all -w` with `lshosts -w` (LSF) or `bhosts -w` (OpenLava)
 * for the resource status.
 *
 * OpenLava's `bsub` has no `-cwd`, `-oo` or `-eo` (`-cwd` reads as `-c wd` and is refused, `-oo
 * x` as `-o o` with `x` made part of the command, so the job would run the wrong command): the
 * job script changes to the job directory itself and `-o`/`-e` are used. Its long output starts
 * `Job Id <N>` rather than `Job <N>`. The job does not always start where `bsub` ran: the
 * script is given by its absolute path.
 *
 * Long output: LSF wraps `bjobs -l` / `bacct -l` lines at 80 columns and indents the rest by a
 * fixed prefix (21 or 26 spaces, depending on the version); a line that starts with 15 or more
 * spaces right after a line of 70 or more characters continues it. GC3Pie needed the prefix
 * length configured or guessed, and a wrong guess made the job UNKNOWN.
 *
 * Ends: `DONE` is exit 0. For `EXIT`, LSF's own reason wins: `TERM_RUNLIMIT` / `TERM_CPULIMIT` /
 * `TERM_OWNER` / `TERM_ADMIN` / `TERM_PREEMPT` are the batch system's kills (RemoteKill, exit
 * 75; a runlimit kill also says `Exited by signal 12`, the SIGUSR2 LSF sent), `TERM_MEMLIMIT` /
 * `TERM_SWAP` signal 9 (as SLURM's OUT_OF_MEMORY); otherwise `Exited with exit code N` is N
 * (shell rules: 137 is signal 9), `Exited by signal N` signal N, anything else RemoteError.
 * GC3Pie gave no exit status at all to a job killed by LSF.
 *
 * OpenLava records no reason at all: a job it killed ends `Exited with exit code 128+N` (the
 * wrapper shell's status). Read together with what else it prints, so that the ends match the
 * other schedulers: exit 140 or 137 (SIGUSR2, then SIGKILL) of a job with a `RUNLIMIT` that ran
 * at least that long is the batch system's kill (RemoteKill), as is any end after `bhist`'s
 * `Signal <…> requested by user or administrator` (a cancel through `Lrms.cancelJob` is already
 * `Cancelled`); a 128+N end with a `MEMLIMIT` block and no requested signal is the memory limit
 * (signal 9, as `TERM_MEMLIMIT`); otherwise 128+N is signal N, as for any shell.
 *
 * `bsub`'s command line, the parallel shape (`-n`, `span[]`, `-gpu`, `-x`), job arrays (`-J
 * "name[1-N]%T"`, elements `123[4]`, which every command here takes and whose long output starts
 * `Job <123[4]>`) and rerunnability are in `parse/submit.ts` (re-exported here). A requeued job's
 * earlier ends in `bhist -l` are not its end (`lastRun`).
 *
 * @since 0.1.0
 * @module
 */
import { tally } from "../../src/internal/queue.ts"
import { withIds } from "../batch/internal/dialect.ts"
import { mapState } from "./parse/long.ts"

export * from "./parse/long.ts"
export * from "./parse/submit.ts"

// =============================================================================
// Job ids and bsub
// =============================================================================

const jobIdRe = /^\d{1,12}(?:\[\d{1,9}\])?$/

/**
 * Tells whether a job id may be put on a command line: `123`, `123[4]`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidJobId = (id: string): boolean => jobIdRe.test(id)

/**
 * Reads the job id from `bsub`'s output: `Job <N> is submitted to ... queue <q>.`
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBsubJobId = (stdout: string): string | undefined =>
  /^Job <(\d+)> is submitted/im.exec(stdout)?.[1]

/**
 * Whether `bsub`'s refusal may pass if tried again unchanged (mbatchd busy or unreachable).
 *
 * @since 0.1.0
 * @category parsing
 */
export const bsubRetryable = (output: string): boolean =>
  /LSF is down|batch system daemon not responding|Failed in an LSF library call|try again|timed out|too many jobs/i
    .test(output)

/**
 * The `bhist -l` argv for many jobs (OpenLava's accounting).
 *
 * @since 0.1.0
 * @category commands
 */
export const bhistArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["bhist", "-l"], ids, isValidJobId)

/**
 * The `bjobs -l` argv for many jobs (`-a` keeps finished ones listed until LSF cleans them).
 *
 * @since 0.1.0
 * @category commands
 */
export const bjobsArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["bjobs", "-a", "-l"], ids, isValidJobId)

/**
 * Every job of the user, long form (`bjobs -a -l`), for finding jobs by tag.
 *
 * @since 0.1.0
 * @category commands
 */
export const bjobsAllArgv: ReadonlyArray<string> = ["bjobs", "-a", "-l"]

/**
 * The `bacct -l` argv for many jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const bacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["bacct", "-l"], ids, isValidJobId)

/**
 * The `bkill` argv for many jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const bkillArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withIds(["bkill"], ids, isValidJobId)

// =============================================================================
// Resource status
// =============================================================================

/**
 * Cores a job holds, from its `EXEC_HOST` column: every `N*host` token counts N, a bare host 1
 * (GC3Pie counted only the last token).
 *
 * @since 0.1.0
 * @category parsing
 */
export const execHostCores = (execHost: string): number =>
  execHost.split(":").filter((t) => t !== "").reduce((sum, token) => {
    const m = /^(\d{1,6})\*/.exec(token)
    return sum + (m !== null ? Number(m[1]) : 1)
  }, 0)

/**
 * Counts from `bjobs -u all -w` (`JOBID USER STAT QUEUE FROM_HOST EXEC_HOST JOB_NAME
 * SUBMIT_TIME`) and the cores running jobs hold.
 *
 * @since 0.1.0
 * @category parsing
 */
export const countJobs = (
  stdout: string,
  user: string,
): { queued: number; totalRun: number; userRun: number; userQueued: number; usedCores: number } => {
  let usedCores = 0
  const rows = stdout.split(/\r?\n/).map((raw) => raw.trim().split(/\s+/))
    .filter((f) => f.length >= 4 && jobIdRe.test(f[0]!))
    .map((f) => {
      const state = mapState(f[2]!)
      if (state === "RUNNING" && f.length >= 6) usedCores += execHostCores(f[5]!)
      return {
        kind: state === "SUBMITTED" || state === "STOPPED"
          ? "queued" as const
          : state === "RUNNING"
          ? "running" as const
          : "other" as const,
        mine: f[1] === user,
      }
    })
  return { ...tally(rows), usedCores }
}

/**
 * Free job slots from `bhosts -w` (`HOST_NAME STATUS JL/U MAX NJOBS RUN SSUSP USUSP RSV`): `MAX
 * − NJOBS` of every host whose status is `ok`; a host that is closed, unavailable or without a
 * limit (`-`) counts nothing. `undefined` when no host line is readable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseFreeSlots = (stdout: string): number | undefined => {
  let free: number | undefined
  for (const raw of stdout.split(/\r?\n/).slice(1)) {
    const f = raw.trim().split(/\s+/)
    if (f.length < 5) continue
    free ??= 0
    if (f[1] === "ok" && /^\d{1,6}$/.test(f[3]!) && /^\d{1,6}$/.test(f[4]!)) {
      free += Math.max(0, Number(f[3]) - Number(f[4]))
    }
  }
  return free
}

/**
 * Total cores from `lshosts -w` (`HOST_NAME type model cpuf ncpus ...`): the sum of the `ncpus`
 * column, `-` counting nothing. `undefined` when no host line is readable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTotalCores = (stdout: string): number | undefined => {
  let total: number | undefined
  for (const raw of stdout.split(/\r?\n/).slice(1)) {
    const f = raw.trim().split(/\s+/)
    if (f.length < 5) continue
    if (/^\d{1,6}$/.test(f[4]!)) total = (total ?? 0) + Number(f[4])
    else if (f[4] === "-") total ??= 0
  }
  return total
}
