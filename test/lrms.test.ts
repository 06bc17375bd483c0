import { ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { LrmsError } from "../src/LrmsError.ts"
import * as Quantity from "../src/Quantity.ts"
import * as Resource from "../src/Resource.ts"
import * as Batcher from "../src/internal/batcher.ts"
import { runFailure, runTest } from "./_effect.ts"

// ---- type level: guarded operations need Auth -------------------------------------------------
type Requirements<T> = T extends Effect.Effect<infer _A, infer _E, infer R> ? R : never
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false
const _submitNeedsAuth: Equals<
  Requirements<ReturnType<typeof Lrms.submitJob>>,
  Lrms.Lrms | Auth.Auth
> = true
const _statusNeedsAuth: Equals<Requirements<typeof Lrms.getResourceStatus>, Lrms.Lrms | Auth.Auth> =
  true
export const typeChecks = (app: Application.Application): void => {
  const withoutAuth = Lrms.submitJob(app).pipe(Effect.provide(Layer.empty as Layer.Layer<never>))
  // @ts-expect-error a guarded call cannot run without Auth in its context
  const _refused: Effect.Effect<Job.Job, LrmsError, Lrms.Lrms> = withoutAuth
}

// ---- a minimal backend to test what Lrms.make derives -----------------------------------------
const resource: Resource.Resource = {
  name: "fake",
  type: "fake",
  architecture: ["x86_64"],
  maxCores: 4,
  maxCoresPerJob: 2,
  maxMemoryPerCore: Quantity.memory(1_000_000_000),
  maxWalltime: Duration.hours(1),
  enabled: true,
}

const fakeLayer = (
  checks: { count: number },
  authFails = false,
  update: Lrms.Implementation["updateJobState"] = (j) =>
    Effect.succeed(Job.transition(j, "TERMINATING")),
) => {
  const impl: Lrms.Implementation = {
    resource,
    protocols: ["file"],
    submitJob: (a) =>
      Effect.succeed(
        Job.transition(
          Job.update(Job.make({ resourceName: "fake", backend: "fake", application: a }), {
            nativeId: "1",
          }),
          "SUBMITTED",
        ),
      ),
    updateJobState: update,
    cancelJob: (j) => Effect.succeed(j),
    free: () => Effect.void,
    getResourceStatus: Effect.sync(() =>
      new Resource.ResourceStatus({
        freeSlots: 4,
        userRun: 0,
        userQueued: 0,
        queued: 0,
        totalRun: 0,
        updatedAt: new Date(),
      })
    ),
    files: { transport: undefined as never, fileSystem: undefined as never },
  }
  return Layer.merge(
    Layer.succeed(Lrms.Lrms, Lrms.make(impl)),
    Auth.layer({
      label: "counting",
      credential: { _tag: "None" },
      check: Effect.suspend(() => {
        checks.count++
        return authFails
          ? Effect.fail(
            new LrmsError({
              reason: "AuthenticationFailed",
              backend: "auth",
              operation: "check",
              description: "expired",
            }),
          )
          : Effect.void
      }),
    }),
  )
}

Deno.test("Lrms.make: every guarded call consults Auth, and a refused check stops the call", async () => {
  const checks = { count: 0 }
  await runTest(
    Effect.gen(function* () {
      const a = yield* Application.make({ arguments: ["true"] })
      const job = yield* Lrms.submitJob(a)
      yield* Lrms.updateJobState(job)
      yield* Lrms.getResourceStatus
    }).pipe(Effect.provide(fakeLayer(checks))),
  )
  strictEqual(checks.count, 3)
  const refused = await runFailure(
    Effect.gen(function* () {
      return yield* Lrms.submitJob(yield* Application.make({ arguments: ["true"] }))
    }).pipe(Effect.provide(fakeLayer({ count: 0 }, true))),
  )
  strictEqual(refused.reason, "AuthenticationFailed")
})

Deno.test("Lrms.make: cancel marks the job TERMINATED with the Cancelled signal", () =>
  runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* Application.make({ arguments: ["true"] }))
      const c = yield* Lrms.cancelJob(job)
      strictEqual(c.state, "TERMINATED")
      strictEqual(c.termination?.signal, 121)
      // a finished job is left as it is
      strictEqual((yield* Lrms.cancelJob(c)).state, "TERMINATED")
    }).pipe(Effect.provide(fakeLayer({ count: 0 }))),
  ))

Deno.test("Lrms.make: validateData accepts only the backend's schemes", () =>
  runTest(
    Effect.gen(function* () {
      const lrms = yield* Lrms.Lrms
      ok(lrms.validateData(["/tmp/x", "file:///y", "relative/path"]))
      ok(!lrms.validateData(["/tmp/x", "sftp://host/y"]))
      ok(lrms.validateData([]))
    }).pipe(Effect.provide(fakeLayer({ count: 0 }))),
  ))

