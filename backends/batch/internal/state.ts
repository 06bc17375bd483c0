/**
 * @internal A job's state, from its exit files first and the scheduler second.
 *
 * 1. The markers of every job polled in the same moment are read in one transport call. An exit
 *    record whose payload exited ends the job with that exit code, and the record's usage (or
 *    accounting's, when it is cheap and has the job's end within `accountingDelay`). A start
 *    marker moves a waiting job to `RUNNING`.
 * 2. Jobs without a final record ask the queue watch (one stat command per interval for every
 *    caller of the resource and credential). A job the answer did not ask about, or that was
 *    submitted or seen starting after it was taken, keeps its state.
 * 3. A job that left the queue (or that the queue lists as finished) asks accounting, once per
 *    answer; when accounting has nothing, the last state is kept for the grace window
 *    (`accountingDelay`), which restarts whenever the queue lists the job again. After the
 *    window the job ends: as the queue's final state says, else as its exit record says (a
 *    payload killed by a signal), else with the `RemoteError` pseudo-signal and the reason.
 *
 * A scheduler that cannot be asked, while accounting does not have the job's end, fails the call
 * with a recoverable `CommandFailed`.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as RunState from "../../../src/RunState.ts"
import * as Termination from "../../../src/Termination.ts"
import { readFileString } from "../../../src/Transport.ts"
import type { StatRecord } from "../Dialect.ts"
import * as Script from "../Script.ts"
import type { Calls } from "./calls.ts"
import { lastLine } from "./dialect.ts"
import { type Env, nativeIdOf, privatePath } from "./env.ts"
import * as ExitRecord from "./exitRecord.ts"
import type { Observed } from "./queueWatch.ts"

/** The last line the scheduler wrote to the job's error file (`... DUE TO TIME LIMIT`). */
const schedulerMessage = (env: Env, job: Job.Job) =>
  job.remoteDir === undefined
    ? Effect.succeed(undefined)
    : readFileString(env.transport, privatePath(job.remoteDir, Script.Files.schedulerError)).pipe(
      Effect.map((text) => lastLine(text.slice(-4096))),
      Effect.orElseSucceed(() => undefined),
    )

/** The job, ended as `said` says, with the scheduler's last message when it failed. */
const ended = (
  env: Env,
  job: Job.Job,
  native: string | null,
  termination: Termination.Termination,
  usage: Job.Usage | undefined,
  said: string,
) =>
  Effect.gen(function* () {
    const note = Termination.isSuccess(termination) ? undefined : yield* schedulerMessage(env, job)
    const done = Job.withBackendData(job, { graceSince: null, nativeState: native })
    return Job.transition(done, "TERMINATING", {
      termination,
      ...(usage !== undefined ? { usage } : {}),
      message: `${said}${note !== undefined ? `: ${note}` : ""}`,
    })
  })

/** The job, ended as the scheduler says. */
const finished = (
  env: Env,
  job: Job.Job,
  native: string,
  termination: Termination.Termination,
  usage: Job.Usage | undefined,
) => ended(env, job, native, termination, usage, `${env.backend} says ${native}`)

/** The time of a job's last news that an older answer of the queue cannot overrule. */
const notBefore = (job: Job.Job): number => {
  const { submittedAt, startSeenAt } = job.backendData
  return Math.max(
    typeof submittedAt === "number" ? submittedAt : 0,
    typeof startSeenAt === "number" ? startSeenAt : 0,
  )
}

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
 * A waiting job whose start marker is new (not the one of a run already seen) is `RUNNING`, and
 * answers of the queue taken before now no longer move it back; a requeued job's old marker
 * does not start it again.
 */
const startedByMarker = (
  job: Job.Job,
  marker: ExitRecord.StartMarker | undefined,
  now: number,
): Job.Job => {
  if (marker === undefined || marker.line === job.backendData.startMarker) return job
  if (job.state !== "SUBMITTED") return Job.withBackendData(job, { startMarker: marker.line })
  return Job.transition(
    Job.withBackendData(job, { startMarker: marker.line, startSeenAt: now }),
    "RUNNING",
    { message: `Started on ${marker.host || "its node"} (its start marker)` },
  )
}

