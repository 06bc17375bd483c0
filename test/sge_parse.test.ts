/**
 * SgeParse: Grid Engine argvs and parsers (spec §2.2–§2.5, §4.5, vectors §4.8.3 and the recorded
 * outputs of a real Son of Grid Engine 8.1.9).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import fc from "fast-check"
import * as Sge from "../backends/sge/SgeParse.ts"
import * as Termination from "../src/Termination.ts"
import type { Shape } from "../src/Application.ts"
import { type Block, block, gc3pie, parseBlocks, recorded } from "./_vectors.ts"

interface Vector {
  readonly exit_code: number
  readonly stdout: string
  readonly stderr: string
  readonly expected_jobid?: string
  readonly expected_parse_stat_if_exit0?: { readonly state: string }
  readonly expected_parse_acct?: Record<string, unknown>
}

const vectors = (): Promise<Record<string, Vector>> => gc3pie("test_sge")

Deno.test("vectors: qsub replies, qstat states, qacct, errors", async () => {
  const v = await vectors()
  strictEqual(Sge.parseQsubJobId(v.correct_submit!.stdout), v.correct_submit!.expected_jobid)
  for (const key of ["correct_qstat_queued", "correct_qstat_running"]) {
    const parsed = Sge.parseQstat(v[key]!.stdout)
    deepStrictEqual([...parsed.keys()], ["123"])
    strictEqual(parsed.get("123")!.state, v[key]!.expected_parse_stat_if_exit0!.state)
  }
  deepStrictEqual([...Sge.parseQstat(v.qstat_notfound!.stdout)], [])
  deepStrictEqual([...Sge.parseQacct(v.qacct_notfound!.stdout)], [])
  strictEqual(Sge.parseQsubJobId(v.qsub_failed_jobnamestartswithdigit!.stderr), undefined)
  const acct = Sge.parseQacct(v.correct_qacct_done!.stdout).get("123")!
  const want = v.correct_qacct_done!.expected_parse_acct!
  deepStrictEqual(acct.termination, Termination.exited(0))
  strictEqual(
    Duration.toSeconds(acct.usage.duration!),
    (want.duration as { seconds: number }).seconds,
  )
  strictEqual(Duration.toMillis(acct.usage.cpuTime!), 248)
  strictEqual(acct.usage.cores, 1)
  // GC3Pie read maxvmem 13.152M as 13.15 MB (it dropped two characters and used 1000s);
  // Grid Engine's M is MiB: 13.152 × 1024² bytes
  strictEqual(acct.usage.maxUsedVirtualMemory, Math.round(13.152 * 1024 ** 2))
  for (const key of ["sge_completion_time", "sge_start_time", "sge_submission_time"]) {
    strictEqual(acct.usage.extra[key], want[key])
  }
  for (const key of ["sge_queue", "sge_hostname", "sge_jobname", "sge_granted_pe", "sge_owner"]) {
    strictEqual(acct.usage.extra[key], want[key], key)
  }
})

Deno.test("recorded: qsub, -terse and array replies; refusals carry no id", async () => {
  const file = "vectors-sge.txt"
  strictEqual(Sge.parseQsubJobId((await block(file, "qsub job.sh")).output), "4")
  strictEqual(
    Sge.parseQsubJobId(
      (await block(file, "qsub -terse -b y -N vec-terse -cwd -o /dev/null -e /dev/null sleep 1"))
        .output,
    ),
    "5",
  )
  strictEqual(Sge.parseQsubJobId("10.1-3:1\n"), "10")
  strictEqual(
    Sge.parseQsubJobId((await block(file, "qsub -q nosuchq -b y true")).output),
    undefined,
  )
  ok(!Sge.qsubRetryable((await block(file, "qsub -q nosuchq -b y true")).output))
  ok(
    Sge.qsubRetryable((await block(file, "qsub -b y -o /dev/null -j y 'id -un; hostname'")).output),
  )
})

Deno.test("recorded: qstat listings — running, held, array tasks, Eqw; exact ids", async () => {
  const jobs = Sge.parseQstat((await block("vectors-sge.txt", "qstat")).output)
  deepStrictEqual([...jobs.keys()], ["8", "9", "12"])
  deepStrictEqual(jobs.get("8"), { state: "RUNNING", native: "r", user: "root", slots: 1 })
  strictEqual(jobs.get("9")!.state, "STOPPED", "hqw: held")
  const extra = await recorded("vectors-sge-extra.txt")
  const arrays = Sge.parseQstat(extra.find((b) => b.cmd === "qstat")!.output)
  strictEqual(arrays.get("3")!.state, "RUNNING", "array tasks fold into the most active")
  strictEqual(arrays.get("4")!.state, "SUBMITTED")
  const eqw = Sge.parseQstat(extra.filter((b) => b.cmd === "qstat").at(-1)!.output)
  strictEqual(eqw.get("5")!.state, "STOPPED", "Eqw waits for someone to act (GC3Pie: SUBMITTED)")
  // GC3Pie's egrep '^ *12' matched job 123 too
  const two = Sge.parseQstat(
    "    123 0.50000 other      root         r     11/23/2026 23:30:18 all.q@vm    1\n",
  )
  strictEqual(two.get("12"), undefined)
})

Deno.test("recorded: qacct — units, signals, enforced limits, qdel", async () => {
  const file = "vectors-sge.txt"
  const ok4 = Sge.parseQacct((await block(file, "qacct -j 4")).output).get("4")!
  deepStrictEqual(ok4.termination, Termination.exited(0))
  strictEqual(Duration.toSeconds(ok4.usage.duration!), 2)
  strictEqual(Duration.toMillis(ok4.usage.cpuTime!), 118)
  strictEqual(ok4.usage.maxUsedMemory, Math.round(4.336 * 1024), "ru_maxrss 4.336KB")
  strictEqual(ok4.usage.maxUsedVirtualMemory, Math.round(5.012 * 1024 ** 2), "maxvmem 5.012MB")
  strictEqual(ok4.usage.extra.sge_start_time, "2026-11-23T23:30:15")
  const failed = Sge.parseQacct(
    (await block(
      file,
      "qacct -j 6 | grep -E '^(jobnumber|jobname|failed|exit_status|ru_wallclock|maxvmem|cpu|start_time|end_time)'",
    )).output,
  ).get("6")!
  deepStrictEqual(failed.termination, Termination.exited(3))
  const deleted = Sge.parseQacct(
    (await block(
      file,
      "qacct -j 8 | grep -E '^(jobnumber|jobname|failed|exit_status|ru_wallclock|start_time|end_time)'",
    )).output,
  ).get("8")!
  deepStrictEqual(deleted.termination, Termination.signalled(9), "qdel: 137 (Killed), failed 100")
  const hrt = Sge.parseQacct(
    (await block(
      file,
      "qacct -j 11 | grep -E '^(jobnumber|jobname|failed|exit_status|ru_wallclock)'",
    )).output,
  ).get("11")!
  deepStrictEqual(
    hrt.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
    "failed 37: qmaster enforced h_rt",
  )
  deepStrictEqual([...Sge.parseQacct((await block(file, "qacct -j 999999")).output)], [])
  deepStrictEqual(Sge.terminationOf(26, 0), Termination.signalled(Termination.Signals.RemoteError))
})

Deno.test("recorded: free slots from qstat -f; counts from qstat -u '*'", async () => {
  const file = "vectors-sge.txt"
  const blocks = (await recorded(file)).filter((b) => b.cmd === "qstat -f")
  strictEqual(Sge.parseFreeSlots(blocks[0]!.output), 2)
  strictEqual(Sge.parseFreeSlots(blocks[1]!.output), 1)
  strictEqual(
    Sge.parseFreeSlots(
      "all.q@a   BIP   0/2/8   0.1  lx-amd64\nbig.q@a   BP   1/3/8  0.1 lx-amd64\n" +
        "all.q@b   BIP   0/0/4   0.1  lx-amd64  d\nint.q@c   I   0/0/4\n",
    ),
    4,
    "host a: 8 − max(2, 4); host b disabled; interactive queues left out",
  )
  strictEqual(Sge.parseFreeSlots("garbage"), undefined)
  deepStrictEqual(Sge.countJobs((await block(file, "qstat -u '*'")).output, "root"), {
    queued: 0,
    totalRun: 1,
    userRun: 1,
    userQueued: 0,
  })
})

Deno.test("qsubArgv: per-slot memory in MiB, walltime in seconds, -pe only for several cores", () => {
  const base = {
    jobname: "lrms.x",
    cores: 1,
    memoryResource: "mem_free",
    walltimeResources: ["s_rt", "h_rt"],
    output: "/s/j/.lrms/scheduler.out",
    error: "/s/j/.lrms/scheduler.err",
    script: "/s/j/.lrms/job.sh",
  }
  deepStrictEqual(Sge.qsubArgv(base), [
    "qsub",
    "-cwd",
    "-S",
    "/bin/sh",
    "-N",
    "lrms.x",
    "-o",
    "/s/j/.lrms/scheduler.out",
    "-e",
    "/s/j/.lrms/scheduler.err",
    "/s/j/.lrms/job.sh",
  ])
  const argv = Sge.qsubArgv({
    ...base,
    cores: 4,
    pe: "smp",
    memory: 3 * 1000 ** 3,
    walltime: Duration.millis(5_400_500),
    queue: "all.q",
  })
  ok(
    argv.join(" ").includes("-l s_rt=5401,h_rt=5461 -l mem_free=716M -pe smp 4 -q all.q"),
    argv.join(" "),
  )
})

const text = fc.oneof(
  fc.fullUnicodeString(),
  fc.array(
    fc.array(
      fc.oneof(
        fc.string(),
        fc.constantFrom("123", "0.5", "qw", "11/23/2026", "12:00:00", "all.q@vm"),
      ),
      {
        maxLength: 10,
      },
    ).map((f) => f.join(" ")),
  ).map((l) => l.join("\n")),
  fc.array(
    fc.tuple(
      fc.constantFrom("jobnumber", "exit_status", "failed", "maxvmem", "cpu", "===="),
      fc.string(),
    ),
  )
    .map((kv) => kv.map(([k, v]) => `${k} ${v}`).join("\n")),
)

Deno.test("property: the parsers never throw", () => {
  fc.assert(
    fc.property(text, fc.string(), (s, user) => {
      Sge.parseQsubJobId(s)
      Sge.parseQstat(s)
      Sge.parseQacct(s)
      Sge.parseFreeSlots(s)
      Sge.countJobs(s, user)
      Sge.parseSgeMemory(s)
      Sge.parseSgeSeconds(s)
      Sge.parseSgeTime(s)
    }),
    { numRuns: 500 },
  )
})

Deno.test("property: qsubArgv keeps the name one word, the script last; qdel refuses odd ids", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,30}$/),
      fc.integer({ min: 1, max: 512 }),
      (name, cores) => {
        const argv = Sge.qsubArgv({
          jobname: name,
          cores,
          pe: "smp",
          memoryResource: "h_vmem",
          walltimeResources: ["h_rt"],
          output: "/o",
          error: "/e",
          script: "/s",
        })
        strictEqual(argv[argv.indexOf("-N") + 1], name)
        strictEqual(argv.at(-1), "/s")
      },
    ),
  )
  strictEqual(Sge.qdelArgv(["1", "2; rm -rf /"]), undefined)
  deepStrictEqual(Sge.qdelArgv(["7", "7", "8"]), ["qdel", "7", "8"])
})

// =============================================================================
// Arrays, rescheduled jobs, parallel shapes (test/data/vectors/sge/arrays.txt, recorded from the
// test cell by test/data/vectors/sge/record.sh)
// =============================================================================

/** The blocks of arrays.txt by label. */
const arrayBlocks = async (): Promise<(label: string) => Block> => {
  const url = new URL("./data/vectors/sge/arrays.txt", import.meta.url)
  const blocks = parseBlocks("arrays.txt", await Deno.readTextFile(url))
  return (label) => {
    const b = blocks.find((x) => x.label === label)
    if (b === undefined) throw new Error(`no "=== ${label} ===" block in arrays.txt`)
    return b
  }
}

