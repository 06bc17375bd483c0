/**
 * Grid Engine's (SGE, Son of Grid Engine, OGS, Univa) argvs and pure parsers: `qsub` (job id),
 * `qstat` (the state of every job of the user in one call, ids matched exactly), `qacct -j`
 * (how a job ended and what it used), `qdel`, and the queue counts and free slots for the resource
 * status.
 *
 * Nothing here does I/O and nothing throws: unreadable input gives `undefined` or leaves the job
 * out of the returned map.
 *
 * Units: `qacct` of SGE 8.1.9 prints `2s`, `0.118s`, `4.336KB`, `5.012MB`; older versions print
 * bare numbers (seconds, bytes). Grid Engine's memory suffixes follow its own rule: `K`, `M`,
 * `G` are 1024-based and `k`, `m`, `g` 1000-based; `KB`, `MB`, `GB` (qacct) are 1024-based.
 * GC3Pie dropped the last two characters before the number (`12M` read as 1 MB); this module
 * reads the whole number.
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
import * as Termination from "../../src/Termination.ts"
import { mebibytesUp, secondsUp, withIds } from "../batch/internal/dialect.ts"

// =============================================================================
// Job ids and qsub
// =============================================================================

const jobIdRe = /^\d{1,12}$/

/**
 * Tells whether a job id may be put on a command line (digits only).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidJobId = (id: string): boolean => jobIdRe.test(id)

/**
 * What goes on a `qsub` command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface QsubOptions {
  /** `-N`. */
  readonly jobname: string
  /** Slots; above 1 the job asks for `-pe <pe> N`. */
  readonly cores: number
  /** The parallel environment for multi-core jobs. */
  readonly pe?: string | undefined
  /** Memory for the whole job in bytes; requested per slot (Grid Engine's unit) in MiB. */
  readonly memory?: number | undefined
  /** The resource memory is requested as (`mem_free`, `h_vmem`, `virtual_free`). */
  readonly memoryResource: string
  /** Wall-clock limit, whole seconds rounded up. */
  readonly walltime?: Duration.Duration | undefined
  /** The limits walltime is requested as: `h_rt`, `s_rt`, or both (then `h_rt` a minute later). */
  readonly walltimeResources: ReadonlyArray<string>
  /** `-q`. */
  readonly queue?: string | undefined
  /** Where Grid Engine writes the script's own stdout and stderr. */
  readonly output: string
  /** See {@linkcode QsubOptions.output}. */
  readonly error: string
  /** The job script. */
  readonly script: string
}

/** Grid Engine expands `$JOB_ID`, `$HOME`... in -o/-e paths; a path with `$` is refused upstream. */

/**
 * The `qsub` argv: `-cwd -S /bin/sh`, the job name, the scheduler's output files, walltime in
 * seconds rounded up, memory per slot in MiB rounded up, `-pe` for more than one slot, the
 * queue, the script last.
 *
 * @since 0.1.0
 * @category commands
 */
export const qsubArgv = (o: QsubOptions): ReadonlyArray<string> => {
  const seconds = o.walltime !== undefined ? secondsUp(o.walltime) : undefined
  const perSlotMiB = o.memory !== undefined ? mebibytesUp(o.memory / o.cores) : undefined
  return [
    "qsub",
    "-cwd",
    "-S",
    "/bin/sh",
    "-N",
    o.jobname,
    "-o",
    o.output,
    "-e",
    o.error,
    ...(seconds !== undefined
      ? [
        "-l",
        // with both, the soft limit's SIGUSR1 comes a minute before the hard limit's kill
        o.walltimeResources.map((r) =>
          `${r}=${r === "h_rt" && o.walltimeResources.includes("s_rt") ? seconds + 60 : seconds}`
        ).join(","),
      ]
      : []),
    ...(perSlotMiB !== undefined ? ["-l", `${o.memoryResource}=${perSlotMiB}M`] : []),
    ...(o.cores > 1 && o.pe !== undefined ? ["-pe", o.pe, String(o.cores)] : []),
    ...(o.queue !== undefined ? ["-q", o.queue] : []),
    o.script,
  ]
}

/**
 * Reads the job id from `qsub`'s output: `Your job N ("name") has been submitted`, or a `-terse`
 * line `N`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQsubJobId = (stdout: string): string | undefined => {
  const m = /Your job(?:-array)? (\d+)(?:\.[\d:-]+)? \(".*"\) has been submitted/i.exec(stdout)
  if (m !== null) return m[1]
  for (const line of stdout.split(/\r?\n/)) {
    const t = /^(\d+)(?:\.[\d:-]+)?$/.exec(line.trim())
    if (t !== null) return t[1]
  }
  return undefined
}

/**
 * Whether `qsub`'s refusal may pass if tried again unchanged (qmaster busy or unreachable).
 *
 * @since 0.1.0
 * @category parsing
 */
export const qsubRetryable = (output: string): boolean =>
  /unable to contact qmaster|commlib error|Error reading answer list|timeout|try again/i.test(
    output,
  )

// =============================================================================
// qstat
// =============================================================================

