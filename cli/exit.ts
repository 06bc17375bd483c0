/**
 * How `lrms` ends: one `error: ...` line on stderr for a failure, and the process's exit status
 * (0 success, 1 failure, 2 a command line that could not be read, 130 interrupted).
 *
 * @module
 */
import { ValidationError } from "@effect/cli"
import type { Teardown } from "@effect/platform/Runtime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { isLrmsError } from "../src/LrmsError.ts"
import { ExitWith, oneLine } from "./env.ts"

/** A failure's message, whatever was thrown. */
const messageOf = (e: unknown): string =>
  isLrmsError(e)
    ? e.message
    : e instanceof Error
    ? e.message
    : typeof e === "object" && e !== null && "message" in e
    ? String(e.message)
    : String(e)

/** Says what went wrong in one line on stderr, then ends with exit status 1. */
const fatal = (message: string): Effect.Effect<never, ExitWith> =>
  Effect.zipRight(
    Console.error(`error: ${oneLine(message)}`),
    Effect.fail(new ExitWith({ code: 1 })),
  )

/**
 * Says what went wrong in one line on stderr and ends with an exit status: 2 for a command line
 * that could not be read (@effect/cli has printed why), 1 for everything else; an interruption
 * goes on as it is.
 */
export const report = (cause: Cause.Cause<unknown>): Effect.Effect<never, unknown> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof ExitWith) return Effect.fail(e)
    if (ValidationError.isValidationError(e)) return Effect.fail(new ExitWith({ code: 2 }))
    return fatal(messageOf(e))
  }
  const defect = Cause.squash(cause)
  return fatal(defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect))
}

/** The process's exit code from how the program ended (see the module notes of `cli.ts`). */
export const teardown: Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit)) return onExit(0)
  if (Cause.isInterruptedOnly(exit.cause)) return onExit(130)
  const failure = Cause.failureOption(exit.cause)
  onExit(Option.isSome(failure) && failure.value instanceof ExitWith ? failure.value.code : 1)
}
