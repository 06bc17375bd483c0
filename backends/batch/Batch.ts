/**
 * The flow every batch scheduler shares (GC3Pie's `BatchSystem`), over any `Transport`, with a
 * `Dialect` for what differs.
 *
 * - **Submit**: a job directory under the spool directory (which compute nodes must see at the
 *   same path), the inputs staged into it, a job script (directives, prologue, payload with the
 *   application's own stdin/stdout/stderr, epilogue) written beside them, and the submit command
 *   run in that directory. Submissions made in the same moment share one transport call (one
 *   `/bin/sh` runs their submit commands in turn), so a loop of submits costs about what a shell
 *   loop of raw `sbatch` costs. A refused submission removes its job directory.
 * - **State**: the job's exit files first. The job script writes a start marker and, at its end,
 *   an exit record (exit status, start and end times, CPU time) in the job's private directory;
 *   the markers of every job polled in the same moment are read by one `/bin/sh`. A record whose
 *   payload exited ends the job with that exit code (usage from the record, or from accounting
 *   when it answers for many jobs at once: `usageFromAccounting`). Jobs without one ask the stat
 *   command through a watch shared by every caller of the resource and credential (fibers and
 *   `Lrms` instances alike): asked at most once per `queueStatInterval` (15 s), at a pace that
 *   doubles while nothing changes up to `queueStatMaxInterval` (4 × the interval) and drops back
 *   when something does; a job submitted after the answer keeps its state. For a job that has
 *   left the queue (or that the queue lists as finished), accounting, once per answer; when it
 *   has nothing, the last state is kept for a grace window (`accountingDelay`, 15 s), which
 *   restarts whenever information comes back (GC3Pie kept the first failure time forever), then
 *   the job ends: as the queue's final state says, else as its exit record says (a payload killed
 *   by a signal, which the scheduler's word otherwise overrules), else with the `RemoteError`
 *   pseudo-signal and the reason. When the scheduler cannot be asked at all (controller down)
 *   and accounting does not have the job's end, the call fails with a recoverable
 *   `CommandFailed`: the job is unchanged and the next poll picks it up again.
 * - **Cancel** (batched too), **free** (`rm -r` of the job directory), **results** and
 *   **peek** through the transport, the resource status from the dialect's commands.
 *
 * A backend module declares its configuration schema and dialect and gets its `make` and `layer`
 * from {@linkcode backend}. The pieces of the flow live in `internal/`: `env` (what they share),
 * `calls` (the batched scheduler calls), `submit` and `settle` (submission, exactly once),
 * `exitRecord` (the job script's markers and their reading), `queueWatch` (the shared, paced stat
 * answers), `submitRate` (`maxSubmitsPerMinute`), `state` (polling and the grace window),
 * `control` (cancel, free, resource status), and `dialect` (helpers every dialect uses).
 *
 * @since 0.1.0
 * @module
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { decodeOrFail } from "../../src/internal/decode.ts"
import { Lrms, type LrmsShape, make as makeLrms } from "../../src/Lrms.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Resource from "../../src/Resource.ts"
import * as Shell from "../../src/Shell.ts"
import type { Transport } from "../../src/Transport.ts"
import type { Dialect } from "./Dialect.ts"
import { makeCalls } from "./internal/calls.ts"
import { cancelJob, free, getResourceStatus } from "./internal/control.ts"
import { spooldir } from "./internal/dialect.ts"
import { makeEnv } from "./internal/env.ts"
import { reconcile } from "./internal/settle.ts"
import { updateJobState } from "./internal/state.ts"
import { makeSubmitJob } from "./internal/submit.ts"
import * as Script from "./Script.ts"

// =============================================================================
// Configuration
// =============================================================================

/**
 * Shell text for a prologue or epilogue: any text, inserted in the job script as it is.
 */
const ScriptText = Schema.String

/**
 * The configuration fields every batch backend shares, beside the static attributes: where job
 * directories go (`spooldir`, which compute nodes must see at the same path), how long to wait
 * for accounting after a job leaves the queue (`accountingDelay`), shell text run before and
 * after every job (`prologue`, `epilogue`), how often the queue is asked (`queueStatInterval`,
 * `queueStatMaxInterval`), whether accounting gives the usage of jobs whose exit record says
 * they ended (`usageFromAccounting`), how many submit commands a minute (`maxSubmitsPerMinute`),
 * and command overrides (`commands.sbatch = "/opt/slurm/bin/sbatch --constraint=x"`: split by
 * shell rules, `#` comments dropped).
 *
 * @since 0.1.0
 * @category models
 */
