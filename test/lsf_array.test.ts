/**
 * The LSF dialect's job arrays, parallel shapes and requeue states (issues 13 and 14):
 *
 * - the argv (`-J "name[1-N]%T"`, `-n`, `span[]`, `-gpu`, `-x`, `-r`), pure, and what the
 *   dialect refuses (GPUs on OpenLava);
 * - the parsers on what the real OpenLava 3.3.3 printed for arrays, shapes, requeued, held and
 *   suspended jobs (test/data/vectors/openlava/arrays.txt, recorded by the record.sh beside it);
 * - the dialect's own commands on the real OpenLava, over SSH as the test user lrmspw: an array
 *   submitted with the argv the dialect builds, its elements polled, read from `bhist` and
 *   cancelled by their element ids, and a parallel shape the scheduler accepted as asked.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { Dialect, Reply, StatRecord, SubmitSpec } from "../backends/batch/Dialect.ts"
import * as Lsf from "../backends/lsf/Lsf.ts"
import * as LsfParse from "../backends/lsf/LsfParse.ts"
import type * as Application from "../src/Application.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { Transport } from "../src/Transport.ts"
import { openlavaConfig } from "./_batch_servers.ts"
import { app, runTest } from "./_effect.ts"
import { lsfTest } from "./_lsf.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"
import { type Block, parseBlocks } from "./_vectors.ts"

// =============================================================================
// argv
// =============================================================================

const base = {
  jobname: "lrms.arr",
  cores: 1,
  workdir: "/j",
  output: "/j/.lrms/scheduler.out",
  error: "/j/.lrms/scheduler.err",
  script: "/j/.lrms/job.sh",
}
const after = (argv: ReadonlyArray<string>, flag: string) => argv[argv.indexOf(flag) + 1]
const values = (argv: ReadonlyArray<string>, flag: string) =>
  argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []))

const shape = (s: Partial<LsfParse.ParallelShape>): LsfParse.ParallelShape => ({
  nodes: undefined,
  processes: 1,
  processesPerNode: undefined,
  coresPerProcess: 1,
  gpusPerProcess: 0,
  exclusive: false,
  ...s,
})

Deno.test("bsubArgv arrays: -J name[1-N]%T, element files <path>-%I, in both variants", () => {
  const lsf = LsfParse.bsubArgv({ ...base, array: { size: 3, throttle: 2 } })
  strictEqual(after(lsf, "-J"), "lrms.arr[1-3]%2")
  strictEqual(after(lsf, "-oo"), "/j/.lrms/scheduler.out-%I")
  strictEqual(after(lsf, "-eo"), "/j/.lrms/scheduler.err-%I")
  const lava = LsfParse.bsubArgv({ ...base, flavour: "openlava", array: { size: 1 } })
  strictEqual(after(lava, "-J"), "lrms.arr[1-1]")
  strictEqual(after(lava, "-o"), "/j/.lrms/scheduler.out-%I")
  strictEqual(after(LsfParse.bsubArgv(base), "-J"), "lrms.arr")
  strictEqual(LsfParse.arrayJobName("x", { size: 4, throttle: 0 }), "x[1-4]", "no %0")
  strictEqual(LsfParse.elementId("123", 4), "123[4]")
  ok(LsfParse.isValidJobId("123[4]"))
  deepStrictEqual(LsfParse.bkillArgv(["123[4]", "123[5]"]), ["bkill", "123[4]", "123[5]"])
})

Deno.test("bsubArgv requeue: -r only when asked", () => {
  ok(LsfParse.bsubArgv({ ...base, rerunnable: true }).includes("-r"))
  strictEqual(LsfParse.bsubArgv({ ...base, rerunnable: false }).includes("-r"), false)
})

Deno.test("shape: -n slots; span[hosts=1] on one host, span[ptile=q×C] over fixed nodes; -gpu per host; -x", () => {
  deepStrictEqual(LsfParse.shapeOptions(shape({})), [], "one core: nothing")
  deepStrictEqual(LsfParse.shapeOptions(shape({ coresPerProcess: 4 })), [
    "-n",
    "4",
    "-R",
    "span[hosts=1]",
  ])
  deepStrictEqual(
    LsfParse.shapeOptions(
      shape({ nodes: 2, processes: 8, processesPerNode: 4, coresPerProcess: 2, gpusPerProcess: 1 }),
    ),
    ["-n", "16", "-R", "span[ptile=8]", "-gpu", "num=4"],
  )
  deepStrictEqual(
    LsfParse.shapeOptions(
      shape({ nodes: 1, processes: 2, processesPerNode: 2, coresPerProcess: 2 }),
    ),
    ["-n", "4", "-R", "span[hosts=1]"],
  )
  deepStrictEqual(
    LsfParse.shapeOptions(shape({ processes: 4 })),
    ["-n", "4"],
    "single-core processes left to the scheduler: anywhere",
  )
  deepStrictEqual(
    LsfParse.shapeOptions(shape({ processes: 2, coresPerProcess: 3, exclusive: true })),
    ["-n", "6", "-R", "span[hosts=1]", "-x"],
    "a process's cores stay together: on one host",
  )
  deepStrictEqual(LsfParse.shapeOptions(shape({ processes: 2, gpusPerProcess: 1 })), [
    "-n",
    "2",
    "-R",
    "span[hosts=1]",
    "-gpu",
    "num=2",
  ])
})

const dialectOf = (input: Partial<Lsf.LsfConfigInput>) =>
  Lsf.dialect(
    Schema.decodeUnknownSync(Lsf.LsfConfig)({ ...openlavaConfig("/spool", 8), ...input }),
  )
const specOf = (a: Application.Application, array?: SubmitSpec["array"]): SubmitSpec => ({
  app: a,
  resource: undefined as unknown as SubmitSpec["resource"],
  jobDir: "/j",
  scriptPath: "/j/.lrms/job.sh",
  schedulerOutput: "/j/.lrms/scheduler.out",
  schedulerError: "/j/.lrms/scheduler.err",
  array,
})

Deno.test("dialect: shape, requeue and array reach bsub; OpenLava refuses GPUs, naming gpusPerProcess", async () => {
  const gpu = await Effect.runPromise(app({ arguments: ["true"], processes: 2, gpusPerProcess: 1 }))
  const lava = dialectOf({ flavour: "openlava" })
  const why = lava.validate?.(gpu)
  ok(why !== undefined && why.startsWith("gpusPerProcess:") && why.includes("OpenLava"), why)
  const lsf = dialectOf({ flavour: "lsf", requeue: true })
  strictEqual(lsf.validate?.(gpu), undefined)
  const argv = lsf.submit(specOf(gpu, { size: 5, throttle: 3 })).argv
  strictEqual(after(argv, "-gpu"), "num=2")
  strictEqual(after(argv, "-J"), `${gpu.jobname}[1-5]%3`)
  ok(argv.includes("-r"))
  const plain = await Effect.runPromise(app({ arguments: ["true"], requestedCores: 3 }))
  strictEqual(lava.validate?.(plain), undefined)
  const largv = lava.submit(specOf(plain)).argv
  deepStrictEqual(values(largv, "-R"), ["span[hosts=1]"])
  strictEqual(after(largv, "-n"), "3")
  strictEqual(largv.includes("-r"), false, "requeue defaults to false")
  deepStrictEqual(
    [lava.arrays?.indexVariable, lava.arrays?.firstIndex, lava.arrays?.maxSize],
    ["LSB_JOBINDEX", 1, 1000],
  )
  strictEqual(dialectOf({ maxArraySize: 50 }).arrays?.maxSize, 50)
  deepStrictEqual(lava.arrays?.limit?.argv, ["bparams", "-l"])
  strictEqual(lava.arrays?.elementId("77", 2), "77[2]")
})

// =============================================================================
// Vectors: OpenLava
// =============================================================================

const NOW = new Date("2026-12-08T12:00:00Z")
let cache: ReadonlyArray<Block> | undefined
const find = async (label: string): Promise<Block> => {
  cache ??= parseBlocks(
    "openlava/arrays.txt",
    await Deno.readTextFile(new URL("./data/vectors/openlava/arrays.txt", import.meta.url)),
  )
  const b = cache.find((x) => x.label === label)
  ok(b !== undefined, `no "${label}" block in openlava/arrays.txt`)
  return b
}
/** A recorded block as a reply: `Job <N> is not found` lines are standard error. */
const replyOf = (b: Block): Reply => {
  const lines = b.output.split("\n")
  const err = (l: string) => /^Job <[^>]*> is not found/.test(l)
  return {
    exitCode: b.rc ?? 0,
    stdout: lines.filter((l) => !err(l)).join("\n"),
    stderr: lines.filter(err).join("\n"),
  }
}
const listed = (r: ReturnType<Dialect["stat"]["parse"]>): ReadonlyMap<string, StatRecord> => {
  ok(r._tag === "Listed", JSON.stringify(r))
  return r.jobs
}
const idOf = async (label: string) => {
  const id = LsfParse.parseBsubJobId((await find(label)).output)
  ok(id !== undefined, label)
  return id
}

