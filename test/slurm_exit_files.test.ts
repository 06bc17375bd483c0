/**
 * Completion from exit files and polite polling on the real SLURM of test/services/slurm-up.sh,
 * over the local transport, counted with the `lrms.commands` metric:
 *
 * - with `sacct` and `scontrol` replaced by `/bin/false`, jobs that exit 0, 3 and 7 end with
 *   those codes (from their exit records);
 * - 20 jobs that sleep 20 s on the 8-CPU node (so 12 wait in the queue), awaited together with
 *   the default `queueStatInterval`, cost at most 8 `squeue` calls in all;
 * - a job cancelled (by `Lrms.cancelJob`, or by `scancel` behind the library's back while sacct
 *   is disabled) still ends with its pseudo-signal: the scheduler's word wins over the record.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Termination from "../src/Termination.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { config, slurm, slurmTest } from "./_slurm.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `slurm exit files: ${name}`, ...slurmTest, fn })

/** `sacct` and `scontrol` that always fail: a site without accounting. */
const noAccounting = {
  sacct: "/bin/false",
  scontrol: "/bin/false",
} as Slurm.SlurmConfigInput["commands"]

/** The `lrms.commands` count of one SLURM command so far. */
const commandCount = (command: string) =>
  Effect.map(Metric.snapshot, (pairs) =>
    pairs.reduce((n, p) => {
      const tag = (key: string) => p.metricKey.tags.find((t) => t.key === key)?.value
      return p.metricKey.name === "lrms.commands" && tag("backend") === "slurm" &&
          tag("command") === command
        ? n + (p.metricState as MetricState.MetricState.Counter<number>).count
        : n
    }, 0))

/** A SLURM layer with its own spool directory. */
const withSlurm = <A, E>(
  body: Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>,
  extra: Partial<Slurm.SlurmConfigInput> = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-slurm-exit-")
    const layer = Slurm.layer(config({ ...extra, spooldir: `${dir}/spool` })).pipe(
      Layer.provide(LocalTransport.layer),
      Layer.merge(Auth.none),
    )
    return yield* body.pipe(Effect.provide(layer))
  })

/** Runs a SLURM command directly, as a user would. */
const native = (cmd: string, args: ReadonlyArray<string>) =>
  Effect.promise(() => new Deno.Command(cmd, { args: [...args] }).output())

test("sacct and scontrol disabled: jobs that exit 0, 3 and 7 end with those codes", () =>
  runTest(withSlurm(
    Effect.gen(function* () {
      const apps = yield* Effect.forEach(
        [0, 3, 7],
        (code) =>
          app({ arguments: ["sh", "-c", `echo code ${code}; exit ${code}`], stdout: "out.txt" }),
      )
      const jobs = yield* Effect.forEach(apps, Lrms.submitJob, { concurrency: "unbounded" })
      const sacctBefore = yield* commandCount("sacct")
      const done = yield* Effect.forEach(jobs, (j) => waitFor(j, "120 seconds"), {
        concurrency: "unbounded",
      })
      deepStrictEqual(done.map((j) => j.termination), [0, 3, 7].map((c) => Termination.exited(c)))
      for (const job of done) {
        ok(job.history.some((h) => h.message.includes("exit record")), JSON.stringify(job.history))
        ok(job.usage?.duration !== undefined, "the record's wall time")
      }
      ok(
        (yield* commandCount("sacct")) - sacctBefore <= 1,
        "a failing sacct is asked at most once for usage",
      )
      yield* Effect.forEach(done, Lrms.free, { discard: true })
    }),
    { commands: noAccounting },
  )))

test("20 jobs of 20 s on the 8-CPU node, awaited together: at most 8 squeue calls", () =>
  runTest(withSlurm(
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["sleep", "20"] })
      const started = Date.now()
      const jobs = yield* Effect.forEach(Array.from({ length: 20 }), () => Lrms.submitJob(a), {
        concurrency: "unbounded",
      })
      const before = yield* commandCount("squeue")
      const done = yield* Effect.forEach(
        jobs,
        (j) => Lrms.awaitTermination(j).pipe(Effect.timeout("240 seconds")),
        { concurrency: "unbounded" },
      )
      const squeue = (yield* commandCount("squeue")) - before
      const seconds = (Date.now() - started) / 1000
      console.log(`20 jobs of 20 s: ${squeue} squeue calls in ${seconds.toFixed(0)} s`)
      ok(done.every((j) => Termination.isSuccess(j.termination!)), "all exit 0")
      ok(seconds >= 40, `${seconds} s: some jobs waited in the queue (8 CPUs)`)
      ok(squeue >= 1 && squeue <= 8, `${squeue} squeue calls`)
      yield* Effect.forEach(done, Lrms.free, { discard: true })
    }),
  )))

const untilRunning = (job: Job.Job) =>
  Effect.gen(function* () {
    let j = job
    while (j.state !== "RUNNING") {
      yield* Effect.sleep("300 millis")
      j = yield* Lrms.updateJobState(j)
    }
    return j
  }).pipe(Effect.timeout("120 seconds"))

test("a cancelled job ends with its pseudo-signal, also when scancel ran behind our back", () =>
  runTest(withSlurm(
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["sleep", "300"] })
      const [mine, theirs] = yield* Effect.forEach([a, a], Lrms.submitJob, {
        concurrency: "unbounded",
      })
      const running = yield* Effect.forEach([mine!, theirs!], untilRunning)
      const cancelled = yield* Lrms.cancelJob(running[0]!)
      strictEqual(cancelled.state, "TERMINATED")
      strictEqual(cancelled.termination?.signal, Termination.Signals.Cancelled)
      // cancelled by someone else: SIGTERM reaches the script before it writes any record, and
      // squeue's CANCELLED is the word, after the grace window (no sacct)
      yield* native("scancel", [running[1]!.nativeId!])
      const done = yield* waitFor(running[1]!, "120 seconds")
      deepStrictEqual(
        done.termination,
        Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
      )
      ok(done.history.some((h) => h.message.includes("CANCELLED")), JSON.stringify(done.history))
      yield* Effect.forEach([cancelled, done], Lrms.free, { discard: true })
    }),
    { commands: noAccounting, accountingDelay: "3 seconds", queueStatInterval: "2 seconds" },
  )))

if (slurm !== undefined && slurm.cpus !== 8) {
  console.log(`note: the test node has ${slurm.cpus} CPUs; the squeue bound assumes 8`)
}
