/**
 * `lrms`: GC3Pie's `gsub` / `gstat` / `gget` / `gkill` for effect-lrms, driven by a `gc3pie.conf`
 * (default `$GC3PIE_CONF`, else `~/.gc3/gc3pie.conf`), with jobs kept in a job store (default
 * `~/.effect-lrms/jobs`) so every command re-attaches to them.
 *
 *   deno task cli [--config FILE] [--store DIR] submit [--resource NAME] [--cores N]
 *       [--memory Q] [--walltime Q] [--input PATH]... [--output NAME]... [--stdout F]
 *       [--stderr F] [--join] [--stdin PATH] [--env K=V]... [--name NAME] [--wait] -- COMMAND ARGS...
 *   deno task cli status [--json] [JOB...]
 *   deno task cli cancel JOB...
 *   deno task cli results JOB [--dir DIR] [--overwrite] [--changed-only]
 *   deno task cli peek JOB FILE [--offset N] [--size N] [--follow]
 *   deno task cli free JOB...
 *   deno task cli resources [--json]
 *
 * A JOB is a job id or a unique prefix of one. `deno compile -A --output lrms cli.ts` builds a
 * single binary.
 *
 * Exit status: 0 on success; 1 when a command fails (one `error: ...` line on stderr) and when
 * `submit --wait` sees the job end unsuccessfully (a non-zero exit code or a signal); 2 for a
 * command line `lrms` cannot read; 130 when interrupted. A submission whose outcome is unknown
 * (the resource could not say whether it took the job) exits 1 and keeps the job in the store:
 * `lrms status` asks the resource again and attaches it (or forgets it, if it never got there).
 *
 * @module
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Resources from "./backends/Resources.ts"
import * as Application from "./src/Application.ts"
import * as Auth from "./src/Auth.ts"
import * as Job from "./src/Job.ts"
import * as JobStore from "./src/JobStore.ts"
import * as Lrms from "./src/Lrms.ts"
import { fromDenoError } from "./src/internal/denoError.ts"
import { isAmbiguous, isLrmsError, LrmsError } from "./src/LrmsError.ts"
import * as Quantity from "./src/Quantity.ts"
import * as RunState from "./src/RunState.ts"
import * as Termination from "./src/Termination.ts"

const home = Deno.env.get("HOME") ?? "."
const expand = (p: string) => (p === "~" || p.startsWith("~/") ? `${home}${p.slice(1)}` : p)

/**
 * Ends the program with an exit status, once whatever had to be said has been said (the
 * teardown of `runMain` turns it into the process's exit code).
 */
class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

/** A local file operation as an effect whose failure is a typed error naming the path. */
const localFile = <A>(operation: string, path: string, f: () => Promise<A>) =>
  Effect.tryPromise({
    try: f,
    catch: (e) => fromDenoError(e, { backend: "cli", operation, path, otherwise: "DataStaging" }),
  })

// =============================================================================
// Root options and the environment every command runs in
// =============================================================================

const root = Command.make("lrms", {
  config: Options.text("config").pipe(
    Options.withDefault(Deno.env.get("GC3PIE_CONF") ?? "~/.gc3/gc3pie.conf"),
    Options.withDescription("the gc3pie.conf file describing the resources"),
  ),
  store: Options.text("store").pipe(
    Options.withDefault("~/.effect-lrms/jobs"),
    Options.withDescription("the directory jobs are kept in"),
  ),
})

/** Runs a command body with the configured resources and the job store. */
const withEnv = <A, E>(
  body: Effect.Effect<A, E, Resources.Resources | JobStore.JobStore>,
) =>
  Effect.gen(function* () {
    const { config, store } = yield* root
    return yield* body.pipe(
      Effect.provide(
        Layer.merge(Resources.layerFile(expand(config)), JobStore.layer(expand(store))),
      ),
    )
  })

const jobsArg = Args.text({ name: "JOB" }).pipe(Args.repeated)

/** The stored jobs named (by id or unique prefix), or every stored job. */
const loadJobs = (ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* JobStore.JobStore
    if (ids.length > 0) return yield* Effect.forEach(ids, store.get)
    const { jobs, problems } = yield* store.list
    for (const p of problems) yield* Console.error(`warning: ${p.file}: ${p.reason}`)
    return jobs
  })

const short = (id: string) => id.slice(0, 8)

const describeEnd = (job: Job.Job) =>
  job.termination !== undefined ? Termination.describe(job.termination) : ""

