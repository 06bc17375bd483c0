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
 * @since 0.1.0
 * @module
 */
import * as Duration from "effect/Duration"
import * as Clock from "../../src/internal/clock.ts"
import { tally } from "../../src/internal/queue.ts"
import * as Job from "../../src/Job.ts"
import * as Quantity from "../../src/Quantity.ts"
import type { RunState } from "../../src/RunState.ts"
import * as Shell from "../../src/Shell.ts"
import * as Termination from "../../src/Termination.ts"

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
 * The LSF variant: `lsf` (IBM Spectrum LSF 10) or `openlava` (OpenLava 3, LSF 7-era).
 *
 * @since 0.1.0
 * @category models
 */
export type Flavour = "lsf" | "openlava"

/**
 * What goes on a `bsub` command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface BsubOptions {
  /** The variant (default `lsf`). */
  readonly flavour?: Flavour | undefined
  /** `-J`. */
  readonly jobname: string
  /** `-n N -R span[hosts=1]` above one core. */
  readonly cores: number
  /** Memory for the whole job in bytes, as `rusage[mem=<MB>]` (LSF's default unit, rounded up). */
  readonly memory?: number | undefined
  /** `-W [H:]MM`, minutes rounded up. */
  readonly walltime?: Duration.Duration | undefined
  /** `-q`. */
  readonly queue?: string | undefined
  /** `-P`. */
  readonly project?: string | undefined
  /** `-cwd` (LSF); OpenLava runs the job where `bsub` ran, and the job script changes to it. */
  readonly workdir: string
  /** `-oo` / `-eo` (OpenLava: `-o` / `-e`): where LSF writes the job's own stdout and stderr. */
  readonly output: string
  /** See {@linkcode BsubOptions.output}. */
  readonly error: string
  /** The job script, run as the job's command. */
  readonly script: string
}

/** What a shell reads back as it is: no quoting needed. */
const plainWord = /^[A-Za-z0-9_./-]+$/

/**
 * The job's command as LSF's shell must read it. LSF keeps the command words of `bsub` as one
 * command line and has a shell run it in `-cwd`, so the script's path is shell text there: it is
 * given relative to `-cwd` when it lies inside it (`./.lrms/job.sh`: no user text at all) and
 * quoted with `Shell.quote` whenever it holds anything but `[A-Za-z0-9_./-]`, so a spool
 * directory with blanks, `;`, `$(...)`, backquotes or quotes runs the script and nothing else.
 *
 * @since 0.1.0
 * @category commands
 */
export const commandWord = (script: string, workdir: string): string => {
  const dir = workdir.endsWith("/") ? workdir : `${workdir}/`
  const rest = script.startsWith(dir) ? script.slice(dir.length).replace(/^\/+/, "") : ""
  return shellWord(rest !== "" ? `./${rest}` : script)
}

/** A path as a shell must read it: as it is when plain, else quoted. */
const shellWord = (path: string): string =>
  plainWord.test(path) && !path.startsWith("-") ? path : Shell.quote(path)

/**
 * The `bsub` argv: `-J`, `-cwd`, `-oo`/`-eo` (overwrite; OpenLava: no `-cwd`, `-o`/`-e`),
 * `-n N -R "span[hosts=1]"` for several cores, `-R "rusage[mem=MB]"`, `-W H:MM`, `-q`, `-P`, and
 * the script as the command, as LSF's shell must read it ({@linkcode commandWord}). The other
 * words are `bsub`'s own arguments (passed as an argv, never through a shell).
 *
 * @since 0.1.0
 * @category commands
 */
