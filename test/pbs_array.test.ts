/**
 * The PBS dialect's job arrays, parallel shapes and requeue states (issues 13 and 14):
 *
 * - the argv (`-J`/`-t`, `select`/`place`, `nodes=:ppn=`, `-r`, `-n`), pure;
 * - the parsers on what the real OpenPBS 23.06 and TORQUE 6.1 printed for arrays, shapes, rerun
 *   and suspended jobs (test/data/vectors/{openpbs,torque}/arrays.txt, recorded by the
 *   record.sh beside them);
 * - the dialect's own commands on the real servers, over SSH as the test user lrmspw: an array
 *   submitted with the argv the dialect builds, its elements polled, read from accounting and
 *   cancelled by their element ids, and a parallel shape the scheduler accepted as asked.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { Dialect, Reply, StatRecord, SubmitSpec } from "../backends/batch/Dialect.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import * as Application from "../src/Application.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { Transport } from "../src/Transport.ts"
import { pbsConfig } from "./_batch_servers.ts"
import { app, runTest } from "./_effect.ts"
import { pbs, pbsTest } from "./_pbs.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"
import { torque, torqueTest } from "./_torque.ts"
import { type Block, parseBlocks } from "./_vectors.ts"

// =============================================================================
// argv
// =============================================================================

const base = {
  jobname: "lrms.arr",
  cores: 1,
  output: "/j/.lrms/scheduler.out",
  error: "/j/.lrms/scheduler.err",
  script: "/j/.lrms/job.sh",
}
const after = (argv: ReadonlyArray<string>, flag: string) => argv[argv.indexOf(flag) + 1]
const values = (argv: ReadonlyArray<string>, flag: string) =>
  argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []))

Deno.test("qsubArgv arrays: PBS Pro -J 0-N%T (one element: 0-1:2), Torque -t 0-N%T, element files <path>-<index>", () => {
  const pro = PbsParse.qsubArgv({ ...base, flavour: "pbspro", array: { size: 3, throttle: 2 } })
  strictEqual(after(pro, "-J"), "0-2%2")
  strictEqual(after(pro, "-o"), "/j/.lrms/scheduler.out-^array_index^")
  strictEqual(after(pro, "-e"), "/j/.lrms/scheduler.err-^array_index^")
  strictEqual(pro.at(-1), "/j/.lrms/job.sh")
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "pbspro", array: { size: 1 } }), "-J"),
    "0-1:2",
    "PBS Pro refuses -J 0-0",
  )
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "pbspro", array: { size: 5 } }), "-J"),
    "0-4",
  )
  const tq = PbsParse.qsubArgv({ ...base, flavour: "torque", array: { size: 3, throttle: 2 } })
  strictEqual(after(tq, "-t"), "0-2%2")
  strictEqual(after(tq, "-o"), "/j/.lrms/scheduler.out", "Torque appends -<index> itself")
  strictEqual(tq.includes("-J"), false)
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "torque", array: { size: 1 } }), "-t"),
    "0-0",
  )
  strictEqual(PbsParse.qsubArgv({ ...base, flavour: "torque" }).includes("-t"), false)
})

Deno.test("qsubArgv requeue: -r y|n as configured, never -r n on a PBS Pro array (it refuses one)", () => {
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "pbspro", rerunnable: false }), "-r"),
    "n",
  )
  strictEqual(after(PbsParse.qsubArgv({ ...base, flavour: "torque", rerunnable: true }), "-r"), "y")
  const arr = { size: 2 }
  strictEqual(
    PbsParse.qsubArgv({ ...base, flavour: "pbspro", rerunnable: false, array: arr }).includes("-r"),
    false,
  )
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "pbspro", rerunnable: true, array: arr }), "-r"),
    "y",
  )
  strictEqual(
    after(PbsParse.qsubArgv({ ...base, flavour: "torque", rerunnable: false, array: arr }), "-r"),
    "n",
  )
  strictEqual(PbsParse.qsubArgv({ ...base, flavour: "torque" }).includes("-r"), false)
})

const shape = (s: Partial<PbsParse.ParallelShape>): PbsParse.ParallelShape => ({
  nodes: undefined,
  processes: 1,
  processesPerNode: undefined,
  coresPerProcess: 1,
  gpusPerProcess: 0,
  exclusive: false,
  ...s,
})

Deno.test("PBS Pro shape: a plain multi-core job gets ncpus = its cores (not PSI/J's 1:ncpus=1)", () => {
  deepStrictEqual(PbsParse.pbsproResources(shape({ coresPerProcess: 4 }), 3 * 1024 ** 3), [
    "select=1:ncpus=4:mem=3072mb",
  ])
  const argv = PbsParse.qsubArgv({ ...base, flavour: "pbspro", cores: 6 })
  deepStrictEqual(values(argv, "-l"), ["select=1:ncpus=6"])
})

Deno.test("PBS Pro shape: select=N:ncpus=q×C:mpiprocs=q:ompthreads=C[:ngpus=q×G], place scatter/pack/free[:excl]", () => {
  deepStrictEqual(
    PbsParse.pbsproResources(
      shape({ nodes: 2, processes: 8, processesPerNode: 4, coresPerProcess: 2, gpusPerProcess: 1 }),
      10 * 1024 ** 3,
    ),
    ["select=2:ncpus=8:mpiprocs=4:ompthreads=2:ngpus=4:mem=5120mb", "place=scatter"],
  )
  deepStrictEqual(
    PbsParse.pbsproResources(
      shape({ nodes: 1, processes: 2, processesPerNode: 2, coresPerProcess: 2 }),
      undefined,
    ),
    ["select=1:ncpus=4:mpiprocs=2:ompthreads=2", "place=pack"],
  )
  deepStrictEqual(
    PbsParse.pbsproResources(
      shape({ nodes: 3, processes: 3, processesPerNode: 1, exclusive: true }),
      1000 * 1024 ** 2,
    ),
    ["select=3:ncpus=1:mpiprocs=1:ompthreads=1:mem=334mb", "place=scatter:excl"],
    "memory is the job's, split over the chunks and rounded up",
  )
  deepStrictEqual(
    PbsParse.pbsproResources(shape({ processes: 3, coresPerProcess: 2 }), undefined),
    ["select=3:ncpus=2:mpiprocs=1:ompthreads=2", "place=free"],
    "nodes left to the scheduler: one chunk per process, placed freely",
  )
  deepStrictEqual(
    PbsParse.pbsproResources(shape({ coresPerProcess: 2, exclusive: true }), undefined),
    ["select=1:ncpus=2:mpiprocs=1:ompthreads=2", "place=pack:excl"],
  )
  deepStrictEqual(
    PbsParse.pbsproResources(shape({ gpusPerProcess: 2 }), undefined),
    ["select=1:ncpus=1:mpiprocs=1:ompthreads=1:ngpus=2", "place=pack"],
  )
})

Deno.test("Torque shape: nodes=N:ppn=q×C[:gpus=q×G], mem for the whole job, -n for whole nodes", () => {
  deepStrictEqual(
    PbsParse.torqueResources(
      shape({ nodes: 2, processes: 8, processesPerNode: 4, coresPerProcess: 2, gpusPerProcess: 1 }),
      2 * 1024 ** 3,
    ),
    ["nodes=2:ppn=8:gpus=4", "mem=2048mb"],
  )
  deepStrictEqual(
    PbsParse.torqueResources(shape({ processes: 2, coresPerProcess: 2 }), undefined),
    ["nodes=1:ppn=4"],
    "nodes left to the scheduler: one node (Torque gives every node of nodes= a host)",
  )
  deepStrictEqual(PbsParse.torqueResources(shape({ coresPerProcess: 3 }), undefined), [
    "nodes=1:ppn=3",
  ])
  const excl = PbsParse.qsubArgv({
    ...base,
    flavour: "torque",
    shape: shape({ nodes: 1, processes: 2, processesPerNode: 2, exclusive: true }),
  })
  ok(excl.includes("-n"), "node-exclusive")
  deepStrictEqual(values(excl, "-l"), ["nodes=1:ppn=2"])
  strictEqual(
    PbsParse.qsubArgv({ ...base, flavour: "pbspro", shape: shape({ exclusive: true }) })
      .includes("-n"),
    false,
  )
})

/** A submit spec for a job of this application in `/j`. */
const specOf = (a: Application.Application, array?: SubmitSpec["array"]): SubmitSpec => ({
  app: a,
  resource: undefined as unknown as SubmitSpec["resource"],
  jobDir: "/j",
  scriptPath: "/j/.lrms/job.sh",
  schedulerOutput: "/j/.lrms/scheduler.out",
  schedulerError: "/j/.lrms/scheduler.err",
  array,
})
const dialectOf = (input: Partial<Pbs.PbsConfigInput>) =>
  Pbs.dialect(
    Schema.decodeUnknownSync(Pbs.PbsConfig)({
      ...pbsConfig("p", "pbspro", "/opt/pbs/bin")("/spool", 8),
      ...input,
    }),
  )

