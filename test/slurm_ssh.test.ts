/**
 * The SLURM backend from "a laptop": the same layer over the SSH transport to the login node
 * (here the test sshd on 127.0.0.1, as the unprivileged user lrmskey). Needs both the test sshd
 * and the test SLURM.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Slurm from "../backends/slurm/Slurm.ts"
import * as Application from "../src/Application.ts"
import * as Lrms from "../src/Lrms.ts"
import { suite } from "./contract/LrmsContract.ts"
import { runTest } from "./_effect.ts"
import { keyAuth, sshd, transport } from "./_sshd.ts"
import { config, slurm } from "./_slurm.ts"

const denoTest = {
  ignore: sshd === undefined || slurm === undefined,
  sanitizeOps: false,
  sanitizeResources: false,
} as const

const layerFor = (dir: string, maxCores = 64) =>
  Slurm.layer(config({
    spooldir: `~/.effect-lrms-test/${dir.split("/").pop()}/spool`,
    maxCores,
    maxCoresPerJob: maxCores,
  })).pipe(Layer.provide(transport()))

suite("slurm+ssh", {
  makeLayer: ({ dir, maxCores }) => layerFor(dir, maxCores),
  auth: keyAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

Deno.test({
  name: "slurm+ssh: the job runs as the SSH user, in a spool under that user's home",
  ...denoTest,
  fn: () =>
    runTest(
      Effect.gen(function* () {
        const app = yield* Effect.orDie(
          Application.make({ arguments: ["id", "-un"], stdout: "who" }),
        )
        const job = yield* Lrms.submitJob(app)
        ok(job.remoteDir!.startsWith(`/home/${sshd!.keyUser}/`), job.remoteDir)
        const done = yield* Lrms.awaitTermination(job, { max: "500 millis" })
        strictEqual(done.termination?.exitCode, 0)
        const status = yield* Lrms.getResourceStatus
        ok(status.freeSlots >= 0, `sinfo gives free slots (${status.freeSlots})`)
        const dir = Deno.makeTempDirSync()
        yield* Lrms.getResults(done, dir)
        strictEqual(Deno.readTextFileSync(`${dir}/who`), `${sshd!.keyUser}\n`)
        Deno.removeSync(dir, { recursive: true })
        yield* Lrms.free(done)
      }).pipe(Effect.provide(Layer.merge(layerFor("/who"), keyAuth))),
    ),
})
