/**
 * The SLURM dialect's job-array pieces against the real SLURM of test/services/slurm-up.sh, over
 * the local transport: the `sbatch` argv the dialect builds for an array (`--array=0-3%2`), its
 * reply's array id, the site's array limit, and the dialect's stat, accounting, cancel and
 * find-by-tag commands given element ids (`123_4`), each element keyed by that id and in its own
 * state. (Packing applications into arrays is the batch flow's, tested in batch_arrays and
 * arrays_real.)
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import type { Dialect, Reply, StatRecord } from "../backends/batch/Dialect.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Auth from "../src/Auth.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { Transport } from "../src/Transport.ts"
import { app, runTest, tempDir } from "./_effect.ts"
import { config, slurm, slurmTest } from "./_slurm.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `slurm arrays: ${name}`, ...slurmTest, fn })

/** Runs an argv of the dialect over the local transport, with the command's environment. */
const run = (argv: ReadonlyArray<string> | undefined, env?: Readonly<Record<string, string>>) =>
  Effect.gen(function* () {
    ok(argv !== undefined, "the dialect refused the ids")
    const transport = yield* Transport
    const r = yield* transport.exec(argv, env !== undefined ? { env } : {})
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr } satisfies Reply
  }).pipe(Effect.provide(LocalTransport.layer), Effect.provide(Auth.none))

const stat = (d: Dialect, ids: ReadonlyArray<string>) =>
  Effect.map(run(d.stat.argv(ids), d.stat.env), (reply) => {
    const r = d.stat.parse(reply, ids)
    ok(r._tag === "Listed", JSON.stringify(r))
    return r.jobs
  })

const accounting = (d: Dialect, ids: ReadonlyArray<string>) => {
  const acct = d.accounting[0]!
  return Effect.map(run(acct.argv(ids), acct.env), (reply) => acct.parse(reply, ids))
}

/** Polls the dialect's stat until `done` holds, for at most `seconds`. */
const until = (
  d: Dialect,
  ids: ReadonlyArray<string>,
  done: (jobs: ReadonlyMap<string, StatRecord>) => boolean,
  seconds = 60,
) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds * 4; i++) {
      const jobs = yield* stat(d, ids)
      if (done(jobs)) return jobs
      yield* Effect.sleep("250 millis")
    }
    throw new Error(`the elements ${ids.join(" ")} did not get there in ${seconds} s`)
  })

