/**
 * Properties of shellcmd under transport faults (FaultyTransport over the local transport, real
 * processes): for any fault schedule over a session that submits two jobs at once and cancels
 * them,
 *
 * - every application is a job the caller knows, or an error that says so (a definite refusal:
 *   it never runs, and when it could not release its directory and reservation it carries its
 *   submission, which `Lrms.reconcile` releases; or `SubmitOutcomeUnknown`, which
 *   `Lrms.reconcile` settles later);
 * - no job runs twice, and a refused one never runs;
 * - no capacity leaks: once every job is cancelled and freed, every core is free again;
 * - no orphan process survives a cancel.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as FaultyTransport from "../src/testing/FaultyTransport.ts"
import { app, runTest } from "./_effect.ts"
import { countLines, settleUnknown, submitAll } from "./_faults.ts"

const JOBS = 2
const CORES = 2

/** Processes whose command line contains `marker`. */
const alive = (marker: string) => {
  const out = new Deno.Command("pgrep", { args: ["-f", marker] }).outputSync()
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim() !== "").length
}

/** The call that starts a job's wrapper. */
const launch = FaultyTransport.commandIncludes("lrms-launch")

const schedules = fc.oneof(
  fc.record({
    fault: fc.constantFrom(...FaultyTransport.faults),
    at: fc.nat({ max: 1 }),
    downFor: fc.constantFrom(0, 2, 1000),
  }).map(({ fault, at, downFor }): FaultyTransport.FaultSchedule => [
    { operation: "exec", match: launch, at, fault, downFor, hangFor: "200 millis" },
  ]),
  FaultyTransport.faultSchedule({
    hangFor: "200 millis",
    maxIndex: 6,
    maxRules: 4,
    operations: ["exec", "mkdir", "writeFile", "stat", "remove", "rename", "list", "readRange"],
    matchers: { launch },
  }),
)

Deno.test({
  name:
    "shellcmd: under any fault schedule, jobs are known once, none runs twice, no core or process leaks",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const seen = { faults: 0, launchFaults: 0, unknown: 0, leftover: 0, refused: 0, known: 0 }
    await fc.assert(
      fc.asyncProperty(schedules, (schedule) =>
        runTest(Effect.gen(function* () {
          const dir = yield* Effect.sync(() => Deno.makeTempDirSync({ prefix: "lrms-sfp-" }))
          const marker = `${Math.floor(Math.random() * 1e9)}`
          const config = {
            name: "faulty-local",
            architecture: ["x86_64", "aarch64"] as Array<string>,
            maxCores: CORES,
            maxCoresPerJob: 1,
            maxMemoryPerCore: "1 GiB",
            maxWalltime: "1 hour",
            spooldir: `${dir}/spool`,
            resourceDir: `${dir}/bk`,
          }
          const faults = FaultyTransport.layer(schedule).pipe(Layer.provide(LocalTransport.layer))
          const faulty = Layer.mergeAll(
            Shellcmd.layer(config).pipe(Layer.provide(faults)),
            faults,
            Auth.none,
          )
          const clean = Layer.merge(
            Shellcmd.layer(config).pipe(Layer.provide(LocalTransport.layer)),
            Auth.none,
          )
          const apps = yield* Effect.forEach(
            Array.from({ length: JOBS }, (_, i) => i),
            (i) =>
              app({
                arguments: [
                  "sh",
                  "-c",
                  `echo ran >> '${dir}/runs.${i}'; sleep 1000.${marker} & wait`,
                ],
              }),
          )
          // one layer for the whole faulty phase: the schedule counts every call of it
          const outcomes = yield* Effect.gen(function* () {
            const outcomes = yield* submitAll(apps)
            const { known } = outcomes
            // cancel under faults too: it may fail, the clean phase cancels again
            for (const [i, job] of known.entries()) {
              if (job === undefined) continue
              const c = yield* Effect.either(Lrms.cancelJob(job))
              if (Either.isRight(c)) known[i] = c.right
            }
            const record = (yield* FaultyTransport.Faults).faulted()
            seen.faults += record.length
            seen.launchFaults += record.filter(launch).length
            return outcomes
          }).pipe(Effect.provide(faulty))
          const { known, unknown, leftover } = outcomes
          seen.unknown += unknown.filter((u) => u !== undefined).length
          seen.leftover += leftover.filter((u) => u !== undefined).length
          yield* Effect.gen(function* () {
            yield* settleUnknown(outcomes, apps)
            for (const [i, job] of known.entries()) {
              if (job === undefined) continue
              const cancelled = yield* Lrms.cancelJob(job)
              known[i] = yield* Lrms.awaitTermination(cancelled, { max: "100 millis" }).pipe(
                Effect.timeout("20 seconds"),
              )
              yield* Lrms.free(known[i]!)
            }
            // every core is free again
            const status = yield* Lrms.getResourceStatus
            strictEqual(status.freeSlots, CORES, "no capacity leaks")
          }).pipe(Effect.provide(clean))
          yield* Effect.sleep("300 millis")
          strictEqual(alive(`sleep 1000.${marker}`), 0, "no orphan process survives a cancel")
          for (let i = 0; i < JOBS; i++) {
            const runs = countLines(`${dir}/runs.${i}`)
            ok(runs <= 1, `job ${i} ran ${runs} times`)
            if (known[i] === undefined) strictEqual(runs, 0, `refused job ${i} ran`)
          }
          seen.known += known.filter((k) => k !== undefined).length
          seen.refused += known.filter((k) => k === undefined).length
          yield* Effect.sync(() => Deno.removeSync(dir, { recursive: true }))
        }))),
      { numRuns: 20 },
    )
    console.log(JSON.stringify(seen))
    ok(seen.faults > 0 && seen.launchFaults > 0, "the schedules did inject faults")
  },
})
