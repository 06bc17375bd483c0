/**
 * The one mapping from an `@effect/platform` error to an `LrmsError` naming what it was about.
 *
 * @internal
 */
import type { PlatformError } from "@effect/platform/Error"
import { LrmsError, type Reason } from "../LrmsError.ts"

/** The `LrmsError` reason of a platform error. */
export const reasonOf = (e: PlatformError): Reason => {
  if (e._tag !== "SystemError") return "InvalidArgument"
  switch (e.reason) {
    case "NotFound":
      return "NotFound"
    case "PermissionDenied":
      return "PermissionDenied"
    case "AlreadyExists":
    case "BadResource":
    case "Busy":
      return "InvalidState"
  }
  // a directory refilled while it was removed (a scheduler's late report): worth another try
  return (e.cause as { readonly code?: unknown } | undefined)?.code === "ENOTEMPTY"
    ? "InvalidState"
    : "CommandFailed"
}

/** Maps a platform error of `operation` on `what` (a path, a store) for `backend`. */
export const fromPlatformError =
  (backend: string, operation: string, what: string) => (e: PlatformError): LrmsError =>
    new LrmsError({
      reason: reasonOf(e),
      backend,
      operation,
      description: `${what}: ${e.message}`,
      cause: e,
    })
