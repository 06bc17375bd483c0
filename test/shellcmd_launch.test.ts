/**
 * shellcmd's launch whose outcome is lost: the launch command ran (or did not) and its reply
 * never came. With real processes over the local transport, wrapped to lose the launch's reply
 * (after running it, or before) and, optionally, every call after it. A job that may be running
 * is never forgotten: it is found and returned, provably refused, or reported as
 * `SubmitOutcomeUnknown` with its directory and reservation kept for `reconcile`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Wrapper from "../backends/shellcmd/Wrapper.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { isAmbiguous, LrmsError } from "../src/LrmsError.ts"
import { Transport, type TransportShape } from "../src/Transport.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `shellcmd launch: ${name}`, sanitizeOps: false, sanitizeResources: false, fn })

/** How the next launch fails: its reply lost after it ran, or before it was sent. */
type Fault = "lostReply" | "notSent"

interface Faults {
  /** The fault for the next launch command, used once. */
  next: Fault | undefined
  /** Whether the host is unreachable after the faulted launch, until a test clears it. */
  downAfter: boolean
  /** Whether every call fails now, with `ConnectionLost`. */
  down: boolean
  /** How many launch commands reached the host. */
  launched: number
  /** When set, the host becomes unreachable just before the `mkdir` of a path ending so. */
  downAtMkdir?: string | undefined
  /** When set, the next `writeFile` of a path ending so fails (once), not reaching the host. */
  failWriteOf?: string | undefined
}

const lost = (operation: string) =>
  new LrmsError({
    reason: "ConnectionLost",
    backend: "faulty",
    operation,
    description: "the connection dropped",
  })

/** Wraps a transport: a launch command (`lrms-launch`) fails as `faults.next` says. */
const faulty = (inner: TransportShape, faults: Faults): TransportShape => {
  const guard = <A, E, R>(operation: string, call: () => Effect.Effect<A, E, R>) =>
    Effect.suspend((): Effect.Effect<A, E | LrmsError, R> =>
      faults.down ? Effect.fail(lost(operation)) : call()
    )
  const mkdir: TransportShape["mkdir"] = (path, options) =>
    Effect.suspend(() => {
      if (faults.downAtMkdir !== undefined && path.endsWith(faults.downAtMkdir)) faults.down = true
      return guard("mkdir", () => inner.mkdir(path, options))
    })
  const wrapped = Object.fromEntries(
    Object.entries(inner).map(([key, value]) => [
      key,
      typeof value === "function"
        ? (...args: Array<unknown>) => guard(key, () => value(...args))
        : value,
    ]),
  ) as unknown as TransportShape
  const writeFile: TransportShape["writeFile"] = (path, data, options) =>
    Effect.suspend(() => {
      if (faults.failWriteOf !== undefined && path.endsWith(faults.failWriteOf)) {
        faults.failWriteOf = undefined
        return Effect.fail(lost("writeFile"))
      }
      return guard("writeFile", () => inner.writeFile(path, data, options))
    })
  return {
    ...wrapped,
    homeDirectory: guard("homeDirectory", () => inner.homeDirectory),
    mkdir,
    writeFile,
    exec: (argv, options) =>
      guard("exec", () => {
        if (argv[3] !== "lrms-launch") return inner.exec(argv, options)
        const fault = faults.next
        faults.next = undefined
        const ran = Effect.tap(
          inner.exec(argv, options),
          () => Effect.sync(() => faults.launched++),
        )
        if (fault === undefined) return ran
        const faulted = fault === "notSent" ? Effect.void : ran
        return faulted.pipe(
          Effect.zipRight(Effect.sync(() => {
            if (faults.downAfter) faults.down = true
          })),
          Effect.zipRight(Effect.fail(lost("exec"))),
        )
      }),
  }
}

