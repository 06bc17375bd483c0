/**
 * PbsParse: PBS/Torque argvs and parsers (spec §2.2–§2.5, §4.4, vectors §4.8.2, the outputs of
 * Slurm's PBS wrappers recorded here, and outputs in the formats Torque and PBS Pro document).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import fc from "fast-check"
import * as Pbs from "../backends/pbs/PbsParse.ts"
import { parseStatReply } from "../backends/pbs/Pbs.ts"
import * as Termination from "../src/Termination.ts"
import { block, gc3pie } from "./_vectors.ts"

interface Vector {
  readonly exit_code: number
  readonly stdout: string
  readonly stderr: string
  readonly expected_jobid?: string
  readonly expected_parse_stat_if_exit0?: { readonly state: string }
  readonly expected_parse_acct?: Record<string, unknown>
}

const vectors = (): Promise<Record<string, Vector>> => gc3pie("test_pbs")

const recorded = async (cmd: string): Promise<string> =>
  (await block("vectors-pbs-wrappers.txt", cmd)).output + "\n"

Deno.test("vectors: qsub, qstat, tracejob, refusals", async () => {
  const v = await vectors()
  strictEqual(Pbs.parseQsubJobId(v.correct_submit!.stdout), "123")
  for (const key of ["qsub_failed_acl", "qsub_failed_resources"]) {
    strictEqual(Pbs.parseQsubJobId(v[key]!.stdout + v[key]!.stderr), undefined)
    ok(!Pbs.qsubRetryable(v[key]!.stderr), key)
  }
  for (const key of ["correct_qstat_queued", "correct_qstat_running"]) {
    strictEqual(
      Pbs.parseQstat(v[key]!.stdout).get("123")!.state,
      v[key]!.expected_parse_stat_if_exit0!.state,
    )
  }
  // qstat of an unknown job: nothing listed, which is an answer (not a failure)
  const notFound = v.qstat_notfound!
  deepStrictEqual(
    parseStatReply({
      exitCode: notFound.exit_code,
      stdout: notFound.stdout,
      stderr: notFound.stderr,
    }, [
      "123",
    ]),
    { _tag: "Listed", jobs: new Map() },
  )
  const done = Pbs.parseTracejob(v.correct_tracejob_done!.stdout)!
  const want = v.correct_tracejob_done!.expected_parse_acct!
  deepStrictEqual(done.termination, Termination.exited(0))
  strictEqual(Duration.toSeconds(done.usage.duration!), 125)
  strictEqual(Duration.toSeconds(done.usage.cpuTime!), 0)
  // GC3Pie: 2364 kB = 2,364,000 bytes; PBS's kb is 1024 bytes
  strictEqual(done.usage.maxUsedMemory, 2364 * 1024)
  strictEqual(done.usage.maxUsedVirtualMemory, 190944 * 1024)
  for (
    const key of [
      "pbs_submission_time",
      "pbs_running_time",
      "pbs_end_time",
      "pbs_queue",
      "pbs_jobname",
    ]
  ) {
    strictEqual(done.usage.extra[key], want[key], key)
  }
  strictEqual(Pbs.parseTracejob(v.tracejob_notfound!.stdout), undefined)
})

Deno.test("tracejob: Torque's negative exit statuses are kept (GC3Pie lost them)", () => {
  const line = (status: string) =>
    `\nJob: 7.srv\n\n03/09/2012 09:34:08  S    Exit_status=${status} resources_used.cput=00:00:01 ` +
    `resources_used.mem=10kb resources_used.vmem=20kb resources_used.walltime=00:01:00\n`
  deepStrictEqual(
    Pbs.parseTracejob(line("-11"))!.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
    "-11: walltime exceeded",
  )
  deepStrictEqual(Pbs.parseTracejob(line("-1"))!.termination, Termination.signalled(124))
  deepStrictEqual(
    Pbs.parseTracejob(line("271"))!.termination,
    Termination.signalled(15),
    "256 + 15",
  )
  deepStrictEqual(
    Pbs.parseTracejob(line("137"))!.termination,
    Termination.signalled(9),
    "shell 128 + 9",
  )
  deepStrictEqual(Pbs.parseTracejob(line("3"))!.termination, Termination.exited(3))
})

Deno.test("recorded (Slurm's PBS wrappers): qstat -f, qstat -a, pbsnodes, qsub", async () => {
  const running = Pbs.parseQstatFull(await recorded("qstat -f 3"))
  strictEqual(running.get("3")!.state, "RUNNING")
  strictEqual(running.get("3")!.attributes.get("Job_Name"), "pbs-vec")
  strictEqual(running.get("3")!.usage.extra.pbs_submission_time, "2026-11-23T23:27:19")
  const completed = Pbs.parseQstatFull(await recorded("qstat -f 3 | head -12"))
  strictEqual(completed.get("3")!.state, "TERMINATING")
  strictEqual(completed.get("3")!.termination, undefined, "no exit_status printed by the wrapper")
  deepStrictEqual(Pbs.countJobs(await recorded("qstat -a"), "root"), {
    queued: 0,
    totalRun: 1,
    userRun: 1,
    userQueued: 0,
  })
  strictEqual(Pbs.parseFreeCores(await recorded("pbsnodes -a")), 2)
  strictEqual(Pbs.parseQsubJobId(await recorded("qsub pbsjob.sh")), "3")
  deepStrictEqual([...Pbs.parseQstat(await recorded("qstat")).keys()], ["1", "2", "3"])
})

/** Torque 6 `qstat -f` of a completed job, in the documented layout (long values wrapped). */
const TORQUE_FULL = `Job Id: 4242.head.cluster.org
    Job_Name = lrms.app
    Job_Owner = alice@login.cluster.org
    resources_used.cput = 00:01:40
    resources_used.energy_used = 0
    resources_used.mem = 524288kb
    resources_used.vmem = 1048576kb
    resources_used.walltime = 00:02:05
    job_state = C
    queue = batch
    server = head.cluster.org
    ctime = Mon Nov 23 10:00:00 2026
    exec_host = n01/0-3
    Variable_List = PBS_O_QUEUE=batch,PBS_O_HOME=/home/alice,PBS_O_LOGNAME=alice,
\tPBS_O_PATH=/usr/bin:/bin,PBS_O_WORKDIR=/home/alice
    exit_status = 3
    qtime = Mon Nov 23 10:00:00 2026
    start_time = Mon Nov 23 10:00:05 2026
    comp_time = Mon Nov 23 10:02:10 2026

Job Id: 4243.head.cluster.org
    Job_Name = lrms.other
    job_state = Q
    queue = batch
`

