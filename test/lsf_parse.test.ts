/**
 * LsfParse: LSF argvs and parsers (spec §2.2–§2.5, §4.6, vectors §4.8.4, and outputs in the
 * format LSF 10.1 documents).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import fc from "fast-check"
import { parseStatReply } from "../backends/lsf/Lsf.ts"
import * as Lsf from "../backends/lsf/LsfParse.ts"
import * as Shell from "../src/Shell.ts"
import * as Termination from "../src/Termination.ts"
import { gc3pie } from "./_vectors.ts"

interface Vector {
  readonly _parse_stat_output?: {
    readonly stdout: string
    readonly stderr: string
    readonly expected: { readonly state: string; readonly termstatus: unknown }
  }
  readonly _parse_acct_output?: {
    readonly stdout: string
    readonly expected: Record<string, unknown>
  }
}

const vectors = (): Promise<Record<string, Vector>> => gc3pie("test_lsf")

/** GC3Pie's tests mocked today() to 2012-12-01. */
const NOW = new Date("2012-12-01T00:00:00Z")

Deno.test("vectors: bjobs -l — EXIT with a code, wrapped lines of either prefix, forgotten jobs", async () => {
  const v = await vectors()
  for (
    const key of [
      "test_bjobs_output_done3",
      "test_bjobs_correct_explicit_prefix_length",
      // GC3Pie, told the wrong prefix length, could not read this one (UNKNOWN): no prefix to set
      "test_bjobs_incorrect_prefix_length",
    ]
  ) {
    const r = Lsf.parseBjobsLong(v[key]!._parse_stat_output!.stdout, NOW).get("2073")!
    strictEqual(r.state, "TERMINATING", key)
    deepStrictEqual(r.termination, Termination.exited(127), key)
    strictEqual(Duration.toMillis(r.usage.cpuTime!), 100)
    strictEqual(r.usage.extra.lsf_start_time, "2014-08-04T12:28:51")
  }
  const exit42 = Lsf.parseBjobsLong(
    v.test_bjobs_output_exit_nonzero!._parse_stat_output!.stdout,
    NOW,
  )
    .get("132286")!
  deepStrictEqual(exit42.termination, Termination.exited(42))
  strictEqual(Duration.toSeconds(exit42.usage.duration!), 6, "10:26:47 → 10:26:53")
  strictEqual(exit42.usage.extra.lsf_submission_time, "2012-07-24T10:26:42", "year inferred")
  const gone = v.test_bjobs_output_done_long_ago!._parse_stat_output!
  deepStrictEqual(parseStatReply({ exitCode: 255, stdout: gone.stdout, stderr: gone.stderr }), {
    _tag: "Listed",
    jobs: new Map(),
  })
})

Deno.test("vectors: bacct -l — done and killed by owner; MEM without swap", async () => {
  const v = await vectors()
  const done = Lsf.parseBacctLong(v.test_bacct_done0!._parse_acct_output!.stdout, NOW).get(
    "3329613",
  )!
  const want = v.test_bacct_done0!._parse_acct_output!.expected
  deepStrictEqual(done.termination, Termination.exited(0))
  strictEqual(Duration.toSeconds(done.usage.duration!), 67)
  strictEqual(Duration.toMillis(done.usage.cpuTime!), 80)
  for (const key of ["lsf_submission_time", "lsf_start_time", "lsf_completion_time"]) {
    strictEqual(done.usage.extra[key], want[key], key)
  }
  // GC3Pie: MEM + SWAP = 227 MB; the job's resident memory is MEM, 5 MiB
  strictEqual(done.usage.maxUsedMemory, 5 * 1024 ** 2)
  const killed = Lsf.parseBacctLong(v.test_bacct_killed!._parse_acct_output!.stdout, NOW).get(
    "3224113",
  )!
  deepStrictEqual(
    killed.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
    "TERM_OWNER (GC3Pie: no status at all)",
  )
  strictEqual(Duration.toSeconds(killed.usage.duration!), 55)
})

/** LSF 10.1 `bjobs -l` of two jobs, in the documented layout (21-space continuation). */
const TWO = `
Job <501>, Job Name <lrms.a>, User <alice>, Project <default>, Status <RUN>, Queu
                     e <normal>, Command </home/alice/.effect-lrms/batch/job.1/.lr
                     ms/job.sh>
Tue Nov 24 03:40:00: Submitted from host <login1>, CWD </home/alice>;
Tue Nov 24 03:40:01: Started 1 Task(s) on Host(s) <n01>, Allocated 1 Slot(s) on H
                     ost(s) <n01>, Execution Home </home/alice>, Execution CWD
                     </home/alice/.effect-lrms/batch/job.1>;
------------------------------------------------------------------------------

Job <502>, Job Name <lrms.b>, User <alice>, Project <default>, Status <EXIT>, Que
                     ue <normal>, Command <job.sh>
Tue Nov 24 03:40:00: Submitted from host <login1>, CWD </home/alice>;
Tue Nov 24 03:40:01: Started 4 Task(s) on Host(s) <4*n02>, Allocated 4 Slot(s) on
                      Host(s) <4*n02>;
Tue Nov 24 03:41:01: Exited by LSF signal TERM_RUNLIMIT. The CPU time used is 59.
                     9 seconds.
Tue Nov 24 03:41:01: Completed <exit>; TERM_RUNLIMIT: job killed after reaching L
                     SF run time limit.

 MEMORY USAGE:
 MAX MEM: 12 Mbytes;  AVG MEM: 8 Mbytes
`

