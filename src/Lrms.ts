/**
 * The `Lrms` service: one interface to every place a batch job can run.
 *
 * A backend (shellcmd, SLURM, ...) implements the primitive operations and {@linkcode make} fills
 * in what is shared: `validateData`, the checks every `submitJob` makes (enabled resource,
 * supported data URLs, cores, memory, walltime and architecture within the resource's limits),
 * the state preconditions of each operation, `getResults` and `peek` over the backend's transport,
 * and the `Auth` guard on every operation that reaches the resource.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Application, Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* Application.make({ arguments: ["echo", "hello"], stdout: "out.txt" })
 *   const job = yield* Lrms.submitJob(app)
 *   const done = yield* Lrms.awaitTermination(job)
 *   yield* Lrms.free(done)
 *   return done.termination?.exitCode
 * })
 *
 * const local = Shellcmd.layer({
 *   name: "doc-example",
 *   architecture: "x86_64",
 *   maxCores: 2,
 *   maxCoresPerJob: 2,
 *   maxMemoryPerCore: "1 GiB",
 *   maxWalltime: "1 hour",
 *   spooldir: "/tmp/effect-lrms-doc/spool",
 *   resourceDir: "/tmp/effect-lrms-doc/bookkeeping",
 * })
 * const code = await Effect.runPromise(
 *   program.pipe(
 *     Effect.provide(local),
 *     Effect.provide(LocalTransport.layer),
 *     Effect.provide(Auth.none),
 *     Effect.provide(NodeContext.layer),
 *   ),
 * )
 * deepStrictEqual(code, 0)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Application from "./Application.ts"
import { type Auth, authenticated } from "./Auth.ts"
import * as Job from "./Job.ts"
import type { LrmsError } from "./LrmsError.ts"
import * as Metrics from "./Metrics.ts"
import type { Resource, ResourceStatus } from "./Resource.ts"
import * as RunState from "./RunState.ts"
import * as Termination from "./Termination.ts"
import * as Transfer from "./Transfer.ts"
import * as TransferUrl from "./TransferUrl.ts"
import type { TransportShape } from "./Transport.ts"
import * as Checks from "./internal/lrmsChecks.ts"
import * as Observe from "./internal/lrmsObserve.ts"
import * as Poll from "./internal/pollJob.ts"

// =============================================================================
// Service definition
// =============================================================================

/**
 * The operations every backend offers. Those that reach the resource need `Auth`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LrmsShape {
  /** The resource's static attributes. */
  readonly resource: Resource
  /** The transfer schemes the backend accepts for inputs and outputs (`["file"]`). */
  readonly protocols: ReadonlyArray<string>
  /**
   * Stages the inputs and starts or queues the job; returns the job as `SUBMITTED`.
   *
   * A submission is never left half-known: when a failure comes after the submit command may
   * have reached the resource, the backend asks the resource for the job's tag. It returns the
   * job when it is there, fails recoverably when it provably is not, and fails with
   * `SubmitOutcomeUnknown` (not recoverable, carrying the `submission`) when the resource
   * cannot be asked; {@linkcode LrmsShape.reconcile} attaches such a job later.
   */
  readonly submitJob: (
    app: Application.Application,
    options?: SubmitOptions,
  ) => Effect.Effect<Job.Job, LrmsError, Auth>
  /**
   * Submits many applications as one batch: every submission starts in the same moment, so a
   * batch scheduler packs those of one shape into job arrays. Each application gets its own job
   * or its own error, in order; one refusal does not stop the others.
   */
  readonly submitJobs: (
    apps: ReadonlyArray<Application.Application>,
  ) => Effect.Effect<ReadonlyArray<Either.Either<Job.Job, LrmsError>>, never, Auth>
  /**
   * Attaches a job whose submission ended with `SubmitOutcomeUnknown`: asks the resource for the
   * submission's tag and returns the job (`SUBMITTED` or later) when it is there. Fails with
   * `NotFound` when it provably never reached the resource (its directory is then removed), and
   * with `SubmitOutcomeUnknown` again while the resource cannot be asked.
   */
  readonly reconcile: (
    submission: Reconcilable,
    app: Application.Application,
  ) => Effect.Effect<Job.Job, LrmsError, Auth>
  /** Asks the resource how the job is doing; returns the job, updated. */
  readonly updateJobState: (job: Job.Job) => Effect.Effect<Job.Job, LrmsError, Auth>
  /** Kills a queued or running job; returns it `TERMINATED` with the `Cancelled` signal. */
  readonly cancelJob: (job: Job.Job) => Effect.Effect<Job.Job, LrmsError, Auth>
  /** Copies the job's outputs into an existing local directory. */
  readonly getResults: (
    job: Job.Job,
    downloadDir: string,
    options?: Transfer.TransferOptions,
  ) => Effect.Effect<Transfer.TransferReport, LrmsError, Auth>
  /** Copies a byte range of a file in the job directory; returns the bytes written. */
  readonly peek: (
    job: Job.Job,
    remoteFile: string,
    local: Transfer.PeekTarget,
    options?: Transfer.PeekOptions,
  ) => Effect.Effect<number, LrmsError, Auth>
  /** Removes the job's remote directory and bookkeeping (finished jobs only). */
  readonly free: (job: Job.Job) => Effect.Effect<void, LrmsError, Auth>
  /** Reads how busy the resource is now. */
  readonly getResourceStatus: Effect.Effect<ResourceStatus, LrmsError, Auth>
  /** Tells whether every URL uses a scheme the backend supports. */
  readonly validateData: (urls: ReadonlyArray<string>) => boolean
  /** Releases what the backend holds; also runs when the layer's scope closes. */
  readonly close: Effect.Effect<void>
}