export const bsubArgv = (o: BsubOptions): ReadonlyArray<string> => {
  const minutes = o.walltime !== undefined
    ? Math.max(1, Math.ceil(Duration.toMillis(o.walltime) / 60_000))
    : undefined
  const files = o.flavour === "openlava"
    ? ["-o", o.output, "-e", o.error]
    : ["-cwd", o.workdir, "-oo", o.output, "-eo", o.error]
  return [
    "bsub",
    "-J",
    o.jobname,
    ...files,
    ...(o.cores > 1 ? ["-n", String(o.cores), "-R", "span[hosts=1]"] : []),
    ...(o.memory !== undefined
      ? ["-R", `rusage[mem=${Math.max(1, Math.ceil(o.memory / 1024 ** 2))}]`]
      : []),
    ...(minutes !== undefined
      ? ["-W", `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`]
      : []),
    ...(o.queue !== undefined ? ["-q", o.queue] : []),
    ...(o.project !== undefined ? ["-P", o.project] : []),
    // OpenLava may start the job elsewhere than where bsub ran: the script's absolute path
    o.flavour === "openlava" ? shellWord(o.script) : commandWord(o.script, o.workdir),
  ]
}

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

// =============================================================================
// Long output: continuation lines, events, times
// =============================================================================

/**
 * Joins LSF's wrapped lines (see the module notes) and drops empty ones.
 *
 * @since 0.1.0
 * @category parsing
 */
export const unwrap = (text: string): Array<string> => {
  const out: Array<string> = []
  let previousLength = 0
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, "")
    const indent = /^ */.exec(line)![0].length
    if (out.length > 0 && indent >= 15 && previousLength >= 70 && line.trim() !== "") {
      out[out.length - 1] += line.slice(indent)
    } else if (line.trim() !== "") {
      out.push(line)
    }
    previousLength = raw.length
  }
  return out
}

/**
 * Reads an LSF event time, `Mon Oct  8 17:07:54` or `Mon Aug  4 12:28:51 2014`, as a naive ISO
 * string. Without a year: this year, unless that puts it after `now` by more than a day, then
 * the previous year.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseLsfTime = (text: string, now: Date = new Date()): string | undefined => {
  const m = /^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?: (\d{4}))?$/.exec(text.trim())
  if (m === null || Clock.monthIndex[m[1]!] === undefined) return undefined
  const build = (year: number) =>
    new Date(
      Date.UTC(
        year,
        Clock.monthIndex[m[1]!]!,
        Number(m[2]),
        Number(m[3]),
        Number(m[4]),
        Number(m[5]),
      ),
    )
  let at = build(m[6] !== undefined ? Number(m[6]) : now.getUTCFullYear())
  if (m[6] === undefined && at.getTime() > now.getTime() + 86_400_000) {
    at = build(now.getUTCFullYear() - 1)
  }
  return at.toISOString().slice(0, 19)
}

const eventRe = /^(\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2}(?: \d{4})?): +(.*)$/

/** The submission, start (or dispatch) and completion times of a job's event lines. */
const eventTimes = (lines: ReadonlyArray<string>, now: Date) => {
  let submitted: string | undefined
  let started: string | undefined
  let completed: string | undefined
  for (const line of lines) {
    const e = eventRe.exec(line)
    if (e === null) continue
    const at = parseLsfTime(e[1]!, now)
    if (/^Submitted/.test(e[2]!)) submitted ??= at
    else if (/^(Started|Dispatched)/.test(e[2]!)) started ??= at
    else if (/^(Completed|Done successfully|Exited)/.test(e[2]!)) completed ??= at
  }
  return { submitted, started, completed }
}

/** A run limit of `bjobs -l` / `bhist -l` (` RUNLIMIT` then ` 1.0 min of vm`), in seconds. */
const runLimitSeconds = (events: string): number | undefined => {
  const m = /^RUNLIMIT\s*\n\s*(\d{1,9}(?:\.\d{1,6})?) min\b/m.exec(events)
  return m === null ? undefined : Number(m[1]) * 60
}

/**
 * How an `EXIT`ed job ended, from its event text and, when known, how long it ran (see the
 * module notes).
 *
 * @since 0.1.0
 * @category parsing
 */
