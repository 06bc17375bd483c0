/**
 * The SLURM backend on the real single-node SLURM of test/services/slurm-up.sh (slurmctld,
 * slurmd, slurmdbd with MariaDB), over the local transport: the contract suite, terminations and
 * usage checked against `sacct` itself, walltime, memory, batched polling with counted commands,
 * command overrides and directives.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as SlurmParse from "../backends/slurm/SlurmParse.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import * as RunState from "../src/RunState.ts"
import * as Termination from "../src/Termination.ts"
import { suite } from "./contract/LrmsContract.ts"
import { app, runFailure, runTest, tempDir, waitFor } from "./_effect.ts"
import { counting } from "./_counting.ts"
import { config, localLayer, slurm, slurmTest } from "./_slurm.ts"

suite("slurm+local", {
  makeLayer: ({ dir, maxCores }) =>
    localLayer({ spooldir: `${dir}/spool`, maxCores, maxCoresPerJob: maxCores }),
  sharedResource: true,
  timeout: "120 seconds",
  denoTest: slurmTest,
})

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `slurm: ${name}`, ...slurmTest, fn })

/** Runs a SLURM command directly, as a user would. */
const native = (cmd: string, args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const r = await new Deno.Command(cmd, {
      args: [...args],
      env: SlurmParse.sacctEnv,
      stdout: "piped",
      stderr: "piped",
    }).output()
    return new TextDecoder().decode(r.stdout)
  })

/** What sacct itself says about a job, once its end is recorded. */
const sacctOf = (id: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100; i++) {
      const rows = yield* native("sacct", [
        "-n",
        "-P",
        "-j",
        id,
        "-o",
        "JobID,State,ExitCode,Elapsed,MaxRSS",
      ])
      const lines = rows.trim().split("\n").map((l) => l.split("|"))
      const master = lines.find((l) => l[0] === id)
      if (master !== undefined && !["RUNNING", "PENDING", "COMPLETING"].includes(master[1]!)) {
        return { master, lines }
      }
      yield* Effect.sleep("100 millis")
    }
    throw new Error(`sacct has no end for job ${id}`)
  })

/** A fresh SLURM layer with its own spool, and counts of the commands it runs. */
const withSlurm = <A, E>(
  body: (ctx: { dir: string; counts: Map<string, number> }) => Effect.Effect<
    A,
    E,
    Lrms.Lrms | Auth.Auth
  >,
  extra: Partial<Slurm.SlurmConfigInput> = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-slurm-")
    const counts = new Map<string, number>()
    const layer = Slurm.layer(config({ ...extra, spooldir: `${dir}/spool` })).pipe(
      Layer.provide(counting(counts)),
      Layer.provide(LocalTransport.layer),
      Layer.merge(Auth.none),
    )
    return yield* body({ dir, counts }).pipe(Effect.provide(layer))
  })

test("exit code, elapsed time and max RSS are what sacct says", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({
          // hold ~120 MB for 3 s (sampled every second), then exit 3
          arguments: ["perl", "-e", '$x = "a" x 120_000_000; sleep 3; exit 3'],
          requestedMemory: "512 MiB",
        }),
      )
      const done = yield* waitFor(job)
      strictEqual(done.state, "TERMINATING")
      deepStrictEqual(done.termination, Termination.exited(3))
      const { master, lines } = yield* sacctOf(job.nativeId!)
      strictEqual(master[2], "3:0")
      const usage = done.usage!
      deepStrictEqual(usage.duration, SlurmParse.parseSlurmDuration(master[3]!))
      const maxRss = Math.max(...lines.map((l) => SlurmParse.parseSlurmMemory(l[4] ?? "") ?? 0))
      strictEqual(usage.maxUsedMemory, Math.round(maxRss))
      ok(usage.maxUsedMemory! > 100_000_000, `max RSS ${usage.maxUsedMemory} > 100 MB`)
      ok(Duration.toSeconds(usage.duration!) >= 3, "elapsed covers the 3 s sleep")
      strictEqual(usage.cores, 1)
      ok(typeof usage.extra.slurm_start_time === "string")
      yield* Lrms.free(done)
    })
  )))

