/**
 * Parallel jobs on the test Grid Engine (test/services/sge-up.sh), through the public API over the
 * local transport: `processes × coresPerProcess` slots in the `smp` parallel environment, ranks
 * started by `mpirun` (OpenMPI, reading the hosts from `PE_HOSTFILE`), and the shapes the cell
 * cannot run refused with the field named: before `qsub` when the configuration cannot express
 * them, by `qsub -w e` when the cell cannot run them.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Sge from "../backends/sge/Sge.ts"
import * as SgeParse from "../backends/sge/SgeParse.ts"
import * as Auth from "../src/Auth.ts"
import type { ApplicationInput } from "../src/Application.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Resource from "../src/Resource.ts"
import * as Termination from "../src/Termination.ts"
import { app, runTest, tempDir, waitFor } from "./_effect.ts"
import { config, sge, sgeTest } from "./_sge.ts"

/** OpenMPI's mpirun, if installed (found on PATH). */
const mpirun = (() => {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/mpirun`).isFile) return `${dir}/mpirun`
    } catch {
      // not in this directory
    }
  }
  return undefined
})()

/**
 * A test on the cell; `missing` says what it needs that this machine lacks (the test is then
 * ignored, saying so).
 */
const test = (name: string, fn: () => Promise<void>, missing?: string | false) =>
  Deno.test({
    name: `sge parallel: ${name}`,
    ...sgeTest,
    ...(sge !== undefined && typeof missing === "string"
      ? { ignore: true, name: `sge parallel: ${name} (ignored: ${missing})` }
      : {}),
    fn,
  })

const noMpi = mpirun === undefined && "no mpirun on PATH"

/** Every rank prints one line: its rank, the world's size, its OMP_NUM_THREADS. */
const RANK_LINE = 'echo "rank=$OMPI_COMM_WORLD_RANK size=$OMPI_COMM_WORLD_SIZE ' +
  'omp=$OMP_NUM_THREADS slots=$NSLOTS pe=$PE"'

/** Runs an application on the test cell to its end; returns the job and its standard output. */
const runOnSge = (
  input: ApplicationInput,
  extra: Omit<Partial<Sge.SgeConfigInput>, "spooldir"> = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-sge-par-")
    const layer = Sge.layer(config({
      spooldir: `${dir}/spool`,
      // the tests run as root here, which OpenMPI refuses unless told
      launcherCommands: { mpirun: Deno.uid() === 0 ? "mpirun --allow-run-as-root" : "mpirun" },
      ...extra,
    })).pipe(Layer.provide(LocalTransport.layer), Layer.merge(Auth.none))
    return yield* Effect.gen(function* () {
      const done = yield* waitFor(yield* Lrms.submitJob(yield* app(input)))
      yield* Lrms.getResults(done, dir, { overwrite: true })
      const out = yield* Effect.promise(() => Deno.readTextFile(`${dir}/out`).catch(() => ""))
      yield* Lrms.free(done)
      return { done, out }
    }).pipe(Effect.provide(layer))
  })

/** What qacct says about a job, once it has the job's record. */
const qacctOf = (id: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 40; i++) {
      const r = yield* Effect.promise(() =>
        new Deno.Command("qacct", { args: ["-j", id], stdout: "piped", stderr: "null" }).output()
      )
      const record = SgeParse.parseQacct(new TextDecoder().decode(r.stdout)).get(id)
      if (record !== undefined) return record
      yield* Effect.sleep("250 millis")
    }
    return yield* Effect.die(new Error(`qacct has no record of job ${id}`))
  })

/** The ranks' lines, parsed. */
const ranks = (out: string) =>
  out.trim().split("\n").filter((l) => l.startsWith("rank=")).map((l) =>
    Object.fromEntries(l.split(" ").map((kv) => kv.split("=") as [string, string]))
  )

test(
  "a 4-slot job in the smp PE under mpirun prints 4 distinct ranks, each once",
  () =>
    runTest(Effect.gen(function* () {
      const { done, out } = yield* runOnSge({
        arguments: ["sh", "-c", RANK_LINE],
        processes: 4,
        launcher: "mpirun",
        stdout: "out",
        stderr: "err",
      })
      deepStrictEqual(done.termination, Termination.exited(0), out)
      const lines = ranks(out)
      deepStrictEqual(lines.map((r) => r.rank).sort(), ["0", "1", "2", "3"], out)
      ok(lines.every((r) => r.size === "4" && r.slots === "4" && r.pe === "smp"), out)
      strictEqual(done.usage?.cores, 4)
      const acct = yield* qacctOf(done.nativeId!)
      strictEqual(acct.usage.extra.sge_granted_pe, "smp")
      strictEqual(acct.usage.cores, 4, "qacct: 4 slots")
    })),
  noMpi,
)

test(
  "2 processes × 2 cores: 4 slots, 2 ranks, OMP_NUM_THREADS=2 in each",
  () =>
    runTest(Effect.gen(function* () {
      const { done, out } = yield* runOnSge({
        arguments: ["sh", "-c", RANK_LINE],
        processes: 2,
        coresPerProcess: 2,
        launcher: "mpirun",
        stdout: "out",
        stderr: "err",
      })
      deepStrictEqual(done.termination, Termination.exited(0), out)
      const lines = ranks(out)
      deepStrictEqual(lines.map((r) => r.rank).sort(), ["0", "1"], out)
      ok(lines.every((r) => r.omp === "2" && r.slots === "4"), out)
      strictEqual(done.usage?.cores, 4)
    })),
  noMpi,
)

test("what the configuration cannot express is refused before qsub, naming the field", () =>
  runTest(Effect.gen(function* () {
    const refusal = (input: Omit<ApplicationInput, "arguments">) =>
      Effect.flip(runOnSge({ arguments: ["true"], ...input }))
    const nodes = yield* refusal({ nodes: 2, processes: 4 })
    strictEqual(nodes.reason, "ConfigurationError")
    ok(nodes.message.includes("nodes:") && nodes.message.includes("multiNodePe.2"), nodes.message)
    const gpus = yield* refusal({ gpusPerProcess: 1 })
    strictEqual(gpus.reason, "ConfigurationError")
    ok(gpus.message.includes("gpusPerProcess") && gpus.message.includes("gpuResource"))
    const whole = yield* refusal({ exclusive: true })
    strictEqual(whole.reason, "ConfigurationError")
    ok(whole.message.includes("exclusive") && whole.message.includes("exclusiveResource"))
  })))

test(
  "2 nodes on the 1-host cell: qsub -w e refuses them at once (SubmitRejected, final)",
  () =>
    runTest(Effect.gen(function* () {
      // allocation_rule 2: 2 nodes × 2 slots need two hosts, and the cell has one
      const err = yield* Effect.flip(runOnSge(
        { arguments: ["true"], nodes: 2, processesPerNode: 1, coresPerProcess: 2 },
        { multiNodePe: { "2": sge!.mpiPe! } },
      ))
      strictEqual(err.reason, "SubmitRejected", err.message)
      strictEqual(err.recoverable, false)
      ok(err.message.includes("no suitable queues"), err.message)
      // the same slots on one node run (in the smp PE): it is the node count the cell lacks
      const { done } = yield* runOnSge(
        { arguments: ["true"], nodes: 1, processes: 2, coresPerProcess: 1 },
        { multiNodePe: { "2": sge!.mpiPe! } },
      )
      deepStrictEqual(done.termination, Termination.exited(0))
    })),
  sge?.mpiPe === undefined && "no LRMS_SGE_MPI_PE: rerun sge-up.sh",
)

test(
  "GPUs book the gpu consumable per slot; more than the host has are refused",
  () =>
    runTest(Effect.gen(function* () {
      const gpu = sge!.gpu!
      const { done } = yield* runOnSge(
        { arguments: ["true"], processes: 2, gpusPerProcess: 1 },
        { gpuResource: gpu.resource },
      )
      deepStrictEqual(done.termination, Termination.exited(0))
      // qacct's category is the job's request as Grid Engine took it
      const category = String((yield* qacctOf(done.nativeId!)).usage.extra.sge_category)
      ok(category.includes(`-l ${gpu.resource}=1`) && category.includes("-pe smp 2"), category)
      const err = yield* Effect.flip(runOnSge(
        { arguments: ["true"], processes: gpu.count + 1, gpusPerProcess: 1 },
        { gpuResource: gpu.resource },
      ))
      strictEqual(err.reason, "SubmitRejected", err.message)
      strictEqual(err.recoverable, false)
    })),
  sge?.gpu === undefined && "no LRMS_SGE_GPU_RESOURCE: rerun sge-up.sh",
)

test(
  "exclusive: -l exclusive=true, which the cell's qsub -w v accepts",
  () =>
    runTest(Effect.gen(function* () {
      // (not run: an exclusive job waits for the shared test host to be empty)
      const dir = yield* tempDir("lrms-sge-excl-")
      yield* Effect.promise(() => Deno.writeTextFile(`${dir}/job.sh`, "#!/bin/sh\ntrue\n"))
      const cfg = Schema.decodeUnknownSync(Sge.SgeConfig)(
        config({ spooldir: `${dir}/spool`, exclusiveResource: sge!.exclusiveResource! }),
      )
      const d = Sge.dialect(cfg)
      const a = yield* app({ arguments: ["true"], exclusive: true })
      strictEqual(d.validate!(a), undefined)
      const { argv } = d.submit({
        app: a,
        resource: Resource.make("sge", cfg),
        jobDir: dir,
        scriptPath: `${dir}/job.sh`,
        schedulerOutput: "/dev/null",
        schedulerError: "/dev/null",
      })
      ok(argv.join(" ").includes(`-l ${sge!.exclusiveResource}=true`), argv.join(" "))
      const verify = argv.map((w) => w === "e" ? "v" : w)
      const r = yield* Effect.promise(() =>
        new Deno.Command(verify[0]!, { args: verify.slice(1), stdout: "piped", stderr: "piped" })
          .output()
      )
      const said = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr)
      // the cell knows the request: it fits an empty host, or (when another test's job holds
      // the host) it is refused only because the exclusive resource is in use right now; an
      // unknown or malformed resource would say so instead
      ok(
        said.includes("found suitable queue") ||
          said.includes(`exclusive resource (${sge!.exclusiveResource}) is already in use`),
        said,
      )
    })),
  sge?.exclusiveResource === undefined && "no LRMS_SGE_EXCLUSIVE_RESOURCE: rerun sge-up.sh",
)
