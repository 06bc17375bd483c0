/**
 * What makes one batch scheduler different from another, as a value of pure functions: how to
 * build the submit command, read the job id, ask for the state of many jobs at once, read the
 * accounting, cancel, and count the queue. `Batch.make` runs the flow every scheduler shares
 * (spool directory, staging, job script, batched polling, grace window, cancel, free, results)
 * over any `Transport` with one of these.
 *
 * Every argv a dialect returns starts with the command's canonical name (`sbatch`, `squeue`);
 * `Batch` swaps that word for the words the configuration gives for it (`commands.sbatch =
 * "/opt/slurm/bin/sbatch --constraint=x"`). Argvs are passed as argv arrays, never as shell
 * text, so no name, argument or file name reaches a shell unquoted.
 *
 * @since 0.1.0
 * @module
 */
import type { Application } from "../../src/Application.ts"
import type * as Job from "../../src/Job.ts"
import type { Resource } from "../../src/Resource.ts"
import type { RunState } from "../../src/RunState.ts"
import type { Termination } from "../../src/Termination.ts"

/**
 * What a dialect is told about a job it must build a submit command for.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitSpec {
  /** What the job runs. */
  readonly app: Application
  /** The resource's static attributes (for defaults and limits). */
  readonly resource: Resource
  /** The job's directory on the resource (absolute), also the submit command's cwd. */
  readonly jobDir: string
  /** The job script (absolute path), already written. */
  readonly scriptPath: string
  /** Where the scheduler's own output and error files go (absolute, inside the job directory). */
  readonly schedulerOutput: string
  /** See {@linkcode SubmitSpec.schedulerOutput}. */
  readonly schedulerError: string
  /**
   * Set when the script is a job array's: the scheduler runs `size` elements of it, their
   * indices `firstIndex … firstIndex + size − 1` ({@linkcode ArraySupport}), at most `throttle`
   * of them at once. `jobDir` is then the array's directory and `app` its first element's
   * application (every element has the same resource shape).
   */
  readonly array?: ArraySpec | undefined
}

/**
 * An array submission's size and throttle.
 *
 * @since 0.1.0
 * @category models
 */
export interface ArraySpec {
  /** How many elements. */
  readonly size: number
  /** Most elements running at once (SLURM `%N`, PBS/LSF `%N`), when limited. */
  readonly throttle?: number | undefined
}

/**
 * How a dialect submits job arrays: the variable that gives an element its index in the job
 * script, the first index, the largest array, and how an element's id is written. Stat,
 * accounting and cancel commands are then given element ids (`123_4`, `123.4`, `123[4]`), and
 * their parsers key each element by the same id.
 *
 * @since 0.1.0
 * @category models
 */
export interface ArraySupport {
  /** The shell variable that holds an element's index in the job script (`SLURM_ARRAY_TASK_ID`). */
  readonly indexVariable: string
  /** The first element's index: 0 (SLURM, PBS) or 1 (Grid Engine, LSF). */
  readonly firstIndex: number
  /** The most elements one array may have, unless {@linkcode ArraySupport.limit} reads the site's. */
  readonly maxSize: number
  /** An element's job id, from the array's id (as `parseJobId` read it) and the element's index. */
  readonly elementId: (arrayId: string, index: number) => string
  /** Reads the site's array limit (`scontrol show config`'s `MaxArraySize`), when it can be read. */
  readonly limit?: {
    readonly argv: ReadonlyArray<string>
    readonly parse: (reply: Reply) => number | undefined
  }
}

/**
 * The submit command and the directive lines for the job script.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitCommand {
  /** The argv, starting with the command's canonical name and ending with the script. */
  readonly argv: ReadonlyArray<string>
  /** Lines written right after `#!/bin/sh` (`#SBATCH ...`, `#$ ...`). */
  readonly directives: ReadonlyArray<string>
}

/**
 * A command's reply, as the dialect parses it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  /** The exit code (`128 + N` when killed by signal N). */
  readonly exitCode: number
  /** Standard output. */
  readonly stdout: string
  /** Standard error. */
  readonly stderr: string
}

/**
 * What the stat command says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatRecord {
  /** The run state: `TERMINATING` means the scheduler knows it ended, accounting tells how. */
  readonly state: RunState
  /** The scheduler's own state (`PENDING`, `qw`). */
  readonly native: string
  /** The scheduler's reason, if it gives one (`Resources`, `JobHeldUser`). */
  readonly reason?: string
  /** How the job ended, when the stat command already tells. */
  readonly termination?: Termination | undefined
  /**
   * What the job used, when the stat command tells that too (PBS's `qstat -f` of a completed
   * job): with a termination, accounting is then not asked.
   */
  readonly usage?: Job.Usage | undefined
}

/**
 * The parsed reply of a stat command: the jobs it lists (a job it leaves out has left the
 * queue), or a failure (the scheduler could not be asked), with the reason.
 *
 * @since 0.1.0
 * @category models
 */
export type StatResult =
  | { readonly _tag: "Listed"; readonly jobs: ReadonlyMap<string, StatRecord> }
  | {
    readonly _tag: "Failed"
    readonly message: string
    /**
     * The command itself is not understood by this scheduler's version (an unknown option):
     * the dialect's {@linkcode Dialect.stat} `fallback` is used from then on.
     */
    readonly unsupported?: boolean
  }

