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
import * as Launch from "./launcher.ts"
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

/** Where a job's processes meet a node: per node when the nodes are fixed, else per process. */
const perNode = (shape: Application.Shape) =>
  shape.processesPerNode !== undefined
    ? {
      fields: "processesPerNode, coresPerProcess",
      what: `${shape.processesPerNode} process(es) × ${shape.coresPerProcess} core(s) on a node`,
      gpuFields: "processesPerNode, gpusPerProcess",
      gpuWhat: `${shape.processesPerNode} process(es) × ${shape.gpusPerProcess} GPU(s) on a node`,
      count: shape.processesPerNode,
    }
    : {
      fields: "coresPerProcess",
      what: `${shape.coresPerProcess} core(s) for one process`,
      gpuFields: "gpusPerProcess",
      gpuWhat: `${shape.gpusPerProcess} GPU(s) for one process`,
      count: 1,
    }

/** The first node limit of the resource the shape exceeds, described, if any. */
const shapeProblem = (resource: Resource, shape: Application.Shape): string | undefined => {
  const { maxNodesPerJob, coresPerNode, gpusPerNode, name } = resource
  if (shape.nodes !== undefined && maxNodesPerJob !== undefined && shape.nodes > maxNodesPerJob) {
    return `nodes: ${shape.nodes} nodes requested, resource ${name} ` +
      (maxNodesPerJob > 1
        ? `allows at most ${maxNodesPerJob} per job`
        : resource.type === "shellcmd"
        ? "(shellcmd) runs each job on its one host, as plain processes"
        : "runs each job on one node")
  }
  const node = perNode(shape)
  const cores = node.count * shape.coresPerProcess
  if (coresPerNode !== undefined && cores > coresPerNode) {
    return `${node.fields}: ${node.what} make ${cores} cores, resource ${name} has ` +
      `${coresPerNode} per node`
  }
  const gpus = node.count * shape.gpusPerProcess
  if (gpusPerNode !== undefined && gpus > gpusPerNode) {
    return gpusPerNode === 0
      ? `gpusPerProcess: ${shape.gpusPerProcess} GPU(s) per process requested, resource ${name} ` +
        `has no GPUs`
      : `${node.gpuFields}: ${node.gpuWhat} make ${gpus} GPUs, resource ${name} has ` +
        `${gpusPerNode} per node`
  }
  if (Launch.resolve(shape, resource) === "srun" && resource.type !== "slurm") {
    return `launcher: srun starts processes only inside a SLURM allocation, and resource ` +
      `${name} is ${resource.type} (use ${resource.type === "shellcmd" ? "multiple" : "mpirun"})`
  }
  if (Launch.resolve(shape, resource) === "multiple" && (shape.nodes ?? 1) > 1) {
    return `launcher: resource ${name}'s default launcher, multiple, starts every copy on the ` +
      `first node; ${shape.nodes} nodes need srun or mpirun (set launcher)`
  }
  return undefined
}

/** The first limit of the resource the application exceeds, described, if any. */
const limitProblem = (resource: Resource, app: Application.Application): string | undefined => {
  const shape = shapeProblem(resource, Application.shape(app))
  if (shape !== undefined) return shape
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
