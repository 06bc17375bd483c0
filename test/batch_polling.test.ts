/**
 * Completion from exit files and polling an admin would accept, in the shared batch flow, on a
 * scripted SLURM over the in-memory transport (the job directories are in memory; a test writes a
 * job's exit record there as the job script would). Counted: the transport calls by command.
 * Time is a `TestClock` wherever the interval matters.
 *
 * - finished jobs cost one marker read per poll, and nothing of the scheduler;
 * - the queue is asked once per interval, one answer shared by every fiber and by two `Lrms`
 *   instances of the same resource and credential; a job submitted after the answer keeps its
 *   state; the pace doubles while nothing changes and drops back when something does;
 * - a job that left the queue with no exit record: grace window, accounting, then `RemoteError`;
 *   a payload killed by a signal: the scheduler's word wins, the record's when it has none;
 * - a requeued job is followed through its new run; a start marker makes a waiting job run;
 * - 50 cancels cost one `scancel`; the submit rate limit is a token bucket on the clock.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as QueueWatch from "../backends/batch/internal/queueWatch.ts"
import * as SubmitRate from "../backends/batch/internal/submitRate.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Metrics from "../src/Metrics.ts"
import * as Termination from "../src/Termination.ts"
import { type ExecResult, Transport } from "../src/Transport.ts"
import * as MemoryTransport from "../src/testing/MemoryTransport.ts"
import { recording, runTest } from "./_effect.ts"

const ok0 = (stdout = ""): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: "" })
const failed = (exitCode: number, stderr: string): ExecResult => ({
  exitCode,
  signal: null,
  stdout: "",
  stderr,
})
const noAccounting = failed(1, "sacct: error: Slurm accounting storage is disabled\n")

/** The scripted scheduler: the queue by id (`STATE^REASON`), sacct's reply, calls counted. */
interface Scheduler {
  readonly queue: Map<string, string>
  /** The controller does not answer. */
  down: boolean
  sacct: (ids: ReadonlyArray<string>) => ExecResult
  readonly calls: Map<string, number>
}

const quoted = /'((?:[^']|'\\'')*)'/g
const unquote = (s: string) => s.replaceAll("'\\''", "'")

/** Answers the marker-reading script from the in-memory files, as /bin/sh would. */
const readMarkers = (transport: MemoryTransport.MemoryTransport, script: string): string => {
  const token = unquote(/echo '([^']*)'\n/.exec(script)![1]!)
  const loop = /for lrms_d in (.*); do/.exec(script)
  const dirs = loop === null ? [] : [...loop[1]!.matchAll(quoted)].map((m) => unquote(m[1]!))
  const first = (path: string) => {
    const bytes = transport.readFile(path)
    return bytes === undefined ? undefined : new TextDecoder().decode(bytes).split("\n")[0]
  }
  const lines = dirs.flatMap((d) => {
    const started = first(`${d}/started`)
    const exit = first(`${d}/exit`)
    return [
      token,
      ...(started !== undefined ? [`started ${started}`] : []),
      ...(exit !== undefined ? [`exit ${exit}`] : []),
    ]
  })
  return [...lines, `${token} end`, ""].join("\n")
}

