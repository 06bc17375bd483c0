/**
 * The LSF parsers in the OpenLava flavour on what a real OpenLava 3.3.3 printed
 * (test/data/vectors/recorded/vectors-openlava-*.txt): `Job Id <N>` blocks, 128+N ends read
 * with the run limit and `bhist`'s signal lines, `bhist -l` as accounting, `bhosts -w` slots,
 * and the argv OpenLava's `bsub` can read (no `-cwd`, `-oo`, `-eo`).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import { parseStatReply } from "../backends/lsf/Lsf.ts"
import * as Lsf from "../backends/lsf/LsfParse.ts"
import * as Termination from "../src/Termination.ts"
import { type Block, recorded } from "./_vectors.ts"

const OWN = "recorded-openlava.txt"

const KIT = "vectors-openlava-kit.txt"
const NOW = new Date("2026-12-02T12:00:00Z")
const killed = Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)

/** The `n`th block (from 0) with this command line. */
const nth = async (cmd: string, n = 0): Promise<Block> => {
  const b = (await recorded(KIT)).filter((x) => x.cmd === cmd)[n]
  if (b === undefined) throw new Error(`no block ${n} of "$ ${cmd}" in ${KIT}`)
  return b
}
const bjobs = async (id: string, n = 0) => {
  const r = Lsf.parseBjobsLong((await nth(`bjobs -l ${id}`, n)).output, NOW).get(id)
  ok(r !== undefined, `bjobs -l ${id}: not read`)
  return r
}
const bhist = async (id: string) => {
  const r = Lsf.parseBhistLong((await nth(`bhist -l ${id}`)).output, NOW).get(id)
  ok(r !== undefined, `bhist -l ${id}: not read`)
  return r
}

Deno.test("OpenLava: bjobs -l reads `Job Id <N>` blocks: running, done, exit 3, kill -9 from inside", async () => {
  const running = await bjobs("110")
  strictEqual(running.state, "RUNNING")
  strictEqual(running.native, "RUN")
  const done = await bjobs("112")
  deepStrictEqual(done.termination, Termination.exited(0))
  strictEqual(Duration.toMillis(done.usage.cpuTime!), 0)
  deepStrictEqual((await bjobs("113")).termination, Termination.exited(3))
  deepStrictEqual((await bjobs("114")).termination, Termination.signalled(9), "137: SIGKILL")
  const wide = await bjobs("117")
  deepStrictEqual(wide.termination, Termination.exited(0), "a job with a run limit it kept to")
})

Deno.test("OpenLava: a run-limit kill (exit 140 with RUNLIMIT, 61 s of a 1 min limit) is the batch system's kill", async () => {
  const limit = await bjobs("102", 1)
  strictEqual(limit.native, "EXIT")
  deepStrictEqual(limit.termination, killed)
  strictEqual(Duration.toSeconds(limit.usage.duration!), 61)
  deepStrictEqual((await bhist("102")).termination, killed)
  // the same exit without a limit, or well before it, is the job's own signal 12
  const own = "Exited with exit code 140. The CPU time used is 0.0 seconds."
  deepStrictEqual(Lsf.exitTermination(own), Termination.signalled(12))
  deepStrictEqual(
    Lsf.exitTermination(`RUNLIMIT\n5.0 min of vm\n${own}`, 10),
    Termination.signalled(12),
  )
  deepStrictEqual(Lsf.exitTermination(`RUNLIMIT\n5.0 min of vm\n${own}`, 300), killed)
  // over its -M limit: 130 with a MEMLIMIT block, as a memory kill
  deepStrictEqual(
    Lsf.exitTermination("MEMLIMIT\n50 M\nExited with exit code 130."),
    Termination.signalled(9),
  )
})

