/**
 * @internal A job's state: the stat command first; for a job that has left the queue (or that
 * the queue lists as finished), accounting; when accounting has nothing yet, the last state is
 * kept for the grace window (`accountingDelay`), which restarts whenever information comes back,
 * then the job is `UNKNOWN`. A scheduler that cannot be asked, while accounting does not have the
 * job's end, fails the call with a recoverable `CommandFailed`.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as Termination from "../../../src/Termination.ts"
import { readFileString } from "../../../src/Transport.ts"
import type { StatRecord } from "../Dialect.ts"
import * as Script from "../Script.ts"
import type { Calls } from "./calls.ts"
import { lastLine } from "./dialect.ts"
import { type Env, nativeIdOf, privatePath } from "./env.ts"

/** The last line the scheduler wrote to the job's error file (`... DUE TO TIME LIMIT`). */
const schedulerMessage = (env: Env, job: Job.Job) =>
  job.remoteDir === undefined
    ? Effect.succeed(undefined)
    : readFileString(env.transport, privatePath(job.remoteDir, Script.Files.schedulerError)).pipe(
      Effect.map((text) => lastLine(text.slice(-4096))),
      Effect.orElseSucceed(() => undefined),
    )

/** The job, ended as the scheduler says, with the scheduler's last message when it failed. */
const finished = (
  env: Env,
  job: Job.Job,
  native: string,
  termination: Termination.Termination,
  usage: Job.Usage | undefined,
) =>
  Effect.gen(function* () {
    const note = Termination.isSuccess(termination) ? undefined : yield* schedulerMessage(env, job)
    const done = Job.withBackendData(job, { graceSince: null, nativeState: native })
    return Job.transition(done, "TERMINATING", {
      termination,
      ...(usage !== undefined ? { usage } : {}),
      message: `${env.backend} says ${native}${note !== undefined ? `: ${note}` : ""}`,
    })
  })

/** The job in the state the queue lists it in (not finished): the grace window ends. */
const listed = (env: Env, job: Job.Job, record: StatRecord): Job.Job => {
  const { state, native, reason } = record
  const seen = job.backendData.graceSince === null || job.backendData.graceSince === undefined
    ? job
    : Job.withBackendData(job, { graceSince: null })
  const noted = seen.backendData.nativeState === native &&
      seen.backendData.nativeReason === (reason ?? null)
    ? seen
    : Job.withBackendData(seen, { nativeState: native, nativeReason: reason ?? null })
  return Job.transition(noted, state, {
    ...(state !== job.state
      ? { message: `${env.backend} says ${native}${reason ? ` (${reason})` : ""}` }
      : {}),
  })
}

/**
 * The job after the grace window's check: kept as it is within `accountingDelay`, then ended
 * with the final state the queue showed, or `UNKNOWN`.
 */
const graceWindow = (env: Env, job: Job.Job, id: string, queued: StatRecord | undefined) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const since = typeof job.backendData.graceSince === "number" ? job.backendData.graceSince : now
    const delay = env.config.accountingDelay
    if (now - since <= Duration.toMillis(delay)) {
      return since === job.backendData.graceSince
        ? job
        : Job.withBackendData(job, { graceSince: since })
    }
    if (queued?.termination !== undefined) {
      return yield* finished(env, job, queued.native, queued.termination, undefined)
    }
    return Job.transition(Job.withBackendData(job, { graceSince: since }), "UNKNOWN", {
      message: `${env.backend} has no information about job ${id}: it left the queue and ` +
        `accounting has no record of its end after ${Quantity.formatDuration(delay)}`,
    })
  })

/** @internal Updates a job's state from the stat command, accounting and the grace window. */
export const updateJobState = (env: Env, calls: Calls): LrmsShape["updateJobState"] => (job) =>
  Effect.gen(function* () {
    const id = yield* nativeIdOf(env, job, "updateJobState")
    const outcome = yield* calls.stat(id)
    if (outcome._tag === "Found" && outcome.record.state !== "TERMINATING") {
      return listed(env, job, outcome.record)
    }
    if (
      outcome._tag === "Found" && outcome.record.termination !== undefined &&
      outcome.record.usage !== undefined
    ) {
      const { native, termination, usage } = outcome.record
      return yield* finished(env, job, native, termination, usage)
    }
    const record = yield* calls.accounting(id)
    if (record !== undefined && record.state === "TERMINATING") {
      return yield* finished(
        env,
        job,
        record.native,
        record.termination ?? Termination.signalled(Termination.Signals.RemoteError),
        record.usage,
      )
    }
    if (outcome._tag === "Failed") {
      return yield* env.fail(
        "CommandFailed",
        "updateJobState",
        `cannot ask ${env.backend} about job ${id}: ${outcome.message}` +
          (record !== undefined ? ` (accounting says ${record.native})` : ""),
        { recoverable: true },
      )
    }
    // left the queue (or listed as finished) and accounting has nothing yet: grace window
    return yield* graceWindow(env, job, id, outcome._tag === "Found" ? outcome.record : undefined)
  })
