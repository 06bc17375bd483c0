/**
 * `lrms submit`: builds an application from the command line, submits it to the first resource
 * that takes it and keeps the job in the store; with `--wait`, follows it to its end.
 *
 * @module
 */
import { Args, Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Resources from "../../backends/Resources.ts"
import * as Application from "../../src/Application.ts"
import * as Job from "../../src/Job.ts"
import * as JobStore from "../../src/JobStore.ts"
import * as Lrms from "../../src/Lrms.ts"
import { isAmbiguous, LrmsError } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as RunState from "../../src/RunState.ts"
import * as Termination from "../../src/Termination.ts"
import { describeEnd, ExitWith, expand, oneLine, short, withEnv } from "../env.ts"

/** An option that may be left out. */
const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.withDescription(description))

/** An option that may be given any number of times. */
const repeatedText = (name: string, description: string) =>
  Options.text(name).pipe(Options.repeated, Options.withDescription(description))

const options = {
  resource: optionalText("resource", "submit to this resource only"),
  cores: Options.integer("cores").pipe(Options.withDefault(1)),
  memory: optionalText("memory", "memory for the whole job, e.g. 4GB"),
  walltime: optionalText("walltime", "e.g. 2h, 01:30:00"),
  input: repeatedText("input", "a local file or directory to stage"),
  output: repeatedText("output", "a file the job writes, to fetch"),
  stdout: Options.text("stdout").pipe(Options.optional),
  stderr: Options.text("stderr").pipe(Options.optional),
  join: Options.boolean("join").pipe(Options.withDescription("stderr into the stdout file")),
  stdin: Options.text("stdin").pipe(Options.optional),
  env: repeatedText("env", "NAME=value"),
  name: Options.text("name").pipe(Options.optional),
  wait: Options.boolean("wait").pipe(
    Options.withDescription(
      "wait for the end, showing progress; exit status 1 when the job does not succeed " +
        "(a non-zero exit code or a signal)",
    ),
  ),
  command: Args.text({ name: "COMMAND" }).pipe(Args.atLeast(1)),
}

/** The command line of `submit`, parsed. */
type SubmitLine = Command.Command.ParseConfig<typeof options>

/** The application the command line describes (before `Application.make` checks it). */
const applicationInput = (
  o: SubmitLine,
): Effect.Effect<Application.ApplicationInput, LrmsError> =>
  Effect.gen(function* () {
    const environment: Record<string, string> = {}
    for (const kv of o.env) {
      const eq = kv.indexOf("=")
      if (eq <= 0) {
        return yield* new LrmsError({
          reason: "InvalidArgument",
          backend: "cli",
          operation: "submit",
          description: `--env ${kv}: expected NAME=value`,
        })
      }
      environment[kv.slice(0, eq)] = kv.slice(eq + 1)
    }
    return {
      arguments: o.command,
      inputs: o.input.map((p) => (p.startsWith("/") ? p : `${Deno.cwd()}/${p}`)),
      outputs: o.output,
      environment,
      requestedCores: o.cores,
      join: o.join,
      ...(Option.isSome(o.memory) ? { requestedMemory: o.memory.value } : {}),
      ...(Option.isSome(o.walltime) ? { requestedWalltime: o.walltime.value } : {}),
      ...(Option.isSome(o.stdout) ? { stdout: o.stdout.value } : {}),
      ...(Option.isSome(o.stderr) ? { stderr: o.stderr.value } : {}),
      ...(Option.isSome(o.stdin) ? { stdin: expand(o.stdin.value) } : {}),
      ...(Option.isSome(o.name) ? { jobname: o.name.value } : {}),
    }
  })

/**
 * A submission whose outcome is unknown: the job may exist, so it is kept in the store (NEW,
 * with its directory) for `status` to ask the resource again and attach it; exit status 1.
 * Any other failure is the command's.
 */
const keepUnknown = (error: LrmsError, app: Application.Application) =>
  Effect.gen(function* () {
    if (!isAmbiguous(error) || error.submission === undefined) return yield* Effect.fail(error)
    const store = yield* JobStore.JobStore
    const submission = error.submission
    const pending = Job.log(
      Job.update(
        Job.make({
          id: submission.tag,
          resourceName: submission.resource,
          backend: error.backend,
          application: app,
        }),
        { remoteDir: submission.jobDir },
      ),
      error.message,
    )
    yield* store.put(pending)
    yield* Console.error(
      `error: the outcome of the submission is unknown: job ${submission.tag} may be queued ` +
        `on ${submission.resource}; its directory ${submission.jobDir} is kept; run \`lrms status\` ` +
        `later to reconcile it`,
    )
    yield* Console.error(`  (${oneLine(error.message)})`)
    return yield* Effect.fail(new ExitWith({ code: 1 }))
  })

/**
 * Follows a job to its end, showing each change of state (and, on a terminal, a status line
 * whose elapsed time keeps moving); exit status 1 unless the job succeeded.
 */
const follow = (job: Job.Job) =>
  Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const started = Date.now()
    const elapsed = () => Quantity.formatDuration(Duration.millis(Date.now() - started))
    const tty = Deno.stderr.isTerminal()
    const progress = (j: Job.Job) =>
      Console.error(
        `${tty ? "\r\x1b[K" : ""}${new Date().toISOString().slice(11, 19)} ${short(j.id)} ` +
          `${j.state} after ${elapsed()}` + (RunState.isDone(j.state) ? `: ${describeEnd(j)}` : ""),
      )
    let current = job
    const ticker = yield* Effect.fork(
      Effect.repeat(
        Effect.sync(() => {
          if (!tty) return
          Deno.stderr.writeSync(
            new TextEncoder().encode(
              `\r\x1b[K${short(current.id)} ${current.state} for ${elapsed()}`,
            ),
          )
        }),
        Schedule.spaced("1 second"),
      ),
    )
    const done = yield* resources.forJob(job, () =>
      Lrms.awaitTermination(job, {
        onChange: (j) =>
          Effect.sync(() => (current = j)).pipe(
            Effect.zipRight(store.put(j)),
            Effect.zipRight(progress(j)),
            Effect.orDie,
          ),
      })).pipe(Effect.ensuring(Fiber.interrupt(ticker)))
    if (tty) yield* Console.error("")
    yield* store.put(done)
    yield* Console.log(`${done.id} ${done.state}: ${describeEnd(done)}`)
    // the job's failure is the command's: scripts can test `lrms submit --wait`
    if (done.termination === undefined || !Termination.isSuccess(done.termination)) {
      return yield* Effect.fail(new ExitWith({ code: 1 }))
    }
  })

/** `lrms submit [options] -- COMMAND ARGS...` */
export const submit = Command.make("submit", options, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const app = yield* Application.make(yield* applicationInput(o))
    const resource = Option.getOrUndefined(o.resource)
    const submitted = yield* Effect.either(
      resources.submit(app, resource !== undefined ? { resource } : {}),
    )
    if (Either.isLeft(submitted)) return yield* keepUnknown(submitted.left, app)
    const { job, tried } = submitted.right
    for (const t of tried) yield* Console.error(`skipped ${t.name}: ${t.reason}`)
    yield* store.put(job)
    yield* Console.log(`${job.id} submitted to ${job.resourceName} as ${job.nativeId}`)
    if (o.wait) yield* follow(job)
  }))).pipe(
    Command.withDescription(
      "submit a job to the first resource that takes it; with --wait, wait for its end and exit " +
        "1 unless it succeeded",
    ),
  )