/** How often accounting is asked for the usage of one job whose exit record is there: 2 s. */
const USAGE_EVERY = 2000

/**
 * A job whose exit record says its payload exited: that exit code, with accounting's usage when
 * accounting has the job's end (asked only when cheap, at most every 2 s), waiting for it within
 * `accountingDelay` while accounting answers without it; else the record's usage.
 */
const endedByRecord = (
  env: Env,
  calls: Calls,
  job: Job.Job,
  id: string,
  markers: ExitRecord.Markers & { readonly exit: ExitRecord.ExitRecord },
) =>
  Effect.gen(function* () {
    const { exit, started } = markers
    const own = ExitRecord.usageOf(env.backend, exit, job.application.requestedCores, started)
    const said = `its exit record says it ${Termination.describe(exit.termination)}`
    const now = yield* Clock.currentTimeMillis
    const { exitSeenAt, usageAskedAt } = job.backendData
    const since = typeof exitSeenAt === "number" ? exitSeenAt : now
    const within = now - since <= Duration.toMillis(env.config.accountingDelay)
    // accounting at most every USAGE_EVERY for one job, and not past the window
    const due = typeof usageAskedAt !== "number" || now - usageAskedAt >= USAGE_EVERY
    const accounted = within && due ? yield* calls.usage(id) : undefined
    if (accounted?.record?.state === "TERMINATING") {
      const usage = mergeUsage(accounted.record.usage, own)
      return yield* ended(env, job, accounted.record.native, exit.termination, usage, said)
    }
    if (within && (accounted !== undefined || !due)) {
      const seen = Job.withBackendData(job, {
        exitSeenAt: since,
        usageAskedAt: due ? now : (usageAskedAt as number),
      })
      return seen.state === "SUBMITTED" ? Job.transition(seen, "RUNNING") : seen
    }
    return yield* ended(env, job, null, exit.termination, own, said)
  })

/** Accounting's usage, with what the exit record knows filled in where accounting is silent. */
const mergeUsage = (scheduler: Job.Usage, own: Job.Usage): Job.Usage =>
  new Job.Usage({
    ...own,
    ...Object.fromEntries(Object.entries(scheduler).filter(([, v]) => v !== undefined)),
    extra: { ...own.extra, ...scheduler.extra },
  })

/**
 * The job after the grace window's check: kept as it is within `accountingDelay`, then ended
 * with the final state the queue showed, or how its exit record says the payload died, or the
 * `RemoteError` pseudo-signal with the reason.
 */
const graceWindow = (
  env: Env,
  job: Job.Job,
  id: string,
  queued: StatRecord | undefined,
  markers: ExitRecord.Markers,
) =>
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
    const left = `job ${id} left the ${env.backend} queue and accounting has no record of ` +
      `its end after ${Quantity.formatDuration(delay)}`
    const { exit, started } = markers
    if (exit !== undefined) {
      const usage = ExitRecord.usageOf(env.backend, exit, job.application.requestedCores, started)
      const said = `${left}; its exit record says it ${Termination.describe(exit.termination)}`
      return yield* ended(env, job, null, exit.termination, usage, said)
    }
    return yield* ended(
      env,
      job,
      null,
      Termination.signalled(Termination.Signals.RemoteError),
      undefined,
      `${left}, and the job left no exit record`,
    )
  })

