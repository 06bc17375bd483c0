/**
 * `qsub`'s command line for Torque and PBS Pro: the parallel shape in each variant's resource
 * syntax, job arrays, rerunnability, and reading the site's array limit. Part of `PbsParse`,
 * which re-exports it.
 *
 * Shape (see `Application.shape`; N nodes, q processes per node, P processes, C cores and G GPUs
 * per process):
 *
 * - PBS Pro, nodes fixed: `-l select=N:ncpus=q×C:mpiprocs=q:ompthreads=C[:ngpus=q×G][:mem=…]`
 *   and `-l place=scatter` (`pack` on one node), `:excl` when exclusive. Nodes left to the
 *   scheduler: one chunk per process, `select=P:ncpus=C:mpiprocs=1:ompthreads=C…` with
 *   `place=free`. A plain job (one process, no GPU, not exclusive) keeps `select=1:ncpus=C`, so a
 *   multi-core job always gets `ncpus` = its cores (PSI/J's users kept getting `1:ncpus=1`).
 *   Memory is the job's total split over the chunks, MiB rounded up per chunk.
 * - Torque: `-l nodes=N:ppn=q×C[:gpus=q×G]`, `-l mem=<total>`, `-n` (node-exclusive). Torque
 *   puts every node of `nodes=` on a host of its own, so a job whose nodes are left to the
 *   scheduler asks for one node with all its cores: `nodes=1:ppn=P×C`.
 *
 * Arrays: PBS Pro `-J 0-(n−1)[%throttle]`, which refuses a range of one element (`-J 0-0` is an
 * "illegal -J value"): one element is written `-J 0-1:2` (0 to 1 in steps of 2). Torque `-t
 * 0-(n−1)[%throttle]`. The scheduler's own output files get the element's index: PBS Pro
 * `<path>-^array_index^`, and Torque appends `-<index>` to the paths by itself, so on both an
 * element's files are `<path>-<index>`.
 *
 * Rerunnability: `-r y` or `-r n` as configured; but PBS Pro refuses a non-rerunable array
 * ("cannot submit non-rerunable Array Job"), so an array's subjobs are always rerunnable there.
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import type { Shape } from "../../../src/Application.ts"
import type { ArraySpec } from "../../batch/Dialect.ts"
import { mebibytesUp, secondsUp } from "../../batch/internal/dialect.ts"
import type { Flavour } from "./jobs.ts"

// =============================================================================
// Options
// =============================================================================

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
 * What goes on a `qsub` command line.
 *
 * @since 0.1.0
 * @category models
 */