/**
 * What {@linkcode LrmsShape.reconcile} needs: the submission's tag (the job id) and, when known,
 * its job directory (by default the backend's own for that tag).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reconcilable {
  /** The job's id, also its tag at the resource. */
  readonly tag: string
  /** The job directory; the backend's default for the tag when absent. */
  readonly jobDir?: string | undefined
}

/**
 * Options of {@linkcode LrmsShape.submitJob}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitOptions {
  /**
   * The new job's id, which is also its tag at the resource (default: a random UUID). A caller
   * that records a submission before making it (a job store) chooses it, so that whatever
   * happens to the caller, `reconcile({ tag: id }, app)` can find the job later. Letters,
   * digits, `.`, `_` and `-` only.
   */
  readonly id?: string
}

/**
 * The resource a program submits jobs to.
 *
 * @since 0.1.0
 * @category tags
 */
export class Lrms extends Context.Tag("effect-lrms/Lrms")<Lrms, LrmsShape>() {}

/**
 * What a backend implements; {@linkcode make} derives the rest. `make` runs the shared checks
 * and the `Auth` guard before `submitJob`, and calls `updateJobState` and `cancelJob` only for
 * jobs that are submitted and not yet done; `make` marks a cancelled job TERMINATED.
 *
 * @since 0.1.0
 * @category models
 */
export interface Implementation extends
  Pick<
    LrmsShape,
    | "resource"
    | "protocols"
    | "submitJob"
    | "updateJobState"
    | "cancelJob"
    | "free"
    | "getResourceStatus"
  > {
  /** The transport and local file system `getResults` and `peek` use. */
  readonly files: {
    readonly transport: TransportShape
    readonly fileSystem: FileSystem.FileSystem
    /** Entries of the job directory that `*` outputs leave out (the backend's own files). */
    readonly exclude?: ReadonlyArray<string>
  }
  /** Releases what the backend holds. */
  readonly close?: Effect.Effect<void>
  /** See {@linkcode LrmsShape.reconcile}; without it, `reconcile` fails with `InvalidState`. */
  readonly reconcile?: LrmsShape["reconcile"]
  /**
   * Runs before `submitJob`'s shared checks: a backend that learns its limits from the resource
   * (shellcmd's `override`) reads them here, so the checks see them.
   */
  readonly prepare?: Effect.Effect<void, LrmsError, Auth>
}

/**
 * Checks an application against a resource's limits and protocols; fails with the first
 * problem, naming the field (pure apart from the failure).
 *
 * @since 0.1.0
 * @category combinators
 */
export const checkApplication: (
  resource: Resource,
  protocols: ReadonlyArray<string>,
  app: Application.Application,
) => Effect.Effect<void, LrmsError> = Checks.checkApplication