/** The ids of the recording: held array A, throttled array B, rerunnable C, not rerunnable D. */
const recordedIds = (at: (label: string) => Block) => {
  const a = Sge.parseQsubJobId(at("array held").output)!
  const b = Sge.parseQsubJobId(at("array throttled").output)!
  const c = Sge.parseQsubJobId(at("rerunnable job").output)!
  const d = Sge.parseQsubJobId(at("not rerunnable job").output)!
  return { a, b, c, d }
}

const states = (m: ReadonlyMap<string, Sge.QstatRecord>) =>
  Object.fromEntries([...m].map(([id, r]) => [id, r.state]))

Deno.test("arrays (recorded): qsub's reply gives the array's id; its tasks are <id>.<task>", async () => {
  const at = await arrayBlocks()
  const { a, b } = recordedIds(at)
  ok(/^\d+$/.test(a) && /^\d+$/.test(b), `${a} ${b}`)
  ok(/^Your job-array \d+\.1-4:1 \("vec-arrh"\) has been submitted$/.test(at("array held").output))
  strictEqual(Sge.elementId(a, 2), `${a}.2`)
  // the argvs the dialect builds are the commands that were recorded
  deepStrictEqual(Sge.qdelArgv([Sge.elementId(a, 2)])?.join(" "), at("qdel element").cmd)
  deepStrictEqual(
    Sge.qdelArgv([`${b}.6`, `${a}.4`])?.join(" "),
    at("qdel elements of two arrays").cmd,
  )
  ok(at("qdel elements of two arrays").output.includes(`deleted job-array task ${a}.4`))
  deepStrictEqual(Sge.qacctArgv([`${b}.2`])?.join(" "), at("qacct element").cmd)
  deepStrictEqual(Sge.qacctArgv([b]), ["qacct", "-j", b])
  deepStrictEqual(Sge.splitJobId(`${b}.2`), { job: b, task: 2 })
  deepStrictEqual(Sge.splitJobId(b), { job: b })
  strictEqual(Sge.splitJobId("12.x"), undefined)
  ok(Sge.isValidJobId("123.4") && !Sge.isValidJobId("123.") && !Sge.isValidJobId("123.4.5"))
  strictEqual(Sge.qacctArgv(["1.2", "3"]), undefined, "qacct takes one job")
  strictEqual(Sge.qdelArgv(["1.2", "3[4]"]), undefined)
  // the task ids of qstat -j's "job-array tasks" line
  ok(at("array details").output.includes("job-array tasks:            1-4:1"))
})

