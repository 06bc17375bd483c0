/**
 * The Grid Engine backend on the real Son of Grid Engine of test/services/sge-up.sh, over the
 * local transport: the contract suite, terminations and usage checked against `qacct` itself,
 * walltime, parallel environments, batched polling with counted commands.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Sge from "../backends/sge/Sge.ts"
import * as SgeParse from "../backends/sge/SgeParse.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Termination from "../src/Termination.ts"
import { suite } from "./contract/LrmsContract.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { config, localLayer, sgeTest } from "./_sge.ts"
import { counting } from "./_counting.ts"

suite("sge+local", {
  makeLayer: ({ dir, maxCores }) =>
    localLayer({ spooldir: `${dir}/spool`, maxCores, maxCoresPerJob: maxCores }),
  sharedResource: true,
  timeout: "120 seconds",
  denoTest: sgeTest,
})

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `sge: ${name}`, ...sgeTest, fn })

/**
 * What qacct itself says about a job, once it has the job's record (the library may learn the
 * job's end from its exit record before qacct has it).
 */
const qacctOf = (id: string) =>
  Effect.promise(async () => {
    for (let i = 0; i < 40; i++) {
      const r = await new Deno.Command("qacct", { args: ["-j", id], stdout: "piped" }).output()
      const record = SgeParse.parseQacct(new TextDecoder().decode(r.stdout)).get(id)
      if (record !== undefined) return record
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new Error(`qacct has no record of job ${id}`)
  })

const withSge = <A, E>(
  body: (
    ctx: { dir: string; counts: Map<string, number> },
  ) => Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>,
  extra: Partial<Sge.SgeConfigInput> = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-sge-")
    const counts = new Map<string, number>()
    const layer = Sge.layer(config({ ...extra, spooldir: `${dir}/spool` })).pipe(
      Layer.provide(counting(counts)),
      Layer.provide(LocalTransport.layer),
      Layer.merge(Auth.none),
    )
    return yield* body({ dir, counts }).pipe(Effect.provide(layer))
  })

test("exit code as qacct says; wall time and CPU time (from the exit record) agree with it", () =>
  runTest(withSge(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({ arguments: ["sh", "-c", "sleep 2; exit 3"], requestedMemory: "200 MiB" }),
      )
      const done = yield* waitFor(job)
      deepStrictEqual(done.termination, Termination.exited(3))
      const acct = yield* qacctOf(job.nativeId!)
      deepStrictEqual(acct.termination, done.termination)
      // the end came from the job's exit record (whole seconds, measured inside the job)
      const seconds = (d: Duration.Duration | undefined) => Duration.toSeconds(d ?? Duration.zero)
      ok(Math.abs(seconds(done.usage!.duration) - seconds(acct.usage.duration)) <= 1)
      ok(Math.abs(seconds(done.usage!.cpuTime) - seconds(acct.usage.cpuTime)) <= 1)
      ok(Duration.toSeconds(done.usage!.duration!) >= 2)
      strictEqual(done.usage!.cores, 1)
      yield* Lrms.free(done)
    })
  )))

test("a multi-core job runs in the parallel environment; without one it is refused", () =>
  runTest(Effect.gen(function* () {
    yield* withSge(() =>
      Effect.gen(function* () {
        const done = yield* waitFor(
          yield* Lrms.submitJob(
            yield* app({
              arguments: ["sh", "-c", 'echo "$NSLOTS"'],
              stdout: "n",
              requestedCores: 2,
            }),
          ),
        )
        deepStrictEqual(done.termination, Termination.exited(0))
        strictEqual(done.usage!.cores, 2)
        strictEqual((yield* qacctOf(done.nativeId!)).usage.extra.sge_granted_pe !== "NONE", true)
      })
    )
    const err = yield* withSge(
      () =>
        Effect.flip(
          Effect.flatMap(app({ arguments: ["true"], requestedCores: 2 }), Lrms.submitJob),
        ),
      { defaultPe: undefined },
    ).pipe(Effect.catchAllDefect((d) => Effect.die(d)))
    strictEqual(err.reason, "ConfigurationError")
    ok(err.message.includes("defaultPe"), err.message)
  })))