const scripted = (host = "memory") => {
  const sched: Scheduler = {
    queue: new Map(),
    down: false,
    sacct: () => noAccounting,
    calls: new Map(),
  }
  let nextId = 100
  const count = (name: string) => sched.calls.set(name, (sched.calls.get(name) ?? 0) + 1)
  const transport: MemoryTransport.MemoryTransport = MemoryTransport.make({
    host,
    exec: (argv, options) => {
      if (argv[0] === "id") return ok0("alice\n")
      const stdin = String(options.stdin ?? "")
      if (argv[0] === "/bin/sh" && stdin.includes("lrms_markers")) {
        count("markers")
        return ok0(readMarkers(transport, stdin))
      }
      if (argv[0] === "/bin/sh" && stdin.includes("lrms_submit")) {
        count("sbatch")
        const tokens = [...stdin.matchAll(/printf '\\n%s %s %s\\n' '([a-z0-9]+)' (\d+)/g)]
        return ok0(
          tokens.map((m) => `Submitted batch job ${nextId++}\n\n${m[1]} ${m[2]} 0\n`).join(""),
        )
      }
      const ids = (argv.find((a) => a.startsWith("--jobs=")) ?? "=").split("=")[1]!.split(",")
      count(argv[0]!)
      if (argv[0] === "squeue" && sched.down) {
        return failed(1, "slurm_load_jobs error: Unable to contact slurm controller\n")
      }
      if (argv[0] === "squeue") {
        return ok0(
          ids.flatMap((id) => {
            const s = sched.queue.get(id)
            return s === undefined ? [] : [`${id}^${s}`]
          }).join("\n"),
        )
      }
      if (argv[0] === "sacct") return sched.sacct(ids)
      if (argv[0] === "scancel") return ok0()
      return failed(127, `${argv[0]}: command not found`)
    },
  })
  return { sched, transport }
}

const config = (extra: Partial<Slurm.SlurmConfigInput>): Slurm.SlurmConfigInput => ({
  name: "scripted-polling",
  architecture: "x86_64",
  maxCores: 8,
  maxMemoryPerCore: "1 GiB",
  maxWalltime: "1 hour",
  spooldir: "/spool",
  accountingDelay: "30 seconds",
  queueStatInterval: "10 seconds",
  arrays: false,
  ...extra,
})

const layerOn = (transport: MemoryTransport.MemoryTransport, extra = {}) =>
  Slurm.layer(config(extra)).pipe(Layer.provide(Layer.succeed(Transport, transport)))

const setup = (extra: Partial<Slurm.SlurmConfigInput> = {}) => {
  const { sched, transport } = scripted()
  return {
    sched,
    transport,
    layer: Layer.merge(layerOn(transport, extra), Auth.none),
  }
}

const app = (args: ReadonlyArray<string> = ["true"]) =>
  Effect.orDie(Application.make({ arguments: [...args], stdout: "out.txt" }))

const submitMany = (n: number) =>
  Effect.flatMap(app(), (a) =>
    Effect.forEach(Array.from({ length: n }), () => Lrms.submitJob(a), {
      concurrency: "unbounded",
    }))

const pollAll = (jobs: ReadonlyArray<Job.Job>) =>
  Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })

/** Writes a job's exit record (and start marker) where its job script would. */
const writeExit = (
  transport: MemoryTransport.MemoryTransport,
  job: Job.Job,
  status: number,
  run = 1,
) => {
  transport.seedFile(`${job.remoteDir}/.lrms/started`, `start=${1000 * run} host=node${run}\n`)
  transport.seedFile(
    `${job.remoteDir}/.lrms/exit`,
    `status=${status} start=${1000 * run} end=${1000 * run + 42} cpu=0m1.000s+0m0.500s\n`,
  )
}

const counts = (sched: Scheduler) => Object.fromEntries([...sched.calls].sort())

const withClock = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.provide(TestContext.TestContext))

// =============================================================================
// Completion from exit files
// =============================================================================

