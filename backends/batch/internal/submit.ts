/**
 * @internal Submitting jobs: each job's directory under the spool directory with its staged
 * inputs, then, for every job submitted in the same moment, one plan. Jobs of the same resource
 * shape go into one job array per chunk under the array limit (`arrays`, on by default where the
 * dialect has them); a job alone is submitted alone. The submit commands of the moment run in one
 * shell. A refusal removes the directories; a lost reply is settled.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { Application } from "../../../src/Application.ts"
import type { Auth } from "../../../src/Auth.ts"
import * as Batcher from "../../../src/internal/batcher.ts"
import { memoize } from "../../../src/internal/memoize.ts"
import * as Staging from "../../../src/internal/staging.ts"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import type { ArraySupport, SubmitCommand } from "../Dialect.ts"
import * as Script from "../Script.ts"
import * as Arrays from "./array.ts"
import type { Calls } from "./calls.ts"
import { type Env, privatePath } from "./env.ts"
import { elementJob, type InFlight, outcome, settle } from "./settle.ts"

/** A job whose directory and inputs are in place, waiting for its submit command. */
interface Staged {
  readonly job0: Job.Job
  readonly app: Application
  readonly jobDir: string
  /**
   * Whether the job directory exists yet: a job with nothing to stage, waiting for an array, has
   * its directory made with the array's other files, in one call.
   */
  readonly made: boolean
}

type Submitted = Either.Either<Job.Job, LrmsError>

/** The dialect's submit command for a job directory (an array's when `size` is given). */
const command = (env: Env, app: Application, jobDir: string, size?: number): SubmitCommand =>
  env.dialect.submit({
    app,
    resource: env.resource,
    jobDir,
    scriptPath: privatePath(jobDir, Script.Files.script),
    schedulerOutput: privatePath(jobDir, Script.Files.schedulerOutput),
    schedulerError: privatePath(jobDir, Script.Files.schedulerError),
    ...(size !== undefined ? { array: { size, throttle: env.config.arrayThrottle } } : {}),
  })

/** A job's own script (`directives` right after `#!/bin/sh`). */
const jobScript = (env: Env, job: Staged, directives: ReadonlyArray<string>) =>
  Script.renderJobScript({
    app: job.app,
    jobDir: job.jobDir,
    directives,
    prologue: env.config.prologue,
    epilogue: env.config.epilogue,
    launch: env.config,
  })

/** Writes a job's own script. */
const writeJobScript = (env: Env, job: Staged, directives: ReadonlyArray<string>) =>
  env.transport.writeFile(
    privatePath(job.jobDir, Script.Files.script),
    jobScript(env, job, directives),
    { mode: 0o755 },
  )

/**
 * Makes directories and writes files in one transport call (one `/bin/sh`); fails unless every
 * file was written.
 */
const writeAll = (env: Env, files: ReadonlyArray<Arrays.NewFile>) =>
  Effect.gen(function* () {
    const token = `lrms${crypto.randomUUID().replaceAll("-", "")}`
    const reply = yield* env.transport.exec(["/bin/sh", "-s"], {
      stdin: Arrays.renderWriteScript(token, files),
    }).pipe(Metrics.countCommand(env.backend, "sh"))
    if (reply.exitCode !== 0 || !reply.stdout.includes(`${token} ok`)) {
      const said = reply.stderr.trim().split("\n").at(-1)
      return yield* env.fail(
        "DataStaging",
        "submitJob",
        `cannot write the job scripts of an array on ${env.transport.host}: ` +
          (said || `/bin/sh exited with code ${reply.exitCode}`),
        { recoverable: true },
      )
    }
  })

const removeDir = (env: Env, dir: string) =>
  env.transport.remove(dir, { recursive: true }).pipe(Effect.ignore)

/**
 * Runs a submit command, exactly once: no interruption until its outcome is known, and a lost
 * reply settled from the resource's records.
 */
const runSubmit = (env: Env, calls: Calls, sub: InFlight, argv: ReadonlyArray<string>) =>
  Effect.uninterruptible(Effect.gen(function* () {
    const name = argv[0]!
    const full = env.command(argv)
    const result = yield* Effect.either(calls.submit({ cwd: sub.jobDir, argv: full, name }))
    if (result._tag === "Right" && result.right !== undefined) {
      return yield* outcome(env, sub, result.right, "")
    }
    const lost = result._tag === "Left"
      ? `the submit call failed (${result.left.message})`
      : `the connection to ${env.transport.host} ended before ${full[0]} answered`
    return yield* settle(env, sub, lost)
  }))

