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

/** Registers the checks for one backend. */
export const checks = (o: RealBatchOptions): void => {
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

  test(
    "a 3 s job that exits 3: exit code 3, at least 2 s long, usage as the scheduler says",
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "sleep 3; exit 3"] }))
      const done = yield* wait(job)
      strictEqual(done.termination?.exitCode, 3, JSON.stringify(done.history))
      strictEqual(done.termination?.signal, 0)
      const seconds = Duration.toSeconds(done.usage?.duration ?? Duration.zero)
      ok(seconds >= 2, `duration ${seconds} s`)
      if (o.usageOf !== undefined) {
        const native = yield* Effect.promise(() => o.usageOf!(done.nativeId!))
        strictEqual(seconds, native.walltime, "walltime as the scheduler reports it")
        strictEqual(
          Duration.toSeconds(done.usage?.cpuTime ?? Duration.zero),
          native.cpu,
          "CPU time as the scheduler reports it",
        )
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
