/**
 * @internal Cancelling a job (batched; a refusal of a job that already ended is logged, not an
 * error), freeing its directory, and the resource status from the dialect's commands.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import * as Resource from "../../../src/Resource.ts"
import type { Calls } from "./calls.ts"
import { lastLine } from "./dialect.ts"
import { type Env, nativeIdOf } from "./env.ts"

/** @internal Asks the scheduler to cancel the job; the job's history says what it answered. */
export const cancelJob = (env: Env, calls: Calls): LrmsShape["cancelJob"] => (job) =>
  Effect.gen(function* () {
    const { backend } = env
    const id = yield* nativeIdOf(env, job, "cancelJob")
    const reply = yield* calls.cancel(id)
    if (reply.exitCode === 127) {
      return yield* env.fail(
        "CommandFailed",
        "cancelJob",
        `cannot run the cancel command: ${reply.stderr.trim()}`,
        {
          command: env.dialect.cancel.argv([id])?.[0] ?? "cancel",
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

/** @internal Removes the job's directory. */
export const free = (env: Env): LrmsShape["free"] => (job) =>
  job.remoteDir === undefined
    ? Effect.void
    : env.transport.remove(job.remoteDir, { recursive: true })

/** @internal The resource status: the dialect's commands, run side by side, and its reading. */
export const getResourceStatus = (env: Env): LrmsShape["getResourceStatus"] =>
  Effect.gen(function* () {
    const { user } = yield* env.paths
    const replies = yield* Effect.forEach(env.dialect.status.argvs, (argv) => env.exec(argv), {
      concurrency: "unbounded",
    })
    const parsed = env.dialect.status.parse(replies, user)
    if (typeof parsed === "string") {
      return yield* env.fail("UnexpectedOutput", "getResourceStatus", parsed, {
        recoverable: true,
      })
    }
    return new Resource.ResourceStatus({
      ...parsed,
      updatedAt: new Date(yield* Clock.currentTimeMillis),
    })
  })
