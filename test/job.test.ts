/**
 * Job: the serialisable record of one job, and its pure updates.
 */
import { deepStrictEqual, match, notStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Application from "../src/Application.ts"
import * as Job from "../src/Job.ts"
import * as Quantity from "../src/Quantity.ts"
import * as RunState from "../src/RunState.ts"
import * as Termination from "../src/Termination.ts"

const app = Effect.runSync(Application.make({
  arguments: ["/bin/echo", "hello"],
  stdout: "out.txt",
  requestedMemory: "1 GB",
  requestedWalltime: "10 min",
}))

const t0 = new Date("2026-01-02T03:04:05.678Z")
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000)

const fresh = () =>
  Job.make({ resourceName: "local", backend: "shellcmd", application: app, id: "job-1", now: t0 })

Deno.test("make: a NEW job with one history line and the NEW timestamp", () => {
  const job = fresh()
  ok(job instanceof Job.Job)
  strictEqual(job.id, "job-1")
  strictEqual(job.resourceName, "local")
  strictEqual(job.backend, "shellcmd")
  strictEqual(job.application, app)
  strictEqual(job.state, "NEW")
  deepStrictEqual(job.timestamps, { NEW: t0 })
  deepStrictEqual(job.history, [{ at: t0, message: "Created" }])
  deepStrictEqual(job.backendData, {})
  strictEqual(job.nativeId, undefined)
  strictEqual(job.termination, undefined)
  strictEqual(job.usage, undefined)
})

Deno.test("make: a generated id is unique", () => {
  const a = Job.make({ resourceName: "r", backend: "b", application: app })
  const b = Job.make({ resourceName: "r", backend: "b", application: app })
  notStrictEqual(a.id, b.id)
  match(a.id, /^[0-9a-f-]{36}$/)
})

Deno.test("transition: new state, timestamp and GC3Pie's history line", () => {
  const job = Job.transition(fresh(), "SUBMITTED", { now: at(1) })
  strictEqual(job.state, "SUBMITTED")
  deepStrictEqual(job.timestamps, { NEW: t0, SUBMITTED: at(1) })
  deepStrictEqual(job.history.at(-1), {
    at: at(1),
    message: "Transition from state NEW to state SUBMITTED",
  })
  strictEqual(job.history.length, 2)
})

Deno.test("transition: an extra message follows the transition line", () => {
  const job = Job.transition(fresh(), "SUBMITTED", { now: at(1), message: "pid 42" })
  deepStrictEqual(job.history.slice(1).map((h) => h.message), [
    "Transition from state NEW to state SUBMITTED",
    "pid 42",
  ])
})

Deno.test("transition: entering TERMINATING with a termination records how the job ended", () => {
  const running = Job.transition(Job.transition(fresh(), "SUBMITTED", { now: at(1) }), "RUNNING", {
    now: at(2),
  })
  const usage = new Job.Usage({
    duration: Duration.seconds(3),
    cpuTime: Duration.millis(1280),
    maxUsedMemory: Quantity.memory(63082496),
    extra: { shellcmd_minor_page_faults: 101799 },
  })
  const done = Job.transition(running, "TERMINATING", {
    now: at(5),
    termination: Termination.signalled(15),
    usage,
  })
  strictEqual(done.state, "TERMINATING")
  strictEqual(done.termination?.signal, 15)
  strictEqual(done.termination?.exitCode, null)
  strictEqual(done.usage, usage)
  deepStrictEqual(done.history.slice(-2).map((h) => h.message), [
    "Transition from state RUNNING to state TERMINATING",
    "Job terminated by signal 15 (SIGTERM)",
  ])
  deepStrictEqual(Object.keys(done.timestamps), ["NEW", "SUBMITTED", "RUNNING", "TERMINATING"])
  // the termination is kept on the next transition
  const fetched = Job.transition(done, "TERMINATED", { now: at(6) })
  strictEqual(fetched.termination, done.termination)
  strictEqual(fetched.usage, usage)
  strictEqual(
    fetched.history.at(-1)!.message,
    "Transition from state TERMINATING to state TERMINATED",
  )
  strictEqual(fetched.history.length, done.history.length + 1)
})

