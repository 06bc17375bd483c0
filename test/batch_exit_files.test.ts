/**
 * Exit files, without a scheduler: the parser of start markers and exit records (pure, and never
 * throwing on any text), and the real job script and marker-reading script run by `/bin/sh` on
 * real directories: exit codes, a payload killed by a signal (the script still dies of it), the
 * markers of an earlier run removed when a requeued job starts again, many directories read in
 * one call, a missing directory read as no record.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import * as ExitRecord from "../backends/batch/internal/exitRecord.ts"
import * as Script from "../backends/batch/Script.ts"
import * as Application from "../src/Application.ts"
import * as Termination from "../src/Termination.ts"

// =============================================================================
// Pure
// =============================================================================

Deno.test("exit record: status, times and CPU; 129–159 is a signal, anything else an exit code", () => {
  const r = ExitRecord.parseExitRecord(
    "status=3 start=1700000000 end=1700000042 cpu=0m1.5s+0m0.25s",
  )
  ok(r !== undefined)
  deepStrictEqual(r.termination, Termination.exited(3))
  deepStrictEqual([r.startedAt, r.endedAt, r.cpuSeconds], [1700000000, 1700000042, 1.75])
  ok(ExitRecord.isFinal(r), "a payload that exited is final")
  const killed = ExitRecord.parseExitRecord("status=137 start= end= cpu=+")!
  deepStrictEqual(killed.termination, Termination.signalled(9))
  ok(!ExitRecord.isFinal(killed), "a payload killed by a signal is not final on its own")
  deepStrictEqual([killed.startedAt, killed.endedAt, killed.cpuSeconds], [
    undefined,
    undefined,
    undefined,
  ])
  deepStrictEqual(ExitRecord.parseExitRecord("status=160")?.termination, Termination.exited(160))
  deepStrictEqual(ExitRecord.parseExitRecord("status=128")?.termination, Termination.exited(128))
  strictEqual(ExitRecord.parseExitRecord("status=256"), undefined)
  strictEqual(ExitRecord.parseExitRecord("status=-1"), undefined)
  strictEqual(ExitRecord.parseExitRecord("start=1 end=2"), undefined)
  // dash's `times` prints microseconds
  strictEqual(
    ExitRecord.parseExitRecord("status=0 cpu=1m0.500000s+0m0.000000s")?.cpuSeconds,
    60.5,
  )
})

Deno.test("start marker: time and host, and its line (two runs write different lines)", () => {
  deepStrictEqual(ExitRecord.parseStartMarker("start=1700000000 host=node01"), {
    startedAt: 1700000000,
    host: "node01",
    line: "start=1700000000 host=node01",
  })
  strictEqual(ExitRecord.parseStartMarker("host=node01"), undefined)
  strictEqual(ExitRecord.parseStartMarker("start= host=")?.startedAt, undefined)
})

Deno.test("usage of a record: wall time from start to end, CPU, cores, the host", () => {
  const r = ExitRecord.parseExitRecord("status=0 start=100 end=130 cpu=0m2.000s+0m1.000s")!
  const started = ExitRecord.parseStartMarker("start=100 host=n7")!
  const u = ExitRecord.usageOf("slurm", r, 4, started)
  deepStrictEqual(u.duration, Duration.seconds(30))
  deepStrictEqual(u.cpuTime, Duration.millis(3000))
  strictEqual(u.cores, 4)
  deepStrictEqual(u.extra, { slurm_host: "n7" })
  const clockBack = ExitRecord.parseExitRecord("status=0 start=130 end=100")!
  strictEqual(ExitRecord.usageOf("slurm", clockBack, 1).duration, undefined)
})

Deno.test("marker output: sections in order, a cut section is undefined, foreign lines skipped", () => {
  const t = "lrmsabc"
  const out = [
    t,
    "started start=1 host=a",
    "exit status=0 start=1 end=2 cpu=+",
    t,
    "some banner the login shell printed",
    t,
    "started start=5 host=c",
    `${t} end`,
    "",
  ].join("\n")
  const m = ExitRecord.parseMarkers(t, 3, out)
  strictEqual(m[0]?.exit?.status, 0)
  strictEqual(m[0]?.started?.host, "a")
  deepStrictEqual(m[1], {}, "no file: no record")
  strictEqual(m[2]?.started?.host, "c")
  strictEqual(m[2]?.exit, undefined)
  const cut = ExitRecord.parseMarkers(
    t,
    3,
    [t, "started start=1 host=a", t, "exit status="].join("\n"),
  )
  deepStrictEqual([cut[0]?.started?.host, cut[1], cut[2]], ["a", undefined, undefined])
})

Deno.test("property: the marker parser never throws, and a written record reads back", () => {
  fc.assert(fc.property(fc.string(), fc.integer({ min: 0, max: 5 }), (text, n) => {
    const m = ExitRecord.parseMarkers("tok", n, text)
    strictEqual(m.length, n)
  }))
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 2 ** 32 }),
      fc.integer({ min: 0, max: 100_000 }),
      (status, start, took) => {
        const r = ExitRecord.parseExitRecord(
          `status=${status} start=${start} end=${start + took} cpu=0m0.010s+0m0.000s`,
        )!
        strictEqual(r.status, status)
        strictEqual(r.endedAt! - r.startedAt!, took)
        deepStrictEqual(
          r.termination,
          status > 128 && status < 160
            ? Termination.signalled(status - 128)
            : Termination.exited(status),
        )
      },
    ),
  )
})

// =============================================================================
// The real scripts, run by /bin/sh
// =============================================================================

const sh = (args: ReadonlyArray<string>, stdin?: string) => {
  const child = new Deno.Command("/bin/sh", {
    args: [...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn()
  if (stdin !== undefined) {
    const w = child.stdin.getWriter()
    w.write(new TextEncoder().encode(stdin)).then(() => w.close())
  }
  return child.output().then((o) => ({
    code: o.code,
    signal: o.signal,
    stdout: new TextDecoder().decode(o.stdout),
  }))
}

/** A job directory with its job script, for a payload run by `sh -c`. */
const jobDir = (root: string, name: string, payload: string) => {
  const dir = `${root}/job.${name}`
  Deno.mkdirSync(`${dir}/.lrms`, { recursive: true })
  const app = Effect.runSync(Application.make({ arguments: ["sh", "-c", payload] }))
  const script = Script.renderJobScript({ app, jobDir: dir, directives: [] })
  Deno.writeTextFileSync(`${dir}/.lrms/job.sh`, script)
  return dir
}

