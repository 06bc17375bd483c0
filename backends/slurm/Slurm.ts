/**
 * The SLURM backend: `sbatch`, `squeue`, `sacct`, `scancel` and `sinfo` over any `Transport`,
 * through the shared batch flow (`Batch`). On the login node it runs with `LocalTransport`; from
 * a laptop, the same layer runs over `SshTransport` to the login node.
 *
 * - Submit: `sbatch` with the job's parallel shape (`--nodes`, `--ntasks`, `--ntasks-per-node`,
 *   `--cpus-per-task`, `--gpus-per-task` or `--gres=gpu:N`, `--exclusive`), `--mem` (MiB,
 *   rounded up; `--mem-per-cpu` when the job may span nodes), `--time` (minutes, rounded up),
 *   the job name, `--no-requeue` (`--requeue` with `requeue = true`), `--export` (default
 *   `ALL`), and the configured partition, account, QOS, reservation, `--gres`/`--gpus` and extra
 *   `#SBATCH` directives. Jobs of one shape submitted together become one job array
 *   (`--array=0-N%throttle`, elements `123_4`, at most `MaxArraySize` of `scontrol show config`,
 *   else `maxArraySize`). The job's own stdin/stdout/stderr are redirected by the job script
 *   (see `Script`), SLURM's own messages go to the job's private directory.
 * - State: one `squeue --array --states=all --jobs=…` for every job polled in the same moment (a
 *   finished job stays listed until `MinJobAge`), then one `sacct` for those that finished:
 *   `ExitCode A:B`, `Elapsed`, `TotalCPU`, `MaxRSS`/`MaxVMSize` (SLURM's `K` is 1024 bytes),
 *   `NCPUS`, the GPUs allocated (`AllocTRES`). `CANCELLED`, `TIMEOUT`, `PREEMPTED` and
 *   `DEADLINE` end with the RemoteKill pseudo-signal and exit 75, `NODE_FAIL`/`BOOT_FAIL` with
 *   RemoteError, `OUT_OF_MEMORY` with signal 9. A requeued job (`REQUEUED`, or pending again
 *   after a preemption or node failure) is `SUBMITTED` again, one held after its requeue
 *   (`REQUEUE_HOLD`, `SPECIAL_EXIT`) `STOPPED`: it is the same job, followed to its real end.
 *   Without accounting (`sacct` refuses), the final state from `squeue` is used after
 *   `accountingDelay`.
 * - Resource status: `squeue` (every user's jobs, array tasks counted one by one) and `sinfo`
 *   (idle CPUs of the partition's nodes).
 *
 * @example
 * ```ts ignore
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Application, Auth, LocalTransport, Lrms } from "effect-lrms"
 * import { Slurm } from "effect-lrms/slurm"
 *
 * const slurm = Slurm.layer({
 *   name: "cluster",
 *   architecture: "x86_64",
 *   maxCores: 512,
 *   maxCoresPerJob: 64,
 *   maxMemoryPerCore: "4 GiB",
 *   maxWalltime: "2 days",
 *   partition: "normal",
 *   account: "proj42",
 * }).pipe(Layer.provide(LocalTransport.layer))
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* Application.make({ arguments: ["hostname"], stdout: "out.txt" })
 *   const job = yield* Lrms.awaitTermination(yield* Lrms.submitJob(app))
 *   return job.usage?.maxUsedMemory
 * })
 * Effect.runPromise(
 *   program.pipe(
 *     Effect.provide(slurm),
 *     Effect.provide(Auth.none),
 *     Effect.provide(NodeContext.layer), // the platform, provided at the edge
 *   ),
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"
import * as Application from "../../src/Application.ts"
import * as Launch from "../../src/internal/launcher.ts"
import * as Batch from "../batch/Batch.ts"
import {
  type ArraySupport,
  type Dialect,
  type Reply,
  type StatRecord,
  type SubmitSpec,
  tagLister,
} from "../batch/Dialect.ts"
import {
  failureMessage,
  Line,
  queueAndNodes,
  spooldir,
  submitOptions,
} from "../batch/internal/dialect.ts"
import * as SlurmParse from "./SlurmParse.ts"

const BACKEND = "slurm"

/** A value that becomes part of one `--name=value` word: no newlines, not empty. */
const Word = Line("expected one line of text")

/** An `#SBATCH` directive's text: one line. */
const Directive = Line("a directive is one non-empty line")

/**
 * The configuration of a SLURM resource: the shared static attributes and batch fields
 * (`spooldir`, `accountingDelay`, `prologue`, `epilogue`), command overrides
 * (`commands.sbatch = "/opt/slurm/bin/sbatch --constraint=x"`), and what every job is
 * submitted with: `partition`, `account`, `qos`, `reservation`, `gres`, `gpus`, `exportEnv`
 * (`--export`, default `ALL`) and `extraDirectives` (lines written as `#SBATCH <line>`); `requeue`
 * (default false: `--no-requeue`; true: `--requeue`, SLURM may run a job again after a
 * preemption or a node failure), `gpuRequest` (how GPUs per process are asked:
 * `gpus-per-task`, the default, or `gres` for `select/cons_res` sites) and `maxArraySize` (the
 * largest job array when `scontrol show config` cannot tell; default 1000, SLURM's default
 * `MaxArraySize` being 1001).
 *
 * @since 0.1.0
 * @category models
 */
