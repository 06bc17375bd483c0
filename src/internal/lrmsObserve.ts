/**
 * How `Lrms.make` makes its operations observable: a span per operation (`Lrms.<operation>`,
 * with the resource and the job), and the job as an operation leaves it on that span, in the
 * debug log and in the metrics.
 *
 * @internal
 * @module
 */
import * as Effect from "effect/Effect"
import type * as Job from "../Job.ts"
import * as Metrics from "../Metrics.ts"
import type { Resource } from "../Resource.ts"
import * as RunState from "../RunState.ts"

/** A job's span attributes: its id and, once it has one, its scheduler's id. */
const jobAttributes = (job: Job.Job): Record<string, string> =>
  job.nativeId !== undefined && job.nativeId !== ""
    ? { "lrms.job.id": job.id, "lrms.job.native_id": job.nativeId }
    : { "lrms.job.id": job.id }

/** The instrumentation of one resource's operations. */
export interface Observe {
  /**
   * The span of an operation, `Lrms.<operation>`, with the resource and the job it is about (or
   * only the job's id, for a submission being reconciled).
   */
  readonly traced: (
    operation: string,
    about?: Job.Job | string,
  ) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The job as an operation leaves it: on its span, in the log, in the metrics. */
  readonly after: (before: Job.Job | undefined) => (job: Job.Job) => Effect.Effect<void>
}

/** The instrumentation of a resource's operations. */
export const observe = (resource: Resource): Observe => {
  const backend = resource.type
  return {
    traced: (operation, about) => (self) =>
      Effect.withSpan(self, `Lrms.${operation}`, {
        kind: "client",
        captureStackTrace: false,
        attributes: {
          "lrms.resource": resource.name,
          "lrms.backend": backend,
          ...(about === undefined
            ? {}
            : typeof about === "string"
            ? { "lrms.job.id": about }
            : jobAttributes(about)),
        },
      }),
    after: (before) => (job) =>
      Effect.gen(function* () {
        yield* Effect.annotateCurrentSpan({ ...jobAttributes(job), "lrms.job.state": job.state })
        if (before?.state === job.state) return
        yield* Effect.logDebug(`job ${job.id}: ${before?.state ?? "NEW"} → ${job.state}`).pipe(
          Effect.annotateLogs({ ...jobAttributes(job), "lrms.resource": resource.name }),
        )
        if (RunState.isDone(job.state) && !(before && RunState.isDone(before.state))) {
          yield* Metrics.countFinished(backend, job)
        }
      }),
  }
}
