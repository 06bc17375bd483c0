/**
 * The LSF backend (IBM Spectrum LSF 10, the default; OpenLava 3 with `flavour: "openlava"`):
 * `bsub`, `bjobs`, `bacct` or `bhist`, `bkill`, `lshosts` or `bhosts` over any `Transport`,
 * through the shared batch flow (`Batch`).
 *
 * - Submit: `bsub -J <name> -cwd <job dir> -oo/-eo <private files>` (OpenLava, which has none of
 *   these: `-o`/`-e`, and the job script changes to the job directory, where `bsub` runs),
 *   the parallel shape (`-n <slots>`, `-R span[hosts=1]` or `span[ptile=…]`, `-gpu "num=…"`,
 *   `-x`; see `LsfParse`), `-R rusage[mem=<MB>]`, `-W H:MM`, `-r` (`requeue`), `-q`, `-P`, the
 *   job script as the command (relative to the job directory and shell-quoted: LSF has a shell
 *   run the command line). The job's own streams are redirected by the script. OpenLava has no
 *   `-gpu`: a job with GPUs is refused there by `validate`.
 * - Arrays: `-J "name[1-N]%throttle"` (index `LSB_JOBINDEX`, from 1); the array's id is the one
 *   `bsub` prints, an element's `123[4]`, which `bjobs`, `bhist`, `bacct` and `bkill` take and
 *   print (`Job <123[4]>`, OpenLava `Job Id <123[4]>`). The limit is `MAX_JOB_ARRAY_SIZE` from
 *   `bparams -l`, else `maxArraySize` (default 1000, LSF's default).
 * - Requeue: a requeued job (`brequeue`, `REQUEUE_EXIT_VALUES`, a failed host with `-r`) is
 *   `PEND` again (`SUBMITTED`) and followed to its real end; `bhist -l`'s ends of its earlier
 *   runs are not read as its end. `PSUSP`, `USUSP`, `SSUSP` are `STOPPED`.
 * - State: one `bjobs -a -l` for every job polled in the same moment; a `DONE` or `EXIT` job
 *   brings its end and usage with it (exit code, signal, `TERM_*` reasons, OpenLava's 128+N read
 *   with its run limit: see `LsfParse`). A job `bjobs` has forgotten (`Job <N> is not found`) is
 *   read from `bacct -l` (OpenLava: `bhist -l`), all of them in one call.
 * - Resource status: `bjobs -u all -w` (counts, and the cores of running jobs from every
 *   `EXEC_HOST` token) and `lshosts -w` (total cores; OpenLava: `bhosts -w`, free job slots).
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"
import * as Application from "../../src/Application.ts"
import * as Batch from "../batch/Batch.ts"
import { type Dialect, type Reply, type StatRecord, tagLister } from "../batch/Dialect.ts"
import { failureMessage, firstReplyFailed, submitOptions, Word } from "../batch/internal/dialect.ts"
import * as LsfParse from "./LsfParse.ts"

const BACKEND = "lsf"

/**
 * The configuration of an LSF resource: the shared static attributes and batch fields, command
 * overrides (`bsub`, `bjobs`, `bacct`, `bhist`, `bkill`, `lshosts`, `bhosts`, `bparams`), the
 * variant (`flavour`: `lsf`, the default, or `openlava`), `queue`, `project`, `requeue`
 * (default false) and `maxArraySize`.
 *
 * @since 0.1.0
 * @category models
 */
export class LsfConfig extends Schema.Class<LsfConfig>("LsfConfig")({
  ...Batch.BatchConfigFields,
  commands: Schema.optional(
    Batch.Commands(["bsub", "bjobs", "bacct", "bhist", "bkill", "lshosts", "bhosts", "bparams"]),
  ),
  flavour: Schema.optionalWith(Schema.Literal("lsf", "openlava"), {
    default: () => "lsf" as const,
  }),
  queue: Schema.optional(Word),
  project: Schema.optional(Word),
  /** Whether LSF may run a job again (`bsub -r`) after its host failed. */
  requeue: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The most elements of one array when `bparams -l` cannot tell (default 1000). */
  maxArraySize: Schema.optional(Schema.Int.pipe(Schema.positive())),
}) {}

/**
 * What an LSF configuration may contain.
 *
 * @since 0.1.0
 * @category models
 */
export type LsfConfigInput = typeof LsfConfig.Encoded