export const exitTermination = (
  events: string,
  ranSeconds?: number | undefined,
): Termination.Termination => {
  const killed = Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)
  // LSF's reason first: a runlimit kill also says "Exited by signal 12" (the SIGUSR2 it sent)
  if (/TERM_MEMLIMIT|TERM_SWAP/.test(events)) return Termination.signalled(9)
  if (
    /TERM_(RUNLIMIT|CPULIMIT|OWNER|ADMIN|PREEMPT|FORCE_OWNER|FORCE_ADMIN|REQUEUE|DEADLINE)/.test(
      events,
    )
  ) {
    return killed
  }
  const code = /Exited with exit code (\d{1,5})/.exec(events)
  const exit = code !== null ? Number(code[1]) : undefined
  // OpenLava gives no reason: its kills are told by what else it prints
  const limit = runLimitSeconds(events)
  if (
    (exit === 140 || exit === 137) && limit !== undefined &&
    (ranSeconds === undefined || ranSeconds >= limit - 1)
  ) {
    return killed
  }
  // a job over its -M limit ends 128+N with a MEMLIMIT block and no requested signal
  if (
    exit !== undefined && exit > 128 && /^MEMLIMIT\s*$/m.test(events) &&
    !/Signal <[A-Z0-9]{1,10}> requested/.test(events)
  ) {
    return Termination.signalled(9)
  }
  if (
    /Signal <[A-Z0-9]{1,10}> requested by user or administrator/.test(events) &&
    (exit === undefined || exit > 128)
  ) {
    return killed
  }
  if (exit !== undefined) return Termination.fromShellExit(exit)
  const signal = /Exited by signal (\d{1,3})/.exec(events)
  if (signal !== null) return Termination.signalled(Number(signal[1]))
  return Termination.signalled(Termination.Signals.RemoteError)
}

/**
 * Maps an LSF job status: `PEND` → `SUBMITTED`; `RUN` → `RUNNING`; `PSUSP`, `USUSP`, `SSUSP` →
 * `STOPPED`; `DONE`, `EXIT` → `TERMINATING`; `ZOMBI` (being killed) → `RUNNING`; `WAIT`, `PROV`
 * → `SUBMITTED`; `UNKWN` and anything else → `UNKNOWN`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (status: string): RunState => {
  switch (status) {
    case "PEND":
    case "WAIT":
    case "PROV":
      return "SUBMITTED"
    case "RUN":
    case "ZOMBI":
      return "RUNNING"
    case "PSUSP":
    case "USUSP":
    case "SSUSP":
      return "STOPPED"
    case "DONE":
    case "EXIT":
      return "TERMINATING"
    default:
      return "UNKNOWN"
  }
}

/**
 * What `bjobs -l` or `bacct -l` says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface LsfRecord {
  /** The run state. */
  readonly state: RunState
  /** LSF's status (`RUN`, `EXIT`). */
  readonly native: string
  /** How the job ended (for `DONE` and `EXIT`). */
  readonly termination?: Termination.Termination | undefined
  /** What the job used. */
  readonly usage: Job.Usage
}

const memFactor: Readonly<Record<string, number>> = {
  "": 1024 ** 2,
  K: 1024,
  k: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  Kbytes: 1024,
  Mbytes: 1024 ** 2,
  Gbytes: 1024 ** 3,
}

/** `5M`, `222M`, `1.5G`, `3 Mbytes`, `12` (MB): bytes. */
const parseLsfMemory = (text: string): number | undefined => {
  const m = /^(\d{1,15}(?:\.\d{1,9})?) ?(Kbytes|Mbytes|Gbytes|[KkMGT])?$/.exec(text.trim())
  if (m === null) return undefined
  const bytes = Number(m[1]) * (memFactor[m[2] ?? ""] ?? NaN)
  return Number.isFinite(bytes) ? Math.round(bytes) : undefined
}

