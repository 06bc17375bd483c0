/**
 * PBS settles a submission whose shell died after `qsub` queued the job silently, by asking
 * `qstat -f` for the job whose output path lies in the job directory (the scripted Torque of
 * test/fake/, real processes); and the tag reader on `qstat -f` text.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { countLines } from "./_faults.ts"
import { pbsConfig } from "./_fake.ts"

const options = { sanitizeOps: false, sanitizeResources: false } as const

Deno.test("pbs: qstat -f output paths give the tags of the jobs in job directories", () => {
  const text = [
    "Job Id: 12.head",
    "    Job_Name = a",
    "    Output_Path = head:/home/u/.effect-lrms/batch/job.1f2e-3d/.lrms/scheduler.o",
    "    ut",
    "Job Id: 13.head",
    "    Output_Path = head:/home/u/elsewhere/out.o13",
    "",
  ].join("\n")
  deepStrictEqual([...PbsParse.parseTaggedJobs(text)], [["1f2e-3d", "12.head"]])
  deepStrictEqual(PbsParse.qstatAllFullArgv("pbspro"), ["qstat", "-x", "-f"])
})

Deno.test({
  name: "pbs(scripted): the submit shell dies after qsub queued the job silently: found by its tag",
  ...options,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-pbs-once-")
      const base = pbsConfig(`${dir}/spool`)
      const qsub = base.commands!.qsub!
      const layer = Layer.merge(
        Pbs.layer({
          ...base,
          commands: {
            ...base.commands,
            qsub: `sh -c '"$0" "$@" >/dev/null; kill -9 "$PPID"' ${qsub}`,
          },
        }).pipe(Layer.provide(LocalTransport.layer)),
        Auth.none,
      )
      yield* Effect.gen(function* () {
        const job = yield* Lrms.submitJob(
          yield* app({ arguments: ["sh", "-c", `echo ran >> '${dir}/runs'`] }),
        )
        ok(
          job.history.some((h) => h.message.includes("found by its tag")),
          job.history.at(-1)!.message,
        )
        const done = yield* waitFor(job)
        strictEqual(done.termination?.exitCode, 0)
        strictEqual(countLines(`${dir}/runs`), 1, "the job ran exactly once")
      }).pipe(Effect.provide(layer))
    })),
})