Deno.test("transition: an exit code and a pseudo-signal are described too", () => {
  const exited = Job.transition(fresh(), "TERMINATING", { termination: Termination.exited(3) })
  strictEqual(exited.history.at(-1)!.message, "Job exited with code 3")
  const lost = Job.transition(fresh(), "TERMINATED", {
    termination: Termination.signalled(Termination.Signals.Lost),
  })
  strictEqual(lost.history.at(-1)!.message, "Job abnormal termination: Lost")
})

Deno.test("transition: the same state gives the job back unchanged", () => {
  const job = Job.transition(fresh(), "SUBMITTED", { now: at(1) })
  strictEqual(Job.transition(job, "SUBMITTED", { now: at(2) }), job)
  strictEqual(Job.transition(job, "SUBMITTED", { now: at(2), message: "ignored" }), job)
})

Deno.test("transition: the same state with a termination or usage updates it", () => {
  const job = Job.transition(fresh(), "TERMINATING", { now: at(1) })
  const updated = Job.transition(job, "TERMINATING", {
    now: at(2),
    termination: Termination.exited(0),
  })
  notStrictEqual(updated, job)
  strictEqual(updated.termination?.exitCode, 0)
  // the timestamp of the state is not moved
  deepStrictEqual(updated.timestamps, job.timestamps)
  strictEqual(updated.history.at(-1)!.message, "Job exited with code 0")
  const withUsage = Job.transition(job, "TERMINATING", {
    usage: new Job.Usage({ cores: 2, extra: {} }),
  })
  strictEqual(withUsage.usage?.cores, 2)
  strictEqual(withUsage.history.length, job.history.length)
})

Deno.test("transition does not mutate its input", () => {
  const job = fresh()
  const history = [...job.history]
  Job.transition(job, "SUBMITTED", { now: at(1) })
  strictEqual(job.state, "NEW")
  deepStrictEqual(job.history, history)
  deepStrictEqual(job.timestamps, { NEW: t0 })
})

Deno.test("update: a copy with fields changed, the rest kept", () => {
  const job = fresh()
  const u = Job.update(job, { nativeId: "4242", remoteDir: "/tmp/spool/x" })
  ok(u instanceof Job.Job)
  notStrictEqual(u, job)
  strictEqual(u.nativeId, "4242")
  strictEqual(u.remoteDir, "/tmp/spool/x")
  strictEqual(u.id, job.id)
  strictEqual(u.state, job.state)
  strictEqual(u.history, job.history)
  strictEqual(job.nativeId, undefined)
})

Deno.test("log: appends one history line", () => {
  const job = Job.log(fresh(), "hello", at(3))
  deepStrictEqual(job.history.at(-1), { at: at(3), message: "hello" })
  strictEqual(job.history.length, 2)
})

Deno.test("withBackendData: merges keys, later values win", () => {
  const a = Job.withBackendData(fresh(), { pid: 42, started: 1700000000 })
  deepStrictEqual(a.backendData, { pid: 42, started: 1700000000 })
  const b = Job.withBackendData(a, { pid: 43, nested: { list: [1, "two", null, true] } })
  deepStrictEqual(b.backendData, {
    pid: 43,
    started: 1700000000,
    nested: { list: [1, "two", null, true] },
  })
  deepStrictEqual(a.backendData, { pid: 42, started: 1700000000 })
})

// =============================================================================
// serialisation
// =============================================================================

const encode = Schema.encodeSync(Job.Job)
const decode = Schema.decodeUnknownSync(Job.Job)
const eq = Schema.equivalence(Job.Job)

/** JSON of the encoded form, parsed and decoded again. */
const throughJson = (job: Job.Job): Job.Job => decode(JSON.parse(JSON.stringify(encode(job))))