Deno.test("arrays (recorded): qstat's task ranges expand to what qstat -g d lists, task by task", async () => {
  const at = await arrayBlocks()
  const { a, b } = recordedIds(at)
  const tasks = Sge.parseQstatTasks(at("qstat arrays").output)
  deepStrictEqual(states(tasks), {
    [`${b}.1`]: "RUNNING",
    [`${b}.2`]: "RUNNING",
    [`${a}.1`]: "STOPPED",
    [`${a}.2`]: "STOPPED",
    [`${a}.3`]: "STOPPED",
    [`${a}.4`]: "STOPPED",
    [`${b}.3`]: "SUBMITTED",
    [`${b}.4`]: "SUBMITTED",
    [`${b}.5`]: "SUBMITTED",
    [`${b}.6`]: "SUBMITTED",
  })
  deepStrictEqual(
    new Map([...tasks].sort()),
    new Map([...Sge.parseQstatTasks(at("qstat arrays by task").output)].sort()),
    "the default listing, expanded, says what qstat -g d says",
  )
  // folded, the array is running while any task runs
  strictEqual(Sge.parseQstat(at("qstat arrays").output).get(b)!.state, "RUNNING")
  strictEqual(Sge.parseQstat(at("qstat arrays").output).get(a)!.state, "STOPPED")
  deepStrictEqual(
    Object.keys(states(Sge.parseQstatTasks(at("qstat after qdel").output))).filter((k) =>
      k.startsWith(`${a}.`)
    ),
    [`${a}.1`, `${a}.4`],
    "the list 1,4 once tasks 2 and 3 are deleted",
  )
  deepStrictEqual(
    Object.keys(states(Sge.parseQstatTasks(at("qstat after qdel of two").output))).sort(),
    [`${a}.1`, `${b}.1`, `${b}.2`, `${b}.3`, `${b}.4`, `${b}.5`].sort(),
  )
  // each task counts as a job; held ones are neither waiting nor running
  deepStrictEqual(Sge.countJobs(at("qstat arrays").output, "root"), {
    queued: 4,
    totalRun: 2,
    userRun: 2,
    userQueued: 4,
  })
})