export class SlurmConfig extends Schema.Class<SlurmConfig>("SlurmConfig")({
  ...Batch.BatchConfigFields,
  spooldir: spooldir((s) =>
    !s.includes("\\") || "a backslash turns off SLURM's file name handling; choose another"
  ),
  commands: Schema.optional(
    Batch.Commands(["sbatch", "squeue", "sacct", "scancel", "sinfo", "scontrol"]),
  ),
  partition: Schema.optional(Word),
  account: Schema.optional(Word),
  qos: Schema.optional(Word),
  reservation: Schema.optional(Word),
  gres: Schema.optional(Word),
  gpus: Schema.optional(Word),
  exportEnv: Schema.optionalWith(Word, { default: () => "ALL" }),
  extraDirectives: Schema.optionalWith(Schema.Array(Directive), { default: () => [] }),
  requeue: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  gpuRequest: Schema.optionalWith(Schema.Literal("gpus-per-task", "gres"), {
    default: () => "gpus-per-task" as const,
  }),
  maxArraySize: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 1000 }),
}) {}

/**
 * What a SLURM configuration may contain (quantities as strings or values).
 *
 * @since 0.1.0
 * @category models
 */
export type SlurmConfigInput = typeof SlurmConfig.Encoded

/**
 * Reads `squeue`'s reply: the jobs it lists, with the termination the final state alone tells;
 * "Invalid job id specified" (a single id the controller has purged) lists nothing; any other
 * failure (controller unreachable) is a failure.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseStatReply = (
  reply: Reply,
  ids: ReadonlyArray<string> = [],
): ReturnType<Dialect["stat"]["parse"]> => {
  if (reply.exitCode !== 0) {
    if (/Invalid job id specified/i.test(reply.stderr)) {
      return { _tag: "Listed", jobs: new Map() }
    }
    return { _tag: "Failed", message: failureMessage("squeue", reply) }
  }
  const jobs = new Map<string, StatRecord>()
  for (const [id, r] of SlurmParse.parseSqueue(reply.stdout, ids)) {
    const termination = r.state === "TERMINATING"
      ? SlurmParse.terminationOfState(r.native)
      : undefined
    jobs.set(id, {
      state: r.state,
      native: r.native,
      ...(r.reason !== "" && r.reason !== "None" ? { reason: r.reason } : {}),
      ...(termination !== undefined ? { termination } : {}),
    })
  }
  return { _tag: "Listed", jobs }
}

/**
 * SLURM's job arrays: `SLURM_ARRAY_TASK_ID` from 0, elements `123_4`, at most `MaxArraySize`
 * elements (`scontrol show config`), else `maxArraySize`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const arraySupport = (maxArraySize: number): ArraySupport => ({
  indexVariable: "SLURM_ARRAY_TASK_ID",
  firstIndex: 0,
  maxSize: maxArraySize,
  elementId: SlurmParse.elementId,
  limit: {
    argv: SlurmParse.showConfigArgv,
    parse: (reply) => reply.exitCode === 0 ? SlurmParse.parseMaxArraySize(reply.stdout) : undefined,
  },
})

/** The `sbatch` layout of an application on this resource (whose default launcher it may use). */
const layout = (config: SlurmConfig, app: Application.Application) => {
  const shape = Application.shape(app)
  return SlurmParse.layoutOf(shape, Launch.resolve(shape, config), config.gpuRequest)
}

const submit = (config: SlurmConfig) => (spec: SubmitSpec) => ({
  argv: SlurmParse.sbatchArgv({
    ...submitOptions(spec),
    layout: layout(config, spec.app),
    workdir: spec.jobDir,
    partition: config.partition,
    account: config.account,
    qos: config.qos,
    reservation: config.reservation,
    gres: config.gres,
    gpus: config.gpus,
    exportEnv: config.exportEnv,
    requeue: config.requeue,
    array: spec.array,
  }),
  directives: config.extraDirectives.map((d) => `#SBATCH ${d}`),
})

/**
 * The SLURM dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: SlurmConfig): Dialect => ({
  name: BACKEND,
  maxIds: 500,
  validate: (app) => SlurmParse.layoutProblem(layout(config, app), config),
  submit: submit(config),
  parseJobId: SlurmParse.parseSbatchJobId,
  arrays: arraySupport(config.maxArraySize),
  submitRetryable: SlurmParse.sbatchRetryable,
  findByTag: tagLister(SlurmParse.squeueTagsArgv, SlurmParse.parseTaggedJobs),
  stat: {
    argv: SlurmParse.squeueArgv,
    mine: SlurmParse.squeueMineArgv,
    parse: parseStatReply,
  },
  accounting: [{
    argv: SlurmParse.sacctArgv,
    env: SlurmParse.sacctEnv,
    parse: (reply, ids) => SlurmParse.parseSacct(reply.stdout, SlurmParse.sacctColumns, ids),
  }],
  cancel: { argv: SlurmParse.scancelArgv },
  status: {
    argvs: [SlurmParse.squeueAllArgv, SlurmParse.sinfoArgv(config.partition)],
    parse: queueAndNodes("squeue", SlurmParse.countJobs, SlurmParse.parseIdleCpus),
  },
})

const slurm: Batch.Backend<SlurmConfigInput> = Batch.backend(BACKEND, SlurmConfig, dialect)

/**
 * Builds a SLURM `Lrms` over the `Transport` and `FileSystem` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Batch.Backend<SlurmConfigInput>["make"] = slurm.make

/**
 * The SLURM backend as a layer. It requires the `Transport` in context and the platform's
 * `FileSystem` (`NodeContext.layer`, provided at the application's edge).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Batch.Backend<SlurmConfigInput>["layer"] = slurm.layer