Deno.test("dialect: the application's shape, requeue and array reach qsub; array support per variant", async () => {
  const parallel = await Effect.runPromise(
    app({ arguments: ["true"], processes: 4, nodes: 2, coresPerProcess: 2, exclusive: true }),
  )
  const pro = dialectOf({ flavour: "pbspro", requeue: true })
  const argv = pro.submit(specOf(parallel, { size: 4, throttle: 2 })).argv
  deepStrictEqual(values(argv, "-l").slice(0, 2), [
    "select=2:ncpus=4:mpiprocs=2:ompthreads=2",
    "place=scatter:excl",
  ])
  strictEqual(after(argv, "-r"), "y")
  strictEqual(after(argv, "-J"), "0-3%2")
  const plain = await Effect.runPromise(app({ arguments: ["true"], requestedCores: 4 }))
  const tq = dialectOf({ flavour: "torque" })
  const targv = tq.submit(specOf(plain)).argv
  deepStrictEqual(values(targv, "-l")[0], "nodes=1:ppn=4")
  strictEqual(after(targv, "-r"), "n", "requeue defaults to false")
  deepStrictEqual(
    [pro.arrays?.indexVariable, pro.arrays?.firstIndex, pro.arrays?.maxSize],
    ["PBS_ARRAY_INDEX", 0, 10_000],
  )
  deepStrictEqual([tq.arrays?.indexVariable, tq.arrays?.firstIndex], ["PBS_ARRAYID", 0])
  strictEqual(dialectOf({ flavour: "torque", maxArraySize: 500 }).arrays?.maxSize, 500)
  deepStrictEqual(pro.arrays?.limit?.argv, ["qmgr", "-c", "list server max_array_size"])
  deepStrictEqual(tq.arrays?.limit?.argv, ["qmgr", "-c", "list server max_job_array_size"])
  strictEqual(pro.arrays?.elementId("12[].pbs-node", 4), "12[4].pbs-node")
  strictEqual(PbsParse.elementId("12.srv", 0), "12[0].srv")
  strictEqual(PbsParse.elementId("12[]", 7), "12[7]")
  ok(PbsParse.isValidJobId("12[4].pbs-node"))
  deepStrictEqual(PbsParse.qdelArgv(["12[4].pbs-node", "12[5].pbs-node"]), [
    "qdel",
    "12[4].pbs-node",
    "12[5].pbs-node",
  ])
  strictEqual(pro.arrays?.limit?.parse({ exitCode: 1, stdout: "", stderr: "no" }), undefined)
})

