/**
 * Test helpers: run an Effect as a Deno test body, scoped, with the layers it needs.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cause from "effect/Cause"
import type * as Scope from "effect/Scope"
import * as Layer from "effect/Layer"
import * as Tracer from "effect/Tracer"
import * as NodeContext from "@effect/platform-node/NodeContext"
import type * as Duration from "effect/Duration"
import * as Application from "../src/Application.ts"
import type * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { LrmsError } from "../src/LrmsError.ts"

/**
 * The platform a test runs on: Node's file system, paths and processes (which run under Deno),
 * provided at the edge as an application would. Library layers require these services.
 */
export type Platform = NodeContext.NodeContext

/** Runs a scoped effect to completion; a failure or defect fails the test with its cause. */
export const runTest = async <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Platform>,
): Promise<A> => {
  const exit = await Effect.runPromiseExit(
    Effect.scoped(effect).pipe(Effect.provide(NodeContext.layer)),
  )
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(Cause.pretty(exit.cause))
}

/** Runs a scoped effect with a layer provided. */
export const runWith = <A, E, R, E2>(
  layer: Layer.Layer<R, E2, Platform>,
  effect: Effect.Effect<A, E, R | Scope.Scope | Platform>,
): Promise<A> =>
  runTest(Effect.provide(effect, layer) as Effect.Effect<A, E | E2, Scope.Scope | Platform>)

/** Runs an effect that must fail, and returns its failure (or throws if it succeeded). */
export const runFailure = async <A, E>(
  effect: Effect.Effect<A, E, Scope.Scope | Platform>,
): Promise<E> => {
  const exit = await Effect.runPromiseExit(
    Effect.scoped(effect).pipe(Effect.provide(NodeContext.layer)),
  )
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

/** An application for a test (invalid input is a defect: the test wrote it). */
export const app = (
  input: Application.ApplicationInput,
): Effect.Effect<Application.Application> => Effect.orDie(Application.make(input))

/** Polls a job until it ends; not ending within `timeout` is a defect naming the job. */
export const waitFor = (
  job: Job.Job,
  timeout: Duration.DurationInput = "120 seconds",
): Effect.Effect<Job.Job, LrmsError, Lrms.Lrms | Auth.Auth> =>
  Lrms.awaitTermination(job, { max: "500 millis" }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`job ${job.id} (${job.nativeId}) did not end in time`),
    }),
    Effect.catchIf((e): e is Error => !(e instanceof LrmsError), (e) => Effect.die(e)),
  )

/** Runs `body` under a tracer that keeps every span it starts (Effect's own spans otherwise). */
export const recording = <A, E, R>(body: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = Tracer.make({
      span: (...args) => {
        const span = base.span(...args)
        spans.push(span)
        return span
      },
      context: (f, fiber) => base.context(f, fiber),
    })
    const result = yield* Effect.withTracer(body, tracer)
    return { result, spans }
  })
