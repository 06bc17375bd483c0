/**
 * The Grid Engine backend (SGE, Son of Grid Engine, OGS, Univa): `qsub`, `qstat`, `qacct`,
 * `qdel` over any `Transport`, through the shared batch flow (`Batch`).
 *
 * - Submit: `qsub -cwd -S /bin/sh -N <name>` with the walltime as `h_rt` (seconds, rounded up;
 *   `walltimeResources: ["s_rt", "h_rt"]` adds GC3Pie's soft limit, which sends SIGUSR1 a
 *   minute before the hard one: measured here, `s_rt` alone only sends SIGUSR1, which a job may
 *   trap and run on forever, while `h_rt` kills it and qacct says `failed 37`), memory per slot as `mem_free` (or the configured resource, e.g.
 *   `h_vmem`) in MiB rounded up, `-pe <pe> N` for more than one core (`pe[applicationName]`,
 *   else `defaultPe`; a multi-core job without one fails with `ConfigurationError` naming the
 *   setting), `-q` when configured. The job's own streams are redirected by the job script.
 * - State: one `qstat` lists every job of the user; ids are matched exactly (GC3Pie matched a
 *   prefix: job 12 took job 123's state). `Eqw` (error) and held jobs are `STOPPED`. A job that
 *   left `qstat` is read from `qacct -j` (one call per finished job, a few at a time; qacct takes
 *   one id), within the grace window for the moment between the two.
 * - Resource status: `qstat -u '*'` (counts) and `qstat -f` (free slots per host, as GC3Pie
 *   computes them, without disabled or erroneous queue instances).
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"
import * as Batch from "../batch/Batch.ts"
import { type Dialect, type Reply, type StatRecord, tagLister } from "../batch/Dialect.ts"
import {
  failureMessage,
  queueAndNodes,
  spooldir,
  submitOptions,
} from "../batch/internal/dialect.ts"
import * as SgeParse from "./SgeParse.ts"

const BACKEND = "sge"

/** A Grid Engine object name: no blanks, no `/ : @ \ * ?` and not starting with a digit. */
const Name = Schema.String.pipe(
  Schema.filter((s) =>
    /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) || "expected a Grid Engine name (letters, digits, _ . -)"
  ),
)

/**
 * The configuration of a Grid Engine resource: the shared static attributes and batch fields,
 * command overrides (`qsub`, `qstat`, `qacct`, `qdel`), the parallel environment for
 * multi-core jobs (`defaultPe`, and `pe` by application name: GC3Pie's `<app>_pe`), the memory
 * resource (`memoryResource`, default `mem_free`, per slot), the walltime resources
 * (`walltimeResources`, default `["h_rt"]`) and the queue.
 *
 * @since 0.1.0
 * @category models
 */
export class SgeConfig extends Schema.Class<SgeConfig>("SgeConfig")({
  ...Batch.BatchConfigFields,
  spooldir: spooldir((s) =>
    !/[$:\s]/.test(s) || "Grid Engine reads $, : and blanks in output paths; choose another"
  ),
  commands: Schema.optional(Batch.Commands(["qsub", "qstat", "qacct", "qdel"])),
  defaultPe: Schema.optional(Name),
  pe: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Name }), {
    default: () => ({}),
  }),
  memoryResource: Schema.optionalWith(Name, { default: () => "mem_free" }),
  walltimeResources: Schema.optionalWith(Schema.NonEmptyArray(Name), {
    default: () => ["h_rt"] as const,
  }),
  queue: Schema.optional(Name),
}) {}

/**
 * What a Grid Engine configuration may contain.
 *
 * @since 0.1.0
 * @category models
 */
export type SgeConfigInput = typeof SgeConfig.Encoded

/**
 * Reads `qstat`'s reply: the jobs it lists; a failure (qmaster unreachable) otherwise. `qstat`
 * exits 0 with no output when the user has no job.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatReply = (reply: Reply): ReturnType<Dialect["stat"]["parse"]> => {
  if (reply.exitCode !== 0) {
    return { _tag: "Failed", message: failureMessage("qstat", reply, true) }
  }
  const jobs = new Map<string, StatRecord>()
  for (const [id, r] of SgeParse.parseQstat(reply.stdout)) {
    jobs.set(id, { state: r.state, native: r.native })
  }
  return { _tag: "Listed", jobs }
}

/**
 * The Grid Engine dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: SgeConfig): Dialect => {
  const peOf = (applicationName: string) => config.pe[applicationName] ?? config.defaultPe
  return {
    name: BACKEND,
    maxIds: 200,
    validate: (app) =>
      app.requestedCores > 1 && peOf(app.applicationName) === undefined
        ? `requestedCores: ${app.requestedCores} cores need a parallel environment: set ` +
          `defaultPe (or pe.${app.applicationName}) in the resource's configuration`
        : undefined,
    submit: (spec) => ({
      argv: SgeParse.qsubArgv({
        ...submitOptions(spec),
        pe: peOf(spec.app.applicationName),
        memoryResource: config.memoryResource,
        walltimeResources: config.walltimeResources,
        queue: config.queue,
      }),
      directives: [],
    }),
    parseJobId: SgeParse.parseQsubJobId,
    submitRetryable: SgeParse.qsubRetryable,
    findByTag: tagLister(
      () => SgeParse.qstatAllDetailsArgv,
      SgeParse.parseTaggedJobs,
      /do not exist/i,
    ),
    stat: {
      argv: (ids) => ids.every(SgeParse.isValidJobId) ? ["qstat"] : undefined,
      parse: parseStatReply,
    },
    accounting: [{
      argv: SgeParse.qacctArgv,
      idsPerCall: 1,
      parse: (reply) => SgeParse.parseQacct(reply.stdout),
    }],
    cancel: { argv: SgeParse.qdelArgv },
    status: {
      argvs: SgeParse.statusArgvs(config.queue),
      parse: queueAndNodes("qstat", SgeParse.countJobs, SgeParse.parseFreeSlots),
    },
  }
}

const sge: Batch.Backend<SgeConfigInput> = Batch.backend(BACKEND, SgeConfig, dialect)

/**
 * Builds a Grid Engine `Lrms` over the `Transport` and `FileSystem` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Batch.Backend<SgeConfigInput>["make"] = sge.make

/**
 * The Grid Engine backend as a layer. It requires the `Transport` in context and the platform's
 * `FileSystem` (`NodeContext.layer`, provided at the application's edge).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Batch.Backend<SgeConfigInput>["layer"] = sge.layer
