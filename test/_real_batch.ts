/**
 * The checks every batch backend passes on a real scheduler, beyond the contract suite: real
 * terminations (exit 3 with its duration, signal 9 from inside, the batch system's limit kill,
 * cancel while queued and while running), a request larger than the node refused for good,
 * usage as the scheduler's own command reports it, and batched polling (many jobs, one stat
 * command). Each backend's test file calls {@linkcode checks} with its layer.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as Sink from "effect/Sink"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import * as RunState from "../src/RunState.ts"
import * as Termination from "../src/Termination.ts"
import { Transport } from "../src/Transport.ts"
import { app, type Platform, runTest, tempDir, waitFor } from "./_effect.ts"

/** What the checks need from one backend on one transport. */
export interface RealBatchOptions {
  /** The test names' prefix (`pbs+ssh`). */
  readonly name: string
  /** Deno test options (ignored when the server is down). */
  readonly denoTest: Omit<Deno.TestDefinition, "name" | "fn">
  /** The backend over a counted transport; `dir` is a fresh local directory. */
  readonly makeLayer: (
    dir: string,
    transport: Layer.Layer<Transport, LrmsError, Platform>,
  ) => Layer.Layer<Lrms.Lrms, LrmsError, Platform>
  /** The transport the backend runs its commands over. */
  readonly transport: () => Layer.Layer<Transport, LrmsError, Platform>
  /** The `Auth` for the calls. */
  readonly auth?: Layer.Layer<Auth.Auth, LrmsError, Platform>
  /** The stat command's name (`qstat`, `bjobs`): one call polls every job. */
  readonly statCommand: string
  /** The walltime the limit-kill job asks for (the scheduler's granularity: 5 s, 1 min). */
  readonly walltime: string
  /** Cores the node has: a job asking for more is refused by the scheduler. */
  readonly nodeCores: number
  /** The scheduler's own record of a finished job, for comparing usage (walltime, CPU). */
  readonly usageOf?: (nativeId: string) => Promise<{ walltime: number; cpu: number }>
  /** How long a job may take to end (default 3 minutes). */
  readonly timeout?: Duration.DurationInput
}

const basename = (word: string) => word.split("/").at(-1)!

/** The test registrar of one backend: its tests run on its layer, with transport calls counted. */
const tester = (o: RealBatchOptions) => {
  const counts = new Map<string, number>()
  const counted = (
    inner: Layer.Layer<Transport, LrmsError, Platform>,
  ): Layer.Layer<Transport, LrmsError, Platform> =>
    Layer.effect(
      Transport,
      Effect.map(Transport, (t) => ({
        ...t,
        exec: (argv: ReadonlyArray<string>, options?: Parameters<typeof t.exec>[1]) =>
          Effect.suspend(() => {
            const name = basename(argv[0]!)
            counts.set(name, (counts.get(name) ?? 0) + 1)
            return t.exec(argv, options)
          }),
      })),
    ).pipe(Layer.provide(inner))
  const test = (title: string, body: Effect.Effect<void, unknown, Lrms.Lrms | Auth.Auth>) =>
    Deno.test({
      name: `${o.name}: ${title}`,
      sanitizeOps: false,
      sanitizeResources: false,
      ...o.denoTest,
      fn: () =>
        runTest(Effect.gen(function* () {
          const dir = yield* tempDir("lrms-real-")
          const layer = Layer.merge(o.makeLayer(dir, counted(o.transport())), o.auth ?? Auth.none)
          yield* body.pipe(Effect.provide(layer))
        })),
    })
  const wait = (job: Parameters<typeof waitFor>[0]) => waitFor(job, o.timeout ?? "180 seconds")
  return { counts, test, wait }
}

