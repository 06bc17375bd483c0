/**
 * @internal The scheduler calls the batch flow makes in batches: submissions made in the same
 * moment run in one `/bin/sh`, and every stat, accounting and cancel request of the same moment
 * is one command per credential (ids chunked for the command line).
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Auth } from "../../../src/Auth.ts"
import * as Batcher from "../../../src/internal/batcher.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import type {
  AccountingRecord,
  ManyJobsCommand,
  Reply,
  StatRecord,
  StatResult,
} from "../Dialect.ts"
import * as Script from "../Script.ts"
import type { Env } from "./env.ts"

/** @internal What the stat command says about one job. */
export type StatOutcome =
  | { readonly _tag: "Found"; readonly record: StatRecord }
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Failed"; readonly message: string }

/** @internal A submit command's exit code and output, or `undefined` when its reply was lost. */
export type SubmitReply = { readonly exitCode: number; readonly output: string } | undefined

/** @internal The batched calls of one resource. */
export interface Calls {
  readonly submit: (run: Script.SubmitRun) => Effect.Effect<SubmitReply, LrmsError, Auth>
  readonly stat: (id: string) => Effect.Effect<StatOutcome, LrmsError, Auth>
  readonly accounting: (id: string) => Effect.Effect<AccountingRecord | undefined, LrmsError, Auth>
  readonly cancel: (id: string) => Effect.Effect<Reply, LrmsError, Auth>
}

const absent: StatOutcome = { _tag: "Absent" }

/** Random hex, for the submit script's markers. */
const token = () => `lrms${crypto.randomUUID().replaceAll("-", "")}`

/** One shell runs every submit command of the batch: one call, counted as the command. */
const submitter = (env: Env) =>
  Batcher.make<Script.SubmitRun, SubmitReply, LrmsError>({
    name: "Batch.submit",
    window: Duration.millis(2),
    maxBatch: 100,
    missing: undefined,
    run: (runs) => {
      const t = token()
      return env.transport.exec(["/bin/sh", "-s"], { stdin: Script.renderSubmitScript(t, runs) })
        .pipe(
          Metrics.countCommand(env.backend, runs[0]?.name ?? runs[0]?.argv[0] ?? "submit"),
          Effect.map((r) => {
            const results = Script.parseSubmitOutput(t, runs.length, r.stdout)
            return new Map(runs.map((run, i) => [run, results[i]]))
          }),
        )
    },
  })

/** The stat command for many jobs, switching to the dialect's fallback once it is unsupported. */
const stat = (env: Env) => {
  const { dialect, fail, exec } = env
  // set once the scheduler has said it does not understand the stat command
  const statFallback = { used: false }
  return Batcher.make<string, StatOutcome, LrmsError>({
    name: "Batch.stat",
    window: Duration.millis(5),
    maxBatch: dialect.maxIds,
    missing: absent,
    run: (ids) =>
      Effect.gen(function* () {
        const ask = (command: ManyJobsCommand<StatResult>) =>
          Effect.gen(function* () {
            const argv = command.argv(ids)
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
          const failed: StatOutcome = result
          return new Map(ids.map((id) => [id, failed]))
        }
        return new Map(
          [...result.jobs].map(([id, record]) => [id, { _tag: "Found", record } as StatOutcome]),
        )
      }),
  })
}

/** The accounting sources in order, for the jobs no earlier source has the end of. */
const accounting = (env: Env) =>
  Batcher.make<string, AccountingRecord | undefined, LrmsError>({
    name: "Batch.accounting",
    window: Duration.millis(5),
    maxBatch: env.dialect.maxIds,
    missing: undefined,
    run: (ids) =>
      Effect.gen(function* () {
        const found = new Map<string, AccountingRecord>()
        for (const source of env.dialect.accounting) {
          const left = ids.filter((id) => found.get(id)?.state !== "TERMINATING")
          if (left.length === 0) break
          const perCall = source.idsPerCall ?? left.length
          const chunks: Array<ReadonlyArray<string>> = []
          for (let i = 0; i < left.length; i += perCall) chunks.push(left.slice(i, i + perCall))
          yield* Effect.forEach(chunks, (chunk) =>
            Effect.gen(function* () {
              const argv = source.argv(chunk)
              if (argv === undefined) return
              const reply = yield* env.exec(argv, source.env)
              if (reply.exitCode !== 0) return
              for (const [id, record] of source.parse(reply, chunk)) {
                if (!found.has(id) || record.state === "TERMINATING") found.set(id, record)
              }
            }), { concurrency: 8, discard: true })
        }
        return found
      }),
  })

/** The cancel command for many jobs; every job gets the one reply. */
const cancel = (env: Env) =>
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
        return new Map(ids.map((id) => [id, reply]))
      }),
  })

/** @internal The batched calls of one resource, for the scope's lifetime. */
export const makeCalls = (env: Env): Effect.Effect<Calls, never, Scope.Scope> =>
  Effect.all({
    submit: submitter(env),
    stat: stat(env),
    accounting: accounting(env),
    cancel: cancel(env),
  })