Deno.test("OpenLava: bkill shows as 130 in bjobs, and as a requested signal in bhist", async () => {
  // bjobs alone cannot tell a bkill from SIGINT (Lrms.cancelJob reports its own as Cancelled)
  deepStrictEqual((await bjobs("110", 1)).termination, Termination.signalled(2))
  deepStrictEqual((await bhist("110")).termination, killed, "someone else's bkill")
  const held = await bhist("115")
  strictEqual(held.native, "EXIT")
  deepStrictEqual(held.termination, killed, "a held job killed before it ran: a bare 'Exited'")
})

Deno.test("OpenLava: bhist -l as accounting: ends, CPU time, run time; nothing for a job still running", async () => {
  const ok0 = await bhist("112")
  strictEqual(ok0.state, "TERMINATING")
  deepStrictEqual(ok0.termination, Termination.exited(0))
  deepStrictEqual((await bhist("113")).termination, Termination.exited(3))
  deepStrictEqual((await bhist("114")).termination, Termination.signalled(9))
  strictEqual(Duration.toSeconds((await bhist("110")).usage.duration!), 4)
  const stillRunning = (await nth("bjobs -l 110")).output
  strictEqual(Lsf.parseBhistLong(stillRunning, NOW).size, 0)
  deepStrictEqual(Lsf.bhistArgv(["1", "2", "1"]), ["bhist", "-l", "1", "2"])
  strictEqual(Lsf.bhistArgv(["1; rm"]), undefined)
})

Deno.test("OpenLava: an unknown id among known ones is still an answer; bhosts -w gives the free slots", async () => {
  const b = await nth("bjobs -l 112 999999")
  const lines = b.output.split("\n")
  const r = parseStatReply({
    exitCode: b.rc!,
    stdout: lines.filter((l) => !/is not found/.test(l)).join("\n"),
    stderr: lines.filter((l) => /is not found/.test(l)).join("\n"),
  })
  strictEqual(r._tag, "Listed")
  deepStrictEqual(r._tag === "Listed" ? [...r.jobs.keys()] : [], ["112"])
  strictEqual(Lsf.parseFreeSlots((await nth("bhosts -w")).output), 8)
  strictEqual(
    Lsf.parseFreeSlots(
      "HOST_NAME STATUS JL/U MAX NJOBS RUN SSUSP USUSP RSV\n" +
        "a ok - 8 3 3 0 0 0\nb closed_Full - 4 4 4 0 0 0\nc unavail - 4 0 0 0 0 0\n",
    ),
    5,
  )
  strictEqual(Lsf.parseFreeSlots(""), undefined)
})

Deno.test("OpenLava: bsub's argv has no -cwd/-oo/-eo (OpenLava misreads them), LSF's keeps them", async () => {
  const base = {
    jobname: "j",
    cores: 2,
    memory: 100 * 1024 ** 2,
    walltime: Duration.minutes(5),
    workdir: "/tmp/lava-rec/jobdir",
    output: "/tmp/lava-rec/jobdir/out.txt",
    error: "/tmp/lava-rec/jobdir/err.txt",
    script: "/tmp/lava-rec/jobdir/job.sh",
  }
  const lava = Lsf.bsubArgv({ ...base, flavour: "openlava" })
  for (const flag of ["-cwd", "-oo", "-eo"]) ok(!lava.includes(flag), flag)
  deepStrictEqual(lava.slice(0, 7), ["bsub", "-J", "j", "-o", base.output, "-e", base.error])
  // OpenLava may start the job elsewhere than where bsub ran (found on the real server: a
  // relative ./.lrms/job.sh was "not found"): the script goes by its absolute path
  strictEqual(lava.at(-1), base.script)
  strictEqual(Lsf.bsubArgv(base).at(-1), "./job.sh")
  strictEqual(
    Lsf.bsubArgv({ ...base, flavour: "openlava", script: "/tmp/a b/job.sh" }).at(-1),
    "'/tmp/a b/job.sh'",
  )
  ok(Lsf.bsubArgv(base).includes("-cwd"))
  // what OpenLava said to LSF 10's argv, and to its own
  const refused = await nth(
    'bsub -J lrms-argv -cwd /tmp/lava-rec/jobdir -oo out.txt -eo err.txt -n 2 -R "span[hosts=1]" -R "rusage[mem=100]" -W 0:05 -q normal -P proj /tmp/lava-rec/jobdir/job.sh',
  )
  strictEqual(refused.rc, 255)
  strictEqual(Lsf.parseBsubJobId(refused.output), undefined)
  const accepted = await nth(
    'bsub -J lrms-compat -o /tmp/lava-rec/jobdir/out.txt -e /tmp/lava-rec/jobdir/err.txt -n 2 -R "span[hosts=1]" -R "rusage[mem=100]" -W 0:05 -q normal -P proj /tmp/lava-rec/jobdir/job.sh a \'b c\'',
  )
  strictEqual(Lsf.parseBsubJobId(accepted.output), "117")
  for (const cmd of ["bsub -n 100 echo hi", "bsub -q nosuch echo hi", "bsub -W abc echo hi"]) {
    const b = await nth(cmd)
    strictEqual(b.rc, 255, cmd)
    strictEqual(Lsf.parseBsubJobId(b.output), undefined, cmd)
    strictEqual(Lsf.bsubRetryable(b.output), false, cmd)
  }
})