const line = (job: Job.Job) =>
  [
    short(job.id).padEnd(8),
    job.resourceName.padEnd(12),
    (job.nativeId ?? "").padEnd(10),
    job.state.padEnd(11),
    describeEnd(job),
  ].join("  ")

// =============================================================================
// submit
// =============================================================================

/** Collapses a message to one line. */
const oneLine = (text: string) => text.replace(/\s*\n\s*/g, " / ").trim()

const submit = Command.make("submit", {
  resource: Options.text("resource").pipe(
    Options.optional,
    Options.withDescription("submit to this resource only"),
  ),
  cores: Options.integer("cores").pipe(Options.withDefault(1)),
  memory: Options.text("memory").pipe(
    Options.optional,
    Options.withDescription("memory for the whole job, e.g. 4GB"),
  ),
  walltime: Options.text("walltime").pipe(
    Options.optional,
    Options.withDescription("e.g. 2h, 01:30:00"),
  ),
  input: Options.text("input").pipe(
    Options.repeated,
    Options.withDescription("a local file or directory to stage"),
  ),
  output: Options.text("output").pipe(
    Options.repeated,
    Options.withDescription("a file the job writes, to fetch"),
  ),
  stdout: Options.text("stdout").pipe(Options.optional),
  stderr: Options.text("stderr").pipe(Options.optional),
  join: Options.boolean("join").pipe(Options.withDescription("stderr into the stdout file")),
  stdin: Options.text("stdin").pipe(Options.optional),
  env: Options.text("env").pipe(Options.repeated, Options.withDescription("NAME=value")),
  name: Options.text("name").pipe(Options.optional),
  wait: Options.boolean("wait").pipe(
    Options.withDescription(
      "wait for the end, showing progress; exit status 1 when the job does not succeed " +
        "(a non-zero exit code or a signal)",
    ),
  ),
  command: Args.text({ name: "COMMAND" }).pipe(Args.atLeast(1)),
}, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const environment: Record<string, string> = {}
    for (const kv of o.env) {
      const eq = kv.indexOf("=")
      if (eq <= 0) {
        return yield* Effect.fail(
          new LrmsError({
            reason: "InvalidArgument",
            backend: "cli",
            operation: "submit",
            description: `--env ${kv}: expected NAME=value`,
          }),
        )
      }
      environment[kv.slice(0, eq)] = kv.slice(eq + 1)
    }
    const opt = <A>(o: Option.Option<A>) => Option.getOrUndefined(o)
    const input: Application.ApplicationInput = {
      arguments: o.command,
      inputs: o.input.map((p) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`)),
      outputs: o.output,
      environment,
      requestedCores: o.cores,
      join: o.join,
      ...(Option.isSome(o.memory) ? { requestedMemory: o.memory.value } : {}),
      ...(Option.isSome(o.walltime) ? { requestedWalltime: o.walltime.value } : {}),
      ...(Option.isSome(o.stdout) ? { stdout: o.stdout.value } : {}),
      ...(Option.isSome(o.stderr) ? { stderr: o.stderr.value } : {}),
      ...(Option.isSome(o.stdin) ? { stdin: expand(o.stdin.value) } : {}),
      ...(Option.isSome(o.name) ? { jobname: o.name.value } : {}),
    }
    const app = yield* Application.make(input)
    const resource = opt(o.resource)
    const submitted = yield* Effect.either(
      resources.submit(app, resource !== undefined ? { resource } : {}),
    )
    if (Either.isLeft(submitted)) {
      const error = submitted.left
      if (!isAmbiguous(error) || error.submission === undefined) return yield* Effect.fail(error)
      // the job may exist: keep it in the store (NEW, with its directory), so that `status`
      // asks the resource again and attaches it
      const submission = error.submission
      const pending = Job.log(
        Job.update(
          Job.make({
            id: submission.tag,
            resourceName: submission.resource,
            backend: error.backend,
            application: app,
          }),
          { remoteDir: submission.jobDir },
        ),
        error.message,
      )
      yield* store.put(pending)
      yield* Console.error(
        `error: the outcome of the submission is unknown: job ${submission.tag} may be queued ` +
          `on ${submission.resource}; its directory ${submission.jobDir} is kept; run \`lrms status\` ` +
          `later to reconcile it`,
      )
      yield* Console.error(`  (${oneLine(error.message)})`)
      return yield* Effect.fail(new ExitWith({ code: 1 }))
    }
    const { job, tried } = submitted.right
    for (const t of tried) yield* Console.error(`skipped ${t.name}: ${t.reason}`)
    yield* store.put(job)
    yield* Console.log(`${job.id} submitted to ${job.resourceName} as ${job.nativeId}`)
    if (!o.wait) return
    const started = Date.now()
    const tty = Deno.stderr.isTerminal()
    const progress = (j: Job.Job) =>
      Console.error(
        `${tty ? "\r\x1b[K" : ""}${new Date().toISOString().slice(11, 19)} ${
          short(j.id)
        } ${j.state}` +
          ` after ${Quantity.formatDuration(Duration.millis(Date.now() - started))}` +
          (RunState.isDone(j.state) ? `: ${describeEnd(j)}` : ""),
      )
    // on a terminal, a status line that keeps the elapsed time moving between state changes
    let current = job
    const ticker = yield* Effect.fork(
      Effect.repeat(
        Effect.sync(() => {
          if (!tty) return
          Deno.stderr.writeSync(new TextEncoder().encode(
            `\r\x1b[K${short(current.id)} ${current.state} for ` +
              Quantity.formatDuration(Duration.millis(Date.now() - started)),
          ))
        }),
        Schedule.spaced("1 second"),
      ),
    )
    const done = yield* resources.forJob(job, () =>
      Lrms.awaitTermination(job, {
        onChange: (j) =>
          Effect.sync(() => (current = j)).pipe(
            Effect.zipRight(store.put(j)),
            Effect.zipRight(progress(j)),
            Effect.orDie,
          ),
      })).pipe(Effect.ensuring(Fiber.interrupt(ticker)))
    if (tty) yield* Console.error("")
    yield* store.put(done)
    yield* Console.log(`${done.id} ${done.state}: ${describeEnd(done)}`)
    // the job's failure is the command's: scripts can test `lrms submit --wait`
    if (done.termination === undefined || !Termination.isSuccess(done.termination)) {
      return yield* Effect.fail(new ExitWith({ code: 1 }))
    }
  }))).pipe(
    Command.withDescription(
      "submit a job to the first resource that takes it; with --wait, wait for its end and exit " +
        "1 unless it succeeded",
    ),
  )

