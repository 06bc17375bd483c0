/**
 * `bsub`'s command line for LSF 10 and OpenLava: the job script as the command, the parallel
 * shape, job arrays, rerunnability, and reading the site's array limit. Part of `LsfParse`,
 * which re-exports it (see its notes on OpenLava's missing options).
 *
 * Shape (see `Application.shape`; N nodes, q processes per node, P processes, C cores and G GPUs
 * per process). LSF counts slots, one per core: `-n P×C`. Nodes fixed: `-R "span[ptile=q×C]"`
 * (`span[hosts=1]` on one node). Nodes left to the scheduler: `span[hosts=1]` as soon as a
 * process needs more than one core or a GPU (LSF cannot keep a process's slots together
 * otherwise), no span for single-core processes. GPUs: `-gpu "num=…"`, which counts GPUs per
 * host (q×G, or P×G on the one host); OpenLava has no `-gpu` (the dialect refuses GPUs there).
 * `-x` for whole hosts (the queue must allow exclusive jobs, or `bsub` refuses the job).
 *
 * Arrays: `-J "name[1-n]%throttle"` (indices from 1, `LSB_JOBINDEX`); the array's id is the
 * job id `bsub` prints, an element's `123[4]`. The scheduler's own output files get the
 * element's index (`<path>-%I`). The site's limit is `MAX_JOB_ARRAY_SIZE`, as `bparams -l`
 * prints it.
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import type { Shape } from "../../../src/Application.ts"
import * as Shell from "../../../src/Shell.ts"
import type { ArraySpec } from "../../batch/Dialect.ts"
import { mebibytesUp, minutesUp } from "../../batch/internal/dialect.ts"

/**
 * The LSF variant: `lsf` (IBM Spectrum LSF 10) or `openlava` (OpenLava 3, LSF 7-era).
 *
 * @since 0.1.0
 * @category models
 */
export type Flavour = "lsf" | "openlava"

/**
 * The parts of a parallel shape a submit command maps (`Application.Shape` without the launcher).
 *
 * @since 0.1.0
 * @category models
 */
export type ParallelShape = Pick<
  Shape,
  "nodes" | "processes" | "processesPerNode" | "coresPerProcess" | "gpusPerProcess" | "exclusive"
>

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
  /** Cores of a one-process job; ignored when {@linkcode BsubOptions.shape} is given. */
  readonly cores: number
  /** The parallel shape; absent: one process with `cores` cores on one host. */
  readonly shape?: ParallelShape | undefined
  /** Memory for the whole job in bytes, as `rusage[mem=<MB>]` (LSF's default unit, rounded up). */
  readonly memory?: number | undefined
  /** `-W [H:]MM`, minutes rounded up. */
  readonly walltime?: Duration.Duration | undefined
  /** `-q`. */
  readonly queue?: string | undefined
  /** `-P`. */
  readonly project?: string | undefined
  /** `-r` (rerunnable) when true. */
  readonly rerunnable?: boolean | undefined
  /** A job array of this size (and throttle), indices from 1. */
  readonly array?: ArraySpec | undefined
  /** `-cwd` (LSF); OpenLava runs the job where `bsub` ran, and the job script changes to it. */
  readonly workdir: string
  /** `-oo` / `-eo` (OpenLava: `-o` / `-e`): where LSF writes the job's own stdout and stderr. */
  readonly output: string
  /** See {@linkcode BsubOptions.output}. */
  readonly error: string
  /** The job script, run as the job's command. */
  readonly script: string
}

// =============================================================================
// The command word
// =============================================================================

/** What a shell reads back as it is: no quoting needed. */
const plainWord = /^[A-Za-z0-9_./-]+$/

/** A path as a shell must read it: as it is when plain, else quoted. */
const shellWord = (path: string): string =>
  plainWord.test(path) && !path.startsWith("-") ? path : Shell.quote(path)

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

// =============================================================================
// Shape
// =============================================================================

/**
 * The slots, span, GPU and exclusive options of a shape (see the module notes).
 *
 * @since 0.1.0
 * @category commands
 */