// =============================================================================
// Vectors: OpenPBS
// =============================================================================

const vectors = async (dir: string): Promise<ReadonlyArray<Block>> => {
  const url = new URL(`./data/vectors/${dir}/arrays.txt`, import.meta.url)
  return parseBlocks(`${dir}/arrays.txt`, await Deno.readTextFile(url))
}
const find = async (dir: string, label: string): Promise<Block> => {
  const b = (await vectors(dir)).find((x) => x.label === label)
  ok(b !== undefined, `no "${label}" block in ${dir}/arrays.txt`)
  return b
}
/** A recorded block as a reply: the client's complaints (`qstat: …`) are its standard error. */
const replyOf = (b: Block, prefix = /^qstat:/): Reply => {
  const lines = b.output.split("\n")
  return {
    exitCode: b.rc ?? 0,
    stdout: lines.filter((l) => !prefix.test(l)).join("\n"),
    stderr: lines.filter((l) => prefix.test(l)).join("\n"),
  }
}
const listed = (r: ReturnType<Dialect["stat"]["parse"]>): ReadonlyMap<string, StatRecord> => {
  ok(r._tag === "Listed", JSON.stringify(r))
  return r.jobs
}
const el = (arrayId: string, i: number) => PbsParse.elementId(arrayId, i)

Deno.test("OpenPBS: qsub prints an array's id N[].server; refusals (-J 0-0, -r n, over the limit) carry no id", async () => {
  const a = PbsParse.parseQsubJobId((await find("openpbs", "array of 4, throttle 2")).output)
  ok(a !== undefined && /^\d+\[\]\.pbs-node$/.test(a), `${a}`)
  ok(/^\d+\[\]\.pbs-node$/.test((await find("openpbs", "array of one element")).output))
  for (
    const label of [
      "one-element range refused",
      "non-rerunable array refused",
      "array over the limit refused",
      "GPUs the server does not know",
    ]
  ) {
    const b = await find("openpbs", label)
    ok(b.rc !== 0, label)
    strictEqual(PbsParse.parseQsubJobId(b.output), undefined, label)
    strictEqual(PbsParse.qsubRetryable(b.output), false, label)
  }
  strictEqual(PbsParse.parseArrayLimit((await find("openpbs", "limit")).output), 10_000)
})