// =============================================================================
// status, cancel, free
// =============================================================================

/**
 * Asks the resource about a submission whose outcome was unknown (a NEW job with a directory):
 * the job, attached; `undefined` when it provably never got there (then forgotten); the same
 * record while the resource still cannot tell.
 */
const reconcile = (
  resources: Resources.ResourcesShape,
  store: JobStore.JobStoreShape,
  job: Job.Job,
): Effect.Effect<Job.Job | undefined, never> =>
  resources.forJob(
    job,
    (l) => l.reconcile({ tag: job.id, jobDir: job.remoteDir! }, job.application),
  ).pipe(
    Effect.tap(store.put),
    Effect.tap((j) =>
      Console.error(`${short(job.id)}: reconciled: ${j.resourceName} has it as ${j.nativeId}`)
    ),
    Effect.catchAll((e) =>
      e.reason === "NotFound"
        ? Effect.as(
          Effect.zipRight(
            store.remove(job.id).pipe(Effect.ignore),
            Console.error(
              `${short(job.id)}: never reached ${job.resourceName}; forgotten (${
                oneLine(e.message)
              })`,
            ),
          ),
          undefined,
        )
        : Effect.as(
          Console.error(
            `${short(job.id)}: the outcome of the submission is still unknown: ${
              oneLine(e.message)
            }`,
          ),
          job,
        )
    ),
  )

const status = Command.make("status", {
  json: Options.boolean("json").pipe(Options.withDescription("print the jobs as JSON")),
  jobs: jobsArg,
}, ({ json, jobs: ids }) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const jobs = yield* loadJobs(ids)
    // polled all at once: each backend answers its jobs with one scheduler call
    const updated = yield* Effect.forEach(jobs, (job) =>
      job.state === "NEW" && job.remoteDir !== undefined
        ? reconcile(resources, store, job)
        : RunState.isDone(job.state) || job.state === "NEW"
        ? Effect.succeed(job)
        : resources.forJob(job, (l) =>
          l.updateJobState(job)).pipe(
            Effect.tap(store.put),
            Effect.catchAll((e) => Effect.as(Console.error(`${short(job.id)}: ${e.message}`), job)),
          ), { concurrency: "unbounded" }).pipe(
        Effect.map((all) =>
          all.filter((j): j is Job.Job =>
            j !== undefined
          )
        ),
      )
    if (json) {
      yield* Console.log(JSON.stringify(
        updated.map((j) => Schema.encodeSync(Job.Job)(j)),
        null,
        2,
      ))
      return
    }
    yield* Console.log(
      ["JOB".padEnd(8), "RESOURCE".padEnd(12), "NATIVE".padEnd(10), "STATE".padEnd(11), "END"].join(
        "  ",
      ),
    )
    for (const j of updated) yield* Console.log(line(j))
  })))

