/**
 * Parallel jobs on the real SLURM of test/services/slurm-up.sh (one node, 8 CPUs declared, 4
 * GPUs that count but do not exist), through the public API over the local transport: ranks
 * started by `srun` and by `mpirun` (OpenMPI), each exactly once; the cores in the usage;
 * `OMP_NUM_THREADS` for a hybrid job; GPUs per process reaching the scheduler and coming back as
 * allocated GPUs; a 2-node job refused by sbatch itself (`EnforcePartLimits=ALL`).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Termination from "../src/Termination.ts"
import { app, runFailure, runTest, tempDir, waitFor } from "./_effect.ts"
import { config, slurm, slurmTest } from "./_slurm.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `slurm parallel: ${name}`, ...slurmTest, fn })

const gpuTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({
    name: `slurm parallel: ${name}`,
    ...slurmTest,
    ...(slurm !== undefined && slurm.gpus === 0
      ? { ignore: true, name: `slurm parallel: ${name} (the test SLURM declares no GPUs)` }
      : {}),
    fn,
  })

/** A SLURM layer with its own spool; the tests run as root: OpenMPI must be told it may. */
const withSlurm = <A, E>(body: Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-slurm-par-")
    const layer = Slurm.layer(config({
      spooldir: `${dir}/spool`,
      queueStatInterval: "1 second",
      launcherCommands: { mpirun: "mpirun --allow-run-as-root" },
    })).pipe(Layer.provide(LocalTransport.layer), Layer.merge(Auth.none))
    return yield* body.pipe(Effect.provide(layer))
  })

/** The lines of a file the job wrote in its directory, sorted. */
const linesOf = (remoteDir: string | undefined, name: string) => {
  ok(remoteDir !== undefined, "the job has a directory")
  return Deno.readTextFileSync(`${remoteDir}/${name}`).split("\n").filter((l) => l !== "").sort()
}

const ranks = (n: number, prefix = "rank") => Array.from({ length: n }, (_, i) => `${prefix} ${i}`)

test("4 ranks through srun: ranks 0-3, each once; the usage shows the 4 cores", () =>
  runTest(withSlurm(Effect.gen(function* () {
    const job = yield* Lrms.submitJob(
      yield* app({
        arguments: ["sh", "-c", 'echo "rank $SLURM_PROCID"'],
        stdout: "out.txt",
        processes: 4,
        launcher: "srun",
      }),
    )
    const done = yield* waitFor(job)
    deepStrictEqual(done.termination, Termination.exited(0))
    deepStrictEqual(linesOf(done.remoteDir, "out.txt"), ranks(4))
    strictEqual(done.usage?.cores, 4)
    yield* Lrms.free(done)
  }))))

test("4 ranks through mpirun (OpenMPI): ranks 0-3, each once", () =>
  runTest(withSlurm(Effect.gen(function* () {
    const job = yield* Lrms.submitJob(
      yield* app({
        arguments: ["sh", "-c", 'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"'],
        stdout: "out.txt",
        stderr: "err.txt",
        processes: 4,
        launcher: "mpirun",
      }),
    )
    const done = yield* waitFor(job)
    const err = Deno.readTextFileSync(`${done.remoteDir}/err.txt`)
    deepStrictEqual(done.termination, Termination.exited(0), err)
    deepStrictEqual(linesOf(done.remoteDir, "out.txt"), ranks(4).map((r) => `${r} of 4`))
    strictEqual(done.usage?.cores, 4)
    yield* Lrms.free(done)
  }))))

test("2 processes × 2 cores: OMP_NUM_THREADS=2 in each rank, 4 cores", () =>
  runTest(withSlurm(Effect.gen(function* () {
    const job = yield* Lrms.submitJob(
      yield* app({
        arguments: ["sh", "-c", 'echo "rank $SLURM_PROCID threads $OMP_NUM_THREADS"'],
        stdout: "out.txt",
        processes: 2,
        coresPerProcess: 2,
        launcher: "srun",
      }),
    )
    const done = yield* waitFor(job)
    deepStrictEqual(done.termination, Termination.exited(0))
    deepStrictEqual(linesOf(done.remoteDir, "out.txt"), ["rank 0 threads 2", "rank 1 threads 2"])
    strictEqual(done.usage?.cores, 4)
    yield* Lrms.free(done)
  }))))

test("2 nodes on the 1-node cluster: SubmitRejected by sbatch, not recoverable", async () => {
  const e = await runFailure(withSlurm(Effect.gen(function* () {
    return yield* Lrms.submitJob(
      yield* app({ arguments: ["true"], nodes: 2, processes: 2, launcher: "srun" }),
    )
  })))
  strictEqual(e.reason, "SubmitRejected", e.message)
  strictEqual(e.recoverable, false, e.message)
  ok(e.message.includes("Node count specification invalid"), e.message)
})

gpuTest(
  "gpusPerProcess reaches SLURM (--gpus-per-task) and comes back as allocated GPUs",
  () =>
    runTest(withSlurm(Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* app({
          arguments: ["sh", "-c", 'echo "rank $SLURM_PROCID gpu $CUDA_VISIBLE_DEVICES"'],
          stdout: "out.txt",
          processes: 2,
          gpusPerProcess: 1,
          launcher: "srun",
        }),
      )
      const done = yield* waitFor(job)
      deepStrictEqual(done.termination, Termination.exited(0))
      // SLURM gave each rank its own GPU (the stand-in devices 0 and 1)
      const lines = linesOf(done.remoteDir, "out.txt")
      deepStrictEqual(lines.map((l) => l.replace(/gpu \d+$/, "gpu N")), [
        "rank 0 gpu N",
        "rank 1 gpu N",
      ])
      strictEqual(new Set(lines.map((l) => l.split(" ").at(-1))).size, 2, lines.join("; "))
      strictEqual(done.usage?.gpus, 2, "AllocTRES gres/gpu=2")
      yield* Lrms.free(done)
    }))),
)

gpuTest("more GPUs per node than the node has: SubmitRejected by sbatch", async () => {
  const e = await runFailure(withSlurm(Effect.gen(function* () {
    return yield* Lrms.submitJob(
      yield* app({
        arguments: ["true"],
        processes: 2,
        gpusPerProcess: (slurm?.gpus ?? 4) + 1,
        launcher: "srun",
      }),
    )
  })))
  strictEqual(e.reason, "SubmitRejected", e.message)
  strictEqual(e.recoverable, false, e.message)
})
