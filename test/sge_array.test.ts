/**
 * Grid Engine's array pieces on the test cell (test/services/sge-up.sh), over the local transport:
 * the submit argv the dialect builds for `spec.array`, then its stat, accounting, cancel and
 * find-by-tag commands run for real, each task keyed `<id>.<task>` with its own state, exit code
 * and scheduler output. (Packing applications into arrays is the batch flow's, tested in
 * test/arrays_real.test.ts.)
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import type { Dialect, StatRecord } from "../backends/batch/Dialect.ts"
import * as Sge from "../backends/sge/Sge.ts"
import * as Auth from "../src/Auth.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { Transport } from "../src/Transport.ts"
import { app, runTest, tempDir } from "./_effect.ts"
import { config, sgeTest } from "./_sge.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `sge arrays: ${name}`, ...sgeTest, fn })

const decode = Schema.decodeUnknownSync(Sge.SgeConfig)

/** Runs an argv on this host. */
const exec = (argv: ReadonlyArray<string>, cwd?: string) =>
  Effect.flatMap(Transport, (t) => t.exec(argv, cwd !== undefined ? { cwd } : {}))

/** What the dialect's stat command says about these ids now. */
const stat = (d: Dialect, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const reply = yield* exec(d.stat.argv(ids)!)
    const result = d.stat.parse(reply, ids)
    if (result._tag === "Failed") return yield* Effect.die(new Error(result.message))
    return result.jobs
  })

/** What the dialect's accounting says about one id (`undefined`: no record). */
const accounting = (d: Dialect, id: string) =>
  Effect.gen(function* () {
    const source = d.accounting[0]!
    const reply = yield* exec(source.argv([id])!)
    return reply.exitCode === 0 ? source.parse(reply, [id]).get(id) : undefined
  })

/** Polls the stat command until `done` holds of its answer (a defect after `seconds`). */
const statUntil = (
  d: Dialect,
  ids: ReadonlyArray<string>,
  done: (jobs: ReadonlyMap<string, StatRecord>) => boolean,
  what: string,
  seconds = 90,
) =>
  Effect.gen(function* () {
    for (let i = 0; i < seconds * 2; i++) {
      const jobs = yield* stat(d, ids)
      if (done(jobs)) return jobs
      yield* Effect.sleep("500 millis")
    }
    return yield* Effect.die(new Error(`timed out waiting for ${what}`))
  })

/** Polls accounting until it has the id's end. */
const accountedEnd = (d: Dialect, id: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 60; i++) {
      const record = yield* accounting(d, id)
      if (record?.state === "TERMINATING") return record
      yield* Effect.sleep("500 millis")
    }
    return yield* Effect.die(new Error(`qacct has no end for ${id}`))
  })

const layer = Layer.merge(LocalTransport.layer, Auth.none)

/** Task 1 exits 0, task 2 exits 3, every other task sleeps until cancelled. */
const SCRIPT = [
  "#!/bin/sh",
  'echo "task $SGE_TASK_ID of $JOB_ID"',
  'case "$SGE_TASK_ID" in',
  "  1) exit 0 ;;",
  "  2) exit 3 ;;",
  "  *) exec sleep 300 ;;",
  "esac",
  "",
].join("\n")

