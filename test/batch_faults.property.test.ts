/**
 * Properties of the batch flow under transport faults, on the scripted PBS and LSF schedulers
 * of test/fake/ (real processes, real files): for any fault schedule that FaultyTransport
 * generates over every call a session makes (staging, submit, polls, downloads),
 *
 * - every application handed to `submitJob` is exactly one job the caller knows, or an error
 *   that says so: a definite refusal (the job never runs) or `SubmitOutcomeUnknown`, which
 *   `Lrms.reconcile` settles once the host answers again;
 * - no job runs twice;
 * - `getResults` leaves no half-written local file: an output is there whole, or not at all.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Lsf from "../backends/lsf/Lsf.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as FaultyTransport from "../src/testing/FaultyTransport.ts"
import { app, runTest } from "./_effect.ts"
import { countLines, settleUnknown, submitAll } from "./_faults.ts"
import { lsfConfig, pbsConfig } from "./_fake.ts"

const options = { sanitizeOps: false, sanitizeResources: false } as const
const JOBS = 2

const backends = {
  pbs: (spool: string) => Pbs.layer(pbsConfig(spool)),
  lsf: (spool: string) => Lsf.layer(lsfConfig(spool)),
} as const

const submitCall = FaultyTransport.stdinIncludes("lrms_submit")

/** Any schedule, or one aimed at the submit call (each fault, the host down after it or not). */
const schedules = fc.oneof(
  fc.record({
    fault: fc.constantFrom(...FaultyTransport.faults),
    downFor: fc.constantFrom(0, 2, 1000),
  }).map(({ fault, downFor }): FaultyTransport.FaultSchedule => [
    { operation: "exec", match: submitCall, fault, downFor, hangFor: "200 millis" },
  ]),
  FaultyTransport.faultSchedule({
    hangFor: "200 millis",
    maxIndex: 5,
    maxRules: 4,
    // the operations a session of the batch flow makes (id, staging, submit, polls, downloads)
    operations: ["exec", "mkdir", "writeFile", "stat", "get", "remove"],
    matchers: { submit: submitCall },
  }),
)

for (const [name, backend] of Object.entries(backends)) {
  const seen = { faults: 0, submitFaults: 0, unknown: 0, refused: 0 }
  Deno.test({
    name: `${name}(scripted): under any fault schedule, each job is known once or said not to be`,
    ...options,
    fn: () =>
      fc.assert(
        fc.asyncProperty(schedules, (schedule) =>
          runTest(Effect.gen(function* () {
            const dir = yield* Effect.sync(() => Deno.makeTempDirSync({ prefix: "lrms-fp-" }))
            const spool = `${dir}/spool`
            const faults = FaultyTransport.layer(schedule).pipe(
              Layer.provide(LocalTransport.layer),
            )
            const faulty = Layer.mergeAll(
              backend(spool).pipe(Layer.provide(faults)),
              faults,
              Auth.none,
            )
            const clean = Layer.merge(
              backend(spool).pipe(Layer.provide(LocalTransport.layer)),
              Auth.none,
            )
            const apps = yield* Effect.forEach(
              Array.from({ length: JOBS }, (_, i) => i),
              (i) =>
                app({
                  arguments: ["sh", "-c", `echo ran >> '${dir}/runs.${i}'; echo whole-output`],
                  stdout: "out.txt",
                }),
            )
            // with faults: submit together, follow, fetch
            // one layer for the whole faulty phase: the schedule counts every call of it
            const outcomes = yield* Effect.gen(function* () {
              const outcomes = yield* submitAll(apps)
              const { known } = outcomes
              for (const [i, job] of known.entries()) {
                if (job === undefined) continue
                const done = yield* Effect.either(
                  Lrms.awaitTermination(job, { max: "200 millis" }).pipe(
                    Effect.timeout("20 seconds"),
                  ),
                )
                if (Either.isRight(done)) {
                  known[i] = done.right
                  const to = `${dir}/got.${i}`
                  Deno.mkdirSync(to)
                  yield* Effect.either(Lrms.getResults(done.right, to))
                }
              }
              const record = yield* FaultyTransport.Faults
              for (const c of record.faulted()) {
                seen.faults++
                if (submitCall(c)) seen.submitFaults++
              }
              return outcomes
            }).pipe(Effect.provide(faulty))
            const { known, unknown } = outcomes
            seen.unknown += unknown.filter((u) => u !== undefined).length
            seen.refused += known.filter((k, i) => k === undefined && unknown[i] === undefined)
              .length
            // without faults: settle the unknown ones, follow every known job to its end
            yield* Effect.gen(function* () {
              yield* settleUnknown(outcomes, apps)
              for (const [i, job] of known.entries()) {
                if (job === undefined) continue
                known[i] = yield* Lrms.awaitTermination(job, { max: "200 millis" }).pipe(
                  Effect.timeout("30 seconds"),
                )
              }
            }).pipe(Effect.provide(clean))
            // a refused job must not start late either
            yield* Effect.sleep("300 millis")
            for (let i = 0; i < JOBS; i++) {
              const runs = countLines(`${dir}/runs.${i}`)
              strictEqual(
                runs,
                known[i] !== undefined ? 1 : 0,
                `job ${i}: ran ${runs} time(s); ${known[i] !== undefined ? "known" : "refused"}`,
              )
              const got = `${dir}/got.${i}`
              const entries = (() => {
                try {
                  return [...Deno.readDirSync(got)].map((e) => e.name)
                } catch {
                  return []
                }
              })()
              for (const e of entries) {
                strictEqual(e, "out.txt", `only whole outputs are left in ${got}: ${entries}`)
                strictEqual(Deno.readTextFileSync(`${got}/${e}`), "whole-output\n")
              }
            }
            yield* Effect.sync(() => Deno.removeSync(dir, { recursive: true }))
          }))),
        { numRuns: 15 },
      ).then(() => {
        console.log(`${name}: ${JSON.stringify(seen)}`)
        ok(seen.faults > 0 && seen.submitFaults > 0, "the schedules did inject faults")
      }),
  })
}
