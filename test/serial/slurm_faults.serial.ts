/**
 * Fault test of the SLURM backend: it stops and restarts slurmctld, so it runs on its own, after
 * the parallel tests (see the `test` task).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Application from "../../src/Application.ts"
import * as Auth from "../../src/Auth.ts"
import * as Lrms from "../../src/Lrms.ts"
import * as Termination from "../../src/Termination.ts"
import { runTest, tempDir } from "../_effect.ts"
import { localLayer, slurmCtl, slurmTest } from "../_slurm.ts"

Deno.test({
  name:
    "slurm faults: slurmctld stopped mid-run → recoverable error, job not lost; back → its state",
  ...slurmTest,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-slurm-fault-")
      // the queue is asked at most once a second here, so the stopped controller is seen soon
      const layer = Layer.merge(
        localLayer({ spooldir: `${dir}/spool`, queueStatInterval: "1 second" }),
        Auth.none,
      )
      yield* Effect.gen(function* () {
        const app = yield* Effect.orDie(
          Application.make({ arguments: ["sh", "-c", "sleep 8; echo done"], stdout: "out.txt" }),
        )
        let job = yield* Lrms.submitJob(app)
        while (job.state === "SUBMITTED") {
          yield* Effect.sleep("100 millis")
          job = yield* Lrms.updateJobState(job)
        }
        strictEqual(job.state, "RUNNING")
        yield* Effect.sync(() => slurmCtl("stop-ctld"))
        // polls answered from the queue's last answer keep the job as it is; the first poll
        // that asks the stopped controller fails, recoverably
        const err = yield* Effect.flip(
          Lrms.updateJobState(job).pipe(
            Effect.flatMap((j) =>
              j.state === "RUNNING"
                ? Effect.fail("unchanged" as const)
                : Effect.die(`the job moved to ${j.state} while slurmctld was stopped`)
            ),
            Effect.retry({
              while: (e) => e === "unchanged",
              schedule: Schedule.spaced("250 millis"),
              times: 40,
            }),
            Effect.catchIf((e) => e === "unchanged", () => Effect.die("no poll failed in 10 s")),
          ),
        )
        strictEqual(err.reason, "CommandFailed")
        strictEqual(err.recoverable, true)
        ok(/controller|connect/i.test(err.message), err.message)
        yield* Effect.sync(() => slurmCtl("start-ctld"))
        // the job ran on while the controller was away: its end comes back
        const done = yield* Lrms.awaitTermination(job, { max: "500 millis" }).pipe(
          Effect.retry({ times: 20, while: (e) => e.recoverable }),
          Effect.timeout("120 seconds"),
        )
        strictEqual(done.state, "TERMINATING")
        deepStrictEqual(done.termination, Termination.exited(0))
        const out = `${dir}/out`
        yield* Effect.sync(() => Deno.mkdirSync(out))
        yield* Lrms.getResults(done, out)
        strictEqual(Deno.readTextFileSync(`${out}/out.txt`), "done\n")
        yield* Lrms.free(done)
      }).pipe(
        Effect.provide(layer),
        // whatever happened, leave slurmctld running for whatever runs next
        Effect.ensuring(Effect.sync(() => slurmCtl("start-ctld"))),
      )
    })),
})