Deno.test("expandTaskIds: single ids, ranges with steps, lists; nothing else", () => {
  deepStrictEqual(Sge.expandTaskIds("4"), [4])
  deepStrictEqual(Sge.expandTaskIds("1-4:1"), [1, 2, 3, 4])
  deepStrictEqual(Sge.expandTaskIds("2-10:2"), [2, 4, 6, 8, 10])
  deepStrictEqual(Sge.expandTaskIds("2-9:3"), [2, 5, 8])
  deepStrictEqual(Sge.expandTaskIds("3,4"), [3, 4])
  deepStrictEqual(Sge.expandTaskIds("1,5-7:1"), [1, 5, 6, 7])
  deepStrictEqual(Sge.expandTaskIds("3-5"), [3, 4, 5])
  for (const bad of ["", "x", "5-3", "1-4:0", "1,,2", "1-", "-1", "1-2:1:1"]) {
    strictEqual(Sge.expandTaskIds(bad), undefined, bad)
  }
  strictEqual(Sge.expandTaskIds("1-99999999999"), undefined, "no range of 10^11 tasks")
})

Deno.test("arrays (recorded): qacct keys each task by <id>.<task>, with its own exit code", async () => {
  const at = await arrayBlocks()
  const { b } = recordedIds(at)
  const all = Sge.parseQacct(at("qacct array").output)
  deepStrictEqual([...all.keys()], [1, 2, 3, 4, 5].map((t) => `${b}.${t}`), "task 6 was deleted")
  for (const t of [1, 2, 3, 4, 5]) {
    deepStrictEqual(all.get(`${b}.${t}`)!.termination, Termination.exited(t % 3), `task ${t}`)
    strictEqual(all.get(`${b}.${t}`)!.state, "TERMINATING")
    strictEqual(all.get(`${b}.${t}`)!.usage.extra.sge_taskid, String(t))
  }
  strictEqual(all.get(b), undefined, "an array's records are its tasks'")
  const one = Sge.parseQacct(at("qacct element").output)
  deepStrictEqual([...one.keys()], [`${b}.2`])
  deepStrictEqual(one.get(`${b}.2`)!.termination, Termination.exited(2))
  ok(Duration.toSeconds(one.get(`${b}.2`)!.usage.duration!) >= 8, "the task slept 8 s")
  // a task deleted while waiting never ran: qacct fails, which the batch flow reads as no record
  strictEqual(at("qacct deleted element").rc, 1)
  deepStrictEqual([...Sge.parseQacct(at("qacct deleted element").output)], [])
  // qacct reads -j N.T as job N: every task (so the dialect uses -t)
  strictEqual(at("qacct dotted id").output.match(/^taskid/gm)?.length, 5)
})

