/**
 * Exactly-once submission on the real test SLURM: the connection is made to fail around the
 * submit call (FaultyTransport over the local transport), and every job handed to `submitJob`
 * must end up queued exactly once — known to the caller, or reported as unknown and attached
 * later with `Lrms.reconcile` — with one resource and with a second one to fall back on.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Resources from "../backends/Resources.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import * as FaultyTransport from "../src/testing/FaultyTransport.ts"
import { app, type Platform, runTest, tempDir, waitFor } from "./_effect.ts"
import { countLines } from "./_faults.ts"
import { config, slurmTest } from "./_slurm.ts"
import { keyAuth, sshTest, transport } from "./_sshd.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `slurm exactly once: ${name}`, ...slurmTest, fn })

/** The submit call: the one `/bin/sh -s` exec whose script runs sbatch. */
const submitCall = FaultyTransport.stdinIncludes("'sbatch'")

/** A SLURM `Lrms` over a faulty local transport, with its fault record. */
const faultyLayer = (
  name: string,
  spooldir: string,
  schedule: FaultyTransport.FaultSchedule,
): Layer.Layer<Lrms.Lrms | FaultyTransport.Faults, LrmsError, Platform> => {
  const faults = FaultyTransport.layer(schedule).pipe(Layer.provide(LocalTransport.layer))
  return Layer.merge(Slurm.layer(config({ name, spooldir })).pipe(Layer.provide(faults)), faults)
}

/** A job that appends a line to `runs` each time it runs, so a second run shows. */
const counted = (runs: string) =>
  app({ arguments: ["sh", "-c", `echo ran >> '${runs}'`], stdout: "out.txt" })

/** The SLURM jobs whose working directory lies under `spool`, by squeue. */
const jobsUnder = (spool: string) => {
  const out = new Deno.Command("squeue", {
    args: ["--noheader", "--states=all", "--format=%i^%Z"],
  }).outputSync()
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l.split("^")[1]?.startsWith(`${spool}/`)
  ).length
}

test("the reply of sbatch is lost: the job is found from its record and runs once", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const runs = `${dir}/runs`
    const layer = Layer.merge(
      faultyLayer("once", `${dir}/spool`, [
        { operation: "exec", match: submitCall, fault: "lostReply" },
      ]),
      Auth.none,
    )
    yield* Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* counted(runs))
      strictEqual(job.state, "SUBMITTED")
      ok(job.history.some((h) => h.message.includes("reconciled")), "settled from the record")
      const faults = yield* FaultyTransport.Faults
      deepStrictEqual(faults.faulted().map((c) => c.fault), ["lostReply"], "the fault happened")
      const done = yield* waitFor(job)
      strictEqual(done.termination?.exitCode, 0)
      strictEqual(countLines(runs), 1, "the job ran exactly once")
      strictEqual(jobsUnder(`${dir}/spool`), 1, "SLURM has exactly one job")
    }).pipe(Effect.provide(layer))
  })))

test("the submit call never reaches the host: a definite, recoverable refusal; nothing queued", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const layer = Layer.merge(
      faultyLayer("once", `${dir}/spool`, [
        { operation: "exec", match: submitCall, fault: "fail" },
      ]),
      Auth.none,
    )
    const err = yield* Effect.flip(Lrms.submitJob(yield* counted(`${dir}/runs`))).pipe(
      Effect.provide(layer),
    )
    strictEqual(err.recoverable, true, err.message)
    ok(err.message.includes("nothing was submitted"), err.message)
    strictEqual(jobsUnder(`${dir}/spool`), 0)
    deepStrictEqual([...Deno.readDirSync(`${dir}/spool`)], [], "its directory is removed")
  })))