const secondsBetween = (a: string | undefined, b: string | undefined) =>
  a === undefined || b === undefined
    ? undefined
    : Math.max(0, (Date.parse(`${b}Z`) - Date.parse(`${a}Z`)) / 1000)

/** Splits long output into one block of unwrapped lines per `Job <N>` (OpenLava: `Job Id <N>`). */
const jobBlocks = (text: string): Array<{ id: string; lines: Array<string> }> => {
  const blocks: Array<{ id: string; lines: Array<string> }> = []
  for (const line of unwrap(text)) {
    const head = /^Job (?:Id )?<(\d{1,12}(?:\[\d{1,9}\])?)>/.exec(line.trim())
    if (head !== null) blocks.push({ id: head[1]!, lines: [line.trim()] })
    else if (blocks.length > 0) blocks.at(-1)!.lines.push(line.trim())
  }
  return blocks
}

/**
 * Parses `bjobs -l` output (one or many jobs): status, exit, CPU time, `MAX MEM`, and the
 * submission, start and completion times.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBjobsLong = (
  stdout: string,
  now: Date = new Date(),
): ReadonlyMap<string, LsfRecord> => {
  const out = new Map<string, LsfRecord>()
  for (const { id, lines } of jobBlocks(stdout)) {
    const text = lines.join("\n")
    const status = /Status <([A-Z]+)>/.exec(text)?.[1] ?? ""
    const { submitted, started, completed } = eventTimes(lines, now)
    const cpu = /The CPU time used is ([\d.]{1,20}) seconds/.exec(text)?.[1]
    const maxMem = /MAX MEM: *([\d.]{1,20}) *(Kbytes|Mbytes|Gbytes)/.exec(text)
    const state = mapState(status)
    out.set(id, {
      state,
      native: status,
      termination: status === "DONE"
        ? Termination.exited(0)
        : status === "EXIT"
        ? exitTermination(text, secondsBetween(started, completed))
        : undefined,
      usage: usage({
        cpu: cpu !== undefined ? Number(cpu) : undefined,
        memory: maxMem !== null ? parseLsfMemory(`${maxMem[1]} ${maxMem[2]}`) : undefined,
        submitted,
        started,
        completed,
      }),
    })
  }
  return out
}

const usage = (u: {
  cpu: number | undefined
  memory: number | undefined
  submitted: string | undefined
  started: string | undefined
  completed: string | undefined
}) => {
  const seconds = secondsBetween(u.started, u.completed)
  const extra: Record<string, string> = {}
  if (u.submitted !== undefined) extra.lsf_submission_time = u.submitted
  if (u.started !== undefined) extra.lsf_start_time = u.started
  if (u.completed !== undefined) extra.lsf_completion_time = u.completed
  return new Job.Usage({
    ...(seconds !== undefined ? { duration: Duration.seconds(seconds) } : {}),
    ...(u.cpu !== undefined && Number.isFinite(u.cpu)
      ? { cpuTime: Duration.millis(Math.round(u.cpu * 1000)) }
      : {}),
    ...(u.memory !== undefined ? { maxUsedMemory: Quantity.memory(u.memory) } : {}),
    extra,
  })
}

/**
 * Parses `bacct -l` output: per job the status, events and the
 * `CPU_T WAIT TURNAROUND STATUS HOG_FACTOR MEM SWAP` line (`maxUsedMemory` is `MEM`, the
 * resident memory; GC3Pie added swap to it).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBacctLong = (
  stdout: string,
  now: Date = new Date(),
): ReadonlyMap<string, LsfRecord> => {
  const out = new Map<string, LsfRecord>()
  for (const { id, lines } of jobBlocks(stdout)) {
    const text = lines.join("\n")
    const status = /Status <([A-Z]+)>/.exec(text)?.[1] ?? ""
    const { submitted, started, completed } = eventTimes(lines, now)
    const header = lines.findIndex((l) => /CPU_T\s+WAIT\s+TURNAROUND\s+STATUS/.test(l))
    const values = header >= 0 ? (lines[header + 1] ?? "").trim().split(/\s+/) : []
    const cpu = values.length >= 7 && /^[\d.]+$/.test(values[0]!) ? Number(values[0]) : undefined
    const memory = values.length >= 7 ? parseLsfMemory(values[5]!) : undefined
    if (status !== "DONE" && status !== "EXIT") continue
    out.set(id, {
      state: "TERMINATING",
      native: status,
      termination: status === "DONE"
        ? Termination.exited(0)
        : exitTermination(text, secondsBetween(started, completed)),
      usage: usage({ cpu, memory, submitted, started, completed }),
    })
  }
  return out
}

/**
 * Parses `bhist -l` output (OpenLava's accounting: it has no `bacct`): per finished job the end
 * (`Done successfully`, `Exited with exit code N`, or a bare `Exited` for a job killed before it
 * ran), CPU time, and the submission, dispatch and end times. `bhist` prints no status and no
 * memory; jobs still pending or running are left out.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBhistLong = (
  stdout: string,
  now: Date = new Date(),
): ReadonlyMap<string, LsfRecord> => {
  const out = new Map<string, LsfRecord>()
  for (const { id, lines } of jobBlocks(stdout)) {
    const events = lines.map((l) => eventRe.exec(l)?.[2] ?? "")
    const done = events.some((e) => /^Done successfully/.test(e))
    const exited = events.some((e) => /^Exited\b/.test(e))
    if (!done && !exited) continue
    const text = lines.join("\n")
    const { submitted, started, completed } = eventTimes(lines, now)
    const cpu = /The CPU time used is ([\d.]{1,20}) seconds/.exec(text)?.[1]
    out.set(id, {
      state: "TERMINATING",
      native: done ? "DONE" : "EXIT",
      termination: done
        ? Termination.exited(0)
        : exitTermination(text, secondsBetween(started, completed)),
      usage: usage({
        cpu: cpu !== undefined ? Number(cpu) : undefined,
        memory: undefined,
        submitted,
        started,
        completed,
      }),
    })
  }
  return out
}

/**
 * The `bhist -l` argv for many jobs (OpenLava's accounting).
 *
 * @since 0.1.0
 * @category commands
 */
