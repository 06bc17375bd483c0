/**
 * What every `lrms` command shares: the root command and its options (`--config`, `--store`),
 * the environment a command body runs in (the configured resources and the job store), loading
 * the jobs a command names, the exit status a command ends with, and the one-line renderings of
 * jobs and messages.
 *
 * @module
 */
import { Args, Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Resources from "../backends/Resources.ts"
import { fromDenoError } from "../src/internal/denoError.ts"
import type * as Job from "../src/Job.ts"
import * as JobStore from "../src/JobStore.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import * as Termination from "../src/Termination.ts"

const home = Deno.env.get("HOME") ?? "."

/** A path with a leading `~` replaced by the home directory. */
export const expand = (p: string): string =>
  p === "~" || p.startsWith("~/") ? `${home}${p.slice(1)}` : p

/**
 * Ends the program with an exit status, once whatever had to be said has been said (the
 * teardown of `runMain` turns it into the process's exit code).
 */
export class ExitWith extends Data.TaggedError("ExitWith")<{ readonly code: number }> {}

/** A local file operation as an effect whose failure is a typed error naming the path. */
export const localFile = <A>(
  operation: string,
  path: string,
  f: () => Promise<A>,
): Effect.Effect<A, LrmsError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) => fromDenoError(e, { backend: "cli", operation, path, otherwise: "DataStaging" }),
  })

/** The `lrms` command itself, with the options every subcommand shares. */
export const root = Command.make("lrms", {
  config: Options.text("config").pipe(
    Options.withDefault(Deno.env.get("GC3PIE_CONF") ?? "~/.gc3/gc3pie.conf"),
    Options.withDescription("the gc3pie.conf file describing the resources"),
  ),
  store: Options.text("store").pipe(
    Options.withDefault("~/.effect-lrms/jobs"),
    Options.withDescription("the directory jobs are kept in"),
  ),
})

/** What a command body needs: the configured resources and the job store. */
export type Env = Resources.Resources | JobStore.JobStore

/** Runs a command body with the configured resources and the job store. */
export const withEnv = <A, E>(body: Effect.Effect<A, E, Env>) =>
  Effect.gen(function* () {
    const { config, store } = yield* root
    return yield* body.pipe(
      Effect.provide(
        Layer.merge(Resources.layerFile(expand(config)), JobStore.layer(expand(store))),
      ),
    )
  })

/** Zero or more JOB arguments. */
export const jobsArg = Args.text({ name: "JOB" }).pipe(Args.repeated)

/** One or more JOB arguments. */
export const someJobsArg = Args.text({ name: "JOB" }).pipe(Args.atLeast(1))

/** The stored jobs named (by id or unique prefix), or every stored job. */
export const loadJobs = (
  ids: ReadonlyArray<string>,
): Effect.Effect<ReadonlyArray<Job.Job>, LrmsError, JobStore.JobStore> =>
  Effect.gen(function* () {
    const store = yield* JobStore.JobStore
    if (ids.length > 0) return yield* Effect.forEach(ids, store.get)
    const { jobs, problems } = yield* store.list
    for (const p of problems) yield* Console.error(`warning: ${p.file}: ${p.reason}`)
    return jobs
  })

/** A job id as the tables show it. */
export const short = (id: string): string => id.slice(0, 8)

/** How a job ended, or nothing while it has not. */
export const describeEnd = (job: Job.Job): string =>
  job.termination !== undefined ? Termination.describe(job.termination) : ""

/** The header of the job table. */
export const header: string = [
  "JOB".padEnd(8),
  "RESOURCE".padEnd(12),
  "NATIVE".padEnd(10),
  "STATE".padEnd(11),
  "END",
].join("  ")

/** One row of the job table. */
export const line = (job: Job.Job): string =>
  [
    short(job.id).padEnd(8),
    job.resourceName.padEnd(12),
    (job.nativeId ?? "").padEnd(10),
    job.state.padEnd(11),
    describeEnd(job),
  ].join("  ")

/** Collapses a message to one line. */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " / ").trim()
