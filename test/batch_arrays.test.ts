/**
 * The batch flow's job arrays, with a scripted scheduler over the in-memory transport (unit
 * tests: the real SLURM, Grid Engine and PBS runs are in the *_array tests): which submissions
 * of one moment share an array, the array's script, each element's own job, a refusal, a lost
 * reply settled, and the plan's pure pieces.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as Batch from "../backends/batch/Batch.ts"
import type { Dialect } from "../backends/batch/Dialect.ts"
import * as Arrays from "../backends/batch/internal/array.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import { type ExecResult, Transport } from "../src/Transport.ts"
import * as MemoryTransport from "../src/testing/MemoryTransport.ts"
import { runTest } from "./_effect.ts"

const ok0 = (stdout = ""): ExecResult => ({ exitCode: 0, signal: null, stdout, stderr: "" })

/** SLURM's dialect with arrays of at most `max` elements (the scripted sbatch reads `--array`). */
const arrayDialect = (max: number) => (config: Slurm.SlurmConfig): Dialect => {
  const base = Slurm.dialect(config)
  return {
    ...base,
    arrays: {
      indexVariable: "SLURM_ARRAY_TASK_ID",
      firstIndex: 0,
      maxSize: max,
      elementId: (id, i) => `${id}_${i}`,
    },
    submit: (spec) => {
      const command = base.submit(spec)
      if (spec.array === undefined) return command
      const argv = [...command.argv]
      argv.splice(argv.length - 1, 0, `--array=0-${spec.array.size - 1}`)
      return { ...command, argv }
    },
  }
}

interface Scripted {
  /** `undefined`: answer `Submitted batch job N`; else this reply for every submit command. */
  sbatch?: ExecResult
  /** Drop the submit shell's reply (the connection ended before it answered). */
  lose?: boolean
}

const setup = (max = 100) => {
  const scripted: Scripted = {}
  let nextId = 500
  const submitted: Array<string> = []
  const writes: Array<string> = []
  const transport = MemoryTransport.make({
    exec: (argv, options) => {
      if (argv[0] === "id") return ok0("alice\n")
      if (argv[0] === "/bin/sh" && argv[1] === "-s" && String(options.stdin).startsWith("set -e")) {
        // the write script of an array: its directories and files, as /bin/sh would make them
        const script = String(options.stdin)
        writes.push(script)
        const unquote = (q: string) => q.replaceAll("'\\''", "'")
        // (seedFile makes the directories)
        for (
          const m of script.matchAll(/^printf '%s' '((?:[^']|'\\'')*)' >'((?:[^']|'\\'')*)'$/gm)
        ) {
          transport.seedFile(unquote(m[2]!), unquote(m[1]!))
        }
        return ok0(`${/^echo '([^']*)' ok$/m.exec(script)![1]} ok\n`)
      }
      if (argv[0] === "/bin/sh" && argv[1] === "-s") {
        const script = String(options.stdin ?? "")
        const lines = script.split("\n")
        const runs = lines.filter((l) => l.includes("(exec "))
        submitted.push(...runs)
        const markers = lines.filter((l) => l.includes("printf"))
        if (scripted.lose) return ok0("")
        const out = markers.map((line, i) => {
          const token = /printf '\\n%s %s %s\\n' '([a-z0-9]+)'/.exec(line)![1]
          const r = scripted.sbatch ?? ok0(`Submitted batch job ${nextId++}\n`)
          return `${r.stdout}${r.stderr}\n${token} ${i} ${r.exitCode}\n`
        })
        return ok0(out.join(""))
      }
      if (argv[0] === "squeue") return ok0("")
      return { exitCode: 127, signal: null, stdout: "", stderr: `${argv[0]}: not found` }
    },
  })
  const backend = Batch.backend("slurm", Slurm.SlurmConfig, arrayDialect(max))
  const layer = backend.layer({
    name: "scripted",
    architecture: "x86_64",
    maxCores: 8,
    maxMemoryPerCore: "1 GiB",
    maxWalltime: "1 hour",
    spooldir: "/spool",
  }).pipe(Layer.provide(Layer.succeed(Transport, transport)), Layer.merge(Auth.none))
  return { scripted, transport, layer, submitted, writes }
}

