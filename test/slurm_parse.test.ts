/**
 * SlurmParse: SLURM argvs and parsers (spec §2.2–§2.5, §4.3, vectors §4.8.1 and the recorded
 * outputs of a real SLURM 22.05: test/data/vectors/recorded/vectors-slurm*.txt, and the arrays,
 * requeue, preemption and parallel jobs of test/data/vectors/slurm/, recorded by
 * test/services/slurm-record.sh); the dialect's sbatch for parallel shapes, requeue and arrays.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import * as SlurmDialect from "../backends/slurm/Slurm.ts"
import * as Slurm from "../backends/slurm/SlurmParse.ts"
import * as Application from "../src/Application.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { type Block, gc3pie, parseBlocks, recorded as recordedFiles } from "./_vectors.ts"

interface SlurmVector {
  readonly exit_code: number
  readonly stdout: string
  readonly stderr: string
  readonly expected_jobid_if_exit0?: unknown
  readonly expected_parse_stat_if_exit0?: { readonly state: string; readonly termstatus: null }
  readonly expected_parse_acct?: Record<string, unknown>
}

/** The GC3Pie SLURM vectors; a missing file fails the test (it is part of the checkout). */
const vectors = (): Promise<Record<string, SlurmVector>> => gc3pie("test_slurm")

const seconds = (d: Duration.Duration | undefined): number | undefined =>
  d === undefined ? undefined : Duration.toSeconds(d)

const posix = (t: Termination.Termination | undefined): number | undefined =>
  t === undefined ? undefined : Termination.toPosix(t)

/** GC3Pie's column order: `--format jobid,exitcode,state,ncpus,elapsed,totalcpu,submit,...`. */
const GC3PIE_SACCT_COLUMNS = [
  "jobid",
  "exitcode",
  "state",
  "ncpus",
  "elapsed",
  "totalcpu",
  "submit",
  "start",
  "end",
  "maxrss",
  "maxvmsize",
]

// =============================================================================
// GC3Pie vectors (all 19 SLURM entries of gc3pie.json)
// =============================================================================

const KiB = 1024

/** The columns sacctArgv asked for before JobIDRaw and AllocTRES were added. */
const OLD_SACCT_COLUMNS = Slurm.sacctColumns.filter((c) => c !== "JobIDRaw" && c !== "AllocTRES")

Deno.test("vectors: every test_slurm entry is covered", async () => {
  const v = await vectors()
  deepStrictEqual(Object.keys(v).sort(), [
    "sacct_almost_done",
    "sacct_done_bad_timestamps",
    "sacct_done_fail_early",
    "sacct_done_node_fail",
    "sacct_done_ok",
    "sacct_done_ok2",
    "sacct_done_timeout",
    "sacct_no_accounting",
    "sacct_notfound",
    "sbatch_submit_failed",
    "sbatch_submit_ok",
    "scancel_notfound",
    "scancel_permission_denied",
    "scancel_success",
    "squeue_notfound",
    "squeue_pending",
    "squeue_recently_completed",
    "squeue_running",
    "squeue_running_with_additions",
  ])
})

Deno.test("vectors: sbatch", async () => {
  const v = await vectors()
  strictEqual(v.sbatch_submit_ok!.expected_jobid_if_exit0, "123")
  strictEqual(Slurm.parseSbatchJobId(v.sbatch_submit_ok!.stdout), "123")
  // exit 1: the backend fails the submission without parsing; neither stream holds an id.
  strictEqual(v.sbatch_submit_failed!.exit_code, 1)
  strictEqual(Slurm.parseSbatchJobId(v.sbatch_submit_failed!.stdout), undefined)
  strictEqual(Slurm.parseSbatchJobId(v.sbatch_submit_failed!.stderr), undefined)
})

Deno.test("vectors: squeue (GC3Pie's GC3Pie^ID^STATE^REASON lines are read too)", async () => {
  const v = await vectors()
  for (const name of ["squeue_pending", "squeue_running", "squeue_running_with_additions"]) {
    const vec = v[name]!
    const r = Slurm.parseSqueue(vec.stdout).get("123")
    strictEqual(r?.state, vec.expected_parse_stat_if_exit0!.state, name)
  }
  deepStrictEqual(Slurm.parseSqueue(v.squeue_pending!.stdout).get("123"), {
    state: "SUBMITTED",
    native: "PENDING",
    reason: "Resources",
  })
  // Empty reply (exit 0): the job is absent, which GC3Pie reads as TERMINATING (ask sacct).
  strictEqual(v.squeue_recently_completed!.expected_parse_stat_if_exit0!.state, "TERMINATING")
  strictEqual(Slurm.parseSqueue(v.squeue_recently_completed!.stdout).size, 0)
  // exit 1: parser not invoked by the backend; the error text holds no job either way.
  strictEqual(v.squeue_notfound!.exit_code, 1)
  strictEqual(Slurm.parseSqueue(v.squeue_notfound!.stderr).size, 0)
})

Deno.test("vectors: scancel replies need no parsing; the argv is `scancel 123`", async () => {
  const v = await vectors()
  strictEqual(v.scancel_success!.exit_code, 0)
  strictEqual(v.scancel_permission_denied!.exit_code, 0)
  strictEqual(v.scancel_notfound!.exit_code, 1)
  deepStrictEqual(Slurm.scancelArgv(["123"]), ["scancel", "123"])
})

/** The figures a sacct vector and our record share. */
const checkAcct = (name: string, vec: SlurmVector, r: Slurm.SacctRecord | undefined) => {
  const e = vec.expected_parse_acct!
  ok(r !== undefined, `${name}: no record for 123`)
  strictEqual(r.state, "TERMINATING", name)
  strictEqual(posix(r.termination), e.termstatus, name)
  strictEqual(r.usage.cores, e.cores, name)
  strictEqual(seconds(r.usage.duration), (e.duration as { seconds: number }).seconds, name)
  strictEqual(seconds(r.usage.cpuTime), (e.used_cpu_time as { seconds: number }).seconds, name)
  strictEqual(r.usage.extra.slurm_completion_time, e.slurm_completion_time, name)
  strictEqual(r.usage.extra.slurm_submission_time, e.slurm_submission_time, name)
}

Deno.test("vector: sacct_done_ok", async () => {
  const vec = (await vectors()).sacct_done_ok!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_ok", vec, r)
  strictEqual(r!.native, "COMPLETED")
  deepStrictEqual(r!.termination, Termination.exited(0))
  strictEqual(seconds(r!.usage.duration), 487)
  strictEqual(seconds(r!.usage.cpuTime), 305.002)
  strictEqual(r!.usage.extra.slurm_start_time, "2016-02-16T14:24:46")
  // GC3Pie: max_used_memory = MaxVMSize (7889776000) and slurm_max_used_ram = MaxRSS
  // (1612088000), reading SLURM's K as 1000. SLURM's K is KiB, and we keep RSS and virtual
  // memory apart: maxUsedMemory = MaxRSS, maxUsedVirtualMemory = MaxVMSize.
  strictEqual((vec.expected_parse_acct!.max_used_memory as { bytes: number }).bytes, 7889776000)
  strictEqual(r!.usage.maxUsedMemory, 1612088 * KiB)
  strictEqual(r!.usage.maxUsedVirtualMemory, 7889776 * KiB)
})

Deno.test("vector: sacct_done_ok2", async () => {
  const vec = (await vectors()).sacct_done_ok2!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_ok2", vec, r)
  strictEqual(r!.usage.extra.slurm_start_time, "2016-03-31T09:33:25")
  // GC3Pie: 22212000 / 67032000 (K read as 1000); SLURM means KiB.
  strictEqual(r!.usage.maxUsedMemory, 22212 * KiB)
  strictEqual(r!.usage.maxUsedVirtualMemory, 67032 * KiB)
})

Deno.test("vector: sacct_done_timeout → RemoteKill (122), exit 75", async () => {
  const vec = (await vectors()).sacct_done_timeout!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_timeout", vec, r)
  strictEqual(vec.expected_parse_acct!.termstatus, 19322)
  deepStrictEqual(r!.termination, Termination.signalled(122, 75))
  strictEqual(r!.native, "TIMEOUT")
  strictEqual(r!.usage.extra.slurm_start_time, "2014-12-11T17:10:23")
  // the step printed `0|0`: zero bytes, known
  strictEqual(r!.usage.maxUsedMemory, 0)
  strictEqual(r!.usage.maxUsedVirtualMemory, 0)
})