/**
 * Maps a Grid Engine state code to a run state. `E` (error: `Eqw`) and `h` (hold) and `s`/`S`/`T`
 * (suspended) need someone to act: `STOPPED`. `qw`/`t` (waiting, being transferred) are
 * `SUBMITTED`/`RUNNING`; `r`, `R` (restarted) `RUNNING`; `d` (being deleted) `RUNNING` until it
 * leaves; `z` (zombie: finished) `TERMINATING`.
 *
 * GC3Pie reads `Eqw` as SUBMITTED: the job would wait forever for a change that never comes.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (code: string): RunState => {
  if (code === "") return "UNKNOWN"
  if (code.includes("E") || code.includes("h") || /[sST]/.test(code)) return "STOPPED"
  if (code.includes("z")) return "TERMINATING"
  if (code.includes("r") || code.includes("R") || code.includes("t") || code.includes("d")) {
    return "RUNNING"
  }
  if (code.includes("qw") || code === "w") return "SUBMITTED"
  return "UNKNOWN"
}

/**
 * What `qstat` says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface QstatRecord {
  /** The run state. */
  readonly state: RunState
  /** Grid Engine's state code (`qw`, `r`, `Eqw`). */
  readonly native: string
  /** The job's owner. */
  readonly user: string
  /** Slots the job uses or asks for. */
  readonly slots: number
}

/**
 * Parses `qstat`'s default listing: a map from job id to its state (an array job's tasks are
 * folded into one entry, the most active state winning). Header, separator and other lines are
 * skipped; ids are matched exactly (GC3Pie's `egrep '^ *12'` also matched job 123).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQstat = (stdout: string): ReadonlyMap<string, QstatRecord> => {
  const out = new Map<string, QstatRecord>()
  for (const raw of stdout.split(/\r?\n/)) {
    const f = raw.trim().split(/\s+/)
    // id prior name user state date time [queue] slots [tasks]
    if (f.length < 8 || !jobIdRe.test(f[0]!) || !/^\d+(\.\d+)?$/.test(f[1]!)) continue
    if (!/^\d{2}\/\d{2}\/\d{4}$/.test(f[5]!)) continue
    const native = f[4]!
    const slotsText = f.length >= 9 && f[7]!.includes("@") ? f[8]! : f[7]!
    const record: QstatRecord = {
      state: mapState(native),
      native,
      user: f[3]!,
      slots: /^\d{1,9}$/.test(slotsText) ? Number(slotsText) : 1,
    }
    const prev = out.get(f[0]!)
    if (prev === undefined || (prev.state !== "RUNNING" && record.state === "RUNNING")) {
      out.set(f[0]!, record)
    }
  }
  return out
}

// =============================================================================
// qacct
// =============================================================================

/**
 * The `qacct` argv for one job (qacct takes one id at a time).
 *
 * @since 0.1.0
 * @category commands
 */
export const qacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length === 1 && isValidJobId(ids[0]!) ? ["qacct", "-j", ids[0]!] : undefined

const sizeFactor: Readonly<Record<string, number>> = {
  "": 1,
  B: 1,
  k: 1000,
  m: 1000 ** 2,
  g: 1000 ** 3,
  t: 1000 ** 4,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
}

/**
 * Parses a Grid Engine memory figure to bytes: `5.012MB`, `4.336KB`, `0.000B`, `13.152M`,
 * `12M` (12 MiB, not GC3Pie's 1 MB), `750m` (decimal), `1024` (bytes). `undefined` otherwise.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSgeMemory = (text: string): number | undefined => {
  const m = /^(\d{1,20}(?:\.\d{1,20})?)([kmgtKMGT]B?|B)?$/.exec(text.trim())
  if (m === null) return undefined
  const factor = sizeFactor[m[2] ?? ""]
  if (factor === undefined) return undefined
  const bytes = Number(m[1]) * factor
  return Number.isFinite(bytes) && bytes <= Number.MAX_SAFE_INTEGER ? bytes : undefined
}

/**
 * Parses seconds as `qacct` prints them: `10`, `0.248`, `2s`, `0.118s`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSgeSeconds = (text: string): Duration.Duration | undefined => {
  const m = /^(\d{1,12}(?:\.\d{1,9})?)s?$/.exec(text.trim())
  return m === null ? undefined : Duration.millis(Math.round(Number(m[1]) * 1000))
}

/**
 * Reads a `qacct` timestamp (`Thu Mar 15 08:42:46 2012`, `03/15/2012 08:42:46[.123]`,
 * `2012-03-15T08:42:46`) as a naive ISO string; `undefined` for anything else (`-/-`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSgeTime = (text: string): string | undefined =>
  Clock.fromCtime(text) ?? Clock.fromUsDate(text) ??
    /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})/.exec(text.trim())?.[1]

/**
 * What `qacct -j` says about a job.
 *
 * @since 0.1.0
 * @category models
 */
export interface QacctRecord {
  /** Always `TERMINATING`: qacct only knows jobs that ended. */
  readonly state: RunState
  /** `failed` code and text and the exit status, e.g. `failed 37: qmaster enforced h_rt...`. */
  readonly native: string
  /** How the job ended. */
  readonly termination: Termination.Termination
  /** What the job used. */
  readonly usage: Job.Usage
}