/** The job from the queue's word, accounting and the grace window. */
const fromScheduler = (
  env: Env,
  calls: Calls,
  job: Job.Job,
  id: string,
  seen: Observed,
  markers: ExitRecord.Markers,
) =>
  Effect.gen(function* () {
    // a failure already told to the poll that asked: the job is unchanged until the next ask
    if (seen._tag === "NotYetKnown" || (seen._tag === "Failed" && !seen.fresh)) return job
    if (seen._tag === "Found" && seen.record.state !== "TERMINATING") {
      return listed(env, job, seen.record)
    }
    if (
      seen._tag === "Found" && seen.record.termination !== undefined &&
      seen.record.usage !== undefined
    ) {
      const { native, termination, usage } = seen.record
      return yield* finished(env, job, native, termination, usage)
    }
    // accounting once per answer of the queue (and once more when the window has passed)
    const now = yield* Clock.currentTimeMillis
    const { graceSince, judgedAt } = job.backendData
    const expired = typeof graceSince === "number" &&
      now - graceSince > Duration.toMillis(env.config.accountingDelay)
    const accounted = seen.takenAt !== judgedAt || expired
      ? (yield* calls.accounting(id)).record
      : undefined
    if (accounted !== undefined && accounted.state === "TERMINATING") {
      return yield* finished(
        env,
        job,
        accounted.native,
        accounted.termination ?? Termination.signalled(Termination.Signals.RemoteError),
        accounted.usage,
      )
    }
    if (seen._tag === "Failed") {
      return yield* env.fail(
        "CommandFailed",
        "updateJobState",
        `cannot ask ${env.backend} about job ${id}: ${seen.message}` +
          (accounted !== undefined ? ` (accounting says ${accounted.native})` : ""),
        { recoverable: true },
      )
    }
    // left the queue (or listed as finished) and accounting has nothing yet: grace window
    const judged = judgedAt === seen.takenAt
      ? job
      : Job.withBackendData(job, { judgedAt: seen.takenAt })
    const queued = seen._tag === "Found" ? seen.record : undefined
    return yield* graceWindow(env, judged, id, queued, markers)
  })

/**
 * A final exit record of a job the scheduler may requeue (`requeue: true`): it ends the job only
 * once an answer of the queue taken after the record was seen no longer lists the job waiting or
 * running. A run cut by a requeue may have finished its payload in the moment before the
 * scheduler killed it (Grid Engine kills the cut run only when its execd next hears from
 * qmaster), and its record must not end a job that runs again.
 */
const confirmedRecord = (
  env: Env,
  calls: Calls,
  job: Job.Job,
  id: string,
  markers: ExitRecord.Markers & { readonly exit: ExitRecord.ExitRecord },
) =>
  Effect.gen(function* () {
    const { exitSeenAt } = job.backendData
    const seenAt = typeof exitSeenAt === "number" ? exitSeenAt : yield* Clock.currentTimeMillis
    const seen = yield* calls.stat(id, seenAt)
    if (seen._tag === "NotYetKnown") return Job.withBackendData(job, { exitSeenAt: seenAt })
    if (seen._tag === "Found" && seen.record.state !== "TERMINATING") {
      // still queued or running after its record: requeued (or the scheduler still ending it)
      return listed(env, Job.withBackendData(job, { exitSeenAt: null }), seen.record)
    }
    return yield* endedByRecord(env, calls, job, id, markers)
  })

/** @internal Updates a job's state from its exit files, the queue, accounting and the window. */
export const updateJobState = (env: Env, calls: Calls): LrmsShape["updateJobState"] => (job) =>
  Effect.gen(function* () {
    const id = yield* nativeIdOf(env, job, "updateJobState")
    const markers = job.remoteDir === undefined ? {} : yield* calls.markers(job.remoteDir)
    const { exit } = markers
    const requeue = (env.config as { readonly requeue?: boolean }).requeue === true
    const next = exit !== undefined && ExitRecord.isFinal(exit)
      ? yield* (requeue ? confirmedRecord : endedByRecord)(env, calls, job, id, {
        ...markers,
        exit,
      })
      : yield* Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const started = startedByMarker(job, markers.started, now)
        const seen = yield* calls.stat(id, notBefore(started))
        return yield* fromScheduler(env, calls, started, id, seen, markers)
      })
    if (RunState.isDone(next.state)) yield* calls.settled(id)
    return next
  })