const setup = (maxCores = 2) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-launch-")
    const faults: Faults = { next: undefined, downAfter: false, down: false, launched: 0 }
    const transport = Layer.effect(
      Transport,
      Effect.map(LocalTransport.make, (inner) => faulty(inner, faults)),
    ).pipe(Layer.provide(NodeContext.layer))
    const layer = Shellcmd.layer(localConfig(dir, maxCores, { name: "launch-test" })).pipe(
      Layer.provide(transport),
    )
    const context = yield* Layer.build(Layer.merge(layer, Auth.none))
    const counter = `${dir}/runs.txt`
    // the job: one line per run
    const job = yield* app({ arguments: ["sh", "-c", 'echo run >>"$1"', "sh", counter] })
    const runs = () => {
      try {
        return Deno.readTextFileSync(counter).split("\n").filter((l) => l !== "").length
      } catch {
        return 0
      }
    }
    const ls = (path: string) => {
      try {
        return [...Deno.readDirSync(path)].map((e) => e.name).sort()
      } catch {
        return []
      }
    }
    return {
      dir,
      faults,
      job,
      runs,
      jobDirs: () => ls(`${dir}/spool`),
      /** The reservations that hold capacity. */
      records: () => Bookkeeping.active(ls(`${dir}/bookkeeping`)),
      /** The jobs that have a bookkeeping record, holding capacity or done. */
      recorded: () =>
        ls(`${dir}/bookkeeping`).flatMap((n) => Bookkeeping.parseEntryName(n)?.jobId ?? []),
      run: <A, E>(effect: Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>) =>
        Effect.provide(effect, context),
      maxCores,
    }
  })

test("the reply of a launch that ran is lost: the job is found, and runs exactly once", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    t.faults.next = "lostReply"
    const job = yield* t.run(Lrms.submitJob(t.job))
    strictEqual(t.faults.launched, 1)
    strictEqual(job.state, "SUBMITTED")
    ok(job.history.at(-1)!.message.includes("found running"), job.history.at(-1)!.message)
    const started = Deno.readTextFileSync(
      `${job.remoteDir}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.started}`,
    ).trim()
    strictEqual(job.nativeId, started, "the wrapper's own pid")
    strictEqual(job.remoteDir, `${t.dir}/spool/job.${job.id}`)
    strictEqual(typeof job.backendData.submittedAt, "number")
    strictEqual(typeof job.backendData.gnuTime, "boolean")
    const done = yield* t.run(waitFor(job))
    strictEqual(done.termination?.exitCode, 0)
    yield* Effect.sleep("300 millis")
    strictEqual(t.runs(), 1, "the job ran once")
    yield* t.run(Lrms.free(done))
    deepStrictEqual(t.records(), [])
    deepStrictEqual(t.jobDirs(), [])
  })))

test("a launch that never reached the host is refused, recoverably, leaving nothing", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    t.faults.next = "notSent"
    const e = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    strictEqual(e.reason, "ConnectionLost")
    strictEqual(e.recoverable, true)
    strictEqual(isAmbiguous(e), false)
    ok(e.message.includes("nothing was submitted"), e.message)
    strictEqual(t.faults.launched, 0)
    deepStrictEqual(t.jobDirs(), [], "no job directory is left")
    deepStrictEqual(t.records(), [], "no reservation is left")
    const status = yield* t.run(Lrms.getResourceStatus)
    strictEqual(status.freeSlots, t.maxCores, "no capacity leaked")
    yield* Effect.sleep("300 millis")
    strictEqual(t.runs(), 0)
    // and the resource works on
    const next = yield* t.run(Lrms.submitJob(t.job))
    yield* t.run(waitFor(next))
    strictEqual(t.runs(), 1)
  })))

