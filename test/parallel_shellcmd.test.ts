/**
 * Parallel jobs on shellcmd (issue 14 §3, §5): real processes on the local host. `multiple` runs
 * N copies; `mpirun` (Debian's OpenMPI) starts N ranks, each exactly once; a 2 × 2 job gets
 * `OMP_NUM_THREADS=2` and reserves 4 cores; more than one node and `srun` are refused for good.
 *
 * OpenMPI refuses to run as root unless told (`--allow-run-as-root`): the resource's `mpirun`
 * command line carries it when the tests run as root, as a site would configure it. No
 * `--oversubscribe` is needed: the launcher gives OpenMPI this host with a slot per process
 * (`--host localhost:N`), the cores shellcmd reserved.
 */
import { deepStrictEqual, match, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { app, runFailure, runTest, tempDir, waitFor } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"

const root = Deno.uid() === 0

/** Whether `mpirun` (OpenMPI) is on PATH; the MPI tests are ignored, saying so, when it is not. */
const mpirun = (() => {
  try {
    const out = new Deno.Command("mpirun", { args: ["--version"], stdout: "piped", stderr: "null" })
      .outputSync()
    return new TextDecoder().decode(out.stdout).includes("Open MPI")
  } catch {
    return false
  }
})()
if (!mpirun) console.log("parallel_shellcmd: OpenMPI's mpirun is missing: its tests are ignored")

const layerFor = (dir: string, extra: Partial<Shellcmd.ShellcmdConfigInput> = {}) =>
  Layer.merge(
    Shellcmd.layer(localConfig(dir, 4, {
      launcherCommands: { mpirun: root ? "mpirun --allow-run-as-root" : "mpirun" },
      ...extra,
    })).pipe(Layer.provide(LocalTransport.layer)),
    Auth.none,
  )

const test = (name: string, fn: () => Promise<void>, ignore = false) =>
  Deno.test({
    name: `parallel shellcmd: ${name}`,
    ignore,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  })

/** Submits, waits, fetches the outputs into `dir/out`; the job and its stdout. */
const runJob = (dir: string, input: Application.ApplicationInput) =>
  Effect.gen(function* () {
    const done = yield* waitFor(yield* Lrms.submitJob(yield* app(input)), "60 seconds")
    const out = `${dir}/out-${done.id}`
    yield* Effect.sync(() => Deno.mkdirSync(out))
    yield* Lrms.getResults(done, out)
    const stdout = yield* Effect.sync(() => Deno.readTextFileSync(`${out}/out.txt`))
    yield* Lrms.free(done)
    return { job: done as Job.Job, stdout }
  })

const lines = (text: string) => text.split("\n").filter((l) => l !== "").sort()

test("multiple: 3 processes print 3 lines, one per copy", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-par-")
    const { job, stdout } = yield* runJob(dir, {
      arguments: ["sh", "-c", 'echo "copy $LRMS_RANK of $LRMS_SIZE"'],
      processes: 3,
      launcher: "multiple",
      stdout: "out.txt",
    }).pipe(Effect.provide(layerFor(dir)))
    strictEqual(job.termination?.exitCode, 0)
    deepStrictEqual(lines(stdout), ["copy 0 of 3", "copy 1 of 3", "copy 2 of 3"])
  })))

test(
  "mpirun -np 4: ranks 0-3, each exactly once, the arguments byte for byte",
  () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-par-")
      const weird = 'it\'s "$HOME" `date` *'
      const { job, stdout } = yield* runJob(dir, {
        arguments: [
          "sh",
          "-c",
          'echo "rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE|$1"',
          "sh",
          weird,
        ],
        processes: 4,
        launcher: "mpirun",
        stdout: "out.txt",
      }).pipe(Effect.provide(layerFor(dir)))
      strictEqual(job.termination?.exitCode, 0, stdout)
      deepStrictEqual(lines(stdout), [0, 1, 2, 3].map((r) => `rank ${r} of 4|${weird}`))
      strictEqual(job.usage?.cores, 4)
    })),
  !mpirun,
)

/** Whether `mpicc` is there to compile a real MPI program. */
const mpicc = mpirun && (() => {
  try {
    return new Deno.Command("mpicc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success
  } catch {
    return false
  }
})()

const helloMpi = `#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  printf("rank %d of %d: %s\\n", rank, size, argc > 1 ? argv[1] : "");
  MPI_Finalize();
  return 0;
}
`

test(
  "a real MPI program (mpicc): MPI_Comm_rank gives 0-3 once each",
  () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-par-")
      yield* Effect.sync(() => {
        Deno.writeTextFileSync(`${dir}/hello.c`, helloMpi)
        const cc = new Deno.Command("mpicc", { args: ["-o", `${dir}/hello`, `${dir}/hello.c`] })
          .outputSync()
        strictEqual(cc.code, 0, new TextDecoder().decode(cc.stderr))
      })
      const { job, stdout } = yield* runJob(dir, {
        arguments: ["./hello", "a 'b' $c"],
        inputs: [`${dir}/hello`],
        processes: 4,
        launcher: "mpirun",
        stdout: "out.txt",
      }).pipe(Effect.provide(layerFor(dir)))
      strictEqual(job.termination?.exitCode, 0, stdout)
      deepStrictEqual(lines(stdout), [0, 1, 2, 3].map((r) => `rank ${r} of 4: a 'b' $c`))
    })),
  !mpicc,
)

