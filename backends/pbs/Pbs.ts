/**
 * The PBS backend (Torque; OpenPBS / PBS Pro with `flavour: "pbspro"`): `qsub`, `qstat`,
 * `tracejob`, `qdel`, `pbsnodes` over any `Transport`, through the shared batch flow (`Batch`).
 *
 * - Submit: `qsub -N <name, 15 characters>` with `-l walltime=HH:MM:SS` and the job's parallel
 *   shape: on Torque `-l nodes=N:ppn=…[:gpus=…] -l mem=<MiB>mb` (`-n` for whole nodes), on PBS
 *   Pro `-l select=N:ncpus=…:mpiprocs=…:ompthreads=…[:ngpus=…][:mem=…] -l place=…[:excl]` (a
 *   plain job keeps `select=1:ncpus=<cores>`; see `PbsParse`); `-r y|n` (`requeue`); `-q` and
 *   `-A` when configured. The job's own streams are redirected by the job script, so they grow
 *   while it runs (PBS would spool `-o` files on the node until the end).
 * - Arrays: PBS Pro `-J 0-N[%throttle]` (index `PBS_ARRAY_INDEX`), Torque `-t 0-N[%throttle]`
 *   (`PBS_ARRAYID`); the array's id is `123[].server`, an element's `123[4].server`, which
 *   `qstat -f`, `tracejob` and `qdel` take as they take any id. Elements are asked for by their
 *   own ids, never through `qstat -t`, nor by the array's id (Torque's `qstat -f 123[]` lists
 *   every job of the server). The scheduler's own output files of element `i` are `<path>-i`
 *   (PBS Pro `-^array_index^`; Torque appends `-i` itself). A queued PBS Pro subjob carries its
 *   parent's `Exit_status`; Torque holds the elements over the array's `%throttle` with hold
 *   type `l` (`SUBMITTED`: no one has to release them). The limit is the server's
 *   `max_array_size` (PBS Pro) or `max_job_array_size` (Torque), read with `qmgr`, else
 *   `maxArraySize` (default 10000, PBS Pro's default). PBS Pro's subjobs are always rerunnable.
 * - Requeue: a rerun job (`qrerun`, a node that failed) is queued again (`Q`: `SUBMITTED`) and
 *   followed to its real end; `H`, `S`, `U` are `STOPPED`; `E` (exiting) still `RUNNING`; `F`,
 *   `C`, `X` (a finished subjob) ended, with the exit status.
 * - State: one `qstat -f` (PBS Pro: `qstat -x -f`, which keeps finished jobs) for every job
 *   polled in the same moment; a completed job's `exit_status` and `resources_used.*` come with
 *   it. A job `qstat` has forgotten is read from `tracejob` (one call per job: it takes one id;
 *   it reads the server's logs, which only a PBS administrator may, so on PBS Pro the history
 *   of `qstat -x` is what finished jobs are read from). Negative exit statuses are read in the
 *   variant's codes (GC3Pie lost them); PBS Pro's `qstat -x -f -F json` is parsed, and its text
 *   format where the client has no `-F json` (GC3Pie's parser always failed).
 * - Resource status: `qstat -a` (parsed by the columns it prints; GC3Pie's regex expected other
 *   columns and always counted 0) and `pbsnodes -a` (free cores).
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"
import * as Application from "../../src/Application.ts"
import * as Batch from "../batch/Batch.ts"
import {
  type ArraySupport,
  type Dialect,
  type Reply,
  type StatRecord,
  tagLister,
} from "../batch/Dialect.ts"
import { failureMessage, queueAndNodes, submitOptions, Word } from "../batch/internal/dialect.ts"
import * as PbsParse from "./PbsParse.ts"

const BACKEND = "pbs"

/**
 * The configuration of a PBS resource: the shared static attributes and batch fields, command
 * overrides (`qsub`, `qstat`, `tracejob`, `qdel`, `pbsnodes`, `qmgr`), the variant (`flavour`:
 * `torque`, the default, or `pbspro`), `queue`, `account`, `requeue` (default false: `-r n`)
 * and `maxArraySize`.
 *
 * @since 0.1.0
 * @category models
 */
export class PbsConfig extends Schema.Class<PbsConfig>("PbsConfig")({
  ...Batch.BatchConfigFields,
  commands: Schema.optional(
    Batch.Commands(["qsub", "qstat", "tracejob", "qdel", "pbsnodes", "qmgr"]),
  ),
  flavour: Schema.optionalWith(Schema.Literal("torque", "pbspro"), {
    default: () => "torque" as const,
  }),
  queue: Schema.optional(Word),
  account: Schema.optional(Word),
  /** Whether PBS may run a job again (`qsub -r y`) after a node failure or `qrerun`. */
  requeue: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The most elements of one array when the server's limit cannot be read (default 10000). */
  maxArraySize: Schema.optional(Schema.Int.pipe(Schema.positive())),
}) {}

