/**
 * LSF's long output (`bjobs -l`, `bacct -l`, `bhist -l`): wrapped lines joined, event times, how a
 * job ended and what it used. Part of `LsfParse`, which re-exports it (see its notes on wrapping
 * and on how ends are read).
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Clock from "../../../src/internal/clock.ts"
import * as Job from "../../../src/Job.ts"
import * as Quantity from "../../../src/Quantity.ts"
import type { RunState } from "../../../src/RunState.ts"
import * as Termination from "../../../src/Termination.ts"

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
 * Maps an LSF job status: `PEND` → `SUBMITTED` (also a job requeued by `brequeue`, by its exit
 * value or after its host failed: it is followed to its real end); `RUN` → `RUNNING`; `PSUSP`
 * (held while pending, `bsub -H`, `bstop`), `USUSP` (suspended by its owner or an admin),
 * `SSUSP` (suspended by the system: load, preemption) → `STOPPED`; `DONE`, `EXIT` →
 * `TERMINATING`; `ZOMBI` (killed or requeued while its host was unreachable: it may still be
 * running there; `EXIT` or `PEND` follows) → `RUNNING`; `WAIT`, `PROV` → `SUBMITTED`; `UNKWN`
 * (its host lost) and anything else → `UNKNOWN`.
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
 * A parser of long output: job id to what the job's block says.
 *
 * @since 0.1.0
 * @category models
 */
export type LongParser = (stdout: string, now?: Date) => ReadonlyMap<string, LsfRecord>

/** A {@linkcode LongParser} from a reading of one job's block (`undefined` leaves it out). */
const perJob = (
  read: (lines: ReadonlyArray<string>, now: Date) => LsfRecord | undefined,
): LongParser =>
(stdout, now = new Date()) => {
  const out = new Map<string, LsfRecord>()
  for (const { id, lines } of jobBlocks(stdout)) {
    const record = read(lines, now)
    if (record !== undefined) out.set(id, record)
  }
  return out
}

/**
 * Parses `bjobs -l` output (one or many jobs): status, exit, CPU time, `MAX MEM`, and the
 * submission, start and completion times.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBjobsLong: LongParser = perJob((lines, now) => {
  const text = lines.join("\n")
  const status = /Status <([A-Z]+)>/.exec(text)?.[1] ?? ""
  const maxMem = /MAX MEM: *([\d.]{1,20}) *(Kbytes|Mbytes|Gbytes)/.exec(text)
  const memory = maxMem !== null ? parseLsfMemory(`${maxMem[1]} ${maxMem[2]}`) : undefined
  return recordOf(status, lines, now, cpuUsed(text), memory)
})

/** `The CPU time used is N seconds`, in seconds. */
const cpuUsed = (text: string): number | undefined => {
  const cpu = /The CPU time used is ([\d.]{1,20}) seconds/.exec(text)?.[1]
  return cpu !== undefined ? Number(cpu) : undefined
}

/**
 * The lines of a job's block that tell of its last run: those after the last requeue event
 * (`Pending: Job has been requeued`, after `brequeue` or a requeue exit value), with the block's
 * head line. `bhist -l` keeps the earlier runs' `Exited with exit code N` lines, which must not
 * be read as the end of a job that runs again.
 *
 * @since 0.1.0
 * @category parsing
 */
export const lastRun = (lines: ReadonlyArray<string>): ReadonlyArray<string> => {
  let last = -1
  lines.forEach((l, i) => {
    if (/^Pending: .*requeued/i.test(eventRe.exec(l)?.[2] ?? "")) last = i
  })
  return last < 0 ? lines : [lines[0]!, ...lines.slice(last + 1)]
}

/** A job's record from its status and block: its end (`DONE`, `EXIT`), times and usage. */
const recordOf = (
  native: string,
  lines: ReadonlyArray<string>,
  now: Date,
  cpu: number | undefined,
  memory: number | undefined,
): LsfRecord => {
  const run = lastRun(lines)
  const { submitted } = eventTimes(lines, now)
  const { started, completed } = eventTimes(run, now)
  return {
    state: mapState(native),
    native,
    termination: native === "DONE"
      ? Termination.exited(0)
      : native === "EXIT"
      ? exitTermination(run.join("\n"), secondsBetween(started, completed))
      : undefined,
    usage: usage({ cpu, memory, submitted, started, completed }),
  }
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
export const parseBacctLong: LongParser = perJob((lines, now) => {
  const status = /Status <([A-Z]+)>/.exec(lines.join("\n"))?.[1] ?? ""
  const header = lines.findIndex((l) => /CPU_T\s+WAIT\s+TURNAROUND\s+STATUS/.test(l))
  const values = header >= 0 ? (lines[header + 1] ?? "").trim().split(/\s+/) : []
  const cpu = values.length >= 7 && /^[\d.]+$/.test(values[0]!) ? Number(values[0]) : undefined
  const memory = values.length >= 7 ? parseLsfMemory(values[5]!) : undefined
  if (status !== "DONE" && status !== "EXIT") return undefined
  return recordOf(status, lines, now, cpu, memory)
})

/**
 * Parses `bhist -l` output (OpenLava's accounting: it has no `bacct`): per finished job the end
 * (`Done successfully`, `Exited with exit code N`, or a bare `Exited` for a job killed before it
 * ran), CPU time, and the submission, dispatch and end times of its last run (a requeued job's
 * earlier ends do not count: {@linkcode lastRun}). `bhist` prints no status and no memory; jobs
 * still pending or running are left out.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBhistLong: LongParser = perJob((lines, now) => {
  const run = lastRun(lines)
  const events = run.map((l) => eventRe.exec(l)?.[2] ?? "")
  const done = events.some((e) => /^Done successfully/.test(e))
  const exited = events.some((e) => /^Exited\b/.test(e))
  if (!done && !exited) return undefined
  return recordOf(done ? "DONE" : "EXIT", lines, now, cpuUsed(run.join("\n")), undefined)
})

/**
 * Tag to job id, from `bjobs -l` blocks whose output file lies in a job directory
 * (`…/job.<tag>/.lrms/…`): LSF keeps the output path the batch flow gave `bsub`. An array's
 * elements map its tag to the array's id (`123`).
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
    // an array's elements share its directory: the tag names the array, `123`, not `123[4]`
    if (tag !== undefined) out.set(tag, id.replace(/\[\d+\]$/, ""))
  }
  return out
}
