/**
 * @internal Reserving capacity: cores and memory for every job submitted in the same moment,
 * taken under one bookkeeping lock, each job with its record or `MaximumCapacityReached`.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { Application } from "../../../src/Application.ts"
import type { Auth } from "../../../src/Auth.ts"
import * as Batcher from "../../../src/internal/batcher.ts"
import { LrmsError } from "../../../src/LrmsError.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as Bookkeeping from "../Bookkeeping.ts"
import { type Env, type Limits, lrmsError, retrying, STALE_RESERVATION_MS } from "./env.ts"
import { collectGarbage } from "./status.ts"

/** @internal A job asking for capacity. */
export interface Reservation {
  readonly app: Application
  readonly jobId: string
  readonly jobDir: string
}

/** @internal A reservation: the job's record, or why it was refused. */
export type Reserve = (
  request: Reservation,
) => Effect.Effect<Either.Either<Bookkeeping.Entry, LrmsError>, LrmsError, Auth>

const refusal = (
  env: Env,
  { resource }: Limits,
  app: Application,
  free: number,
  freeMemory: number,
) =>
  lrmsError(
    "MaximumCapacityReached",
    "submitJob",
    free < app.requestedCores
      ? `${app.requestedCores} core(s) requested, ${Math.max(0, free)} of ` +
        `${resource.maxCores} free on ${resource.name}; retry later` +
        (env.config.override ? "" : " (or raise maxCores)")
      : `${Quantity.formatMemoryHuman(Quantity.memory(app.requestedMemory ?? 0))} ` +
        `requested, ${Quantity.formatMemoryHuman(Quantity.memory(Math.max(0, freeMemory)))}` +
        ` free on ${resource.name}; retry later`,
  )

/**
 * @internal A definite refusal that could not release the job's directory and reservation: it
 * says so and carries its submission, so that `reconcile` (or garbage collection, after 90 s)
 * releases them.
 */
export const leftBehind = (env: Env, e: LrmsError, tag: string, jobDir: string): LrmsError =>
  new LrmsError({
    reason: e.reason,
    backend: e.backend,
    operation: e.operation,
    description: `${e.description}; its directory ${jobDir} and reservation could not be ` +
      `released: reconcile it to release them now (garbage collection does after ` +
      `${STALE_RESERVATION_MS / 1000} s)`,
    recoverable: e.recoverable,
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
    submission: { resource: env.configured.name, tag, jobDir },
  })

/**
 * @internal Takes cores and memory for every job submitted in the same moment, under one lock:
 * each gets its bookkeeping record, or `MaximumCapacityReached`.
 */
export const make = (env: Env): Effect.Effect<Reserve, never, Scope.Scope> =>
  Batcher.make<Reservation, Either.Either<Bookkeeping.Entry, LrmsError>, LrmsError>({
    name: "Shellcmd.reserve",
    window: Duration.millis(2),
    maxBatch: 1000,
    missing: Either.left(lrmsError("UnexpectedOutput", "submitJob", "reservation lost")),
    run: (requests) =>
      Effect.gen(function* () {
        const { store, limits } = yield* env.discover
        return yield* store.withLock(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const grant = (listed: ReadonlyArray<Bookkeeping.Listed>) => {
              const inUse = Bookkeeping.used(listed)
              let free = limits.resource.maxCores - inUse.cores
              let freeMemory = limits.totalMemory - inUse.memory
              return requests.map((r) => {
                const memory = r.app.requestedMemory ?? 0
                if (free < r.app.requestedCores || freeMemory < memory) {
                  return Either.left(refusal(env, limits, r.app, free, freeMemory))
                }
                free -= r.app.requestedCores
                freeMemory -= memory
                return Either.right<Bookkeeping.Entry>({
                  jobId: r.jobId,
                  resourceName: limits.resource.name,
                  cores: r.app.requestedCores,
                  memory,
                  jobDir: r.jobDir,
                  createdAt: now,
                })
              })
            }
            const listed = yield* store.list
            let answers = grant(listed)
            if (
              answers.some(Either.isLeft) && (yield* collectGarbage(env, store, listed)) > 0
            ) {
              answers = grant(yield* store.list)
            }
            // Each record on its own: a write that fails refuses its job only. Its record may
            // be there all the same (a lost reply): withdraw it, or say it is left.
            type Answer = Either.Either<Bookkeeping.Entry, LrmsError>
            const record = (a: Answer): Effect.Effect<Answer, never, Auth> =>
              Either.isLeft(a) ? Effect.succeed(a) : store.write(a.right).pipe(
                Effect.as(a),
                Effect.catchAll((e) =>
                  retrying(store.remove(a.right)).pipe(
                    Effect.as<Answer>(Either.left(e)),
                    Effect.orElseSucceed((): Answer =>
                      Either.left(leftBehind(env, e, a.right.jobId, a.right.jobDir))
                    ),
                  )
                ),
              )
            const written = yield* Effect.forEach(answers, record, { concurrency: 16 })
            return new Map(requests.map((r, i) => [r, written[i]!]))
          }),
        )
      }),
  })