test("reply lost and the host unreachable after: SubmitOutcomeUnknown, then reconcile attaches it", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const runs = `${dir}/runs`
    const spool = `${dir}/spool`
    const application = yield* counted(runs)
    const err = yield* Effect.flip(Lrms.submitJob(application)).pipe(
      Effect.provide(Layer.merge(
        faultyLayer("once", spool, [
          { operation: "exec", match: submitCall, fault: "lostReply", downFor: 1000 },
        ]),
        Auth.none,
      )),
    )
    strictEqual(err.reason, "SubmitOutcomeUnknown")
    strictEqual(err.recoverable, false)
    ok(err.submission !== undefined, "the error carries the submission")
    ok(Deno.statSync(err.submission.jobDir).isDirectory, "its directory is kept")
    // a later process (a fresh layer, no faults) attaches the job from the submission
    const done = yield* Effect.gen(function* () {
      const job = yield* Lrms.reconcile(err.submission!, application)
      strictEqual(job.id, err.submission!.tag)
      strictEqual(job.remoteDir, err.submission!.jobDir)
      return yield* waitFor(job)
    }).pipe(Effect.provide(Layer.merge(faultyLayer("once", spool, []), Auth.none)))
    strictEqual(done.termination?.exitCode, 0)
    strictEqual(countLines(runs), 1, "the job ran exactly once")
    strictEqual(jobsUnder(spool), 1)
  })))

test("two resources: an unknown outcome on the first never falls through to the second", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const runs = `${dir}/runs`
    const entry = (name: string, schedule: FaultyTransport.FaultSchedule) =>
      Effect.map(Lrms.Lrms, (lrms) => ({
        name,
        lrms,
        auth: { label: "none", credential: { _tag: "None" as const }, check: Effect.void },
      })).pipe(Effect.provide(faultyLayer(name, `${dir}/${name}`, schedule)))
    // both resources fail the same way, so the test holds whichever the broker ranks first (two
    // views of one shared SLURM taken a moment apart may differ as other tests' jobs end)
    const unknown: FaultyTransport.FaultSchedule = [
      { operation: "exec", match: submitCall, fault: "lostReply", downFor: 1000 },
    ]
    const first = yield* entry("first", unknown)
    const second = yield* entry("second", unknown)
    const broker = Resources.make([first, second])
    const err = yield* Effect.flip(broker.submit(yield* counted(runs)))
    strictEqual(err.reason, "SubmitOutcomeUnknown")
    const tried = err.submission?.resource
    ok(tried === "first" || tried === "second", `the submission names its resource: ${tried}`)
    ok(err.submission!.jobDir.startsWith(`${dir}/${tried}/`), err.submission!.jobDir)
    const untried = tried === "first" ? "second" : "first"
    strictEqual(jobsUnder(`${dir}/${tried}`), 1, `${tried} has the job`)
    strictEqual(jobsUnder(`${dir}/${untried}`), 0, `${untried} never got the job`)
    // and with the reply merely lost (on whichever resource the broker tries first: their
    // statuses may differ as the job above runs), that resource keeps the job: one in all
    const lostReply: FaultyTransport.FaultSchedule = [
      { operation: "exec", match: submitCall, fault: "lostReply" },
    ]
    const a = yield* entry("a", lostReply)
    const b = yield* entry("b", lostReply)
    const { job } = yield* Resources.make([a, b]).submit(yield* counted(`${dir}/runs2`))
    ok(job.history.some((h) => h.message.includes("reconciled")), "settled from the record")
    const other = job.resourceName === "a" ? "b" : "a"
    strictEqual(jobsUnder(`${dir}/${job.resourceName}`), 1)
    strictEqual(jobsUnder(`${dir}/${other}`), 0, "the other resource never got the job")
  })))

/** SLURM over the local transport whose sbatch is a wrapper that kills the submit shell. */
const killingLayer = (spooldir: string, wrapper: string) =>
  Layer.merge(
    Slurm.layer(config({ name: "once", spooldir, commands: { sbatch: wrapper } })).pipe(
      Layer.provide(LocalTransport.layer),
    ),
    Auth.none,
  )

