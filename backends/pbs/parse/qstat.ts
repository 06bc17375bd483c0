/**
 * `qstat -f` (text, or PBS Pro's `-F json`) and `tracejob`: the state of many jobs in one call,
 * and for finished ones the exit status, read in the variant's codes, and the usage. Part of
 * `PbsParse`, which re-exports it (see its notes on exit statuses and memory).
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Clock from "../../../src/internal/clock.ts"
import * as Job from "../../../src/Job.ts"
import * as Quantity from "../../../src/Quantity.ts"
import type { RunState } from "../../../src/RunState.ts"
import * as Termination from "../../../src/Termination.ts"
import { withIds } from "../../batch/internal/dialect.ts"
import { type Flavour, isValidJobId, jobIdRe, sequenceOf } from "./jobs.ts"

// =============================================================================
// Exit statuses, memory, times
// =============================================================================

/** The `JOB_EXEC_*` codes of the batch system's limit kills, per variant. */
const limitKills: Readonly<Record<Flavour, ReadonlyArray<number>>> = {
  torque: [-10, -11, -12],
  pbspro: [-24, -25, -28, -29],
}
const memoryKills: Readonly<Record<Flavour, ReadonlyArray<number>>> = {
  torque: [],
  pbspro: [-26, -27],
}

/**
 * How a job ended, from its PBS exit status, read in the variant's codes (see the module notes).
 *
 * @since 0.1.0
 * @category parsing
 */
export const terminationOf = (
  status: number,
  flavour: Flavour = "torque",
): Termination.Termination => {
  if (status >= 0 && status <= 255) return Termination.fromShellExit(status)
  if (status > 256 && status < 256 + 128) return Termination.signalled(status - 256)
  if (limitKills[flavour].includes(status)) {
    return Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)
  }
  if (memoryKills[flavour].includes(status)) return Termination.signalled(9)
  return Termination.signalled(Termination.Signals.RemoteError)
}

const memFactor: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  w: 8,
  kb: 1024,
  kw: 8 * 1024,
  mb: 1024 ** 2,
  mw: 8 * 1024 ** 2,
  gb: 1024 ** 3,
  gw: 8 * 1024 ** 3,
  tb: 1024 ** 4,
  tw: 8 * 1024 ** 4,
}

/**
 * Parses a PBS size (`2364kb`, `190944kb`, `1gb`, `512`) to bytes; `undefined` otherwise.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parsePbsMemory = (text: string): number | undefined => {
  const m = /^(\d{1,20})([kmgt]?[bw])?$/i.exec(text.trim())
  if (m === null) return undefined
  const bytes = Number(m[1]) * (memFactor[(m[2] ?? "").toLowerCase()] ?? NaN)
  return Number.isFinite(bytes) && bytes <= Number.MAX_SAFE_INTEGER ? bytes : undefined
}

/**
 * Parses a PBS duration `HH:MM:SS` (hours may exceed 24) or plain seconds.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parsePbsDuration = (text: string): Duration.Duration | undefined => {
  const t = text.trim()
  const m = /^(\d{1,9}):(\d{1,2}):(\d{1,2})$/.exec(t)
  if (m !== null) return Duration.seconds(Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]))
  return /^\d{1,12}$/.test(t) ? Duration.seconds(Number(t)) : undefined
}

/**
 * Reads a PBS timestamp (`Mon Nov 23 23:27:19 2026` in `qstat -f`, `03/09/2012 09:31:53` in
 * `tracejob`, or seconds since the epoch) as a naive ISO string.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parsePbsTime = (text: string): string | undefined => {
  const t = text.trim()
  if (/^\d{9,11}$/.test(t)) return new Date(Number(t) * 1000).toISOString().slice(0, 19)
  return Clock.fromCtime(t) ?? Clock.fromUsDate(t)
}

// =============================================================================
// qstat -f
// =============================================================================

/**
 * Maps a PBS job state letter: `Q`, `W` (waiting for its start time), `T` (moving) →
 * `SUBMITTED`, also for a job queued again after `qrerun` or a node failure (a requeue);
 * `H`, `S`, `U` (held, suspended) → `STOPPED`; `R`, `E` (exiting), `B` (array begun) →
 * `RUNNING`; `C` (Torque: completed), `F` (PBS Pro: finished), `X` (a finished or deleted
 * subjob of a PBS Pro array) → `TERMINATING`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const mapState = (code: string): RunState => {
  switch (code.trim()) {
    case "Q":
    case "W":
    case "T":
    case "M":
      return "SUBMITTED"
    case "H":
    case "S":
    case "U":
      return "STOPPED"
    case "R":
    case "E":
    case "B":
      return "RUNNING"
    case "C":
    case "F":
    case "X":
      return "TERMINATING"
    default:
      return "UNKNOWN"
  }
}

/**
 * What `qstat -f` (or `qstat -x -f`) says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface QstatRecord {
  /** The job id as printed (`123.server.domain`). */
  readonly id: string
  /** The run state. */
  readonly state: RunState
  /** The state letter. */
  readonly native: string
  /** How the job ended, once `exit_status` is known. */
  readonly termination?: Termination.Termination | undefined
  /** What the job used (from `resources_used.*` and the times). */
  readonly usage: Job.Usage
  /** Every attribute, as printed (long values joined). */
  readonly attributes: ReadonlyMap<string, string>
}

