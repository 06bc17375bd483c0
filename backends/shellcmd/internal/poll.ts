/**
 * @internal Updating a job's state: its wrapper's exit report once it is whole, its wrapper's
 * liveness from `ps` while it runs (a pid with another start time is not the job), and the
 * walltime limit, enforced here.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Auth } from "../../../src/Auth.ts"
import * as Job from "../../../src/Job.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as Termination from "../../../src/Termination.ts"
import * as GnuTime from "../GnuTime.ts"
import * as Processes from "../Processes.ts"
import * as Wrapper from "../Wrapper.ts"
import { type Env, lrmsError, numberData, privatePath, readOptional, statOptional } from "./env.ts"
import { killTree } from "./kill.ts"

/** @internal A submitted job's wrapper pid and directory; `InvalidArgument` without them. */
export const jobPid = (
  job: Job.Job,
  operation: string,
): Effect.Effect<{ readonly pid: number; readonly jobDir: string }, LrmsError> => {
  const pid = Number(job.nativeId)
  return Number.isSafeInteger(pid) && pid > 0 && job.remoteDir !== undefined
    ? Effect.succeed({ pid, jobDir: job.remoteDir })
    : Effect.fail(
      lrmsError("InvalidArgument", operation, `job ${job.id} has no shellcmd pid or directory`),
    )
}

/**
 * @internal The wrapper's start (seconds since the epoch): the mtime of the file it creates
 * first, or what the job already remembers.
 */
export const wrapperStart = (
  env: Env,
  job: Job.Job,
  jobDir: string,
): Effect.Effect<number | undefined, LrmsError, Auth> =>
  numberData(job, "wrapperStart") !== undefined
    ? Effect.succeed(numberData(job, "wrapperStart"))
    : Effect.map(
      statOptional(env.transport, privatePath(jobDir, Wrapper.Files.started)),
      Option.match({ onNone: () => undefined, onSome: (info) => info.mtime.getTime() / 1000 }),
    )

/** The wrapper's exit report, once it is whole. */
const readStatus = (env: Env, jobDir: string) =>
  Effect.map(
    readOptional(env.transport, privatePath(jobDir, Wrapper.Files.status)),
    Option.flatMap((text): Option.Option<Wrapper.Status> => {
      const status = Wrapper.parseStatus(text)
      return status.complete ? Option.some(status) : Option.none()
    }),
  )

/** Reads the wrapper's reports into a TERMINATING job. */
const finished = (env: Env, job: Job.Job, jobDir: string, status: Wrapper.Status) =>
  Effect.gen(function* () {
    const usageText = yield* readOptional(env.transport, privatePath(jobDir, Wrapper.Files.usage))
    const report = Option.map(usageText, GnuTime.parse)
    const fromReport = Option.flatMap(report, (r) => Option.fromNullable(r.termination))
    const termination = Option.isSome(fromReport)
      ? fromReport.value
      : status.returnCode !== undefined
      ? Termination.fromShellExit(status.returnCode)
      : Termination.signalled(Termination.Signals.RemoteError)
    const base = Option.isSome(report) ? report.value.usage : new Job.Usage({ extra: {} })
    const usage = new Job.Usage({
      ...base,
      ...(base.duration === undefined && status.wallSeconds !== undefined
        ? { duration: Duration.millis(Math.round(status.wallSeconds * 1000)) }
        : {}),
      cores: job.application.requestedCores,
    }, true) // built from a valid `Usage` and the application's cores: no validation to repeat
    return Job.transition(job, "TERMINATING", { termination, usage })
  })

/** The walltime a job has run past, by `now` (the `Clock`'s), if any. */
const pastWalltime = (env: Env, job: Job.Job, now: number): Duration.Duration | undefined => {
  const { maxWalltime } = env.configured
  const limit = job.application.requestedWalltime !== undefined &&
      Duration.lessThan(job.application.requestedWalltime, maxWalltime)
    ? job.application.requestedWalltime
    : maxWalltime
  const since = numberData(job, "submittedAt") ?? job.timestamps.SUBMITTED?.getTime()
  if (since === undefined) return undefined
  return now - since > Duration.toMillis(limit) ? limit : undefined
}

/** @internal `updateJobState`: the job, updated from its wrapper's files and `ps`. */
export const updateJobState = (
  env: Env,
  job: Job.Job,
): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { pid, jobDir } = yield* jobPid(job, "updateJobState")
    const status = yield* readStatus(env, jobDir)
    if (Option.isSome(status)) return yield* finished(env, job, jobDir, status.value)
    const startedAt = yield* wrapperStart(env, job, jobDir)
    const known = startedAt !== undefined && numberData(job, "wrapperStart") === undefined
      ? Job.withBackendData(job, { wrapperStart: startedAt })
      : job
    const row = yield* env.processInfo(pid)
    if (!Processes.isAlive(row, startedAt)) {
      // the wrapper may have finished between the two reads
      const again = yield* readStatus(env, jobDir)
      if (Option.isSome(again)) return yield* finished(env, known, jobDir, again.value)
      const { store } = yield* env.discover
      yield* store.markDone(job.id)
      return Job.transition(known, "TERMINATING", {
        termination: Termination.signalled(Termination.Signals.RemoteError),
        message: `The wrapper (pid ${pid}) is gone and left no exit report`,
      })
    }
    const exceeded = pastWalltime(env, known, yield* Clock.currentTimeMillis)
    if (exceeded !== undefined) {
      yield* killTree(env, pid, startedAt)
      const { store } = yield* env.discover
      yield* store.markDone(job.id)
      return Job.transition(known, "TERMINATING", {
        termination: Termination.signalled(
          Termination.Signals.RemoteKill,
          Termination.EX_TEMPFAIL,
        ),
        message: `Walltime of ${Quantity.formatDuration(exceeded)} exceeded; killed`,
      })
    }
    return Job.transition(known, row!.stat.startsWith("T") ? "STOPPED" : "RUNNING")
  })
