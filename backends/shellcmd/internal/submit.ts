/**
 * @internal Submitting a job: reserve its capacity, stage its directory and wrapper, make its
 * launch token, launch it (one command for every job launched in the same moment), and settle
 * a launch whose reply was lost on the host, so that a job is returned exactly when it runs.
 *
 * @module
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Application } from "../../../src/Application.ts"
import type { Auth } from "../../../src/Auth.ts"
import * as Batcher from "../../../src/internal/batcher.ts"
import * as Job from "../../../src/Job.ts"
import type { SubmitOptions } from "../../../src/Lrms.ts"
import { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import * as Staging from "../../../src/internal/staging.ts"
import * as Bookkeeping from "../Bookkeeping.ts"
import * as Wrapper from "../Wrapper.ts"
import { BACKEND, CLAIM_GRACE, type Discovered, type Env, privatePath, retrying } from "./env.ts"
import * as Reserve from "./reserve.ts"
import { settleLaunch } from "./settle.ts"

/** @internal The job as a submission leaves it: SUBMITTED, known by its wrapper's pid. */
export const submitted = (
  env: Env,
  job0: Job.Job,
  jobDir: string,
  pid: number,
  submittedAt: number,
  gnuTime: boolean,
  how = "",
): Job.Job =>
  Job.transition(
    Job.update(job0, {
      nativeId: String(pid),
      remoteDir: jobDir,
      backendData: { submittedAt, gnuTime },
    }),
    "SUBMITTED",
    { message: `Submitted to ${env.configured.name} as pid ${pid}${how}` },
  )

/** @internal `SubmitOutcomeUnknown`, carrying the submission to reconcile. */
export const unknown = (
  env: Env,
  operation: string,
  tag: string,
  jobDir: string,
  why: string,
): LrmsError =>
  new LrmsError({
    reason: "SubmitOutcomeUnknown",
    backend: BACKEND,
    operation,
    description:
      `the outcome of submitting job ${tag} to ${env.configured.name} is unknown: ${why}; ` +
      `its directory ${jobDir} and its reservation are kept: reconcile it later`,
    submission: { resource: env.configured.name, tag, jobDir },
  })