test("a job killed by a signal: sacct's 0:9 becomes signal 9", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "kill -9 $$"] }))
      const done = yield* waitFor(job)
      deepStrictEqual(done.termination, Termination.signalled(9))
      strictEqual((yield* sacctOf(job.nativeId!)).master[2], "0:9")
    })
  )))

test("a cancelled job is CANCELLED in sacct and TERMINATED here", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app({ arguments: ["sleep", "300"] }))
      while (job.state === "SUBMITTED") job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      const cancelled = yield* Lrms.cancelJob(job)
      strictEqual(cancelled.state, "TERMINATED")
      strictEqual(cancelled.termination?.signal, Termination.Signals.Cancelled)
      ok((yield* sacctOf(job.nativeId!)).master[1]!.startsWith("CANCELLED"))
      yield* Lrms.free(cancelled)
    })
  )))

test("a job over its walltime ends TIMEOUT: RemoteKill, exit 75, SLURM's message kept", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({ arguments: ["sleep", "600"], requestedWalltime: "1 minute" }),
      )
      const done = yield* waitFor(job, "240 seconds")
      deepStrictEqual(
        done.termination,
        Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
      )
      strictEqual((yield* sacctOf(job.nativeId!)).master[1], "TIMEOUT")
      ok(
        done.history.some((h) => h.message.includes("TIME LIMIT")),
        JSON.stringify(done.history.map((h) => h.message)),
      )
      yield* Lrms.free(done)
    })
  )))

test("asking for more memory than any node has: SubmitRejected, nothing left behind", () =>
  runTest(withSlurm(({ dir }) =>
    Effect.gen(function* () {
      const tooMuch = `${(slurm?.memoryMb ?? 0) + 4096} MiB`
      const err = yield* Effect.flip(
        Lrms.submitJob(yield* app({ arguments: ["true"], requestedMemory: tooMuch })),
      )
      strictEqual(err.reason, "SubmitRejected")
      strictEqual(err.recoverable, false)
      ok(/memory/i.test(err.message), err.message)
      deepStrictEqual([...Deno.readDirSync(`${dir}/spool`)], [], "the job directory is removed")
    })
  )))

test("a job using more memory than it asked for is killed (OUT_OF_MEMORY → signal 9)", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({
          arguments: ["perl", "-e", '$x = "a" x 600_000_000; sleep 20'],
          requestedMemory: "100 MiB",
        }),
      )
      const done = yield* waitFor(job)
      const state = (yield* sacctOf(job.nativeId!)).master[1]!
      strictEqual(state, slurm?.oomState ?? "OUT_OF_MEMORY")
      if (state === "OUT_OF_MEMORY") deepStrictEqual(done.termination, Termination.signalled(9))
      ok(!Termination.isSuccess(done.termination!))
      ok(Duration.toSeconds(done.usage!.duration!) < 20, "killed before its sleep ended")
    })
  )))

test("500 jobs: submitted in a few shell calls, their states in one squeue, cancelled in one scancel", () =>
  runTest(withSlurm(({ counts }) =>
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["true"] })
      const jobs = yield* Effect.forEach(Array.from({ length: 500 }), () => Lrms.submitJob(a), {
        concurrency: "unbounded",
      })
      strictEqual(new Set(jobs.map((j) => j.nativeId)).size, 500)
      const submitCalls = counts.get("submit-script") ?? 0
      ok(submitCalls <= 25, `500 submissions took ${submitCalls} transport calls`)
      counts.clear()
      const polled = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
      // one read of the jobs' exit files, one squeue
      deepStrictEqual(Object.fromEntries(counts), { markers: 1, squeue: 1 })
      ok(polled.every((j) => j.state === "STOPPED"), "held jobs are STOPPED (JobHeldUser)")
      ok(polled.every((j) => j.backendData.nativeReason === "JobHeldUser"))
      counts.clear()
      const cancelled = yield* Effect.forEach(polled, Lrms.cancelJob, {
        concurrency: "unbounded",
      })
      deepStrictEqual(Object.fromEntries(counts), { scancel: 1 })
      ok(cancelled.every((j) => j.state === "TERMINATED"))
      yield* Effect.forEach(cancelled, Lrms.free, { concurrency: 16, discard: true })
    }), { extraDirectives: ["--hold"] })))

