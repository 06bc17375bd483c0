/**
 * Shared steps of the fault properties: submit applications together, sorting the outcomes
 * into jobs the caller knows and submissions whose outcome is unknown, and settle those later
 * with `Lrms.reconcile`; count the lines a job appends to a file each time it runs.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Application from "../src/Application.ts"
import type * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import type { LrmsError } from "../src/LrmsError.ts"

/**
 * Per application: the job the caller knows, or the error of an unknown outcome, or of a
 * definite refusal that left something to release (it carries its submission).
 */
export interface Outcomes {
  readonly known: Array<Job.Job | undefined>
  readonly unknown: Array<LrmsError | undefined>
  readonly leftover: Array<LrmsError | undefined>
}

/** Submits every application at once; a definite refusal leaves both slots empty. */
export const submitAll = (
  apps: ReadonlyArray<Application.Application>,
): Effect.Effect<Outcomes, never, Lrms.Lrms | Auth.Auth> =>
  Effect.map(
    Effect.forEach(apps, (a) => Effect.either(Lrms.submitJob(a)), { concurrency: "unbounded" }),
    (results) => {
      const known: Array<Job.Job | undefined> = results.map((r) =>
        Either.isRight(r) ? r.right : undefined
      )
      const unknown = results.map((r) => {
        if (Either.isRight(r)) return undefined
        ok(r.left.reason !== "InvalidArgument", r.left.message)
        return r.left.reason === "SubmitOutcomeUnknown" ? r.left : undefined
      })
      const leftover = results.map((r) =>
        Either.isLeft(r) && r.left.reason !== "SubmitOutcomeUnknown" &&
          r.left.submission !== undefined
          ? r.left
          : undefined
      )
      return { known, unknown, leftover }
    },
  )

/**
 * Settles the unknown outcomes: the job, attached into `known`, or a `NotFound` refusal; and
 * releases what the refusals left (`NotFound`, the job never runs).
 */
export const settleUnknown = (
  outcomes: Outcomes,
  apps: ReadonlyArray<Application.Application>,
): Effect.Effect<void, never, Lrms.Lrms | Auth.Auth> =>
  Effect.gen(function* () {
    for (const [i, err] of outcomes.unknown.entries()) {
      if (err === undefined) continue
      ok(err.submission !== undefined, "an unknown outcome carries its submission")
      const r = yield* Effect.either(Lrms.reconcile(err.submission, apps[i]!))
      if (Either.isRight(r)) outcomes.known[i] = r.right
      else strictEqual(r.left.reason, "NotFound", r.left.message)
    }
    for (const [i, err] of outcomes.leftover.entries()) {
      if (err === undefined) continue
      const r = yield* Effect.either(Lrms.reconcile(err.submission!, apps[i]!))
      ok(Either.isLeft(r), `a refused submission was attached: ${err.message}`)
      strictEqual(r.left.reason, "NotFound", r.left.message)
    }
  })

/** How many lines a file has (0 when it does not exist). */
export const countLines = (path: string): number => {
  try {
    return Deno.readTextFileSync(path).split("\n").filter((l) => l !== "").length
  } catch {
    return 0
  }
}