Deno.test("OpenPBS: qstat -x -f -F json of elements: each keyed by its element id, in its own state", async () => {
  const a = (await find("openpbs", "array of 4, throttle 2")).output
  const h = (await find("openpbs", "held array")).output
  const ids = [el(a, 0), el(a, 1), el(a, 2), el(a, 3), el(h, 1), "99999[1].pbs-node"]
  for (
    const [label, fmt] of [["qstat -x -f -F json elements", "json"], [
      "qstat -x -f elements",
      "text",
    ]]
  ) {
    const reply = replyOf(await find("openpbs", label!))
    const jobs = listed(Pbs.parseStatReply(reply, ids, "pbspro"))
    const finished = jobs.get(el(a, 0))!
    strictEqual(finished.native, "X", `${fmt}: a finished subjob of a running array`)
    strictEqual(finished.state, "TERMINATING")
    deepStrictEqual(finished.termination, Termination.exited(0))
    strictEqual(jobs.get(el(a, 2))?.state, "RUNNING")
    if (fmt === "json") {
      deepStrictEqual([...jobs.keys()].sort(), ids.slice(0, 5).sort(), "the unknown id is left out")
      strictEqual(jobs.get(el(a, 1))?.state, "RUNNING")
      const queued = jobs.get(el(a, 3))!
      strictEqual(queued.state, "SUBMITTED", "waiting under the throttle")
      // it carries its parent's Exit_status 0: a queued subjob has not ended
      strictEqual(queued.termination, undefined)
      strictEqual(jobs.get(el(h, 1))?.state, "SUBMITTED", "an element of a held array is Q")
    }
  }
})

Deno.test("OpenPBS: the parent N[] is never taken for an element, even in qstat -t's reply", async () => {
  const h = (await find("openpbs", "held array")).output
  const reply = replyOf(await find("openpbs", "qstat -x -t -f -F json parent and subjobs"))
  const parsed = PbsParse.parseQstatFull(reply.stdout, "pbspro")
  strictEqual(parsed.get(h)?.native, "H", "the held parent")
  ok(parsed.get(h)?.attributes.get("array") === "True")
  const jobs = listed(Pbs.parseStatReply(reply, [el(h, 0), el(h, 2)], "pbspro"))
  deepStrictEqual([...jobs.keys()], [el(h, 0), el(h, 2)])
  for (const r of jobs.values()) strictEqual(r.native, "Q")
  const both = listed(Pbs.parseStatReply(reply, [h, el(h, 1)], "pbspro"))
  strictEqual(both.get(h)?.state, "STOPPED")
  strictEqual(both.get(el(h, 1))?.state, "SUBMITTED")
})

Deno.test("OpenPBS: finished elements end with their own exit codes; a deleted one with SIGTERM, or unknown", async () => {
  const a = (await find("openpbs", "array of 4, throttle 2")).output
  const ids = [0, 1, 2, 3].map((i) => el(a, i))
  const jobs = listed(
    Pbs.parseStatReply(
      replyOf(await find("openpbs", "qstat -x -f -F json finished elements")),
      ids,
      "pbspro",
    ),
  )
  deepStrictEqual(ids.map((id) => jobs.get(id)?.termination), [0, 1, 2, 3].map(Termination.exited))
  ok(Duration.toSeconds(jobs.get(ids[3]!)!.usage!.duration!) >= 8, "element 3 slept 9 s")
  const r = (await find("openpbs", "two elements running")).output
  const deleted = listed(
    Pbs.parseStatReply(
      replyOf(await find("openpbs", "qstat after qdel of running element")),
      [el(r, 1), el(r, 0)],
      "pbspro",
    ),
  )
  // qdel's SIGTERM, or the SIGKILL after kill_delay: 256 + the signal
  const status = Number(
    PbsParse.parseQstatFull(
      replyOf(await find("openpbs", "qstat after qdel of running element")).stdout,
      "pbspro",
    ).get(el(r, 1))?.attributes.get("Exit_status"),
  )
  ok(status === 271 || status === 265, `${status}`)
  deepStrictEqual(deleted.get(el(r, 1))?.termination, Termination.signalled(status - 256))
  strictEqual(deleted.get(el(r, 0))?.state, "RUNNING", "its sibling runs on")
  const h = (await find("openpbs", "held array")).output
  const queued = listed(
    Pbs.parseStatReply(
      replyOf(await find("openpbs", "qstat after qdel of queued element")),
      [el(h, 1)],
      "pbspro",
    ),
  ).get(el(h, 1))!
  strictEqual(queued.state, "TERMINATING")
  strictEqual(queued.termination, undefined, "no Exit_status: the cancel or accounting tells")
})