Deno.test("1,000 finished jobs, sacct disabled: one marker read per poll, every exit code right", async () => {
  const { sched, transport, layer } = setup({ usageFromAccounting: false })
  await runTest(
    Effect.gen(function* () {
      const jobs = yield* submitMany(1000)
      jobs.forEach((job, i) => writeExit(transport, job, i % 5))
      sched.calls.clear()
      const markersBefore = (yield* Metric.value(
        Metric.tagged(Metric.tagged(Metrics.commands, "backend", "slurm"), "command", "markers"),
      )).count
      const done = yield* pollAll(jobs)
      deepStrictEqual(counts(sched), { markers: 1 })
      const markersAfter = (yield* Metric.value(
        Metric.tagged(Metric.tagged(Metrics.commands, "backend", "slurm"), "command", "markers"),
      )).count
      strictEqual(markersAfter - markersBefore, 1, "lrms.commands counts the marker read")
      done.forEach((job, i) => {
        strictEqual(job.state, "TERMINATING")
        deepStrictEqual(job.termination, Termination.exited(i % 5))
        deepStrictEqual(job.usage?.duration, Duration.seconds(42))
        deepStrictEqual(job.usage?.cpuTime, Duration.millis(1500))
        strictEqual(job.usage?.extra.slurm_host, "node1")
      })
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("usage from accounting when it is cheap: sacct's figures, the record's exit code; a failing sacct is not asked again", async () => {
  const { sched, transport, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const [a, b] = yield* submitMany(2)
      writeExit(transport, a!, 0)
      sched.sacct = (ids) =>
        ok0(
          ids.map((id) =>
            `${id}|COMPLETED|0:0|00:00:44|00:00:02|4|2048K|4096K|2026-11-24T01:00:00|` +
            `2026-11-24T01:00:01|2026-11-24T01:00:45\n`
          ).join(""),
        )
      sched.calls.clear()
      const done = yield* Lrms.updateJobState(a!)
      deepStrictEqual(counts(sched), { markers: 1, sacct: 1 })
      deepStrictEqual(done.termination, Termination.exited(0))
      strictEqual(done.usage?.maxUsedMemory, 2048 * 1024, "sacct's MaxRSS")
      strictEqual(Duration.toMillis(done.usage!.duration!), 44_000, "sacct's Elapsed")
      strictEqual(done.usage?.cores, 4)
      // accounting disabled: the job ends at once with its record's usage, and the next job's
      // end does not ask accounting again
      sched.sacct = () => noAccounting
      writeExit(transport, b!, 3)
      sched.calls.clear()
      const first = yield* Lrms.updateJobState(b!)
      deepStrictEqual(counts(sched), { markers: 1, sacct: 1 })
      deepStrictEqual(first.termination, Termination.exited(3))
      deepStrictEqual(first.usage?.duration, Duration.seconds(42))
      const [c] = yield* submitMany(1)
      writeExit(transport, c!, 4)
      sched.calls.clear()
      const second = yield* Lrms.updateJobState(c!)
      deepStrictEqual(counts(sched), { markers: 1 })
      deepStrictEqual(second.termination, Termination.exited(4))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("accounting that lags: the job waits for it within accountingDelay, then ends with its record", async () => {
  const { sched, transport, layer } = setup({ accountingDelay: "20 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      const [job] = yield* submitMany(1)
      writeExit(transport, job!, 6)
      sched.sacct = () => ok0("")
      const waiting = yield* Lrms.updateJobState(job!)
      strictEqual(waiting.state, "RUNNING", "it ran; its end waits for accounting's figures")
      yield* TestClock.adjust("21 seconds")
      const done = yield* Lrms.updateJobState(waiting)
      strictEqual(done.state, "TERMINATING")
      deepStrictEqual(done.termination, Termination.exited(6))
      deepStrictEqual(done.usage?.duration, Duration.seconds(42))
    })).pipe(Effect.provide(layer)),
  )
})

// =============================================================================
// One answer per interval, shared
// =============================================================================

Deno.test("the queue is asked once per interval, for every fiber; a job submitted after the answer keeps its state", async () => {
  const { sched, layer } = setup({ queueStatInterval: "10 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      const jobs = yield* submitMany(50)
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      sched.calls.clear()
      let polled = yield* pollAll(jobs)
      polled = yield* pollAll(polled)
      polled = yield* pollAll(polled)
      strictEqual(sched.calls.get("squeue"), 1, "three polls of 50 jobs, one squeue")
      strictEqual(sched.calls.get("markers"), 3, "one marker read per poll")
      ok(polled.every((j) => j.state === "RUNNING"))
      // a job submitted now: the answer is older than it, so it is not judged absent
      const [late] = yield* submitMany(1)
      const kept = yield* Lrms.updateJobState(late!)
      strictEqual(kept.state, "SUBMITTED")
      strictEqual(kept.backendData.graceSince, undefined, "no grace window opened")
      strictEqual(sched.calls.get("squeue"), 1)
      yield* TestClock.adjust("9 seconds")
      yield* pollAll(polled)
      strictEqual(sched.calls.get("squeue"), 1, "9 s of 10: still the same answer")
      yield* TestClock.adjust("2 seconds")
      sched.queue.set(late!.nativeId!, "PENDING^Priority")
      const both = yield* pollAll([...polled, kept])
      strictEqual(sched.calls.get("squeue"), 2)
      strictEqual(both.at(-1)!.backendData.nativeReason, "Priority", "the late job is asked now")
      ok(sched.calls.get("sacct") === undefined, "nothing left the queue: no accounting")
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("the one squeue is a span of its own (Batch.stat), linked to every poll it answers", async () => {
  const { sched, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const jobs = yield* submitMany(5)
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      const { spans } = yield* recording(pollAll(jobs))
      const stats = spans.filter((s) => s.name === "Batch.stat")
      strictEqual(stats.length, 1)
      const polls = spans.filter((s) => s.name === "Lrms.updateJobState").map((s) => s.spanId)
      strictEqual(polls.length, 5)
      deepStrictEqual(stats[0]!.links.map((l) => l.span.spanId).sort(), polls.sort())
      strictEqual(stats[0]!.attributes.get("lrms.batch.size"), 5)
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("two Lrms instances of one resource and credential share one answer", async () => {
  const { sched, transport } = scripted()
  await runTest(
    withClock(Effect.gen(function* () {
      const lrms1 = Context.get(yield* Layer.build(layerOn(transport)), Lrms.Lrms)
      const lrms2 = Context.get(yield* Layer.build(layerOn(transport)), Lrms.Lrms)
      const a = yield* app()
      const jobs = yield* Effect.forEach(Array.from({ length: 20 }), () => lrms1.submitJob(a), {
        concurrency: "unbounded",
      })
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      sched.calls.clear()
      const polled = yield* Effect.forEach(
        jobs,
        (j, i) => (i % 2 === 0 ? lrms1 : lrms2).updateJobState(j),
        { concurrency: "unbounded" },
      )
      yield* Effect.forEach(polled, (j) => lrms2.updateJobState(j), { concurrency: "unbounded" })
      strictEqual(sched.calls.get("squeue"), 1)
      ok(polled.every((j) => j.state === "RUNNING"))
    })).pipe(Effect.provide(Auth.none)),
  )
})

Deno.test("adaptive pace: doubles while nothing changes (10, 20, 40 s), back to 10 s after a change", () => {
  const pace = QueueWatch.paceOf(Duration.seconds(10), undefined)
  deepStrictEqual(pace, { floor: 10_000, ceiling: 40_000 })
  strictEqual(QueueWatch.nextInterval(pace, 10_000, false), 20_000)
  strictEqual(QueueWatch.nextInterval(pace, 20_000, false), 40_000)
  strictEqual(QueueWatch.nextInterval(pace, 40_000, false), 40_000)
  strictEqual(QueueWatch.nextInterval(pace, 40_000, true), 10_000)
  const a = (state: string): QueueWatch.Answer => ({
    takenAt: 0,
    outcomes: new Map([["1", { _tag: "Found", record: { state: "RUNNING", native: state } }]]),
  })
  ok(!QueueWatch.changed(a("RUNNING"), a("RUNNING")))
  ok(QueueWatch.changed(a("RUNNING"), a("COMPLETING")))
  ok(QueueWatch.changed(undefined, a("RUNNING")))
  ok(
    QueueWatch.changed(a("RUNNING"), {
      takenAt: 1,
      outcomes: new Map([["1", { _tag: "Absent" }]]),
    }),
  )
})

Deno.test("adaptive pace on the clock: asks at 0, 10, 30, 70, 110 s while nothing changes; a change brings 10 s back", async () => {
  const { sched, layer } = setup({ queueStatInterval: "10 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      const jobs = yield* submitMany(3)
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      sched.calls.clear()
      const asksAt: Array<number> = []
      let polled = jobs
      for (let t = 0; t <= 140; t += 5) {
        const before = sched.calls.get("squeue") ?? 0
        if (t === 115) sched.queue.set(jobs[0]!.nativeId!, "COMPLETING^None")
        polled = yield* pollAll(polled)
        if ((sched.calls.get("squeue") ?? 0) > before) asksAt.push(t)
        yield* TestClock.adjust("5 seconds")
      }
      // 0 (first), 10 (the first answer counts as a change), then 20, 40, 40 apart; the change
      // made at 115 s waits for the ask due at 150 s
      deepStrictEqual(asksAt, [0, 10, 30, 70, 110])
      yield* TestClock.adjust("5 seconds") // 150 s
      yield* pollAll(polled)
      yield* TestClock.adjust("10 seconds") // 160 s: the change made it fast again
      yield* pollAll(polled)
      strictEqual(sched.calls.get("squeue"), 7)
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("a job that ends (its exit record) brings the pace back to the floor", async () => {
  const { sched, transport, layer } = setup({
    queueStatInterval: "10 seconds",
    usageFromAccounting: false,
  })
  await runTest(
    withClock(Effect.gen(function* () {
      const jobs = yield* submitMany(2)
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      let polled = yield* pollAll(jobs) // 0 s: asked
      for (const t of [10, 30]) {
        yield* TestClock.adjust(Duration.seconds(t === 10 ? 10 : 20))
        polled = yield* pollAll(polled) // 10 s and 30 s: asked, nothing changed: 40 s now
      }
      const asked = sched.calls.get("squeue")
      strictEqual(asked, 3)
      writeExit(transport, jobs[0]!, 0)
      yield* TestClock.adjust("10 seconds") // 40 s
      const [ended] = yield* pollAll(polled.slice(0, 1))
      strictEqual(ended!.state, "TERMINATING")
      strictEqual(sched.calls.get("squeue"), asked, "the ended job was not asked about")
      yield* TestClock.adjust("1 second") // 41 s: 11 s after the last ask, the floor is back
      yield* pollAll(polled.slice(1))
      strictEqual(sched.calls.get("squeue"), asked + 1, "without the change: not before 70 s")
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("a controller down: the polls that asked fail (recoverable), the others keep their jobs; asked again one floor later", async () => {
  const { sched, layer } = setup({ queueStatInterval: "10 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      const jobs = yield* submitMany(3)
      for (const j of jobs) sched.queue.set(j.nativeId!, "RUNNING^None")
      const running = yield* pollAll(jobs)
      sched.down = true
      sched.calls.clear()
      for (let round = 0; round < 3; round++) {
        yield* TestClock.adjust("10 seconds")
        const asked = yield* Effect.forEach(running, (j) => Effect.flip(Lrms.updateJobState(j)), {
          concurrency: "unbounded",
        })
        ok(asked.every((e) => e.reason === "CommandFailed" && e.recoverable), "told once")
        const kept = yield* pollAll(running)
        ok(kept.every((j) => j.state === "RUNNING"), "until the next ask, the job is unchanged")
      }
      strictEqual(sched.calls.get("squeue"), 3, "one ask per floor while it fails, not doubled")
      sched.down = false
      yield* TestClock.adjust("10 seconds")
      sched.queue.set(jobs[0]!.nativeId!, "COMPLETING^None")
      const back = yield* pollAll(running)
      strictEqual(back[0]!.backendData.nativeState, "COMPLETING")
      strictEqual(sched.calls.get("squeue"), 4)
    })).pipe(Effect.provide(layer)),
  )
})

// =============================================================================
// Jobs that leave the queue
// =============================================================================

Deno.test("left the queue with no exit record and sacct failing: grace window, then RemoteError with the reason", async () => {
  const { sched, layer } = setup({ queueStatInterval: "5 seconds", accountingDelay: "30 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      let [job] = yield* submitMany(1)
      sched.queue.set(job!.nativeId!, "RUNNING^None")
      job = yield* Lrms.updateJobState(job!)
      strictEqual(job.state, "RUNNING")
      sched.queue.delete(job.nativeId!) // purged (MinJobAge), killed before its trap ran
      yield* TestClock.adjust("5 seconds")
      sched.calls.clear()
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING", "the grace window opens")
      ok(typeof job.backendData.graceSince === "number")
      job = yield* Lrms.updateJobState(job)
      deepStrictEqual(
        counts(sched),
        { markers: 2, sacct: 1, squeue: 1 },
        "accounting once per answer",
      )
      yield* TestClock.adjust("31 seconds")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "TERMINATING")
      deepStrictEqual(job.termination, Termination.signalled(Termination.Signals.RemoteError))
      const said = job.history.at(-2)!.message
      ok(said.includes("left the slurm queue") && said.includes("no exit record"), said)
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("a payload killed by a signal: the queue's CANCELLED wins (RemoteKill); with no word from the scheduler, the record's signal", async () => {
  const { sched, transport, layer } = setup({
    queueStatInterval: "0 seconds",
    accountingDelay: "10 seconds",
  })
  await runTest(
    withClock(Effect.gen(function* () {
      const [cancelled, oom] = yield* submitMany(2)
      writeExit(transport, cancelled!, 128 + 15)
      writeExit(transport, oom!, 128 + 9)
      sched.queue.set(cancelled!.nativeId!, "CANCELLED^None")
      let jobs = yield* pollAll([cancelled!, oom!])
      ok(jobs.every((j) => j.state === "RUNNING"), "not final on its own: the window opens")
      yield* TestClock.adjust("11 seconds")
      jobs = yield* pollAll(jobs)
      deepStrictEqual(
        jobs[0]!.termination,
        Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
      )
      deepStrictEqual(jobs[1]!.termination, Termination.signalled(9))
      ok(jobs[1]!.history.some((h) => h.message.includes("exit record says")))
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("a requeued job: its killed run's record does not end it; the new run's start marker and record do", async () => {
  const { sched, transport, layer } = setup({ queueStatInterval: "0 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      let [job] = yield* submitMany(1)
      const id = job!.nativeId!
      sched.queue.set(id, "RUNNING^None")
      transport.seedFile(`${job!.remoteDir}/.lrms/started`, "start=1000 host=node1\n")
      job = yield* Lrms.updateJobState(job!)
      strictEqual(job.state, "RUNNING")
      // preempted and requeued: the first run's payload died of SIGTERM
      writeExit(transport, job, 128 + 15)
      sched.queue.set(id, "PENDING^BeginTime")
      yield* TestClock.adjust("1 second")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "requeued, followed on")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "the old start marker does not start it again")
      // the second run starts: its start marker replaces the first's, its exit record is gone
      transport.seedFile(`${job.remoteDir}/.lrms/started`, "start=2000 host=node2\n")
      yield* transport.remove(`${job.remoteDir}/.lrms/exit`)
      sched.queue.set(id, "RUNNING^None")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      ok(job.history.at(-1)!.message.includes("node2"))
      writeExit(transport, job, 0, 2)
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "TERMINATING")
      deepStrictEqual(job.termination, Termination.exited(0))
    })).pipe(Effect.provide(layer)),
  )
})

Deno.test("a start marker runs a waiting job; an older answer of the queue does not move it back", async () => {
  const { sched, transport, layer } = setup({ queueStatInterval: "10 seconds" })
  await runTest(
    withClock(Effect.gen(function* () {
      let [job] = yield* submitMany(1)
      sched.queue.set(job!.nativeId!, "PENDING^Resources")
      job = yield* Lrms.updateJobState(job!)
      strictEqual(job.state, "SUBMITTED")
      transport.seedFile(`${job.remoteDir}/.lrms/started`, "start=1000 host=n3\n")
      yield* TestClock.adjust("1 second")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING", "the answer saying PENDING is older than the marker")
      strictEqual(sched.calls.get("squeue"), 1)
    })).pipe(Effect.provide(layer)),
  )
})

// =============================================================================
// Cancel and submit rate
// =============================================================================

Deno.test("50 cancels cost one scancel", async () => {
  const { sched, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      const jobs = yield* submitMany(50)
      sched.calls.clear()
      const cancelled = yield* Effect.forEach(jobs, Lrms.cancelJob, { concurrency: "unbounded" })
      deepStrictEqual(counts(sched), { scancel: 1 })
      ok(cancelled.every((j) => j.termination?.signal === Termination.Signals.Cancelled))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("submit rate: a burst of ⌈N/6⌉, then one every 60/N s, on the clock", async () => {
  strictEqual(SubmitRate.burstOf(60), 10)
  strictEqual(SubmitRate.burstOf(1), 1)
  await runTest(withClock(Effect.gen(function* () {
    const rate = yield* SubmitRate.make(60)
    const turns: Array<ReadonlyArray<number>> = []
    const items = Array.from({ length: 13 }, (_, i) => i)
    const fiber = yield* Effect.fork(
      SubmitRate.inTurns(rate, items, (turn) =>
        Effect.sync(() => {
          turns.push(turn)
          return new Map(turn.map((i) => [i, i * 2]))
        })),
    )
    yield* TestClock.adjust("0 millis")
    deepStrictEqual(turns.map((t) => t.length), [10], "the burst goes at once")
    yield* TestClock.adjust("1 second")
    deepStrictEqual(turns.map((t) => t.length), [10, 1])
    yield* TestClock.adjust("2 seconds")
    const answers = yield* Fiber.join(fiber)
    deepStrictEqual(turns.map((t) => t.length), [10, 1, 1, 1])
    strictEqual(answers.get(12), 24)
    const free = yield* SubmitRate.make(undefined)
    strictEqual(yield* free.take(1000), 1000, "no limit: everything at once")
  })))
})

Deno.test("requeue: true: an exit record ends the job only once the queue no longer lists it (a run cut by a requeue)", async () => {
  const { sched, transport, layer } = setup({
    requeue: true,
    queueStatInterval: "5 seconds",
    usageFromAccounting: false,
  })
  await runTest(
    withClock(Effect.gen(function* () {
      let [job] = yield* submitMany(1)
      const id = job!.nativeId!
      sched.queue.set(id, "RUNNING^None")
      job = yield* Lrms.updateJobState(job!)
      strictEqual(job.state, "RUNNING")
      // the cut run's payload finished just before the requeue: its record is there, and the
      // scheduler lists the job waiting again
      writeExit(transport, job, 0)
      sched.queue.set(id, "REQUEUED^BeginTime")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "RUNNING", "an answer taken before the record was seen says nothing")
      yield* TestClock.adjust("5 seconds")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "SUBMITTED", "requeued: the record of the cut run does not end it")
      // the second run ends and leaves the queue: its record ends the job
      writeExit(transport, job, 3, 2)
      sched.queue.delete(id)
      yield* TestClock.adjust("5 seconds")
      job = yield* Lrms.updateJobState(job)
      yield* TestClock.adjust("5 seconds")
      job = yield* Lrms.updateJobState(job)
      strictEqual(job.state, "TERMINATING", JSON.stringify(job.history))
      deepStrictEqual(job.termination, Termination.exited(3))
    })).pipe(Effect.provide(layer)),
  )
})
