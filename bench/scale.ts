/**
 * Scale, against the real SLURM of test/services/slurm-up.sh (run as root, cluster up, with its
 * MaxJobCount and MaxArraySize raised by that script):
 *
 * (a) submit N (1,000) `true` jobs through the library (`Lrms.submitJobs`: packed into arrays)
 *     against a shell loop of N raw `sbatch`; targets: ≥ 10× faster, ≤ 5 scheduler calls.
 * (b) track M (10,000) held jobs and poll them all at once; targets: ≤ 2 scheduler calls per
 *     poll, each poll ≤ 1.5× one raw `squeue` of the same jobs, ≤ 30 MB of heap added by the
 *     tracked jobs (`Deno.memoryUsage().heapUsed` after a full GC, before and after).
 * (c) F (1,000) finished jobs with `sacct` disabled (`commands.sacct = /bin/false`): every exit
 *     code right, from the exit files, in one transport call per poll.
 * (d) R (200) jobs tracked for S (120) seconds with `Lrms.awaitTermination`: the `squeue` calls.
 *
 *   deno run -A --v8-flags=--expose-gc bench/scale.ts [N=1000] [M=10000] [F=1000] [R=200] [S=120]
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { quote } from "../src/Shell.ts"
import { commandCounts, since as sinceThen } from "./_counts.ts"

const arg = (i: number, fallback: number) => Number(Deno.args[i] ?? fallback)
const N = arg(0, 1000)
const M = arg(1, 10_000)
const F = arg(2, 1000)
const R = arg(3, 200)
const S = arg(4, 120)
const NAME = "lrms-scale"

const sh = (script: string): { seconds: number; stdout: string } => {
  const t0 = performance.now()
  const r = new Deno.Command("/bin/sh", { args: ["-c", script] }).outputSync()
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr))
  return { seconds: (performance.now() - t0) / 1000, stdout: new TextDecoder().decode(r.stdout) }
}
const cancelAll = () => void sh(`scancel --name=${NAME} 2>/dev/null; true`)

const counts = commandCounts("slurm")
const since = (before: ReadonlyMap<string, number>) => sinceThen("slurm", before)
const show = (d: ReadonlyMap<string, number>) =>
  [...d].map(([k, v]) => `${v} ${k}`).join(", ") || "none"
const schedulerCalls = (d: ReadonlyMap<string, number>) =>
  [...d].filter(([k]) => k !== "sh" && k !== "id" && k !== "markers").reduce((a, [, v]) => a + v, 0)

const dir = Deno.makeTempDirSync({ prefix: "lrms-bench-scale-" })
const layer = (extra: Partial<Slurm.SlurmConfigInput>) =>
  Layer.merge(
    Slurm.layer({
      name: "scale",
      architecture: ["x86_64", "aarch64"],
      maxCores: 64,
      maxMemoryPerCore: "1 GiB",
      maxWalltime: "1 hour",
      spooldir: `${dir}/spool`,
      ...extra,
    }).pipe(Layer.provide(LocalTransport.layer)),
    Auth.none,
  )

const gc = () => (globalThis as { gc?: () => void }).gc?.()
const heapMb = () => {
  gc()
  gc()
  return Deno.memoryUsage().heapUsed / 2 ** 20
}
const fmt = (s: number) => `${s.toFixed(3)} s`

const submitAll = (apps: ReadonlyArray<Application.Application>) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const results = yield* Lrms.submitJobs(apps)
    const seconds = (performance.now() - t0) / 1000
    const failed = results.filter(Either.isLeft)
    if (failed.length > 0) return yield* Effect.die(failed[0]!.left)
    return { seconds, jobs: results.map((r) => Either.getOrThrow(r)) }
  })

const cleanup = (jobs: ReadonlyArray<Job.Job>) =>
  Effect.forEach(jobs, (j) => Lrms.cancelJob(j).pipe(Effect.flatMap(Lrms.free)), {
    concurrency: 64,
    discard: true,
  })

const trueApp = Effect.runSync(Application.make({ arguments: ["true"], jobname: NAME }))

// ---- (a) ------------------------------------------------------------------------------------
const submitBench = Effect.gen(function* () {
  Deno.writeTextFileSync(`${dir}/raw.sh`, "#!/bin/sh\ntrue\n")
  const raw = sh([
    `cd ${quote(dir)}`,
    `i=0; while [ $i -lt ${N} ]; do`,
    `  sbatch --hold --job-name=${NAME} --output=/dev/null ${quote(`${dir}/raw.sh`)} >/dev/null`,
    "  i=$((i+1))",
    "done",
  ].join("\n")).seconds
  cancelAll()
  const before = yield* counts
  const { seconds, jobs } = yield* submitAll(Array.from({ length: N }, () => trueApp))
  const calls = yield* since(before)
  console.log(`(a) submit ${N} jobs`)
  console.log(`    raw sbatch loop  ${fmt(raw)}`)
  console.log(`    effect-lrms      ${fmt(seconds)}  (${show(calls)})`)
  console.log(
    `    raw / library = ${(raw / seconds).toFixed(1)}× (target ≥ 10×); ` +
      `scheduler calls ${schedulerCalls(calls)} (target ≤ 5)`,
  )
  yield* cleanup(jobs)
})

// ---- (b) ------------------------------------------------------------------------------------
const trackBench = Effect.gen(function* () {
  const heap0 = heapMb()
  let { jobs } = yield* submitAll(Array.from({ length: M }, () => trueApp))
  const heap1 = heapMb()
  const polls: Array<{ seconds: number; calls: ReadonlyMap<string, number> }> = []
  for (let r = 0; r < 3; r++) {
    const before = yield* counts
    const t0 = performance.now()
    jobs = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
    polls.push({ seconds: (performance.now() - t0) / 1000, calls: yield* since(before) })
  }
  const heap2 = heapMb()
  const raw = sh(`squeue --me --noheader --array --states=all --format=%i^%T^%r >/dev/null`)
    .seconds
  console.log(`(b) track ${M} held jobs`)
  for (const [i, p] of polls.entries()) {
    console.log(
      `    poll ${i + 1}: ${fmt(p.seconds)} (${show(p.calls)}; scheduler calls ` +
        `${schedulerCalls(p.calls)}, target ≤ 2); ratio to one raw squeue = ` +
        `${(p.seconds / raw).toFixed(2)} (target ≤ 1.5)`,
    )
  }
  console.log(`    one raw squeue of the same jobs ${fmt(raw)}`)
  console.log(
    `    heap: ${heap0.toFixed(1)} MB before, ${heap1.toFixed(1)} MB with ${M} jobs submitted, ` +
      `${heap2.toFixed(1)} MB after polling: +${(heap2 - heap0).toFixed(1)} MB ` +
      `(${((heap2 - heap0) * 2 ** 20 / M).toFixed(0)} bytes per job; target ≤ 30 MB)`,
  )
  console.log(`    states: ${[...new Set(jobs.map((j) => j.state))].join(", ")}`)
  yield* cleanup(jobs)
})

// ---- (c) ------------------------------------------------------------------------------------
const finishedBench = Effect.gen(function* () {
  const apps = yield* Effect.forEach(
    Array.from({ length: F }, (_, i) => i),
    (i) => Application.make({ arguments: ["sh", "-c", `exit ${i % 5}`], jobname: NAME }),
  )
  const { jobs } = yield* submitAll(apps)
  const ids = jobs.map((j) => j.nativeId!)
  // wait until SLURM has run them all (squeue lists none of them as pending or running)
  for (let i = 0; i < 2400; i++) {
    const left = sh(`squeue --me --noheader --array --states=PD,R,CG --format=%i | wc -l`).stdout
    if (Number(left.trim()) === 0) break
    yield* Effect.sleep("500 millis")
  }
  const before = yield* counts
  const t0 = performance.now()
  const done = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
  const seconds = (performance.now() - t0) / 1000
  const calls = yield* since(before)
  const right = done.filter((j, i) => j.termination?.exitCode === i % 5).length
  console.log(`(c) ${F} finished jobs, sacct disabled`)
  console.log(`    one poll of all: ${fmt(seconds)} (${show(calls)})`)
  console.log(`    exit codes right: ${right} of ${F} (target: all); ids ${ids[0]} … ${ids.at(-1)}`)
  yield* Effect.forEach(done, Lrms.free, { concurrency: 64, discard: true })
})

// ---- (d) ------------------------------------------------------------------------------------
const watchBench = Effect.gen(function* () {
  const app = yield* Application.make({ arguments: ["sleep", "600"], jobname: NAME })
  const { jobs } = yield* submitAll(Array.from({ length: R }, () => app))
  const before = yield* counts
  yield* Effect.forEach(jobs, (j) => Lrms.awaitTermination(j), { concurrency: "unbounded" }).pipe(
    Effect.timeout(`${S} seconds`),
    Effect.ignore,
  )
  const calls = yield* since(before)
  console.log(`(d) ${R} jobs (sleep 600) tracked for ${S} s with awaitTermination`)
  console.log(`    commands: ${show(calls)}`)
  yield* cleanup(jobs)
})

const run = <A, E>(effect: Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>, extra = {}) =>
  Effect.runPromise(
    Effect.scoped(Effect.provide(effect, layer(extra))).pipe(Effect.provide(NodeContext.layer)),
  )

try {
  if (!("gc" in globalThis)) console.log("(run with --v8-flags=--expose-gc for exact heap figures)")
  await run(submitBench, { extraDirectives: ["--hold"] })
  await run(trackBench, { extraDirectives: ["--hold"] })
  await run(finishedBench, { commands: { sacct: "/bin/false" } })
  await run(watchBench)
} finally {
  cancelAll()
  Deno.removeSync(dir, { recursive: true })
}
