/**
 * @internal Submission, exactly once: what a submit command's reply means, and, when the reply was
 * lost, what happened, settled from the submit record the submit script keeps in the job
 * directory (`Script.SubmitRecord`) and the scheduler's jobs by tag, never guessed. Nothing
 * removes the directory of a job that may exist.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Auth } from "../../../src/Auth.ts"
import * as Job from "../../../src/Job.ts"
import type { LrmsShape } from "../../../src/Lrms.ts"
import { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import * as Quantity from "../../../src/Quantity.ts"
import { readFileString } from "../../../src/Transport.ts"
import type { ArraySupport } from "../Dialect.ts"
import * as Script from "../Script.ts"
import { parsePointer } from "./array.ts"
import { type Env, privatePath } from "./env.ts"

/** How long settling a lost submission waits for a submit command that is still running. */
const SETTLE_WAIT = Duration.seconds(30)

/** A submit command's exit code and output, as it ran to its end. */
interface Ran {
  readonly exitCode: number
  readonly output: string
}

/** @internal A submission on its way: the job, its directory, the submit command and when. */
export interface InFlight {
  readonly job0: Job.Job
  readonly jobDir: string
  /** The submit command's name, as the messages say it. */
  readonly program: string
  readonly submittedAt: number
}

/** `SubmitOutcomeUnknown`: the job may exist; its directory is kept for a later reconcile. */
const unknown = (env: Env, { job0: { id: tag }, jobDir }: InFlight, why: string) =>
  new LrmsError({
    reason: "SubmitOutcomeUnknown",
    backend: env.backend,
    operation: "submitJob",
    description:
      `the outcome of submitting job ${tag} to ${env.resource.name} is unknown: ${why}; ` +
      `its directory ${jobDir} is kept: reconcile it later`,
    submission: { resource: env.resource.name, tag, jobDir },
  })

/** Asks the resource again, through the transport's reconnects, a few times. */
const retrying = <A, R>(effect: Effect.Effect<A, LrmsError, R>) =>
  effect.pipe(Effect.retry({
    schedule: Schedule.exponential(Duration.millis(200), 2),
    times: 5,
    while: (e) => e.recoverable,
  }))

const readRecord = (env: Env, jobDir: string) =>
  retrying(
    env.transport.exec(["/bin/sh", "-s"], { stdin: Script.renderRecordScript(jobDir) }).pipe(
      Metrics.countCommand(env.backend, "sh"),
    ),
  ).pipe(Effect.map((r) => Script.parseSubmitRecord(r.stdout)))

/** The scheduler's job id for a tag: `undefined` when it has none, `Cannot` when it cannot tell. */
const findByTag = (env: Env, tag: string) =>
  Effect.gen(function* () {
    const lister = env.dialect.findByTag
    if (lister === undefined) return { _tag: "Cannot", why: "" } as const
    const { user } = yield* env.paths
    const reply = yield* retrying(env.exec(lister.argv(user)))
    const found = lister.parse(reply)
    return typeof found === "string"
      ? { _tag: "Cannot", why: found } as const
      : { _tag: "Asked", id: found.get(tag) } as const
  })

const submitted = ({ job0, jobDir, submittedAt }: InFlight, env: Env, id: string, how: string) =>
  Job.transition(
    Job.update(job0, { nativeId: id, remoteDir: jobDir, backendData: { submittedAt } }),
    "SUBMITTED",
    { message: `Submitted to ${env.resource.name} as ${env.backend} job ${id}${how}` },
  )