export const shapeOptions = (s: ParallelShape): ReadonlyArray<string> => {
  const slots = s.processes * s.coresPerProcess
  const perHost = s.nodes === undefined ? s.processes : s.processesPerNode ?? s.processes / s.nodes
  const oneHost = s.nodes === undefined
    ? slots > 1 && (s.processes === 1 || s.coresPerProcess > 1 || s.gpusPerProcess > 0)
    : s.nodes === 1
  const span = oneHost
    ? ["-R", "span[hosts=1]"]
    : s.nodes !== undefined
    ? ["-R", `span[ptile=${perHost * s.coresPerProcess}]`]
    : []
  return [
    ...(slots > 1 ? ["-n", String(slots)] : []),
    ...(slots > 1 ? span : []),
    ...(s.gpusPerProcess > 0 ? ["-gpu", `num=${perHost * s.gpusPerProcess}`] : []),
    ...(s.exclusive ? ["-x"] : []),
  ]
}

/** The shape a job without one has: one process of `cores` cores. */
const plainShape = (cores: number): ParallelShape => ({
  nodes: undefined,
  processes: 1,
  processesPerNode: undefined,
  coresPerProcess: cores,
  gpusPerProcess: 0,
  exclusive: false,
})

// =============================================================================
// Arrays
// =============================================================================

/**
 * The `-J` value of an array: `name[1-n]`, with `%throttle` when limited.
 *
 * @since 0.1.0
 * @category commands
 */
export const arrayJobName = (name: string, a: ArraySpec): string => {
  const size = Math.max(1, Math.floor(a.size))
  const throttle = a.throttle !== undefined && a.throttle >= 1 ? `%${Math.floor(a.throttle)}` : ""
  return `${name}[1-${size}]${throttle}`
}

/**
 * An array element's id: `123` and 4 → `123[4]`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const elementId = (arrayId: string, index: number): string =>
  `${arrayId.replace(/\[\d*\]$/, "")}[${index}]`

/**
 * The argv that prints the site's batch parameters, `MAX_JOB_ARRAY_SIZE` among them.
 *
 * @since 0.1.0
 * @category commands
 */
export const arrayLimitArgv: ReadonlyArray<string> = ["bparams", "-l"]

/**
 * Reads `MAX_JOB_ARRAY_SIZE = N` from `bparams -l`; `undefined` when absent.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArrayLimit = (stdout: string): number | undefined => {
  const m = /^\s*MAX_JOB_ARRAY_SIZE\s*=\s*(\d{1,9})\s*$/m.exec(stdout)
  return m === null || Number(m[1]) < 1 ? undefined : Number(m[1])
}

// =============================================================================
// bsub
// =============================================================================

/**
 * The `bsub` argv: `-J` (an array's `name[1-n]%throttle`), `-cwd`, `-oo`/`-eo` (overwrite;
 * OpenLava: no `-cwd`, `-o`/`-e`; an array element's files end in `-<index>`), the shape's
 * slots, span, GPUs and `-x`, `-R "rusage[mem=MB]"`, `-W H:MM`, `-r`, `-q`, `-P`, and the
 * script as the command, as LSF's shell must read it ({@linkcode commandWord}). The other words
 * are `bsub`'s own arguments (passed as an argv, never through a shell).
 *
 * @since 0.1.0
 * @category commands
 */
export const bsubArgv = (o: BsubOptions): ReadonlyArray<string> => {
  const minutes = o.walltime !== undefined ? minutesUp(o.walltime) : undefined
  const file = (path: string) => o.array !== undefined ? `${path}-%I` : path
  const files = o.flavour === "openlava"
    ? ["-o", file(o.output), "-e", file(o.error)]
    : ["-cwd", o.workdir, "-oo", file(o.output), "-eo", file(o.error)]
  return [
    "bsub",
    "-J",
    o.array !== undefined ? arrayJobName(o.jobname, o.array) : o.jobname,
    ...files,
    ...shapeOptions(o.shape ?? plainShape(o.cores)),
    ...(o.memory !== undefined ? ["-R", `rusage[mem=${mebibytesUp(o.memory)}]`] : []),
    ...(minutes !== undefined
      ? ["-W", `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`]
      : []),
    ...(o.rerunnable === true ? ["-r"] : []),
    ...(o.queue !== undefined ? ["-q", o.queue] : []),
    ...(o.project !== undefined ? ["-P", o.project] : []),
    // OpenLava may start the job elsewhere than where bsub ran: the script's absolute path
    o.flavour === "openlava" ? shellWord(o.script) : commandWord(o.script, o.workdir),
  ]
}