Deno.test("requeue (recorded): Rq is waiting again, Rr running, Rs stopped, dr being deleted", async () => {
  const at = await arrayBlocks()
  const { c, d } = recordedIds(at)
  ok(at("rerunnable job").cmd.includes("-r y") && at("not rerunnable job").cmd.includes("-r n"))
  ok(at("reschedule refused").output.includes("not restartable"), "-r n: qmod -rj refuses")
  const rq = Sge.parseQstat(at("qstat rescheduled").output)
  deepStrictEqual(rq.get(c), { state: "SUBMITTED", native: "Rq", user: "root", slots: 1 })
  strictEqual(rq.get(d)!.state, "RUNNING")
  strictEqual(Sge.parseQstat(at("qstat rescheduled running").output).get(c)!.native, "Rr")
  strictEqual(Sge.parseQstat(at("qstat rescheduled running").output).get(c)!.state, "RUNNING")
  strictEqual(Sge.parseQstat(at("qstat suspended").output).get(c)!.state, "STOPPED")
  const deleting = Sge.parseQstat(at("qstat deleting").output)
  ok(["dRr", "dr"].includes(deleting.get(c)!.native), deleting.get(c)!.native)
  strictEqual(deleting.get(c)!.state, "RUNNING")
  ok(Sge.stateReason(deleting.get(c)!.native)!.includes("being deleted"))
  // qacct's record of the cut run is not the job's end
  const cut = Sge.parseQacct(at("qacct rescheduled").output).get(c)!
  strictEqual(cut.state, "SUBMITTED", cut.native)
  ok(cut.native.includes("rescheduling"))
  // after the rerun was deleted: the last record is the end
  const end = Sge.parseQacct(at("qacct rescheduled then deleted").output).get(c)!
  strictEqual(end.state, "TERMINATING")
  deepStrictEqual(end.termination, Termination.signalled(9), "failed 100, exit_status 137")
})

