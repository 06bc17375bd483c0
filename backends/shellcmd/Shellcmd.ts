/**
 * The shellcmd backend: jobs run as plain processes on the transport's host (the local machine
 * with `LocalTransport`, any SSH host with `SshTransport`). This is GC3Pie's `shellcmd`, and the
 * embedded default a new user runs first.
 *
 * Each job gets a directory under the spool directory, its `file:` inputs are staged there, and
 * a generated wrapper script (see `Wrapper`) runs it detached, under GNU time when the host has
 * it. The wrapper records its pid, start time, exit status and resource usage, so the state of a
 * job is read from files, and from `ps` (one call for every job polled in the same moment) only
 * while it runs. Capacity (cores and memory) is shared by every process of the user on that host
 * through JSON bookkeeping (see `Bookkeeping`); a full resource fails `submitJob` with the
 * recoverable `MaximumCapacityReached`. Walltime is enforced when the job is polled. Cancelling
 * signals the whole process tree with TERM, then KILL after `cancelGrace` (2 s by default).
 *
 * A parallel job runs on this host only (the resource's `maxNodesPerJob` is 1: more nodes are
 * refused with `SubmitRejected`), through the `single`, `multiple` or `mpirun`/`mpiexec` launcher
 * (`srun` is refused: there is no SLURM allocation), and reserves `processes × coresPerProcess`
 * cores.
 *
 * `layer` requires the platform's `FileSystem` (for the local side of transfers) besides its
 * `Transport`; `layerLocal` provides Node's platform (which runs under Deno) and `LocalTransport`.
 *
 * A launch whose reply is lost (the connection dropped, the command timed out) is settled on the
 * host: the wrapper runs the job only after claiming a launch token in its job directory, and
 * the submitter refuses a token still unclaimed, atomically (see `Wrapper.Files.launch`). A
 * claimed token gives the job, returned as a normal submission would be; a refused one a
 * recoverable failure, with the directory and reservation released. When the host cannot be
 * asked, `submitJob` fails with `SubmitOutcomeUnknown` carrying the submission (tag and job
 * directory), and keeps both; `reconcile` settles it later, from any process.
 *
 * This module assembles the parts of `internal/`: `discover` (host facts and limits), `submit`
 * (reservation in `reserve`, staging, launch, and `settle` for a lost launch), `poll` (state and
 * walltime), `kill` and `cancel`, `status` (with garbage collection) and `reconcile`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
 *
 * const layer = Shellcmd.layer({
 *   name: "localhost",
 *   architecture: "x86_64",
 *   maxCores: 4,
 *   maxCoresPerJob: 4,
 *   maxMemoryPerCore: "2 GiB",
 *   maxWalltime: "8 hours",
 *   spooldir: "/tmp/effect-lrms-doc2/spool",
 *   resourceDir: "/tmp/effect-lrms-doc2/bookkeeping",
 * })
 * const status = await Effect.runPromise(
 *   Lrms.getResourceStatus.pipe(
 *     Effect.provide(layer),
 *     Effect.provide(LocalTransport.layer),
 *     Effect.provide(Auth.none),
 *     Effect.provide(NodeContext.layer),
 *   ),
 * )
 * deepStrictEqual(status.freeSlots <= 4, true)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Batcher from "../../src/internal/batcher.ts"
import { decodeOrFail } from "../../src/internal/decode.ts"
import { Lrms, type LrmsShape, make as makeLrms } from "../../src/Lrms.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as Metrics from "../../src/Metrics.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Resource from "../../src/Resource.ts"
import { Transport } from "../../src/Transport.ts"
import * as LocalTransport from "../local/LocalTransport.ts"
import * as Processes from "./Processes.ts"
import * as Wrapper from "./Wrapper.ts"
import { cancelJob, free } from "./internal/cancel.ts"
import * as Discover from "./internal/discover.ts"
import { BACKEND, type Env, lrmsError } from "./internal/env.ts"
import { updateJobState } from "./internal/poll.ts"
import { reconcile } from "./internal/reconcile.ts"
import { status } from "./internal/status.ts"
import * as Submit from "./internal/submit.ts"

export { type HostInfo, parseHostInfo } from "./internal/discover.ts"

// =============================================================================
// Configuration
// =============================================================================

/**
 * The configuration of a shellcmd resource: the static attributes every backend shares, plus
 * where jobs and bookkeeping live, whether to discover cores and memory from the host
 * (`override`, off unless set: GC3Pie's default was the truthy string `'False'`), which GNU time
 * to use (`gnuTime: false` times jobs in the wrapper even where GNU time exists), and how long a
 * cancelled job may take to end after TERM before it gets KILL.
 *
 * @since 0.1.0
 * @category models
 */
export const ShellcmdConfig: Schema.Struct<
  typeof Resource.ResourceConfig.fields & {
    spooldir: Schema.optionalWith<typeof Schema.String, { default: () => string }>
    resourceDir: Schema.optionalWith<typeof Schema.String, { default: () => string }>
    override: Schema.optionalWith<typeof Schema.Boolean, { default: () => false }>
    timeCmd: Schema.optional<typeof Schema.String>
    gnuTime: Schema.optionalWith<typeof Schema.Boolean, { default: () => true }>
    cancelGrace: Schema.optionalWith<
      typeof Quantity.DurationFromInput,
      { default: () => Duration.Duration }
    >
  }