test("the host goes away before the launch and stays away: a definite refusal that carries what it could not release; reconcile releases it", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    t.faults.downAtMkdir = `/${Wrapper.Files.launch}`
    const e = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    strictEqual(e.reason, "ConnectionLost")
    strictEqual(isAmbiguous(e), false, "never launched: not ambiguous")
    ok(e.message.includes("could not be released"), e.message)
    ok(e.submission !== undefined, "the refusal carries its submission")
    strictEqual(t.faults.launched, 0)
    strictEqual(t.records().length, 1, "the reservation is still held")
    // the host is back: the same error's submission releases everything
    t.faults.down = false
    t.faults.downAtMkdir = undefined
    const held = yield* t.run(Lrms.getResourceStatus)
    strictEqual(held.freeSlots, t.maxCores - 1)
    const r = yield* Effect.flip(t.run(Lrms.reconcile(e.submission, t.job)))
    strictEqual(r.reason, "NotFound")
    ok(r.message.includes("never launched"), r.message)
    deepStrictEqual(t.jobDirs(), [], "no job directory is left")
    deepStrictEqual(t.records(), [], "no reservation is left")
    const status = yield* t.run(Lrms.getResourceStatus)
    strictEqual(status.freeSlots, t.maxCores, "no capacity leaked")
    yield* Effect.sleep("300 millis")
    strictEqual(t.runs(), 0, "the job never ran")
  })))

test("one reservation write of a batch fails: that job alone is refused, the other runs, no record is left", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    t.faults.failWriteOf = ".job"
    const [a, b] = yield* Effect.all(
      [Effect.either(t.run(Lrms.submitJob(t.job))), Effect.either(t.run(Lrms.submitJob(t.job)))],
      { concurrency: 2 },
    )
    const refused = [a, b].filter((r) => r._tag === "Left")
    const jobs = [a, b].flatMap((r) => r._tag === "Right" ? [r.right] : [])
    strictEqual(refused.length, 1, "only the job whose record failed is refused")
    strictEqual(jobs.length, 1)
    strictEqual(refused[0]!._tag === "Left" && refused[0]!.left.submission, undefined)
    // (the submitted job may have ended and released its own by now)
    ok(t.records().length <= 1, "only the submitted job holds capacity")
    const done = yield* t.run(waitFor(jobs[0]!))
    yield* t.run(Lrms.free(done))
    deepStrictEqual(t.records(), [], "no reservation is left")
    const status = yield* t.run(Lrms.getResourceStatus)
    strictEqual(status.freeSlots, t.maxCores, "no capacity leaked")
    strictEqual(t.runs(), 1)
  })))

test("the host stays unreachable after a launch that ran: SubmitOutcomeUnknown keeps everything, reconcile attaches it", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    t.faults.next = "lostReply"
    t.faults.downAfter = true
    const e = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    strictEqual(e.reason, "SubmitOutcomeUnknown")
    strictEqual(e.recoverable, false)
    strictEqual(isAmbiguous(e), true)
    const submission = e.submission!
    ok(submission !== undefined, "the error carries the submission")
    strictEqual(submission.jobDir, `${t.dir}/spool/job.${submission.tag}`)
    deepStrictEqual(t.jobDirs(), [`job.${submission.tag}`], "the directory is kept")
    // (the job may have ended by now: its wrapper marked the record done)
    deepStrictEqual(t.recorded(), [submission.tag], "the reservation is kept")
    // the job did run on the far side
    for (let i = 0; i < 100 && t.runs() === 0; i++) yield* Effect.sleep("20 millis")
    strictEqual(t.runs(), 1)
    // reconciling while the host is still down is still unknown, and keeps everything
    const again = yield* Effect.flip(t.run(Lrms.reconcile(submission, t.job)))
    strictEqual(again.reason, "SubmitOutcomeUnknown")
    deepStrictEqual(again.submission, submission)
    deepStrictEqual(t.jobDirs(), [`job.${submission.tag}`])
    // the host is back: a later call attaches the job
    t.faults.down = false
    const job = yield* t.run(Lrms.reconcile(submission, t.job))
    strictEqual(job.id, submission.tag)
    strictEqual(job.state, "SUBMITTED")
    strictEqual(job.remoteDir, submission.jobDir)
    strictEqual(
      job.nativeId,
      Deno.readTextFileSync(`${submission.jobDir}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.started}`)
        .trim(),
    )
    const done = yield* t.run(waitFor(job))
    strictEqual(done.termination?.exitCode, 0)
    strictEqual(t.runs(), 1, "the job ran exactly once")
    strictEqual(t.faults.launched, 1)
    yield* t.run(Lrms.free(done))
    deepStrictEqual(t.records(), [])
  })))