Deno.test("Lrms.make: submitJob checks the resource's limits, naming the field", async () => {
  for (
    const [input, field] of [
      [{ arguments: ["true"], requestedCores: 3 }, "requestedCores"],
      [{ arguments: ["true"], requestedCores: 2, requestedMemory: "3 GB" }, "requestedMemory"],
      [{ arguments: ["true"], requestedWalltime: "2 hours" }, "requestedWalltime"],
      [{ arguments: ["true"], requestedArchitecture: "aarch64" }, "requestedArchitecture"],
      [{ arguments: ["true"], outputs: { x: "https://example.org/x" } }, "outputs.0.destination"],
    ] as const
  ) {
    const e = await runFailure(
      Effect.gen(function* () {
        return yield* Lrms.submitJob(yield* Application.make(input))
      }).pipe(Effect.provide(fakeLayer({ count: 0 }))),
    )
    ok(e.message.includes(field), `${field}: ${e.message}`)
  }
})

Deno.test("awaitTermination polls until the job is done", () =>
  runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* Application.make({ arguments: ["true"] }))
      const seen: Array<string> = []
      const done = yield* Lrms.awaitTermination(job, {
        onChange: (j) => Effect.sync(() => seen.push(j.state)),
      })
      strictEqual(done.state, "TERMINATING")
      strictEqual(seen.join(), "TERMINATING")
    }).pipe(Effect.provide(fakeLayer({ count: 0 }))),
  ))

Deno.test("awaitTermination backs off on the Clock: under a TestClock, no real waiting", async () => {
  const polls: Array<number> = []
  const slow = (j: Job.Job) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      polls.push(now)
      return polls.length < 8 ? j : Job.transition(j, "TERMINATING")
    })
  const started = performance.now()
  const done = await runTest(
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* Application.make({ arguments: ["true"] }))
      const waiting = yield* Effect.fork(
        Lrms.awaitTermination(job, { initial: "1 second", max: "3 seconds" }),
      )
      for (let i = 0; i < 20 && polls.length < 8; i++) yield* TestClock.adjust("1 second")
      return yield* Fiber.join(waiting)
    }).pipe(
      Effect.provide(fakeLayer({ count: 0 }, false, slow)),
      Effect.provide(TestContext.TestContext),
    ),
  )
  strictEqual(done.state, "TERMINATING")
  // waits of 1 s, growing by half, capped at 3 s: 1, 1.5, 2.25, then 3 s each
  const gaps = polls.slice(1).map((t, i) => t - polls[i]!)
  const expected = [1000, 1500, 2250, 3000, 3000, 3000, 3000]
  // a wait ends at the first whole second the TestClock reaches past it
  gaps.forEach((g, i) => ok(g >= expected[i]! && g < expected[i]! + 1000, `gaps ${gaps}`))
  ok(performance.now() - started < 5000, "20 s of waits took no real time")
})

Deno.test("awaitTermination polls on through recoverable failures, not through others", async () => {
  const flaky = (failures: Array<LrmsError>) => (j: Job.Job) =>
    Effect.suspend(() => {
      const next = failures.shift()
      return next !== undefined
        ? Effect.fail(next)
        : Effect.succeed(Job.transition(j, "TERMINATING"))
    })
  const lost = () =>
    new LrmsError({
      reason: "ConnectionLost",
      backend: "fake",
      operation: "x",
      description: "drop",
    })
  const wait = (failures: Array<LrmsError>, tolerated?: number) =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* Application.make({ arguments: ["true"] }))
      return yield* Lrms.awaitTermination(job, {
        initial: "1 millis",
        ...(tolerated !== undefined ? { recoverableFailures: tolerated } : {}),
      })
    }).pipe(Effect.provide(fakeLayer({ count: 0 }, false, flaky(failures))))
  strictEqual((await runTest(wait([lost(), lost()]))).state, "TERMINATING")
  strictEqual((await runFailure(wait([lost(), lost()], 1))).reason, "ConnectionLost")
  const bad = new LrmsError({
    reason: "InvalidArgument",
    backend: "fake",
    operation: "x",
    description: "no",
  })
  strictEqual((await runFailure(wait([bad]))).reason, "InvalidArgument")
})

Deno.test("batcher: requests from many fibers within the window share one call", () =>
  runTest(
    Effect.gen(function* () {
      const calls: Array<ReadonlyArray<number>> = []
      const ask = yield* Batcher.make<number, string, never>({
        name: "test.ask",
        window: "10 millis",
        maxBatch: 3,
        missing: "missing",
        run: (keys) =>
          Effect.sync(() => {
            calls.push(keys)
            return new Map(keys.filter((k) => k !== 99).map((k) => [k, `v${k}`]))
          }),
      })
      const answers = yield* Effect.forEach([1, 2, 2, 3, 4, 99], (k) => ask(k), {
        concurrency: "unbounded",
      }).pipe(Effect.provide(Auth.none))
      strictEqual(answers.join(), "v1,v2,v2,v3,v4,missing")
      strictEqual(calls.length, 2, "5 distinct keys in chunks of 3")
      strictEqual(calls.flat().length, 5)
    }),
  ))