Deno.test("OpenLava: an array is one job id; bjobs lists its elements name[i]; bparams gives the limit", async () => {
  const a = await idOf("array of 4, throttle 2")
  strictEqual(LsfParse.parseArrayLimit((await find("limit")).output), 1000)
  const rows = (await find("bjobs -w")).output.split("\n").filter((l) => l.startsWith(`${a} `))
  deepStrictEqual(
    rows.map((l) => l.split(/\s+/).at(-4)).sort(),
    ["vec-arr[1]", "vec-arr[2]", "vec-arr[3]", "vec-arr[4]"],
  )
  const counts = LsfParse.countJobs((await find("bjobs -u all -w")).output, "lrmskey")
  strictEqual(counts.userRun, 3, "each running element counts")
  strictEqual(counts.userQueued, 4, "a pending element and three held ones")
})

Deno.test("OpenLava: bjobs -a -l of elements: each keyed by its element id — RUN, PEND under the throttle, PSUSP, EXIT 1", async () => {
  const a = await idOf("array of 4, throttle 2")
  const h = await idOf("held array")
  const b = await find("bjobs -a -l elements")
  ok(b.rc !== 0, "one id is unknown")
  const jobs = listed(Lsf.parseStatReply(replyOf(b)))
  const ids = [1, 2, 3, 4].map((i) => `${a}[${i}]`).concat(`${h}[2]`)
  deepStrictEqual([...jobs.keys()].sort(), ids.sort())
  deepStrictEqual(jobs.get(`${a}[1]`)?.termination, Termination.exited(1))
  strictEqual(jobs.get(`${a}[2]`)?.state, "RUNNING")
  strictEqual(jobs.get(`${a}[4]`)?.state, "SUBMITTED")
  strictEqual(jobs.get(`${h}[2]`)?.native, "PSUSP")
  strictEqual(jobs.get(`${h}[2]`)?.state, "STOPPED")
})

