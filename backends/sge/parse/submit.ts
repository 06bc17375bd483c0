/**
 * Grid Engine's `qsub`: the argv (resources, parallel environment, array, rerun), the job id of
 * its reply, whether a refusal may pass if tried again, and the cell's array limit.
 *
 * @since 0.1.0
 * @module
 */
import type * as Duration from "effect/Duration"
import { mebibytesUp, secondsUp } from "../../batch/internal/dialect.ts"

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
  /**
   * `-w e`: qsub refuses a job that could not run even in an empty cell (a parallel environment
   * without enough slots, nodes the cell does not have), instead of leaving it pending forever.
   */
  readonly verify?: boolean | undefined
  /** `-r y` (Grid Engine may run the job again after a node failure or `qmod -rj`) or `-r n`. */
  readonly rerun?: boolean | undefined
  /** An array of `size` tasks, indices 1…size (`-t 1-size`), at most `throttle` at once (`-tc`). */
  readonly array?: { readonly size: number; readonly throttle?: number | undefined } | undefined
  /** A consumable request `-l <resource>=<count>` (GPUs: per slot or per job, as the complex is). */
  readonly gpus?: { readonly resource: string; readonly count: number } | undefined
  /** A boolean exclusive-host complex (`exclusive`), requested as `-l <name>=true`. */
  readonly exclusive?: string | undefined
}

/** `-l` with the walltime limits: with both, s_rt's SIGUSR1 comes a minute before h_rt's kill. */
const walltimeArgs = (o: QsubOptions): ReadonlyArray<string> => {
  if (o.walltime === undefined) return []
  const seconds = secondsUp(o.walltime)
  const soft = o.walltimeResources.includes("s_rt")
  return [
    "-l",
    o.walltimeResources.map((r) => `${r}=${r === "h_rt" && soft ? seconds + 60 : seconds}`)
      .join(","),
  ]
}

/** `-t 1-N` and `-tc T`; each task's scheduler files get its index (tasks truncate a shared one). */
const arrayArgs = (o: QsubOptions): ReadonlyArray<string> =>
  o.array === undefined ? [] : [
    "-t",
    `1-${o.array.size}`,
    ...(o.array.throttle !== undefined ? ["-tc", String(o.array.throttle)] : []),
  ]

/**
 * The `qsub` argv: `-cwd -S /bin/sh`, the job name, the scheduler's output files, `-w e` and
 * `-r y|n` when told, the array's `-t 1-N` (`-tc`), walltime in seconds rounded up, memory per slot in MiB
 * rounded up, `-pe` for more than one slot, the queue, GPUs and exclusive host, the script last.
 *
 * For an array, Grid Engine's own output files get the task's index (`scheduler.out.$TASK_ID`:
 * Grid Engine expands `$TASK_ID` in `-o`/`-e` paths), because each task truncates its file when
 * it starts: measured here, three tasks sharing one `-o` file left only the last task's text.
 *
 * @since 0.1.0
 * @category commands
 */
export const qsubArgv = (o: QsubOptions): ReadonlyArray<string> => {
  const perSlotMiB = o.memory !== undefined ? mebibytesUp(o.memory / o.cores) : undefined
  const perTask = o.array !== undefined ? ".$TASK_ID" : ""
  return [
    "qsub",
    "-cwd",
    "-S",
    "/bin/sh",
    "-N",
    o.jobname,
    "-o",
    o.output + perTask,
    "-e",
    o.error + perTask,
    ...(o.verify === true ? ["-w", "e"] : []),
    ...(o.rerun !== undefined ? ["-r", o.rerun ? "y" : "n"] : []),
    ...arrayArgs(o),
    ...walltimeArgs(o),
    ...(perSlotMiB !== undefined ? ["-l", `${o.memoryResource}=${perSlotMiB}M`] : []),
    ...(o.cores > 1 && o.pe !== undefined ? ["-pe", o.pe, String(o.cores)] : []),
    ...(o.queue !== undefined ? ["-q", o.queue] : []),
    ...(o.gpus !== undefined ? ["-l", `${o.gpus.resource}=${o.gpus.count}`] : []),
    ...(o.exclusive !== undefined ? ["-l", `${o.exclusive}=true`] : []),
    o.script,
  ]
}

/**
 * Reads the job id from `qsub`'s output: `Your job N ("name") has been submitted`, or a `-terse`
 * line `N`. An array's reply (`Your job-array N.1-4:1 ("name") has been submitted`, `-terse`
 * `N.1-4:1`) gives the array's id `N`; its tasks are `N.1` … `N.4`.
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

/** The largest task id `qsub -t` takes when the cell sets no limit (2^31 − 1). */
const TASK_ID_MAX = 2 ** 31 - 1

/**
 * The most tasks one array may have, from the cell's configuration (`qconf -sconf`):
 * `max_aj_tasks` (Grid Engine's default 75000; 0: no limit but `qsub -t`'s own, 2^31 − 1);
 * `undefined` when the line is not there.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMaxArrayTasks = (stdout: string): number | undefined => {
  const m = /^max_aj_tasks\s+(\d{1,10})\s*$/m.exec(stdout)
  if (m === null) return undefined
  const n = Number(m[1])
  return n === 0 ? TASK_ID_MAX : Math.min(n, TASK_ID_MAX)
}
