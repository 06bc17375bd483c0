/**
 * The polling loop of `Lrms.awaitTermination`: poll until the job is done, waiting longer each
 * time up to a cap, tolerating a run of recoverable failures.
 *
 * @internal
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Job from "../Job.ts"
import type { AwaitOptions } from "../Lrms.ts"
import type { LrmsError } from "../LrmsError.ts"
import * as RunState from "../RunState.ts"

/** Polls `job` with `update` until it is `TERMINATING` or `TERMINATED` (see `AwaitOptions`). */
export const pollUntilDone = <R>(
  update: (job: Job.Job) => Effect.Effect<Job.Job, LrmsError, R>,
  job: Job.Job,
  options: AwaitOptions,
): Effect.Effect<Job.Job, LrmsError, R> =>
  Effect.gen(function* () {
    const max = Duration.toMillis(options.max ?? "5 seconds")
    let delay = Duration.toMillis(options.initial ?? "50 millis")
    const pause = Effect.suspend(() => {
      const wait = Effect.sleep(Duration.millis(delay))
      delay = Math.min(max, delay * 1.5)
      return wait
    })
    const tolerated = options.recoverableFailures ?? 10
    let failures = 0
    let current = job
    while (!RunState.isDone(current.state)) {
      const polled = yield* Effect.either(update(current))
      if (polled._tag === "Left") {
        if (!polled.left.recoverable || ++failures > tolerated) return yield* polled
        yield* pause
        continue
      }
      failures = 0
      const next = polled.right
      if (next.state !== current.state && options.onChange) yield* options.onChange(next)
      current = next
      if (RunState.isDone(current.state)) break
      yield* pause
    }
    return current
  })