/**
 * Reads `bjobs -a -l`'s reply: the jobs it lists, with end and usage for finished ones. LSF
 * exits non-zero when some id is unknown (`Job <N> is not found`) but lists the others: only a
 * reply whose every complaint is such a line counts as an answer.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatReply = (reply: Reply): ReturnType<Dialect["stat"]["parse"]> => {
  const complaints = reply.stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  if (reply.exitCode !== 0 && !complaints.every((l) => /is not found/.test(l))) {
    return {
      _tag: "Failed",
      message: failureMessage("bjobs", reply),
    }
  }
  const jobs = new Map<string, StatRecord>()
  for (const [id, r] of LsfParse.parseBjobsLong(reply.stdout)) {
    jobs.set(id, {
      state: r.state,
      native: r.native,
      ...(r.termination !== undefined ? { termination: r.termination, usage: r.usage } : {}),
    })
  }
  return { _tag: "Listed", jobs }
}

/** The resource status: queue counts from `bjobs -u all -w`, free cores from the host list. */
const status = (flavour: LsfParse.Flavour): Dialect["status"] => ({
  argvs: [
    ["bjobs", "-u", "all", "-w"],
    flavour === "openlava" ? ["bhosts", "-w"] : ["lshosts", "-w"],
  ],
  parse: ([all, hosts], user) => {
    // bjobs exits 255 with "No unfinished job found" when the cluster is idle
    if (
      all === undefined ||
      (all.exitCode !== 0 && !/No unfinished job found/i.test(all.stderr + all.stdout))
    ) {
      return firstReplyFailed("bjobs", all)
    }
    const { usedCores, ...counts } = LsfParse.countJobs(all.stdout, user)
    const answered = hosts !== undefined && hosts.exitCode === 0
    if (flavour === "openlava") {
      const free = answered ? LsfParse.parseFreeSlots(hosts.stdout) : undefined
      return { ...counts, freeSlots: free ?? -1 }
    }
    const total = answered ? LsfParse.parseTotalCores(hosts.stdout) : undefined
    return { ...counts, freeSlots: total === undefined ? -1 : Math.max(0, total - usedCores) }
  },
})

/**
 * What an LSF configuration cannot express: GPUs on OpenLava, which has no `bsub -gpu`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const validate = (config: LsfConfig, app: Application.Application): string | undefined => {
  const gpus = Application.shape(app).gpusPerProcess
  return config.flavour === "openlava" && gpus > 0
    ? `gpusPerProcess: OpenLava has no GPU requests (bsub -gpu); this job asks for ${gpus} ` +
      `GPU(s) per process`
    : undefined
}

/**
 * The LSF dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: LsfConfig): Dialect => ({
  name: BACKEND,
  maxIds: 200,
  validate: (app) => validate(config, app),
  submit: (spec) => ({
    argv: LsfParse.bsubArgv({
      ...submitOptions(spec),
      shape: Application.shape(spec.app),
      workdir: spec.jobDir,
      flavour: config.flavour,
      queue: config.queue,
      project: config.project,
      rerunnable: config.requeue,
      array: spec.array,
    }),
    directives: [],
  }),
  parseJobId: LsfParse.parseBsubJobId,
  arrays: {
    indexVariable: "LSB_JOBINDEX",
    firstIndex: 1,
    maxSize: config.maxArraySize ?? 1000,
    elementId: LsfParse.elementId,
    limit: {
      argv: LsfParse.arrayLimitArgv,
      parse: (reply) => reply.exitCode === 0 ? LsfParse.parseArrayLimit(reply.stdout) : undefined,
    },
  },
  submitRetryable: LsfParse.bsubRetryable,
  findByTag: tagLister(() => LsfParse.bjobsAllArgv, LsfParse.parseTaggedJobs, /No job found/i),
  stat: { argv: LsfParse.bjobsArgv, parse: parseStatReply },
  accounting: [
    config.flavour === "openlava"
      ? { argv: LsfParse.bhistArgv, parse: (reply) => LsfParse.parseBhistLong(reply.stdout) }
      : { argv: LsfParse.bacctArgv, parse: (reply) => LsfParse.parseBacctLong(reply.stdout) },
  ],
  cancel: { argv: LsfParse.bkillArgv },
  status: status(config.flavour),
})

const lsf: Batch.Backend<LsfConfigInput> = Batch.backend(BACKEND, LsfConfig, dialect)

/**
 * Builds an LSF `Lrms` over the `Transport` and `FileSystem` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Batch.Backend<LsfConfigInput>["make"] = lsf.make

/**
 * The LSF backend as a layer. It requires the `Transport` in context and the platform's
 * `FileSystem` (`NodeContext.layer`, provided at the application's edge).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Batch.Backend<LsfConfigInput>["layer"] = lsf.layer