Deno.test("OpenLava: ends of elements in bjobs and bhist: their own codes; bkill'ed ones are over", async () => {
  const a = await idOf("array of 4, throttle 2")
  const all = LsfParse.parseBjobsLong((await find("bjobs -a -l finished array")).output, NOW)
  deepStrictEqual(
    [1, 2, 3, 4].map((i) => all.get(`${a}[${i}]`)?.termination),
    [1, 2, 3, 4].map(Termination.exited),
    "bjobs -l of the array's id lists every element",
  )
  const r = await idOf("two elements running")
  const hist = LsfParse.parseBhistLong((await find("bhist -l elements")).output, NOW)
  deepStrictEqual(
    [1, 2, 3, 4].map((i) => hist.get(`${a}[${i}]`)?.termination),
    [1, 2, 3, 4].map(Termination.exited),
  )
  strictEqual(Duration.toSeconds(hist.get(`${a}[4]`)!.usage.duration!), 12)
  ok(hist.get(`${r}[2]`)?.termination !== undefined, "the bkill'ed element ended")
  const killed = listed(
    Lsf.parseStatReply(replyOf(await find("bjobs after bkill of running element"))),
  )
  strictEqual(killed.get(`${r}[2]`)?.state, "TERMINATING")
  strictEqual(killed.get(`${r}[1]`)?.state, "RUNNING", "its sibling runs on")
  const h = await idOf("held array")
  const pending = listed(
    Lsf.parseStatReply(replyOf(await find("bjobs after bkill of pending element"))),
  )
  strictEqual(pending.get(`${h}[2]`)?.state, "TERMINATING", "killed while pending: a bare Exited")
  strictEqual(pending.get(`${h}[1]`)?.state, "STOPPED")
  ok((await find("element output files")).output.includes("arr.out-4"), "%I is the index")
  deepStrictEqual(
    LsfParse.parseTaggedJobs(
      `Job Id <${a}[3]>, Job Name <x[3]>, User <u>, Status <RUN>\n` +
        "Mon Dec  7 04:12:09: Submitted from host <vm>, Output File </s/job.T1/.lrms/o-%I>;\n",
    ),
    new Map([["T1", a]]),
    "an element's tag names the array",
  )
})