Deno.test("OpenLava: the tag of a job is read from its Output File even where bjobs wraps the line before '<'", () => {
  const text = [
    "Job Id <7>, Job Name <x>, User <u>, Project <default>, Status <RUN>, Queue <norma",
    "                     l>, Command <./.lrms/job.sh>",
    "Wed Dec  2 07:11:21: Submitted from host <vm>, CWD </tmp/s/job.abc>, Output File",
    "                     </tmp/s/job.abc/.lrms/sched.out>, Error File </tmp/s/job.abc/.lr",
    "                     ms/sched.err>;",
  ].join("\n")
  deepStrictEqual([...Lsf.parseTaggedJobs(text)], [["abc", "7"]])
})

Deno.test("OpenLava (recorded by test/services/lsf-record.sh): every end, in bjobs -l and bhist -l", async () => {
  const blocks = await recorded(OWN)
  const end = (label: string) => {
    const read = (kind: "bjobs" | "bhist") => {
      const b = blocks.find((x) => x.label === `${kind} -l, ${label}`)
      ok(b !== undefined, `no "${kind} -l, ${label}" block`)
      const parse = kind === "bjobs" ? Lsf.parseBjobsLong : Lsf.parseBhistLong
      const records = [...parse(b.output, NOW).values()]
      strictEqual(records.length, 1, `${kind} -l, ${label}`)
      return records[0]!
    }
    return { bjobs: read("bjobs"), bhist: read("bhist") }
  }
  const expect: ReadonlyArray<[string, Termination.Termination]> = [
    ["NORMAL", Termination.exited(0)],
    ["OUTERR", Termination.exited(0)],
    ["CDJOB", Termination.exited(0)],
    ["STDIN", Termination.exited(0)],
    ["CPU", Termination.exited(0)],
    ["EXIT3", Termination.exited(3)],
    ["KILL9", Termination.signalled(9)],
    ["run limit", killed],
    ["-M 50 MB job holding 300 MB", Termination.signalled(9)],
  ]
  for (const [label, termination] of expect) {
    const { bjobs, bhist } = end(label)
    deepStrictEqual(bjobs.termination, termination, `bjobs -l, ${label}`)
    deepStrictEqual(bhist.termination, termination, `bhist -l, ${label}`)
    deepStrictEqual(bjobs.usage.cpuTime, bhist.usage.cpuTime, `${label}: the same CPU time`)
  }
  // bkilled by someone else: bjobs cannot tell it from SIGINT, bhist names the request
  const tokill = end("TOKILL")
  deepStrictEqual(tokill.bjobs.termination, Termination.signalled(2))
  deepStrictEqual(tokill.bhist.termination, killed)
  deepStrictEqual((end("HELD")).bhist.termination, killed)
  const cpu = end("CPU")
  ok(Duration.toSeconds(cpu.bjobs.usage.cpuTime!) > 0, "a CPU-bound job used CPU time")
})