Deno.test("vector: sacct_done_node_fail → RemoteError (124), exit 75", async () => {
  const vec = (await vectors()).sacct_done_node_fail!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_node_fail", vec, r)
  deepStrictEqual(r!.termination, Termination.signalled(124, 75))
  strictEqual(r!.usage.extra.slurm_start_time, "2016-09-23T18:44:37")
  // GC3Pie reports 0 bytes when nothing was printed; we leave the figure out (unknown).
  strictEqual(r!.usage.maxUsedMemory, undefined)
  strictEqual(r!.usage.maxUsedVirtualMemory, undefined)
})

Deno.test("vector: sacct_done_fail_early → exit 1", async () => {
  const vec = (await vectors()).sacct_done_fail_early!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_fail_early", vec, r)
  deepStrictEqual(r!.termination, Termination.exited(1))
  strictEqual(r!.usage.extra.slurm_start_time, "2016-10-14T16:14:49")
})

Deno.test("vector: sacct_done_bad_timestamps (master Submit after Start)", async () => {
  const vec = (await vectors()).sacct_done_bad_timestamps!
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  checkAcct("sacct_done_bad_timestamps", vec, r)
  strictEqual(r!.usage.extra.slurm_submission_time, "2012-09-24T10:47:28")
  // GC3Pie's start is min(master End, step Starts) = 10:47:29; ours is the earliest Start,
  // which is the master's own 10:47:28 (the job started before its step 123.0).
  strictEqual(vec.expected_parse_acct!.slurm_start_time, "2012-09-24T10:47:29")
  strictEqual(r!.usage.extra.slurm_start_time, "2012-09-24T10:47:28")
})

Deno.test("vector: sacct_almost_done (master RUNNING) → no termination yet", async () => {
  const vec = (await vectors()).sacct_almost_done!
  // GC3Pie raises UnexpectedJobState ("no info yet"); we return the lagging state, no ending.
  strictEqual(vec.expected_parse_acct!.raises, "UnexpectedJobState")
  const r = Slurm.parseSacct(vec.stdout, GC3PIE_SACCT_COLUMNS).get("123")
  strictEqual(r?.native, "RUNNING")
  strictEqual(r.state, "RUNNING")
  strictEqual(r.termination, undefined)
  strictEqual(r.usage.cores, 16)
  // End is `Unknown`: ignored, so no completion time
  strictEqual(r.usage.extra.slurm_completion_time, undefined)
  strictEqual(r.usage.maxUsedMemory, 22212 * KiB)
})

Deno.test("vectors: sacct_notfound / sacct_no_accounting → no record", async () => {
  const v = await vectors()
  // GC3Pie returns all-zero figures without termstatus ("no info yet"); we return no record.
  strictEqual(Slurm.parseSacct(v.sacct_notfound!.stdout, GC3PIE_SACCT_COLUMNS).size, 0)
  strictEqual(v.sacct_no_accounting!.exit_code, 1)
  strictEqual(Slurm.parseSacct(v.sacct_no_accounting!.stdout).size, 0)
  strictEqual(Slurm.parseSacct(v.sacct_no_accounting!.stderr).size, 0)
})

// =============================================================================
// Recorded outputs of a real SLURM 22.05
// =============================================================================

const recorded = (): Promise<ReadonlyArray<Block>> =>
  recordedFiles("vectors-slurm.txt", "vectors-slurm-extra.txt", "vectors-slurm-noacct.txt")

const find = (blocks: ReadonlyArray<Block>, file: string, cmd: string): Block => {
  const b = blocks.find((x) => x.file === file && x.cmd === cmd)
  ok(b !== undefined, `recorded block not found: ${file}: $ ${cmd}`)
  return b
}

Deno.test("recorded: every sbatch reply", async () => {
  const blocks = (await recorded()).filter((b) => /^sbatch\b/.test(b.cmd))
  strictEqual(blocks.length, 14)
  for (const b of blocks) {
    const id = Slurm.parseSbatchJobId(b.output)
    if (b.rc === 0 || b.rc === undefined) {
      // the id is the last word of the reply: `Submitted batch job 4` or `--parsable`'s `5`
      const expected = b.output.trim().split(/\s+/).at(-1)
      ok(/^\d+$/.test(expected ?? ""), `${b.cmd}: recorded reply has no id`)
      strictEqual(id, expected, b.cmd)
    } else strictEqual(id, undefined, b.cmd)
  }
})

/** The `-o`/`--format`/`-O` argument of a recorded command, unquoted. */
const formatOf = (cmd: string): string | undefined =>
  /(?:\s-o\s+|--format[= ])'([^']*)'/.exec(cmd)?.[1] ??
    /(?:\s-o\s+|--format[= ])(\S+)/.exec(cmd)?.[1]

/** What our squeue format prints, rebuilt from a recorded line of another format. */
const toOurSqueue = (format: string, output: string): string => {
  const sep = format.includes("|") ? "|" : " "
  const specs = format.split(sep)
  const at = (spec: string) => specs.indexOf(spec)
  return output.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const f = sep === "|" ? l.split("|") : l.trim().split(/\s+/)
    const reason = at("%r") < 0 ? "" : f[at("%r")]
    return `${f[at("%i")]}^${f[at("%T")]}^${reason}`
  }).join("\n")
}

const squeueStates: Readonly<Record<string, string>> = {
  PENDING: "SUBMITTED",
  RUNNING: "RUNNING",
  COMPLETED: "TERMINATING",
  CANCELLED: "TERMINATING",
  FAILED: "TERMINATING",
  OUT_OF_MEMORY: "TERMINATING",
}

Deno.test("recorded: every squeue reply with %i and %T, rebuilt as ID^STATE^REASON", async () => {
  const blocks = (await recorded()).filter((b) => /^squeue\b/.test(b.cmd))
  let checked = 0
  for (const b of blocks) {
    const format = formatOf(b.cmd)
    if (format === undefined || !format.includes("%i") || !format.includes("%T")) {
      // default tables, -O, --json: not our format; nothing is read from them
      strictEqual(Slurm.parseSqueue(b.output).size, 0, b.cmd)
      continue
    }
    const ours = toOurSqueue(format, b.output)
    const parsed = Slurm.parseSqueue(ours)
    const lines = ours === "" ? [] : ours.split("\n")
    // a pending array's range (`9_[1-3]`) stands for each of its elements
    const ids = lines.flatMap((l) => Slurm.expandArrayId(l.split("^")[0]!))
    strictEqual(parsed.size, ids.length, b.cmd)
    for (const line of lines) {
      const [printed, native, reason] = line.split("^") as [string, string, string]
      const held = reason === "JobHeldUser"
      for (const id of Slurm.expandArrayId(printed)) {
        deepStrictEqual(parsed.get(id), {
          native,
          reason,
          state: held ? "STOPPED" : squeueStates[native],
        }, `${b.cmd}: ${line}`)
      }
    }
    checked++
  }
  strictEqual(checked, 10)
})

Deno.test("recorded: squeue spot checks (held, arrays, finished jobs need --states=all)", async () => {
  const blocks = await recorded()
  const pending = find(blocks, "vectors-slurm.txt", "squeue -h -t PENDING -o '%i %T %r'")
  const p = Slurm.parseSqueue(toOurSqueue("%i %T %r", pending.output))
  strictEqual(p.get("11")?.state, "STOPPED") // JobHeldUser
  strictEqual(p.get("6")?.state, "SUBMITTED")
  // a pending array's range is expanded to its elements
  deepStrictEqual(["9_1", "9_2", "9_3"].map((id) => p.get(id)?.state), Array(3).fill("SUBMITTED"))
  strictEqual(p.get("9_[1-3]"), undefined)
  // Without -t all, a finished job prints nothing: hence --states=all in squeueArgv.
  const gone = find(blocks, "vectors-slurm.txt", "squeue -h -j 4 -o '%i %T'")
  strictEqual(gone.rc, 0)
  strictEqual(gone.output, "")
  const all = find(blocks, "vectors-slurm.txt", "squeue -h -t all -o '%i %T'")
  const a = Slurm.parseSqueue(toOurSqueue("%i %T", all.output))
  strictEqual(a.get("4")?.state, "TERMINATING")
  strictEqual(a.get("9_2")?.native, "COMPLETED")
  strictEqual(a.get("9_3")?.state, "RUNNING")
  strictEqual(a.get("5")?.native, "FAILED")
  const oom = find(blocks, "vectors-slurm-extra.txt", "squeue -h -t all -j 2 -o '%i %T %r'")
  deepStrictEqual(Slurm.parseSqueue(toOurSqueue("%i %T %r", oom.output)).get("2"), {
    state: "TERMINATING",
    native: "OUT_OF_MEMORY",
    reason: "OutOfMemory",
  })
  const unknown = find(blocks, "vectors-slurm-extra.txt", "squeue -j 999999")
  strictEqual(unknown.rc, 1)
  strictEqual(Slurm.parseSqueue(unknown.output).size, 0)
})

