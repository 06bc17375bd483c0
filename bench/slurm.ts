/**
 * Benchmark against the real SLURM of test/services/slurm-up.sh (run as root, cluster up):
 *
 * (a) submission: N jobs through the library (each with its own job directory and script, all
 *     submitted at once) against a shell loop of raw `sbatch` on a script file — what a user
 *     would write instead. Jobs are submitted held (`--hold`) and cancelled after each round, so
 *     the two sides measure submission, not the node's two CPUs.
 * (b) state of M tracked jobs: one `updateJobState` per job, all at once, with the scheduler
 *     commands counted, against one raw `squeue` plus one raw `sacct` for all of them, and a
 *     loop of one `squeue -j` per job (what polling job by job costs).
 * (c) state of F finished jobs (they ran `true`): the same, where every job needs its accounting
 *     record too (one `squeue` and one `sacct`).
 *
 *   deno run -A bench/slurm.ts [N=200] [M=500] [rounds=3] [F=200]
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as SlurmParse from "../backends/slurm/SlurmParse.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import type * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { quote } from "../src/Shell.ts"
import { commandCounts as slurmCounts, since as sinceThen } from "./_counts.ts"

const submitN = Number(Deno.args[0] ?? 200)
const trackM = Number(Deno.args[1] ?? 500)
const rounds = Number(Deno.args[2] ?? 3)
const finishedF = Number(Deno.args[3] ?? 200)
const NAME = "lrms-bench"

const sh = (script: string): { seconds: number; stdout: string } => {
  const t0 = performance.now()
  const r = new Deno.Command("/bin/sh", { args: ["-c", script], env: SlurmParse.sacctEnv })
    .outputSync()
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr))
  return { seconds: (performance.now() - t0) / 1000, stdout: new TextDecoder().decode(r.stdout) }
}

const cancelAll = () => {
  sh(`scancel --name=${NAME} 2>/dev/null; scancel --jobname=lrms.bench 2>/dev/null; true`)
}

const commandCounts = slurmCounts("slurm")
/** The commands run since `before`, as [name, count] pairs. */
const since = (before: ReadonlyMap<string, number>) =>
  Effect.map(sinceThen("slurm", before), (d) => [...d])

const dir = Deno.makeTempDirSync({ prefix: "lrms-bench-slurm-" })
const layerWith = (extraDirectives: ReadonlyArray<string>) =>
  Layer.merge(
    Slurm.layer({
      name: "bench",
      architecture: ["x86_64", "aarch64"],
      maxCores: 64,
      maxMemoryPerCore: "1 GiB",
      maxWalltime: "1 hour",
      spooldir: `${dir}/spool`,
      extraDirectives,
    }).pipe(Layer.provide(LocalTransport.layer)),
    Auth.none,
  )

const app = Effect.runSync(Application.make({ arguments: ["true"], jobname: "lrms.bench" }))

/** A script file like the library's, submitted N times by a shell loop. */
const rawLoop = (n: number): number => {
  const script = `${dir}/raw.sh`
  Deno.writeTextFileSync(script, "#!/bin/sh\ntrue\n")
  return sh([
    `cd ${quote(dir)}`,
    `i=0; while [ $i -lt ${n} ]; do`,
    `  sbatch --hold --job-name=${NAME} --output=/dev/null ${quote(script)} >/dev/null`,
    "  i=$((i+1))",
    "done",
  ].join("\n")).seconds
}

const library = (n: number) =>
  Effect.gen(function* () {
    const t0 = performance.now()
    const jobs = yield* Effect.forEach(Array.from({ length: n }), () => Lrms.submitJob(app), {
      concurrency: "unbounded",
    })
    return { seconds: (performance.now() - t0) / 1000, jobs }
  })

const best = (xs: ReadonlyArray<number>) => Math.min(...xs)
const fmt = (s: number) => `${s.toFixed(3)} s`

