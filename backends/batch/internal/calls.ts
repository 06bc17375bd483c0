/**
 * @internal The scheduler calls the batch flow makes in batches: submissions made in the same
 * moment run in one `/bin/sh`, the markers of every job directory polled in the same moment are
 * read by one `/bin/sh` (counted as `markers`), the stat command is asked through the queue
 * watch the resource shares (one answer per interval for every caller of a resource and
 * credential, see `queueWatch`), and every accounting and cancel request of the same moment is
 * one command per credential (ids chunked for the command line).
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Auth } from "../../../src/Auth.ts"
import * as Batcher from "../../../src/internal/batcher.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import type { AccountingRecord, ManyJobsCommand, Reply, StatResult } from "../Dialect.ts"
import * as Script from "../Script.ts"
import type { Env } from "./env.ts"
import * as SubmitRate from "./submitRate.ts"
import * as ExitRecord from "./exitRecord.ts"
import * as QueueWatch from "./queueWatch.ts"

/** @internal What the stat command says about one job. */
export type StatOutcome = QueueWatch.StatOutcome

/** @internal What accounting says of a job, and whether an accounting command answered for it. */
export interface Accounted {
  readonly record: AccountingRecord | undefined
  /** Some accounting command ran and exited 0 for the job: its silence means "not yet". */
  readonly answered: boolean
}

/** @internal A submit command's exit code and output, or `undefined` when its reply was lost. */
export type SubmitReply = { readonly exitCode: number; readonly output: string } | undefined

/** @internal The batched calls of one resource. */
export interface Calls {
  readonly submit: (run: Script.SubmitRun) => Effect.Effect<SubmitReply, LrmsError, Auth>
  /** A job directory's start marker and exit record (every directory of the moment: one call). */
  readonly markers: (jobDir: string) => Effect.Effect<ExitRecord.Markers, LrmsError, Auth>
  /** What the shared queue watch says of a job; `notBefore`: see `QueueWatch.judge`. */
  readonly stat: (
    id: string,
    notBefore: number,
  ) => Effect.Effect<QueueWatch.Observed, LrmsError, Auth>
  /** Stops watching a job that ended. */
  readonly settled: (id: string) => Effect.Effect<void, never, Auth>
  readonly accounting: (id: string) => Effect.Effect<Accounted, LrmsError, Auth>
  /**
   * Accounting's word on a job whose exit record says it ended, for its usage: `undefined` when
   * not asked (`usageFromAccounting` off, only per-job accounting commands, or accounting failed
   * to answer in the last ten minutes) or when it did not answer.
   */
  readonly usage: (id: string) => Effect.Effect<Accounted | undefined, LrmsError, Auth>
  readonly cancel: (id: string) => Effect.Effect<Reply, LrmsError, Auth>
}

/** Random hex, for the submit script's markers. */
const token = () => `lrms${crypto.randomUUID().replaceAll("-", "")}`

/** One shell runs every submit command of the batch: one call, counted as the command. */
const submitter = (env: Env) =>
  Effect.flatMap(
    SubmitRate.make(env.config.maxSubmitsPerMinute),
    (rate) =>
      Batcher.make<Script.SubmitRun, SubmitReply, LrmsError>({
        name: "Batch.submit",
        window: Duration.millis(2),
        maxBatch: 100,
        missing: undefined,
        // in turns of as many submit commands as `maxSubmitsPerMinute` allows, one shell each
        run: (runs) => SubmitRate.inTurns(rate, runs, (turn) => submitShell(env, turn)),
      }),
  )

/** One shell runs the submit commands in turn; each is counted as a scheduler call. */
const submitShell = (env: Env, runs: ReadonlyArray<Script.SubmitRun>) => {
  const t = token()
  const name = runs[0]?.name ?? runs[0]?.argv[0] ?? "submit"
  return env.transport.exec(["/bin/sh", "-s"], { stdin: Script.renderSubmitScript(t, runs) }).pipe(
    Metrics.countCommand(env.backend, name),
    Effect.tap(() => Metrics.countMore(env.backend, name, runs.length - 1)),
    Effect.map((r): ReadonlyMap<Script.SubmitRun, SubmitReply> => {
      const results = Script.parseSubmitOutput(t, runs.length, r.stdout)
      return new Map(runs.map((run, i) => [run, results[i]]))
    }),
  )
}

/** The markers of every job directory polled in the same moment: one `/bin/sh`. */
const markers = (env: Env) =>
  Batcher.make<string, ExitRecord.Markers, LrmsError>({
    name: "Batch.markers",
    window: Duration.millis(5),
    maxBatch: 5000,
    missing: {},
    run: (dirs) => {
      const t = token()
      const script = ExitRecord.renderReadScript(
        t,
        dirs.map((dir) => `${dir}/${Script.PRIVATE_DIR}`),
      )
      return env.transport.exec(["/bin/sh", "-s"], { stdin: script }).pipe(
        Metrics.countCommand(env.backend, "markers"),
        Effect.map((reply) => {
          const found = ExitRecord.parseMarkers(t, dirs.length, reply.stdout)
          return new Map(dirs.map((dir, i) => [dir, found[i] ?? {}]))
        }),
      )
    },
  })