Deno.test("recorded: countJobs on the queue snapshot", async () => {
  const b = find(
    await recorded(),
    "vectors-slurm.txt",
    "squeue -h -o '%i|%j|%T|%r|%u|%P|%D|%C|%M|%l|%S|%V'",
  )
  const ours = b.output.split("\n").map((l) => l.split("|")).map((f) => `${f[0]}^${f[2]}^${f[4]}`)
    .join("\n")
  deepStrictEqual(Slurm.countJobs(ours, "root"), {
    queued: 7,
    totalRun: 1,
    userRun: 1,
    userQueued: 7,
  })
  deepStrictEqual(Slurm.countJobs(ours, "alice"), {
    queued: 7,
    totalRun: 1,
    userRun: 0,
    userQueued: 0,
  })
})

/** The columns of a recorded sacct command (`--format=`/`-o`), or `undefined`. */
const sacctColumnsOf = (cmd: string): ReadonlyArray<string> | undefined => {
  const f = formatOf(cmd)
  return f === undefined ? undefined : f.split(",")
}

/** What the master-record states of the recorded runs must give. */
const expectedEnd = (
  native: string,
  exitCode: string,
): { state: string; termination: number | undefined } => {
  switch (native) {
    case "COMPLETED":
      return { state: "TERMINATING", termination: 0 }
    case "FAILED":
      return { state: "TERMINATING", termination: Number(exitCode.split(":")[0]) << 8 }
    case "CANCELLED":
    case "TIMEOUT":
      return { state: "TERMINATING", termination: (75 << 8) | 122 }
    case "OUT_OF_MEMORY":
      return { state: "TERMINATING", termination: (0xff << 8) | 9 }
    case "RUNNING":
      return { state: "RUNNING", termination: undefined }
    case "PENDING":
      return { state: "SUBMITTED", termination: undefined }
    default:
      throw new Error(`no expectation for ${native}`)
  }
}

Deno.test("recorded: every parsable sacct reply", async () => {
  const blocks = (await recorded()).filter((b) => /^sacct\b/.test(b.cmd))
  let checked = 0
  for (const b of blocks) {
    const columns = sacctColumnsOf(b.cmd)
    if (!b.cmd.includes("--parsable") || columns === undefined) {
      // tables, --json, errors: nothing is read from them
      strictEqual(Slurm.parseSacct(b.output).size, 0, b.cmd)
      continue
    }
    const parsed = Slurm.parseSacct(b.output, columns)
    const lower = columns.map((c) => c.toLowerCase())
    const masters = b.output.split("\n").map((l) => l.split("|"))
      .filter((f) => f.length === columns.length && /^\d[\d_]*$/.test(f[0]!))
    strictEqual(parsed.size, masters.length, b.cmd)
    for (const f of masters) {
      const native = f[lower.indexOf("state")]!.split(" ")[0]!
      const exit = lower.includes("exitcode") ? f[lower.indexOf("exitcode")]! : ""
      const r = parsed.get(f[0]!)
      const e = expectedEnd(native, exit)
      strictEqual(r?.native, native, `${b.cmd}: ${f[0]}`)
      strictEqual(r.state, e.state, `${b.cmd}: ${f[0]}`)
      if (lower.includes("exitcode") || native !== "COMPLETED" && native !== "FAILED") {
        strictEqual(posix(r.termination), e.termination, `${b.cmd}: ${f[0]}`)
      }
    }
    checked++
  }
  strictEqual(checked, 13)
})

Deno.test("recorded: sacct figures (KiB memory, durations, timestamps)", async () => {
  const blocks = await recorded()
  const run = (file: string, cmd: string) => {
    const b = find(blocks, file, cmd)
    return Slurm.parseSacct(b.output, sacctColumnsOf(b.cmd))
  }
  const many = run(
    "vectors-slurm.txt",
    "sacct --parsable2 --noheader --format=JobID,State,ExitCode,Elapsed,MaxRSS,TotalCPU -j 4,5,6,7,8,10",
  )
  const j4 = many.get("4")!
  strictEqual(j4.usage.maxUsedMemory, 77868 * KiB)
  strictEqual(seconds(j4.usage.cpuTime), 0.116)
  strictEqual(seconds(j4.usage.duration), 2)
  deepStrictEqual(many.get("5")!.termination, Termination.exited(3))
  const j6 = many.get("6")! // "CANCELLED by 0"
  strictEqual(j6.native, "CANCELLED")
  deepStrictEqual(j6.termination, Termination.signalled(122, 75))
  strictEqual(j6.usage.maxUsedMemory, 3236 * KiB)
  strictEqual(many.get("8")!.state, "SUBMITTED")
  strictEqual(many.get("10")!.termination, undefined)

  const wide = run(
    "vectors-slurm.txt",
    "sacct --parsable2 --noheader --format=JobID,JobName,State,ExitCode,DerivedExitCode,Elapsed,ElapsedRaw,MaxRSS,MaxVMSize,AveRSS,TotalCPU,CPUTime,CPUTimeRAW,UserCPU,SystemCPU,NCPUS,NNodes,NodeList,ReqMem,Submit,Start,End,Timelimit,Partition,Account,User,WorkDir,Reason -a",
  )
  strictEqual(wide.size, 13)
  const j2 = wide.get("2")!
  strictEqual(j2.usage.maxUsedMemory, 4572 * KiB)
  strictEqual(j2.usage.maxUsedVirtualMemory, 7280 * KiB)
  strictEqual(j2.usage.cores, 1)
  deepStrictEqual(j2.usage.extra, {
    slurm_submission_time: "2026-11-23T23:29:10",
    slurm_start_time: "2026-11-23T23:29:10",
    slurm_completion_time: "2026-11-23T23:29:11",
  })
  strictEqual(wide.get("13")!.usage.cores, 64)
  // pending: Start and End are `Unknown`
  deepStrictEqual(wide.get("13")!.usage.extra, { slurm_submission_time: "2026-11-23T23:29:28" })
  strictEqual(wide.get("10")!.usage.extra.slurm_completion_time, undefined)
  strictEqual(wide.get("9_2")!.usage.maxUsedMemory, 3024 * KiB)
  deepStrictEqual(wide.get("12")!.termination, Termination.exited(1))

  const timeout = run(
    "vectors-slurm-extra.txt",
    "sacct -j 2 --parsable2 -o JobID,State,ExitCode,Elapsed,Timelimit,Start,End",
  ).get("2")!
  strictEqual(timeout.native, "TIMEOUT")
  deepStrictEqual(timeout.termination, Termination.signalled(122, 75))
  strictEqual(seconds(timeout.usage.duration), 79)
  strictEqual(timeout.usage.extra.slurm_completion_time, "2026-11-23T23:15:09")

  const rss = run(
    "vectors-slurm-extra.txt",
    "sacct -j 7 --parsable2 --noheader --format=JobID,State,ExitCode,Elapsed,MaxRSS,TotalCPU,AveRSS,MaxVMSize",
  ).get("7")!
  strictEqual(rss.usage.maxUsedMemory, 118880 * KiB)
  strictEqual(rss.usage.maxUsedVirtualMemory, 123328 * KiB)
  strictEqual(seconds(rss.usage.cpuTime), 0.147)

  const oom = run("vectors-slurm-extra.txt", "sacct -c --parsable2 -o jobid,state,exitcode -j 2")
    .get("2")!
  strictEqual(oom.native, "OUT_OF_MEMORY")
  deepStrictEqual(oom.termination, Termination.signalled(9)) // not SLURM's 0:125

  const noacct = run(
    "vectors-slurm-noacct.txt",
    "sacct -c --parsable2 -o jobid,jobname,state,exitcode,start,end,elapsed,nodelist,user,partition",
  )
  deepStrictEqual([...noacct.keys()].sort(), ["1", "2", "3", "4", "5", "6"])
  deepStrictEqual(noacct.get("3")!.termination, Termination.exited(3))
  // TotalCPU and MaxRSS printed empty: unknown, not zero
  const empty = run(
    "vectors-slurm-noacct.txt",
    "sacct -c --parsable2 --noheader --format=JobID,State,ExitCode,Elapsed,MaxRSS,TotalCPU -j 2",
  ).get("2")!
  strictEqual(empty.usage.cpuTime, undefined)
  strictEqual(empty.usage.maxUsedMemory, undefined)
  strictEqual(seconds(empty.usage.duration), 1)
})