/** PBS Pro `qstat -x -f` of a finished job (`F`, `Exit_status`, `stime`, `obittime`). */
const PBSPRO_FULL = `Job Id: 99.pbspro
    Job_Name = lrms.app
    job_state = F
    queue = workq
    resources_used.cpupercent = 0
    resources_used.cput = 00:00:00
    resources_used.mem = 3780kb
    resources_used.ncpus = 2
    resources_used.vmem = 12300kb
    resources_used.walltime = 00:00:10
    Exit_status = 265
    stime = Tue Nov 24 01:00:00 2026
    obittime = Tue Nov 24 01:00:10 2026
`

Deno.test("qstat -f: Torque's completed jobs and PBS Pro's finished ones carry their end", () => {
  const torque = Pbs.parseQstatFull(TORQUE_FULL)
  const done = torque.get("4242.head.cluster.org")!
  strictEqual(done.state, "TERMINATING")
  deepStrictEqual(done.termination, Termination.exited(3))
  strictEqual(Duration.toSeconds(done.usage.duration!), 125)
  strictEqual(Duration.toSeconds(done.usage.cpuTime!), 100)
  strictEqual(done.usage.maxUsedMemory, 512 * 1024 ** 2)
  strictEqual(done.usage.extra.pbs_end_time, "2026-11-23T10:02:10")
  ok(
    done.attributes.get("Variable_List")!.endsWith("PBS_O_WORKDIR=/home/alice"),
    "wrapped value joined",
  )
  strictEqual(torque.get("4243.head.cluster.org")!.state, "SUBMITTED")
  // qsub printed 4242.head: matched by sequence number
  deepStrictEqual([...Pbs.byRequestedId(torque, ["4242.head", "4243", "9999"]).keys()], [
    "4242.head",
    "4243",
  ])
  const pro = Pbs.parseQstatFull(PBSPRO_FULL).get("99.pbspro")!
  deepStrictEqual(pro.termination, Termination.signalled(9), "265 = 256 + 9")
  strictEqual(pro.usage.cores, 2)
  strictEqual(pro.usage.extra.pbs_running_time, "2026-11-24T01:00:00")
  const reply = parseStatReply(
    {
      exitCode: 153,
      stdout: TORQUE_FULL,
      stderr: "qstat: Unknown Job Id Error 9999.head.cluster.org\n",
    },
    ["4242", "9999"],
  )
  ok(reply._tag === "Listed" && reply.jobs.get("4242")?.usage !== undefined, "known jobs listed")
  strictEqual(
    parseStatReply({
      exitCode: 111,
      stdout: "",
      stderr: "Connection refused\nqstat: cannot connect to server head (errno=111)\n",
    }, ["1"])._tag,
    "Failed",
  )
})