/** Registers the checks for one backend (the array checks among them). */
export const checks = (o: RealBatchOptions): void => {
  const { counts, test, wait } = tester(o)
  arrayChecks(o)
  test(
    "a 3 s job that exits 3: exit code 3, at least 2 s long, usage agreeing with the scheduler",
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "sleep 3; exit 3"] }))
      const done = yield* wait(job)
      strictEqual(done.termination?.exitCode, 3, JSON.stringify(done.history))
      strictEqual(done.termination?.signal, 0)
      const seconds = Duration.toSeconds(done.usage?.duration ?? Duration.zero)
      ok(seconds >= 2, `duration ${seconds} s`)
      if (o.usageOf !== undefined) {
        // the job's end comes from its exit record, which the job script writes before the
        // scheduler has closed its own record: wait for that record, then compare (the exit
        // record counts whole seconds from inside the job, the scheduler from outside it)
        let native = yield* Effect.promise(() => o.usageOf!(done.nativeId!))
        for (let i = 0; i < 60 && native.walltime === 0; i++) {
          yield* Effect.sleep("500 millis")
          native = yield* Effect.promise(() => o.usageOf!(done.nativeId!))
        }
        ok(
          Math.abs(seconds - native.walltime) <= 1,
          `walltime ${seconds} s vs ${native.walltime} s`,
        )
        const cpu = Duration.toSeconds(done.usage?.cpuTime ?? Duration.zero)
        ok(Math.abs(cpu - native.cpu) <= 1, `CPU time ${cpu} s vs ${native.cpu} s`)
      }
      yield* Lrms.free(done)
    }),
  )

  test(
    "a job that kills itself with signal 9 reports signal 9",
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "kill -9 $$"] }))
      const done = yield* wait(job)
      strictEqual(done.termination?.signal, 9, JSON.stringify(done.termination))
      strictEqual(done.termination?.exitCode, null)
      yield* Lrms.free(done)
    }),
  )

  test(
    "a job that runs past its walltime is killed by the batch system: RemoteKill (122)",
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({ arguments: ["sleep", "600"], requestedWalltime: o.walltime }),
      )
      const done = yield* wait(job)
      strictEqual(
        done.termination?.signal,
        Termination.Signals.RemoteKill,
        JSON.stringify(done.history),
      )
      yield* Lrms.free(done)
    }),
  )

  const untilRunning = (job: Job.Job) =>
    Effect.gen(function* () {
      let j = job
      while (j.state !== "RUNNING") {
        ok(!RunState.isDone(j.state), `job ${j.id} ended before it was seen running`)
        yield* Effect.sleep("500 millis")
        j = yield* Lrms.updateJobState(j)
      }
      return j
    }).pipe(Effect.timeout("120 seconds"))

  test(
    "cancelled while running, and while queued behind it: Cancelled (121)",
    Effect.gen(function* () {
      const running = yield* Lrms.submitJob(
        yield* app({ arguments: ["sleep", "300"], requestedCores: 1 }),
      )
      const runningNow = yield* untilRunning(running)
      // every core of the node, while one is taken: it must wait
      const queued = yield* Lrms.submitJob(
        yield* app({ arguments: ["sleep", "300"], requestedCores: o.nodeCores }),
      )
      const q = yield* Lrms.updateJobState(queued)
      strictEqual(q.state, "SUBMITTED", "the whole-node job waits")
      for (const job of [q, runningNow]) {
        const cancelled = yield* Lrms.cancelJob(job)
        strictEqual(cancelled.state, "TERMINATED")
        strictEqual(cancelled.termination?.signal, Termination.Signals.Cancelled)
        yield* Lrms.free(cancelled)
      }
    }),
  )

  test(
    "more cores than the node has: a definite SubmitRejected, not recoverable",
    Effect.gen(function* () {
      const r = yield* Effect.either(
        Lrms.submitJob(yield* app({ arguments: ["true"], requestedCores: o.nodeCores * 2 })),
      )
      if (r._tag === "Right") {
        // accepted, to wait for ever: take it back before failing
        yield* Effect.flatMap(Lrms.cancelJob(r.right), Lrms.free)
      }
      ok(r._tag === "Left", "a job larger than the node is refused at submission")
      const e = r.left
      strictEqual(e.reason, "SubmitRejected", e.message)
      strictEqual(e.recoverable, false, e.message)
    }),
  )

  test(
    "50 jobs polled at once cost one stat command",
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["sleep", "20"] })
      const jobs = yield* Effect.forEach(Array.from({ length: 50 }), () => Lrms.submitJob(a), {
        concurrency: 10,
      })
      const before = counts.get(o.statCommand) ?? 0
      const polled = yield* Effect.forEach(jobs, (j) => Lrms.updateJobState(j), {
        concurrency: "unbounded",
      })
      strictEqual((counts.get(o.statCommand) ?? 0) - before, 1, `one ${o.statCommand}`)
      ok(polled.every((j) => !RunState.isDone(j.state) || j.termination !== undefined))
      yield* Effect.forEach(polled, (j) => Effect.flatMap(Lrms.cancelJob(j), Lrms.free), {
        concurrency: 10,
        discard: true,
      })
    }),
  )
}