/**
 * Builds the full service from a backend's primitive operations, deriving the shared ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (impl: Implementation): LrmsShape => {
  const backend = impl.resource.type
  const guard = (operation: string) => authenticated(backend, operation)
  const { validId, own, notNew, jobPath } = Checks.preconditions(impl.resource)
  const { traced, after } = Observe.observe(impl.resource)
  const { transport, fileSystem, exclude = [] } = impl.files
  /** The checks every operation on an existing job starts with. */
  const submitted = (job: Job.Job, operation: string) =>
    Effect.all([own(job, operation), notNew(job, operation)])
  const submitJob: LrmsShape["submitJob"] = (app, options) =>
    (impl.prepare ?? Effect.void).pipe(
      Effect.zipRight(validId(options?.id)),
      Effect.zipRight(Effect.suspend(() => checkApplication(impl.resource, impl.protocols, app))),
      Effect.zipRight(impl.submitJob(app, options)),
      guard("submitJob"),
      Effect.tapBoth({
        onFailure: (e) => Metrics.countSubmission(backend, e),
        onSuccess: (job) =>
          Effect.zipRight(
            Metrics.countSubmission(backend, undefined, job),
            after(undefined)(job),
          ),
      }),
      traced("submitJob"),
    )
  return {
    resource: impl.resource,
    protocols: impl.protocols,
    validateData: TransferUrl.validate(impl.protocols),
    submitJob,
    submitJobs: (apps) =>
      Effect.annotateCurrentSpan("lrms.batch.size", apps.length).pipe(
        Effect.zipRight(
          Effect.forEach(apps, (app) => Effect.either(submitJob(app)), {
            concurrency: "unbounded",
          }),
        ),
        traced("submitJobs"),
      ),
    updateJobState: (job) =>
      submitted(job, "updateJobState").pipe(
        Effect.zipRight(
          RunState.isDone(job.state) ? Effect.succeed(job) : impl.updateJobState(job),
        ),
        guard("updateJobState"),
        Effect.tap(after(job)),
        traced("updateJobState", job),
      ),
    cancelJob: (job) =>
      submitted(job, "cancelJob").pipe(
        Effect.zipRight(
          RunState.isDone(job.state) ? Effect.succeed(job) : impl.cancelJob(job).pipe(
            Effect.map((j) =>
              Job.transition(j, "TERMINATED", {
                termination: Termination.signalled(Termination.Signals.Cancelled),
                message: "Cancelled",
              })
            ),
          ),
        ),
        guard("cancelJob"),
        Effect.tap(after(job)),
        traced("cancelJob", job),
      ),
    getResults: (job, downloadDir, options) =>
      submitted(job, "getResults").pipe(
        Effect.zipRight(
          job.state === "SUBMITTED"
            ? Checks.fail(
              "InvalidState",
              backend,
              "getResults",
              `job ${job.id} has not started; no output is available yet`,
            )
            : Transfer.getResults(transport, fileSystem, job, downloadDir, {
              ...options,
              exclude,
            }),
        ),
        guard("getResults"),
        traced("getResults", job),
      ),
    peek: (job, remoteFile, local, options) =>
      submitted(job, "peek").pipe(
        Effect.zipRight(jobPath(job, remoteFile)),
        Effect.flatMap((path) => Transfer.peek(transport, fileSystem, path, local, options)),
        guard("peek"),
        traced("peek", job),
      ),
    free: (job) =>
      own(job, "free").pipe(
        Effect.zipRight(
          RunState.isDone(job.state) ? impl.free(job) : Checks.fail(
            "InvalidState",
            backend,
            "free",
            `job ${job.id} is ${job.state}; only TERMINATING or TERMINATED jobs can be freed`,
          ),
        ),
        guard("free"),
        traced("free", job),
      ),
    getResourceStatus: impl.getResourceStatus.pipe(
      guard("getResourceStatus"),
      traced("getResourceStatus"),
    ),
    reconcile: (submission, app) =>
      (impl.reconcile !== undefined ? impl.reconcile(submission, app) : Checks.fail(
        "InvalidState",
        backend,
        "reconcile",
        `${backend} cannot reconcile submission ${submission.tag}`,
      )).pipe(
        guard("reconcile"),
        Effect.tap(after(undefined)),
        traced("reconcile", submission.tag),
      ),
    close: impl.close ?? Effect.void,
  }
}