const usageOf = (a: ReadonlyMap<string, string>, prefix = "pbs"): Job.Usage => {
  const get = (...keys: Array<string>) => {
    for (const k of keys) {
      const v = a.get(k) ?? a.get(k.toLowerCase())
      if (v !== undefined) return v
    }
    return undefined
  }
  const duration = parsePbsDuration(get("resources_used.walltime") ?? "")
  const cpuTime = parsePbsDuration(get("resources_used.cput") ?? "")
  const mem = parsePbsMemory(get("resources_used.mem") ?? "")
  const vmem = parsePbsMemory(get("resources_used.vmem") ?? "")
  const ncpus = get("resources_used.ncpus", "Resource_List.ncpus")
  const extra: Record<string, string> = {}
  const times: Record<string, string | undefined> = {
    [`${prefix}_submission_time`]: parsePbsTime(get("qtime", "ctime") ?? ""),
    [`${prefix}_running_time`]: parsePbsTime(get("start_time", "stime") ?? ""),
    [`${prefix}_end_time`]: parsePbsTime(get("comp_time", "obittime", "mtime") ?? ""),
    [`${prefix}_queue`]: get("queue"),
    [`${prefix}_jobname`]: get("Job_Name"),
    [`${prefix}_exec_host`]: get("exec_host"),
  }
  for (const [k, v] of Object.entries(times)) if (v !== undefined && v !== "") extra[k] = v
  const memory = (bytes: number | undefined) =>
    bytes === undefined ? undefined : Quantity.memory(Math.round(bytes))
  return new Job.Usage({
    ...(duration !== undefined ? { duration } : {}),
    ...(cpuTime !== undefined ? { cpuTime } : {}),
    ...(memory(mem) !== undefined ? { maxUsedMemory: memory(mem)! } : {}),
    ...(memory(vmem) !== undefined ? { maxUsedVirtualMemory: memory(vmem)! } : {}),
    ...(ncpus !== undefined && /^\d{1,9}$/.test(ncpus) ? { cores: Number(ncpus) } : {}),
    extra,
  })
}

/** The `Job Id:` blocks of `qstat -f`'s text format: id and attributes, long values joined. */
const textBlocks = (stdout: string): Array<{ id: string; attrs: Map<string, string> }> => {
  const blocks: Array<{ id: string; attrs: Map<string, string> }> = []
  let current: { id: string; attrs: Map<string, string> } | undefined
  let lastKey: string | undefined
  for (const raw of stdout.split(/\r?\n/)) {
    const head = /^Job Id:\s*(\S+)/.exec(raw)
    if (head !== null) {
      current = { id: head[1]!, attrs: new Map() }
      blocks.push(current)
      lastKey = undefined
      continue
    }
    if (current === undefined || raw.trim() === "") continue
    const kv = /^\s+([A-Za-z_][\w.]*) = (.*)$/.exec(raw)
    if (kv !== null) {
      lastKey = kv[1]!
      current.attrs.set(lastKey, kv[2]!.trim())
    } else if (lastKey !== undefined && /^\s/.test(raw)) {
      current.attrs.set(lastKey, current.attrs.get(lastKey)! + raw.trim())
    }
  }
  return blocks
}

/**
 * The jobs of `qstat -f -F json`'s reply (`{"Jobs": {"<id>": {...}}}`): nested objects become
 * dotted names (`resources_used.walltime`), numbers their decimal text. Text that is not such
 * JSON yields no job.
 */