test("an array of 4, 2 at once: each element keyed 123_i, in its own state; cancel, accounting, tag", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-slurm-array-")
    const decoded = Schema.decodeUnknownSync(Slurm.SlurmConfig)(
      config({ spooldir: `${dir}/spool` }),
    )
    const d = Slurm.dialect(decoded)
    const arrays = d.arrays!
    // the site's limit, from scontrol show config
    const limit = arrays.limit!.parse(yield* run(arrays.limit!.argv))
    strictEqual(limit, Number(slurm?.maxArraySize ?? limit), "MaxArraySize of slurm-up.sh")
    ok(limit !== undefined && limit >= 4, `MaxArraySize ${limit}`)
    // the array's directory, named as the batch flow names it: its tag
    const tag = `array-${crypto.randomUUID()}`
    const jobDir = `${dir}/job.${tag}`
    Deno.mkdirSync(`${jobDir}/.lrms`, { recursive: true })
    const scriptPath = `${jobDir}/.lrms/job.sh`
    // element 0 ends at once (exit 0), the others sleep, then exit with their index
    const index = "$" + arrays.indexVariable
    Deno.writeTextFileSync(
      scriptPath,
      [
        "#!/bin/sh",
        `echo "element ${index}"`,
        `[ "${index}" -eq 0 ] && exit 0`,
        "sleep 4",
        `exit "${index}"`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    )
    const submit = d.submit({
      app: yield* app({ arguments: ["true"], jobname: "lrms-array-test" }),
      resource: Resource.make("slurm", decoded),
      jobDir,
      scriptPath,
      schedulerOutput: `${jobDir}/.lrms/scheduler.out`,
      schedulerError: `${jobDir}/.lrms/scheduler.err`,
      array: { size: 4, throttle: 2 },
    })
    ok(submit.argv.includes("--array=0-3%2"), submit.argv.join(" "))
    const submitted = yield* run(submit.argv)
    strictEqual(submitted.exitCode, 0, submitted.stderr)
    const base = d.parseJobId(submitted.stdout)
    ok(base !== undefined && /^\d+$/.test(base), submitted.stdout)
    const ids = [0, 1, 2, 3].map((i) => arrays.elementId(base, i))
    deepStrictEqual(ids, [0, 1, 2, 3].map((i) => `${base}_${i}`))
    try {
      // the tag maps to the array id
      const lister = d.findByTag!
      const tags = lister.parse(yield* run(lister.argv("root")))
      ok(typeof tags !== "string", String(tags))
      strictEqual(tags.get(tag), base)
      // element 0 ends, 1 and 2 run (throttle 2), 3 waits for a slot
      const jobs = yield* until(
        d,
        ids,
        (j) => j.get(ids[1]!)?.state === "RUNNING" && j.get(ids[2]!)?.state === "RUNNING",
      )
      deepStrictEqual([...jobs.keys()].sort(), ids, "keyed by exactly the ids asked for")
      deepStrictEqual(jobs.get(ids[3]!), {
        state: "SUBMITTED",
        native: "PENDING",
        reason: "JobArrayTaskLimit",
      })
      const zero = jobs.get(ids[0]!)
      ok(zero?.native === "COMPLETED" || zero?.native === "COMPLETING", JSON.stringify(zero))
      // one scancel for two elements: the running 1 and the pending 3
      const cancel = d.cancel.argv([ids[1]!, ids[3]!])
      deepStrictEqual(cancel, ["scancel", `${ids[1]},${ids[3]}`])
      strictEqual((yield* run(cancel)).exitCode, 0)
      // 1 is CANCELLED; 2 ends with exit 2
      const after = yield* until(
        d,
        ids,
        (j) => j.get(ids[1]!)?.native === "CANCELLED" && j.get(ids[2]!)?.state === "TERMINATING",
      )
      // the pending 3 either left the queue at once, or is listed CANCELLED (SLURM does both)
      const three = after.get(ids[3]!)
      ok(three === undefined || three.native === "CANCELLED", JSON.stringify(three))
      deepStrictEqual(
        after.get(ids[1]!)?.termination,
        Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
      )
      deepStrictEqual(after.get(ids[0]!)?.termination, Termination.exited(0))
      strictEqual(after.get(ids[2]!)?.native, "FAILED")
      // accounting, keyed by the element ids: exit codes, usage
      const done = [ids[0]!, ids[1]!, ids[2]!]
      let acct = yield* accounting(d, done)
      for (
        let i = 0;
        i < 40 && ![...done].every((id) => acct.get(id)?.state === "TERMINATING");
        i++
      ) {
        yield* Effect.sleep("250 millis")
        acct = yield* accounting(d, done)
      }
      deepStrictEqual([...acct.keys()].sort(), done, "no .batch step, no raw id among the keys")
      deepStrictEqual(acct.get(ids[0]!)?.termination, Termination.exited(0))
      strictEqual(acct.get(ids[1]!)?.native, "CANCELLED")
      deepStrictEqual(acct.get(ids[2]!)?.termination, Termination.exited(2))
      for (const id of done) strictEqual(acct.get(id)?.usage.cores, 1, id)
      // SLURM's own output of every element is appended to one file
      const out = Deno.readTextFileSync(`${jobDir}/.lrms/scheduler.out`)
      for (const i of [0, 1, 2]) ok(out.includes(`element ${i}\n`), out)
    } finally {
      yield* run(["scancel", base])
    }
  })))