/** Asks the stat command about some ids, switching to the fallback once it is unsupported. */
const statAsker = (env: Env) => {
  const { dialect, fail, exec } = env
  // set once the scheduler has said it does not understand the stat command
  const statFallback = { used: false }
  const { mine } = dialect.stat
  return (ids: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      // more ids than one call takes: the user's whole listing, in one call, when the dialect
      // has one (the user's other jobs are listed too, and ignored)
      const listing = ids.length > dialect.maxIds && mine !== undefined
        ? mine((yield* env.paths).user)
        : undefined
      const ask = (command: ManyJobsCommand<StatResult>) =>
        Effect.gen(function* () {
          const argv = listing ?? command.argv(ids)
          if (argv === undefined) {
            return yield* fail("InvalidArgument", "updateJobState", `bad job id in ${ids}`)
          }
          return command.parse(yield* exec(argv, command.env), ids)
        })
      const { fallback } = dialect.stat
      let result = yield* ask(statFallback.used && fallback ? fallback : dialect.stat)
      if (result._tag === "Failed" && result.unsupported === true && fallback !== undefined) {
        statFallback.used = true
        result = yield* ask(fallback)
      }
      if (result._tag === "Failed") {
        const failed: StatOutcome = { _tag: "Failed", message: result.message }
        return new Map(ids.map((id) => [id, failed]))
      }
      return new Map(
        [...result.jobs].map(([id, record]) => [id, { _tag: "Found", record } as StatOutcome]),
      )
    })
}

/** The stat command, through the queue watch every `Lrms` of the resource shares. */
const watch = (env: Env) =>
  QueueWatch.make({
    key: [env.backend, env.transport.host, env.resource.name].join("\u0000"),
    pace: QueueWatch.paceOf(env.config.queueStatInterval, env.config.queueStatMaxInterval),
    maxIds: env.dialect.stat.mine !== undefined ? Number.MAX_SAFE_INTEGER : env.dialect.maxIds,
    ask: statAsker(env),
  })

type Source = ManyJobsCommand<ReadonlyMap<string, AccountingRecord>>

/** The accounting sources in order, for the jobs no earlier source has the end of. */
const accounting = (
  env: Env,
  name: string,
  sources: ReadonlyArray<Source>,
  gate?: { readonly open: () => boolean; readonly failed: () => void },
) =>
  Batcher.make<string, Accounted, LrmsError>({
    name,
    window: Duration.millis(5),
    maxBatch: env.dialect.maxIds,
    missing: { record: undefined, answered: false },
    run: (ids) =>
      Effect.gen(function* () {
        const found = new Map<string, AccountingRecord>()
        const answered = new Set<string>()
        for (const source of sources) {
          const left = ids.filter((id) => found.get(id)?.state !== "TERMINATING")
          if (left.length === 0) break
          const perCall = source.idsPerCall ?? left.length
          const chunks: Array<ReadonlyArray<string>> = []
          for (let i = 0; i < left.length; i += perCall) chunks.push(left.slice(i, i + perCall))
          yield* Effect.forEach(chunks, (chunk) =>
            Effect.gen(function* () {
              const argv = source.argv(chunk)
              if (argv === undefined || (gate !== undefined && !gate.open())) return
              const reply = yield* env.exec(argv, source.env)
              if (reply.exitCode !== 0) return gate?.failed()
              for (const id of chunk) answered.add(id)
              for (const [id, record] of source.parse(reply, chunk)) {
                if (!found.has(id) || record.state === "TERMINATING") found.set(id, record)
              }
            }), { concurrency: 8, discard: true })
        }
        return new Map(ids.map((id) => [id, { record: found.get(id), answered: answered.has(id) }]))
      }),
  })

/** How long accounting is not asked for usage after it failed to answer: ten minutes. */
const USAGE_PAUSE = 10 * 60_000

/**
 * Accounting for the usage of jobs whose exit record says they ended: only the sources that
 * answer for many jobs in one call (`sacct`, `bacct`; not `qacct -j` or `tracejob`, one per job),
 * and not for ten minutes after they failed to answer (a site without accounting).
 */
const usage = (env: Env) =>
  Effect.gen(function* () {
    const cheap = env.dialect.accounting.filter((source) => source.idsPerCall === undefined)
    let failedAt: number | undefined
    // once a call fails, the other calls of the same poll are not made either
    let refused = false
    const ask = yield* accounting(env, "Batch.usage", cheap, {
      open: () => !refused,
      failed: () => void (refused = true),
    })
    return (id: string): Effect.Effect<Accounted | undefined, LrmsError, Auth> =>
      Effect.gen(function* () {
        if (!env.config.usageFromAccounting || cheap.length === 0) return undefined
        const now = yield* Clock.currentTimeMillis
        if (failedAt !== undefined && now - failedAt < USAGE_PAUSE) return undefined
        refused = false
        const got = yield* ask(id)
        failedAt = got.answered ? undefined : now
        return got.answered ? got : undefined
      })
  })

/** The cancel command for many jobs; every job gets the one reply, and is no longer watched. */
const cancel = (env: Env, queue: QueueWatch.QueueWatch) =>
  Batcher.make<string, Reply, LrmsError>({
    name: "Batch.cancel",
    window: Duration.millis(5),
    maxBatch: env.dialect.maxIds,
    missing: { exitCode: 0, stdout: "", stderr: "" },
    run: (ids) =>
      Effect.gen(function* () {
        const argv = env.dialect.cancel.argv(ids)
        if (argv === undefined) {
          return yield* env.fail("InvalidArgument", "cancelJob", `bad job id in ${ids}`)
        }
        const reply = yield* env.exec(argv)
        yield* Effect.forEach(ids, queue.settled, { discard: true })
        return new Map(ids.map((id) => [id, reply]))
      }),
  })

/** @internal The batched calls of one resource, for the scope's lifetime. */
export const makeCalls = (env: Env): Effect.Effect<Calls, never, Scope.Scope> =>
  Effect.flatMap(watch(env), (queue) =>
    Effect.all({
      submit: submitter(env),
      markers: markers(env),
      stat: Effect.succeed(queue.stat),
      settled: Effect.succeed(queue.settled),
      accounting: accounting(env, "Batch.accounting", env.dialect.accounting),
      usage: usage(env),
      cancel: cancel(env, queue),
    }))