Deno.test("OpenPBS: tracejob of a subjob (as its owner, and as root) gives its exit status", async () => {
  for (const label of ["tracejob of an element", "tracejob of an element (as root)"]) {
    const r = PbsParse.parseTracejob((await find("openpbs", label)).output, "pbspro")
    deepStrictEqual(r?.termination, Termination.exited(3), label)
    strictEqual(Duration.toSeconds(r!.usage.duration!), 9)
  }
})

Deno.test("OpenPBS: 2 processes × 2 cores on one node as qsubArgv writes it: ncpus 4, 2 MPI ranks, 2 threads", async () => {
  const b = await find("openpbs", "parallel shape: 2 processes x 2 cores on one node")
  const argv = PbsParse.qsubArgv({
    ...base,
    flavour: "pbspro",
    shape: shape({ nodes: 1, processes: 2, processesPerNode: 2, coresPerProcess: 2 }),
  })
  for (const l of values(argv, "-l")) ok(b.cmd.includes(`-l ${l}`), `${l} is what was recorded`)
  const s = PbsParse.parseQsubJobId(b.output)!
  const job = PbsParse.parseQstatFull(
    (await find("openpbs", "qstat -x -f -F json of the parallel shape")).output,
    "pbspro",
  ).get(s)!
  strictEqual(job.attributes.get("Resource_List.select"), "1:ncpus=4:mpiprocs=2:ompthreads=2")
  strictEqual(job.attributes.get("exec_vnode"), "(pbs-node:ncpus=4)")
  strictEqual(job.usage.cores, 4)
  const inside = (await find("openpbs", "PBS_NODEFILE and OMP_NUM_THREADS of the parallel shape"))
    .output
  strictEqual(inside.split("\n").filter((l) => l === "pbs-node").length, 2, "one line per rank")
  ok(inside.includes("OMP_NUM_THREADS=2"))
  const never = await find("openpbs", "qstat -f of the two-node job")
  ok(never.output.includes("Can Never Run"), "two scattered chunks on the one-node cluster")
  ok((await find("openpbs", "qstat -f of the exclusive job")).output.includes("place = pack:excl"))
  ok((await find("openpbs", "qstat -f of the free placement")).output.includes("place = free"))
})

Deno.test("OpenPBS: a rerun job runs again with its old Exit_status −11 (not an end); S is STOPPED", async () => {
  const rq = (await find("openpbs", "rerunnable job")).output
  for (
    const label of [
      "qrerun and qstat at once (as root)",
      "qstat -x -f -F json rerun job running again",
    ]
  ) {
    const job = listed(
      Pbs.parseStatReply(replyOf(await find("openpbs", label)), [rq], "pbspro"),
    ).get(rq)!
    ok(job.state === "RUNNING" || job.state === "SUBMITTED", `${label}: ${job.native}`)
    strictEqual(job.termination, undefined, label)
    strictEqual(
      PbsParse.parseQstatFull(replyOf(await find("openpbs", label)).stdout, "pbspro").get(rq)
        ?.attributes.get("run_count"),
      "2",
    )
  }
  strictEqual(PbsParse.mapState("Q"), "SUBMITTED", "rerun and queued again")
  const suspended = listed(
    Pbs.parseStatReply(
      replyOf(await find("openpbs", "qstat -x -f -F json suspended")),
      [rq],
      "pbspro",
    ),
  ).get(rq)!
  strictEqual(suspended.state, "STOPPED")
  strictEqual(suspended.termination, undefined)
  ok((await find("openpbs", "qrerun of a job not rerunnable (as root)")).rc !== 0)
})

// =============================================================================
// Vectors: TORQUE
// =============================================================================