Deno.test("a job with every field survives JSON", () => {
  const job = Job.withBackendData(
    Job.transition(
      Job.update(Job.transition(fresh(), "SUBMITTED", { now: at(1) }), {
        nativeId: "123",
        remoteDir: "/spool/job",
      }),
      "TERMINATING",
      {
        now: at(9),
        termination: Termination.exited(3),
        usage: new Job.Usage({
          duration: Duration.millis(2100),
          cpuTime: Duration.millis(1280),
          maxUsedMemory: Quantity.memory(63082496),
          maxUsedVirtualMemory: Quantity.memory(2 ** 31),
          cores: 1,
          extra: { shellcmd_minor_page_faults: 101799, sge_queue: "all.q" },
        }),
      },
    ),
    { pid: 7, window: { since: 1.5 } },
  )
  const back = throughJson(job)
  ok(back instanceof Job.Job)
  ok(eq(back, job))
  strictEqual(back.termination?.exitCode, 3)
  ok(back.termination instanceof Termination.Termination)
  ok(back.usage !== undefined && Duration.equals(back.usage.cpuTime!, Duration.millis(1280)))
  strictEqual(back.usage?.maxUsedMemory, 63082496)
  deepStrictEqual(back.timestamps.TERMINATING, at(9))
  deepStrictEqual(back.history, job.history)
  // the application keeps its decoded quantities
  strictEqual(back.application.requestedMemory, 1e9)
  const encoded = encode(job)
  strictEqual(encoded.application.requestedMemory, "1GB")
  strictEqual(encoded.application.requestedWalltime, "10m")
  strictEqual(encoded.usage?.maxUsedMemory, "61604KiB")
  strictEqual(encoded.timestamps.NEW, t0.toISOString())
})

Deno.test("usage figures are finite numbers, so that the JSON form decodes again", () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    let threw = false
    try {
      new Job.Usage({ extra: { shellcmd_cpu_usage: bad } })
    } catch {
      threw = true
    }
    ok(threw, `refuses ${bad}`)
  }
  const decodeUsage = Schema.decodeUnknownSync(Job.Usage)
  let refused = false
  try {
    // what JSON.stringify makes of NaN
    decodeUsage({ extra: { x: null } })
  } catch {
    refused = true
  }
  ok(refused)
})

Deno.test("decoding refuses a record with a bad field, naming it", () => {
  const encoded = JSON.parse(JSON.stringify(encode(fresh())))
  encoded.state = "FINISHED"
  let message = ""
  try {
    decode(encoded)
  } catch (e) {
    message = String(e)
  }
  match(message, /state/)
})

/**
 * Drops the keys the arbitrary sets to `undefined`: JSON cannot tell them from absent keys, and
 * decoding gives absent keys.
 */
const compact = (u: Job.Usage): Job.Usage =>
  new Job.Usage(
    Object.fromEntries(
      Object.entries(u).filter(([, v]) => v !== undefined),
    ) as ConstructorParameters<
      typeof Job.Usage
    >[0],
  )

const jobArbitrary: fc.Arbitrary<Job.Job> = fc.record({
  steps: fc.array(
    fc.record({
      state: fc.constantFrom(...RunState.all),
      dt: fc.nat({ max: 10_000 }),
      message: fc.option(fc.string(), { nil: undefined }),
      termination: fc.option(Arbitrary.make(Termination.Termination), { nil: undefined }),
      usage: fc.option(Arbitrary.make(Job.Usage).map(compact), { nil: undefined }),
    }),
    { maxLength: 6 },
  ),
  nativeId: fc.option(fc.string(), { nil: undefined }),
  data: fc.dictionary(fc.string(), fc.jsonValue() as fc.Arbitrary<Job.Json>, { maxKeys: 3 }),
}).map(({ steps, nativeId, data }) => {
  let job = fresh()
  let time = 0
  for (const s of steps) {
    time += s.dt
    job = Job.transition(job, s.state, {
      now: at(time),
      ...(s.message !== undefined ? { message: s.message } : {}),
      ...(s.termination !== undefined ? { termination: s.termination } : {}),
      ...(s.usage !== undefined ? { usage: s.usage } : {}),
    })
  }
  if (nativeId !== undefined) job = Job.update(job, { nativeId })
  return Job.withBackendData(job, data)
})

