/**
 * The Grid Engine backend (SGE, Son of Grid Engine, OGS, Univa): `qsub`, `qstat`, `qacct`,
 * `qdel` over any `Transport`, through the shared batch flow (`Batch`).
 *
 * - Submit: `qsub -cwd -S /bin/sh -N <name> -w e -r n` (`-w e`: a job that could not run even
 *   in an empty cell, e.g. more slots or nodes than a parallel environment offers, is refused at
 *   once instead of pending forever; `verify: false` leaves it out. `-r y` with `requeue: true`:
 *   Grid Engine may then run the job again after a node failure or `qmod -rj`) with the walltime
 *   as `h_rt`
 *   (seconds, rounded up; `walltimeResources: ["s_rt", "h_rt"]` adds GC3Pie's soft limit, which
 *   sends SIGUSR1 a minute before the hard one: measured here, `s_rt` alone only sends SIGUSR1,
 *   which a job may trap and run on forever, while `h_rt` kills it and qacct says `failed 37`),
 *   memory per slot as `mem_free` (or the configured resource, e.g. `h_vmem`) in MiB rounded up,
 *   the queue when configured. The job's own streams are redirected by the job script.
 * - Parallel jobs: `processes × coresPerProcess` slots in a parallel environment (`-pe <pe> N`:
 *   `pe[applicationName]`, else `defaultPe`, for one node; `multiNodePe` by slots per node for
 *   several), GPUs as the `gpuResource` consumable, whole nodes as the `exclusiveResource`
 *   complex. What the configuration cannot express is refused with `ConfigurationError` naming
 *   the field and the setting (see `SgeParse.planShape`).
 * - Arrays: `-t 1-N` (`-tc` for a throttle), tasks indexed from 1 by `SGE_TASK_ID`, task ids
 *   `<job>.<task>`; the largest array is `maxArraySize`, else the cell's `max_aj_tasks` (read
 *   from `qconf -sconf`), else 75000 (Grid Engine's default).
 * - State: one `qstat` lists every job of the user; ids are matched exactly (GC3Pie matched a
 *   prefix: job 12 took job 123's state), array tasks one by one (the ranges of waiting tasks
 *   expanded). `Eqw` (error), held and suspended jobs are `STOPPED`; a rescheduled job (`Rq`)
 *   is `SUBMITTED` again, then `RUNNING` (`Rr`). A job that left `qstat` is read from `qacct -j`
 *   (`qacct -j N -t T` for a task; one call per finished job, a few at a time), within the grace
 *   window for the moment between the two.
 * - Resource status: `qstat -u '*'` (counts) and `qstat -f` (free slots per host, as GC3Pie
 *   computes them, without disabled or erroneous queue instances).
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
import {
  failureMessage,
  queueAndNodes,
  spooldir,
  submitOptions,
} from "../batch/internal/dialect.ts"
import * as SgeParse from "./SgeParse.ts"

const BACKEND = "sge"

/** Grid Engine's default `max_aj_tasks`: the largest array when the cell's cannot be read. */
const DEFAULT_MAX_ARRAY = 75_000

/** A Grid Engine object name: no blanks, no `/ : @ \ * ?` and not starting with a digit. */
const Name = Schema.String.pipe(
  Schema.filter((s) =>
    /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) || "expected a Grid Engine name (letters, digits, _ . -)"
  ),
)

/**
 * The configuration of a Grid Engine resource: the shared static attributes and batch fields,
 * command overrides (`qsub`, `qstat`, `qacct`, `qdel`, `qconf`), the parallel environment for
 * multi-core jobs on one node (`defaultPe`, and `pe` by application name: GC3Pie's `<app>_pe`)
 * and for jobs on several nodes (`multiNodePe`, by slots per node: each one's `allocation_rule`),
 * the GPU consumable (`gpuResource`, per slot unless `gpuPerSlot: false`), the exclusive-host
 * complex (`exclusiveResource`), the memory resource (`memoryResource`, default `mem_free`, per
 * slot), the walltime resources (`walltimeResources`, default `["h_rt"]`), the queue, whether
 * Grid Engine may run a job again (`requeue`, default false: `-r n`), whether qsub refuses a job
 * that could never run (`verify`, default true: `-w e`), and the largest array (`maxArraySize`;
 * default: the cell's `max_aj_tasks`).
 *
 * @since 0.1.0
 * @category models
 */