Deno.test("bjobs -l: several jobs in one reply; LSF's own kills are RemoteKill", () => {
  const jobs = Lsf.parseBjobsLong(TWO, new Date("2026-11-24T04:00:00Z"))
  deepStrictEqual([...jobs.keys()], ["501", "502"])
  strictEqual(jobs.get("501")!.state, "RUNNING")
  strictEqual(jobs.get("501")!.termination, undefined)
  const b = jobs.get("502")!
  deepStrictEqual(
    b.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
  )
  strictEqual(Duration.toSeconds(b.usage.duration!), 60)
  strictEqual(Duration.toMillis(b.usage.cpuTime!), 59_900)
  strictEqual(b.usage.maxUsedMemory, 12 * 1024 ** 2)
  deepStrictEqual(Lsf.exitTermination("Exited by signal 9."), Termination.signalled(9))
  deepStrictEqual(Lsf.exitTermination("Exited with exit code 137."), Termination.signalled(9))
  deepStrictEqual(Lsf.exitTermination("TERM_MEMLIMIT: job killed"), Termination.signalled(9))
  deepStrictEqual(Lsf.exitTermination("Completed <exit>."), Termination.signalled(124))
  const reply = parseStatReply({ exitCode: 255, stdout: TWO, stderr: "Job <999> is not found\n" })
  ok(reply._tag === "Listed" && reply.jobs.size === 2 && reply.jobs.get("502")!.usage !== undefined)
  strictEqual(
    parseStatReply({ exitCode: 255, stdout: "", stderr: "LSF is down. Please wait ...\n" })._tag,
    "Failed",
  )
})

Deno.test("status: every EXEC_HOST token counts; lshosts ncpus", () => {
  const bjobs = `JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   SUBMIT_TIME
501     alice   RUN   normal     login1      n01         lrms.a     Nov 24 03:40
502     bob     RUN   normal     login1      4*n02:2*n03 big        Nov 24 03:40
503     alice   PEND  normal     login1                  lrms.c     Nov 24 03:41
`
  deepStrictEqual(Lsf.countJobs(bjobs, "alice"), {
    queued: 1,
    totalRun: 2,
    userRun: 1,
    userQueued: 1,
    usedCores: 7,
  })
  strictEqual(Lsf.execHostCores("4*n02:2*n03"), 6, "GC3Pie counted only the last token")
  const lshosts = `HOST_NAME  type  model  cpuf ncpus maxmem maxswp server RESOURCES
n01        X86_64 Opteron 60.0 8 31.9G 4G Yes (mg)
n02        X86_64 Opteron 60.0 8 31.9G 4G Yes ()
lsfmaster  X86_64 Opteron 60.0 - - - Yes (mg)
`
  strictEqual(Lsf.parseTotalCores(lshosts), 16)
})

Deno.test("bsubArgv: slots on one host, memory, H:MM runlimit, the script as the command", () => {
  deepStrictEqual(
    Lsf.bsubArgv({
      jobname: "lrms.x",
      cores: 4,
      memory: 2 * 1024 ** 3,
      walltime: Duration.minutes(90),
      queue: "normal",
      workdir: "/j",
      output: "/j/.lrms/scheduler.out",
      error: "/j/.lrms/scheduler.err",
      script: "/j/.lrms/job.sh",
    }),
    [
      "bsub",
      "-J",
      "lrms.x",
      "-cwd",
      "/j",
      "-oo",
      "/j/.lrms/scheduler.out",
      "-eo",
      "/j/.lrms/scheduler.err",
      "-n",
      "4",
      "-R",
      "span[hosts=1]",
      "-R",
      "rusage[mem=2048]",
      "-W",
      "1:30",
      "-q",
      "normal",
      "./.lrms/job.sh",
    ],
  )
  strictEqual(Lsf.parseBsubJobId("Job <1234> is submitted to default queue <normal>.\n"), "1234")
  strictEqual(Lsf.parseBsubJobId("Queue does not exist. Job not submitted.\n"), undefined)
})