Deno.test("property: any job built with make/transition/update survives JSON", () => {
  fc.assert(
    fc.property(jobArbitrary, (job) => {
      const json = JSON.stringify(encode(job))
      const back = decode(JSON.parse(json))
      ok(eq(back, job), json)
      strictEqual(JSON.stringify(encode(back)), json)
    }),
    { numRuns: 100 },
  )
})

Deno.test("property: Arbitrary.make(Job) values survive JSON", () => {
  fc.assert(
    fc.property(Arbitrary.make(Job.Job), (job) => {
      ok(eq(decode(encode(job)), job), "encode/decode")
      const json = JSON.stringify(encode(job))
      strictEqual(JSON.stringify(encode(decode(JSON.parse(json)))), json)
    }),
    { numRuns: 30 },
  )
})

Deno.test("property: history only grows, and every transition is logged", () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...RunState.all), { maxLength: 8 }), (states) => {
      let job = fresh()
      for (const s of states) {
        const next = Job.transition(job, s, { now: at(1) })
        ok(next.history.length >= job.history.length)
        deepStrictEqual(next.history.slice(0, job.history.length), job.history)
        if (s !== job.state) {
          strictEqual(
            next.history.at(-1)!.message,
            `Transition from state ${job.state} to state ${s}`,
          )
          deepStrictEqual(next.timestamps[s], at(1))
        } else {
          strictEqual(next, job)
        }
        job = next
      }
    }),
  )
})

// =============================================================================
// parallel jobs (issue 14)
// =============================================================================

/** A job record as the library wrote it before the parallel fields existed. */
const beforeParallel = {
  id: "job-1",
  resourceName: "local",
  backend: "slurm",
  application: {
    arguments: ["/bin/echo", "hello"],
    inputs: [],
    outputs: [{ remote: "out.txt", destination: "out.txt" }],
    stdout: "out.txt",
    join: false,
    environment: {},
    requestedCores: 4,
    jobname: "lrms.generic.1a2b3c4d",
    applicationName: "generic",
  },
  nativeId: "42",
  state: "TERMINATED",
  usage: { cores: 4, extra: {} },
  timestamps: { NEW: "2026-01-02T03:04:05.678Z" },
  history: [{ at: "2026-01-02T03:04:05.678Z", message: "Created" }],
  backendData: {},
}

Deno.test("a job record without the parallel fields still decodes: one process, 4 cores", () => {
  const job = decode(JSON.parse(JSON.stringify(beforeParallel)))
  deepStrictEqual(Application.shape(job.application), {
    nodes: undefined,
    processes: 1,
    processesPerNode: undefined,
    coresPerProcess: 4,
    gpusPerProcess: 0,
    exclusive: false,
    launcher: undefined,
  })
  strictEqual(job.usage?.gpus, undefined)
  strictEqual(JSON.stringify(encode(job).application), JSON.stringify(beforeParallel.application))
})

Deno.test("the parallel fields and the GPUs allocated survive JSON", () => {
  const parallel = Effect.runSync(Application.make({
    arguments: ["./train"],
    nodes: 2,
    processesPerNode: 2,
    coresPerProcess: 3,
    gpusPerProcess: 1,
    exclusive: true,
    launcher: "mpirun",
  }))
  const job = Job.transition(
    Job.make({ resourceName: "r", backend: "slurm", application: parallel, now: t0 }),
    "TERMINATING",
    { now: at(5), usage: new Job.Usage({ cores: 12, gpus: 4, extra: {} }) },
  )
  const back = throughJson(job)
  ok(eq(back, job))
  deepStrictEqual(Application.shape(back.application), Application.shape(parallel))
  strictEqual(back.application.requestedCores, 12)
  strictEqual(back.usage?.gpus, 4)
  const encoded = encode(job)
  deepStrictEqual(
    [encoded.application.nodes, encoded.application.processes, encoded.application.launcher],
    [2, 4, "mpirun"],
  )
  let refused = false
  try {
    decode({ ...JSON.parse(JSON.stringify(encoded)), usage: { gpus: -1, extra: {} } })
  } catch {
    refused = true
  }
  ok(refused, "a negative GPU count is refused")
})