Deno.test("qsubArgv: Torque and PBS Pro resource syntax, name cut to 15", () => {
  const base = {
    jobname: "lrms.a-rather-long-name",
    cores: 4,
    memory: 3 * 1024 ** 3,
    walltime: Duration.minutes(90),
    output: "/o",
    error: "/e",
    script: "/s",
  }
  deepStrictEqual(Pbs.qsubArgv({ ...base, flavour: "torque", queue: "short" }), [
    "qsub",
    "-N",
    "lrms.a-rather-l",
    "-o",
    "/o",
    "-e",
    "/e",
    "-l",
    "nodes=1:ppn=4",
    "-l",
    "mem=3072mb",
    "-l",
    "walltime=01:30:00",
    "-q",
    "short",
    "/s",
  ])
  // PBS Pro in the foreground: no qsub daemon left holding the session that ran it
  deepStrictEqual(Pbs.qsubArgv({ ...base, flavour: "pbspro" }).slice(0, 2), ["qsub", "-f"])
  strictEqual(Pbs.qsubArgv({ ...base, flavour: "torque" }).includes("-f"), false)
  deepStrictEqual(
    Pbs.qsubArgv({ ...base, flavour: "pbspro", walltime: Duration.hours(50) }).slice(8),
    [
      "-l",
      "select=1:ncpus=4:mem=3072mb",
      "-l",
      "walltime=50:00:00",
      "/s",
    ],
  )
})

Deno.test("pbsnodes: free cores per node, busy and down nodes", () => {
  const text = "n01\n     state = job-exclusive\n     np = 4\n     jobs = 0-3/12.srv\n" +
    "n02\n     state = free\n     np = 8\n     jobs = 0/13.srv, 1/13.srv\n" +
    "n03\n     state = down\n     np = 8\n"
  strictEqual(Pbs.parseFreeCores(text), 6)
})

const text = fc.oneof(
  fc.fullUnicodeString(),
  fc.array(
    fc.oneof(
      fc.constantFrom(
        "Job Id: 1.srv",
        "    job_state = C",
        "    exit_status = -11",
        "\tcontinued",
        "Job: 1",
      ),
      fc.string().map((s) => `    ${s} = ${s}`),
      fc.string().map((s) => `03/09/2012 09:34:08  S    Exit_status=${s}`),
    ),
  ).map((l) => l.join("\n")),
)

Deno.test("property: the parsers never throw", () => {
  fc.assert(
    fc.property(text, fc.string(), fc.integer({ min: 0, max: 255 }), (s, user, rc) => {
      Pbs.parseQsubJobId(s)
      Pbs.parseQstat(s)
      Pbs.parseQstatFull(s)
      Pbs.parseTracejob(s)
      Pbs.countJobs(s, user)
      Pbs.parseFreeCores(s)
      Pbs.parsePbsMemory(s)
      Pbs.parsePbsDuration(s)
      Pbs.parsePbsTime(s)
      parseStatReply({ exitCode: rc, stdout: s, stderr: user }, ["1"])
    }),
    { numRuns: 500 },
  )
})

Deno.test("property: qsubArgv keeps name and script whole; odd ids never reach a command", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,40}$/), (name) => {
      const argv = Pbs.qsubArgv({
        flavour: "torque",
        jobname: name,
        cores: 1,
        output: "/o",
        error: "/e",
        script: "/s",
      })
      strictEqual(argv[argv.indexOf("-N") + 1], name.slice(0, 15))
      strictEqual(argv.at(-1), "/s")
    }),
  )
  strictEqual(Pbs.qdelArgv(["1.srv", "$(reboot)"]), undefined)
  strictEqual(Pbs.tracejobArgv(["1", "2"]), undefined, "tracejob takes one id")
  strictEqual(Pbs.qstatFullArgv("torque")(["1;ls"]), undefined)
})