const cancel = Command.make(
  "cancel",
  { jobs: Args.text({ name: "JOB" }).pipe(Args.atLeast(1)) },
  ({ jobs: ids }) =>
    withEnv(Effect.gen(function* () {
      const resources = yield* Resources.Resources
      const store = yield* JobStore.JobStore
      for (const job of yield* loadJobs(ids)) {
        const cancelled = yield* resources.forJob(job, (l) => l.cancelJob(job))
        yield* store.put(cancelled)
        yield* Console.log(line(cancelled))
      }
    })),
)

const free = Command.make(
  "free",
  { jobs: Args.text({ name: "JOB" }).pipe(Args.atLeast(1)) },
  ({ jobs: ids }) =>
    withEnv(Effect.gen(function* () {
      const resources = yield* Resources.Resources
      const store = yield* JobStore.JobStore
      for (const job of yield* loadJobs(ids)) {
        yield* resources.forJob(job, (l) => l.free(job))
        yield* store.remove(job.id)
        yield* Console.log(`${short(job.id)} freed`)
      }
    })),
)

// =============================================================================
// results, peek
// =============================================================================

const results = Command.make("results", {
  job: Args.text({ name: "JOB" }),
  dir: Options.text("dir").pipe(Options.optional, Options.withDescription("default: ./<job name>")),
  overwrite: Options.boolean("overwrite"),
  changedOnly: Options.boolean("changed-only"),
}, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const job = yield* store.get(o.job)
    const dir = Option.getOrElse(o.dir, () => job.application.outputDir ?? job.application.jobname)
    yield* localFile("results", dir, () => Deno.mkdir(dir, { recursive: true }))
    const { job: fetched, report } = yield* resources.forJob(job, () =>
      Lrms.retrieve(job, dir, { overwrite: o.overwrite, changedOnly: o.changedOnly }))
    yield* store.put(fetched)
    for (const c of report.copied) {
      yield* Console.log(`copied  ${c.local} (${c.bytes} bytes)`)
    }
    for (const s of report.skipped) {
      yield* Console.log(`kept    ${s.local} (${s.reason})`)
    }
    for (const m of report.missing) {
      yield* Console.error(`missing ${m}`)
    }
  })))

const peek = Command.make("peek", {
  job: Args.text({ name: "JOB" }),
  file: Args.text({ name: "FILE" }),
  offset: Options.integer("offset").pipe(Options.withDefault(0)),
  size: Options.integer("size").pipe(Options.optional),
  follow: Options.boolean("follow").pipe(
    Options.withDescription("keep printing while the job runs"),
  ),
}, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    let job = yield* store.get(o.job)
    const out = Sink.forEach((chunk: Uint8Array) => Effect.promise(() => Deno.stdout.write(chunk)))
    const size = Option.getOrUndefined(o.size)
    const read = (
      offset: number,
      size: number | undefined,
      target: typeof out | typeof Sink.drain = out,
    ) =>
      resources.forJob(job, (l) =>
        l.peek(job, o.file, target, { offset, ...(size !== undefined ? { size } : {}) })).pipe(
          // following a job that has not written the file yet: wait for it
          Effect.catchIf(
            (e) =>
              o.follow && e.reason === "NotFound" && !RunState.isDone(job.state),
            () => Effect.succeed(0),
          ),
        )
    let offset = o.offset
    if (o.follow && offset < 0) {
      // the last -offset bytes, then only what is appended: a follow needs the position where
      // that window ends, and peek tells bytes written, not the file's size. Find the size by
      // probing single bytes (doubling, then halving: a few reads, none of the file's text),
      // print the window before it, and go on from there: each byte is printed once.
      const tail = -offset
      const has = (k: number) => Effect.map(read(k, 1, Sink.drain), (n) => n > 0)
      let end: number
      if (!(yield* has(tail - 1))) {
        end = 0 // shorter than the window: all of it, from the start
      } else {
        let lo = tail // the file has at least lo bytes
        let hi = 2 * tail // ... and fewer than hi, once has(hi - 1) is false
        while (hi <= Number.MAX_SAFE_INTEGER / 2 && (yield* has(hi - 1))) {
          lo = hi
          hi *= 2
        }
        let b = hi - 1
        while (lo < b) {
          const mid = Math.floor((lo + b) / 2)
          if (yield* has(mid)) lo = mid + 1
          else b = mid
        }
        end = lo
      }
      const start = Math.max(0, end - tail)
      const length = end === 0 ? tail : end - start
      offset = start +
        (yield* read(start, size === undefined ? length : Math.min(size, length)))
    }
    for (;;) {
      const n = yield* read(offset, size)
      if (!o.follow) {
        return
      }
      offset += n
      if (RunState.isDone(job.state) && n === 0) {
        return
      }
      yield* Effect.sleep("1 second")
      job = yield* resources.forJob(job, (l) => l.updateJobState(job))
      yield* store.put(job)
    }
  })))