const jsonBlocks = (stdout: string): Array<{ id: string; attrs: Map<string, string> }> => {
  let doc: unknown
  try {
    doc = JSON.parse(stdout)
  } catch {
    return []
  }
  const jobs = typeof doc === "object" && doc !== null
    ? (doc as { readonly Jobs?: unknown }).Jobs
    : undefined
  if (typeof jobs !== "object" || jobs === null) return []
  const flatten = (value: unknown, prefix: string, into: Map<string, string>) => {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) {
        flatten(v, prefix === "" ? k : `${prefix}.${k}`, into)
      }
    } else if (typeof value === "string" || typeof value === "number") {
      into.set(prefix, String(value))
    } else if (typeof value === "boolean") {
      into.set(prefix, value ? "True" : "False")
    }
  }
  return Object.entries(jobs).map(([id, attributes]) => {
    const attrs = new Map<string, string>()
    flatten(attributes, "", attrs)
    return { id, attrs }
  })
}

/**
 * Parses `qstat -f` / `qstat -x -f` output (Torque, PBS Pro, and Slurm's PBS wrappers): one
 * record per `Job Id:` block, `key = value` attribute lines, long values continued on the next
 * lines (Torque wraps them, indented by a tab); or PBS Pro's `-F json`, told by its opening
 * brace. Keyed by the job id as printed; exit statuses read in the variant's codes, and only for
 * a job that ended: a queued PBS Pro subjob carries its parent's `Exit_status`, a rerun job its
 * previous run's (PBS Pro −11, `JOB_EXEC_RERUN`; Torque the last exit), and neither has ended.
 * Torque's array elements held by the array's slot limit (`H`, hold type `l`) are `SUBMITTED`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQstatFull = (
  stdout: string,
  flavour: Flavour = "torque",
): ReadonlyMap<string, QstatRecord> => {
  const blocks = stdout.trimStart().startsWith("{") ? jsonBlocks(stdout) : textBlocks(stdout)
  const out = new Map<string, QstatRecord>()
  for (const { id, attrs } of blocks) {
    if (!jobIdRe.test(id)) continue
    const native = attrs.get("job_state") ?? ""
    const statusText = attrs.get("exit_status") ?? attrs.get("Exit_status")
    const status = statusText !== undefined && /^-?\d{1,10}$/.test(statusText.trim())
      ? Number(statusText)
      : undefined
    // Torque holds an array's elements beyond its slot limit (`-t 0-9%2`) with hold type `l`:
    // they wait their turn, no one has to release them
    const state = native === "H" && attrs.get("Hold_Types") === "l" ? "SUBMITTED" : mapState(native)
    out.set(id, {
      id,
      state,
      native,
      termination: status !== undefined && state === "TERMINATING"
        ? terminationOf(status, flavour)
        : undefined,
      usage: usageOf(attrs),
      attributes: attrs,
    })
  }
  return out
}

/**
 * The `qstat -f` argv for many jobs (`-x` for PBS Pro, which then shows finished jobs too).
 *
 * @since 0.1.0
 * @category commands
 */
export const qstatFullArgv = (
  flavour: Flavour,
  format: "text" | "json" = "text",
): (ids: ReadonlyArray<string>) => ReadonlyArray<string> | undefined =>
(ids) =>
  withIds(
    [
      "qstat",
      ...(flavour === "pbspro" ? ["-x"] : []),
      "-f",
      ...(format === "json" ? ["-F", "json"] : []),
    ],
    ids,
    isValidJobId,
  )

/**
 * Whether a failed `qstat` reply says the client does not know an option (`-F json` on a server
 * older than PBS Pro 13, or Torque): the text format must be used instead.
 *
 * @since 0.1.0
 * @category parsing
 */
export const optionUnsupported = (exitCode: number, stdout: string, stderr: string): boolean =>
  exitCode !== 0 && !stdout.includes("{") &&
  /invalid option|illegal option|unrecognized option|unknown option|usage:/i.test(stderr)

/**
 * Every job `qstat -f` lists (PBS Pro: `-x`, finished ones too), for finding jobs by tag.
 *
 * @since 0.1.0
 * @category commands
 */
export const qstatAllFullArgv = (flavour: Flavour): ReadonlyArray<string> => [
  "qstat",
  ...(flavour === "pbspro" ? ["-x"] : []),
  "-f",
]

