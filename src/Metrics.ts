/**
 * The metrics effect-lrms records, as Effect `Metric`s: read them with `Metric.snapshot` or
 * export them through `@effect/opentelemetry`.
 *
 * - `lrms.commands` counts the commands a backend runs on its resource (`sbatch`, `squeue`,
 *   `sacct`, `qstat`, `ps`, …), tagged `backend` and `command`: what 5,000 jobs cost a scheduler.
 * - `lrms.command.duration` is the latency of those commands, with the same tags.
 * - `lrms.jobs.submitted` counts submissions by `backend` and `outcome` (`submitted`, `refused`,
 *   `unknown` when the job may exist and needs reconciling).
 * - `lrms.jobs.finished` counts jobs seen to end by `backend` and `outcome` (`success`,
 *   `failure`, `cancelled`).
 *
 * @example
 * ```ts
 * import { Effect, Metric } from "effect"
 * import { Metrics } from "effect-lrms"
 * import { strictEqual } from "node:assert/strict"
 *
 * const squeue = Metric.tagged(
 *   Metric.tagged(Metrics.commands, "backend", "example"),
 *   "command",
 *   "squeue",
 * )
 * const count = Effect.runSync(
 *   Effect.zipRight(Metrics.countCommand("example", "squeue")(Effect.void), Metric.value(squeue)),
 * )
 * strictEqual(count.count, 1)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import type * as Duration from "effect/Duration"
import type { LrmsError } from "./LrmsError.ts"
import * as Termination from "./Termination.ts"
import type * as Job from "./Job.ts"

/**
 * Commands run on a resource, tagged `backend` and `command` (the program, never its arguments).
 *
 * @since 0.1.0
 * @category metrics
 */
export const commands: Metric.Metric.Counter<number> = Metric.counter("lrms.commands", {
  description: "commands a backend ran on its resource (scheduler calls, ps, kill, …)",
  incremental: true,
})

/**
 * The latency of the commands of {@linkcode commands}, with the same tags.
 *
 * @since 0.1.0
 * @category metrics
 */
export const commandDuration: Metric.Metric<
  MetricKeyType.MetricKeyType.Histogram,
  Duration.Duration,
  MetricState.MetricState.Histogram
> = Metric.timer("lrms.command.duration", "latency of the commands a backend ran")

/**
 * Submissions, tagged `backend` and `outcome` (`submitted`, `refused`, `unknown`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const jobsSubmitted: Metric.Metric.Counter<number> = Metric.counter(
  "lrms.jobs.submitted",
  { description: "submissions by outcome", incremental: true },
)

/**
 * Jobs being tracked, tagged `backend`: submitted by this process and not yet seen to end (a job
 * that ends in another process's view, or is never polled again, stays counted).
 *
 * @since 0.1.0
 * @category metrics
 */
export const jobsTracked: Metric.Metric.Gauge<number> = Metric.gauge("lrms.jobs.tracked", {
  description: "jobs submitted by this process and not yet seen to end",
})

/**
 * Jobs seen to end, tagged `backend` and `outcome` (`success`, `failure`, `cancelled`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const jobsFinished: Metric.Metric.Counter<number> = Metric.counter("lrms.jobs.finished", {
  description: "jobs seen to end, by outcome",
  incremental: true,
})

/**
 * Counts one command of a backend in {@linkcode commands} and times it in
 * {@linkcode commandDuration}; for backend authors.
 *
 * @since 0.1.0
 * @category metrics
 */
export const countCommand = (
  backend: string,
  command: string,
): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const duration = Metric.tagged(
    Metric.tagged(commandDuration, "backend", backend),
    "command",
    command,
  )
  const count = Metric.tagged(Metric.tagged(commands, "backend", backend), "command", command)
  return self.pipe(Metric.trackDuration(duration), Effect.ensuring(Metric.increment(count)))
}

/**
 * Counts `n` more commands of a backend in {@linkcode commands} without timing them: the other
 * commands of one call that ran several (one shell that ran 300 `sbatch`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const countMore = (backend: string, command: string, n: number): Effect.Effect<void> =>
  n <= 0 ? Effect.void : Metric.incrementBy(
    Metric.tagged(Metric.tagged(commands, "backend", backend), "command", command),
    n,
  )

/** The ids of the jobs {@linkcode jobsTracked} counts: submitted here, not yet seen to end. */
const tracked = new Set<string>()

/**
 * The outcome of a submission as {@linkcode jobsSubmitted} tags it: `submitted`, `unknown` (its
 * outcome could not be learned) or `refused`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const submitOutcome = (error: LrmsError | undefined): string =>
  error === undefined
    ? "submitted"
    : error.reason === "SubmitOutcomeUnknown"
    ? "unknown"
    : "refused"

/**
 * Counts a submission in {@linkcode jobsSubmitted} and, when it gave a job, starts tracking that
 * job in {@linkcode jobsTracked}; `Lrms.make` calls it for every backend.
 *
 * @since 0.1.0
 * @category metrics
 */
export const countSubmission = (
  backend: string,
  error: LrmsError | undefined,
  job?: Job.Job,
): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(
      Metric.tagged(
        Metric.tagged(jobsSubmitted, "backend", backend),
        "outcome",
        submitOutcome(error),
      ),
    ),
    job === undefined ? Effect.void : Effect.suspend(() => {
      tracked.add(job.id)
      return Metric.increment(Metric.tagged(jobsTracked, "backend", backend))
    }),
  )

/**
 * Counts a job seen to end in {@linkcode jobsFinished} (its termination decides the outcome) and
 * stops tracking it; `Lrms.make` calls it when an operation first sees a job done.
 *
 * @since 0.1.0
 * @category metrics
 */
export const countFinished = (backend: string, job: Job.Job): Effect.Effect<void> => {
  const t = job.termination
  const outcome = t === undefined
    ? "failure"
    : t.signal === Termination.Signals.Cancelled
    ? "cancelled"
    : Termination.isSuccess(t)
    ? "success"
    : "failure"
  return Effect.zipRight(
    Metric.increment(
      Metric.tagged(Metric.tagged(jobsFinished, "backend", backend), "outcome", outcome),
    ),
    Effect.suspend(() =>
      tracked.delete(job.id)
        ? Metric.incrementBy(Metric.tagged(jobsTracked, "backend", backend), -1)
        : Effect.void
    ),
  )
}