/**
 * How a job ended, from qacct's `failed` and `exit_status`: `failed 0` is the job's own exit
 * (137 = killed by signal 9); `failed 37` (qmaster enforced `h_rt`, `h_cpu` or `h_vmem`) is the
 * batch system's kill, `RemoteKill` with exit 75 as SLURM's TIMEOUT; `failed 100` (ended by a
 * signal, e.g. `qdel`) keeps the signal; any other `failed` code means the job could not be run
 * as asked (no output file, bad directory...): `RemoteError`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const terminationOf = (failed: number, exitStatus: number): Termination.Termination => {
  if (failed === 0 || failed === 100) return Termination.fromShellExit(exitStatus)
  if (failed === 37) {
    return Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)
  }
  return Termination.signalled(Termination.Signals.RemoteError)
}

/**
 * Parses `qacct -j` output: the last record of each job number (a rerun job has several), keyed
 * by job id. A record without `exit_status` is skipped. Every key that has no field of its own
 * is kept in `usage.extra` as `sge_<key>`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQacct = (stdout: string): ReadonlyMap<string, QacctRecord> => {
  const records: Array<Map<string, string>> = []
  let current: Map<string, string> | undefined
  for (const raw of stdout.split(/\r?\n/)) {
    if (raw.includes("====")) {
      current = undefined
      continue
    }
    const m = /^(\w+)\s+(.*)$/.exec(raw.trim())
    if (m === null) continue
    const [, key, value] = m as unknown as [string, string, string]
    // a jobnumber line starts a new record when the separator was left out (grep'd output)
    if (current === undefined || (key === "jobnumber" && current.has("jobnumber"))) {
      current = new Map()
      records.push(current)
    }
    if (!current.has(key)) current.set(key, value.trim())
  }
  const out = new Map<string, QacctRecord>()
  for (const r of records) {
    const id = r.get("jobnumber")
    const statusText = /^(-?\d{1,10})/.exec(r.get("exit_status") ?? "")
    if (id === undefined || !jobIdRe.test(id) || statusText === null) continue
    const failedText = r.get("failed") ?? "0"
    const failed = Number(/^(\d{1,10})/.exec(failedText)?.[1] ?? "0")
    const exitStatus = Number(statusText[1])
    const slots = /^\d{1,9}$/.test(r.get("slots") ?? "") ? Number(r.get("slots")) : undefined
    const duration = parseSgeSeconds(r.get("ru_wallclock") ?? "")
    const cpuTime = parseSgeSeconds(r.get("cpu") ?? "")
    const vmem = parseSgeMemory(r.get("maxvmem") ?? "")
    const rss = parseSgeMemory(r.get("ru_maxrss") ?? "")
    const extra: Record<string, string> = {}
    for (const [k, v] of r) {
      if (!["ru_wallclock", "cpu", "maxvmem", "slots", "exit_status", "failed"].includes(k)) {
        extra[`sge_${k}`] = v
      }
    }
    extra.sge_failed = failedText
    // GC3Pie's names for the queue
    if (r.has("qname")) extra.sge_queue = r.get("qname")!
    const times = {
      sge_submission_time: parseSgeTime(r.get("qsub_time") ?? ""),
      sge_start_time: parseSgeTime(r.get("start_time") ?? ""),
      sge_completion_time: parseSgeTime(r.get("end_time") ?? ""),
    }
    for (const [k, v] of Object.entries(times)) if (v !== undefined) extra[k] = v
    const memory = (bytes: number | undefined) =>
      bytes === undefined ? undefined : Quantity.memory(Math.round(bytes))
    const maxUsedMemory = memory(rss !== undefined && rss > 0 ? rss : vmem)
    const maxUsedVirtualMemory = memory(vmem)
    out.set(id, {
      state: "TERMINATING",
      native: `failed ${failedText}, exit_status ${r.get("exit_status")}`,
      termination: terminationOf(failed, exitStatus),
      usage: new Job.Usage({
        ...(duration !== undefined ? { duration } : {}),
        ...(cpuTime !== undefined ? { cpuTime } : {}),
        ...(maxUsedMemory !== undefined ? { maxUsedMemory } : {}),
        ...(maxUsedVirtualMemory !== undefined ? { maxUsedVirtualMemory } : {}),
        ...(slots !== undefined ? { cores: slots } : {}),
        extra,
      }),
    })
  }
  return out
}

// =============================================================================
// qdel and the resource status
// =============================================================================

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
 * Queue counts from `qstat -u '*'`: waiting (`qw`, not held or in error) and running jobs, of
 * everyone and of `user`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const countJobs = (
  stdout: string,
  user: string,
): { queued: number; totalRun: number; userRun: number; userQueued: number } =>
  tally(
    [...parseQstat(stdout).values()].map((r) => ({
      kind: r.state === "SUBMITTED" ? "queued" : r.state === "RUNNING" ? "running" : "other",
      mine: r.user === user,
    })),
  )

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