test(
  "mpirun from the resource's default launcher; a failing rank fails the job",
  () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-par-")
      const { job } = yield* runJob(dir, {
        arguments: ["sh", "-c", '[ "$OMPI_COMM_WORLD_RANK" != 1 ] || exit 3'],
        processes: 2,
        stdout: "out.txt",
      }).pipe(Effect.provide(layerFor(dir, { launcher: "mpirun" })))
      strictEqual(job.termination?.exitCode, 3)
    })),
  !mpirun,
)

test("a 2-process × 2-core job gets OMP_NUM_THREADS=2 and reserves 4 cores", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-par-")
    yield* Effect.gen(function* () {
      const before = yield* Lrms.getResourceStatus
      const job = yield* Lrms.submitJob(
        yield* app({
          arguments: ["sh", "-c", 'echo "$LRMS_RANK $OMP_NUM_THREADS"; sleep 2'],
          processes: 2,
          coresPerProcess: 2,
          launcher: "multiple",
          stdout: "out.txt",
        }),
      )
      const during = yield* Lrms.getResourceStatus
      strictEqual(before.freeSlots - during.freeSlots, 4, "processes × cores reserved")
      const done = yield* waitFor(job, "60 seconds")
      const out = `${dir}/out`
      yield* Effect.sync(() => Deno.mkdirSync(out))
      yield* Lrms.getResults(done, out)
      deepStrictEqual(lines(Deno.readTextFileSync(`${out}/out.txt`)), ["0 2", "1 2"])
      yield* Lrms.free(done)
    }).pipe(Effect.provide(layerFor(dir)))
  })))

test("mpirun: a 2 × 2 job's ranks see OMP_NUM_THREADS=2", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-par-")
    const { stdout } = yield* runJob(dir, {
      arguments: ["sh", "-c", 'echo "$OMPI_COMM_WORLD_RANK $OMP_NUM_THREADS"'],
      processes: 2,
      coresPerProcess: 2,
      launcher: "mpirun",
      stdout: "out.txt",
    }).pipe(Effect.provide(layerFor(dir)))
    deepStrictEqual(lines(stdout), ["0 2", "1 2"])
  })), !mpirun)

test("2 nodes are refused, for good, before anything runs", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-par-" })
  try {
    const e = await runFailure(
      Effect.gen(function* () {
        return yield* Lrms.submitJob(yield* app({ arguments: ["true"], nodes: 2 }))
      }).pipe(Effect.provide(layerFor(dir))),
    )
    strictEqual(e.reason, "SubmitRejected")
    strictEqual(e.recoverable, false)
    match(e.message, /nodes: 2 nodes requested, resource local-test \(shellcmd\) runs each job/)
    const spool = `${dir}/spool`
    const left = (() => {
      try {
        return [...Deno.readDirSync(spool)].length
      } catch {
        return 0
      }
    })()
    strictEqual(left, 0, "no job directory is made")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

test("srun is refused (no SLURM allocation); a config asking for it or for nodes is an error", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-par-" })
  try {
    const e = await runFailure(
      Effect.gen(function* () {
        return yield* Lrms.submitJob(yield* app({ arguments: ["true"], launcher: "srun" }))
      }).pipe(Effect.provide(layerFor(dir))),
    )
    strictEqual(e.reason, "SubmitRejected")
    strictEqual(e.recoverable, false)
    match(e.message, /launcher: srun starts processes only inside a SLURM allocation/)
    for (
      const [extra, pattern] of [
        [{ launcher: "srun" }, /launcher: srun needs a SLURM allocation/],
        [{ maxNodesPerJob: 2 }, /maxNodesPerJob: 2 given, but shellcmd runs each job on one host/],
      ] as const
    ) {
      const c = await runFailure(
        Lrms.getResourceStatus.pipe(Effect.provide(layerFor(dir, extra))),
      )
      strictEqual(c.reason, "ConfigurationError")
      match(c.message, pattern)
    }
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

test("the resource says it runs each job on one node", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-par-")
    const lrms = yield* Lrms.Lrms.pipe(Effect.provide(layerFor(dir)))
    strictEqual(lrms.resource.maxNodesPerJob, 1)
  })))