test("the host stays unreachable after a launch that was not sent: unknown, then refused by reconcile", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup(1)
    t.faults.next = "notSent"
    t.faults.downAfter = true
    const e = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    strictEqual(e.reason, "SubmitOutcomeUnknown")
    const submission = e.submission!
    deepStrictEqual(t.jobDirs(), [`job.${submission.tag}`], "the directory is kept")
    deepStrictEqual(t.records().map((r) => r.jobId), [submission.tag], "the reservation is kept")
    t.faults.down = false
    // the reservation still holds the only core
    const full = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    strictEqual(full.reason, "MaximumCapacityReached")
    const refused = yield* Effect.flip(t.run(Lrms.reconcile(submission, t.job)))
    strictEqual(refused.reason, "NotFound")
    ok(refused.message.includes("never started"), refused.message)
    deepStrictEqual(t.jobDirs(), [])
    deepStrictEqual(t.records(), [])
    strictEqual((yield* t.run(Lrms.getResourceStatus)).freeSlots, 1)
    strictEqual(t.runs(), 0)
    // asked again: there is nothing to attach
    const gone = yield* Effect.flip(t.run(Lrms.reconcile(submission, t.job)))
    strictEqual(gone.reason, "NotFound")
  })))

test("a reservation whose submitter vanished is released only once its launch is refused; a late launch then runs nothing", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup(1)
    t.faults.next = "notSent"
    t.faults.downAfter = true
    const e = yield* Effect.flip(t.run(Lrms.submitJob(t.job)))
    const submission = e.submission!
    t.faults.down = false
    const priv = `${submission.jobDir}/${Wrapper.PRIVATE_DIR}`
    const wrapper = Deno.readTextFileSync(`${priv}/${Wrapper.Files.wrapper}`)
    // a fresh reservation is not collected
    strictEqual((yield* t.run(Lrms.getResourceStatus)).freeSlots, 0)
    // its submitter stopped refreshing it long ago
    const record = t.records()[0]!
    const old = new Date(Date.now() - 120_000)
    Deno.utimeSync(`${t.dir}/bookkeeping/${record.file}`, old, old)
    strictEqual((yield* t.run(Lrms.getResourceStatus)).freeSlots, 1, "collected")
    deepStrictEqual(Deno.readDirSync(priv).find((e) => e.name === Wrapper.Files.launch), undefined)
    ok(Deno.statSync(`${priv}/${Wrapper.Files.refused}`).isDirectory, "its launch was refused")
    // the lost launch arrives now: the wrapper runs nothing
    const late = yield* Effect.promise(() =>
      new Deno.Command("/bin/sh", { args: ["-c", wrapper] }).output()
    )
    strictEqual(late.code, 0)
    yield* Effect.sleep("200 millis")
    strictEqual(t.runs(), 0)
    const refused = yield* Effect.flip(t.run(Lrms.reconcile(submission, t.job)))
    strictEqual(refused.reason, "NotFound")
    deepStrictEqual(t.jobDirs(), [])
  })))

test("reconcile refuses what is not a job directory, and touches nothing", () =>
  runTest(Effect.gen(function* () {
    const t = yield* setup()
    const precious = `${t.dir}/precious`
    Deno.mkdirSync(`${precious}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.refused}`, {
      recursive: true,
    })
    const e = yield* Effect.flip(
      t.run(Lrms.reconcile({ tag: "0b6f1c2e", jobDir: precious }, t.job)),
    )
    strictEqual(e.reason, "InvalidArgument")
    ok(Deno.statSync(precious).isDirectory)
    // a job directory whose token carries another job's tag
    const other = `${t.dir}/spool/job.aaaa`
    Deno.mkdirSync(`${other}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.refused}`, { recursive: true })
    Deno.writeTextFileSync(`${other}/${Wrapper.PRIVATE_DIR}/${Wrapper.Files.refused}/tag`, "bbbb")
    const wrong = yield* Effect.flip(t.run(Lrms.reconcile({ tag: "aaaa", jobDir: other }, t.job)))
    strictEqual(wrong.reason, "InvalidArgument")
    ok(Deno.statSync(other).isDirectory)
  })))