/** Runs `self` while rewriting the reservation every 20 s (its submitter is alive). */
const keepingFresh = (store: Bookkeeping.Store, entry: Bookkeeping.Entry) =>
<A, E, R>(
  self: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R | Auth> =>
  Effect.scoped(Effect.zipRight(
    Effect.forkScoped(Effect.interruptible(
      store.write(entry).pipe(
        Effect.delay(Duration.seconds(20)),
        Effect.forever,
        Effect.ignore,
      ),
    )),
    self,
  ))

/** Stages the job directory and the wrapper; last, the launch token the wrapper must claim. */
const stage = (
  env: Env,
  { info, store }: Discovered,
  app: Application,
  tag: string,
  jobDir: string,
) =>
  Effect.gen(function* () {
    const { transport } = env
    yield* Staging.makeJobDirectory(
      transport,
      env.fileSystem,
      app,
      jobDir,
      Wrapper.PRIVATE_DIR,
      BACKEND,
    )
    yield* transport.writeFile(
      privatePath(jobDir, Wrapper.Files.wrapper),
      Wrapper.render({
        jobDir,
        app,
        timeCmd: info.timeCmd,
        doneMarker: `${store.dir}/${Bookkeeping.doneName(tag)}`,
        launch: env.config,
      }),
    )
    // last: the launch token, which the wrapper must claim to run the job
    const launchToken = privatePath(jobDir, Wrapper.Files.launch)
    yield* transport.mkdir(launchToken, { recursive: false })
    yield* transport.writeFile(`${launchToken}/tag`, tag)
  })

/**
 * Launches a staged job and, when the launch did not say it started, settles its token on the
 * host: the job (started), a refusal to release (never started), or `SubmitOutcomeUnknown`.
 */
const launchOrSettle = (
  env: Env,
  launch: (wrapperPath: string) => Effect.Effect<number | undefined, LrmsError, Auth>,
  job0: Job.Job,
  jobDir: string,
  gnuTime: boolean,
): Effect.Effect<Either.Either<Job.Job, LrmsError>, LrmsError, Auth> =>
  Effect.gen(function* () {
    const host = env.transport.host
    const wrapperPath = privatePath(jobDir, Wrapper.Files.wrapper)
    const submittedAt = yield* Clock.currentTimeMillis
    const launched = yield* Effect.exit(launch(wrapperPath))
    if (Exit.isSuccess(launched) && launched.value !== undefined) {
      return Either.right(submitted(env, job0, jobDir, launched.value, submittedAt, gnuTime))
    }
    // The launch command may have run, in full or in part: ask the host which.
    const failure = Exit.isFailure(launched)
      ? Option.getOrUndefined(Cause.failureOption(launched.cause))
      : undefined
    const why = Exit.isSuccess(launched)
      ? `the launcher printed no pid for ${wrapperPath}`
      : failure !== undefined
      ? `launching ${wrapperPath} failed (${failure.message})`
      : `launching ${wrapperPath} was interrupted`
    const state = yield* Effect.either(retrying(settleLaunch(env, job0.id, jobDir, CLAIM_GRACE)))
    if (Either.isLeft(state)) {
      return yield* unknown(
        env,
        "submitJob",
        job0.id,
        jobDir,
        `${why}, and ${host} cannot be asked whether it started (${state.left.message})`,
      )
    }
    switch (state.right._tag) {
      case "Started":
        return Either.right(submitted(
          env,
          job0,
          jobDir,
          state.right.pid,
          submittedAt,
          gnuTime,
          ` (found running after: ${why})`,
        ))
      case "Refused":
        return Either.left(
          new LrmsError({
            reason: failure !== undefined &&
                (failure.reason === "ConnectionLost" || failure.reason === "Timeout")
              ? failure.reason
              : "SubmitRejected",
            backend: BACKEND,
            operation: "submitJob",
            description: `${why}; the wrapper had not started, and now cannot (its launch ` +
              `token is refused on ${host}): nothing was submitted; retry`,
            recoverable: true,
            ...(failure !== undefined ? { cause: failure } : {}),
          }),
        )
      case "Gone":
        return yield* unknown(
          env,
          "submitJob",
          job0.id,
          jobDir,
          `${why}, and its directory is gone from ${host}`,
        )
    }
  })

/** @internal `submitJob`, with its batchers (reservations, launches) in the layer's scope. */
export const make = (
  env: Env,
): Effect.Effect<
  (app: Application, options?: SubmitOptions) => Effect.Effect<Job.Job, LrmsError, Auth>,
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const { transport } = env
    const reserve = yield* Reserve.make(env)
    /** Starts every wrapper launched in the same moment with one command. */
    const launch = yield* Batcher.make<string, number | undefined, LrmsError>({
      name: "Shellcmd.launch",
      window: Duration.millis(2),
      maxBatch: 200,
      missing: undefined,
      run: (paths) =>
        transport.exec(Wrapper.launchArgv(paths)).pipe(
          Metrics.countCommand(BACKEND, "launch"),
          Effect.map((r) => {
            const pids = Wrapper.parseLaunch(r.stdout)
            return new Map(pids.map((pid, i) => [paths[i]!, pid]))
          }),
        ),
    })
    return (app, options) =>
      Effect.gen(function* () {
        const discovered = yield* env.discover
        const { info, store } = discovered
        const job0 = Job.make({
          resourceName: env.configured.name,
          backend: BACKEND,
          application: app,
          ...(options?.id !== undefined ? { id: options.id } : {}),
        })
        const jobDir = `${discovered.spool}/job.${job0.id}`
        const entry = yield* Effect.flatten(reserve({ app, jobId: job0.id, jobDir }))
        // Only for a job that provably never runs: before its launch, or once its launch token
        // is refused. Nothing else removes the directory or the reservation of a submission.
        // Each step through the transport's reconnects: a cleanup lost to the same fault that
        // stopped the submission would leave the reservation held until garbage collection.
        // Succeeds with whether both went; a refusal that leaves them behind says so and carries
        // its submission, so that `reconcile` (or garbage collection, after 90 s) releases them.
        const cleanup = Effect.all([
          retrying(transport.remove(jobDir, { recursive: true })),
          retrying(store.remove(entry)),
        ], { mode: "either" }).pipe(Effect.map((results) => results.every(Either.isRight)))
        const refusedAfter = (released: boolean) => (e: LrmsError) =>
          released ? e : Reserve.leftBehind(env, e, job0.id, jobDir)
        const fresh = keepingFresh(store, entry)
        yield* fresh(stage(env, discovered, app, job0.id, jobDir)).pipe(
          // the launch was not attempted: nothing can run
          Effect.catchAll((e) =>
            Effect.flatMap(cleanup, (released) => Effect.fail(refusedAfter(released)(e)))
          ),
          Effect.onInterrupt(() => cleanup),
          Effect.tapDefect(() => cleanup),
        )
        // Once the launch may have reached the host, the job must not be forgotten: launch,
        // and settle a failed launch, without interruption.
        const outcome = yield* Effect.uninterruptible(
          fresh(launchOrSettle(env, launch, job0, jobDir, info.timeCmd !== undefined)),
        )
        if (Either.isRight(outcome)) return outcome.right
        // provably not started, and the reservation no longer refreshed: release everything
        return yield* Effect.fail(refusedAfter(yield* cleanup)(outcome.left))
      })
  })