test("finished jobs polled together cost one read of their exit files and one sacct (usage)", () =>
  runTest(withSlurm(({ counts }) =>
    Effect.gen(function* () {
      const a = yield* app({ arguments: ["sh", "-c", "exit 7"] })
      const jobs = yield* Effect.forEach(Array.from({ length: 40 }), () => Lrms.submitJob(a), {
        concurrency: "unbounded",
      })
      // wait (without the library) until sacct has all of them
      const ids = jobs.map((j) => j.nativeId!).join(",")
      for (let i = 0; i < 600; i++) {
        const rows = yield* native("sacct", ["-n", "-X", "-P", "-j", ids, "-o", "State"])
        const states = rows.trim().split("\n")
        if (states.length === 40 && states.every((s) => s === "FAILED")) break
        yield* Effect.sleep("200 millis")
      }
      counts.clear()
      const polled = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
      // their ends from their exit records, not from squeue; sacct once, for their usage
      deepStrictEqual(Object.fromEntries(counts), { markers: 1, sacct: 1 })
      ok(polled.every((j) => j.state === "TERMINATING" && j.termination?.exitCode === 7))
      yield* Effect.forEach(polled, Lrms.free, { concurrency: 16, discard: true })
    })
  )))

test("command overrides and extra directives reach sbatch", () =>
  runTest(Effect.gen(function* () {
    const comment = (extra: Partial<Slurm.SlurmConfigInput>) =>
      withSlurm(() =>
        Effect.gen(function* () {
          const job = yield* Lrms.submitJob(yield* app({ arguments: ["true"] }))
          const said = yield* native("squeue", ["-h", "-t", "all", "-j", job.nativeId!, "-o", "%k"])
          yield* Lrms.cancelJob(job)
          return said.trim()
        }), { ...extra, extraDirectives: ["--hold", ...(extra.extraDirectives ?? [])] })
    strictEqual(
      yield* comment({ commands: { sbatch: `sbatch --comment="set by 'override'" # site` } }),
      "set by 'override'",
    )
    strictEqual(yield* comment({ extraDirectives: ["--comment=from-directive"] }), "from-directive")
  })))

test("bad configuration is a ConfigurationError naming the field", async () => {
  const err = await runFailure(
    Effect.gen(function* () {
      return yield* Lrms.Lrms
    }).pipe(
      Effect.provide(localLayer({ spooldir: "/tmp/x", commands: { sbatch: "sbatch 'open" } })),
    ),
  )
  strictEqual(err.reason, "ConfigurationError")
  ok(err.message.includes("commands.sbatch"), err.message)
  const newline = await runFailure(
    Effect.gen(function* () {
      return yield* Lrms.Lrms
    }).pipe(Effect.provide(localLayer({ spooldir: "/tmp/x", extraDirectives: ["a\n#SBATCH b"] }))),
  )
  ok(newline.message.includes("extraDirectives"), newline.message)
})

/** Polls a job until `done` holds (at most 60 s), through the library. */
const pollUntil = (job0: Job.Job, done: (job: Job.Job) => boolean) =>
  Effect.gen(function* () {
    let job = job0
    for (let i = 0; i < 240 && !done(job); i++) {
      ok(!RunState.isDone(job.state), `job ${job.id} ended as ${job.state} first`)
      yield* Effect.sleep("250 millis")
      job = yield* Lrms.updateJobState(job)
    }
    ok(done(job), `job ${job.id} is still ${job.state}`)
    return job
  })

/** A requeued job waits 2 minutes (BeginTime) before it may run again: let it run now. */
const startNow = (id: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 40; i++) {
      const state = (yield* native("squeue", ["-h", "-t", "all", "-j", id, "-o", "%T"])).trim()
      if (state === "PENDING") {
        yield* native("scontrol", ["update", `JobId=${id}`, "StartTime=now"])
        return
      }
      yield* Effect.sleep("250 millis")
    }
    throw new Error(`job ${id} did not get back to PENDING`)
  })

/** Runs a second time (SLURM_RESTART_COUNT ≥ 1) to its end, exit 3; sleeps the first time. */
const secondRunExits3 = app({
  arguments: [
    "sh",
    "-c",
    'if [ "${SLURM_RESTART_COUNT:-0}" -ge 1 ]; then echo "run $SLURM_RESTART_COUNT"; exit 3; fi; ' +
    "echo first; sleep 120",
  ],
  stdout: "out.txt",
})

