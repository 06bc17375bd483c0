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
 * import { Effect, Layer } from "effect"
 * import { Application, Auth, LocalTransport, Lrms, Slurm } from "effect-lrms"
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
 * Effect.runPromise(program.pipe(Effect.provide(slurm), Effect.provide(Auth.none)))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import { NodeFileSystem } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as FileSystem from "@effect/platform/FileSystem"
import { decodeOrFail } from "../../src/internal/decode.ts"
import { Lrms, type LrmsShape } from "../../src/Lrms.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import type { Transport } from "../../src/Transport.ts"
import * as Batch from "../batch/Batch.ts"
import { type Dialect, type Reply, type StatRecord, tagLister } from "../batch/Dialect.ts"
import * as SlurmParse from "./SlurmParse.ts"

const BACKEND = "slurm"

/** A value that becomes part of one `--name=value` word: no newlines, not empty. */
const Word = Schema.String.pipe(
  Schema.filter((s) => (s.trim() !== "" && !/[\r\n\0]/.test(s)) || "expected one line of text"),
)

/** An `#SBATCH` directive's text: one line. */
const Directive = Schema.String.pipe(
  Schema.filter((s) =>
    (s.trim() !== "" && !/[\r\n\0]/.test(s)) || "a directive is one non-empty line"
  ),
)

/**
 * The configuration of a SLURM resource: the shared static attributes and batch fields
 * (`spooldir`, `accountingDelay`, `prologue`, `epilogue`), command overrides
 * (`commands.sbatch = "/opt/slurm/bin/sbatch --constraint=x"`), and what every job is
 * submitted with: `partition`, `account`, `qos`, `reservation`, `gres`, `gpus`, `exportEnv`
 * (`--export`, default `ALL`) and `extraDirectives` (lines written as `#SBATCH <line>`).
 *
 * @since 0.1.0
 * @category schemas
 */
export class SlurmConfig extends Schema.Class<SlurmConfig>("SlurmConfig")({
  ...Batch.BatchConfigFields,
  spooldir: Schema.optionalWith(
    Schema.String.pipe(
      Schema.nonEmptyString(),
      Schema.filter((s) =>
        !s.includes("\\") || "a backslash turns off SLURM's file name handling; choose another"
      ),
    ),
    { default: () => "~/.effect-lrms/batch" },
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

const lastLine = (text: string) =>
  text.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1)

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
    return {
      _tag: "Failed",
      message: lastLine(reply.stderr) ?? `squeue exited with code ${reply.exitCode}`,
    }
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
      jobname: spec.app.jobname,
      cores: spec.app.requestedCores,
      memory: spec.app.requestedMemory,
      walltime: spec.app.requestedWalltime,
      workdir: spec.jobDir,
      script: spec.scriptPath,
      output: spec.schedulerOutput,
      error: spec.schedulerError,
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
    parse: ([queue, nodes], user) => {
      if (queue === undefined || queue.exitCode !== 0) {
        return `squeue failed: ${lastLine(queue?.stderr ?? "") ?? "no reply"}`
      }
      const counts = SlurmParse.countJobs(queue.stdout, user)
      const idle = nodes !== undefined && nodes.exitCode === 0
        ? SlurmParse.parseIdleCpus(nodes.stdout)
        : undefined
      return { ...counts, freeSlots: idle ?? -1 }
    },
  },
})

/**
 * Builds a SLURM `Lrms` over the `Transport` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: SlurmConfigInput,
): Effect.Effect<LrmsShape, LrmsError, Transport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.flatMap(
    decodeOrFail(SlurmConfig, BACKEND, "config", "ConfigurationError")(input),
    (config) => Batch.make(dialect(config), config),
  )

/**
 * The SLURM backend as a layer over the `Transport` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: SlurmConfigInput): Layer.Layer<Lrms, LrmsError, Transport> =>
  Layer.scoped(Lrms, make(config)).pipe(Layer.provide(NodeFileSystem.layer))
