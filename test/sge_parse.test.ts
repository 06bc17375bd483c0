/**
 * SgeParse: Grid Engine argvs and parsers (spec §2.2–§2.5, §4.5, vectors §4.8.3 and the recorded
 * outputs of a real Son of Grid Engine 8.1.9).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import fc from "fast-check"
import * as Sge from "../backends/sge/SgeParse.ts"
import * as Termination from "../src/Termination.ts"
import { block, gc3pie, recorded } from "./_vectors.ts"

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
