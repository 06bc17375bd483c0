/**
 * `sacct`: how SLURM jobs ended and what they used, many jobs in one call. Part of
 * `SlurmParse`, which re-exports it.
 *
 * Array elements are keyed as `JobID` prints them (`123_4`), never by `JobIDRaw` (`127`), unless
 * the raw id is the one asked for; a pending array's range record (`123_[0-3]`, all that
 * `sacct` keeps of elements that never started) stands for each element it names.
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Job from "../../../src/Job.ts"
import * as Quantity from "../../../src/Quantity.ts"
import type { RunState } from "../../../src/RunState.ts"
import * as Termination from "../../../src/Termination.ts"
import { expandArrayId, finalStates, mapState, printedIdRe, withJobList } from "./jobs.ts"

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
  "AllocTRES",
  "JobIDRaw",
]

/** Columns a row may lack at its end (rows of the columns asked for before these were added). */
const optionalTail: ReadonlySet<string> = new Set(["alloctres", "jobidraw"])

/** The fields a row must have: every column but the optional ones at the end. */
const requiredFields = (names: ReadonlyArray<string>): number => {
  let n = names.length
  while (n > 0 && optionalTail.has(names[n - 1]!)) n--
  return n
}

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
export const sacctArgv = (ids: ReadonlyArray<string>): ReadonlyArray<string> | undefined =>
  withJobList(ids, (list) => [
    "sacct",
    "--noheader",
    "--parsable2",
    `--format=${sacctColumns.join(",")}`,
    `--jobs=${list}`,
  ])

/**
 * What `sacct` says about one job (its master record and steps). `usage.gpus` is the GPUs the
 * job was allocated (`AllocTRES`'s `gres/gpu=N`: an exclusive job gets every GPU of its nodes,
 * whatever it asked for), when `AllocTRES` names GPUs.
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
 * node failures (NODE_FAIL; and BOOT_FAIL, and REVOKED: a federation ran the job on another
 * cluster) RemoteError with exit 75. OUT_OF_MEMORY is
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
    case "REVOKED":
      return Termination.signalled(Termination.Signals.RemoteError, Termination.EX_TEMPFAIL)
    case "OUT_OF_MEMORY":
      return Termination.signalled(9)
    default:
      return parseExitCode(exitCode)
  }
}

interface Accumulator {
  master: ReadonlyMap<string, string> | undefined
  rawId: string | undefined
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
 * The GPUs a TRES list names (`billing=4,cpu=4,gres/gpu=2,mem=1G,node=1`): `gres/gpu=N`, else the
 * sum of the typed counts (`gres/gpu:a100=2`); `undefined` when it names no GPU.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTresGpus = (tres: string): number | undefined => {
  let typed: number | undefined
  for (const item of tres.split(",")) {
    const m = /^gres\/gpu(:[^=]+)?=(\d{1,9})$/.exec(item.trim())
    if (m === null) continue
    if (m[1] === undefined) return Number(m[2])
    typed = (typed ?? 0) + Number(m[2])
  }
  return typed
}

/** The master id a row belongs to (the id before the first `.`), and whether it is a step. */
const masterOf = (id: string) => {
  const dot = id.indexOf(".")
  return dot < 0 ? { master: id, step: false } : { master: id.slice(0, dot), step: true }
}

/** Reads the rows of `sacct --parsable2` into one accumulator per master id. */
const accumulate = (stdout: string, names: ReadonlyArray<string>) => {
  const jobs = new Map<string, Accumulator>()
  const required = requiredFields(names)
  for (const raw of stdout.split(/\r?\n/)) {
    const fields = raw.split("|")
    if (fields.length < required) continue
    const row = new Map<string, string>()
    names.forEach((n, i) => {
      if (!row.has(n)) row.set(n, (fields[i] ?? "").trim())
    })
    const id = row.get("jobid") ?? ""
    if (!printedIdRe.test(id)) continue
    const { master, step } = masterOf(id)
    let acc = jobs.get(master)
    if (acc === undefined) {
      acc = {
        master: undefined,
        rawId: undefined,
        maxRss: undefined,
        maxVm: undefined,
        submits: [],
        starts: [],
      }
      jobs.set(master, acc)
    }
    if (!step) {
      acc.master = row
      const rawId = row.get("jobidraw") ?? ""
      if (/^\d+$/.test(rawId)) acc.rawId = rawId
    }
    acc.maxRss = maxOf(acc.maxRss, parseSlurmMemory(row.get("maxrss") ?? ""))
    acc.maxVm = maxOf(acc.maxVm, parseSlurmMemory(row.get("maxvmsize") ?? ""))
    const submit = isoTime(row.get("submit"))
    const start = isoTime(row.get("start"))
    if (submit !== undefined) acc.submits.push(submit)
    if (start !== undefined) {
      acc.starts.push(start)
      if (!step) acc.submits.push(start)
    }
  }
  return jobs
}

