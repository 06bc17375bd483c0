/**
 * `lrms results` and `lrms peek`: the commands that copy a job's files, its outputs into a local
 * directory or a byte range of one file to standard output (`--follow`: while the job runs).
 *
 * @module
 */
import { Args, Command, Options } from "@effect/cli"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Resources from "../../backends/Resources.ts"
import * as JobStore from "../../src/JobStore.ts"
import * as Lrms from "../../src/Lrms.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as RunState from "../../src/RunState.ts"
import { localFile, withEnv } from "../env.ts"

/** `lrms results JOB [--dir DIR] [--overwrite] [--changed-only]` */
export const results = Command.make("results", {
  job: Args.text({ name: "JOB" }),
  dir: Options.text("dir").pipe(Options.optional, Options.withDescription("default: ./<job name>")),
  overwrite: Options.boolean("overwrite"),
  changedOnly: Options.boolean("changed-only"),
}, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    const job = yield* store.get(o.job)
    const dir = Option.getOrElse(o.dir, () => job.application.outputDir ?? job.application.jobname)
    yield* localFile("results", dir, () => Deno.mkdir(dir, { recursive: true }))
    const { job: fetched, report } = yield* resources.forJob(job, () =>
      Lrms.retrieve(job, dir, { overwrite: o.overwrite, changedOnly: o.changedOnly }))
    yield* store.put(fetched)
    for (const c of report.copied) {
      yield* Console.log(`copied  ${c.local} (${c.bytes} bytes)`)
    }
    for (const s of report.skipped) {
      yield* Console.log(`kept    ${s.local} (${s.reason})`)
    }
    for (const m of report.missing) {
      yield* Console.error(`missing ${m}`)
    }
  })))

/**
 * The end of a file, found with `has(k)` (whether the file has a byte at offset `k`), for a
 * tail of `tail` bytes: 0 when the file is shorter than the tail, else its size, by probing
 * single bytes (doubling, then halving: a few reads, none of the file's text).
 */
const fileEnd = <E, R>(
  tail: number,
  has: (offset: number) => Effect.Effect<boolean, E, R>,
): Effect.Effect<number, E, R> =>
  Effect.gen(function* () {
    if (!(yield* has(tail - 1))) return 0 // shorter than the window: all of it, from the start
    let lo = tail // the file has at least lo bytes
    let hi = 2 * tail // ... and fewer than hi, once has(hi - 1) is false
    while (hi <= Number.MAX_SAFE_INTEGER / 2 && (yield* has(hi - 1))) {
      lo = hi
      hi *= 2
    }
    let b = hi - 1
    while (lo < b) {
      const mid = Math.floor((lo + b) / 2)
      if (yield* has(mid)) lo = mid + 1
      else b = mid
    }
    return lo
  })

/** `lrms peek JOB FILE [--offset N] [--size N] [--follow]` */
export const peek = Command.make("peek", {
  job: Args.text({ name: "JOB" }),
  file: Args.text({ name: "FILE" }),
  offset: Options.integer("offset").pipe(Options.withDefault(0)),
  size: Options.integer("size").pipe(Options.optional),
  follow: Options.boolean("follow").pipe(
    Options.withDescription("keep printing while the job runs"),
  ),
}, (o) =>
  withEnv(Effect.gen(function* () {
    const resources = yield* Resources.Resources
    const store = yield* JobStore.JobStore
    let job = yield* store.get(o.job)
    const out = Sink.forEach((chunk: Uint8Array) => Effect.promise(() => Deno.stdout.write(chunk)))
    const size = Option.getOrUndefined(o.size)
    const read = (
      offset: number,
      size: number | undefined,
      target: typeof out | typeof Sink.drain = out,
    ): Effect.Effect<number, LrmsError> =>
      resources.forJob(job, (l) =>
        l.peek(job, o.file, target, { offset, ...(size !== undefined ? { size } : {}) })).pipe(
          // following a job that has not written the file yet: wait for it
          Effect.catchIf(
            (e) =>
              o.follow && e.reason === "NotFound" && !RunState.isDone(job.state),
            () => Effect.succeed(0),
          ),
        )
    let offset = o.offset
    if (o.follow && offset < 0) {
      // the last -offset bytes, then only what is appended: a follow needs the position where
      // that window ends, and peek tells bytes written, not the file's size. Find the size,
      // print the window before it, and go on from there: each byte is printed once.
      const tail = -offset
      const end = yield* fileEnd(tail, (k) => Effect.map(read(k, 1, Sink.drain), (n) => n > 0))
      const start = Math.max(0, end - tail)
      const length = end === 0 ? tail : end - start
      offset = start + (yield* read(start, size === undefined ? length : Math.min(size, length)))
    }
    for (;;) {
      const n = yield* read(offset, size)
      if (!o.follow) return
      offset += n
      if (RunState.isDone(job.state) && n === 0) return
      yield* Effect.sleep("1 second")
      job = yield* resources.forJob(job, (l) => l.updateJobState(job))
      yield* store.put(job)
    }
  })))
