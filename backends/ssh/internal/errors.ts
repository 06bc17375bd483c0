/**
 * @internal The SSH transport's errors: one constructor, and the mapping of ssh2 and SFTP
 * errors to a `Reason`.
 */
import { LrmsError, make, type Reason } from "../../../src/LrmsError.ts"

/** @internal The backend name every SSH error carries. */
export const BACKEND = "ssh"

/** @internal An `LrmsError` of the SSH transport. */
export const fail = (
  reason: Reason,
  operation: string,
  description: string,
  cause?: unknown,
): LrmsError => make(reason, BACKEND, operation, description, cause)

const errnoOf = (e: unknown): string | number | undefined =>
  typeof e === "object" && e !== null && "code" in e
    ? (e as { code: string | number }).code
    : undefined

const connectionErrors = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
])

/** @internal Maps an ssh2 / SFTP error to a reason. */
export const reasonOf = (e: unknown): Reason => {
  const code = errnoOf(e)
  if (code === 2) return "NotFound"
  if (code === 3) return "PermissionDenied"
  if (typeof code === "string" && connectionErrors.has(code)) return "ConnectionLost"
  const message = e instanceof Error ? e.message : String(e)
  if (/No response from server|Not connected|connection lost|closed|No SFTP/i.test(message)) {
    return "ConnectionLost"
  }
  return "CommandFailed"
}

/** @internal Wraps anything thrown or passed to a callback by `operation` on `path`. */
export const wrap = (operation: string, path: string) => (e: unknown): LrmsError =>
  e instanceof LrmsError
    ? e
    : fail(reasonOf(e), operation, `${path}: ${e instanceof Error ? e.message : String(e)}`, e)