Deno.test("mapState and stateReason: every code qstat(1) lists maps to a clear state", () => {
  const want: Record<string, string> = {
    qw: "SUBMITTED",
    hqw: "STOPPED",
    hRwq: "STOPPED",
    Rq: "SUBMITTED",
    r: "RUNNING",
    t: "RUNNING",
    Rr: "RUNNING",
    Rt: "RUNNING",
    s: "STOPPED",
    ts: "STOPPED",
    S: "STOPPED",
    tS: "STOPPED",
    T: "STOPPED",
    tT: "STOPPED",
    Rs: "STOPPED",
    Rts: "STOPPED",
    RS: "STOPPED",
    RT: "STOPPED",
    Eqw: "STOPPED",
    Ehqw: "STOPPED",
    EhRqw: "STOPPED",
    dr: "RUNNING",
    dt: "RUNNING",
    dRr: "RUNNING",
    ds: "STOPPED",
    dS: "STOPPED",
    dT: "STOPPED",
    dRs: "STOPPED",
    z: "TERMINATING",
    "": "UNKNOWN",
    "?": "UNKNOWN",
  }
  for (const [code, state] of Object.entries(want)) strictEqual(Sge.mapState(code), state, code)
  strictEqual(Sge.stateReason("Rq"), "rescheduled")
  strictEqual(Sge.stateReason("r"), undefined)
  ok(Sge.stateReason("Eqw")!.startsWith("error"))
  strictEqual(Sge.stateReason("hRwq"), "held, rescheduled")
})

