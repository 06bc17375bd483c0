/**
 * The first demo: run a few jobs on this machine, wait for them, fetch and print their outputs.
 *
 *   deno task demo
 */
import { Effect, Schedule } from "effect"
import { Application, Auth, Lrms, Quantity, Shellcmd, Termination } from "effect-lrms"

const greetings = ["Hello", "Bonjour", "Grüezi", "Ciao", "Hola", "Hej"]

// One job: stage nothing, run a command, capture its standard output, wait, fetch, clean up.
const greet = (word: string, i: number, outDir: string) =>
  Effect.gen(function* () {
    const app = yield* Application.make({
      arguments: ["sh", "-c", 'echo "$1 from job $2 (pid $$) on $(uname -n)"', "sh", word, `${i}`],
      stdout: `greeting-${i}.txt`,
      requestedWalltime: "1 minute",
    })
    // A full machine answers with the recoverable MaximumCapacityReached: wait and retry.
    const job = yield* Lrms.submitJob(app).pipe(
      Effect.retry({ while: (e) => e.recoverable, schedule: Schedule.spaced("100 millis") }),
    )
    const done = yield* Lrms.awaitTermination(job)
    const { job: fetched } = yield* Lrms.retrieve(done, outDir)
    yield* Lrms.free(fetched)
    const text = yield* Effect.sync(() => Deno.readTextFileSync(`${outDir}/greeting-${i}.txt`))
    return { job: fetched, text: text.trim() }
  })

const program = Effect.gen(function* () {
  const outDir = yield* Effect.acquireRelease(
    Effect.sync(() => Deno.makeTempDirSync({ prefix: "effect-lrms-hello-" })),
    (dir) => Effect.sync(() => Deno.removeSync(dir, { recursive: true })),
  )
  const lrms = yield* Lrms.Lrms
  const results = yield* Effect.forEach(greetings, (w, i) => greet(w, i, outDir), {
    concurrency: "unbounded",
  })
  const r = lrms.resource
  console.log(`resource ${r.name}: ${r.maxCores} cores, ${r.architecture.join("/")}`)
  for (const { job, text } of results) {
    const usage = job.usage?.duration ? Quantity.formatDuration(job.usage.duration) : "?"
    console.log(
      `  job ${job.nativeId}: ${job.state}, ${Termination.describe(job.termination!)}, ` +
        `${usage} → ${text}`,
    )
  }
})

await Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(Shellcmd.layerLocal()),
    Effect.provide(Auth.none),
  ),
)