// =============================================================================
// Accessors
// =============================================================================

/**
 * Submits an application to the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitJob = (
  app: Application.Application,
): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.submitJob(app))

/**
 * Submits many applications to the `Lrms` in context as one batch (see
 * {@linkcode LrmsShape.submitJobs}): each gets its own job or its own error, in order.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitJobs = (
  apps: ReadonlyArray<Application.Application>,
): Effect.Effect<ReadonlyArray<Either.Either<Job.Job, LrmsError>>, never, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.submitJobs(apps))

/**
 * Submits an application to the `Lrms` in context, with options (the job's id chosen by the
 * caller). A separate accessor, so that `Effect.forEach(apps, Lrms.submitJob)` stays right.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitJobWith = (
  app: Application.Application,
  options: SubmitOptions,
): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.submitJob(app, options))

/**
 * Updates a job's state from the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const updateJobState = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.updateJobState(job))

/**
 * Cancels a job on the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cancelJob = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.cancelJob(job))

/**
 * Copies a job's outputs with the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getResults = (
  job: Job.Job,
  downloadDir: string,
  options?: Transfer.TransferOptions,
): Effect.Effect<Transfer.TransferReport, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.getResults(job, downloadDir, options))

/**
 * Copies a byte range of a job's file with the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const peek = (
  job: Job.Job,
  remoteFile: string,
  local: Transfer.PeekTarget,
  options?: Transfer.PeekOptions,
): Effect.Effect<number, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.peek(job, remoteFile, local, options))

/**
 * Frees a finished job's remote files with the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const free = (job: Job.Job): Effect.Effect<void, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.free(job))

/**
 * Attaches a job whose submission's outcome was unknown, with the `Lrms` in context (see
 * {@linkcode LrmsShape.reconcile}).
 *
 * @since 0.1.0
 * @category accessors
 */
export const reconcile = (
  submission: Reconcilable,
  app: Application.Application,
): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => lrms.reconcile(submission, app))

/**
 * Reads the status of the `Lrms` in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getResourceStatus: Effect.Effect<ResourceStatus, LrmsError, Lrms | Auth> = Effect
  .flatMap(Lrms, (lrms) => lrms.getResourceStatus)

/**
 * How {@linkcode awaitTermination} polls.
 *
 * @since 0.1.0
 * @category models
 */
export interface AwaitOptions {
  /** The first wait between two polls (default 50 ms). */
  readonly initial?: Duration.DurationInput
  /** The longest wait between two polls (default 5 s); waits grow by half each time. */
  readonly max?: Duration.DurationInput
  /** Called with the job after every poll whose state changed. */
  readonly onChange?: (job: Job.Job) => Effect.Effect<void>
  /**
   * How many polls in a row may fail with a recoverable error (a dropped connection, a
   * scheduler restarting) before the wait fails with the last one (default 10); the job is
   * polled again after the usual wait.
   */
  readonly recoverableFailures?: number
}

/**
 * Polls a job until it is `TERMINATING` or `TERMINATED`, waiting longer each time up to a cap.
 * `UNKNOWN` keeps being polled, and so does a job whose poll failed with a recoverable error
 * (up to `recoverableFailures` in a row). Interrupting the fiber stops the polling, not the job.
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitTermination = (
  job: Job.Job,
  options: AwaitOptions = {},
): Effect.Effect<Job.Job, LrmsError, Lrms | Auth> =>
  Effect.flatMap(Lrms, (lrms) => Poll.pollUntilDone(lrms.updateJobState, job, options))

/**
 * Fetches a finished job's outputs and marks it `TERMINATED` (GC3Pie's `fetch_output`): the
 * job comes back with the transfer report.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retrieve = (
  job: Job.Job,
  downloadDir: string,
  options?: Transfer.TransferOptions,
): Effect.Effect<
  { readonly job: Job.Job; readonly report: Transfer.TransferReport },
  LrmsError,
  Lrms | Auth
> =>
  Effect.map(getResults(job, downloadDir, options), (report) => ({
    job: job.state === "TERMINATING" ? Job.transition(job, "TERMINATED") : job,
    report,
  }))
