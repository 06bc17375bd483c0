/**
 * Test helpers: run an Effect as a Deno test body, scoped, with the layers it needs.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cause from "effect/Cause"
import type * as Scope from "effect/Scope"
import * as Layer from "effect/Layer"

/** Runs a scoped effect to completion; a failure or defect fails the test with its cause. */
export const runTest = async <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope>,
): Promise<A> => {
  const exit = await Effect.runPromiseExit(Effect.scoped(effect))
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(Cause.pretty(exit.cause))
}

/** Runs a scoped effect with a layer provided. */
export const runWith = <A, E, R, E2>(
  layer: Layer.Layer<R, E2>,
  effect: Effect.Effect<A, E, R | Scope.Scope>,
): Promise<A> => runTest(Effect.provide(effect, layer) as Effect.Effect<A, E | E2, Scope.Scope>)

/** Runs an effect that must fail, and returns its failure (or throws if it succeeded). */
export const runFailure = async <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope>,
): Promise<E> => {
  const exit = await Effect.runPromiseExit(Effect.scoped(effect))
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${String(exit.value)}`)
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") throw new Error(Cause.pretty(exit.cause))
  return failure.value
}

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix = "effect-lrms-test-"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Deno.makeTempDirSync({ prefix })),
    (dir) => Effect.sync(() => Deno.removeSync(dir, { recursive: true })),
  )

export { Layer }
