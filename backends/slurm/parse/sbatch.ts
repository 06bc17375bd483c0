/**
 * `sbatch`: the submit command's argv (the job's parallel shape, arrays, requeue) and the job id
 * in its reply; `scontrol show config`'s array limit. Part of `SlurmParse`, which re-exports it.
 *
 * @module
 */
import type * as Duration from "effect/Duration"
import { mebibytesUp, minutesUp } from "../../batch/internal/dialect.ts"

// =============================================================================
// Reply
// =============================================================================

const submittedRe =
  /(?:^|\s)(?:sbatch:\s*)?(?:Submitted batch job|Granted job allocation)\s+(\d+)\b/
const parsableRe = /^(\d+)(?:;[^\s;]+)?$/

/**
 * Reads the job id from `sbatch`'s stdout: `Submitted batch job N` anywhere (site plugins may
 * print informational lines before or after it, see easybuild#4061), else the first line that is
 * `--parsable` output (`N` or `N;cluster`). Returns `undefined` when there is no id. An array's
 * submission prints its array id, the `123` of its elements `123_0`, `123_1`, ….
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
// Argv
// =============================================================================

/**
 * How SLURM is asked for GPUs: `gpus-per-task` (`--gpus-per-task=N`, the model's own unit; needs
 * `select/cons_tres`), or `gres` (`--gres=gpu:N` per node, for sites on `select/cons_res`; the
 * GPUs of a node must then be known: `processesPerNode`, or one node).
 *
 * @since 0.1.0
 * @category models
 */
export type GpuRequest = "gpus-per-task" | "gres"

/**
 * A job's parallel layout, in SLURM's words.
 *
 * @since 0.1.0
 * @category models
 */
export interface SbatchLayout {
  /** `--nodes`; `undefined`: SLURM decides. */
  readonly nodes: number | undefined
  /** `--ntasks`: the processes (ranks). */
  readonly tasks: number
  /** `--ntasks-per-node`, when fixed. */
  readonly tasksPerNode: number | undefined
  /** `--cpus-per-task`: the cores of each process. */
  readonly cpusPerTask: number
  /** GPUs of each process (0: none). */
  readonly gpusPerTask: number
  /** `--exclusive`: the nodes are the job's alone. */
  readonly exclusive: boolean
  /** How the GPUs are asked for (default `gpus-per-task`). */
  readonly gpuRequest?: GpuRequest | undefined
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
  /** `--cpus-per-task` of the one task of a job without a {@linkcode SbatchOptions.layout}. */
  readonly cores: number
  /** The parallel layout; absent: one task on one node with `cores` CPUs. */
  readonly layout?: SbatchLayout | undefined
  /**
   * Memory for the whole job, in bytes (rounded up to MiB): `--mem` on one node, else
   * `--mem-per-cpu` (the job's memory over its cores), since `--mem` counts per node.
   */
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
  /** `--gres` (`gpu:2`, `gpu:a100:1`), for every job. */
  readonly gres?: string | undefined
  /** `--gpus` (`2`, `a100:1`), for every job. */
  readonly gpus?: string | undefined
  /** `--export` (`ALL`, `NONE`, `ALL,FOO=bar`). */
  readonly exportEnv: string
  /** `--requeue` (SLURM may run the job again after a preemption or node failure), else `--no-requeue`. */
  readonly requeue?: boolean | undefined
  /** `--array=0-(size−1)[%throttle]`: the script is a job array's. */
  readonly array?: { readonly size: number; readonly throttle?: number | undefined } | undefined
}

/** SLURM expands `%j`-style patterns in `--output` / `--error`; `%%` is a literal `%`. */
const literalPattern = (path: string) => path.replaceAll("%", "%%")

const opt = (name: string, value: string | number | undefined): Array<string> =>
  value === undefined ? [] : [`--${name}=${value}`]

/**
 * The GPUs of one node of a layout, for `--gres=gpu:N`: known when the tasks of a node are
 * (`tasksPerNode`, or one node), else `undefined`.
 *
 * @since 0.1.0
 * @category commands
 */
export const gpusPerNode = (layout: SbatchLayout): number | undefined =>
  layout.tasksPerNode !== undefined
    ? layout.tasksPerNode * layout.gpusPerTask
    : layout.nodes === 1
    ? layout.tasks * layout.gpusPerTask
    : undefined