export const bhistArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length > 0 && ids.every(isValidJobId) ? ["bhist", "-l", ...new Set(ids)] : undefined

/**
 * The `bjobs -l` argv for many jobs (`-a` keeps finished ones listed until LSF cleans them).
 *
 * @since 0.1.0
 * @category commands
 */
export const bjobsArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length > 0 && ids.every(isValidJobId) ? ["bjobs", "-a", "-l", ...new Set(ids)] : undefined

/**
 * Every job of the user, long form (`bjobs -a -l`), for finding jobs by tag.
 *
 * @since 0.1.0
 * @category commands
 */
export const bjobsAllArgv: ReadonlyArray<string> = ["bjobs", "-a", "-l"]

/**
 * Tag to job id, from `bjobs -l` blocks whose output file lies in a job directory
 * (`…/job.<tag>/.lrms/…`): LSF keeps the output path the batch flow gave `bsub`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTaggedJobs = (stdout: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const { id, lines } of jobBlocks(stdout)) {
    const tag = /Output File(?: \(overwrite\))? ?<[^>]*\/job\.([^/>]+)\/\.lrms\//.exec(
      lines.join(" "),
    )?.[1]
    if (tag !== undefined) out.set(tag, id)
  }
  return out
}

/**
 * The `bacct -l` argv for many jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const bacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length > 0 && ids.every(isValidJobId) ? ["bacct", "-l", ...new Set(ids)] : undefined

/**
 * The `bkill` argv for many jobs.
 *
 * @since 0.1.0
 * @category commands
 */
export const bkillArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length > 0 && ids.every(isValidJobId) ? ["bkill", ...new Set(ids)] : undefined

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