const inFlight = (env: Env, job0: Job.Job, jobDir: string, argv: ReadonlyArray<string>) =>
  Effect.map(Clock.currentTimeMillis, (submittedAt): InFlight => ({
    job0,
    jobDir,
    program: env.command(argv)[0]!,
    submittedAt,
  }))

/** Submits one job alone. */
const submitAlone = (env: Env, calls: Calls, job: Staged) =>
  Effect.gen(function* () {
    if (!job.made) yield* makeDirectory(env, job.app, job.jobDir)
    const submit = command(env, job.app, job.jobDir)
    yield* writeJobScript(env, job, submit.directives).pipe(
      Effect.tapError(() => removeDir(env, job.jobDir)),
    )
    return yield* runSubmit(
      env,
      calls,
      yield* inFlight(env, job.job0, job.jobDir, submit.argv),
      submit.argv,
    )
  })

/** The error an element gets when its array's submission failed. */
const elementError = (env: Env, error: LrmsError, job: Staged): LrmsError =>
  error.reason === "SubmitOutcomeUnknown"
    ? new LrmsError({
      reason: "SubmitOutcomeUnknown",
      backend: env.backend,
      operation: "submitJob",
      description: `job ${job.job0.id} is an element of an array whose submission is unknown: ` +
        `${error.description ?? error.message}; reconcile the job later`,
      submission: { resource: env.resource.name, tag: job.job0.id, jobDir: job.jobDir },
    })
    : error

/** Submits jobs of one shape as one array; each gets its own job or error. */
const submitArray = (
  env: Env,
  calls: Calls,
  support: ArraySupport,
  jobs: ReadonlyArray<Staged>,
): Effect.Effect<ReadonlyArray<Submitted>, never, Auth> =>
  Effect.gen(function* () {
    const { spool } = yield* env.paths
    const tag = `array-${crypto.randomUUID()}`
    const arrayDir = `${spool}/job.${tag}`
    const indices = jobs.map((_, i) => support.firstIndex + i)
    const submit = command(env, jobs[0]!.app, arrayDir, jobs.length)
    const dirs = [arrayDir, ...jobs.map((j) => j.jobDir)]
    const files: Array<Arrays.NewFile> = jobs.map((job, i) => ({
      dir: privatePath(job.jobDir, ""),
      path: privatePath(job.jobDir, Script.Files.script),
      content: jobScript(env, job, [Arrays.pointerLine(arrayDir, indices[i]!)]),
    }))
    files.push({
      dir: privatePath(arrayDir, ""),
      path: privatePath(arrayDir, Script.Files.script),
      executable: true,
      content: Arrays.renderArrayScript({
        directives: submit.directives,
        indexVariable: support.indexVariable,
        elements: jobs.map((job, i) => ({
          index: indices[i]!,
          script: privatePath(job.jobDir, Script.Files.script),
        })),
      }),
    })
    const written = yield* Effect.either(writeAll(env, files))
    if (written._tag === "Left") {
      yield* Effect.forEach(dirs, (d) => removeDir(env, d), { concurrency: 16 })
      return jobs.map(() => Either.left(written.left))
    }
    const array0 = Job.make({
      id: tag,
      resourceName: env.resource.name,
      backend: env.backend,
      application: jobs[0]!.app,
    })
    const sub = yield* inFlight(env, array0, arrayDir, submit.argv)
    const result = yield* Effect.either(runSubmit(env, calls, sub, submit.argv))
    if (result._tag === "Right") {
      return jobs.map((job, i) =>
        Either.right(elementJob(env, result.right, support, job.job0, job.jobDir, indices[i]!))
      )
    }
    const error = result.left
    if (error.reason !== "SubmitOutcomeUnknown") {
      // refused or provably never submitted: nothing of the array exists
      yield* Effect.forEach(dirs, (d) => removeDir(env, d), { concurrency: 16 })
    }
    return jobs.map((job) => Either.left(elementError(env, error, job)))
  }).pipe(
    // the spool directory could not be learned: nothing was written, nothing submitted
    Effect.catchAll((e) => Effect.succeed(jobs.map(() => Either.left(e)))),
  )

