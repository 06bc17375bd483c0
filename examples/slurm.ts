/**
 * SLURM from the login node or from a laptop, with the same program: submit a small parameter
 * sweep, wait for all of it (one `squeue` per poll for every job), fetch the outputs, print how
 * each job ended and what it used, then the queue.
 *
 *   deno run -A examples/slurm.ts                      on the login node (local transport)
 *   deno run -A examples/slurm.ts alice@login.example  over SSH (~/.ssh/config, ssh-agent)
 *
 * Set SLURM_PARTITION / SLURM_ACCOUNT to submit to a partition or account.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Effect, Layer } from "effect"
import { Application, Auth, LocalTransport, Lrms, Quantity, Termination } from "effect-lrms"
import { Slurm } from "effect-lrms/slurm"
import { SshTransport } from "effect-lrms/ssh"

const target = Deno.args[0]
const [user, host] = target?.includes("@") ? target.split("@", 2) : [undefined, target]

const slurm = Slurm.layer({
  name: host ?? "login-node",
  architecture: ["x86_64", "aarch64"],
  maxCores: 1024,
  maxCoresPerJob: 64,
  maxMemoryPerCore: "8 GiB",
  maxWalltime: "1 day",
  ...(Deno.env.get("SLURM_PARTITION") ? { partition: Deno.env.get("SLURM_PARTITION")! } : {}),
  ...(Deno.env.get("SLURM_ACCOUNT") ? { account: Deno.env.get("SLURM_ACCOUNT")! } : {}),
}).pipe(
  Layer.provide(host === undefined ? LocalTransport.layer : SshTransport.layer({ host })),
)
const auth = host === undefined ? Auth.none : Auth.sshAgent({ user: user ?? Deno.env.get("USER")! })

const sweep = (x: number, outDir: string) =>
  Effect.gen(function* () {
    const app = yield* Application.make({
      arguments: ["sh", "-c", 'echo "x=$1 x²=$(($1 * $1)) on $(hostname)"', "sh", String(x)],
      stdout: `x${x}.txt`,
      requestedMemory: "100 MiB",
      requestedWalltime: "5 minutes",
    })
    const done = yield* Lrms.awaitTermination(yield* Lrms.submitJob(app))
    const { job } = yield* Lrms.retrieve(done, outDir)
    yield* Lrms.free(job)
    return { job, text: Deno.readTextFileSync(`${outDir}/x${x}.txt`).trim() }
  })

const program = Effect.gen(function* () {
  const outDir = yield* Effect.acquireRelease(
    Effect.sync(() => Deno.makeTempDirSync({ prefix: "effect-lrms-slurm-" })),
    (dir) => Effect.sync(() => Deno.removeSync(dir, { recursive: true })),
  )
  const results = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], (x) => sweep(x, outDir), {
    concurrency: "unbounded",
  })
  for (const { job, text } of results) {
    const u = job.usage
    console.log(
      `job ${job.nativeId}: ${Termination.describe(job.termination!)}, ` +
        `${u?.duration ? Quantity.formatDuration(u.duration) : "?"}, max RSS ` +
        `${u?.maxUsedMemory !== undefined ? Quantity.formatMemoryHuman(u.maxUsedMemory) : "?"}` +
        ` → ${text}`,
    )
  }
  const s = yield* Lrms.getResourceStatus
  console.log(
    `queue: ${s.freeSlots} free cores, ${s.totalRun} running / ${s.queued} waiting ` +
      `(yours: ${s.userRun} / ${s.userQueued})`,
  )
})

await Effect.runPromise(
  Effect.scoped(program).pipe(
    Effect.provide(slurm),
    Effect.provide(auth),
    Effect.provide(NodeContext.layer), // the platform, provided at the edge
  ),
)