test("a job over its walltime is killed by Grid Engine: RemoteKill, exit 75", () =>
  runTest(withSge(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({ arguments: ["sleep", "300"], requestedWalltime: "5 seconds" }),
      )
      const done = yield* waitFor(job)
      deepStrictEqual(
        done.termination,
        Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
      )
      ok(Duration.toSeconds(done.usage!.duration!) < 120)
      yield* Lrms.free(done)
    })
  )))

test("a cancelled job is TERMINATED here and killed in qacct", () =>
  runTest(withSge(() =>
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app({ arguments: ["sleep", "300"] }))
      while (job.state === "SUBMITTED") job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      const cancelled = yield* Lrms.cancelJob(job)
      strictEqual(cancelled.state, "TERMINATED")
      yield* Effect.sleep("3 seconds")
      const acct = yield* qacctOf(job.nativeId!)
      ok(acct !== undefined && !Termination.isSuccess(acct.termination), JSON.stringify(acct))
      yield* Lrms.free(cancelled)
    })
  )))

test("100 jobs polled together cost one qstat; finished ones one qacct each", () =>
  runTest(withSge(({ counts }) =>
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["true"] })
      const jobs = yield* Effect.forEach(Array.from({ length: 100 }), () => Lrms.submitJob(a), {
        concurrency: "unbounded",
      })
      ok((counts.get("submit-script") ?? 0) <= 10, `${counts.get("submit-script")} submit calls`)
      counts.clear()
      const polled = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
      strictEqual(counts.get("qstat"), 1)
      ok(polled.every((j) => j.state !== "UNKNOWN"))
      const done = yield* Effect.forEach(polled, (j) => waitFor(j), { concurrency: "unbounded" })
      ok(done.every((j) => j.termination?.exitCode === 0))
      ok((counts.get("qacct") ?? 0) <= 100 + 20, `qacct calls: ${counts.get("qacct")}`)
      yield* Effect.forEach(done, Lrms.free, { concurrency: 16, discard: true })
    })
  )))

/** Runs a Grid Engine command here (as the tests' user), for what the library does not do. */
const sgeCommand = (...args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const r = await new Deno.Command(args[0]!, {
      args: args.slice(1),
      stdout: "piped",
      stderr: "piped",
    })
      .output()
    const text = new TextDecoder()
    return { code: r.code, output: text.decode(r.stdout) + text.decode(r.stderr) }
  })

// Grid Engine kills the cut run only when execd next hears from qmaster (up to its
// load_report_time later): the payload stalls until it is killed, and ends at once in the rerun
// (RESTARTED=1), so the job's end can only be the rerun's.
test("requeue: true: a rescheduled job (qmod -rj) is SUBMITTED again, then followed to its end", () =>
  runTest(withSge(
    () =>
      Effect.gen(function* () {
        let job = yield* Lrms.submitJob(
          yield* app({
            arguments: ["sh", "-c", 'if [ "$RESTARTED" = 1 ]; then exit 4; fi; exec sleep 300'],
          }),
        )
        while (job.state !== "RUNNING") job = yield* Lrms.updateJobState(job)
        const said = yield* sgeCommand("qmod", "-rj", job.nativeId!)
        ok(said.output.includes("rescheduling"), said.output)
        for (let i = 0; i < 120 && job.state === "RUNNING"; i++) {
          yield* Effect.sleep("250 millis")
          job = yield* Lrms.updateJobState(job)
        }
        strictEqual(job.state, "SUBMITTED", "Rq: waiting to run again")
        strictEqual(job.backendData.nativeState, "Rq")
        ok(job.history.some((h) => h.message.includes("Rq (rescheduled)")), "the reason is told")
        const done = yield* waitFor(job)
        deepStrictEqual(done.termination, Termination.exited(4), "the rerun's end")
        yield* Lrms.free(done)
      }),
    { requeue: true, queueStatInterval: "1 second" },
  )))

test("requeue: false (the default): qsub -r n, and Grid Engine refuses to reschedule", () =>
  runTest(withSge(() =>
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app({ arguments: ["sleep", "300"] }))
      while (job.state !== "RUNNING") job = yield* Lrms.updateJobState(job)
      const said = yield* sgeCommand("qmod", "-rj", job.nativeId!)
      ok(said.output.includes("not restartable"), said.output)
      strictEqual((yield* Lrms.updateJobState(job)).state, "RUNNING")
      yield* Lrms.free(yield* Lrms.cancelJob(job)).pipe(Effect.ignore)
    })
  )))