const program = Effect.gen(function* () {
  // ---- (a) submission ---------------------------------------------------------------------
  const raw: Array<number> = []
  const lib: Array<number> = []
  let submitCalls = 0
  for (let r = 0; r < rounds; r++) {
    raw.push(rawLoop(submitN))
    cancelAll()
    const before = yield* commandCounts
    const { seconds, jobs } = yield* library(submitN)
    lib.push(seconds)
    submitCalls = (yield* since(before)).find(([k]) => k === "sbatch")?.[1] ?? 0
    const cancelled = yield* Effect.forEach(jobs, Lrms.cancelJob, { concurrency: "unbounded" })
    yield* Effect.forEach(cancelled, Lrms.free, { concurrency: 16, discard: true })
    cancelAll()
  }
  console.log(`(a) submit ${submitN} jobs, best of ${rounds}:`)
  console.log(`    raw sbatch loop   ${fmt(best(raw))}  (all: ${raw.map(fmt).join(", ")})`)
  console.log(
    `    effect-lrms       ${fmt(best(lib))}  (all: ${lib.map(fmt).join(", ")}; ` +
      `${submitCalls} submit calls (lrms.commands sbatch) for ${submitN} jobs)`,
  )
  console.log(`    ratio library / raw = ${(best(lib) / best(raw)).toFixed(2)}`)

  // ---- (b) state of M tracked jobs ----------------------------------------------------------
  const { jobs } = yield* library(trackM)
  yield* measurePolls(`(b) state of ${trackM} tracked jobs (held)`, jobs)
  const cancelled = yield* Effect.forEach(jobs, Lrms.cancelJob, { concurrency: "unbounded" })
  yield* Effect.forEach(cancelled, Lrms.free, { concurrency: 16, discard: true })
})

/** Polls all the jobs at once, `rounds` times, against raw squeue + sacct and a per-job loop. */
const measurePolls = (title: string, jobs: ReadonlyArray<Job.Job>) =>
  Effect.gen(function* () {
    const ids = jobs.map((j) => j.nativeId!)
    const polls: Array<number> = []
    const raws: Array<number> = []
    let calls = ""
    let states: ReadonlyArray<Job.Job> = []
    for (let r = 0; r < rounds; r++) {
      const before = yield* commandCounts
      const t0 = performance.now()
      states = yield* Effect.forEach(jobs, Lrms.updateJobState, { concurrency: "unbounded" })
      polls.push((performance.now() - t0) / 1000)
      calls = (yield* since(before)).map(([k, v]) => `${v} ${k}`).join(", ") +
        " (lrms.commands)"
      const list = ids.join(",")
      raws.push(
        sh(
          `squeue --noheader --all --states=all --jobs=${list} --format=%i^%T^%r >/dev/null && ` +
            `sacct --noheader --parsable2 --jobs=${list} ` +
            `--format=${SlurmParse.sacctColumns.join(",")} >/dev/null`,
        ).seconds,
      )
    }
    // job by job, once (it is slow): what polling without batching costs
    const oneEach =
      sh(`for id in ${ids.join(" ")}; do squeue --noheader --jobs=$id >/dev/null; done`).seconds
    console.log(`${title}, best of ${rounds}:`)
    console.log(`    effect-lrms       ${fmt(best(polls))}  (${calls})`)
    console.log(`    raw squeue + sacct for all  ${fmt(best(raws))}`)
    console.log(`    raw squeue per job          ${fmt(oneEach)}`)
    console.log(
      `    ratio library / (raw squeue + sacct) = ${(best(polls) / best(raws)).toFixed(2)}; ` +
        `per-job loop / library = ${(oneEach / best(polls)).toFixed(1)}`,
    )
    console.log(`    states: ${[...new Set(states.map((s) => s.state))].join(", ")}`)
  })

/** (c): jobs that ran `true`, polled once sacct has them all. */
const finished = Effect.gen(function* () {
  const { jobs } = yield* library(finishedF)
  const list = jobs.map((j) => j.nativeId!).join(",")
  for (let i = 0; i < 1200; i++) {
    const states = sh(`sacct -n -X -P -j ${list} -o State`).stdout.trim().split("\n")
    if (states.length === jobs.length && states.every((s) => s === "COMPLETED")) break
    yield* Effect.sleep("250 millis")
  }
  yield* measurePolls(`(c) state of ${finishedF} finished jobs`, jobs)
  yield* Effect.forEach(jobs, (j) => Lrms.updateJobState(j).pipe(Effect.flatMap(Lrms.free)), {
    concurrency: "unbounded",
    discard: true,
  })
})

try {
  await Effect.runPromise(
    Effect.scoped(Effect.provide(program, layerWith(["--hold"]))).pipe(
      Effect.provide(NodeContext.layer),
    ),
  )
  await Effect.runPromise(
    Effect.scoped(Effect.provide(finished, layerWith([]))).pipe(Effect.provide(NodeContext.layer)),
  )
} finally {
  cancelAll()
  Deno.removeSync(dir, { recursive: true })
}
