/**
 * The batch flow's decisions, driven by scripted scheduler replies over the in-memory transport
 * (unit tests: the real SLURM runs in slurm.test.ts). The grace window, its restart when
 * information comes back (GC3Pie kept the first failure time forever) and the RemoteError it
 * ends with, a controller that cannot be asked, a queue without accounting, refused submissions
 * and cancel replies.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import fc from "fast-check"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { type ExecResult, Transport } from "../src/Transport.ts"
import * as Termination from "../src/Termination.ts"
import * as MemoryTransport from "../src/testing/MemoryTransport.ts"
import { runFailure, runTest } from "./_effect.ts"

interface Scripted {
  sbatch: ExecResult | "submitted"
  squeue: ExecResult
  sacct: ExecResult
  scancel: ExecResult
}

const ok0 = (stdout = ""): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: "" })
const failed = (exitCode: number, stderr: string): ExecResult => ({
  exitCode,
  signal: null,
  stdout: "",
  stderr,
})

const setup = (delay = "300 millis") => {
  const replies: Scripted = {
    sbatch: "submitted",
    squeue: ok0(),
    sacct: ok0(),
    scancel: ok0(),
  }
  let nextId = 100
  const transport = MemoryTransport.make({
    exec: (argv, options) => {
      if (argv[0] === "id") return ok0("alice\n")
      if (argv[0] === "/bin/sh" && argv[1] === "-s") {
        // the submit script: answer each sbatch line with the scripted reply and its marker
        const script = String(options.stdin ?? "")
        const lines = script.split("\n").filter((l) => l.includes("printf"))
        const out = lines.map((line, i) => {
          const token = /printf '\\n%s %s %s\\n' '([a-z0-9]+)'/.exec(line)![1]
          const r = replies.sbatch === "submitted"
            ? ok0(`Submitted batch job ${nextId++}\n`)
            : replies.sbatch
          return `${r.stdout}${r.stderr}\n${token} ${i} ${r.exitCode}\n`
        })
        return ok0(out.join(""))
      }
      const r = replies[argv[0] as "squeue" | "sacct" | "scancel"]
      return r ?? failed(127, `${argv[0]}: command not found`)
    },
  })
  const layer = Slurm.layer({
    name: "scripted",
    architecture: "x86_64",
    maxCores: 8,
    maxMemoryPerCore: "1 GiB",
    maxWalltime: "1 hour",
    spooldir: "/spool",
    accountingDelay: delay,
    // every poll asks the scripted queue (the pace is tested in batch_polling.test.ts)
    queueStatInterval: "0 seconds",
  }).pipe(Layer.provide(Layer.succeed(Transport, transport)), Layer.merge(Auth.none))
  return { replies, transport, layer }
}

const app = Effect.orDie(Application.make({ arguments: ["true"], stdout: "out.txt" }))
const sacctRow = (id: string, state: string, exit: string) =>
  ok0(
    `${id}|${state}|${exit}|00:00:05|00:00:01|1|||2026-11-24T01:00:00|2026-11-24T01:00:01|2026-11-24T01:00:06\n`,
  )

Deno.test("grace window: kept, closed when the queue lists the job again, then RemoteError with the reason", async () => {
  const { replies, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app)
      strictEqual(job.nativeId, "100")
      strictEqual(job.state, "SUBMITTED")
      // not in squeue, nothing in sacct, no exit record: kept as it is, the window opens
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED")
      const opened = job.backendData.graceSince
      ok(typeof opened === "number")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.backendData.graceSince, opened, "the window does not move while it lasts")
      // the queue answers again within the window: the window is closed
      replies.squeue = ok0("100^RUNNING^None\n")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      strictEqual(job.backendData.graceSince, null)
      // gone again later: a new window, not the first one's remainder (GC3Pie's quirk)
      yield* Effect.sleep("20 millis")
      replies.squeue = ok0()
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      ok((job.backendData.graceSince as number) > (opened as number))
      // the window passes with no word from accounting and no exit record: RemoteError
      yield* Effect.sleep("350 millis")
      const lost = yield* Lrms.updateJobState(job)
      strictEqual(lost.state, "TERMINATING")
      deepStrictEqual(lost.termination, Termination.signalled(Termination.Signals.RemoteError))
      const said = lost.history.at(-2)!.message
      ok(said.includes("accounting has no record") && said.includes("no exit record"), said)
      // accounting is asked once more as the window closes: had it caught up, it would say how
      replies.sacct = sacctRow("100", "COMPLETED", "0:0")
      const done = yield* Lrms.updateJobState(job)
      strictEqual(done.state, "TERMINATING")
      deepStrictEqual(done.termination, Termination.exited(0))
      strictEqual(done.usage?.cores, 1)
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("a controller that cannot be asked: recoverable CommandFailed, unless sacct has the end", async () => {
  const { replies, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app)
      replies.squeue = failed(
        1,
        "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n",
      )
      replies.sacct = sacctRow("100", "RUNNING", "0:0")
      const err = yield* Effect.flip(Lrms.updateJobState(job))
      strictEqual(err.reason, "CommandFailed")
      strictEqual(err.recoverable, true)
      ok(err.message.includes("Unable to contact slurm controller"), err.message)
      ok(err.message.includes("accounting says RUNNING"), err.message)
      replies.sacct = sacctRow("100", "FAILED", "2:0")
      const done = yield* Lrms.updateJobState(job)
      strictEqual(done.state, "TERMINATING")
      deepStrictEqual(done.termination, Termination.exited(2))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("no accounting: the queue's final state is used once the window has passed", async () => {
  const { replies, layer } = setup("100 millis")
  await runTest(
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app)
      replies.squeue = ok0("100^COMPLETED^None\n")
      replies.sacct = failed(1, "sacct: error: Slurm accounting storage is disabled\n")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "accounting gets its chance first")
      yield* Effect.sleep("150 millis")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "TERMINATING")
      deepStrictEqual(job.termination, Termination.exited(0))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("the grace window runs on the Clock: a TestClock moves it, with no real waiting", async () => {
  const { replies, layer } = setup("10 minutes")
  const started = performance.now()
  await runTest(
    Effect.gen(function* () {
      let job = yield* Lrms.submitJob(yield* app)
      replies.squeue = ok0("100^COMPLETED^None\n")
      replies.sacct = failed(1, "sacct: error: Slurm accounting storage is disabled\n")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "the window opens")
      yield* TestClock.adjust("9 minutes")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "9 of 10 minutes: still waiting for accounting")
      yield* TestClock.adjust("2 minutes")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "TERMINATING", "past the window: the queue's final state")
      deepStrictEqual(job.termination, Termination.exited(0))
    }).pipe(Effect.provide(layer), Effect.provide(TestContext.TestContext)),
  )
  ok(performance.now() - started < 5000, "11 minutes of window took no real time")
})

Deno.test("a refused submission removes its job directory; a reply without id keeps it, unknown", async () => {
  const { replies, transport, layer } = setup()
  const refused = await runFailure(
    Effect.gen(function* () {
      replies.sbatch = failed(1, "sbatch: error: Batch job submission failed: Invalid account\n")
      return yield* Lrms.submitJob(yield* app)
    }).pipe(Effect.provide(layer)),
  )
  strictEqual(refused.reason, "SubmitRejected")
  strictEqual(refused.recoverable, false)
  ok(refused.message.includes("Invalid account"), refused.message)
  deepStrictEqual([refused.command, refused.exitCode], ["sbatch", 1], "the refusal as data")
  ok(refused.stderr?.includes("Invalid account") && refused.jobId !== undefined)
  deepStrictEqual([...transport.snapshot("/spool").keys()], [])
  const busy = await runFailure(
    Effect.gen(function* () {
      replies.sbatch = failed(
        1,
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n",
      )
      return yield* Lrms.submitJob(yield* app)
    }).pipe(Effect.provide(layer)),
  )
  strictEqual(busy.recoverable, true, "a busy controller may take it later")
  const noId = await runFailure(
    Effect.gen(function* () {
      replies.sbatch = ok0("sbatch: site banner only\n")
      return yield* Lrms.submitJob(yield* app)
    }).pipe(Effect.provide(layer)),
  )
  // exit 0 without an id: the job may be queued, and no job carries its tag in squeue's list
  // (the scripted squeue lists nothing) yet that list cannot prove a job never was: unknown
  strictEqual(noId.reason, "SubmitOutcomeUnknown")
  strictEqual(noId.recoverable, false)
  ok(noId.submission !== undefined && noId.submission.jobDir.startsWith("/spool/job."))
  ok(noId.message.includes("kept"), noId.message)
  ok(transport.snapshot("/spool").size > 0, "the directory of a job that may exist is kept")
})

Deno.test("the job directory holds the inputs and the script; the script names the payload", async () => {
  const { transport, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app)
      const script = new TextDecoder().decode(transport.readFile(`${job.remoteDir}/.lrms/job.sh`))
      ok(script.startsWith("#!/bin/sh\n"))
      ok(script.includes(`cd '${job.remoteDir}' || exit 126`))
      ok(script.includes("(exec 'true' </dev/null >'out.txt' 2>/dev/null)"))
      const sbatch = transport.execCalls.find((c) => c.argv[0] === "/bin/sh")!
      ok(String(sbatch.options.stdin).includes(`'--output=${job.remoteDir}/.lrms/scheduler.out'`))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("cancel: a refusal is logged (the job may have ended); a missing scancel fails", async () => {
  const { replies, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* app)
      replies.scancel = failed(
        1,
        "scancel: error: Kill job error on job id 100: Job/step already completing or completed\n",
      )
      const cancelled = yield* Lrms.cancelJob(job)
      strictEqual(cancelled.state, "TERMINATED")
      ok(cancelled.history.some((h) => h.message.includes("already completing")))
      replies.scancel = failed(127, "sh: scancel: not found\n")
      const err = yield* Effect.flip(Lrms.cancelJob(job))
      strictEqual(err.reason, "CommandFailed")
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("property: the squeue reply parser never throws", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.string(),
      fc.string(),
      (exitCode, stdout, stderr) => {
        const r = Slurm.parseStatReply({ exitCode, stdout, stderr })
        ok(r._tag === "Listed" || r._tag === "Failed")
      },
    ),
  )
})