/** @internal The job, or why it is not there, from a submit command that ran to its end. */
export const outcome = (
  env: Env,
  sub: InFlight,
  result: Ran,
  how: string,
): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { job0, jobDir, program } = sub
    const output = result.output.trim()
    if (result.exitCode !== 0) {
      yield* env.transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
      return yield* env.fail(
        "SubmitRejected",
        "submitJob",
        `${program} refused the job (exit ${result.exitCode})${
          output !== "" ? `: ${output.slice(0, 2000)}` : ""
        }`,
        {
          recoverable: env.dialect.submitRetryable(output),
          command: program,
          exitCode: result.exitCode,
          stderr: output,
          jobId: job0.id,
        },
      )
    }
    const id = env.dialect.parseJobId(result.output)
    if (id !== undefined) return submitted(sub, env, id, how)
    const tagged = yield* findByTag(env, job0.id).pipe(Effect.orElseSucceed(() => undefined))
    if (tagged?._tag === "Asked" && tagged.id !== undefined) {
      return submitted(sub, env, tagged.id, " (found by its tag)")
    }
    return yield* Effect.fail(unknown(
      env,
      sub,
      `${program} exited 0 but printed no job id: ${output.slice(0, 2000)}`,
    ))
  })

/**
 * A submit command the record says did not end (`Gone`: the directory is gone; `Cut`: the shell
 * was stopped): the job id it printed, else the scheduler's job with the tag, else nothing was
 * submitted when the job surely never started and the scheduler has no such tag.
 */
const interrupted = (
  env: Env,
  sub: InFlight,
  lost: string,
  record: Extract<Script.SubmitRecordState, { readonly _tag: "Gone" | "Cut" }>,
): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { backend } = env
    const { job0, jobDir, program } = sub
    const id = record._tag === "Cut" ? env.dialect.parseJobId(record.output) : undefined
    if (id !== undefined) return submitted(sub, env, id, " (reconciled)")
    const tagged = yield* findByTag(env, job0.id).pipe(
      Effect.mapError((e) => unknown(env, sub, `${lost}, and ${e.message}`)),
    )
    if (tagged._tag === "Asked" && tagged.id !== undefined) {
      return submitted(sub, env, tagged.id, " (found by its tag)")
    }
    const ran = record._tag === "Cut" && record.ran
    if (tagged._tag === "Asked" && !ran) {
      // the shell that ran the command is dead (or the directory is gone, script and all), the
      // job never started, and the scheduler has no job with its tag
      yield* env.transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
      return yield* env.fail(
        "ConnectionLost",
        "submitJob",
        `${lost}; ${program} ${
          record._tag === "Cut" ? "was stopped" : "lost its job directory"
        } before ${backend} took the job (no job carries its tag): nothing was submitted`,
        { recoverable: true },
      )
    }
    return yield* Effect.fail(unknown(
      env,
      sub,
      ran
        ? `${lost}; the job has started (its scheduler files exist) but ${backend} no ` +
          `longer lists its tag`
        : `${lost}; ${program} was stopped mid-way and ${backend} cannot be asked ` +
          `for the job's tag${
            tagged._tag === "Cannot" && tagged.why !== "" ? ` (${tagged.why})` : ""
          }`,
    ))
  })

/** @internal Settles a submission whose reply was lost, from the resource's own records. */
export const settle = (
  env: Env,
  sub: InFlight,
  lost: string,
): Effect.Effect<Job.Job, LrmsError, Auth> =>
  Effect.gen(function* () {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(SETTLE_WAIT)
    while (true) {
      const record = yield* readRecord(env, sub.jobDir).pipe(
        Effect.mapError((e) => unknown(env, sub, `${lost}, and ${e.message}`)),
      )
      if (record === undefined) {
        return yield* Effect.fail(unknown(env, sub, `${lost}; unreadable submit record`))
      }
      switch (record._tag) {
        case "Claimed":
          yield* env.transport.remove(sub.jobDir, { recursive: true }).pipe(Effect.ignore)
          return yield* env.fail(
            "ConnectionLost",
            "submitJob",
            `${lost}; the submit command had not run, and now will not (checked on ` +
              `${env.transport.host}): nothing was submitted`,
            { recoverable: true },
          )
        case "Done":
          return yield* outcome(env, sub, record, " (reconciled)")
        case "Running":
          if ((yield* Clock.currentTimeMillis) < deadline) {
            yield* Effect.sleep(Duration.millis(500))
            continue
          }
          return yield* Effect.fail(unknown(
            env,
            sub,
            `${lost}, and ${sub.program} is still running after ` +
              Quantity.formatDuration(SETTLE_WAIT),
          ))
        case "Gone":
        case "Cut":
          return yield* interrupted(env, sub, lost, record)
      }
    }
  })

