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
 * - **State**: the stat command first; for a job that has left the queue (or that the queue
 *   lists as finished), accounting; when accounting has nothing yet, the last state is kept for
 *   a grace window (`accountingDelay`, 15 s), then the job is `UNKNOWN`. The window restarts
 *   whenever information comes back (GC3Pie kept the first failure time forever). Every
 *   `updateJobState` made in the same moment is answered by one stat command (and at most one
 *   accounting command) per credential, ids chunked for the command line: 1,000 jobs polled
 *   together cost one or two scheduler calls, not 1,000. When the scheduler cannot be asked at
 *   all (controller down) and accounting does not have the job's end, the call fails with a
 *   recoverable `CommandFailed`: the job is unchanged and the next poll picks it up again.
 * - **Cancel** (batched too), **free** (`rm -r` of the job directory), **results** and
 *   **peek** through the transport, the resource status from the dialect's commands.
 *
 * @since 0.1.0
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Application } from "../../src/Application.ts"
import { Auth, credentialKey } from "../../src/Auth.ts"
import * as Batcher from "../../src/internal/batcher.ts"
import { memoizeBy } from "../../src/internal/memoize.ts"
import * as Job from "../../src/Job.ts"
import {
  type LrmsShape,
  make as makeLrms,
  type Reconcilable,
  type SubmitOptions,
} from "../../src/Lrms.ts"
import * as Metrics from "../../src/Metrics.ts"
import { LrmsError, type LrmsErrorProps } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Resource from "../../src/Resource.ts"
import * as Shell from "../../src/Shell.ts"
import * as Termination from "../../src/Termination.ts"
import * as Transfer from "../../src/Transfer.ts"
import { expandHome, readFileString, run, Transport } from "../../src/Transport.ts"
import type {
  AccountingRecord,
  Dialect,
  ManyJobsCommand,
  Reply,
  StatRecord,
  StatResult,
} from "./Dialect.ts"
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
 * after every job (`prologue`, `epilogue`), and command overrides (`commands.sbatch =
 * "/opt/slurm/bin/sbatch --constraint=x"`: split by shell rules, `#` comments dropped).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchConfigFields = {
  ...Resource.ResourceConfig.fields,
  spooldir: Schema.optionalWith(Schema.String.pipe(Schema.nonEmptyString()), {
    default: () => "~/.effect-lrms/batch",
  }),
  accountingDelay: Schema.optionalWith(Quantity.DurationFromInput, {
    default: () => Duration.seconds(15),
  }),
  prologue: Schema.optional(ScriptText),
  epilogue: Schema.optional(ScriptText),
}

/**
 * A `commands` field for a dialect's command names: each value is a command line, split by
 * shell rules.
 *
 * @since 0.1.0
 * @category schemas
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
// Implementation
// =============================================================================

type StatOutcome =
  | { readonly _tag: "Found"; readonly record: StatRecord }
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Failed"; readonly message: string }

const absent: StatOutcome = { _tag: "Absent" }

/** How long settling a lost submission waits for a submit command that is still running. */
const SETTLE_WAIT = Duration.seconds(30)

/** Random hex, for the submit script's markers. */
const token = () => `lrms${crypto.randomUUID().replaceAll("-", "")}`

const lastLine = (text: string) =>
  text.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1)

