import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect } from "effect"
import { Application, Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
const program = Effect.gen(function* () {
  const apps = yield* Effect.forEach([
    {
      arguments: ["sh", "-c", "echo hello $0; echo err >&2", "it's $HOME"],
      stdout: "out.txt",
      stderr: "err.txt",
    },
    { arguments: ["sh", "-c", "exit 3"] },
    { arguments: ["sh", "-c", "kill -9 $$"] },
  ], (i) => Application.make(i))
  const jobs = yield* Effect.forEach(apps, Lrms.submitJob)
  console.log(jobs.map((j) => [j.state, j.nativeId]))
  const done = yield* Effect.forEach(jobs, (j) => Lrms.awaitTermination(j), {
    concurrency: "unbounded",
  })
  for (const d of done) {
    console.log(d.state, d.termination, d.usage?.duration, d.usage?.maxUsedMemory)
  }
  yield* Effect.sync(() => Deno.mkdirSync("/tmp/smoke-out", { recursive: true }))
  const r = yield* Lrms.getResults(done[0]!, "/tmp/smoke-out")
  console.log(r)
  console.log(Deno.readTextFileSync("/tmp/smoke-out/out.txt"))
  console.log(yield* Lrms.getResourceStatus)
  yield* Effect.forEach(done, Lrms.free)
  console.log(yield* Lrms.getResourceStatus)
})
const layer = Shellcmd.layer({
  name: "smoke",
  architecture: "x86_64",
  maxCores: 4,
  maxMemoryPerCore: "1 GiB",
  maxWalltime: "1 hour",
  spooldir: "/tmp/smoke/spool",
  resourceDir: "/tmp/smoke/bk",
})
await Effect.runPromise(
  program.pipe(
    Effect.provide(layer),
    Effect.provide(LocalTransport.layer),
    Effect.provide(Auth.none),
    Effect.provide(NodeContext.layer),
  ),
)