/** The usage a job's records tell. */
const usageOf = (master: ReadonlyMap<string, string>, acc: Accumulator): Job.Usage => {
  const duration = parseSlurmDuration(master.get("elapsed") ?? "")
  const cpuTime = parseSlurmDuration(master.get("totalcpu") ?? "")
  const coresText = master.get("ncpus") ?? master.get("alloccpus") ?? ""
  const cores = /^\d{1,9}$/.test(coresText) ? Number(coresText) : undefined
  const gpus = parseTresGpus(master.get("alloctres") ?? "")
  const maxUsedMemory = safeMemory(acc.maxRss)
  const maxUsedVirtualMemory = safeMemory(acc.maxVm)
  const extra: Record<string, string> = {}
  const submission = minIso(acc.submits)
  const started = minIso(acc.starts)
  const completion = isoTime(master.get("end"))
  if (submission !== undefined) extra.slurm_submission_time = submission
  if (started !== undefined) extra.slurm_start_time = started
  if (completion !== undefined) extra.slurm_completion_time = completion
  return new Job.Usage({
    ...(duration !== undefined ? { duration } : {}),
    ...(cpuTime !== undefined ? { cpuTime } : {}),
    ...(maxUsedMemory !== undefined ? { maxUsedMemory } : {}),
    ...(maxUsedVirtualMemory !== undefined ? { maxUsedVirtualMemory } : {}),
    ...(cores !== undefined ? { cores } : {}),
    ...(gpus !== undefined ? { gpus } : {}),
    extra,
  })
}

/** One job's record from its master record and steps. */
const recordOf = (master: ReadonlyMap<string, string>, acc: Accumulator): SacctRecord => {
  const native = (master.get("state") ?? "").split(/\s+/)[0]!.replace(/\+$/, "")
  const final = finalStates.has(native)
  const termination = final ? terminationOf(native, master.get("exitcode") ?? "") : undefined
  return {
    native,
    state: final ? "TERMINATING" : mapState(native),
    termination,
    usage: usageOf(master, acc),
  }
}

/**
 * Parses `sacct --parsable2` (or `--parsable`) output: a map from master job id (the id before
 * the first `.`, so `123`, `123_4`, `123+0`) to what the job's records say. `columns` names the
 * printed columns in order (default {@linkcode sacctColumns}, names matched without regard to
 * case; unknown columns are ignored). Headers, error messages and short lines are skipped (a row
 * may lack the trailing `AllocTRES` and `JobIDRaw`); a job with steps but no master record is
 * left out.
 *
 * From the master record: state, exit code, `Elapsed` (duration), `TotalCPU` (CPU time),
 * `NCPUS` (cores), `AllocTRES` (GPUs allocated), `End` (`slurm_completion_time`). From every
 * record: the largest `MaxRSS` (`maxUsedMemory`) and `MaxVMSize` (`maxUsedVirtualMemory`),
 * rounded to whole bytes at the end; `slurm_submission_time` = earliest of the master's `Submit`
 * and `Start` and the steps' `Submit` (SLURM sometimes rewrites the master's `Submit` later than
 * its start), and `slurm_start_time` = earliest `Start`. Timestamps other than ISO ones
 * (`Unknown`, `None`, relative) are ignored (GC3Pie crashed on them).
 *
 * Arrays: a range record (`123_[0-3%2]`) gives each element it names the range's record, unless
 * the element has a record of its own. `ids`, when given, are the ids asked for: one that is no
 * printed id but some master record's `JobIDRaw` (an element asked for by its raw id, `127`) is
 * keyed by that raw id too.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseSacct = (
  stdout: string,
  columns: ReadonlyArray<string> = sacctColumns,
  ids: ReadonlyArray<string> = [],
): ReadonlyMap<string, SacctRecord> => {
  const names = columns.map((c) => c.trim().toLowerCase())
  const out = new Map<string, SacctRecord>()
  const ranges: Array<[ReadonlyArray<string>, SacctRecord]> = []
  const byRaw = new Map<string, SacctRecord>()
  for (const [id, acc] of accumulate(stdout, names)) {
    if (acc.master === undefined) continue
    const record = recordOf(acc.master, acc)
    const elements = expandArrayId(id)
    if (elements.length === 1 && elements[0] === id) out.set(id, record)
    else ranges.push([elements, record])
    if (acc.rawId !== undefined) byRaw.set(acc.rawId, record)
  }
  for (const [elements, record] of ranges) {
    for (const e of elements) if (!out.has(e)) out.set(e, record)
  }
  for (const id of ids) {
    const record = out.has(id) ? undefined : byRaw.get(id)
    if (record !== undefined) out.set(id, record)
  }
  return out
}