// =============================================================================
// resources
// =============================================================================

const resourcesCommand = Command.make("resources", {
  json: Options.boolean("json"),
}, ({ json }) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const rows = yield* Effect.forEach(resources.entries, (e) =>
      Effect.either(e.lrms.getResourceStatus.pipe(Effect.provideService(Auth.Auth, e.auth))).pipe(
        Effect.map((s) => ({ e, s })),
      ), { concurrency: "unbounded" })
    const view = rows.map(({ e, s }) => {
      const r = e.lrms.resource
      return {
        name: r.name,
        type: r.type,
        architecture: r.architecture.join(","),
        maxCores: r.maxCores,
        maxCoresPerJob: r.maxCoresPerJob,
        maxMemoryPerCore: Quantity.formatMemoryHuman(r.maxMemoryPerCore),
        maxWalltime: Quantity.formatDuration(r.maxWalltime),
        ...(s._tag === "Right"
          ? {
            freeSlots: s.right.freeSlots,
            userRun: s.right.userRun,
            userQueued: s.right.userQueued,
            queued: s.right.queued,
            totalRun: s.right.totalRun,
          }
          : { error: s.left.message }),
      }
    })
    if (json) {
      return yield* Console.log(JSON.stringify(view, null, 2))
    }
    for (const v of view) {
      yield* Console.log(
        `${v.name} (${v.type}, ${v.architecture}): ${v.maxCores} cores, ${v.maxCoresPerJob}/job, ` +
          `${v.maxMemoryPerCore}/core, ${v.maxWalltime}; ` +
          ("error" in v
            ? `status unavailable: ${v.error}`
            : `free ${v.freeSlots}, running ${v.totalRun} (yours ${v.userRun}), queued ${v.queued} (yours ${v.userQueued})`),
      )
    }
  })))

// =============================================================================
// main
// =============================================================================

const cli = Command.run(
  root.pipe(
    Command.withSubcommands([submit, status, cancel, results, peek, free, resourcesCommand]),
  ),
  { name: "lrms", version: "0.1.0" },
)

/**
 * Says what went wrong in one line on stderr and ends with an exit status: 2 for a command line
 * that could not be read (@effect/cli has printed why), 1 for everything else; an interruption
 * goes on as it is.
 */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof ExitWith) return Effect.fail(e)
    if (ValidationError.isValidationError(e)) return Effect.fail(new ExitWith({ code: 2 }))
    const message = isLrmsError(e)
      ? e.message
      : e instanceof Error
      ? e.message
      : typeof e === "object" && e !== null && "message" in e
      ? String(e.message)
      : String(e)
    return Effect.zipRight(
      Console.error(`error: ${oneLine(message)}`),
      Effect.fail(new ExitWith({ code: 1 })),
    )
  }
  const defect = Cause.squash(cause)
  return Effect.zipRight(
    Console.error(
      `error: ${
        oneLine(defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect))
      }`,
    ),
    Effect.fail(new ExitWith({ code: 1 })),
  )
}

/** The process's exit code from how the program ended (see the module notes). */
const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(0)
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(130)
  const failure = Cause.failureOption(exit.cause)
  onExit(Option.isSome(failure) && failure.value instanceof ExitWith ? failure.value.code : 1)
}

if (import.meta.main) {
  cli(["deno", "cli.ts", ...Deno.args]).pipe(
    Effect.catchAllCause(report),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({ disableErrorReporting: true, teardown }),
  )
}