> = Schema.Struct({
  ...Resource.ResourceConfig.fields,
  spooldir: Schema.optionalWith(Schema.String, { default: () => "~/.effect-lrms/spool" }),
  resourceDir: Schema.optionalWith(Schema.String, {
    default: () => "~/.effect-lrms/shellcmd.d",
  }),
  override: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  timeCmd: Schema.optional(Schema.String),
  gnuTime: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  cancelGrace: Schema.optionalWith(Quantity.DurationFromInput, {
    default: () => Duration.seconds(2),
  }),
})

/**
 * What a shellcmd configuration may contain (quantities as strings or values).
 *
 * @since 0.1.0
 * @category models
 */
export type ShellcmdConfigInput = typeof ShellcmdConfig.Encoded

/**
 * The decoded configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type ShellcmdConfig = typeof ShellcmdConfig.Type

// =============================================================================
// Implementation
// =============================================================================

/** Refuses the parallel settings a single host cannot honour: several nodes, `srun`. */
const localOnly = (config: ShellcmdConfig): Effect.Effect<void, LrmsError> =>
  config.maxNodesPerJob !== undefined && config.maxNodesPerJob > 1
    ? Effect.fail(lrmsError(
      "ConfigurationError",
      "config",
      `maxNodesPerJob: ${config.maxNodesPerJob} given, but shellcmd runs each job on one host`,
    ))
    : config.launcher === "srun"
    ? Effect.fail(lrmsError(
      "ConfigurationError",
      "config",
      "launcher: srun needs a SLURM allocation; shellcmd runs plain processes (use multiple " +
        "or mpirun)",
    ))
    : Effect.void

/**
 * Builds a shellcmd `Lrms` over the `Transport` in context, using the `FileSystem` in context
 * for the local side of transfers.
 *
 * The limits the host gives (`override`: its cores, memory and architecture) are learnt by the
 * first call that reaches it and kept in one `Ref`; every operation reads them from discovery,
 * and the service's `resource` shows the current value (the configured one until then), so a
 * broker that reads the resource after its status sees what discovery found.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: ShellcmdConfigInput,
): Effect.Effect<
  LrmsShape,
  LrmsError,
  Transport | FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function* () {
    const config = yield* decodeOrFail(ShellcmdConfig, BACKEND, "config", "ConfigurationError")(
      input,
    )
    yield* localOnly(config)
    const transport = yield* Transport
    const fileSystem = yield* FileSystem.FileSystem
    // one host: a job never spans nodes
    const configured = { ...Resource.make(BACKEND, config), maxNodesPerJob: 1 }
    const limits = yield* Ref.make(Discover.configuredLimits(configured))
    /** One `ps` for every pid polled within 5 ms. */
    const processInfo = yield* Batcher.make<number, Processes.ProcessRow | undefined, LrmsError>({
      name: "Shellcmd.ps",
      window: Duration.millis(5),
      maxBatch: 500,
      missing: undefined,
      run: (pids) =>
        transport.exec(Processes.psPidsArgv(pids), { env: Processes.psEnv }).pipe(
          Metrics.countCommand(BACKEND, "ps"),
          Effect.map((r) => new Map(Processes.parsePs(r.stdout).map((row) => [row.pid, row]))),
        ),
    })
    const env: Env = {
      config,
      transport,
      fileSystem,
      configured,
      discover: yield* Discover.make(config, transport, limits),
      processInfo,
    }
    /** The limits known now, for the service's plain `resource` field. */
    const current = () => Effect.runSync(Ref.get(limits)).resource
    const base = makeLrms({
      get resource() {
        return current()
      },
      protocols: ["file"],
      submitJob: yield* Submit.make(env),
      reconcile: (submission, app) => reconcile(env, submission, app),
      updateJobState: (job) => updateJobState(env, job),
      cancelJob: (job) => cancelJob(env, job),
      free: (job) => free(env, job),
      getResourceStatus: status(env),
      prepare: Effect.asVoid(env.discover),
      files: { transport, fileSystem, exclude: [Wrapper.PRIVATE_DIR] },
      ...(transport.close !== undefined ? { close: transport.close } : {}),
    })
    return {
      ...base,
      get resource() {
        return current()
      },
    } satisfies LrmsShape
  })

/**
 * The shellcmd backend as a layer over the `Transport` and the platform's `FileSystem` in
 * context (for the local side of transfers; `NodeContext.layer` provides it under Deno).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: ShellcmdConfigInput,
): Layer.Layer<Lrms, LrmsError, Transport | FileSystem.FileSystem> =>
  Layer.scoped(Lrms, make(config))

/**
 * The local machine, ready to use: shellcmd over `LocalTransport` and Node's platform services
 * (which run under Deno), with cores, memory and architecture discovered from the host
 * (`override`), a one-week walltime limit, and the default spool and bookkeeping directories
 * under `~/.effect-lrms`. Fields given in `config` win.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLocal = (
  config: Partial<ShellcmdConfigInput> = {},
): Layer.Layer<Lrms, LrmsError> =>
  layer({
    name: "localhost",
    architecture: "x86_64",
    maxCores: 1,
    maxMemoryPerCore: "1 GiB",
    maxWalltime: "7 days",
    override: true,
    ...config,
  }).pipe(Layer.provide(LocalTransport.layer), Layer.provide(NodeContext.layer))