const app = (i: number, cores = 1) =>
  Effect.orDie(Application.make({
    arguments: ["sh", "-c", `exit ${i % 5}`],
    stdout: `out-${i}.txt`,
    requestedCores: cores,
  }))

const text = (transport: MemoryTransport.MemoryTransport, path: string) =>
  new TextDecoder().decode(transport.readFile(path))

Deno.test("submissions of one moment and one shape go into one array; each element is its own job", async () => {
  const { transport, layer, submitted, writes } = setup()
  await runTest(
    Effect.gen(function* () {
      const apps = yield* Effect.forEach([0, 1, 2, 3, 4], (i) => app(i))
      const odd = yield* app(9, 2)
      const results = yield* Lrms.submitJobs([...apps, odd])
      const jobs = results.map((r) => Either.getOrThrow(r))
      strictEqual(submitted.length, 2, `one array and one single job: ${submitted.join("\n")}`)
      ok(submitted.some((l) => l.includes("'--array=0-4'")), "five elements, indices 0-4")
      const ids = jobs.map((j) => j.nativeId)
      const base = ids[0]!.split("_")[0]
      deepStrictEqual(ids.slice(0, 5), [0, 1, 2, 3, 4].map((i) => `${base}_${i}`))
      ok(!ids[5]!.includes("_"), "the two-core job is submitted alone")
      deepStrictEqual(new Set(jobs.map((j) => j.remoteDir)).size, 6, "each its own directory")
      deepStrictEqual(jobs.map((j) => j.state), Array(6).fill("SUBMITTED"))
      // the array's script runs each element's own script, chosen by the index
      const array = jobs[0]!.backendData.array as { dir: string }
      const script = text(transport, `${array.dir}/.lrms/job.sh`)
      strictEqual(writes.length, 1, "every element's directory and script in one call")
      ok(
        writes[0]!.includes(`\nchmod 755 '${array.dir}/.lrms/job.sh'\n`),
        "the array's script is executable (LSF runs it as a command)",
      )
      ok(script.includes('case "${SLURM_ARRAY_TASK_ID:-}" in'), script)
      for (const [i, job] of jobs.slice(0, 5).entries()) {
        ok(script.includes(`  ${i}) exec /bin/sh '${job.remoteDir}/.lrms/job.sh' ;;`), script)
        const own = text(transport, `${job.remoteDir}/.lrms/job.sh`)
        deepStrictEqual(Arrays.parsePointer(own), { arrayDir: array.dir, index: i })
        ok(own.includes(`'exit ${i}'`), "the element's own arguments")
      }
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("an array is cut under the array limit", async () => {
  const { layer, submitted } = setup(3)
  await runTest(
    Effect.gen(function* () {
      const apps = yield* Effect.forEach([0, 1, 2, 3, 4, 5, 6], (i) => app(i))
      const jobs = (yield* Lrms.submitJobs(apps)).map((r) => Either.getOrThrow(r))
      deepStrictEqual(
        submitted.map((l) => /--array=(\S+)'/.exec(l)?.[1] ?? "single").sort(),
        ["0-2", "0-2", "single"],
      )
      strictEqual(new Set(jobs.map((j) => j.nativeId)).size, 7)
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("a refused array: every element gets the refusal, and every directory is removed", async () => {
  const { scripted, transport, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      scripted.sbatch = {
        exitCode: 1,
        signal: null,
        stdout: "",
        stderr: "sbatch: error: Batch job submission failed: Invalid job array specification\n",
      }
      const results = yield* Lrms.submitJobs(yield* Effect.forEach([0, 1, 2], (i) => app(i)))
      for (const r of results) {
        ok(Either.isLeft(r))
        strictEqual(r.left.reason, "SubmitRejected")
        ok(r.left.message.includes("Invalid job array"), r.left.message)
      }
      deepStrictEqual([...transport.snapshot("/spool").keys()], [])
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("an array whose reply is lost is settled from its submit record; an element reconciles", async () => {
  const { scripted, layer } = setup()
  await runTest(
    Effect.gen(function* () {
      scripted.lose = true
      const apps = yield* Effect.forEach([0, 1], (i) => app(i))
      const results = yield* Lrms.submitJobs(apps)
      // the in-memory resource has no submit record (the scripted shell wrote none) and squeue
      // lists no tag: the array's directory is gone from the record's view, nothing ran, so
      // nothing was submitted (a definite, recoverable failure) — or unknown: never a job
      for (const r of results) {
        ok(Either.isLeft(r))
        ok(
          r.left.reason === "ConnectionLost" || r.left.reason === "SubmitOutcomeUnknown",
          r.left.reason,
        )
        if (r.left.reason === "SubmitOutcomeUnknown") {
          ok(r.left.submission?.jobDir.includes("/spool/job."), "the element's own directory")
        }
      }
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("arrays: false submits every job alone", async () => {
  const transport0 = setup()
  const layer = Batch.backend("slurm", Slurm.SlurmConfig, arrayDialect(100)).layer({
    name: "scripted",
    architecture: "x86_64",
    maxCores: 8,
    maxMemoryPerCore: "1 GiB",
    maxWalltime: "1 hour",
    spooldir: "/spool",
    arrays: false,
  }).pipe(Layer.provide(Layer.succeed(Transport, transport0.transport)), Layer.merge(Auth.none))
  await runTest(
    Effect.gen(function* () {
      const results = yield* Lrms.submitJobs(yield* Effect.forEach([0, 1, 2], (i) => app(i)))
      strictEqual(results.filter(Either.isRight).length, 3)
      strictEqual(transport0.submitted.length, 3)
      ok(transport0.submitted.every((l) => !l.includes("--array")))
    }).pipe(Effect.provide(layer)),
  )
})

Deno.test("property: the plan keeps every item once, in groups of one key, none over the limit", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 7 }),
      (keys, max) => {
        const items = keys.map((k, i) => ({ k, i }))
        const chunks = Arrays.plan(items, (x) => String(x.k), max)
        deepStrictEqual(chunks.flat().map((x) => x.i).sort((a, b) => a - b), items.map((x) => x.i))
        for (const chunk of chunks) {
          ok(chunk.length >= 1 && chunk.length <= max)
          strictEqual(new Set(chunk.map((x) => x.k)).size, 1)
        }
      },
    ),
  )
})

Deno.test("property: an element's pointer line reads back, whatever the array's path", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }).filter((s) => !/[\n\r]/.test(s)),
      fc.nat(100_000),
      (dir, index) => {
        deepStrictEqual(
          Arrays.parsePointer(`#!/bin/sh\n${Arrays.pointerLine(`/${dir}`, index)}\n`),
          {
            arrayDir: `/${dir}`,
            index,
          },
        )
      },
    ),
  )
})

Deno.test("what picks the submit command parts a group: launcher, class name, cores; not the name or arguments", () => {
  const key = (input: Application.ApplicationInput) =>
    Arrays.shapeKey(Effect.runSync(Application.make(input)))
  const base = { arguments: ["true"] }
  strictEqual(key(base), key({ arguments: ["false", "x"], jobname: "other", stdout: "o" }))
  ok(key(base) !== key({ ...base, requestedCores: 2 }))
  ok(key({ ...base, processes: 2 }) !== key({ ...base, processes: 2, launcher: "srun" }))
  ok(key(base) !== key({ ...base, applicationName: "gamess" }), "Grid Engine's pe[<class>]")
  ok(key(base) !== key({ ...base, requestedWalltime: "1 hour" }))
})