/**
 * Tag to job id, from `qstat -f` records whose `Output_Path` lies in a job directory
 * (`host:…/job.<tag>/.lrms/…`): PBS keeps the output path the batch flow gave `qsub -o`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTaggedJobs = (stdout: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const [id, record] of parseQstatFull(stdout)) {
    const path = record.attributes.get("Output_Path") ?? ""
    const tag = /\/job\.([^/]+)\/\.lrms\//.exec(path)?.[1]
    if (tag !== undefined) out.set(tag, id)
  }
  return out
}

/**
 * Matches parsed records to the ids asked for by sequence number (qsub may print
 * `123.head` where qstat prints `123.head.cluster.org`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const byRequestedId = <A>(
  parsed: ReadonlyMap<string, A>,
  ids: ReadonlyArray<string>,
): Map<string, A> => {
  const bySeq = new Map<string, A>()
  for (const [id, a] of parsed) bySeq.set(sequenceOf(id), a)
  const out = new Map<string, A>()
  for (const id of ids) {
    const a = parsed.get(id) ?? bySeq.get(sequenceOf(id))
    if (a !== undefined) out.set(id, a)
  }
  return out
}

/**
 * Parses `qstat`'s default listing (`Job id  Name  User  Time Use  S  Queue`): job id → state
 * letter and run state. The state is the second-to-last column.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQstat = (
  stdout: string,
): ReadonlyMap<string, { readonly state: RunState; readonly native: string }> => {
  const out = new Map<string, { readonly state: RunState; readonly native: string }>()
  for (const raw of stdout.split(/\r?\n/)) {
    const f = raw.trim().split(/\s+/)
    if (f.length < 6 || !jobIdRe.test(f[0]!)) continue
    const native = f[f.length - 2]!
    if (!/^[A-Z]$/.test(native)) continue
    out.set(f[0]!, { state: mapState(native), native })
  }
  return out
}

// =============================================================================
// tracejob
// =============================================================================

/**
 * The `tracejob` argv for one job (it takes one id), looking back a week of logs.
 *
 * @since 0.1.0
 * @category commands
 */
export const tracejobArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  ids.length === 1 && isValidJobId(ids[0]!) ? ["tracejob", "-n", "7", ids[0]!] : undefined

/**
 * What `tracejob` says about a finished job.
 *
 * @since 0.1.0
 * @category models
 */
export interface TracejobRecord {
  /** `TERMINATING`. */
  readonly state: RunState
  /** `Exit_status=N`. */
  readonly native: string
  /** How the job ended. */
  readonly termination: Termination.Termination
  /** What the job used. */
  readonly usage: Job.Usage
}

/**
 * Parses `tracejob` output: the `Exit_status=N resources_used.…=…` line (negative statuses
 * included), the queued / run times, job name and queue. `undefined` without an exit status (a
 * running job, or logs the user may not read).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTracejob = (
  stdout: string,
  flavour: Flavour = "torque",
): TracejobRecord | undefined => {
  const attrs = new Map<string, string>()
  let status: number | undefined
  for (const raw of stdout.split(/\r?\n/)) {
    // Torque 6 prints milliseconds (`12/08/2026 04:01:07.176 S ...`), older versions do not
    const line = /^(\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2})(?:\.\d{1,6})?\s+\S\s+(.*)$/.exec(
      raw.trim(),
    )
    if (line === null) continue
    const [, at, message] = line as unknown as [string, string, string]
    const queued = /^Job Queued at request of .*job name = ([^,]*), queue = (\S+)/.exec(message)
    if (queued !== null) {
      attrs.set("qtime", at)
      attrs.set("Job_Name", queued[1]!.trim())
      attrs.set("queue", queued[2]!)
    }
    if (/^Job Run at request of/.test(message)) attrs.set("start_time", at)
    const exit = /^Exit_status=(-?\d{1,10})(.*)$/.exec(message)
    if (exit !== null) {
      status = Number(exit[1])
      attrs.set("comp_time", at)
      for (const kv of exit[2]!.trim().split(/\s+/)) {
        const eq = kv.indexOf("=")
        if (eq > 0) attrs.set(kv.slice(0, eq), kv.slice(eq + 1))
      }
    }
  }
  if (status === undefined) return undefined
  return {
    state: "TERMINATING",
    native: `Exit_status=${status}`,
    termination: terminationOf(status, flavour),
    usage: usageOf(attrs),
  }
}