Deno.test("TORQUE: array ids N[].server, elements by id; the slot limit's hold (H, type l) is waiting, a user hold is STOPPED", async () => {
  const a = PbsParse.parseQsubJobId((await find("torque", "array of 4, throttle 2")).output)!
  ok(/^\d+\[\]\.torque-node$/.test(a), a)
  const h = (await find("torque", "held array")).output
  strictEqual(PbsParse.parseArrayLimit((await find("torque", "limit")).output), undefined, "unset")
  const ids = [el(a, 0), el(a, 1), el(a, 2), el(a, 3), el(h, 1), "99999[1].torque-node"]
  const b = await find("torque", "qstat -f elements")
  const jobs = listed(Pbs.parseStatReply(replyOf(b), ids, "torque"))
  deepStrictEqual([...jobs.keys()].sort(), ids.slice(0, 5).sort())
  deepStrictEqual(jobs.get(el(a, 0))?.termination, Termination.exited(0))
  strictEqual(jobs.get(el(a, 1))?.state, "RUNNING")
  strictEqual(jobs.get(el(a, 3))?.native, "H")
  strictEqual(jobs.get(el(a, 3))?.state, "SUBMITTED", "held by the array's %2 only")
  strictEqual(jobs.get(el(h, 1))?.state, "STOPPED", "held by its owner (-h)")
  // asking for the array's own id lists every job of the server: only the ids asked are kept
  const all = PbsParse.parseQstatFull((await find("torque", "qstat -f summary")).output, "torque")
  ok(all.size > 5)
  deepStrictEqual(
    [
      ...listed(
        Pbs.parseStatReply(
          { exitCode: 0, stdout: (await find("torque", "qstat -f summary")).output, stderr: "" },
          [a],
          "torque",
        ),
      ).keys(),
    ],
    [a],
  )
})

Deno.test("TORQUE: completed elements end with their own codes; qdel'ed ones with SIGTERM or unknown; tracejob with milliseconds", async () => {
  const a = (await find("torque", "array of 4, throttle 2")).output
  const ids = [0, 1, 2, 3].map((i) => el(a, i))
  const jobs = listed(
    Pbs.parseStatReply(replyOf(await find("torque", "qstat -f completed elements")), ids, "torque"),
  )
  deepStrictEqual(ids.map((id) => jobs.get(id)?.termination), [0, 1, 2, 3].map(Termination.exited))
  const r = (await find("torque", "two elements running")).output
  const deleted = listed(
    Pbs.parseStatReply(
      replyOf(await find("torque", "qstat after qdel of running element")),
      [el(r, 1), el(r, 0)],
      "torque",
    ),
  )
  deepStrictEqual(deleted.get(el(r, 1))?.termination, Termination.signalled(15))
  strictEqual(deleted.get(el(r, 0))?.state, "RUNNING")
  const h = (await find("torque", "held array")).output
  const gone = listed(
    Pbs.parseStatReply(
      replyOf(await find("torque", "qstat after qdel of queued element")),
      [el(h, 1), el(h, 0)],
      "torque",
    ),
  )
  strictEqual(gone.get(el(h, 1))?.state, "TERMINATING")
  strictEqual(gone.get(el(h, 1))?.termination, undefined)
  strictEqual(gone.get(el(h, 0))?.state, "STOPPED")
  // Torque 6's tracejob prints milliseconds: 12/08/2026 04:10:49.310 S Exit_status=3 ...
  const t = PbsParse.parseTracejob(
    (await find("torque", "tracejob of an element")).output,
    "torque",
  )
  deepStrictEqual(t?.termination, Termination.exited(3))
  strictEqual(Duration.toSeconds(t!.usage.duration!), 9)
  ok((await find("torque", "element output files")).output.includes("arr.out-3"), "-<index>")
})

Deno.test("TORQUE: nodes=1:ppn=4 as torqueResources writes it: 4 lines in PBS_NODEFILE; -n is node_exclusive; GPUs refused", async () => {
  const b = await find("torque", "parallel shape: 2 processes x 2 cores on one node")
  deepStrictEqual(
    PbsParse.torqueResources(
      shape({ nodes: 1, processes: 2, processesPerNode: 2, coresPerProcess: 2 }),
      undefined,
    ),
    ["nodes=1:ppn=4"],
  )
  ok(b.cmd.includes("-l nodes=1:ppn=4"))
  const s = PbsParse.parseQsubJobId(b.output)!
  const job = PbsParse.parseQstatFull(
    (await find("torque", "qstat -f of the parallel shape")).output,
  )
    .get(s)!
  strictEqual(job.attributes.get("Resource_List.nodes"), "1:ppn=4")
  strictEqual(job.attributes.get("exec_host"), "torque-node/0-1,3-4")
  const inside = (await find("torque", "PBS_NODEFILE of the parallel shape")).output
  strictEqual(inside.split("\n").filter((l) => l === "torque-node").length, 4)
  ok(
    (await find("torque", "qstat -f of the exclusive job")).output.includes(
      "node_exclusive = True",
    ),
  )
  const gpu = await find("torque", "GPUs the node does not have")
  ok(gpu.rc !== 0)
  strictEqual(PbsParse.parseQsubJobId(gpu.output), undefined)
})