Deno.test("qsubArgv: -r y|n, -t 1-N -tc T with per-task scheduler files, GPUs, exclusive", () => {
  const base = {
    jobname: "lrms.x",
    cores: 1,
    memoryResource: "mem_free",
    walltimeResources: ["h_rt"],
    output: "/s/a/.lrms/scheduler.out",
    error: "/s/a/.lrms/scheduler.err",
    script: "/s/a/.lrms/job.sh",
  }
  const argv = Sge.qsubArgv({ ...base, rerun: false, array: { size: 300, throttle: 20 } })
  ok(
    argv.join(" ").includes(
      "-o /s/a/.lrms/scheduler.out.$TASK_ID -e /s/a/.lrms/scheduler.err.$TASK_ID -r n -t 1-300 -tc 20",
    ),
    argv.join(" "),
  )
  ok(Sge.qsubArgv({ ...base, rerun: true }).join(" ").includes(" -r y "))
  ok(!Sge.qsubArgv({ ...base, array: { size: 3 } }).includes("-tc"))
  ok(!Sge.qsubArgv(base).join(" ").includes("TASK_ID"), "one job: its files as given")
  ok(
    Sge.qsubArgv({
      ...base,
      cores: 4,
      pe: "mpi",
      gpus: { resource: "gpu", count: 1 },
      exclusive: "excl",
    })
      .join(" ").endsWith("-pe mpi 4 -l gpu=1 -l excl=true /s/a/.lrms/job.sh"),
  )
})

Deno.test("parseMaxArrayTasks (recorded qconf -sconf): max_aj_tasks; 0 is qsub's own bound", async () => {
  const at = await arrayBlocks()
  strictEqual(Sge.parseMaxArrayTasks(at("limit").output), 75000)
  strictEqual(Sge.parseMaxArrayTasks("max_aj_instances 2000\nmax_aj_tasks 0\n"), 2 ** 31 - 1)
  strictEqual(Sge.parseMaxArrayTasks("max_aj_tasks 500"), 500)
  strictEqual(Sge.parseMaxArrayTasks("max_aj_instances 2000"), undefined)
})

const shape = (s: Partial<Shape> = {}): Shape => ({
  nodes: undefined,
  processes: 1,
  processesPerNode: undefined,
  coresPerProcess: 1,
  gpusPerProcess: 0,
  exclusive: false,
  launcher: undefined,
  ...s,
})

const settings: Sge.ShapeSettings = {
  pe: "smp",
  applicationName: "app",
  multiNodePe: {},
  gpuPerSlot: true,
}