Deno.test("OpenLava: -n 4 -R span[ptile=4] as shapeOptions writes it: 4 processors on one host; -x and two hosts refused or pending", async () => {
  const b = await find("parallel shape: 2 processes x 2 cores on one host")
  const want = LsfParse.shapeOptions(
    shape({ nodes: 1, processes: 2, processesPerNode: 2, coresPerProcess: 2 }),
  )
  deepStrictEqual(want, ["-n", "4", "-R", "span[hosts=1]"])
  ok(b.cmd.includes("-n 4 -R 'span[ptile=4]'"), "one host of 4 slots, as ptile=4 of -n 4")
  const long = (await find("bjobs -l of the parallel shape")).output
  ok(/4 Processors\s+Requested/.test(long.replace(/\n\s+/g, "")), long)
  ok(long.includes("Started on 4 Hosts/Processors <vm> <vm> <vm> <vm>"))
  ok((await find("LSB_HOSTS of the parallel shape")).output.includes("LSB_MCPU_HOSTS=vm 4"))
  const two = await idOf("two hosts on the one-host cluster")
  strictEqual(
    listed(Lsf.parseStatReply(replyOf(await find("bjobs -l of the two-host job")))).get(two)?.state,
    "SUBMITTED",
  )
  const excl = await find("exclusive")
  ok(excl.rc !== 0)
  strictEqual(LsfParse.parseBsubJobId(excl.output), undefined)
  strictEqual(LsfParse.bsubRetryable(excl.output), false, "the queue refuses it for good")
  // OpenLava's mbatchd died on -gpu (recorded once): a failure that looks retryable, hence
  // validate refuses GPUs on OpenLava before any bsub
  const gpu = await find("GPUs")
  strictEqual(LsfParse.parseBsubJobId(gpu.output), undefined)
  strictEqual(LsfParse.bsubRetryable(gpu.output), true)
})