/** The most elements one array gets: the site's limit when it can be read, else the dialect's. */
const arrayLimit = (env: Env, support: ArraySupport) =>
  memoize(Effect.gen(function* () {
    const limit = support.limit
    if (limit === undefined) return support.maxSize
    const reply = yield* Effect.either(env.exec(limit.argv))
    const site = reply._tag === "Right" && reply.right.exitCode === 0
      ? limit.parse(reply.right)
      : undefined
    // a site limit of 0 or 1 means no arrays there (SLURM's MaxArraySize=0)
    return site === undefined ? support.maxSize : Math.max(1, Math.min(site, support.maxSize))
  }))

/** Submits the jobs of one moment: arrays for groups of one shape, single jobs for the rest. */
const submitMoment = (
  env: Env,
  calls: Calls,
  support: ArraySupport,
  limit: Effect.Effect<number, never, Auth>,
) =>
(jobs: ReadonlyArray<Staged>): Effect.Effect<ReadonlyMap<Staged, Submitted>, never, Auth> =>
  Effect.gen(function* () {
    const max = jobs.length > 1 ? yield* limit : 1
    const chunks = Arrays.plan(jobs, (j) => Arrays.shapeKey(j.app), max)
    const answers = new Map<Staged, Submitted>()
    yield* Effect.forEach(
      chunks,
      (chunk) =>
        chunk.length === 1
          ? Effect.either(submitAlone(env, calls, chunk[0]!)).pipe(
            Effect.map((r) => void answers.set(chunk[0]!, r)),
          )
          : Effect.map(
            submitArray(env, calls, support, chunk),
            (rs) => chunk.forEach((job, i) => answers.set(job, rs[i]!)),
          ),
      { concurrency: "unbounded", discard: true },
    )
    return answers
  })

const notAnswered = (env: Env) =>
  Either.left(
    new LrmsError({
      reason: "SubmitOutcomeUnknown",
      backend: env.backend,
      operation: "submitJob",
      description: "the submission batch ended without answering this job",
    }),
  )

/** Stages a job: its directory and inputs (removed again if staging fails or is interrupted). */
const makeDirectory = (env: Env, app: Application, jobDir: string) =>
  Staging.makeJobDirectory(
    env.transport,
    env.fileSystem,
    app,
    jobDir,
    Script.PRIVATE_DIR,
    env.backend,
  ).pipe(Effect.onExit((exit) => exit._tag === "Failure" ? removeDir(env, jobDir) : Effect.void))

/**
 * Stages a job: its directory and inputs (removed again if staging fails or is interrupted). With
 * `defer`, a job with nothing to stage gets its directory later (with its array's other files).
 */
const stage = (env: Env, app: Application, id: string | undefined, defer: boolean) =>
  Effect.gen(function* () {
    const problem = env.dialect.validate?.(app)
    if (problem !== undefined) return yield* env.fail("ConfigurationError", "submitJob", problem)
    const { spool } = yield* env.paths
    const job0 = Job.make({
      resourceName: env.resource.name,
      backend: env.backend,
      application: app,
      ...(id !== undefined ? { id } : {}),
    })
    const jobDir = `${spool}/job.${job0.id}`
    const made = !defer || app.inputs.length > 0
    if (made) yield* makeDirectory(env, app, jobDir)
    return { job0, app, jobDir, made } satisfies Staged
  })

/**
 * @internal The `submitJob` of a batch resource: with arrays (when the dialect has them and the
 * configuration does not turn them off) the jobs staged in the same moment are planned together.
 */
export const makeSubmitJob = (
  env: Env,
  calls: Calls,
): Effect.Effect<LrmsShape["submitJob"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const support = env.dialect.arrays
    if (support === undefined || env.config.arrays === false) {
      return (app, options) =>
        Effect.flatMap(stage(env, app, options?.id, false), (job) => submitAlone(env, calls, job))
    }
    const limit = yield* arrayLimit(env, support)
    const pack = yield* Batcher.make<Staged, Submitted, never>({
      name: "Batch.submitMoment",
      window: Duration.millis(10),
      maxBatch: Number.MAX_SAFE_INTEGER,
      missing: notAnswered(env),
      run: submitMoment(env, calls, support, limit),
    })
    return (app, options) =>
      Effect.flatMap(
        stage(env, app, options?.id, true),
        // handed over: the job must not be forgotten, so its answer is awaited uninterruptibly
        (job) => Effect.uninterruptible(Effect.flatten(pack(job))),
      )
  })