test("an array through the dialect's argv: each task keyed <id>.<task>, its own state and end", () =>
  runTest(
    Effect.gen(function* () {
      const dir = yield* tempDir("lrms-sge-array-")
      const jobDir = `${dir}/job.array-test-tag`
      const cfg = decode(config({ spooldir: `${dir}/spool` }))
      const d = Sge.dialect(cfg)
      const arrays = d.arrays!
      deepStrictEqual([arrays.indexVariable, arrays.firstIndex], ["SGE_TASK_ID", 1])
      yield* Effect.promise(() => Deno.mkdir(`${jobDir}/.lrms`, { recursive: true }))
      yield* Effect.promise(() => Deno.writeTextFile(`${jobDir}/.lrms/job.sh`, SCRIPT))
      const { argv } = d.submit({
        app: yield* app({ arguments: ["true"], jobname: "lrms-array" }),
        resource: Resource.make("sge", cfg),
        jobDir,
        scriptPath: `${jobDir}/.lrms/job.sh`,
        schedulerOutput: `${jobDir}/.lrms/scheduler.out`,
        schedulerError: `${jobDir}/.lrms/scheduler.err`,
        array: { size: 5, throttle: 2 },
      })
      ok(argv.join(" ").includes("-r n -t 1-5 -tc 2"), argv.join(" "))
      // submitted; deleted whole when the test ends, whatever happened
      const id = yield* Effect.acquireRelease(
        Effect.map(exec(argv, jobDir), (r) => {
          const parsed = d.parseJobId(r.stdout)
          ok(parsed !== undefined, `qsub said: ${r.stdout}${r.stderr}`)
          ok(r.stdout.startsWith(`Your job-array ${parsed}.1-5:1 `), r.stdout)
          return parsed!
        }),
        (id) => Effect.ignore(exec(["qdel", id])),
      )
      const ids = [1, 2, 3, 4, 5].map((i) => arrays.elementId(id, i))
      deepStrictEqual(ids, [1, 2, 3, 4, 5].map((i) => `${id}.${i}`))

      // found by its tag (the job directory's name) while it is in the queue
      const lister = d.findByTag!
      const tags = lister.parse(yield* exec(lister.argv("root")))
      ok(typeof tags !== "string", `${tags}`)
      strictEqual(tags.get("array-test-tag"), id)

      // tasks 1 and 2 end; the throttle runs 3 and 4; 5 waits (its range line expanded)
      const jobs = yield* statUntil(
        d,
        [id, ...ids],
        (j) =>
          !j.has(ids[0]!) && !j.has(ids[1]!) && j.get(ids[2]!)?.state === "RUNNING" &&
          j.get(ids[3]!)?.state === "RUNNING",
        "tasks 3 and 4 to run",
      )
      strictEqual(jobs.get(ids[4]!)?.state, "SUBMITTED")
      strictEqual(jobs.get(ids[4]!)?.native, "qw")
      strictEqual(jobs.get(id)?.state, "RUNNING", "the array, folded, runs")

      // the ended tasks, each from qacct -j <id> -t <task>
      deepStrictEqual((yield* accountedEnd(d, ids[0]!)).termination, Termination.exited(0))
      deepStrictEqual((yield* accountedEnd(d, ids[1]!)).termination, Termination.exited(3))
      // and each task's own scheduler output
      for (const t of [1, 2]) {
        const out = yield* Effect.promise(() =>
          Deno.readTextFile(`${jobDir}/.lrms/scheduler.out.${t}`)
        )
        strictEqual(out, `task ${t} of ${id}\n`)
      }

      // cancel a running task and the waiting one in one qdel; task 4 runs on
      const reply = yield* exec(d.cancel.argv([ids[2]!, ids[4]!])!)
      strictEqual(reply.exitCode, 0, reply.stdout + reply.stderr)
      const after = yield* statUntil(
        d,
        ids,
        (j) => !j.has(ids[2]!) && !j.has(ids[4]!),
        "the cancelled tasks to leave",
      )
      strictEqual(after.get(ids[3]!)?.state, "RUNNING")
      deepStrictEqual((yield* accountedEnd(d, ids[2]!)).termination, Termination.signalled(9))
      strictEqual(yield* accounting(d, ids[4]!), undefined, "a task cancelled waiting never ran")
      strictEqual(yield* accounting(d, ids[3]!), undefined, "task 4 has not ended")
    }).pipe(Effect.provide(layer)),
  ))

test("the largest array is the cell's max_aj_tasks (qconf -sconf), or maxArraySize", () =>
  runTest(
    Effect.gen(function* () {
      const d = Sge.dialect(decode(config({ spooldir: "/tmp/unused" })))
      const limit = d.arrays!.limit!
      strictEqual(limit.parse(yield* exec(limit.argv)), 75000)
      strictEqual(d.arrays!.maxSize, 75000)
      const fixed = Sge.dialect(decode(config({ spooldir: "/tmp/unused", maxArraySize: 500 })))
      strictEqual(fixed.arrays!.maxSize, 500)
      strictEqual(fixed.arrays!.limit, undefined)
    }).pipe(Effect.provide(layer)),
  ))