/**
 * What accounting says about one job.
 *
 * @since 0.1.0
 * @category models
 */
export interface AccountingRecord {
  /** `TERMINATING` once accounting has the job's end; any other state means "not yet". */
  readonly state: RunState
  /** The scheduler's own final state (`COMPLETED`, `TIMEOUT`). */
  readonly native: string
  /** How the job ended (set when `state` is `TERMINATING`). */
  readonly termination?: Termination | undefined
  /** What the job used. */
  readonly usage: Job.Usage
}

/**
 * A command that answers for many jobs at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface ManyJobsCommand<A> {
  /** The argv for these ids, or `undefined` when an id may not be put on a command line. */
  readonly argv: (ids: ReadonlyArray<string>) => ReadonlyArray<string> | undefined
  /** Environment variables the command needs (`SLURM_TIME_FORMAT=standard`). */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Most ids one call takes, when fewer than the dialect's `maxIds` (`qacct -j` and `tracejob`
   * take one): the calls for one batch then run side by side, a few at a time.
   */
  readonly idsPerCall?: number
  /** Parses the reply (pure; never throws). */
  readonly parse: (reply: Reply, ids: ReadonlyArray<string>) => A
}

/**
 * The queue counts and free slots the resource status reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface QueueStatus {
  /** Cores free for new jobs, or −1 when the scheduler does not tell. */
  readonly freeSlots: number
  /** Jobs of every user waiting. */
  readonly queued: number
  /** Jobs of every user running. */
  readonly totalRun: number
  /** The user's running jobs. */
  readonly userRun: number
  /** The user's waiting jobs. */
  readonly userQueued: number
}

/**
 * A batch scheduler's dialect.
 *
 * @since 0.1.0
 * @category models
 */
export interface Dialect {
  /** The backend type (`slurm`, `sge`, `pbs`, `lsf`). */
  readonly name: string
  /** Most job ids one stat, accounting or cancel command may carry (command-line length). */
  readonly maxIds: number
  /**
   * Checks a job against what the dialect's configuration can express (e.g. a multi-core job
   * needs a parallel environment); returns the problem, naming the setting, or `undefined`.
   */
  readonly validate?: (app: Application) => string | undefined
  /** Builds the submit command for a job. */
  readonly submit: (spec: SubmitSpec) => SubmitCommand
  /** Reads the job id from the submit command's output, or `undefined`. */
  readonly parseJobId: (output: string) => string | undefined
  /** Job arrays, when the scheduler has them (`undefined`: every job is submitted alone). */
  readonly arrays?: ArraySupport
  /** Whether a refused submission may succeed if tried again as it is (controller busy). */
  readonly submitRetryable: (output: string) => boolean
  /**
   * Asks for the state of many jobs; `fallback` is asked instead, for the layer's lifetime, once
   * the first command's reply says it is `unsupported` (PBS Pro's `qstat -F json` → text).
   */
  readonly stat: ManyJobsCommand<StatResult> & {
    readonly fallback?: ManyJobsCommand<StatResult>
    /**
     * Lists every job of the user in one call, read by the same `parse`: asked instead of the
     * ids when they would need more than one call (`squeue -u alice` for 10,000 jobs).
     */
    readonly mine?: (user: string) => ReadonlyArray<string>
  }
  /** Accounting commands, tried in order for jobs that left the queue; first answer wins. */
  readonly accounting: ReadonlyArray<ManyJobsCommand<ReadonlyMap<string, AccountingRecord>>>
  /**
   * Lists the user's jobs by tag, for settling a submission whose reply was lost: the tag is the
   * `Job` id, in the job directory's name (`…/job.<tag>`), which the scheduler keeps as the job's
   * working directory. `argv` lists the user's jobs, `parse` maps tag to job id, or says why it
   * cannot tell. A dialect without it settles from the job directory's submit record alone.
   */
  readonly findByTag?: {
    readonly argv: (user: string) => ReadonlyArray<string>
    readonly parse: (reply: Reply) => ReadonlyMap<string, string> | string
  }
  /** Cancels many jobs. */
  readonly cancel: {
    readonly argv: (ids: ReadonlyArray<string>) => ReadonlyArray<string> | undefined
  }
  /** The commands the resource status runs (concurrently), and how to read their replies. */
  readonly status: {
    readonly argvs: ReadonlyArray<ReadonlyArray<string>>
    readonly parse: (replies: ReadonlyArray<Reply>, user: string) => QueueStatus | string
  }
}

/**
 * A {@linkcode Dialect.findByTag}: `argv` lists the user's jobs; a reply that exits 0, or whose
 * text says there are no jobs (`nothing`), is read by `parse`; any other reply is why the
 * scheduler cannot tell (its last line of standard error).
 *
 * @since 0.1.0
 * @category constructors
 */
export const tagLister = (
  argv: (user: string) => ReadonlyArray<string>,
  parse: (stdout: string) => ReadonlyMap<string, string>,
  nothing?: RegExp,
): NonNullable<Dialect["findByTag"]> => ({
  argv,
  parse: (reply) =>
    reply.exitCode === 0 || (nothing?.test(`${reply.stdout}\n${reply.stderr}`) ?? false)
      ? parse(reply.stdout)
      : reply.stderr.trim().split("\n").at(-1) ||
        `${argv("")[0] ?? "the command"} exited with code ${reply.exitCode}`,
})