test("requeue = true: a job requeued by scontrol is SUBMITTED again, the same Job, followed to its real end", () =>
  runTest(withSlurm(() =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* secondRunExits3)
      const running = yield* pollUntil(job, (j) => j.state === "RUNNING")
      const said = yield* native("scontrol", ["requeue", job.nativeId!])
      strictEqual(said.trim(), "")
      const requeued = yield* pollUntil(running, (j) => j.state === "SUBMITTED")
      strictEqual(requeued.id, job.id)
      strictEqual(requeued.nativeId, job.nativeId)
      yield* startNow(job.nativeId!)
      const done = yield* waitFor(requeued)
      deepStrictEqual(done.termination, Termination.exited(3))
      strictEqual(
        Deno.readTextFileSync(`${done.remoteDir}/out.txt`).trim(),
        "run 1",
        "the second run's output",
      )
      yield* Lrms.free(done)
    }), { requeue: true, queueStatInterval: "1 second" })))

/** The preemption tests need the urgent partition and GPUs of slurm-up.sh. */
const preemptTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({
    name: `slurm: ${name}`,
    ...slurmTest,
    ...(slurm !== undefined && (slurm.preemptPartition === undefined || slurm.gpus === 0)
      ? {
        ignore: true,
        name: `slurm: ${name} (no preempting partition or GPUs: rerun slurm-up.sh)`,
      }
      : {}),
    fn,
  })

/**
 * Preempts our job, which holds every GPU of the node: a job of the urgent partition asks for them.
 * SLURM frees room by preempting running jobs of the lowest priority first (priority/basic: the
 * latest submitted) until the urgent job fits: so it waits, first, until no job submitted after
 * ours runs, and only ours can be chosen.
 */
const preempt = (ours: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 240; i++) {
      const running = (yield* native("squeue", ["-h", "-t", "R,CG", "-o", "%A"])).split("\n")
        .map((l) => l.trim()).filter((l) => /^\d+$/.test(l))
      if (running.every((id) => Number(id) <= Number(ours))) break
      yield* Effect.sleep("250 millis")
    }
    return yield* native("sbatch", [
      `--partition=${slurm!.preemptPartition}`,
      `--gpus=${slurm!.gpus}`,
      "--output=/dev/null",
      "--wrap",
      "sleep 1",
    ])
  })

preemptTest(
  "preempted without requeue: PREEMPTED, RemoteKill with exit 75",
  () =>
    runTest(withSlurm(() =>
      Effect.gen(function* () {
        const job = yield* Lrms.submitJob(
          yield* app({ arguments: ["sleep", "120"], gpusPerProcess: slurm!.gpus }),
        )
        yield* pollUntil(job, (j) => j.state === "RUNNING")
        ok(/Submitted batch job \d+/.test(yield* preempt(job.nativeId!)))
        const done = yield* waitFor(job)
        deepStrictEqual(
          done.termination,
          Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
        )
        strictEqual((yield* sacctOf(job.nativeId!)).master[1], "PREEMPTED")
        yield* Lrms.free(done)
      }), { queueStatInterval: "1 second" })),
)

preemptTest(
  "preempted with requeue = true: back in the queue, then its real end",
  () =>
    runTest(withSlurm(() =>
      Effect.gen(function* () {
        const job = yield* Lrms.submitJob(
          yield* app({
            arguments: [
              "sh",
              "-c",
              'if [ "${SLURM_RESTART_COUNT:-0}" -ge 1 ]; then exit 3; fi; sleep 120',
            ],
            gpusPerProcess: slurm!.gpus,
          }),
        )
        const running = yield* pollUntil(job, (j) => j.state === "RUNNING")
        yield* preempt(job.nativeId!)
        const requeued = yield* pollUntil(running, (j) => j.state === "SUBMITTED")
        yield* startNow(job.nativeId!)
        const done = yield* waitFor(requeued)
        deepStrictEqual(done.termination, Termination.exited(3))
        strictEqual(done.usage?.gpus, slurm!.gpus, "every GPU allocated")
        yield* Lrms.free(done)
      }), { requeue: true, queueStatInterval: "1 second" })),
)
