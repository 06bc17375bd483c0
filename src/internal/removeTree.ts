/**
 * A recursive remove that races a writer: a scheduler may still be writing a job's report into
 * its directory just after a cancel, so `rm -r` finds a directory that is not empty any more.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { LrmsError } from "../LrmsError.ts"

/** 100 ms, doubling, six more tries: about 6 s for the writer to finish. */
const whileWritten = Schedule.exponential("100 millis").pipe(
  Schedule.intersect(Schedule.recurs(6)),
)

/**
 * Runs `remove` again while it fails with `InvalidState`, the reason a transport gives a tree
 * that something still writes into.
 */
export const retryWhileWritten = <R>(
  remove: Effect.Effect<void, LrmsError, R>,
): Effect.Effect<void, LrmsError, R> =>
  Effect.retry(remove, { schedule: whileWritten, while: (e) => e.reason === "InvalidState" })
