/**
 * @internal Reconciling a submission whose outcome was unknown, from any process: its launch
 * token is settled on the host, and the job is returned as `submitJob` would have returned it,
 * or released for good when it never started.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Application } from "../../../src/Application.ts"
import type { Auth } from "../../../src/Auth.ts"
import * as Job from "../../../src/Job.ts"
import type { Reconcilable } from "../../../src/Lrms.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { BACKEND, CLAIM_GRACE, type Env, lrmsError, retrying } from "./env.ts"
import { settleLaunch } from "./settle.ts"
import { submitted, unknown } from "./submit.ts"

/**
 * @internal Attaches a job whose submission's outcome was unknown: settles its launch token
 * (see `settleLaunch`) and returns the job as `submitJob` would have, when its wrapper claimed
 * it. A launch that never started is refused for good; its directory and reservation are
 * released and the call fails with `NotFound`.
 */
export const reconcile = (
  env: Env,
  submission: Reconcilable,
  app: Application,
): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { transport } = env
    const { tag } = submission
    const unreachable = (jobDir: string) => (e: LrmsError) =>
      unknown(env, "reconcile", tag, jobDir, `${transport.host} cannot be asked (${e.message})`)
    const jobDir = submission.jobDir ??
      `${(yield* Effect.mapError(env.discover, unreachable(""))).spool}/job.${tag}`
    // the directory is removed when the job never started: it must be a job directory
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tag) || !jobDir.endsWith(`/job.${tag}`)) {
      return yield* lrmsError(
        "InvalidArgument",
        "reconcile",
        `${JSON.stringify(jobDir)} is not the directory of a shellcmd job ${JSON.stringify(tag)}`,
      )
    }
    const cannotAsk = (e: LrmsError) => e.reason === "InvalidArgument" ? e : unreachable(jobDir)(e)
    const { info, store } = yield* Effect.mapError(env.discover, cannotAsk)
    const state = yield* retrying(settleLaunch(env, tag, jobDir, CLAIM_GRACE)).pipe(
      Effect.mapError(cannotAsk),
    )
    const record = yield* retrying(store.find(tag)).pipe(Effect.option)
    const recorded = Option.flatMap(record, Option.fromNullable)
    const releaseRecord = Option.isSome(recorded)
      ? store.remove({ jobId: tag, ...recorded.value }).pipe(Effect.ignore)
      : Effect.void
    switch (state._tag) {
      case "Started": {
        const entry = Option.isSome(recorded)
          ? yield* store.read(recorded.value).pipe(Effect.option)
          : Option.none()
        const submittedAt = Option.isSome(entry)
          ? entry.value.createdAt
          : yield* Clock.currentTimeMillis
        const job0 = Job.make({
          id: tag,
          resourceName: env.configured.name,
          backend: BACKEND,
          application: app,
        })
        return submitted(
          env,
          job0,
          jobDir,
          state.pid,
          submittedAt,
          info.timeCmd !== undefined,
          " (reconciled)",
        )
      }
      case "Refused":
        yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
        yield* releaseRecord
        return yield* lrmsError(
          "NotFound",
          "reconcile",
          `job ${tag} never started on ${transport.host}, and now cannot (its launch token ` +
            `is refused): its directory and reservation are released`,
        )
      case "Gone": {
        // no launch token was ever made (or the job was freed): it cannot run; release what
        // a submission stopped before its launch may have left
        const dirLeft = Option.isSome(yield* transport.stat(jobDir).pipe(Effect.option))
        if (dirLeft) yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
        yield* releaseRecord
        return yield* lrmsError(
          "NotFound",
          "reconcile",
          dirLeft || Option.isSome(recorded)
            ? `job ${tag} was never launched on ${transport.host}: its directory and ` +
              `reservation are released`
            : `job ${tag} has no directory on ${transport.host} (${jobDir}): it never ` +
              `started, or it was freed`,
        )
      }
    }
  })