Deno.test("planShape: slots = processes × cores in the PE; nodes, GPUs, exclusive or a refusal", () => {
  deepStrictEqual(Sge.planShape(shape(), settings), {
    slots: 1,
    pe: undefined,
    gpus: undefined,
    exclusive: undefined,
  })
  deepStrictEqual(Sge.planShape(shape({ processes: 2, coresPerProcess: 2 }), settings), {
    slots: 4,
    pe: "smp",
    gpus: undefined,
    exclusive: undefined,
  })
  const noPe = Sge.planShape(shape({ processes: 4 }), { ...settings, pe: undefined })
  ok(typeof noPe === "string" && noPe.includes("defaultPe") && noPe.includes("pe.app"), `${noPe}`)
  // several nodes: a PE whose allocation_rule is the slots per node
  const two = shape({ nodes: 2, processes: 8, processesPerNode: 4 })
  const refused = Sge.planShape(two, settings)
  ok(typeof refused === "string" && refused.startsWith("nodes:"), `${refused}`)
  ok((refused as string).includes("multiNodePe.4"), `${refused}`)
  deepStrictEqual(
    Sge.planShape(two, { ...settings, multiNodePe: { "4": "mpi4" } }),
    { slots: 8, pe: "mpi4", gpus: undefined, exclusive: undefined },
  )
  // GPUs: a consumable per slot (YES) or per job (JOB); none configured: refused
  const gpus = shape({ processes: 2, gpusPerProcess: 1 })
  const noGpu = Sge.planShape(gpus, settings)
  ok(typeof noGpu === "string" && noGpu.startsWith("gpusPerProcess:"), `${noGpu}`)
  ok((noGpu as string).includes("gpuResource"))
  deepStrictEqual(
    (Sge.planShape(gpus, { ...settings, gpuResource: "gpu" }) as Sge.ShapePlan).gpus,
    { resource: "gpu", count: 1 },
  )
  const hybrid = shape({ processes: 2, coresPerProcess: 2, gpusPerProcess: 1 })
  const uneven = Sge.planShape(hybrid, { ...settings, gpuResource: "gpu" })
  ok(typeof uneven === "string" && uneven.includes("gpuPerSlot"), `${uneven}`)
  deepStrictEqual(
    (Sge.planShape(hybrid, { ...settings, gpuResource: "gpu", gpuPerSlot: false }) as Sge.ShapePlan)
      .gpus,
    { resource: "gpu", count: 2 },
  )
  // whole nodes: an EXCL complex, or refused
  const excl = Sge.planShape(shape({ exclusive: true }), settings)
  ok(typeof excl === "string" && excl.startsWith("exclusive:"), `${excl}`)
  ok((excl as string).includes("exclusiveResource"))
  strictEqual(
    (Sge.planShape(shape({ exclusive: true }), {
      ...settings,
      exclusiveResource: "exclusive",
    }) as Sge.ShapePlan).exclusive,
    "exclusive",
  )
})

Deno.test("property: the array parsers never throw; expanded ranges are what they say", () => {
  fc.assert(
    fc.property(text, (s) => {
      Sge.parseQstatTasks(s)
      Sge.expandTaskIds(s)
      Sge.parseMaxArrayTasks(s)
      Sge.splitJobId(s)
      Sge.stateReason(s)
    }),
    { numRuns: 300 },
  )
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 1, max: 7 }),
      (first, span, step) => {
        const ids = Sge.expandTaskIds(`${first}-${first + span}:${step}`)!
        strictEqual(ids.length, Math.floor(span / step) + 1)
        ok(ids.every((t, i) => t === first + i * step))
      },
    ),
  )
})

Deno.test("recorded: an array is found by its tag; a parallel job's slots, PE and PE_HOSTFILE", async () => {
  const at = await arrayBlocks()
  const { a } = recordedIds(at)
  deepStrictEqual([...Sge.parseTaggedJobs(at("array details").output)], [["vec-array-tag", a]])
  const e = Sge.parseQsubJobId(at("parallel job").output)!
  const acct = Sge.parseQacct(at("qacct parallel job").output).get(e)!
  strictEqual(acct.usage.cores, 4)
  strictEqual(acct.usage.extra.sge_granted_pe, "smp")
  // what the mpirun launcher reads: host, slots, queue, processors
  ok(/^\S+ 4 all\.q@\S+ UNDEFINED$/m.test(at("parallel job output").output))
  ok(at("parallel job output").output.includes("NSLOTS=4 NHOSTS=1 PE=smp"))
  // more hosts than the cell has: qsub -w e refuses, for good
  const refused = at("too many nodes refused")
  strictEqual(refused.rc, 1)
  strictEqual(Sge.parseQsubJobId(refused.output), undefined)
  ok(!Sge.qsubRetryable(refused.output), refused.output)
  ok(at("one node's worth accepted").output.includes("found suitable queue"))
})

Deno.test("qsubArgv: -w e when verifying", () => {
  const argv = Sge.qsubArgv({
    jobname: "x",
    cores: 1,
    memoryResource: "mem_free",
    walltimeResources: ["h_rt"],
    output: "/o",
    error: "/e",
    script: "/s",
    verify: true,
    rerun: false,
  })
  ok(argv.join(" ").includes("-e /e -w e -r n /s"), argv.join(" "))
})
