/**
 * Grid Engine, PBS and LSF settle a submission whose shell died after the submit command queued
 * the job silently, by asking the scheduler for the job whose working directory or output path
 * lies in the job directory: `qstat -j '*'` on the real Grid Engine cell, `qstat -f` / `bjobs -l`
 * on the scripted Torque and LSF of test/fake/ (real processes); and the tag readers on text.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Lsf from "../backends/lsf/Lsf.ts"
import * as LsfParse from "../backends/lsf/LsfParse.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as Sge from "../backends/sge/Sge.ts"
import * as SgeParse from "../backends/sge/SgeParse.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { countLines } from "./_faults.ts"
import { lsfConfig, pbsConfig } from "./_fake.ts"
import { config as sgeConfig, sgeTest } from "./_sge.ts"

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

Deno.test("lsf: bjobs -l output files give the tags of the jobs in job directories", () => {
  const text = [
    "Job <2073>, Job Name <a>, User <u>, Status <RUN>, Queue <normal>, Command <./.lrms/job.sh>",
    "Mon Aug  4 12:28:51 2014: Submitted from host <h>, CWD <$HOME/.effect-lrms/batch/job.9",
    "                          a-b>, Output File (overwrite) </home/u/.effect-lrms/batch/job.9",
    "                          a-b/.lrms/scheduler.out>;",
    "",
    "Job <2074>, Job Name <b>, User <u>, Status <RUN>, Queue <normal>, Command <x>",
    "Mon Aug  4 12:28:51 2014: Submitted from host <h>, CWD <$HOME>, Output File <o.txt>;",
  ].join("\n")
  deepStrictEqual([...LsfParse.parseTaggedJobs(text)], [["9a-b", "2073"]])
})

/** The scheduler's submit command wrapped so that, once it queued the job, it kills its shell. */
const killing = (commands: Readonly<Record<string, string | undefined>>, submit: string) => ({
  ...commands,
  [submit]: `sh -c '"$0" "$@" >/dev/null; kill -9 "$PPID"' ${commands[submit]}`,
})

Deno.test("sge: qstat -j cwd lines give the tags of the jobs in job directories", () => {
  const text = [
    "==============================================================",
    "job_number:                 253",
    "cwd:                        /tmp/x/spool/job.3c29d465-d707",
    "==============================================================",
    "job_number:                 254",
    "cwd:                        /tmp/sge-capture",
  ].join("\n")
  deepStrictEqual([...SgeParse.parseTaggedJobs(text)], [["3c29d465-d707", "253"]])
})

const layers = {
  sge: (spool: string) => {
    const c = sgeConfig({ spooldir: spool })
    return Sge.layer({ ...c, commands: killing({ qsub: "qsub" }, "qsub") })
  },
  pbs: (spool: string) => {
    const c = pbsConfig(spool)
    return Pbs.layer({ ...c, commands: killing(c.commands ?? {}, "qsub") })
  },
  lsf: (spool: string) => {
    const c = lsfConfig(spool)
    return Lsf.layer({ ...c, commands: killing(c.commands ?? {}, "bsub") })
  },
} as const

for (const [name, layerOf] of Object.entries(layers)) {
  Deno.test({
    name: `${name}${name === "sge" ? "" : "(scripted)"}: ` +
      "the submit shell dies after the job was queued silently: found by its tag",
    ...options,
    ...(name === "sge" ? sgeTest : {}),
    fn: () =>
      runTest(Effect.gen(function* () {
        const dir = yield* tempDir(`lrms-${name}-once-`)
        const layer = Layer.merge(
          layerOf(`${dir}/spool`).pipe(Layer.provide(LocalTransport.layer)),
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
}