/**
 * Registers the job-array checks for one backend (its dialect has arrays): jobs of one shape
 * submitted at once are one array, and each element is its own job to the end.
 */
export const arrayChecks = (o: RealBatchOptions): void => {
  const { test, wait } = tester(o)
  test(
    "12 jobs of one shape submitted at once: one array, each element its own job to the end",
    Effect.gen(function* () {
      const apps = yield* Effect.forEach(Array.from({ length: 12 }, (_, i) => i), (i) =>
        app({
          arguments: ["sh", "-c", `echo "element ${i} of the array"; exit ${i % 5}`],
          stdout: "out.txt",
        }))
      const before = yield* submitCommands
      const results = yield* Lrms.submitJobs(apps)
      const jobs = results.map((r) => {
        ok(r._tag === "Right", r._tag === "Left" ? r.left.message : "")
        return r.right
      })
      strictEqual((yield* submitCommands) - before, 1, "one submit command for the twelve")
      ok(jobs.every((j) => j.backendData.array !== undefined), "each is an element of the array")
      strictEqual(new Set(jobs.map((j) => j.nativeId)).size, 12, "each has its own id")
      const done = yield* Effect.forEach(jobs, wait, { concurrency: "unbounded" })
      for (const [i, job] of done.entries()) {
        strictEqual(
          job.termination?.exitCode,
          i % 5,
          `${job.nativeId}: ${JSON.stringify(job.history)}`,
        )
        const out = yield* peekText(job, "out.txt")
        strictEqual(out, `element ${i} of the array\n`, `${job.nativeId}'s own stdout`)
      }
      yield* Effect.forEach(done, Lrms.free, { discard: true })
    }),
  )

  test(
    "an element cancelled while queued ends Cancelled; the other elements are untouched",
    Effect.gen(function* () {
      // whole-node elements: one runs, the others wait behind it
      const a = yield* app({ arguments: ["sleep", "300"], requestedCores: o.nodeCores })
      const jobs = (yield* Lrms.submitJobs([a, a, a])).map((r) => {
        ok(r._tag === "Right", r._tag === "Left" ? r.left.message : "")
        return r.right
      })
      const last = yield* Lrms.cancelJob(jobs[2]!)
      strictEqual(last.termination?.signal, Termination.Signals.Cancelled)
      const others = yield* Effect.forEach(jobs.slice(0, 2), Lrms.updateJobState)
      ok(others.every((j) => !RunState.isDone(j.state)), others.map((j) => j.state).join())
      yield* Effect.forEach(others, (j) => Effect.flatMap(Lrms.cancelJob(j), Lrms.free), {
        discard: true,
      })
      yield* Lrms.free(last)
    }),
  )
}

/** The submit commands run so far (`lrms.commands` of `sbatch`, `qsub`, `bsub`). */
const submitCommands = Effect.map(Metric.snapshot, (pairs) =>
  pairs.reduce((n, p) => {
    const command = p.metricKey.tags.find((t) => t.key === "command")?.value ?? ""
    return p.metricKey.name === "lrms.commands" && ["sbatch", "qsub", "bsub"].includes(command)
      ? n + (p.metricState as MetricState.MetricState.Counter<number>).count
      : n
  }, 0))

/** A file of the job directory, as text (through `peek`). */
const peekText = (job: Job.Job, file: string) =>
  Effect.gen(function* () {
    const chunks: Array<Uint8Array> = []
    yield* Lrms.peek(job, file, Sink.forEach((b: Uint8Array) => Effect.sync(() => chunks.push(b))))
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0)
    return new TextDecoder().decode(all)
  })
