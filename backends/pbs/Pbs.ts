/**
 * The PBS backend (Torque; OpenPBS / PBS Pro with `flavour: "pbspro"`): `qsub`, `qstat`,
 * `tracejob`, `qdel`, `pbsnodes` over any `Transport`, through the shared batch flow (`Batch`).
 *
 * - Submit: `qsub -N <name, 15 characters>` with `-l walltime=HH:MM:SS` and, on Torque,
 *   `-l nodes=1:ppn=N -l mem=<MiB>mb`, on PBS Pro `-l select=1:ncpus=N:mem=<MiB>mb`; `-q` and
 *   `-A` when configured. The job's own streams are redirected by the job script, so they grow
 *   while it runs (PBS would spool `-o` files on the node until the end).
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
import * as Batch from "../batch/Batch.ts"
import { type Dialect, type Reply, type StatRecord, tagLister } from "../batch/Dialect.ts"
import { failureMessage, queueAndNodes, submitOptions, Word } from "../batch/internal/dialect.ts"
import * as PbsParse from "./PbsParse.ts"

const BACKEND = "pbs"

/**
 * The configuration of a PBS resource: the shared static attributes and batch fields, command
 * overrides (`qsub`, `qstat`, `tracejob`, `qdel`, `pbsnodes`), the variant (`flavour`:
 * `torque`, the default, or `pbspro`), `queue` and `account`.
 *
 * @since 0.1.0
 * @category models
 */
export class PbsConfig extends Schema.Class<PbsConfig>("PbsConfig")({
  ...Batch.BatchConfigFields,
  commands: Schema.optional(Batch.Commands(["qsub", "qstat", "tracejob", "qdel", "pbsnodes"])),
  flavour: Schema.optionalWith(Schema.Literal("torque", "pbspro"), {
    default: () => "torque" as const,
  }),
  queue: Schema.optional(Word),
  account: Schema.optional(Word),
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
        queue: config.queue,
        account: config.account,
      }),
      directives: [],
    }),
    parseJobId: PbsParse.parseQsubJobId,
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
