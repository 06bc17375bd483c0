/**
 * `lrms status`, `lrms cancel` and `lrms free`: the commands about stored jobs' states. `status`
 * polls every job at once and attaches the submissions whose outcome was unknown.
 *
 * @module
 */
import { Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Resources from "../../backends/Resources.ts"
import * as Job from "../../src/Job.ts"
import * as JobStore from "../../src/JobStore.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as RunState from "../../src/RunState.ts"
import {
  type Env,
  header,
  jobsArg,
  line,
  loadJobs,
  oneLine,
  short,
  someJobsArg,
  withEnv,
} from "../env.ts"

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

/** A job as the resource has it now (a poll that fails is reported, the job kept as it was). */
const refresh = (
  resources: Resources.ResourcesShape,
  store: JobStore.JobStoreShape,
  job: Job.Job,
): Effect.Effect<Job.Job | undefined, never> =>
  job.state === "NEW" && job.remoteDir !== undefined
    ? reconcile(resources, store, job)
    : RunState.isDone(job.state) || job.state === "NEW"
    ? Effect.succeed(job)
    : resources.forJob(job, (l) => l.updateJobState(job)).pipe(
      Effect.tap(store.put),
      Effect.catchAll((e) => Effect.as(Console.error(`${short(job.id)}: ${e.message}`), job)),
    )

/** `lrms status [--json] [JOB...]` */
export const status = Command.make("status", {
  json: Options.boolean("json").pipe(Options.withDescription("print the jobs as JSON")),
  jobs: jobsArg,
}, ({ json, jobs: ids }) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const jobs = yield* loadJobs(ids)
    // polled all at once: each backend answers its jobs with one scheduler call
    const updated = (yield* Effect.forEach(jobs, (job) => refresh(resources, store, job), {
      concurrency: "unbounded",
    })).filter((j): j is Job.Job => j !== undefined)
    if (json) {
      yield* Console.log(JSON.stringify(
        updated.map((j) => Schema.encodeSync(Job.Job)(j)),
        null,
        2,
      ))
      return
    }
    yield* Console.log(header)
    for (const j of updated) yield* Console.log(line(j))
  })))

/** A command that does something to each job it names, in turn. */
const eachJob = (
  name: string,
  f: (job: Job.Job) => Effect.Effect<void, LrmsError, Env>,
) =>
  Command.make(
    name,
    { jobs: someJobsArg },
    ({ jobs: ids }) =>
      withEnv(Effect.gen(function* () {
        for (const job of yield* loadJobs(ids)) yield* f(job)
      })),
  )

/** `lrms cancel JOB...` */
export const cancel = eachJob("cancel", (job) =>
  Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const cancelled = yield* resources.forJob(job, (l) => l.cancelJob(job))
    yield* (yield* JobStore.JobStore).put(cancelled)
    yield* Console.log(line(cancelled))
  }))

/** `lrms free JOB...` */
export const free = eachJob("free", (job) =>
  Effect.gen(function* () {
    const resources = yield* Resources.Resources
    yield* resources.forJob(job, (l) => l.free(job))
    yield* (yield* JobStore.JobStore).remove(job.id)
    yield* Console.log(`${short(job.id)} freed`)
  }))