Deno.test("OpenLava: a requeued job runs again and has not ended, though bhist keeps its first run's Exited", async () => {
  const rq = await idOf("rerunnable job")
  for (const label of ["bjobs -l at once after brequeue", "bjobs -l requeued, running again"]) {
    const job = listed(Lsf.parseStatReply(replyOf(await find(label)))).get(rq)!
    ok(job.state === "RUNNING" || job.state === "SUBMITTED", `${label}: ${job.native}`)
    strictEqual(job.termination, undefined)
  }
  const hist = (await find("bhist -l requeued, running again")).output
  ok(hist.includes("Exited with exit code 130"), "the first run's end is in the history")
  strictEqual(LsfParse.parseBhistLong(hist, NOW).get(rq), undefined, "not read as the job's end")
  // once the second run ends, its own end is read (with its own times)
  const ended = `${hist.replace(/\nSummary[\s\S]*$/, "")}\n` +
    "Tue Dec  8 04:14:14: Exited with exit code 4. The CPU time used is 0.0 seconds;\n"
  const record = LsfParse.parseBhistLong(ended, NOW).get(rq)!
  deepStrictEqual(record.termination, Termination.exited(4))
  strictEqual(Duration.toSeconds(record.usage.duration!), 60, "from the second start")
  const stopped = listed(Lsf.parseStatReply(replyOf(await find("bjobs -l suspended")))).get(rq)!
  strictEqual(stopped.native, "USUSP")
  strictEqual(stopped.state, "STOPPED")
  const h = await idOf("held array")
  strictEqual(
    listed(Lsf.parseStatReply(replyOf(await find("bjobs -l held at submission")))).get(`${h}[1]`)
      ?.state,
    "STOPPED",
  )
  strictEqual(LsfParse.mapState("ZOMBI"), "RUNNING")
  strictEqual(LsfParse.mapState("SSUSP"), "STOPPED")
})

// =============================================================================
// The real OpenLava: the dialect's commands, over SSH
// =============================================================================

const real = () => {
  const config = Schema.decodeUnknownSync(Lsf.LsfConfig)(openlavaConfig("/spool", 8))
  return { dialect: Lsf.dialect(config), resource: Resource.make("lsf", config) }
}
type Real = ReturnType<typeof real>

const exec = (argv: ReadonlyArray<string> | undefined, cwd?: string) =>
  Effect.flatMap(Transport, (t) => {
    ok(argv !== undefined, "the dialect refused the ids")
    return t.exec(argv, cwd !== undefined ? { cwd } : undefined)
  })

const stat = (r: Real, ids: ReadonlyArray<string>) =>
  Effect.map(exec(r.dialect.stat.argv(ids)), (reply) => listed(r.dialect.stat.parse(reply, ids)))

const until = (
  r: Real,
  ids: ReadonlyArray<string>,
  done: (jobs: ReadonlyMap<string, StatRecord>) => boolean,
  seconds = 120,
) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds; i++) {
      const jobs = yield* stat(r, ids)
      if (done(jobs)) return jobs
      yield* Effect.sleep("1 second")
    }
    throw new Error(`not done in ${seconds} s: ${JSON.stringify([...(yield* stat(r, ids))])}`)
  })

