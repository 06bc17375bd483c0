/**
 * The PBS and LSF backends end to end against the scripted schedulers of test/fake/ (shell
 * scripts that keep their state in a directory and run each job script as a real process): the
 * contract suite, locally and over SSH, plus what only a scheduler tells (walltime kills, exit
 * statuses, accounting after the queue forgot the job). No real PBS or LSF server can be
 * installed here: the dialects' parsers are checked on recorded outputs in pbs_parse.test.ts and
 * lsf_parse.test.ts.
 */
import { deepStrictEqual, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Lsf from "../backends/lsf/Lsf.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Termination from "../src/Termination.ts"
import { suite } from "./contract/LrmsContract.ts"
import { type Platform, runTest, tempDir } from "./_effect.ts"
import { counting } from "./_counting.ts"
import { lsfConfig, pbsConfig } from "./_fake.ts"
import { keyAuth, sshTest, transport } from "./_sshd.ts"

const options = { sanitizeOps: false, sanitizeResources: false } as const
// the scripted LSF counts this many seconds for a minute of `bsub -W` (only local jobs see it)
Deno.env.set("LRMS_FAKE_LSF_MINUTE", "2")
const remoteSpool = (dir: string) => `~/.effect-lrms-test/${dir.split("/").pop()}/spool`

suite("pbs(scripted)+local", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(pbsConfig(`${dir}/spool`, maxCores)).pipe(Layer.provide(LocalTransport.layer)),
  sharedResource: true,
  denoTest: options,
})

suite("lsf(scripted)+local", {
  makeLayer: ({ dir, maxCores }) =>
    Lsf.layer(lsfConfig(`${dir}/spool`, maxCores)).pipe(Layer.provide(LocalTransport.layer)),
  sharedResource: true,
  denoTest: options,
})

suite("pbs(scripted)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(pbsConfig(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: keyAuth,
  sharedResource: true,
  denoTest: sshTest,
})

suite("lsf(scripted)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Lsf.layer(lsfConfig(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: keyAuth,
  sharedResource: true,
  denoTest: sshTest,
})

const app = (input: Application.ApplicationInput) => Effect.orDie(Application.make(input))

const withLayer = <A, E>(
  layer: (dir: string) => Layer.Layer<Lrms.Lrms, unknown, Platform>,
  body: Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>,
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-fake-")
    return yield* body.pipe(
      Effect.provide(
        Layer.merge(layer(dir), Auth.none) as Layer.Layer<Lrms.Lrms | Auth.Auth, unknown, Platform>,
      ),
    )
  })

const pbsLocal = (dir: string) =>
  Pbs.layer(pbsConfig(`${dir}/spool`)).pipe(Layer.provide(LocalTransport.layer))
const lsfLocal = (dir: string) =>
  Lsf.layer(lsfConfig(`${dir}/spool`)).pipe(Layer.provide(LocalTransport.layer))

for (const [name, layer] of [["pbs", pbsLocal], ["lsf", lsfLocal]] as const) {
  Deno.test({
    name: `${name}(scripted): a job over its walltime is the scheduler's kill (RemoteKill, 75)`,
    ...options,
    fn: () =>
      runTest(withLayer(
        layer,
        Effect.gen(function* () {
          const job = yield* Lrms.submitJob(
            yield* app({ arguments: ["sleep", "300"], requestedWalltime: "2 seconds" }),
          )
          const done = yield* Lrms.awaitTermination(job, { max: "300 millis" })
          deepStrictEqual(
            done.termination,
            Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
          )
          yield* Lrms.free(done)
        }),
      )),
  })
}

for (
  const [name, backend, stat] of [
    ["pbs", (dir: string) => Pbs.layer(pbsConfig(`${dir}/spool`)), "qstat"],
    ["lsf", (dir: string) => Lsf.layer(lsfConfig(`${dir}/spool`)), "bjobs"],
  ] as const
) {
  Deno.test({
    name: `${name}(scripted): 30 jobs polled at once cost one ${stat}`,
    ...options,
    fn: () =>
      runTest(Effect.gen(function* () {
        const dir = yield* tempDir("lrms-fake-")
        const counts = new Map<string, number>()
        const layer = backend(dir).pipe(
          Layer.provide(counting(counts)),
          Layer.provide(LocalTransport.layer),
          Layer.merge(Auth.none),
        )
        yield* Effect.gen(function* () {
          const a = yield* app({ arguments: ["sleep", "1"] })
          const jobs = yield* Effect.forEach(Array.from({ length: 30 }), () => Lrms.submitJob(a), {
            concurrency: "unbounded",
          })
          counts.clear()
          const polled = yield* Effect.forEach(jobs, Lrms.updateJobState, {
            concurrency: "unbounded",
          })
          // one stat command and one read of the jobs' markers; a job that already ended may
          // have its usage asked of accounting (bacct answers for many at once)
          const calls = [...counts].filter(([k]) => !k.endsWith("/bacct"))
          deepStrictEqual(
            calls.map(([k, n]) => [k.split("/").at(-1), n]).sort(),
            [["markers", 1], [stat, 1]].sort(),
            JSON.stringify([...counts]),
          )
          const done = yield* Effect.forEach(polled, (j) => Lrms.awaitTermination(j), {
            concurrency: "unbounded",
          })
          strictEqual(done.filter((j) => j.termination?.exitCode === 0).length, 30)
          yield* Effect.forEach(done, Lrms.free, { concurrency: 8, discard: true })
        }).pipe(Effect.provide(layer))
      })),
  })
}