export class SgeConfig extends Schema.Class<SgeConfig>("SgeConfig")({
  ...Batch.BatchConfigFields,
  spooldir: spooldir((s) =>
    !/[$:\s]/.test(s) || "Grid Engine reads $, : and blanks in output paths; choose another"
  ),
  commands: Schema.optional(Batch.Commands(["qsub", "qstat", "qacct", "qdel", "qconf"])),
  defaultPe: Schema.optional(Name),
  pe: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Name }), {
    default: () => ({}),
  }),
  multiNodePe: Schema.optionalWith(
    Schema.Record({ key: Schema.String.pipe(Schema.pattern(/^[1-9]\d{0,5}$/)), value: Name }),
    { default: () => ({}) },
  ),
  gpuResource: Schema.optional(Name),
  gpuPerSlot: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  exclusiveResource: Schema.optional(Name),
  memoryResource: Schema.optionalWith(Name, { default: () => "mem_free" }),
  walltimeResources: Schema.optionalWith(Schema.NonEmptyArray(Name), {
    default: () => ["h_rt"] as const,
  }),
  queue: Schema.optional(Name),
  requeue: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  verify: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  maxArraySize: Schema.optional(Schema.Int.pipe(Schema.between(1, 2 ** 31 - 1))),
}) {}

/**
 * What a Grid Engine configuration may contain.
 *
 * @since 0.1.0
 * @category models
 */
export type SgeConfigInput = typeof SgeConfig.Encoded

/** A `qstat` record as the batch flow reads it, with what its state code says beside it. */
const statRecord = (r: SgeParse.QstatRecord): StatRecord => {
  const reason = SgeParse.stateReason(r.native)
  return { state: r.state, native: r.native, ...(reason !== undefined ? { reason } : {}) }
}

/**
 * Reads `qstat`'s reply: the jobs it lists, each keyed by its id (an array job's tasks folded)
 * and each array task by `<job>.<task>`; a failure (qmaster unreachable) otherwise. `qstat` exits
 * 0 with no output when the user has no job.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatReply = (reply: Reply): ReturnType<Dialect["stat"]["parse"]> => {
  if (reply.exitCode !== 0) {
    return { _tag: "Failed", message: failureMessage("qstat", reply, true) }
  }
  const jobs = new Map<string, StatRecord>()
  for (const [id, r] of SgeParse.parseQstat(reply.stdout)) jobs.set(id, statRecord(r))
  for (const [id, r] of SgeParse.parseQstatTasks(reply.stdout)) jobs.set(id, statRecord(r))
  return { _tag: "Listed", jobs }
}

/** Arrays: `-t 1-N`, `SGE_TASK_ID` from 1, `<job>.<task>`, the cell's `max_aj_tasks`. */
const arrays = (config: SgeConfig): ArraySupport => ({
  indexVariable: "SGE_TASK_ID",
  firstIndex: 1,
  maxSize: config.maxArraySize ?? DEFAULT_MAX_ARRAY,
  elementId: SgeParse.elementId,
  ...(config.maxArraySize === undefined
    ? {
      limit: {
        argv: ["qconf", "-sconf"],
        parse: (reply: Reply) =>
          reply.exitCode === 0 ? SgeParse.parseMaxArrayTasks(reply.stdout) : undefined,
      },
    }
    : {}),
})

/** The job's parallel shape in `qsub`'s terms, or why the configuration cannot express it. */
const planOf = (config: SgeConfig, app: Application.Application) =>
  SgeParse.planShape(Application.shape(app), {
    pe: config.pe[app.applicationName] ?? config.defaultPe,
    applicationName: app.applicationName,
    multiNodePe: config.multiNodePe,
    gpuResource: config.gpuResource,
    gpuPerSlot: config.gpuPerSlot,
    exclusiveResource: config.exclusiveResource,
  })

/**
 * The Grid Engine dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: SgeConfig): Dialect => ({
  name: BACKEND,
  maxIds: 200,
  validate: (app) => {
    const plan = planOf(config, app)
    return typeof plan === "string" ? plan : undefined
  },
  submit: (spec) => {
    const plan = planOf(config, spec.app)
    const shaped = typeof plan === "string" ? { slots: spec.app.requestedCores } : plan
    return {
      argv: SgeParse.qsubArgv({
        ...submitOptions(spec),
        cores: shaped.slots,
        pe: shaped.pe,
        gpus: shaped.gpus,
        exclusive: shaped.exclusive,
        memoryResource: config.memoryResource,
        walltimeResources: config.walltimeResources,
        queue: config.queue,
        rerun: config.requeue,
        verify: config.verify,
        array: spec.array,
      }),
      directives: [],
    }
  },
  parseJobId: SgeParse.parseQsubJobId,
  arrays: arrays(config),
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
})

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