test("the submit shell dies mid-way after sbatch queued the job silently: found by its tag", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const runs = `${dir}/runs`
    const layer = killingLayer(
      `${dir}/spool`,
      `sh -c 'sbatch "$@" >/dev/null; kill -9 "$PPID"' lrms-sbatch`,
    )
    yield* Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* counted(runs))
      ok(
        job.history.some((h) => h.message.includes("found by its tag")),
        job.history.at(-1)!.message,
      )
      const done = yield* waitFor(job)
      strictEqual(done.termination?.exitCode, 0)
      strictEqual(countLines(runs), 1)
      strictEqual(jobsUnder(`${dir}/spool`), 1)
    }).pipe(Effect.provide(layer))
  })))

test("the submit shell dies before sbatch ran: no job carries the tag, a definite refusal", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const err = yield* Effect.flip(Lrms.submitJob(yield* counted(`${dir}/runs`))).pipe(
      Effect.provide(killingLayer(`${dir}/spool`, `sh -c 'kill -9 "$PPID"' lrms-sbatch`)),
    )
    strictEqual(err.recoverable, true, err.message)
    ok(err.message.includes("nothing was submitted"), err.message)
    strictEqual(jobsUnder(`${dir}/spool`), 0)
  })))

test("a caller-chosen id is the tag: reconcile by tag alone finds the job from another layer", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-once-")
    const spool = `${dir}/spool`
    const application = yield* counted(`${dir}/runs`)
    const clean = () => Layer.merge(faultyLayer("once", spool, []), Auth.none)
    const job = yield* Lrms.submitJobWith(application, { id: "store-chosen-1" }).pipe(
      Effect.provide(clean()),
    )
    strictEqual(job.id, "store-chosen-1")
    ok(job.remoteDir?.endsWith("/job.store-chosen-1"), job.remoteDir)
    const again = yield* Lrms.reconcile({ tag: "store-chosen-1" }, application).pipe(
      Effect.provide(clean()),
    )
    strictEqual(again.nativeId, job.nativeId, "the same SLURM job, not a second one")
    const done = yield* waitFor(again).pipe(Effect.provide(clean()))
    strictEqual(done.termination?.exitCode, 0)
    strictEqual(countLines(`${dir}/runs`), 1)
    const bad = yield* Effect.flip(Lrms.submitJobWith(application, { id: "../x" })).pipe(
      Effect.provide(clean()),
    )
    strictEqual(bad.reason, "InvalidArgument")
  })))

Deno.test({
  name: "slurm exactly once: over SSH, the connection really drops right after sbatch: one job",
  ...sshTest,
  ...slurmTest,
  ignore: sshTest.ignore || slurmTest.ignore,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-once-ssh-")
      yield* Effect.sync(() => Deno.chmodSync(dir, 0o777))
      const runs = `${dir}/runs`
      const spool = `~/.effect-lrms-test/${dir.split("/").pop()}/spool`
      // sbatch, then kill the sshd process of this very connection: a real drop, mid-call
      const dropper = `sh -c 'sbatch "$@"; p=$PPID; while [ "$p" -gt 1 ]; do ` +
        `case "$(ps -o comm= -p "$p")" in sshd*) kill -9 "$p"; break;; esac; ` +
        `p=$(ps -o ppid= -p "$p" | tr -d " "); done' lrms-sbatch`
      const layer = Layer.merge(
        Slurm.layer(config({ name: "once-ssh", spooldir: spool, commands: { sbatch: dropper } }))
          .pipe(Layer.provide(transport())),
        keyAuth,
      )
      yield* Effect.gen(function* () {
        const job = yield* Lrms.submitJob(yield* counted(runs))
        strictEqual(job.state, "SUBMITTED")
        ok(
          job.history.some((h) => /reconciled|found by its tag/.test(h.message)),
          job.history.at(-1)!.message,
        )
        const done = yield* waitFor(job)
        strictEqual(done.termination?.exitCode, 0)
        strictEqual(countLines(runs), 1, "the job ran exactly once")
        strictEqual(jobsUnder(job.remoteDir!.replace(/\/job\.[^/]+$/, "")), 1)
        yield* Lrms.free(done)
      }).pipe(Effect.provide(layer))
    })),
})