/**
 * What a PBS configuration may contain.
 *
 * @since 0.1.0
 * @category models
 */
export type PbsConfigInput = typeof PbsConfig.Encoded

/**
 * Reads `qstat -f`'s reply (text, or PBS Pro's `-F json`) for the ids asked: the jobs it lists
 * (matched by sequence number), exit statuses read in the variant's codes. Torque and PBS Pro
 * exit 153 when one of several ids is unknown but still list the others: only a reply whose
 * every complaint is an unknown id counts as an answer; a client that does not know an option is
 * `unsupported`; any other failure (server down) is a failure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatReply = (
  reply: Reply,
  ids: ReadonlyArray<string>,
  flavour: PbsParse.Flavour = "torque",
): ReturnType<Dialect["stat"]["parse"]> => {
  const complaints = reply.stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  const onlyUnknown = complaints.every((l) => /Unknown Job Id|does not exist|not found/i.test(l))
  if (reply.exitCode !== 0 && !onlyUnknown) {
    return {
      _tag: "Failed",
      message: failureMessage("qstat", reply),
      unsupported: PbsParse.optionUnsupported(reply.exitCode, reply.stdout, reply.stderr),
    }
  }
  const jobs = new Map<string, StatRecord>()
  const parsed = PbsParse.parseQstatFull(reply.stdout, flavour)
  for (const [id, r] of PbsParse.byRequestedId(parsed, ids)) {
    jobs.set(id, {
      state: r.state,
      native: r.native,
      ...(r.termination !== undefined ? { termination: r.termination, usage: r.usage } : {}),
    })
  }
  return { _tag: "Listed", jobs }
}

/** Job arrays: the variant's index variable, indices from 0, the server's limit via `qmgr`. */
const arrays = (config: PbsConfig): ArraySupport => ({
  indexVariable: config.flavour === "pbspro" ? "PBS_ARRAY_INDEX" : "PBS_ARRAYID",
  firstIndex: 0,
  maxSize: config.maxArraySize ?? 10_000,
  elementId: PbsParse.elementId,
  limit: {
    argv: PbsParse.arrayLimitArgv(config.flavour),
    parse: (reply) => reply.exitCode === 0 ? PbsParse.parseArrayLimit(reply.stdout) : undefined,
  },
})

/**
 * The PBS dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: PbsConfig): Dialect => {
  const { flavour } = config
  const text = {
    argv: PbsParse.qstatFullArgv(flavour),
    parse: (reply: Reply, ids: ReadonlyArray<string>) => parseStatReply(reply, ids, flavour),
  }
  return {
    name: BACKEND,
    maxIds: 200,
    submit: (spec) => ({
      argv: PbsParse.qsubArgv({
        flavour: config.flavour,
        ...submitOptions(spec),
        shape: Application.shape(spec.app),
        queue: config.queue,
        account: config.account,
        rerunnable: config.requeue,
        array: spec.array,
      }),
      directives: [],
    }),
    parseJobId: PbsParse.parseQsubJobId,
    arrays: arrays(config),
    submitRetryable: PbsParse.qsubRetryable,
    findByTag: tagLister(() => PbsParse.qstatAllFullArgv(flavour), PbsParse.parseTaggedJobs),
    // PBS Pro: JSON where the client has it (no wrapping, no quoting to undo), else text
    stat: flavour === "pbspro"
      ? { argv: PbsParse.qstatFullArgv(flavour, "json"), parse: text.parse, fallback: text }
      : text,
    // a job qstat lists as completed brings its exit status and usage; tracejob is for those
    // qstat has forgotten
    accounting: [
      {
        argv: PbsParse.tracejobArgv,
        idsPerCall: 1,
        parse: (reply, ids) => {
          const r = PbsParse.parseTracejob(reply.stdout, flavour)
          return new Map(r !== undefined && ids[0] !== undefined ? [[ids[0], r]] : [])
        },
      },
    ],
    cancel: { argv: PbsParse.qdelArgv },
    status: {
      argvs: [["qstat", "-a"], ["pbsnodes", "-a"]],
      parse: queueAndNodes("qstat -a", PbsParse.countJobs, PbsParse.parseFreeCores),
    },
  }
}

const pbs: Batch.Backend<PbsConfigInput> = Batch.backend(BACKEND, PbsConfig, dialect)

/**
 * Builds a PBS `Lrms` over the `Transport` and `FileSystem` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Batch.Backend<PbsConfigInput>["make"] = pbs.make

/**
 * The PBS backend as a layer. It requires the `Transport` in context and the platform's
 * `FileSystem` (`NodeContext.layer`, provided at the application's edge).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Batch.Backend<PbsConfigInput>["layer"] = pbs.layer