// =============================================================================
// Units, argvs, edge cases
// =============================================================================

Deno.test("parseSbatchJobId: informational lines, --parsable with cluster", () => {
  strictEqual(
    Slurm.parseSbatchJobId("sbatch: INFO: Account: proj\nSubmitted batch job 4242\nnote: x\n"),
    "4242",
  )
  strictEqual(Slurm.parseSbatchJobId("sbatch: Submitted batch job 7 on cluster c1"), "7")
  strictEqual(Slurm.parseSbatchJobId("77;cluster1\n"), "77")
  strictEqual(Slurm.parseSbatchJobId("Info: queue busy\n78\n"), "78")
  strictEqual(Slurm.parseSbatchJobId(""), undefined)
  strictEqual(Slurm.parseSbatchJobId("Submitted batch job abc"), undefined)
})

Deno.test("durations and memory units", () => {
  strictEqual(seconds(Slurm.parseSlurmDuration("1-02:03:04")), 93784)
  strictEqual(seconds(Slurm.parseSlurmDuration("05:05.002")), 305.002)
  strictEqual(seconds(Slurm.parseSlurmDuration("42")), 42)
  strictEqual(Slurm.parseSlurmDuration("INVALID"), undefined)
  strictEqual(Slurm.parseSlurmMemory("72.50M"), 72.5 * 1024 * 1024)
  strictEqual(Slurm.parseSlurmMemory("1.5G"), 1.5 * 1024 ** 3)
  strictEqual(Slurm.parseSlurmMemory("123"), 123)
  strictEqual(Slurm.parseSlurmMemory(""), undefined)
  // fractional figures are rounded only once, at the end
  const r = Slurm.parseSacct(
    "5|COMPLETED|0:0|00:00:01|00:00:01|2|||||\n5.0|COMPLETED|0:0||||0.5K|1.0001K|||\n",
    OLD_SACCT_COLUMNS,
  ).get("5")!
  strictEqual(r.usage.maxUsedMemory, 512)
  strictEqual(r.usage.maxUsedVirtualMemory, Math.round(1.0001 * 1024))
})

Deno.test("sacct: signals, overrides, unreadable timestamps", () => {
  const line = (state: string, exit: string) => `9|${state}|${exit}|||||||Unknown|None`
  const t = (state: string, exit = "0:0") =>
    Slurm.parseSacct(line(state, exit), OLD_SACCT_COLUMNS).get("9")
  deepStrictEqual(t("FAILED", "0:11")?.termination, Termination.signalled(11))
  deepStrictEqual(t("PREEMPTED")?.termination, Termination.signalled(122, 75))
  deepStrictEqual(t("DEADLINE")?.termination, Termination.signalled(122, 75))
  deepStrictEqual(t("BOOT_FAIL")?.termination, Termination.signalled(124, 75))
  deepStrictEqual(t("NODE_FAIL")?.termination, Termination.signalled(124, 75))
  strictEqual(t("SUSPENDED")?.state, "STOPPED")
  // requeued: back in the queue, to run again (not an end)
  strictEqual(t("REQUEUED")?.state, "SUBMITTED")
  strictEqual(t("REQUEUED")?.termination, undefined)
  strictEqual(t("COMPLETED", "garbage")?.termination, undefined)
  deepStrictEqual(t("COMPLETED")?.usage.extra, {})
})

Deno.test("argvs: one comma-joined --jobs argument; odd ids refused", () => {
  deepStrictEqual(Slurm.squeueArgv(["1", "2_3", "1"]), [
    "squeue",
    "--noheader",
    "--all",
    "--array",
    "--states=all",
    "--jobs=1,2_3",
    "--format=%i^%T^%r^%A",
  ])
  deepStrictEqual(Slurm.sacctArgv(["12", "13+0"]), [
    "sacct",
    "--noheader",
    "--parsable2",
    "--format=JobID,State,ExitCode,Elapsed,TotalCPU,NCPUS,MaxRSS,MaxVMSize,Submit,Start,End," +
    "AllocTRES,JobIDRaw",
    "--jobs=12,13+0",
  ])
  deepStrictEqual(Slurm.sacctEnv, { SLURM_TIME_FORMAT: "standard" })
  deepStrictEqual(Slurm.scancelArgv(["4", "5"]), ["scancel", "4,5"])
  for (const build of [Slurm.squeueArgv, Slurm.sacctArgv, Slurm.scancelArgv]) {
    strictEqual(build([]), undefined)
    strictEqual(build(["1", "2;rm -rf /"]), undefined)
    strictEqual(build(["-1"]), undefined)
    strictEqual(build(["1,2"]), undefined)
  }
})

// =============================================================================
// Properties
// =============================================================================

const field = fc.oneof(
  fc.string(),
  fc.constantFrom("123", "123.batch", "9_1", "COMPLETED", "0:9", "1:0", "-2:0", "72.50M"),
  fc.constantFrom("00:08:07", "1-00:00:00", "2016-02-16T12:16:33", "Unknown", "99999999999T"),
  fc.constantFrom("CANCELLED by 0", "PENDING", "JobHeldUser", "999999999999999999999:7"),
)
const separated = (sep: string) =>
  fc.array(fc.array(field, { maxLength: 14 }).map((fs) => fs.join(sep)), { maxLength: 8 })
    .map((ls) => ls.join("\n"))
const text = fc.oneof(fc.fullUnicodeString(), separated("^"), separated("|"))

Deno.test("property: the parsers never throw", () => {
  fc.assert(
    fc.property(text, fc.string(), (s, user) => {
      Slurm.parseSbatchJobId(s)
      Slurm.parseSqueue(s)
      Slurm.parseSacct(s)
      Slurm.parseSacct(s, GC3PIE_SACCT_COLUMNS)
      Slurm.countJobs(s, user)
      Slurm.parseSlurmDuration(s)
      Slurm.parseSlurmMemory(s)
    }),
    { numRuns: 500 },
  )
})

const goodId = fc.stringMatching(/^[0-9_.+a-zA-Z]{1,12}$/)

Deno.test("property: argvs keep every valid id in one comma-joined argument", () => {
  fc.assert(
    fc.property(fc.array(goodId, { minLength: 1, maxLength: 10 }), (ids) => {
      const unique = [...new Set(ids)]
      const q = Slurm.squeueArgv(ids)!
      const a = Slurm.sacctArgv(ids)!
      const c = Slurm.scancelArgv(ids)!
      strictEqual(q.filter((x) => x.startsWith("--jobs=")).length, 1)
      deepStrictEqual(q.find((x) => x.startsWith("--jobs="))!.slice(7).split(","), unique)
      deepStrictEqual(a.at(-1)!.slice(7).split(","), unique)
      deepStrictEqual(c, ["scancel", unique.join(",")])
    }),
  )
})

Deno.test("property: argvs refuse any list holding an odd id", () => {
  fc.assert(
    fc.property(
      fc.array(goodId, { maxLength: 5 }),
      fc.string().filter((s) => !/^[0-9_.+a-zA-Z]+$/.test(s)),
      fc.nat(5),
      (ids, bad, at) => {
        const list = [...ids.slice(0, at), bad, ...ids.slice(at)]
        strictEqual(Slurm.squeueArgv(list), undefined)
        strictEqual(Slurm.sacctArgv(list), undefined)
        strictEqual(Slurm.scancelArgv(list), undefined)
      },
    ),
  )
})

// =============================================================================
// sbatch argv, squeue reply, sinfo
// =============================================================================