/**
 * Builds a batch `Lrms` from a dialect and the decoded shared configuration, over the
 * `Transport` in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  dialect: Dialect,
  config: BatchConfig,
): Effect.Effect<LrmsShape, LrmsError, Transport | FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function* () {
    const backend = dialect.name
    const transport = yield* Transport
    const fileSystem = yield* FileSystem.FileSystem
    const resource = Resource.make(backend, config)
    const fail = (
      reason: LrmsError["reason"],
      operation: string,
      description: string,
      extra: Partial<
        Pick<LrmsErrorProps, "recoverable" | "cause" | "command" | "exitCode" | "stderr" | "jobId">
      > = {},
    ) => new LrmsError({ reason, backend, operation, description, host: transport.host, ...extra })

    // ---- command overrides ------------------------------------------------------------------
    const overrides = new Map<string, ReadonlyArray<string>>()
    for (const [name, line] of Object.entries(config.commands ?? {})) {
      if (line === undefined) continue
      const words = Shell.split(line)
      if (words === undefined || words.length === 0) {
        return yield* fail("ConfigurationError", "config", `commands.${name}: cannot split ${line}`)
      }
      overrides.set(name, words)
    }
    const command = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
      const words = overrides.get(argv[0]!)
      return words === undefined ? argv : [...words, ...argv.slice(1)]
    }
    /** A scheduler command, counted in `lrms.commands` under its own name (not an override's). */
    const exec = (argv: ReadonlyArray<string>, env?: Readonly<Record<string, string>>) =>
      transport.exec(command(argv), env !== undefined ? { env } : undefined).pipe(
        Metrics.countCommand(backend, argv[0]!),
      )

    // ---- per-user paths (the caller's Auth decides whose home `~` is) -----------------------
    const userPaths = memoizeBy((_key: string) =>
      Effect.gen(function* () {
        const spool = yield* expandHome(transport, config.spooldir)
        const user = (yield* run(transport, ["id", "-un"], { backend, operation: "discover" }))
          .stdout.trim()
        return { spool, user }
      })
    )
    const paths = Effect.flatMap(Auth, (auth) => userPaths(credentialKey(auth.credential)))

    // ---- batched scheduler calls -------------------------------------------------------------
    const submitter = yield* Batcher.make<
      Script.SubmitRun,
      { readonly exitCode: number; readonly output: string } | undefined,
      LrmsError
    >({
      name: "Batch.submit",
      window: Duration.millis(2),
      maxBatch: 100,
      missing: undefined,
      run: (runs) => {
        const t = token()
        // one shell runs every submit command of the batch: one call, counted as the command
        return transport.exec(["/bin/sh", "-s"], { stdin: Script.renderSubmitScript(t, runs) })
          .pipe(
            Metrics.countCommand(backend, runs[0]?.name ?? runs[0]?.argv[0] ?? "submit"),
            Effect.map((r) => {
              const results = Script.parseSubmitOutput(t, runs.length, r.stdout)
              return new Map(runs.map((run, i) => [run, results[i]]))
            }),
          )
      },
    })

    // set once the scheduler has said it does not understand the stat command
    const statFallback = { used: false }
    const stat = yield* Batcher.make<string, StatOutcome, LrmsError>({
      name: "Batch.stat",
      window: Duration.millis(5),
      maxBatch: dialect.maxIds,
      missing: absent,
      run: (ids) =>
        Effect.gen(function* () {
          const ask = (command: ManyJobsCommand<StatResult>) =>
            Effect.gen(function* () {
              const argv = command.argv(ids)
              if (argv === undefined) {
                return yield* fail("InvalidArgument", "updateJobState", `bad job id in ${ids}`)
              }
              return command.parse(yield* exec(argv, command.env), ids)
            })
          const { fallback } = dialect.stat
          let result = yield* ask(statFallback.used && fallback ? fallback : dialect.stat)
          if (result._tag === "Failed" && result.unsupported === true && fallback !== undefined) {
            statFallback.used = true
            result = yield* ask(fallback)
          }
          if (result._tag === "Failed") {
            const failed: StatOutcome = result
            return new Map(ids.map((id) => [id, failed]))
          }
          return new Map(
            [...result.jobs].map(([id, record]) => [id, { _tag: "Found", record } as StatOutcome]),
          )
        }),
    })

    const accounting = yield* Batcher.make<string, AccountingRecord | undefined, LrmsError>({
      name: "Batch.accounting",
      window: Duration.millis(5),
      maxBatch: dialect.maxIds,
      missing: undefined,
      run: (ids) =>
        Effect.gen(function* () {
          const found = new Map<string, AccountingRecord>()
          for (const source of dialect.accounting) {
            const left = ids.filter((id) => found.get(id)?.state !== "TERMINATING")
            if (left.length === 0) break
            const perCall = source.idsPerCall ?? left.length
            const chunks: Array<ReadonlyArray<string>> = []
            for (let i = 0; i < left.length; i += perCall) chunks.push(left.slice(i, i + perCall))
            yield* Effect.forEach(chunks, (chunk) =>
              Effect.gen(function* () {
                const argv = source.argv(chunk)
                if (argv === undefined) return
                const reply = yield* exec(argv, source.env)
                if (reply.exitCode !== 0) return
                for (const [id, record] of source.parse(reply, chunk)) {
                  if (!found.has(id) || record.state === "TERMINATING") found.set(id, record)
                }
              }), { concurrency: 8, discard: true })
          }
          return found
        }),
    })

    const cancel = yield* Batcher.make<string, Reply, LrmsError>({
      name: "Batch.cancel",
      window: Duration.millis(5),
      maxBatch: dialect.maxIds,
      missing: { exitCode: 0, stdout: "", stderr: "" },
      run: (ids) =>
        Effect.gen(function* () {
          const argv = dialect.cancel.argv(ids)
          if (argv === undefined) {
            return yield* fail("InvalidArgument", "cancelJob", `bad job id in ${ids}`)
          }
          const reply = yield* exec(argv)
          return new Map(ids.map((id) => [id, reply]))
        }),
    })

    // ---- operations --------------------------------------------------------------------------
    const nativeIdOf = (job: Job.Job, operation: string) => {
      const id = job.nativeId
      return id !== undefined && dialect.stat.argv([id]) !== undefined
        ? Effect.succeed(id)
        : Effect.fail(
          fail("InvalidArgument", operation, `job ${job.id} has no valid ${backend} job id`),
        )
    }

    const privatePath = (jobDir: string, file: string) => `${jobDir}/${Script.PRIVATE_DIR}/${file}`

    /** The last line the scheduler wrote to the job's error file (`... DUE TO TIME LIMIT`). */
    const schedulerMessage = (job: Job.Job) =>
      job.remoteDir === undefined
        ? Effect.succeed(undefined)
        : readFileString(transport, privatePath(job.remoteDir, Script.Files.schedulerError)).pipe(
          Effect.map((text) => lastLine(text.slice(-4096))),
          Effect.orElseSucceed(() => undefined),
        )

    const finished = (
      job: Job.Job,
      native: string,
      termination: Termination.Termination,
      usage: Job.Usage | undefined,
    ) =>
      Effect.gen(function* () {
        const note = Termination.isSuccess(termination) ? undefined : yield* schedulerMessage(job)
        const done = Job.withBackendData(job, { graceSince: null, nativeState: native })
        return Job.transition(done, "TERMINATING", {
          termination,
          ...(usage !== undefined ? { usage } : {}),
          message: `${backend} says ${native}${note !== undefined ? `: ${note}` : ""}`,
        })
      })

    const updateJobState = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const id = yield* nativeIdOf(job, "updateJobState")
        const outcome = yield* stat(id)
        if (outcome._tag === "Found" && outcome.record.state !== "TERMINATING") {
          const { state, native, reason } = outcome.record
          const seen = job.backendData.graceSince === null ||
              job.backendData.graceSince === undefined
            ? job
            : Job.withBackendData(job, { graceSince: null })
          const noted = seen.backendData.nativeState === native &&
              seen.backendData.nativeReason === (reason ?? null)
            ? seen
            : Job.withBackendData(seen, { nativeState: native, nativeReason: reason ?? null })
          return Job.transition(noted, state, {
            ...(state !== job.state
              ? { message: `${backend} says ${native}${reason ? ` (${reason})` : ""}` }
              : {}),
          })
        }
        if (
          outcome._tag === "Found" && outcome.record.termination !== undefined &&
          outcome.record.usage !== undefined
        ) {
          return yield* finished(
            job,
            outcome.record.native,
            outcome.record.termination,
            outcome.record.usage,
          )
        }
        const record = yield* accounting(id)
        if (record !== undefined && record.state === "TERMINATING") {
          return yield* finished(
            job,
            record.native,
            record.termination ?? Termination.signalled(Termination.Signals.RemoteError),
            record.usage,
          )
        }
        if (outcome._tag === "Failed") {
          return yield* fail(
            "CommandFailed",
            "updateJobState",
            `cannot ask ${backend} about job ${id}: ${outcome.message}` +
              (record !== undefined ? ` (accounting says ${record.native})` : ""),
            { recoverable: true },
          )
        }
        // left the queue (or listed as finished) and accounting has nothing yet: grace window
        const now = yield* Clock.currentTimeMillis
        const since = typeof job.backendData.graceSince === "number"
          ? job.backendData.graceSince
          : now
        if (now - since <= Duration.toMillis(config.accountingDelay)) {
          return since === job.backendData.graceSince
            ? job
            : Job.withBackendData(job, { graceSince: since })
        }
        if (outcome._tag === "Found" && outcome.record.termination !== undefined) {
          return yield* finished(job, outcome.record.native, outcome.record.termination, undefined)
        }
        return Job.transition(Job.withBackendData(job, { graceSince: since }), "UNKNOWN", {
          message: `${backend} has no information about job ${id}: it left the queue and ` +
            `accounting has no record of its end after ${
              Quantity.formatDuration(config.accountingDelay)
            }`,
        })
      })

    const cancelJob = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const id = yield* nativeIdOf(job, "cancelJob")
        const reply = yield* cancel(id)
        if (reply.exitCode === 127) {
          return yield* fail(
            "CommandFailed",
            "cancelJob",
            `cannot run the cancel command: ${reply.stderr.trim()}`,
            {
              command: dialect.cancel.argv([id])?.[0] ?? "cancel",
              exitCode: reply.exitCode,
              stderr: reply.stderr.trim(),
              jobId: job.id,
            },
          )
        }
        const said = lastLine(`${reply.stdout}\n${reply.stderr}`)
        return Job.log(
          job,
          reply.exitCode === 0
            ? `Asked ${backend} to cancel job ${id}`
            : `${backend} did not cancel job ${id} (exit ${reply.exitCode}${
              said !== undefined ? `: ${said}` : ""
            }); it may have ended already`,
        )
      })

    const free = (job: Job.Job): Effect.Effect<void, LrmsError, Auth> =>
      job.remoteDir === undefined
        ? Effect.void
        : transport.remove(job.remoteDir, { recursive: true })

    const getResourceStatus = Effect.gen(function* () {
      const { user } = yield* paths
      const replies = yield* Effect.forEach(dialect.status.argvs, (argv) => exec(argv), {
        concurrency: "unbounded",
      })
      const parsed = dialect.status.parse(replies, user)
      if (typeof parsed === "string") {
        return yield* fail("UnexpectedOutput", "getResourceStatus", parsed, { recoverable: true })
      }
      return new Resource.ResourceStatus({
        ...parsed,
        updatedAt: new Date(yield* Clock.currentTimeMillis),
      })
    })

    const prepareJob = (app: Application, jobDir: string) =>
      Effect.gen(function* () {
        const scriptPath = privatePath(jobDir, Script.Files.script)
        const submit = dialect.submit({
          app,
          resource,
          jobDir,
          scriptPath,
          schedulerOutput: privatePath(jobDir, Script.Files.schedulerOutput),
          schedulerError: privatePath(jobDir, Script.Files.schedulerError),
        })
        yield* Transfer.makeJobDirectory(
          transport,
          fileSystem,
          app,
          jobDir,
          Script.PRIVATE_DIR,
          backend,
        )
        yield* transport.writeFile(
          scriptPath,
          Script.renderJobScript({
            app,
            jobDir,
            directives: submit.directives,
            prologue: config.prologue,
            epilogue: config.epilogue,
          }),
          { mode: 0o755 },
        )
        return { argv: command(submit.argv), name: submit.argv[0]! }
      })

    // ---- submission, exactly once -----------------------------------------------------------
    // Once the submit command may have reached the resource, a failure is ambiguous: the submit
    // record the submit script keeps in the job directory (Script.SubmitRecord), and the
    // scheduler's jobs by tag, tell what happened. Nothing removes the directory of a job that
    // may exist.
    const unknown = (tag: string, jobDir: string, why: string) =>
      new LrmsError({
        reason: "SubmitOutcomeUnknown",
        backend,
        operation: "submitJob",
        description:
          `the outcome of submitting job ${tag} to ${resource.name} is unknown: ${why}; ` +
          `its directory ${jobDir} is kept: reconcile it later`,
        submission: { resource: resource.name, tag, jobDir },
      })

    /** Asks the resource again, through the transport's reconnects, a few times. */
    const retrying = <A, R>(effect: Effect.Effect<A, LrmsError, R>) =>
      effect.pipe(Effect.retry({
        schedule: Schedule.exponential(Duration.millis(200), 2),
        times: 5,
        while: (e) => e.recoverable,
      }))

    const readRecord = (jobDir: string) =>
      retrying(
        transport.exec(["/bin/sh", "-s"], { stdin: Script.renderRecordScript(jobDir) }).pipe(
          Metrics.countCommand(backend, "sh"),
        ),
      )
        .pipe(Effect.map((r) => Script.parseSubmitRecord(r.stdout)))

    /** The scheduler's job id for a tag: `undefined` when it has none, a string when it cannot tell. */
    const findByTag = (tag: string) =>
      Effect.gen(function* () {
        if (dialect.findByTag === undefined) return { _tag: "Cannot", why: "" } as const
        const { user } = yield* paths
        const reply = yield* retrying(exec(dialect.findByTag.argv(user)))
        const found = dialect.findByTag.parse(reply)
        return typeof found === "string"
          ? { _tag: "Cannot", why: found } as const
          : { _tag: "Asked", id: found.get(tag) } as const
      })

    const submitted = (job0: Job.Job, jobDir: string, id: string, submittedAt: number, how = "") =>
      Job.transition(
        Job.update(job0, { nativeId: id, remoteDir: jobDir, backendData: { submittedAt } }),
        "SUBMITTED",
        { message: `Submitted to ${resource.name} as ${backend} job ${id}${how}` },
      )

    /** The job, or why it is not there, from a command that ran to its end. */
    const outcome = (
      job0: Job.Job,
      jobDir: string,
      program: string,
      result: { readonly exitCode: number; readonly output: string },
      submittedAt: number,
      how: string,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const output = result.output.trim()
        if (result.exitCode !== 0) {
          yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
          return yield* fail(
            "SubmitRejected",
            "submitJob",
            `${program} refused the job (exit ${result.exitCode})${
              output !== "" ? `: ${output.slice(0, 2000)}` : ""
            }`,
            {
              recoverable: dialect.submitRetryable(output),
              command: program,
              exitCode: result.exitCode,
              stderr: output,
              jobId: job0.id,
            },
          )
        }
        const id = dialect.parseJobId(result.output)
        if (id !== undefined) return submitted(job0, jobDir, id, submittedAt, how)
        const tagged = yield* findByTag(job0.id).pipe(Effect.orElseSucceed(() => undefined))
        if (tagged?._tag === "Asked" && tagged.id !== undefined) {
          return submitted(job0, jobDir, tagged.id, submittedAt, " (found by its tag)")
        }
        return yield* Effect.fail(unknown(
          job0.id,
          jobDir,
          `${program} exited 0 but printed no job id: ${output.slice(0, 2000)}`,
        ))
      })

    /** Settles a submission whose reply was lost, from the resource's own records. */
    const settle = (
      job0: Job.Job,
      jobDir: string,
      program: string,
      submittedAt: number,
      lost: string,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(SETTLE_WAIT)
        while (true) {
          const record = yield* readRecord(jobDir).pipe(
            Effect.mapError((e) => unknown(job0.id, jobDir, `${lost}, and ${e.message}`)),
          )
          if (record === undefined) {
            return yield* Effect.fail(unknown(job0.id, jobDir, `${lost}; unreadable submit record`))
          }
          switch (record._tag) {
            case "Claimed":
              yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
              return yield* fail(
                "ConnectionLost",
                "submitJob",
                `${lost}; the submit command had not run, and now will not (checked on ` +
                  `${transport.host}): nothing was submitted`,
                { recoverable: true },
              )
            case "Done":
              return yield* outcome(job0, jobDir, program, record, submittedAt, " (reconciled)")
            case "Running":
              if ((yield* Clock.currentTimeMillis) < deadline) {
                yield* Effect.sleep(Duration.millis(500))
                continue
              }
              return yield* Effect.fail(unknown(
                job0.id,
                jobDir,
                `${lost}, and ${program} is still running after ` +
                  Quantity.formatDuration(SETTLE_WAIT),
              ))
            case "Gone":
            case "Cut": {
              const id = record._tag === "Cut" ? dialect.parseJobId(record.output) : undefined
              if (id !== undefined) return submitted(job0, jobDir, id, submittedAt, " (reconciled)")
              const tagged = yield* findByTag(job0.id).pipe(
                Effect.mapError((e) => unknown(job0.id, jobDir, `${lost}, and ${e.message}`)),
              )
              if (tagged._tag === "Asked" && tagged.id !== undefined) {
                return submitted(job0, jobDir, tagged.id, submittedAt, " (found by its tag)")
              }
              const ran = record._tag === "Cut" && record.ran
              if (tagged._tag === "Asked" && !ran) {
                // the shell that ran the command is dead (or the directory is gone, script and
                // all), the job never started, and the scheduler has no job with its tag
                yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
                return yield* fail(
                  "ConnectionLost",
                  "submitJob",
                  `${lost}; ${program} ${
                    record._tag === "Cut" ? "was stopped" : "lost its job directory"
                  } before ${backend} took the job (no job carries its tag): nothing was submitted`,
                  { recoverable: true },
                )
              }
              return yield* Effect.fail(unknown(
                job0.id,
                jobDir,
                ran
                  ? `${lost}; the job has started (its scheduler files exist) but ${backend} no ` +
                    `longer lists its tag`
                  : `${lost}; ${program} was stopped mid-way and ${backend} cannot be asked ` +
                    `for the job's tag${
                      tagged._tag === "Cannot" && tagged.why !== "" ? ` (${tagged.why})` : ""
                    }`,
              ))
            }
          }
        }
      })

    const submitJob = (
      app: Application,
      options?: SubmitOptions,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const problem = dialect.validate?.(app)
        if (problem !== undefined) return yield* fail("ConfigurationError", "submitJob", problem)
        const { spool } = yield* paths
        const job0 = Job.make({
          resourceName: resource.name,
          backend,
          application: app,
          ...(options?.id !== undefined ? { id: options.id } : {}),
        })
        const jobDir = `${spool}/job.${job0.id}`
        const { argv, name } = yield* prepareJob(app, jobDir).pipe(
          Effect.onExit((exit) =>
            exit._tag === "Failure"
              ? transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
              : Effect.void
          ),
        )
        // Once the submit command runs, the job must not be forgotten: no interruption until
        // its id is recorded (or the refusal is known).
        return yield* Effect.uninterruptible(Effect.gen(function* () {
          const submittedAt = yield* Clock.currentTimeMillis
          const result = yield* Effect.either(submitter({ cwd: jobDir, argv, name }))
          if (result._tag === "Right" && result.right !== undefined) {
            return yield* outcome(job0, jobDir, argv[0]!, result.right, submittedAt, "")
          }
          const lost = result._tag === "Left"
            ? `the submit call failed (${result.left.message})`
            : `the connection to ${transport.host} ended before ${argv[0]} answered`
          return yield* settle(job0, jobDir, argv[0]!, submittedAt, lost)
        }))
      })

    const reconcile = (
      submission: Reconcilable,
      app: Application,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(submission.tag)) {
          return yield* fail("InvalidArgument", "reconcile", `bad tag ${submission.tag}`)
        }
        const jobDir = submission.jobDir ?? `${(yield* paths).spool}/job.${submission.tag}`
        const job0 = Job.make({
          id: submission.tag,
          resourceName: resource.name,
          backend,
          application: app,
        })
        const now = yield* Clock.currentTimeMillis
        return yield* settle(
          job0,
          jobDir,
          "the submit command",
          now,
          "reconciling an earlier submission",
        ).pipe(Effect.catchIf(
          (e) => e.reason === "ConnectionLost" || e.reason === "SubmitRejected",
          (e) =>
            fail(
              "NotFound",
              "reconcile",
              `job ${submission.tag} is not on ${resource.name}: ` +
                (e.description ?? e.message),
            ),
        ))
      })

    return makeLrms({
      resource,
      protocols: ["file"],
      submitJob,
      updateJobState,
      cancelJob,
      free,
      getResourceStatus,
      reconcile,
      files: { transport, fileSystem, exclude: [Script.PRIVATE_DIR] },
      ...(transport.close !== undefined ? { close: transport.close } : {}),
    })
  })
