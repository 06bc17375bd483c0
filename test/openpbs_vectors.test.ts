/**
 * The PBS Pro parsers on what a real OpenPBS 23.06.06 printed (test/data/vectors/recorded/
 * vectors-openpbs-*.txt): `qstat -x -f` in text and `-F json` read alike, the `JOB_EXEC_*` kill
 * codes of PBS Pro (−29: walltime) read as the batch system's kills, unknown ids, tracejob.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import { parseStatReply } from "../backends/pbs/Pbs.ts"
import * as Pbs from "../backends/pbs/PbsParse.ts"
import * as Termination from "../src/Termination.ts"
import { block } from "./_vectors.ts"

const KIT = "vectors-openpbs-kit.txt"
const out = async (cmd: string) => (await block(KIT, cmd)).output

const one = async (cmd: string, id: string) => {
  const r = Pbs.parseQstatFull(await out(cmd), "pbspro").get(id)
  ok(r !== undefined, `${cmd}: no record for ${id}`)
  return r
}

Deno.test("OpenPBS: qstat -x -f -F json of finished jobs: exit 0 and 3, walltime kill −29, qdel 271, kill -9 137", async () => {
  const exit0 = await one("qstat -x -f -F json 1.pbs-node", "1.pbs-node")
  strictEqual(exit0.state, "TERMINATING")
  strictEqual(exit0.native, "F")
  deepStrictEqual(exit0.termination, Termination.exited(0))
  const exit3 = await one("qstat -x -f -F json 7.pbs-node", "7.pbs-node")
  deepStrictEqual(exit3.termination, Termination.exited(3))
  strictEqual(exit3.attributes.get("resources_used.ncpus"), "1", "nested objects are flattened")
  strictEqual(exit3.attributes.get("Resource_List.select"), "1:ncpus=1")
  const walltime = await one("qstat -x -f -F json 8.pbs-node", "8.pbs-node")
  strictEqual(walltime.attributes.get("Exit_status"), "-29")
  deepStrictEqual(
    walltime.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
    "JOB_EXEC_KILL_WALLTIME is the batch system's kill",
  )
  ok(Duration.toSeconds(walltime.usage.duration!) >= 5, "it ran past its 5 s limit")
  const deleted = await one("qstat -x -f -F json 9.pbs-node", "9.pbs-node")
  deepStrictEqual(deleted.termination, Termination.signalled(15), "qdel: 256 + SIGTERM")
  const nine = await one("qstat -x -f -F json 10.pbs-node", "10.pbs-node")
  deepStrictEqual(nine.termination, Termination.signalled(9), "kill -9 $$ inside: the shell's 137")
})

Deno.test("OpenPBS: −29 read in Torque's codes is not a walltime kill (Torque's is −11), and PBS Pro's −11 is a rerun", () => {
  deepStrictEqual(Pbs.terminationOf(-29, "torque").signal, Termination.Signals.RemoteError)
  deepStrictEqual(Pbs.terminationOf(-11, "torque").signal, Termination.Signals.RemoteKill)
  deepStrictEqual(Pbs.terminationOf(-11, "pbspro").signal, Termination.Signals.RemoteError)
  for (const code of [-24, -25, -28, -29]) {
    strictEqual(Pbs.terminationOf(code, "pbspro").signal, Termination.Signals.RemoteKill, `${code}`)
  }
  deepStrictEqual(Pbs.terminationOf(-27, "pbspro"), Termination.signalled(9), "memory: as OOM")
  deepStrictEqual(Pbs.terminationOf(-26, "pbspro"), Termination.signalled(9), "vmem: as OOM")
})

Deno.test("OpenPBS: the text and JSON formats of the same finished job read the same", async () => {
  const text = await one("qstat -x -f 6.pbs-node", "6.pbs-node")
  deepStrictEqual(text.termination, Termination.exited(0))
  strictEqual(Duration.toSeconds(text.usage.duration!), 20)
  strictEqual(text.usage.maxUsedMemory, 7288 * 1024)
  const both = Pbs.parseQstatFull(await out("qstat -x -f -F json 1.pbs-node 7.pbs-node"), "pbspro")
  deepStrictEqual([...both.keys()].sort(), ["1.pbs-node", "7.pbs-node"])
  const json1 = both.get("1.pbs-node")!
  const alone = await one("qstat -x -f -F json 1.pbs-node", "1.pbs-node")
  deepStrictEqual(json1.termination, alone.termination)
  deepStrictEqual(json1.usage.duration, alone.usage.duration)
  deepStrictEqual(json1.usage.cpuTime, alone.usage.cpuTime)
  deepStrictEqual(json1.usage.extra, alone.usage.extra)
})

Deno.test("OpenPBS: an unknown id (rc 153) is an answer with no job, in text and JSON; a client without -F json is unsupported", async () => {
  for (const cmd of ["qstat -x -f 99999.pbs-node", "qstat -f -F json 99999.pbs-node"]) {
    const b = await block(KIT, cmd)
    // the recording merged the streams: the complaint is the line that is not JSON
    const lines = b.output.split("\n")
    const stderr = lines.filter((l) => l.startsWith("qstat:")).join("\n")
    const stdout = lines.filter((l) => !l.startsWith("qstat:")).join("\n")
    const r = parseStatReply({ exitCode: b.rc!, stdout, stderr }, ["99999.pbs-node"], "pbspro")
    strictEqual(r._tag, "Listed", cmd)
    strictEqual(r._tag === "Listed" ? r.jobs.size : -1, 0)
  }
  const finished = await block(KIT, "qstat -f 1.pbs-node")
  const r = parseStatReply(
    { exitCode: finished.rc!, stdout: "", stderr: finished.output },
    ["1.pbs-node"],
    "pbspro",
  )
  strictEqual(r._tag, "Failed", "without -x a finished job is a complaint, not an answer")
  strictEqual(r._tag === "Failed" ? r.unsupported : undefined, false)
  const old = parseStatReply(
    { exitCode: 2, stdout: "", stderr: "qstat: invalid option -- 'F'\nusage: qstat [-f] ..." },
    ["1.pbs-node"],
    "pbspro",
  )
  strictEqual(old._tag === "Failed" ? old.unsupported : undefined, true)
})

Deno.test("OpenPBS: tracejob's Exit_status=-29 is a walltime kill on PBS Pro", async () => {
  const r = Pbs.parseTracejob(await out("tracejob 8.pbs-node"), "pbspro")!
  strictEqual(r.termination.signal, Termination.Signals.RemoteKill)
  strictEqual(Duration.toSeconds(r.usage.duration!), 22)
  strictEqual(r.usage.maxUsedMemory, 7240 * 1024)
})

Deno.test("OpenPBS: qsub's refusals carry no job id; an over-size select is accepted (and can never run)", async () => {
  for (
    const cmd of [
      "qsub -l walltime=48:00:00 exit0.sh",
      "qsub -q nosuchqueue exit0.sh",
      "qsub -l nosuchresource=1 exit0.sh",
      "qsub -l select=1:ncpus=abc exit0.sh",
      "qsub /home/pbsuser/rec/exit0.sh",
    ]
  ) {
    const b = await block(KIT, cmd)
    ok(b.rc !== 0, cmd)
    strictEqual(Pbs.parseQsubJobId(b.output), undefined, cmd)
    strictEqual(Pbs.qsubRetryable(b.output), false, cmd)
  }
  strictEqual(Pbs.parseQsubJobId(await out("qsub exit0.sh")), "1.pbs-node")
  strictEqual(
    Pbs.parseQsubJobId(await out("qsub -N too_big -l select=1:ncpus=16 exit0.sh")),
    "11.pbs-node",
  )
  const never = await one("qstat -f 11.pbs-node", "11.pbs-node")
  strictEqual(never.state, "SUBMITTED")
  ok(/Can Never Run/.test(never.attributes.get("comment") ?? ""))
})