const submit = (
  r: Real,
  dir: string,
  name: string,
  body: string,
  a: Application.Application,
  array?: SubmitSpec["array"],
) =>
  Effect.gen(function* () {
    const t = yield* Transport
    const jobDir = `${dir}/${name}`
    yield* t.mkdir(`${jobDir}/.lrms`)
    yield* t.writeFile(`${jobDir}/.lrms/job.sh`, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
    const cmd = r.dialect.submit({
      app: a,
      resource: r.resource,
      jobDir,
      scriptPath: `${jobDir}/.lrms/job.sh`,
      schedulerOutput: `${jobDir}/.lrms/scheduler.out`,
      schedulerError: `${jobDir}/.lrms/scheduler.err`,
      array,
    })
    const reply = yield* exec(cmd.argv, jobDir)
    const id = r.dialect.parseJobId(reply.stdout)
    ok(id !== undefined, `${cmd.argv.join(" ")}: ${reply.stdout}${reply.stderr}`)
    return { id, jobDir }
  })

const ended = (jobs: ReadonlyMap<string, StatRecord>, ids: ReadonlyArray<string>) =>
  ids.every((id) =>
    jobs.get(id)?.state === "TERMINATING" && jobs.get(id)?.termination !== undefined
  )

Deno.test({
  ...lsfTest,
  ignore: lsfTest.ignore || sshd === undefined,
  name:
    "OpenLava (real, over SSH): an array's elements polled, read and cancelled by id; 2 × 2 cores on 4 slots of one host",
  fn: () =>
    runTest(
      Effect.gen(function* () {
        const r = real()
        const arrays = r.dialect.arrays!
        const t = yield* Transport
        const dir = `${yield* t.homeDirectory}/.effect-lrms-test/openlava-array-${Date.now()}`
        strictEqual(arrays.limit!.parse(yield* exec(arrays.limit!.argv)), 1000, "the site's limit")
        const one = yield* app({ arguments: ["true"] })
        const v = arrays.indexVariable
        const arr = yield* submit(r, dir, "arr", `exit $${v}`, one, { size: 3, throttle: 2 })
        const ids = [0, 1, 2].map((i) => arrays.elementId(arr.id, arrays.firstIndex + i))
        deepStrictEqual(ids, [`${arr.id}[1]`, `${arr.id}[2]`, `${arr.id}[3]`])
        const done = yield* until(r, ids, (jobs) => ended(jobs, ids))
        deepStrictEqual([...done.keys()].sort(), [...ids].sort(), "keyed by the element ids")
        deepStrictEqual(
          ids.map((id) => done.get(id)?.termination),
          [1, 2, 3].map(Termination.exited),
        )
        const acct = r.dialect.accounting[0]!
        const hist = acct.parse(yield* exec(acct.argv(ids)), ids)
        deepStrictEqual(
          ids.map((id) => hist.get(id)?.termination),
          [1, 2, 3].map(Termination.exited),
        )
        // cancel one running element by its id; its sibling runs on
        const sleepy = yield* submit(r, dir, "del", "sleep 120", one, { size: 2 })
        const pair = [1, 2].map((i) => arrays.elementId(sleepy.id, i))
        yield* until(r, pair, (jobs) => pair.every((id) => jobs.get(id)?.state === "RUNNING"))
        yield* exec(r.dialect.cancel.argv([pair[1]!]))
        const after = yield* until(r, pair, (jobs) => jobs.get(pair[1]!)?.state === "TERMINATING")
        strictEqual(after.get(pair[0]!)?.state, "RUNNING", "only the element asked is cancelled")
        yield* exec(r.dialect.cancel.argv(pair))
        yield* until(r, pair, (jobs) => pair.every((id) => jobs.get(id)?.state === "TERMINATING"))
        // 2 processes × 2 cores on one host: 4 slots there
        const parallel = yield* app({
          arguments: ["true"],
          nodes: 1,
          processes: 2,
          coresPerProcess: 2,
        })
        const job = yield* submit(
          r,
          dir,
          "shape",
          'echo "LSB_MCPU_HOSTS=$LSB_MCPU_HOSTS"',
          parallel,
        )
        yield* until(r, [job.id], (jobs) => ended(jobs, [job.id]))
        const long = (yield* exec(["bjobs", "-a", "-l", job.id])).stdout.replace(/\n\s+/g, "")
        ok(/4 Processors\s*Requested/.test(long), long)
        ok(long.includes("Requested Resources <span[hosts=1]>"), long)
        const out = yield* t.readFileString(`${job.jobDir}/.lrms/scheduler.out`)
        ok(/LSB_MCPU_HOSTS=\S+ 4\b/.test(out), out)
        yield* t.remove(dir, { recursive: true })
      }).pipe(Effect.provide(Layer.merge(transport(), pwAuth))),
    ),
})
