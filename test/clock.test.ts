/**
 * Time comes from Effect's `Clock`: under a `TestClock` the bookkeeping lock's staleness and
 * shellcmd's walltime enforcement move when the test moves the clock, with no real waiting for
 * their 10 s and 10 min limits. (The grace window and awaitTermination's backoff have theirs in
 * batch.test.ts and lrms.test.ts.)
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as RunState from "../src/RunState.ts"
import * as Termination from "../src/Termination.ts"
import * as MemoryTransport from "../src/testing/MemoryTransport.ts"
import { app, runTest, tempDir } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"

/** Lets real work (processes, files) make progress for a moment, outside the TestClock. */
const realPause = Effect.promise(() => new Promise((r) => setTimeout(r, 20)))

Deno.test("clock: a stale bookkeeping claim is broken after staleAfter by the Clock, not before", () =>
  runTest(
    Effect.gen(function* () {
      const memory = MemoryTransport.make()
      const store = Bookkeeping.make(memory, "/bk", { staleAfter: "10 seconds" })
      // a claim whose holder died: its heartbeat never moves again
      memory.seedFile("/bk/.lock.d/deadbeefdeadbeefdeadbeefdeadbeef~3", "")
      const fiber = yield* Effect.fork(store.withLock(Effect.succeed("held")))
      for (let i = 0; i < 9; i++) {
        yield* TestClock.adjust("1 second")
        yield* realPause
      }
      ok(Option.isNone(yield* Fiber.poll(fiber)), "the lock was taken before the claim was stale")
      ok(memory.readFile("/bk/.lock.d/deadbeefdeadbeefdeadbeefdeadbeef~3") !== undefined)
      while (Option.isNone(yield* Fiber.poll(fiber))) {
        yield* TestClock.adjust("1 second")
        yield* realPause
      }
      strictEqual(yield* Fiber.join(fiber), "held")
      strictEqual(memory.readFile("/bk/.lock.d/deadbeefdeadbeefdeadbeefdeadbeef~3"), undefined)
    }).pipe(Effect.provide(Auth.none), Effect.provide(TestContext.TestContext)),
  ))

Deno.test({
  name: "clock: a shellcmd job past its walltime by the Clock is killed (RemoteKill), not before",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-clock-")
      const local = Shellcmd.layer(localConfig(dir, 2, { name: "clocked" })).pipe(
        Layer.provide(LocalTransport.layer),
        Layer.merge(Auth.none),
      )
      const ended = yield* Effect.gen(function* () {
        const job = yield* Lrms.submitJob(
          yield* app({ arguments: ["sleep", "600"], requestedWalltime: "10 minutes" }),
        )
        yield* TestClock.adjust("9 minutes")
        const before = yield* Lrms.updateJobState(job)
        ok(!RunState.isDone(before.state), `ended before its walltime: ${before.state}`)
        yield* TestClock.adjust("2 minutes")
        // the kill waits out its TERM grace on the Clock too: move it along until the poll ends
        const fiber = yield* Effect.fork(Lrms.updateJobState(before))
        while (Option.isNone(yield* Fiber.poll(fiber))) {
          yield* TestClock.adjust("1 second")
          yield* realPause
        }
        const after = yield* Fiber.join(fiber)
        yield* Lrms.free(after)
        return after
      }).pipe(Effect.provide(local), Effect.provide(TestContext.TestContext))
      strictEqual(ended.state, "TERMINATING")
      strictEqual(ended.termination?.signal, Termination.Signals.RemoteKill)
      ok(
        ended.history.some((h) => h.message.includes("Walltime of 10m exceeded")),
        JSON.stringify(ended.history),
      )
    })),
})