Deno.test("TORQUE: a rerun job, exiting then running again with its old exit_status 0, has not ended", async () => {
  const rq = (await find("torque", "rerunnable job")).output
  for (const label of ["qrerun and qstat at once (as root)", "qstat -f rerun job running again"]) {
    const job = listed(Pbs.parseStatReply(replyOf(await find("torque", label)), [rq], "torque"))
      .get(rq)!
    ok(["E", "R", "Q"].includes(job.native), `${label}: ${job.native}`)
    ok(job.state === "RUNNING" || job.state === "SUBMITTED", label)
    strictEqual(job.termination, undefined, label)
  }
  ok((await find("torque", "qstat -f suspended")).output.includes("job_state = S"))
  strictEqual(PbsParse.mapState("S"), "STOPPED")
  ok((await find("torque", "qrerun of a job not rerunnable (as root)")).rc !== 0)
})

// =============================================================================
// The real servers: the dialect's commands, over SSH
// =============================================================================

/** The dialect of a real server, its commands by full path. */
const realDialect = (flavour: "pbspro" | "torque", bin: string) => {
  const input = {
    ...pbsConfig(`${flavour}-array-test`, flavour, bin)("/spool", 8),
    commands: Object.fromEntries(
      ["qsub", "qstat", "tracejob", "qdel", "pbsnodes", "qmgr"].map((c) => [c, `${bin}/${c}`]),
    ),
  }
  const config = Schema.decodeUnknownSync(Pbs.PbsConfig)(input)
  return {
    dialect: Pbs.dialect(config),
    resource: Resource.make("pbs", config),
    swap: (argv: ReadonlyArray<string>) => [`${bin}/${argv[0]}`, ...argv.slice(1)],
  }
}
type Real = ReturnType<typeof realDialect>

const exec = (real: Real, argv: ReadonlyArray<string> | undefined, cwd?: string) =>
  Effect.flatMap(Transport, (t) => {
    ok(argv !== undefined, "the dialect refused the ids")
    return t.exec(real.swap(argv), cwd !== undefined ? { cwd } : undefined)
  })

/** One stat call of the dialect (its fallback when the first says unsupported). */
const stat = (real: Real, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const s = real.dialect.stat
    const r = s.parse(yield* exec(real, s.argv(ids)), ids)
    if (r._tag === "Failed" && r.unsupported === true && s.fallback !== undefined) {
      return listed(s.fallback.parse(yield* exec(real, s.fallback.argv(ids)), ids))
    }
    return listed(r)
  })

/** Polls until `done` holds of the stat reply (at most `seconds`). */
const until = (
  real: Real,
  ids: ReadonlyArray<string>,
  done: (jobs: ReadonlyMap<string, StatRecord>) => boolean,
  seconds = 120,
) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds; i++) {
      const jobs = yield* stat(real, ids)
      if (done(jobs)) return jobs
      yield* Effect.sleep("1 second")
    }
    throw new Error(`not done in ${seconds} s: ${JSON.stringify([...(yield* stat(real, ids))])}`)
  })

/** Writes a job script in a fresh directory of the test user's home and submits it. */
const submit = (
  real: Real,
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
    const cmd = real.dialect.submit({
      app: a,
      resource: real.resource,
      jobDir,
      scriptPath: `${jobDir}/.lrms/job.sh`,
      schedulerOutput: `${jobDir}/.lrms/scheduler.out`,
      schedulerError: `${jobDir}/.lrms/scheduler.err`,
      array,
    })
    const r = yield* exec(real, cmd.argv, jobDir)
    const id = real.dialect.parseJobId(r.stdout)
    ok(id !== undefined, `${cmd.argv.join(" ")}: ${r.stdout}${r.stderr}`)
    return { id, jobDir }
  })

const ended = (jobs: ReadonlyMap<string, StatRecord>, ids: ReadonlyArray<string>) =>
  ids.every((id) =>
    jobs.get(id)?.state === "TERMINATING" && jobs.get(id)?.termination !== undefined
  )

