/**
 * Job arrays end to end on the test SLURM and the test Grid Engine (PBS Pro, TORQUE and OpenLava
 * run the same checks from their own test files, through `checks`): jobs of one shape submitted
 * at once become one array, and each element is its own job to the end: its own exit code, its
 * own standard output, its own cancel. And the check: 300 applications submitted at once
 * to SLURM cost at most 3 `sbatch` calls.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Sge from "../backends/sge/Sge.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { arrayChecks } from "./_real_batch.ts"
import { config as sgeConfig, sge, sgeTest } from "./_sge.ts"
import { config as slurmConfig, slurm, slurmTest } from "./_slurm.ts"

arrayChecks({
  name: "slurm arrays",
  denoTest: slurmTest,
  makeLayer: (dir, transport) =>
    Slurm.layer(slurmConfig({ spooldir: `${dir}/spool` })).pipe(Layer.provide(transport)),
  transport: () => LocalTransport.layer,
  statCommand: "squeue",
  walltime: "1 minute",
  nodeCores: slurm?.cpus ?? 8,
})

arrayChecks({
  name: "sge arrays",
  denoTest: sgeTest,
  makeLayer: (dir, transport) =>
    Sge.layer(sgeConfig({ spooldir: `${dir}/spool` })).pipe(Layer.provide(transport)),
  transport: () => LocalTransport.layer,
  statCommand: "qstat",
  walltime: "5 seconds",
  nodeCores: sge?.slots ?? 8,
})

const sbatchCalls = Effect.map(
  Metric.snapshot,
  (pairs) =>
    pairs.reduce((n, p) =>
      p.metricKey.name === "lrms.commands" &&
        p.metricKey.tags.some((t) => t.key === "command" && t.value === "sbatch")
        ? n + (p.metricState as MetricState.MetricState.Counter<number>).count
        : n, 0),
)

Deno.test({
  name: "slurm: 300 applications at once cost at most 3 sbatch; each its own exit code and stdout",
  ...slurmTest,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-arrays-")
      const layer = Layer.merge(
        Slurm.layer(slurmConfig({ spooldir: `${dir}/spool` })).pipe(
          Layer.provide(LocalTransport.layer),
        ),
        Auth.none,
      )
      yield* Effect.gen(function* () {
        const apps = yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) =>
          app({
            arguments: ["sh", "-c", `echo "job ${i}"; exit ${i % 5}`],
            stdout: "out.txt",
          }))
        const before = yield* sbatchCalls
        const results = yield* Lrms.submitJobs(apps)
        const calls = (yield* sbatchCalls) - before
        ok(calls <= 3, `${calls} sbatch calls for 300 jobs`)
        const jobs = results.map((r) => Either.getOrThrow(r))
        const done = yield* Effect.forEach(jobs, (j) => waitFor(j, "400 seconds"), {
          concurrency: "unbounded",
        })
        const local = `${dir}/results`
        yield* Effect.promise(() => Deno.mkdir(local))
        for (const [i, job] of done.entries()) {
          strictEqual(job.termination?.exitCode, i % 5, `${job.nativeId}`)
          const into = `${local}/${i}`
          yield* Effect.promise(() => Deno.mkdir(into))
          yield* Lrms.getResults(job, into)
          strictEqual(
            yield* Effect.promise(() => Deno.readTextFile(`${into}/out.txt`)),
            `job ${i}\n`,
          )
        }
        yield* Effect.forEach(done, Lrms.free, { concurrency: 16, discard: true })
      }).pipe(Effect.provide(layer))
    })),
})