const baseSbatch: Slurm.SbatchOptions = {
  jobname: "lrms.job",
  cores: 1,
  workdir: "/spool/job.1",
  script: "/spool/job.1/.lrms/job.sh",
  output: "/spool/job.1/.lrms/scheduler.out",
  error: "/spool/job.1/.lrms/scheduler.err",
  exportEnv: "ALL",
}

Deno.test("sbatchArgv: one --name=value word per option, rounding up memory and time", () => {
  deepStrictEqual(
    Slurm.sbatchArgv({
      ...baseSbatch,
      cores: 4,
      memory: 3 * 1000 ** 3, // 3 GB = 2861.02 MiB → 2862M
      walltime: Duration.seconds(30), // GC3Pie sent --time 0 (no limit at all)
      partition: "debug",
      account: "proj 42",
      qos: "high",
      reservation: "r1",
      gres: "gpu:a100:2",
      gpus: "2",
      exportEnv: "NONE",
    }),
    [
      "sbatch",
      "--job-name=lrms.job",
      "--chdir=/spool/job.1",
      "--output=/spool/job.1/.lrms/scheduler.out",
      "--error=/spool/job.1/.lrms/scheduler.err",
      "--no-requeue",
      "--nodes=1",
      "--ntasks=1",
      "--cpus-per-task=4",
      "--mem=2862M",
      "--time=1",
      "--partition=debug",
      "--account=proj 42",
      "--qos=high",
      "--reservation=r1",
      "--gres=gpu:a100:2",
      "--gpus=2",
      "--export=NONE",
      "/spool/job.1/.lrms/job.sh",
    ],
  )
  const argv = Slurm.sbatchArgv({
    ...baseSbatch,
    memory: 1,
    walltime: Duration.minutes(90),
    output: "/home/a%b/o",
  })
  ok(argv.includes("--mem=1M"))
  ok(argv.includes("--time=90"))
  ok(argv.includes("--output=/home/a%%b/o"), "SLURM reads %% as a literal %")
})

Deno.test("property: sbatchArgv keeps every value inside its own word, the script last", () => {
  const value = fc.string({ minLength: 1 }).filter((s) => !/[\r\n\0]/.test(s))
  // what Application.make leaves of any job name
  const jobname = fc.string().map((s) => Application.sanitizeJobname(s) ?? "lrms.job")
  fc.assert(
    fc.property(
      value,
      value,
      fc.integer({ min: 1, max: 4096 }),
      jobname,
      (partition, account, cores, name) => {
        const argv = Slurm.sbatchArgv({ ...baseSbatch, partition, account, cores, jobname: name })
        ok(argv.includes(`--job-name=${name}`))
        strictEqual(argv.at(-1), baseSbatch.script)
        ok(argv.includes(`--partition=${partition}`))
        ok(argv.includes(`--account=${account}`))
        ok(argv.includes(`--cpus-per-task=${cores}`))
        // nothing but the script is a bare word: no value can pose as an option or a file
        deepStrictEqual(argv.slice(1, -1).filter((w) => !w.startsWith("--")), [])
      },
    ),
  )
})

Deno.test("sbatchRetryable: a busy controller may pass later, a bad request never", () => {
  ok(
    Slurm.sbatchRetryable(
      "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
    ),
  )
  ok(Slurm.sbatchRetryable("sbatch: error: Unable to contact slurm controller (connect failure)"))
  ok(Slurm.sbatchRetryable("sbatch: error: QOSMaxSubmitJobPerUserLimit"))
  ok(!Slurm.sbatchRetryable("sbatch: error: Memory specification can not be satisfied"))
  ok(!Slurm.sbatchRetryable("sbatch: error: invalid partition specified: nosuchpart"))
})

Deno.test("terminationOfState: COMPLETED is exit 0, kills and node failures are pseudo-signals", () => {
  deepStrictEqual(Slurm.terminationOfState("COMPLETED"), Termination.exited(0))
  strictEqual(Slurm.terminationOfState("TIMEOUT")?.signal, Termination.Signals.RemoteKill)
  strictEqual(Slurm.terminationOfState("NODE_FAIL")?.signal, Termination.Signals.RemoteError)
  strictEqual(Slurm.terminationOfState("FAILED"), undefined)
})

Deno.test("sinfo: idle CPUs summed over distinct nodes", () => {
  deepStrictEqual(Slurm.sinfoArgv("debug"), [
    "sinfo",
    "--noheader",
    "--Node",
    "--format=%N^%C",
    "--partition=debug",
  ])
  strictEqual(Slurm.parseIdleCpus("vm^1/1/0/2\nvm^1/1/0/2\nn2^0/8/0/8\nbanner\n"), 9)
  strictEqual(Slurm.parseIdleCpus(""), undefined)
  strictEqual(Slurm.parseIdleCpus("garbage"), undefined)
})

// =============================================================================
// Arrays, requeue and parallel jobs: outputs recorded by test/services/slurm-record.sh
// =============================================================================

/** The blocks of test/data/vectors/slurm/NAME by label (job ids change between recordings). */
const slurmRecorded = async (name: string): Promise<ReadonlyMap<string, Block>> => {
  const url = new URL(`./data/vectors/slurm/${name}`, import.meta.url)
  const blocks = parseBlocks(name, await Deno.readTextFile(url))
  const out = new Map<string, Block>()
  for (const b of blocks) if (b.label !== undefined && !out.has(b.label)) out.set(b.label, b)
  return out
}

const labelled = (blocks: ReadonlyMap<string, Block>, label: string): Block => {
  const b = blocks.get(label)
  ok(b !== undefined, `no "=== ${label} ===" block`)
  return b
}

/** The id `sbatch` printed in a recorded submission. */
const submittedId = (b: Block): string => {
  const id = Slurm.parseSbatchJobId(b.output)
  ok(id !== undefined, `${b.label}: no job id in ${b.output}`)
  return id
}

const stateOf = (reply: Block, ids: ReadonlyArray<string> = []) => {
  const r = SlurmDialect.parseStatReply({
    exitCode: reply.rc ?? 0,
    stdout: reply.output,
    stderr: "",
  }, ids)
  ok(r._tag === "Listed", `${reply.label}: ${JSON.stringify(r)}`)
  return r.jobs
}

const RemoteKill = Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL)

Deno.test("arrays (recorded): the limit from scontrol show config, the array id from sbatch", async () => {
  const v = await slurmRecorded("arrays.txt")
  const config = labelled(v, "limit: scontrol show config")
  strictEqual(Slurm.parseMaxArraySize(config.output), 10001)
  strictEqual(Slurm.parseMaxArraySize(labelled(v, "limit: MaxArraySize").output), 10001)
  strictEqual(Slurm.parseMaxArraySize("MaxJobCount = 20000\n"), undefined)
  const arrays = SlurmDialect.arraySupport(1000)
  deepStrictEqual(arrays.limit?.argv, ["scontrol", "show", "config"])
  strictEqual(arrays.limit?.parse({ exitCode: 0, stdout: config.output, stderr: "" }), 10001)
  strictEqual(arrays.limit?.parse({ exitCode: 1, stdout: "", stderr: "down" }), undefined)
  strictEqual(arrays.maxSize, 1000)
  strictEqual(arrays.firstIndex, 0)
  strictEqual(arrays.indexVariable, "SLURM_ARRAY_TASK_ID")
  strictEqual(arrays.elementId("123", 4), "123_4")
  ok(
    /^\d+$/.test(
      submittedId(labelled(v, "submit: held array of 4, elements exit with their index")),
    ),
  )
  const tooBig = labelled(v, "refused: array larger than MaxArraySize")
  strictEqual(tooBig.rc, 1)
  ok(tooBig.output.includes("Invalid job array specification"), tooBig.output)
  strictEqual(Slurm.sbatchRetryable(tooBig.output), false)
})

