/**
 * One mapping from an error thrown by a `Deno.*` file call to an `LrmsError` naming the path.
 *
 * @internal
 */
import { LrmsError, type Reason } from "../LrmsError.ts"

/** `NotFound` and `PermissionDenied` as Deno says; anything else is `otherwise`. */
export const fromDenoError = (
  e: unknown,
  where: {
    readonly backend: string
    readonly operation: string
    readonly path: string
    readonly otherwise: Reason
  },
): LrmsError =>
  new LrmsError({
    reason: e instanceof Deno.errors.NotFound
      ? "NotFound"
      : e instanceof Deno.errors.PermissionDenied
      ? "PermissionDenied"
      : where.otherwise,
    backend: where.backend,
    operation: where.operation,
    description: `${where.path}: ${e instanceof Error ? e.message : String(e)}`,
    cause: e,
  })