Deno.test("bsubArgv: LSF's shell runs the script and nothing else, whatever the spool directory", async () => {
  const base = await Deno.makeTempDir()
  try {
    const evil = `${base}/sp ace;$(touch MARK1)\`touch MARK2\`'q"x|touch MARK3&&touch MARK4`
    const jobDir = `${evil}/job.1`
    await Deno.mkdir(`${jobDir}/.lrms`, { recursive: true })
    await Deno.writeTextFile(`${jobDir}/.lrms/job.sh`, "#!/bin/sh\necho ran >ran.txt\n")
    await Deno.chmod(`${jobDir}/.lrms/job.sh`, 0o755)
    const argv = (script: string) =>
      Lsf.bsubArgv({
        jobname: "lrms.x",
        cores: 1,
        workdir: jobDir,
        output: `${jobDir}/.lrms/scheduler.out`,
        error: `${jobDir}/.lrms/scheduler.err`,
        script,
      })
    // inside -cwd: relative, no user text; elsewhere (or with any odd character): quoted
    strictEqual(argv(`${jobDir}/.lrms/job.sh`).at(-1), "./.lrms/job.sh")
    strictEqual(argv("/opt/x y/job.sh").at(-1), `'/opt/x y/job.sh'`)
    strictEqual(argv("/opt/it's/job.sh").at(-1), `'/opt/it'\\''s/job.sh'`)
    // what LSF does with the command words: one line, run by a shell in -cwd
    for (const script of [`${jobDir}/.lrms/job.sh`, "placeholder"]) {
      const word = script === "placeholder"
        ? Lsf.commandWord(`${jobDir}/.lrms/job.sh`, "/elsewhere") // absolute and quoted
        : argv(script).at(-1)!
      await Deno.remove(`${jobDir}/ran.txt`).catch(() => {})
      const out = await new Deno.Command("/bin/sh", { args: ["-c", word], cwd: jobDir }).output()
      strictEqual(out.code, 0, new TextDecoder().decode(out.stderr))
      strictEqual(await Deno.readTextFile(`${jobDir}/ran.txt`), "ran\n")
    }
    const names: Array<string> = []
    const walk = async (d: string) => {
      for await (const e of Deno.readDir(d)) {
        names.push(e.name)
        if (e.isDirectory) await walk(`${d}/${e.name}`)
      }
    }
    await walk(base)
    deepStrictEqual(names.filter((n) => n.startsWith("MARK")), [])
  } finally {
    await Deno.remove(base, { recursive: true })
  }
})

const text = fc.oneof(
  fc.fullUnicodeString(),
  fc.array(
    fc.oneof(
      fc.constantFrom(
        "Job <1>, Status <EXIT>",
        "Mon Oct  8 17:07:54: Completed <exit>.",
        " CPU_T WAIT TURNAROUND STATUS HOG_FACTOR MEM SWAP",
      ),
      fc.string(),
      fc.string().map((s) => `${" ".repeat(21)}${s}`),
    ),
  ).map((l) => l.join("\n")),
)

Deno.test("property: the parsers never throw", () => {
  fc.assert(
    fc.property(text, fc.string(), fc.integer({ min: 0, max: 255 }), (s, user, rc) => {
      Lsf.parseBsubJobId(s)
      Lsf.unwrap(s)
      Lsf.parseBjobsLong(s)
      Lsf.parseBacctLong(s)
      Lsf.countJobs(s, user)
      Lsf.parseTotalCores(s)
      Lsf.parseLsfTime(s)
      Lsf.exitTermination(s)
      parseStatReply({ exitCode: rc, stdout: s, stderr: user })
    }),
    { numRuns: 500 },
  )
})

Deno.test("property: bsubArgv keeps name and script whole; odd ids never reach a command", () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,40}$/),
      fc.string({ minLength: 1 }),
      (name, dir) => {
        const argv = Lsf.bsubArgv({
          jobname: name,
          cores: 1,
          workdir: dir,
          output: "/o",
          error: "/e",
          script: "/s",
        })
        strictEqual(argv[argv.indexOf("-J") + 1], name)
        strictEqual(argv[argv.indexOf("-cwd") + 1], dir)
        // the command is shell text for LSF: it reads back as the one word it was
        deepStrictEqual(Shell.split(argv.at(-1)!), [dir === "/" ? "./s" : "/s"])
        const inside = Lsf.bsubArgv({
          jobname: name,
          cores: 1,
          workdir: dir,
          output: "/o",
          error: "/e",
          script: `${dir}/.lrms/job.sh`,
        })
        deepStrictEqual(Shell.split(inside.at(-1)!), ["./.lrms/job.sh"])
      },
    ),
  )
  strictEqual(Lsf.bkillArgv(["1", "-9"]), undefined)
  strictEqual(Lsf.bjobsArgv(["1 2"]), undefined)
})