Deno.test("arrays (recorded): squeue keys each element as 123_4, held, pending ranges expanded", async () => {
  const v = await slurmRecorded("arrays.txt")
  const a = submittedId(labelled(v, "submit: held array of 4, elements exit with their index"))
  const el = (i: number) => `${a}_${i}`
  const all = [0, 1, 2, 3].map(el)
  for (const label of ["held: squeue without --array", "held: squeue --array"]) {
    const jobs = stateOf(labelled(v, label))
    deepStrictEqual([...jobs.keys()].sort(), all, label)
    for (const id of all) {
      deepStrictEqual(jobs.get(id), { state: "STOPPED", native: "PENDING", reason: "JobHeldUser" })
    }
  }
  // asked for two elements: exactly those two, with --array or from the range `a_[1,3]`
  for (
    const label of [
      "held: squeue --array, two elements",
      "held: squeue without --array, two elements",
    ]
  ) {
    deepStrictEqual([...stateOf(labelled(v, label)).keys()].sort(), [el(1), el(3)], label)
  }
  const ended = stateOf(labelled(v, "ended: squeue --array"))
  deepStrictEqual(ended.get(el(0))?.termination, Termination.exited(0))
  for (const i of [1, 2, 3]) {
    strictEqual(ended.get(el(i))?.state, "TERMINATING")
    strictEqual(ended.get(el(i))?.native, "FAILED")
    strictEqual(ended.get(el(i))?.termination, undefined, "FAILED: sacct tells the exit code")
  }
  // an element asked for by its raw id (%A) is keyed by that id too
  const byRaw = labelled(v, "ended: squeue --array, an element by its raw id")
  const raw = /--jobs=(\d+)$/.exec(byRaw.cmd)![1]!
  const jobs = stateOf(byRaw, [raw])
  strictEqual(jobs.get(raw)?.native, "COMPLETED")
  strictEqual(jobs.get(el(0))?.native, "COMPLETED")
  strictEqual(stateOf(byRaw).get(raw), undefined, "not unless asked for")
})

Deno.test("arrays (recorded): a throttled array's range, cancelled elements", async () => {
  const v = await slurmRecorded("arrays.txt")
  const b = submittedId(labelled(v, "submit: throttled array of 6, 2 at once"))
  const el = (i: number) => `${b}_${i}`
  for (const label of ["throttled: squeue without --array", "throttled: squeue --array"]) {
    const jobs = stateOf(labelled(v, label))
    deepStrictEqual([...jobs.keys()].sort(), [0, 1, 2, 3, 4, 5].map(el), label)
    for (const i of [0, 1]) strictEqual(jobs.get(el(i))?.state, "RUNNING")
    for (const i of [2, 3, 4, 5]) {
      deepStrictEqual(jobs.get(el(i)), {
        state: "SUBMITTED",
        native: "PENDING",
        reason: "JobArrayTaskLimit",
      })
    }
  }
  const cancel = labelled(v, "throttled: scancel a running and two pending elements")
  deepStrictEqual(Slurm.scancelArgv([el(0), el(4), el(5)]), cancel.cmd.split(" "))
  strictEqual(cancel.rc, 0)
  const after = stateOf(labelled(v, "throttled: squeue --array after scancel"))
  deepStrictEqual(after.get(el(0))?.termination, RemoteKill)
  // elements cancelled while pending leave the queue at once (and sacct never lists them)
  strictEqual(after.get(el(4)), undefined)
  strictEqual(after.get(el(5)), undefined)
  const acct = Slurm.parseSacct(labelled(v, "throttled: sacct after scancel").output)
  deepStrictEqual([...acct.keys()].sort(), [0, 1, 2, 3].map(el))
  for (const [id, r] of acct) {
    strictEqual(r.native, "CANCELLED", id)
    deepStrictEqual(r.termination, RemoteKill, id)
  }
  strictEqual(labelled(v, "refused: scancel of an element that never was").rc, 0)
})

Deno.test("arrays (recorded): sacct keys elements by JobID, not JobIDRaw; steps are no jobs", async () => {
  const v = await slurmRecorded("arrays.txt")
  const a = submittedId(labelled(v, "submit: held array of 4, elements exit with their index"))
  const el = (i: number) => `${a}_${i}`
  // the pending array is one range record in accounting: each element is pending
  const held = Slurm.parseSacct(labelled(v, "held: sacct of the array").output)
  deepStrictEqual([...held.keys()].sort(), [0, 1, 2, 3].map(el))
  for (const r of held.values()) {
    strictEqual(r.state, "SUBMITTED")
    strictEqual(r.termination, undefined)
  }
  strictEqual(Slurm.parseSacct(labelled(v, "held: sacct of an element").output).size, 0)
  const ended = Slurm.parseSacct(labelled(v, "ended: sacct of the elements").output)
  deepStrictEqual([...ended.keys()].sort(), [0, 1, 2, 3].map(el))
  for (const i of [0, 1, 2, 3]) {
    const r = ended.get(el(i))!
    deepStrictEqual(r.termination, Termination.exited(i), el(i))
    strictEqual(r.state, "TERMINATING")
    strictEqual(r.usage.cores, 1)
    strictEqual(r.usage.gpus, undefined, "no GPU in AllocTRES")
    ok((r.usage.maxUsedMemory ?? 0) > 0, "MaxRSS of the .batch step")
  }
  const rawBlock = labelled(v, "ended: sacct JobID and JobIDRaw")
  const columns = ["JobID", "JobIDRaw", "State", "ExitCode"]
  const raws = rawBlock.output.split("\n").filter((l) => !l.includes(".")).map((l) => l.split("|"))
  strictEqual(raws.length, 4)
  ok(raws.some(([id, raw]) => id !== `${raw}` && id!.startsWith(`${a}_`)), "raw ids differ")
  deepStrictEqual(
    [...Slurm.parseSacct(rawBlock.output, columns).keys()].sort(),
    [0, 1, 2, 3].map(el),
  )
  // asked for by a raw id: keyed by it too
  const [id1, raw1] = raws[1]!
  deepStrictEqual(
    Slurm.parseSacct(rawBlock.output, columns, [raw1!]).get(raw1!)?.native,
    Slurm.parseSacct(rawBlock.output, columns).get(id1!)?.native,
  )
  const byRaw = labelled(v, "ended: sacct, an element by its raw id")
  const raw = /--jobs=(\d+)$/.exec(byRaw.cmd)![1]!
  deepStrictEqual(
    Slurm.parseSacct(byRaw.output, Slurm.sacctColumns, [raw]).get(raw)?.termination,
    Termination.exited(0),
  )
})

Deno.test("arrays (recorded): an array's tag maps to its array id, whatever its elements print", async () => {
  const v = await slurmRecorded("arrays.txt")
  const a = submittedId(labelled(v, "submit: held array of 4, elements exit with their index"))
  const tag = /--chdir=\S*\/job\.([^/\s]+)/.exec(
    labelled(v, "submit: held array of 4, elements exit with their index").cmd,
  )![1]!
  ok(tag.startsWith("array-"), tag)
  const held = labelled(v, "held: tags")
  ok(held.output.includes(`${a}_[0-3]^`), "the held array is one range line")
  strictEqual(Slurm.parseTaggedJobs(held.output).get(tag), a)
  const running = labelled(v, "throttled: tags")
  ok(running.output.includes(`${a}_0^`), "the ended elements are one line each")
  strictEqual(Slurm.parseTaggedJobs(running.output).get(tag), a)
  for (const id of Slurm.parseTaggedJobs(running.output).values()) ok(/^\d+$/.test(id), id)
})

Deno.test("array ids: ranges expanded, the array id of an element", () => {
  deepStrictEqual(Slurm.expandArrayId("123_[1-3,5%2]"), ["123_1", "123_2", "123_3", "123_5"])
  deepStrictEqual(Slurm.expandArrayId("123_[0-3]"), ["123_0", "123_1", "123_2", "123_3"])
  deepStrictEqual(Slurm.expandArrayId("123_[7]"), ["123_7"])
  deepStrictEqual(Slurm.expandArrayId("123_4"), ["123_4"])
  deepStrictEqual(Slurm.expandArrayId("123"), ["123"])
  deepStrictEqual(Slurm.expandArrayId("123_[3-1]"), ["123_[3-1]"], "unreadable: as printed")
  deepStrictEqual(Slurm.expandArrayId("123_[0-99999999]"), ["123_[0-99999999]"], "too large")
  strictEqual(Slurm.arrayIdOf("123_4"), "123")
  strictEqual(Slurm.arrayIdOf("123_[1-3]"), "123")
  strictEqual(Slurm.arrayIdOf("123+0"), "123+0")
  strictEqual(Slurm.elementId("123", 0), "123_0")
  // a range in sacct stands for the elements that have no record of their own
  const cols = ["JobID", "State", "ExitCode"]
  const acct = Slurm.parseSacct("9_0|COMPLETED|0:0\n9_[0-2%1]|CANCELLED by 0|0:0\n", cols)
  strictEqual(acct.get("9_0")?.native, "COMPLETED")
  strictEqual(acct.get("9_1")?.native, "CANCELLED")
  strictEqual(acct.get("9_2")?.native, "CANCELLED")
  strictEqual(acct.get("9_[0-2%1]"), undefined)
})