export interface QsubOptions {
  /** The variant. */
  readonly flavour: Flavour
  /** `-N`, cut to 15 characters (Torque's limit). */
  readonly jobname: string
  /** Cores of a one-process job; ignored when {@linkcode QsubOptions.shape} is given. */
  readonly cores: number
  /** The parallel shape; absent: one process with `cores` cores on one node. */
  readonly shape?: ParallelShape | undefined
  /** Memory for the whole job in bytes (MiB rounded up, PBS's `mb`). */
  readonly memory?: number | undefined
  /** Wall-clock limit (`HH:MM:SS`, seconds rounded up). */
  readonly walltime?: Duration.Duration | undefined
  /** `-q`. */
  readonly queue?: string | undefined
  /** `-A`. */
  readonly account?: string | undefined
  /** `-r y` when true, `-r n` when false, nothing when absent. */
  readonly rerunnable?: boolean | undefined
  /** A job array of this size (and throttle), indices from 0. */
  readonly array?: ArraySpec | undefined
  /** Where PBS writes the script's own stdout and stderr. */
  readonly output: string
  /** See {@linkcode QsubOptions.output}. */
  readonly error: string
  /** The job script. */
  readonly script: string
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
// Resources
// =============================================================================

const clock = (d: Duration.Duration) => {
  const s = secondsUp(d)
  const two = (n: number) => String(n).padStart(2, "0")
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`
}

/** Whether the shape is one process on one node, without GPUs, sharing its node. */
const isPlain = (s: ParallelShape) =>
  s.processes === 1 && s.gpusPerProcess === 0 && !s.exclusive && (s.nodes ?? 1) === 1

/**
 * PBS Pro's `select` and `place` for a shape and the job's memory in bytes (see the module
 * notes).
 *
 * @since 0.1.0
 * @category commands
 */
export const pbsproResources = (
  s: ParallelShape,
  memory: number | undefined,
): ReadonlyArray<string> => {
  const perChunk = (chunks: number) =>
    memory === undefined ? "" : `:mem=${Math.ceil(mebibytesUp(memory) / chunks)}mb`
  if (isPlain(s)) return [`select=1:ncpus=${s.coresPerProcess}${perChunk(1)}`]
  const chunks = s.nodes ?? s.processes
  const perNode = s.nodes === undefined ? 1 : s.processesPerNode ?? s.processes / s.nodes
  const gpus = s.gpusPerProcess > 0 ? `:ngpus=${perNode * s.gpusPerProcess}` : ""
  const place = chunks === 1 ? "pack" : s.nodes === undefined ? "free" : "scatter"
  return [
    `select=${chunks}:ncpus=${perNode * s.coresPerProcess}:mpiprocs=${perNode}` +
    `:ompthreads=${s.coresPerProcess}${gpus}${perChunk(chunks)}`,
    `place=${place}${s.exclusive ? ":excl" : ""}`,
  ]
}

/**
 * Torque's `nodes` (and `mem`) for a shape and the job's memory in bytes (see the module notes).
 *
 * @since 0.1.0
 * @category commands
 */
export const torqueResources = (
  s: ParallelShape,
  memory: number | undefined,
): ReadonlyArray<string> => {
  const nodes = s.nodes ?? 1
  const perNode = s.nodes === undefined ? s.processes : s.processesPerNode ?? s.processes / nodes
  const gpus = s.gpusPerProcess > 0 ? `:gpus=${perNode * s.gpusPerProcess}` : ""
  return [
    `nodes=${nodes}:ppn=${perNode * s.coresPerProcess}${gpus}`,
    ...(memory !== undefined ? [`mem=${mebibytesUp(memory)}mb`] : []),
  ]
}

// =============================================================================
// Arrays
// =============================================================================

/**
 * The array option: PBS Pro `-J 0-(n−1)[%throttle]` (one element: `-J 0-1:2`), Torque
 * `-t 0-(n−1)[%throttle]`.
 *
 * @since 0.1.0
 * @category commands
 */
export const arrayOption = (flavour: Flavour, a: ArraySpec): ReadonlyArray<string> => {
  const size = Math.max(1, Math.floor(a.size))
  const range = flavour === "pbspro" && size === 1 ? "0-1:2" : `0-${size - 1}`
  const throttle = a.throttle !== undefined && a.throttle >= 1 ? `%${Math.floor(a.throttle)}` : ""
  return [flavour === "pbspro" ? "-J" : "-t", `${range}${throttle}`]
}

/**
 * An array element's id from the array's (`123[].server` and 4 → `123[4].server`; an id without
 * brackets gets them after its sequence number).
 *
 * @since 0.1.0
 * @category conversions
 */
export const elementId = (arrayId: string, index: number): string => {
  const m = /^(\d+)(?:\[\d*\])?(.*)$/.exec(arrayId)
  return m === null ? `${arrayId}[${index}]` : `${m[1]}[${index}]${m[2]}`
}

/**
 * The `qmgr` argv that lists the server's array limit: PBS Pro's `max_array_size`, Torque's
 * `max_job_array_size`.
 *
 * @since 0.1.0
 * @category commands
 */
export const arrayLimitArgv = (flavour: Flavour): ReadonlyArray<string> => [
  "qmgr",
  "-c",
  `list server ${flavour === "pbspro" ? "max_array_size" : "max_job_array_size"}`,
]

/**
 * Reads the array limit from {@linkcode arrayLimitArgv}'s output (`    max_array_size = 10000`);
 * `undefined` when unset (Torque's default: no limit) or unreadable.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArrayLimit = (stdout: string): number | undefined => {
  const m = /^\s*max_(?:job_)?array_size = (\d{1,9})\s*$/m.exec(stdout)
  return m === null || Number(m[1]) < 1 ? undefined : Number(m[1])
}

// =============================================================================
// qsub
// =============================================================================

/** The scheduler's own output path of an array's element (see the module notes). */
const elementPath = (flavour: Flavour, path: string, array: boolean) =>
  array && flavour === "pbspro" ? `${path}-^array_index^` : path

/** `-r y|n`, left out for a PBS Pro array (which must be rerunnable). */
const rerunOption = (o: QsubOptions): ReadonlyArray<string> =>
  o.rerunnable === undefined || (o.flavour === "pbspro" && o.array !== undefined && !o.rerunnable)
    ? []
    : ["-r", o.rerunnable ? "y" : "n"]

/**
 * The `qsub` argv: name, output files, walltime, the shape and memory in the variant's syntax,
 * exclusive nodes, rerunnability, the array, queue and account, the script last (PBS Pro: `-f`,
 * in the foreground, without the background qsub daemon). Every value is one word.
 *
 * @since 0.1.0
 * @category commands
 */
export const qsubArgv = (o: QsubOptions): ReadonlyArray<string> => {
  const shape = o.shape ?? plainShape(o.cores)
  const resources = o.flavour === "pbspro"
    ? [...pbsproResources(shape, o.memory)]
    : [...torqueResources(shape, o.memory)]
  if (o.walltime !== undefined) resources.push(`walltime=${clock(o.walltime)}`)
  const array = o.array !== undefined
  return [
    "qsub",
    // PBS Pro's qsub otherwise leaves a background qsub daemon behind, started from (and holding
    // on to) whatever session ran it: over SSH, that session's channel
    ...(o.flavour === "pbspro" ? ["-f"] : []),
    "-N",
    o.jobname.slice(0, 15),
    "-o",
    elementPath(o.flavour, o.output, array),
    "-e",
    elementPath(o.flavour, o.error, array),
    ...resources.flatMap((r) => ["-l", r]),
    ...(o.flavour === "torque" && shape.exclusive ? ["-n"] : []),
    ...rerunOption(o),
    ...(o.array !== undefined ? arrayOption(o.flavour, o.array) : []),
    ...(o.queue !== undefined ? ["-q", o.queue] : []),
    ...(o.account !== undefined ? ["-A", o.account] : []),
    o.script,
  ]
}