const realTest = (
  name: string,
  denoTest: typeof pbsTest,
  flavour: "pbspro" | "torque",
  bin: string,
  expect: {
    readonly limit: number | undefined
    readonly select: (attrs: ReadonlyMap<string, string>) => void
  },
) =>
  Deno.test({
    ...denoTest,
    ignore: denoTest.ignore || sshd === undefined,
    name,
    fn: () =>
      runTest(
        Effect.gen(function* () {
          const real = realDialect(flavour, bin)
          const arrays = real.dialect.arrays!
          const t = yield* Transport
          const dir = `${yield* t.homeDirectory}/.effect-lrms-test/${flavour}-array-${Date.now()}`
          const limit = arrays.limit!
          strictEqual(limit.parse(yield* exec(real, limit.argv)), expect.limit, "the site's limit")
          // an array of 3 whose elements exit with their index
          const v = arrays.indexVariable
          const one = yield* app({ arguments: ["true"] })
          const arr = yield* submit(real, dir, "arr", `echo "element $${v}"\nexit $${v}`, one, {
            size: 3,
            throttle: 2,
          })
          ok(arr.id.includes("[]"), arr.id)
          const ids = [0, 1, 2].map((i) => arrays.elementId(arr.id, arrays.firstIndex + i))
          const done = yield* until(real, ids, (jobs) => ended(jobs, ids))
          deepStrictEqual([...done.keys()].sort(), [...ids].sort(), "keyed by the element ids")
          deepStrictEqual(
            ids.map((id) => done.get(id)?.termination),
            [0, 1, 2].map(Termination.exited),
          )
          // accounting of one element by its id (tracejob takes one)
          const acct = real.dialect.accounting[0]!
          const record = acct.parse(yield* exec(real, acct.argv([ids[2]!])), [ids[2]!]).get(ids[2]!)
          deepStrictEqual(record?.termination, Termination.exited(2), "tracejob of an element")
          // cancel one running element by its id; its sibling runs on
          const sleepy = yield* submit(real, dir, "del", "sleep 120", one, { size: 2 })
          const pair = [0, 1].map((i) => arrays.elementId(sleepy.id, i))
          yield* until(real, pair, (jobs) => pair.every((id) => jobs.get(id)?.state === "RUNNING"))
          yield* exec(real, real.dialect.cancel.argv([pair[1]!]))
          const after = yield* until(real, pair, (jobs) =>
            jobs.get(pair[1]!)?.state === "TERMINATING")
          strictEqual(after.get(pair[0]!)?.state, "RUNNING", "only the element asked is cancelled")
          yield* exec(real, real.dialect.cancel.argv(pair))
          yield* until(real, pair, (jobs) =>
            pair.every((id) =>
              jobs.get(id)?.state === "TERMINATING"
            ))
          // a parallel shape the scheduler takes as asked: 2 processes × 2 cores on one node
          const parallel = yield* app({
            arguments: ["true"],
            nodes: 1,
            processes: 2,
            coresPerProcess: 2,
          })
          const body = 'wc -l <"$PBS_NODEFILE"; echo "OMP_NUM_THREADS=$OMP_NUM_THREADS"'
          const job = yield* submit(real, dir, "shape", body, parallel)
          yield* until(real, [job.id], (jobs) =>
            ended(jobs, [job.id]))
          const full = yield* exec(real, PbsParse.qstatFullArgv(flavour)([job.id]))
          expect.select(
            PbsParse.byRequestedId(PbsParse.parseQstatFull(full.stdout, flavour), [job.id])
              .get(job.id)!.attributes,
          )
          const out = yield* t.readFileString(`${job.jobDir}/.lrms/scheduler.out`)
          strictEqual(out.trim().split("\n")[0]?.trim(), flavour === "pbspro" ? "2" : "4", out)
          if (flavour === "pbspro") {
            ok(out.includes("OMP_NUM_THREADS=2"), out)
          }
          yield* t.remove(dir, { recursive: true })
        }).pipe(Effect.provide(Layer.merge(transport(), pwAuth))),
      ),
  })

realTest(
  "OpenPBS (real, over SSH): an array's elements polled, read and cancelled by id; 2 × 2 cores accepted as select",
  pbsTest,
  "pbspro",
  pbs?.bin ?? "/opt/pbs/bin",
  {
    limit: 10_000,
    select: (a) => {
      strictEqual(a.get("Resource_List.select"), "1:ncpus=4:mpiprocs=2:ompthreads=2")
      strictEqual(a.get("Resource_List.place"), "pack")
      strictEqual(a.get("Resource_List.ncpus"), "4")
    },
  },
)

realTest(
  "TORQUE (real, over SSH): an array's elements polled, read and cancelled by id; 2 × 2 cores accepted as nodes=1:ppn=4",
  torqueTest,
  "torque",
  torque?.bin ?? "/opt/torque/bin",
  {
    limit: undefined,
    select: (a) => {
      strictEqual(a.get("Resource_List.nodes"), "1:ppn=4")
      strictEqual(a.get("Resource_List.nodect"), "1")
    },
  },
)
