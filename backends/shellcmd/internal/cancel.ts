/**
 * @internal Cancelling a job (TERM, then KILL, to its whole process tree) and freeing it (its
 * directory and its bookkeeping record).
 *
 * @module
 */
import * as Effect from "effect/Effect"
import type { Auth } from "../../../src/Auth.ts"
import * as Job from "../../../src/Job.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import type { Env } from "./env.ts"
import { killTree } from "./kill.ts"
import { jobPid, wrapperStart } from "./poll.ts"

/** @internal `cancelJob`: ends the job's processes and releases its capacity. */
export const cancelJob = (env: Env, job: Job.Job): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { pid, jobDir } = yield* jobPid(job, "cancelJob")
    const startedAt = yield* wrapperStart(env, job, jobDir)
    const killed = yield* killTree(env, pid, startedAt)
    const { store } = yield* env.discover
    yield* store.markDone(job.id)
    return Job.log(
      job,
      killed > 0 ? `Sent TERM to ${killed} process(es)` : "Nothing was running",
    )
  })

/** @internal `free`: removes the job's directory and its bookkeeping record. */
export const free = (env: Env, job: Job.Job): Effect.Effect<void, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { store } = yield* env.discover
    if (job.remoteDir !== undefined) {
      yield* env.transport.remove(job.remoteDir, { recursive: true })
    }
    yield* store.remove({
      jobId: job.id,
      cores: job.application.requestedCores,
      memory: job.application.requestedMemory ?? 0,
    })
  })
