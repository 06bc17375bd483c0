/**
 * The SLURM backend: `sbatch`, `squeue`, `sacct`, `scancel` and `sinfo` over any `Transport`,
 * through the shared batch flow (`Batch`). On the login node it runs with `LocalTransport`; from
 * a laptop, the same layer runs over `SshTransport` to the login node.
 *
 * - Submit: one `sbatch` per job with `--cpus-per-task`, `--mem` (MiB, rounded up), `--time`
 *   (minutes, rounded up), the job name, `--no-requeue`, `--export` (default `ALL`), and the
 *   configured partition, account, QOS, reservation, `--gres`/`--gpus` and extra `#SBATCH`
 *   directives. The job's own stdin/stdout/stderr are redirected by the job script (see
 *   `Script`), SLURM's own messages go to the job's private directory.
 * - State: one `squeue --states=all --jobs=…` for every job polled in the same moment (a
 *   finished job stays listed until `MinJobAge`), then one `sacct` for those that finished:
 *   `ExitCode A:B`, `Elapsed`, `TotalCPU`, `MaxRSS`/`MaxVMSize` (SLURM's `K` is 1024 bytes),
 *   `NCPUS`. `CANCELLED`, `TIMEOUT`, `PREEMPTED` and `DEADLINE` end with the RemoteKill
 *   pseudo-signal and exit 75, `NODE_FAIL`/`BOOT_FAIL` with RemoteError, `OUT_OF_MEMORY` with
 *   signal 9. Without accounting (`sacct` refuses), the final state from `squeue` is used after
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
import * as Batch from "../batch/Batch.ts"
import { type Dialect, type Reply, type StatRecord, tagLister } from "../batch/Dialect.ts"
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
 * (`--export`, default `ALL`) and `extraDirectives` (lines written as `#SBATCH <line>`).
 *
 * @since 0.1.0
 * @category models
 */
export class SlurmConfig extends Schema.Class<SlurmConfig>("SlurmConfig")({
  ...Batch.BatchConfigFields,
  spooldir: spooldir((s) =>
    !s.includes("\\") || "a backslash turns off SLURM's file name handling; choose another"
  ),
  commands: Schema.optional(Batch.Commands(["sbatch", "squeue", "sacct", "scancel", "sinfo"])),
  partition: Schema.optional(Word),
  account: Schema.optional(Word),
  qos: Schema.optional(Word),
  reservation: Schema.optional(Word),
  gres: Schema.optional(Word),
  gpus: Schema.optional(Word),
  exportEnv: Schema.optionalWith(Word, { default: () => "ALL" }),
  extraDirectives: Schema.optionalWith(Schema.Array(Directive), { default: () => [] }),
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
export const parseStatReply = (reply: Reply): ReturnType<Dialect["stat"]["parse"]> => {
  if (reply.exitCode !== 0) {
    if (/Invalid job id specified/i.test(reply.stderr)) {
      return { _tag: "Listed", jobs: new Map() }
    }
    return { _tag: "Failed", message: failureMessage("squeue", reply) }
  }
  const jobs = new Map<string, StatRecord>()
  for (const [id, r] of SlurmParse.parseSqueue(reply.stdout)) {
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
 * The SLURM dialect for a decoded configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dialect = (config: SlurmConfig): Dialect => ({
  name: BACKEND,
  maxIds: 500,
  submit: (spec) => ({
    argv: SlurmParse.sbatchArgv({
      ...submitOptions(spec),
      workdir: spec.jobDir,
      partition: config.partition,
      account: config.account,
      qos: config.qos,
      reservation: config.reservation,
      gres: config.gres,
      gpus: config.gpus,
      exportEnv: config.exportEnv,
    }),
    directives: config.extraDirectives.map((d) => `#SBATCH ${d}`),
  }),
  parseJobId: SlurmParse.parseSbatchJobId,
  submitRetryable: SlurmParse.sbatchRetryable,
  findByTag: tagLister(SlurmParse.squeueTagsArgv, SlurmParse.parseTaggedJobs),
  stat: {
    argv: SlurmParse.squeueArgv,
    parse: parseStatReply,
  },
  accounting: [{
    argv: SlurmParse.sacctArgv,
    env: SlurmParse.sacctEnv,
    parse: (reply) => SlurmParse.parseSacct(reply.stdout),
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