export const BatchConfigFields = {
  ...Resource.ResourceConfig.fields,
  spooldir: spooldir(),
  accountingDelay: Schema.optionalWith(Quantity.DurationFromInput, {
    default: () => Duration.seconds(15),
  }),
  prologue: Schema.optional(ScriptText),
  epilogue: Schema.optional(ScriptText),
  /** Pack jobs of one shape submitted in the same moment into job arrays (default true). */
  arrays: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Most elements of one array running at once (SLURM `%N`); unlimited when absent. */
  arrayThrottle: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /**
   * The shortest interval between two stat commands (`squeue`) for one resource and credential,
   * shared by every fiber and `Lrms` (default 15 s): the pace's floor.
   */
  queueStatInterval: Schema.optionalWith(Quantity.DurationFromInput, {
    default: () => Duration.seconds(15),
  }),
  /** The longest interval the pace grows to while nothing changes (default 4 × the floor). */
  queueStatMaxInterval: Schema.optional(Quantity.DurationFromInput),
  /**
   * Ask accounting (`sacct`, `bacct`: the commands that answer for many jobs at once) for the
   * usage of jobs whose exit record says they ended (default true); false: the record's usage.
   */
  usageFromAccounting: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /** Most submit commands a minute (a token bucket); unlimited when absent. */
  maxSubmitsPerMinute: Schema.optional(Schema.Number.pipe(Schema.positive())),
}

/**
 * A `commands` field for a dialect's command names: each value is a command line, split by
 * shell rules.
 *
 * @since 0.1.0
 * @category models
 */
export const Commands = <const Names extends ReadonlyArray<string>>(
  names: Names,
): Schema.Struct<{ [K in Names[number]]: Schema.optional<Schema.filter<typeof Schema.String>> }> =>
  Schema.Struct(
    Object.fromEntries(names.map((n) => [
      n,
      Schema.optional(Schema.String.pipe(
        Schema.filter((s) => {
          const words = Shell.split(s)
          return words === undefined
            ? "unterminated quote or trailing backslash"
            : words.length === 0
            ? "no command"
            : true
        }),
      )),
    ])) as { [K in Names[number]]: Schema.optional<Schema.filter<typeof Schema.String>> },
  )

/**
 * The decoded shared configuration a dialect's backend hands to {@linkcode make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchConfig extends Schema.Struct.Type<typeof BatchConfigFields> {
  /** Command overrides by canonical name (`sbatch`), each a command line. */
  readonly commands?: Readonly<Record<string, string | undefined>> | undefined
}

// =============================================================================
// Constructors
// =============================================================================

/**
 * Builds a batch `Lrms` from a dialect and the decoded shared configuration, over the
 * `Transport` and the local `FileSystem` in context (for staging inputs and fetching results).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  dialect: Dialect,
  config: BatchConfig,
): Effect.Effect<LrmsShape, LrmsError, Transport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function* () {
    const env = yield* makeEnv(dialect, config)
    const calls = yield* makeCalls(env)
    const { transport, fileSystem } = env
    return makeLrms({
      resource: env.resource,
      protocols: ["file"],
      submitJob: yield* makeSubmitJob(env, calls),
      updateJobState: updateJobState(env, calls),
      cancelJob: cancelJob(env, calls),
      free: free(env),
      getResourceStatus: getResourceStatus(env),
      reconcile: reconcile(env),
      files: { transport, fileSystem, exclude: [Script.PRIVATE_DIR] },
      ...(transport.close !== undefined ? { close: transport.close } : {}),
    })
  })

/**
 * A batch backend: its constructor and its layer, both taking the configuration as a user writes
 * it (quantities as strings or values).
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend<I> {
  /** Builds the backend's `Lrms` over the `Transport` and `FileSystem` in context. */
  readonly make: (
    input: I,
  ) => Effect.Effect<LrmsShape, LrmsError, Transport | FileSystem.FileSystem | Scope.Scope>
  /**
   * The backend as a layer; it requires the `Transport` (`LocalTransport.layer`,
   * `SshTransport.layer`) and the platform's `FileSystem` (`NodeContext.layer`), provided at the
   * application's edge.
   */
  readonly layer: (input: I) => Layer.Layer<Lrms, LrmsError, Transport | FileSystem.FileSystem>
}

/**
 * Declares a batch backend from its name, its configuration schema and its dialect: the
 * configuration is decoded (a bad one fails with `ConfigurationError` naming the field), the
 * dialect built from it, and the shared flow ({@linkcode make}) run with both.
 *
 * @example
 * ```ts ignore
 * const slurm = Batch.backend("slurm", SlurmConfig, dialect)
 * export const layer = slurm.layer
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const backend = <A extends BatchConfig, I>(
  name: string,
  schema: Schema.Schema<A, I>,
  dialect: (config: A) => Dialect,
): Backend<I> => {
  const decode = decodeOrFail(schema, name, "config", "ConfigurationError")
  const makeBackend = (input: I) =>
    Effect.flatMap(decode(input), (config) => make(dialect(config), config))
  return { make: makeBackend, layer: (input) => Layer.scoped(Lrms, makeBackend(input)) }
}
