/**
 * @internal Submitting a job: its directory under the spool directory with the staged inputs and
 * the job script, then the submit command, run in that directory (in one shell with the other
 * submissions of the same moment). A refusal removes the directory; a lost reply is settled.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Application } from "../../../src/Application.ts"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import * as Staging from "../../../src/internal/staging.ts"
import * as Script from "../Script.ts"
import type { Calls } from "./calls.ts"
import { type Env, privatePath } from "./env.ts"
import { outcome, settle } from "./settle.ts"

/** The job directory with its inputs and job script; the submit command for it. */
const prepareJob = (env: Env, app: Application, jobDir: string) =>
  Effect.gen(function* () {
    const scriptPath = privatePath(jobDir, Script.Files.script)
    const submit = env.dialect.submit({
      app,
      resource: env.resource,
      jobDir,
      scriptPath,
      schedulerOutput: privatePath(jobDir, Script.Files.schedulerOutput),
      schedulerError: privatePath(jobDir, Script.Files.schedulerError),
    })
    yield* Staging.makeJobDirectory(
      env.transport,
      env.fileSystem,
      app,
      jobDir,
      Script.PRIVATE_DIR,
      env.backend,
    )
    yield* env.transport.writeFile(
      scriptPath,
      Script.renderJobScript({
        app,
        jobDir,
        directives: submit.directives,
        prologue: env.config.prologue,
        epilogue: env.config.epilogue,
      }),
      { mode: 0o755 },
    )
    return { argv: env.command(submit.argv), name: submit.argv[0]! }
  })

/** @internal Submits a job, exactly once. */
export const submitJob = (env: Env, calls: Calls): LrmsShape["submitJob"] => (app, options) =>
  Effect.gen(function* () {
    const problem = env.dialect.validate?.(app)
    if (problem !== undefined) return yield* env.fail("ConfigurationError", "submitJob", problem)
    const { spool } = yield* env.paths
    const job0 = Job.make({
      resourceName: env.resource.name,
      backend: env.backend,
      application: app,
      ...(options?.id !== undefined ? { id: options.id } : {}),
    })
    const jobDir = `${spool}/job.${job0.id}`
    const { argv, name } = yield* prepareJob(env, app, jobDir).pipe(
      Effect.onExit((exit) =>
        exit._tag === "Failure"
          ? env.transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
          : Effect.void
      ),
    )
    // Once the submit command runs, the job must not be forgotten: no interruption until its id
    // is recorded (or the refusal is known).
    return yield* Effect.uninterruptible(Effect.gen(function* () {
      const sub = { job0, jobDir, program: argv[0]!, submittedAt: yield* Clock.currentTimeMillis }
      const result = yield* Effect.either(calls.submit({ cwd: jobDir, argv, name }))
      if (result._tag === "Right" && result.right !== undefined) {
        return yield* outcome(env, sub, result.right, "")
      }
      const lost = result._tag === "Left"
        ? `the submit call failed (${result.left.message})`
        : `the connection to ${env.transport.host} ended before ${argv[0]} answered`
      return yield* settle(env, sub, lost)
    }))
  })