Deno.test("requeue (recorded): a requeued job is SUBMITTED again, not ended; held after it, STOPPED", async () => {
  const v = await slurmRecorded("requeue.txt")
  const r = submittedId(labelled(v, "submit: --requeue"))
  const st = (label: string) => stateOf(labelled(v, label)).get(r)
  strictEqual(st("running: squeue")?.state, "RUNNING")
  // right after `scontrol requeue` the job is COMPLETING, then PENDING (BeginTime) again
  deepStrictEqual(st("requeued: squeue at once"), {
    state: "RUNNING",
    native: "COMPLETING",
  })
  deepStrictEqual(st("requeued: squeue once pending"), {
    state: "SUBMITTED",
    native: "PENDING",
    reason: "BeginTime",
  })
  strictEqual(st("running again: squeue")?.state, "RUNNING")
  // accounting: the run that was requeued is REQUEUED, no end
  const acct = Slurm.parseSacct(labelled(v, "requeued: sacct").output).get(r)
  strictEqual(acct?.native, "REQUEUED")
  strictEqual(acct?.state, "SUBMITTED")
  strictEqual(acct?.termination, undefined)
  // with --duplicates, the last record is the current run
  const dup = Slurm.parseSacct(labelled(v, "running again: sacct --duplicates").output).get(r)
  ok(dup !== undefined && dup.state !== "TERMINATING", JSON.stringify(dup))
  // requeuehold: COMPLETING, then PENDING "job requeued in held state": STOPPED
  strictEqual(st("requeue-held: squeue at once")?.state, "RUNNING")
  deepStrictEqual(st("requeue-held: squeue"), {
    state: "STOPPED",
    native: "PENDING",
    reason: "job requeued in held state",
  })
  const cancelled = st("requeue-held: squeue after scancel")
  strictEqual(cancelled?.state, "TERMINATING")
  deepStrictEqual(cancelled?.termination, RemoteKill)
  // with --duplicates, one master record per run: the last one tells (a job cancelled while
  // requeue-held gets its CANCELLED record late: REQUEUED until then, seen in an earlier recording)
  const runs = labelled(v, "requeue-held: sacct after scancel").output.split("\n")
    .filter((l) => l.startsWith(`${r}|`))
  ok(runs.length >= 2, "a REQUEUED record per requeue")
  const last = Slurm.parseSacct(labelled(v, "requeue-held: sacct after scancel").output).get(r)
  strictEqual(last?.native, runs.at(-1)!.split("|")[1]!.split(" ")[0])
  strictEqual(last?.state, last?.native === "REQUEUED" ? "SUBMITTED" : "TERMINATING")
  ok(labelled(v, "output of every run").output.includes("DUE TO JOB REQUEUE"))
  const refused = labelled(v, "refused: scontrol requeue of a --no-requeue job")
  ok(refused.output.includes("Requested operation is presently disabled"), refused.output)
})

Deno.test("preemption (recorded): requeued with --requeue, PREEMPTED (RemoteKill) without; GPUs allocated", async () => {
  const v = await slurmRecorded("requeue.txt")
  const p1 = submittedId(labelled(v, "submit: --requeue, every GPU"))
  strictEqual(
    stateOf(labelled(v, "preempted, requeued: squeue 1 s later")).get(p1)?.state,
    "RUNNING",
  )
  deepStrictEqual(stateOf(labelled(v, "preempted, requeued: squeue once pending")).get(p1), {
    state: "SUBMITTED",
    native: "PENDING",
    reason: "BeginTime",
  })
  // sacct says PREEMPTED even while the requeued job waits: accounting is asked only for jobs
  // squeue no longer lists
  strictEqual(
    Slurm.parseSacct(labelled(v, "preempted, requeued: sacct").output).get(p1)?.native,
    "PREEMPTED",
  )
  const p2 = submittedId(labelled(v, "submit: --no-requeue, every GPU"))
  const ended = stateOf(labelled(v, "preempted, ended: squeue")).get(p2)
  strictEqual(ended?.native, "PREEMPTED")
  strictEqual(ended?.state, "TERMINATING")
  deepStrictEqual(ended?.termination, RemoteKill)
  const acct = Slurm.parseSacct(labelled(v, "preempted, ended: sacct").output).get(p2)
  deepStrictEqual(acct?.termination, RemoteKill)
  strictEqual(acct?.usage.gpus, 4, "--gpus=4: gres/gpu=4 in AllocTRES")
})

Deno.test("mapState: every SLURM job state maps to a clear run state", () => {
  const want: Record<string, string> = {
    PENDING: "SUBMITTED",
    CONFIGURING: "SUBMITTED",
    REQUEUED: "SUBMITTED",
    REQUEUE_FED: "SUBMITTED",
    RUNNING: "RUNNING",
    COMPLETING: "RUNNING",
    RESIZING: "RUNNING",
    SIGNALING: "RUNNING",
    STAGE_OUT: "RUNNING",
    SUSPENDED: "STOPPED",
    STOPPED: "STOPPED",
    REQUEUE_HOLD: "STOPPED",
    SPECIAL_EXIT: "STOPPED",
    RESV_DEL_HOLD: "STOPPED",
    BOOT_FAIL: "TERMINATING",
    CANCELLED: "TERMINATING",
    COMPLETED: "TERMINATING",
    DEADLINE: "TERMINATING",
    FAILED: "TERMINATING",
    NODE_FAIL: "TERMINATING",
    OUT_OF_MEMORY: "TERMINATING",
    PREEMPTED: "TERMINATING",
    REVOKED: "TERMINATING",
    TIMEOUT: "TERMINATING",
    WHATEVER: "UNKNOWN",
  }
  for (const [native, state] of Object.entries(want)) {
    strictEqual(Slurm.mapState(native), state, native)
  }
  strictEqual(Slurm.mapState("PENDING", "JobHeldAdmin"), "STOPPED")
  strictEqual(Slurm.mapState("PENDING", "job_requeued_in_held_state"), "STOPPED")
  deepStrictEqual(Slurm.terminationOfState("REVOKED"), Termination.signalled(124, 75))
  deepStrictEqual(Slurm.terminationOfState("BOOT_FAIL"), Termination.signalled(124, 75))
  deepStrictEqual(Slurm.terminationOfState("PREEMPTED"), RemoteKill)
})

Deno.test("parallel (recorded): sbatch refuses what no node can run; GPUs allocated from AllocTRES", async () => {
  const v = await slurmRecorded("parallel.txt")
  for (
    const label of [
      "refused: 2 nodes on the 1-node cluster",
      "refused: more tasks than the node has CPUs",
      "refused: more GPUs than the node has",
    ]
  ) {
    const b = labelled(v, label)
    strictEqual(b.rc, 1, label)
    ok(b.output.includes("Batch job submission failed"), b.output)
    strictEqual(Slurm.sbatchRetryable(b.output), false, label)
  }
  ok(
    labelled(v, "refused: 2 nodes on the 1-node cluster").output.includes(
      "Node count specification invalid",
    ),
  )
  const [s, m, g, x] = [
    "submit: 4 ranks under srun",
    "submit: 4 ranks under mpirun",
    "submit: 2 tasks x 2 cores x 1 GPU",
    "submit: exclusive",
  ].map((l) => submittedId(labelled(v, l)))
  const acct = Slurm.parseSacct(labelled(v, "ended: sacct").output)
  strictEqual(acct.get(s!)?.usage.cores, 4)
  strictEqual(acct.get(s!)?.usage.gpus, undefined)
  strictEqual(acct.get(m!)?.usage.cores, 4)
  strictEqual(acct.get(g!)?.usage.gpus, 2, "2 tasks × --gpus-per-task=1")
  strictEqual(acct.get(g!)?.usage.cores, 4)
  // --exclusive takes the whole node: every GPU is allocated, though none was asked for
  strictEqual(acct.get(x!)?.usage.gpus, 4)
  strictEqual(acct.get(x!)?.usage.cores, 8)
  const tres = labelled(v, "ended: sacct AllocTRES vs ReqTRES").output.split("\n")
    .map((l) => l.split("|")).find(([id]) => id === x)!
  strictEqual(Slurm.parseTresGpus(tres[2]!), 4, "AllocTRES")
  strictEqual(Slurm.parseTresGpus(tres[3]!), undefined, "ReqTRES asked for none")
  deepStrictEqual(
    labelled(v, "ended: outputs").output.split("\n").filter((l) => l.startsWith("rank")),
    [
      "rank 0",
      "rank 1",
      "rank 2",
      "rank 3",
      "rank 0",
      "rank 1",
      "rank 2",
      "rank 3",
      "rank 0 gpus 0 threads 2",
      "rank 1 gpus 1 threads 2",
    ],
  )
})

