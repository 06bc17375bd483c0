/**
 * The checks `Lrms.make` runs before it calls a backend: the application against the resource's
 * limits and protocols, a chosen job id, whether a job belongs to the resource and has been
 * submitted, and a file name inside a job's directory.
 *
 * @internal
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Application from "../Application.ts"
import type * as Job from "../Job.ts"
import { LrmsError } from "../LrmsError.ts"
import * as Quantity from "../Quantity.ts"
import type { Resource } from "../Resource.ts"
import * as TransferUrl from "../TransferUrl.ts"

/** A failure of the shared checks. */
export const fail = (
  reason: LrmsError["reason"],
  backend: string,
  operation: string,
  description: string,
): Effect.Effect<never, LrmsError> =>
  Effect.fail(new LrmsError({ reason, backend, operation, description }))

/** The first limit of the resource the application exceeds, described, if any. */
const limitProblem = (resource: Resource, app: Application.Application): string | undefined => {
  if (app.requestedCores > resource.maxCoresPerJob) {
    return `requestedCores: ${app.requestedCores} cores requested, resource ${resource.name} ` +
      `allows at most ${resource.maxCoresPerJob} per job`
  }
  if (app.requestedMemory !== undefined) {
    const limit = resource.maxMemoryPerCore * app.requestedCores
    if (app.requestedMemory > limit) {
      return `requestedMemory: ${Quantity.formatMemoryHuman(app.requestedMemory)} requested, ` +
        `resource ${resource.name} allows at most ` +
        `${Quantity.formatMemoryHuman(Quantity.memory(limit))} for ${app.requestedCores} core(s)`
    }
  }
  if (
    app.requestedWalltime !== undefined &&
    Duration.greaterThan(app.requestedWalltime, resource.maxWalltime)
  ) {
    return `requestedWalltime: ${Quantity.formatDuration(app.requestedWalltime)} requested, ` +
      `resource ${resource.name} allows at most ${Quantity.formatDuration(resource.maxWalltime)}`
  }
  if (
    app.requestedArchitecture !== undefined &&
    !resource.architecture.includes(app.requestedArchitecture)
  ) {
    return `requestedArchitecture: ${app.requestedArchitecture} requested, resource ` +
      `${resource.name} runs ${resource.architecture.join(", ")}`
  }
  return undefined
}

/** See `Lrms.checkApplication`. */
export const checkApplication = (
  resource: Resource,
  protocols: ReadonlyArray<string>,
  app: Application.Application,
): Effect.Effect<void, LrmsError> => {
  const backend = resource.type
  if (!resource.enabled) {
    return fail("SubmitRejected", backend, "submitJob", `resource ${resource.name} is disabled`)
  }
  for (const { field, url } of Application.dataUrls(app)) {
    const scheme = TransferUrl.scheme(url)
    if (!protocols.includes(scheme)) {
      return fail(
        "UnsupportedProtocol",
        backend,
        "submitJob",
        `${field}: ${TransferUrl.unsupportedMessage(scheme, protocols)}`,
      )
    }
  }
  const problem = limitProblem(resource, app)
  return problem === undefined ? Effect.void : fail("SubmitRejected", backend, "submitJob", problem)
}

/** The checks of one resource's operations. */
export interface Preconditions {
  /** A job id a caller chose is letters, digits, `.`, `_` and `-`. */
  readonly validId: (id: string | undefined) => Effect.Effect<void, LrmsError>
  /** The job belongs to this resource. */
  readonly own: (job: Job.Job, operation: string) => Effect.Effect<void, LrmsError>
  /** The job has been submitted. */
  readonly notNew: (job: Job.Job, operation: string) => Effect.Effect<void, LrmsError>
  /** A relative file name inside the job's directory, as a path there (for `peek`). */
  readonly jobPath: (job: Job.Job, name: string) => Effect.Effect<string, LrmsError>
}

/** The preconditions of a resource's operations. */
export const preconditions = (resource: Resource): Preconditions => {
  const backend = resource.type
  return {
    validId: (id) =>
      id !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id)
        ? fail(
          "InvalidArgument",
          backend,
          "submitJob",
          `id: ${JSON.stringify(id)} is not letters, digits, '.', '_' and '-'`,
        )
        : Effect.void,
    own: (job, operation) =>
      job.resourceName === resource.name ? Effect.void : fail(
        "InvalidArgument",
        backend,
        operation,
        `job ${job.id} belongs to resource ${job.resourceName}, not ${resource.name}`,
      ),
    notNew: (job, operation) =>
      job.state === "NEW"
        ? fail("InvalidState", backend, operation, `job ${job.id} has not been submitted`)
        : Effect.void,
    jobPath: (job, name) =>
      Effect.suspend(() => {
        const problem = Application.relativePathProblem(name)
        if (problem !== undefined) return fail("InvalidArgument", backend, "peek", problem)
        if (job.remoteDir === undefined) {
          return fail("InvalidState", backend, "peek", `job ${job.id} has no remote directory`)
        }
        return Effect.succeed(`${job.remoteDir}/${Application.normalizeRelative(name)}`)
      }),
  }
}
