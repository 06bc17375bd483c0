/**
 * Grid Engine's accounting, `qacct -j`: how a job (or an array task) ended and what it used, with
 * Grid Engine's units.
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
import * as Clock from "../../../src/internal/clock.ts"
import * as Job from "../../../src/Job.ts"
import * as Quantity from "../../../src/Quantity.ts"
import type { RunState } from "../../../src/RunState.ts"
import * as Termination from "../../../src/Termination.ts"
import { elementId, isPlainJobId, splitJobId } from "./ids.ts"

/**
 * The `qacct` argv for one job (`qacct -j 123`) or one array task (`qacct -j 123 -t 4`: qacct
 * reads `-j 123.4` as job 123, every task). qacct takes one job at a time.
 *
 * @since 0.1.0
 * @category commands
 */
export const qacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined => {
  const id = ids.length === 1 ? splitJobId(ids[0]!) : undefined
  if (id === undefined) return undefined
  return ["qacct", "-j", id.job, ...(id.task !== undefined ? ["-t", String(id.task)] : [])]
}

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
 * What `qacct -j` says about a job or an array task.
 *
 * @since 0.1.0
 * @category models
 */
export interface QacctRecord {
  /**
   * `TERMINATING` for a run that ended; `SUBMITTED` for a run cut short by Grid Engine to run the
   * job again (`failed 25: rescheduling`, `failed 24: migrating`): the job is not over.
   */
  readonly state: RunState
  /** `failed` code and text and the exit status, e.g. `failed 37: qmaster enforced h_rt...`. */
  readonly native: string
  /** How the job ended; for a rescheduled run, how that run ended (the job goes on). */
  readonly termination: Termination.Termination
  /** What the job used. */
  readonly usage: Job.Usage
}

/** The `failed` codes of a run Grid Engine ended in order to run the job again. */
const rescheduled: ReadonlySet<number> = new Set([24, 25])

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

/** qacct's records as key → value maps, in the order printed. */
const qacctBlocks = (stdout: string): ReadonlyArray<ReadonlyMap<string, string>> => {
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
  return records
}

const ownFields = ["ru_wallclock", "cpu", "maxvmem", "slots", "exit_status", "failed"]

/** What a record says the job used; every other key is kept in `extra` as `sge_<key>`. */
const usageOf = (r: ReadonlyMap<string, string>, failedText: string): Job.Usage => {
  const slots = /^\d{1,9}$/.test(r.get("slots") ?? "") ? Number(r.get("slots")) : undefined
  const duration = parseSgeSeconds(r.get("ru_wallclock") ?? "")
  const cpuTime = parseSgeSeconds(r.get("cpu") ?? "")
  const vmem = parseSgeMemory(r.get("maxvmem") ?? "")
  const rss = parseSgeMemory(r.get("ru_maxrss") ?? "")
  const extra: Record<string, string> = {}
  for (const [k, v] of r) if (!ownFields.includes(k)) extra[`sge_${k}`] = v
  extra.sge_failed = failedText
  // GC3Pie's names for the queue and the times
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
  return new Job.Usage({
    ...(duration !== undefined ? { duration } : {}),
    ...(cpuTime !== undefined ? { cpuTime } : {}),
    ...(maxUsedMemory !== undefined ? { maxUsedMemory } : {}),
    ...(maxUsedVirtualMemory !== undefined ? { maxUsedVirtualMemory } : {}),
    ...(slots !== undefined ? { cores: slots } : {}),
    extra,
  })
}

/** A record's key (`123`, or `123.4` for an array task) and what it says; `undefined` if unread. */
const readRecord = (
  r: ReadonlyMap<string, string>,
): readonly [string, QacctRecord] | undefined => {
  const job = r.get("jobnumber")
  const statusText = /^(-?\d{1,10})/.exec(r.get("exit_status") ?? "")
  if (job === undefined || !isPlainJobId(job) || statusText === null) return undefined
  const task = /^\d{1,10}$/.test(r.get("taskid") ?? "") ? Number(r.get("taskid")) : undefined
  const failedText = r.get("failed") ?? "0"
  const failed = Number(/^(\d{1,10})/.exec(failedText)?.[1] ?? "0")
  const again = rescheduled.has(failed)
  return [task === undefined ? job : elementId(job, task), {
    state: again ? "SUBMITTED" : "TERMINATING",
    native: `failed ${failedText}, exit_status ${r.get("exit_status")}`,
    termination: terminationOf(failed, Number(statusText[1])),
    usage: usageOf(r, failedText),
  }]
}

/**
 * Parses `qacct -j` output, keyed by job id, or `<job>.<task>` for an array task (its `taskid`):
 * the last record of each (a rescheduled job has one per run). A record without `exit_status` is
 * skipped. A run Grid Engine cut short to run the job again (`failed 25: rescheduling`) is
 * `SUBMITTED`: the job's end is a later record.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseQacct = (stdout: string): ReadonlyMap<string, QacctRecord> => {
  const out = new Map<string, QacctRecord>()
  for (const block of qacctBlocks(stdout)) {
    const read = readRecord(block)
    if (read !== undefined) out.set(read[0], read[1])
  }
  return out
}