const read = (dir: string, file: string) => {
  try {
    return Deno.readTextFileSync(`${dir}/.lrms/${file}`)
  } catch {
    return undefined
  }
}

Deno.test("the job script writes a start marker and an exit record; the script still dies of the payload's signal", async () => {
  const root = Deno.makeTempDirSync({ prefix: "lrms-exit-" })
  try {
    const three = jobDir(root, "three", "echo out; exit 3")
    const r3 = await sh([`${three}/.lrms/job.sh`])
    strictEqual(r3.code, 3)
    const rec = ExitRecord.parseExitRecord(read(three, "exit")!.trim())!
    deepStrictEqual(rec.termination, Termination.exited(3))
    ok(rec.startedAt !== undefined && rec.endedAt! >= rec.startedAt, JSON.stringify(rec))
    ok(rec.cpuSeconds !== undefined, "times was read")
    const start = ExitRecord.parseStartMarker(read(three, "started")!.trim())!
    strictEqual(start.host, Deno.hostname())
    strictEqual(start.startedAt, rec.startedAt)
    strictEqual(read(three, "exit.part"), undefined, "the temporary name is renamed away")

    const killed = jobDir(root, "killed", "kill -TERM $$")
    const rk = await sh([`${killed}/.lrms/job.sh`])
    strictEqual(rk.signal, "SIGTERM", "the script dies of the payload's signal")
    const krec = ExitRecord.parseExitRecord(read(killed, "exit")!.trim())!
    deepStrictEqual(krec.termination, Termination.signalled(15))
    ok(!ExitRecord.isFinal(krec))
  } finally {
    Deno.removeSync(root, { recursive: true })
  }
})