Deno.test("parseTresGpus: the gres/gpu total, else the typed counts", () => {
  strictEqual(Slurm.parseTresGpus("billing=4,cpu=4,gres/gpu=2,mem=1G,node=1"), 2)
  strictEqual(Slurm.parseTresGpus("cpu=4,gres/gpu:a100=2,gres/gpu:v100=1"), 3)
  strictEqual(Slurm.parseTresGpus("cpu=4,gres/gpu=3,gres/gpu:a100=3"), 3)
  strictEqual(Slurm.parseTresGpus("cpu=4,gres/gpu=0"), 0)
  strictEqual(Slurm.parseTresGpus("cpu=4,mem=1G,gres/gpumem=4G"), undefined)
  strictEqual(Slurm.parseTresGpus(""), undefined)
})

// =============================================================================
// The dialect's sbatch: shape, requeue, arrays
// =============================================================================

const slurmConfig = (extra: Partial<SlurmDialect.SlurmConfigInput> = {}) =>
  Schema.decodeUnknownSync(SlurmDialect.SlurmConfig)({
    name: "c",
    architecture: "x86_64",
    maxCores: 64,
    maxMemoryPerCore: "4 GiB",
    maxWalltime: "1 day",
    ...extra,
  })

const submitArgv = (
  input: Application.ApplicationInput,
  extra: Partial<SlurmDialect.SlurmConfigInput> = {},
  array?: { size: number; throttle?: number },
) => {
  const config = slurmConfig(extra)
  const app = Effect.runSync(Application.make(input))
  const d = SlurmDialect.dialect(config)
  const problem = d.validate?.(app)
  if (problem !== undefined) return problem
  return d.submit({
    app,
    resource: Resource.make("slurm", config),
    jobDir: "/s/job.1",
    scriptPath: "/s/job.1/.lrms/job.sh",
    schedulerOutput: "/s/job.1/.lrms/scheduler.out",
    schedulerError: "/s/job.1/.lrms/scheduler.err",
    ...(array !== undefined ? { array } : {}),
  }).argv
}

/** The options of an argv between the fixed head and `--export`. */
const middle = (argv: ReadonlyArray<string> | string) => {
  ok(typeof argv !== "string", String(argv))
  return argv.slice(
    argv.indexOf("--chdir=/s/job.1") + 3,
    argv.findIndex((a) => a.startsWith("--export=")),
  )
}

Deno.test("sbatch: a GC3Pie-style job keeps one task on one node; requeue and arrays", () => {
  deepStrictEqual(
    middle(submitArgv({ arguments: ["x"], requestedCores: 4, requestedMemory: "1 GiB" })),
    [
      "--no-requeue",
      "--nodes=1",
      "--ntasks=1",
      "--cpus-per-task=4",
      "--mem=1024M",
    ],
  )
  const config = slurmConfig()
  strictEqual(config.requeue, false)
  strictEqual(config.maxArraySize, 1000)
  strictEqual(config.gpuRequest, "gpus-per-task")
  strictEqual(SlurmDialect.dialect(config).arrays?.maxSize, 1000)
  strictEqual(SlurmDialect.dialect(slurmConfig({ maxArraySize: 5000 })).arrays?.maxSize, 5000)
  deepStrictEqual(middle(submitArgv({ arguments: ["x"] }, { requeue: true })).slice(0, 2), [
    "--open-mode=append",
    "--requeue",
  ])
  const arr = submitArgv({ arguments: ["x"] }, {}, { size: 10, throttle: 3 })
  ok(typeof arr !== "string")
  deepStrictEqual(arr.slice(-2), ["--array=0-9%3", "/s/job.1/.lrms/job.sh"])
  ok(arr.includes("--open-mode=append"), "every element appends to SLURM's own output")
  deepStrictEqual(
    (submitArgv({ arguments: ["x"] }, {}, { size: 1 }) as ReadonlyArray<string>).at(-2),
    "--array=0-0",
  )
})

Deno.test("sbatch: the parallel shape maps to --nodes/--ntasks/--ntasks-per-node/--cpus-per-task/--gpus-per-task/--exclusive", () => {
  // srun and MPI spread the ranks: SLURM chooses the nodes unless they are given
  deepStrictEqual(middle(submitArgv({ arguments: ["x"], processes: 4, launcher: "srun" })), [
    "--no-requeue",
    "--ntasks=4",
    "--cpus-per-task=1",
  ])
  // single and multiple start everything on the first node: one node
  deepStrictEqual(
    middle(submitArgv({ arguments: ["x"], processes: 4, launcher: "multiple" })).slice(1, 3),
    [
      "--nodes=1",
      "--ntasks=4",
    ],
  )
  deepStrictEqual(middle(submitArgv({ arguments: ["x"], processes: 4 })).slice(1, 3), [
    "--nodes=1",
    "--ntasks=4",
  ])
  // the resource's default launcher counts
  deepStrictEqual(
    middle(submitArgv({ arguments: ["x"], processes: 4 }, { launcher: "mpirun" })).slice(1, 2),
    [
      "--ntasks=4",
    ],
  )
  deepStrictEqual(
    middle(submitArgv({
      arguments: ["x"],
      nodes: 2,
      processesPerNode: 4,
      coresPerProcess: 2,
      gpusPerProcess: 1,
      exclusive: true,
      launcher: "mpirun",
      requestedMemory: "16 GiB",
    })),
    [
      "--no-requeue",
      "--nodes=2",
      "--ntasks=8",
      "--ntasks-per-node=4",
      "--cpus-per-task=2",
      "--gpus-per-task=1",
      "--exclusive",
      // --mem counts per node: 16 GiB over 16 cores
      "--mem-per-cpu=1024M",
    ],
  )
})

Deno.test("sbatch: gpuRequest = gres asks the GPUs of a node; validate refuses what cannot be said", () => {
  const gres = { gpuRequest: "gres" as const }
  deepStrictEqual(
    middle(submitArgv({ arguments: ["x"], nodes: 1, processes: 2, gpusPerProcess: 2 }, gres)).slice(
      -1,
    ),
    ["--gres=gpu:4"],
  )
  deepStrictEqual(
    middle(
      submitArgv({
        arguments: ["x"],
        nodes: 2,
        processesPerNode: 3,
        gpusPerProcess: 1,
        launcher: "srun",
      }, gres),
    )
      .slice(-1),
    ["--gres=gpu:3"],
  )
  const unknown = submitArgv({
    arguments: ["x"],
    processes: 4,
    gpusPerProcess: 1,
    launcher: "srun",
  }, gres)
  strictEqual(typeof unknown, "string")
  ok(
    String(unknown).includes("processesPerNode") && String(unknown).includes("gpuRequest"),
    String(unknown),
  )
  const both = submitArgv({ arguments: ["x"], gpusPerProcess: 1 }, { gpus: "2" })
  ok(
    typeof both === "string" && both.startsWith("gpusPerProcess:") && both.includes("gpus"),
    String(both),
  )
  const gresToo = submitArgv({ arguments: ["x"], nodes: 1, gpusPerProcess: 1 }, {
    ...gres,
    gres: "gpu:1",
  })
  ok(typeof gresToo === "string" && gresToo.includes("setting gres"), String(gresToo))
  // with gpus-per-task, a site-wide gres (a license, a disk) is kept beside it
  const site = submitArgv({ arguments: ["x"], gpusPerProcess: 1 }, { gres: "tmpdisk:10" })
  ok(
    typeof site !== "string" && site.includes("--gpus-per-task=1") &&
      site.includes("--gres=tmpdisk:10"),
  )
})