const gpuOptions = (l: SbatchLayout): Array<string> => {
  if (l.gpusPerTask === 0) return []
  if (l.gpuRequest === "gres") return opt("gres", `gpu:${gpusPerNode(l) ?? l.gpusPerTask}`)
  return opt("gpus-per-task", l.gpusPerTask)
}

/** The layout options: the legacy one task on one node, or the job's shape. */
const layoutOptions = (o: SbatchOptions): Array<string> => {
  const l = o.layout
  if (l === undefined) return ["--nodes=1", "--ntasks=1", `--cpus-per-task=${o.cores}`]
  return [
    ...opt("nodes", l.nodes),
    `--ntasks=${l.tasks}`,
    ...opt("ntasks-per-node", l.tasksPerNode),
    `--cpus-per-task=${l.cpusPerTask}`,
    ...gpuOptions(l),
    ...(l.exclusive ? ["--exclusive"] : []),
  ]
}

/** `--mem` for a job on one node, else `--mem-per-cpu`. */
const memoryOptions = (o: SbatchOptions): Array<string> => {
  if (o.memory === undefined) return []
  const l = o.layout
  if (l === undefined || l.nodes === 1) return opt("mem", `${mebibytesUp(o.memory)}M`)
  return opt("mem-per-cpu", `${mebibytesUp(o.memory / (l.tasks * l.cpusPerTask))}M`)
}

const arrayOption = (o: SbatchOptions): Array<string> =>
  o.array === undefined ? [] : opt(
    "array",
    `0-${o.array.size - 1}${o.array.throttle !== undefined ? `%${o.array.throttle}` : ""}`,
  )

/**
 * The `sbatch` argv: every option is one `--name=value` word (no value can become another
 * option), the script last. The layout (`--nodes`, `--ntasks`, `--ntasks-per-node`,
 * `--cpus-per-task`, `--gpus-per-task` or `--gres=gpu:N`, `--exclusive`), else one task on one
 * node with `cores` CPUs; memory in MiB rounded up; the time limit in minutes rounded up (GC3Pie
 * rounded down, so 30 s became `--time 0`, which SLURM reads as no limit at all); `--no-requeue`
 * unless `requeue`; `--array` for an array. SLURM's own output of an array's elements, or of a
 * job's runs when it may be requeued, is appended to, not overwritten (`--open-mode=append`).
 *
 * @since 0.1.0
 * @category commands
 */
export const sbatchArgv = (o: SbatchOptions): ReadonlyArray<string> => [
  "sbatch",
  `--job-name=${o.jobname}`,
  `--chdir=${o.workdir}`,
  `--output=${literalPattern(o.output)}`,
  `--error=${literalPattern(o.error)}`,
  ...(o.array !== undefined || o.requeue === true ? ["--open-mode=append"] : []),
  o.requeue === true ? "--requeue" : "--no-requeue",
  ...layoutOptions(o),
  ...memoryOptions(o),
  ...opt("time", o.walltime !== undefined ? minutesUp(o.walltime) : undefined),
  ...opt("partition", o.partition),
  ...opt("account", o.account),
  ...opt("qos", o.qos),
  ...opt("reservation", o.reservation),
  ...opt("gres", o.gres),
  ...opt("gpus", o.gpus),
  `--export=${o.exportEnv}`,
  ...arrayOption(o),
  o.script,
]

// =============================================================================
// Array limit
// =============================================================================

/**
 * The argv that prints the controller's configuration, `MaxArraySize` among it.
 *
 * @since 0.1.0
 * @category commands
 */
export const showConfigArgv: ReadonlyArray<string> = ["scontrol", "show", "config"]

/**
 * Reads `MaxArraySize = N` from {@linkcode showConfigArgv}'s output: the most elements one array
 * may have (indices `0 … N−1`; 0: arrays are disabled); `undefined` when the line is missing.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMaxArraySize = (stdout: string): number | undefined => {
  const m = /^\s*MaxArraySize\s*=\s*(\d{1,9})\s*$/m.exec(stdout)
  return m === null ? undefined : Number(m[1])
}