Deno.test("a new run removes the markers of the run before (a requeued job) before its payload starts", async () => {
  const root = Deno.makeTempDirSync({ prefix: "lrms-exit-" })
  try {
    // the payload fails when an exit record is there while it runs
    const dir = jobDir(root, "again", 'test ! -e .lrms/exit && grep -q "start=" .lrms/started')
    Deno.writeTextFileSync(`${dir}/.lrms/exit`, "status=137 start=1 end=2 cpu=+\n")
    Deno.writeTextFileSync(`${dir}/.lrms/started`, "start=1 host=old-node\n")
    const r = await sh([`${dir}/.lrms/job.sh`])
    strictEqual(r.code, 0)
    strictEqual(ExitRecord.parseExitRecord(read(dir, "exit")!.trim())?.status, 0)
    ok(!read(dir, "started")!.includes("old-node"))
  } finally {
    Deno.removeSync(root, { recursive: true })
  }
})

Deno.test("the marker script reads many directories in one /bin/sh; a missing one has no record", async () => {
  const root = Deno.makeTempDirSync({ prefix: "lrms-exit-" })
  try {
    const done = jobDir(root, "done", "exit 7")
    await sh([`${done}/.lrms/job.sh`])
    const startedOnly = `${root}/job.running`
    Deno.mkdirSync(`${startedOnly}/.lrms`, { recursive: true })
    Deno.writeTextFileSync(`${startedOnly}/.lrms/started`, "start=5 host=n2\n")
    const odd = `${root}/job.it's "odd" $HOME`
    Deno.mkdirSync(`${odd}/.lrms`, { recursive: true })
    Deno.writeTextFileSync(`${odd}/.lrms/exit`, "status=0 start=1 end=2 cpu=+\n")
    const dirs = [done, `${root}/job.gone`, startedOnly, odd].map((d) => `${d}/.lrms`)
    const token = "lrmstest0123"
    const script = ExitRecord.renderReadScript(token, dirs)
    ok(!script.includes("printf"))
    const r = await sh(["-s"], script)
    strictEqual(r.code, 0)
    const m = ExitRecord.parseMarkers(token, dirs.length, r.stdout)
    deepStrictEqual(m[0]?.exit?.termination, Termination.exited(7))
    ok(m[0]?.started !== undefined)
    deepStrictEqual(m[1], {})
    strictEqual(m[2]?.started?.host, "n2")
    strictEqual(m[2]?.exit, undefined)
    strictEqual(m[3]?.exit?.status, 0, "a name with quotes and $ reaches the shell quoted")
    const none = await sh(["-s"], ExitRecord.renderReadScript(token, []))
    deepStrictEqual(ExitRecord.parseMarkers(token, 0, none.stdout), [])
  } finally {
    Deno.removeSync(root, { recursive: true })
  }
})

Deno.test("1,000 directories are read by one /bin/sh in well under a second (builtins only)", async () => {
  const root = Deno.makeTempDirSync({ prefix: "lrms-exit-" })
  try {
    const dirs: Array<string> = []
    for (let i = 0; i < 1000; i++) {
      const d = `${root}/job.${i}/.lrms`
      Deno.mkdirSync(d, { recursive: true })
      Deno.writeTextFileSync(`${d}/exit`, `status=${i % 5} start=1 end=2 cpu=+\n`)
      dirs.push(d)
    }
    const started = performance.now()
    const r = await sh(["-s"], ExitRecord.renderReadScript("lrmsk", dirs))
    const took = performance.now() - started
    const m = ExitRecord.parseMarkers("lrmsk", dirs.length, r.stdout)
    ok(m.every((x, i) => x?.exit?.status === i % 5))
    ok(took < 2000, `took ${took} ms`)
  } finally {
    Deno.removeSync(root, { recursive: true })
  }
})