/**
 * @internal An element of a submitted array: its own job (`job0`, in `jobDir`), with its element
 * id from the array's id and its index.
 */
export const elementJob = (
  env: Env,
  array: Job.Job,
  support: ArraySupport,
  job0: Job.Job,
  jobDir: string,
  index: number,
): Job.Job => {
  const base = array.nativeId!
  const id = support.elementId(base, index)
  return Job.transition(
    Job.update(job0, {
      nativeId: id,
      remoteDir: jobDir,
      backendData: {
        submittedAt: array.backendData.submittedAt ?? null,
        array: { id: base, index, dir: array.remoteDir ?? null },
      },
    }),
    "SUBMITTED",
    {
      message: `Submitted to ${env.resource.name} as ${env.backend} job ${id} ` +
        `(element ${index} of array ${base})`,
    },
  )
}

/** The array and index an element's job script names, when the job was an array's element. */
const arrayOf = (env: Env, jobDir: string) =>
  env.dialect.arrays === undefined
    ? Effect.succeed(undefined)
    : readFileString(env.transport, privatePath(jobDir, Script.Files.script)).pipe(
      Effect.map((text) => parsePointer(text.slice(0, 4096))),
      Effect.orElseSucceed(() => undefined),
    )

/** @internal Settles an earlier submission by its tag: `NotFound` when nothing was submitted. */
export const reconcile = (env: Env): LrmsShape["reconcile"] => (submission, app) =>
  Effect.gen(function* () {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(submission.tag)) {
      return yield* env.fail("InvalidArgument", "reconcile", `bad tag ${submission.tag}`)
    }
    const jobDir = submission.jobDir ?? `${(yield* env.paths).spool}/job.${submission.tag}`
    const job0 = Job.make({
      id: submission.tag,
      resourceName: env.resource.name,
      backend: env.backend,
      application: app,
    })
    const submittedAt = yield* Clock.currentTimeMillis
    const pointer = yield* arrayOf(env, jobDir)
    const support = env.dialect.arrays
    // an element of an array: the array's submission is settled, then the element found in it
    const arrayTag = pointer === undefined
      ? undefined
      : /\/job\.([^/]+)$/.exec(pointer.arrayDir)?.[1]
    const sub: InFlight = pointer !== undefined && arrayTag !== undefined
      ? {
        job0: Job.make({
          id: arrayTag,
          resourceName: env.resource.name,
          backend: env.backend,
          application: app,
        }),
        jobDir: pointer.arrayDir,
        program: "the submit command",
        submittedAt,
      }
      : { job0, jobDir, program: "the submit command", submittedAt }
    return yield* settle(env, sub, "reconciling an earlier submission").pipe(
      Effect.map((settled) =>
        pointer !== undefined && support !== undefined && sub.jobDir !== jobDir
          ? elementJob(env, settled, support, job0, jobDir, pointer.index)
          : settled
      ),
      Effect.tapError((e) =>
        sub.jobDir !== jobDir && e.reason !== "SubmitOutcomeUnknown"
          ? env.transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
          : Effect.void
      ),
      Effect.catchIf(
        (e) => e.reason === "ConnectionLost" || e.reason === "SubmitRejected",
        (e) =>
          env.fail(
            "NotFound",
            "reconcile",
            `job ${submission.tag} is not on ${env.resource.name}: ` + (e.description ?? e.message),
          ),
      ),
    )
  })
