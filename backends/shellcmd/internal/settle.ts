/**
 * @internal Settling a launch whose outcome is not known, on the host: the wrapper runs the job
 * only after claiming its launch token, and the settler refuses a token still unclaimed. One
 * atomic rename decides which of the two happened.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Auth } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { exists } from "../../../src/Transport.ts"
import * as Wrapper from "../Wrapper.ts"
import { type Env, lrmsError, privatePath, readOptional, statOptional } from "./env.ts"

/** @internal What became of a launch token. */
export type LaunchState =
  | { readonly _tag: "Started"; readonly pid: number; readonly startedAt: number | undefined }
  | { readonly _tag: "Refused" }
  | { readonly _tag: "Gone" }

/**
 * @internal Settles a job's launch token (see `Wrapper.Files.launch`): refuses it if no wrapper
 * has claimed it (rename `launch` → `refused`), then reads which of the two won. `rename` is
 * atomic, so the answer is certain: `Started` (the wrapper claimed it and wrote its pid first),
 * `Refused` (it never ran the job and never will: a late wrapper finds no token and exits), or
 * `Gone` (no job directory). Idempotent: safe to retry after a lost reply, and from several
 * processes at once. Fails when the host cannot be asked. A token still unclaimed is given
 * `grace` first: a wrapper the launch did start claims it in moments.
 */
export const settleLaunch = (
  env: Env,
  tag: string,
  jobDir: string,
  grace: Duration.Duration = Duration.zero,
): Effect.Effect<LaunchState, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { transport } = env
    const token = (name: string) => privatePath(jobDir, name)
    const until = (yield* Clock.currentTimeMillis) + Duration.toMillis(grace)
    while (
      (yield* Clock.currentTimeMillis) < until &&
      (yield* exists(transport, token(Wrapper.Files.launch)))
    ) yield* Effect.sleep(Duration.millis(50))
    yield* transport.rename(token(Wrapper.Files.launch), token(Wrapper.Files.refused)).pipe(
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
    )
    /** The token's tag must be the job's: the directory is then the job's own. */
    const checkTag = (dir: string) =>
      Effect.flatMap(readOptional(transport, `${dir}/tag`), (text) =>
        Option.isSome(text) && text.value.trim() !== tag
          ? Effect.fail(lrmsError(
            "InvalidArgument",
            "reconcile",
            `${jobDir} belongs to job ${text.value.trim()}, not ${tag}`,
          ))
          : Effect.void)
    const claimed = token(Wrapper.Files.claimed)
    if (Option.isSome(yield* statOptional(transport, claimed))) {
      yield* checkTag(claimed)
      const pidFile = `${claimed}/pid`
      const text = yield* readOptional(transport, pidFile)
      const pid = Option.isSome(text) ? Number(text.value.trim()) : NaN
      if (!Number.isSafeInteger(pid) || pid <= 0) {
        // the wrapper writes its pid before it claims the token: never seen, but not a start
        return yield* lrmsError(
          "UnexpectedOutput",
          "submitJob",
          `${pidFile} holds no pid although the wrapper claimed its launch`,
        )
      }
      const info = yield* statOptional(transport, pidFile)
      return {
        _tag: "Started",
        pid,
        startedAt: Option.isSome(info) ? info.value.mtime.getTime() / 1000 : undefined,
      } as const
    }
    const refused = token(Wrapper.Files.refused)
    if (Option.isSome(yield* statOptional(transport, refused))) {
      yield* checkTag(refused)
      return { _tag: "Refused" } as const
    }
    if (Option.isSome(yield* statOptional(transport, token(Wrapper.Files.launch)))) {
      return yield* lrmsError(
        "UnexpectedOutput",
        "submitJob",
        `the launch token of ${jobDir} could be neither refused nor found claimed`,
      )
    }
    return { _tag: "Gone" } as const
  })
