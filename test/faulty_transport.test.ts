/**
 * FaultyTransport: every fault over the in-memory transport and over the real local transport
 * (a lost reply leaves the command's effect exactly once, `fail`/`drop` leave nothing, `hang`
 * times out under TestClock without real waiting), how schedules pick calls, the layer, the
 * `faultSchedule` arbitrary and its shrinking, and a property: over MemoryTransport, for any
 * schedule, each call either gives what the unwrapped transport gives or fails as injected.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Auth from "../src/Auth.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import { FaultyTransport, MemoryTransport } from "../src/testing.ts"
import { Transport, type TransportShape } from "../src/Transport.ts"
import { runFailure, runTest, tempDir } from "./_effect.ts"

type Fx<A> = Effect.Effect<A, LrmsError, Auth.Auth>

const run = <A>(effect: Fx<A>): Promise<A> => runTest(Effect.provide(effect, Auth.none))
const fail = <A>(effect: Fx<A>): Promise<LrmsError> => runFailure(Effect.provide(effect, Auth.none))
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(b)

const T0 = new Date("2021-02-03T04:05:06Z")
const echoStub: MemoryTransport.ExecStub = (argv, options) => ({
  exitCode: argv.length,
  signal: null,
  stdout: `${argv.join(" ")}|${typeof options.stdin === "string" ? options.stdin : ""}`,
  stderr: "",
})
const memory = () => MemoryTransport.make({ now: () => T0, exec: echoStub })

/** Asserts an injected error: reason, backend `faulty`, operation, recoverable. */
const assertInjected = (
  e: LrmsError,
  reason: "ConnectionLost" | "Timeout",
  operation: string,
) => {
  strictEqual(e.reason, reason, e.message)
  strictEqual(e.backend, "faulty")
  strictEqual(e.operation, operation)
  strictEqual(e.recoverable, true)
}

/**
 * Runs an effect in a fiber and advances the TestClock a minute at a time until it ends: a
 * `hang` completes in test time, not real time.
 */
const driven = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* Effect.yieldNow()
      yield* TestClock.adjust("1 minute")
    }
    return yield* Fiber.join(fiber)
  })

// =============================================================================
// Each fault over MemoryTransport
// =============================================================================

Deno.test("FaultyTransport: the empty schedule passes every call through and records it", async () => {
  const inner = memory()
  const t = FaultyTransport.wrap(inner, [])
  strictEqual(t.kind, "memory")
  strictEqual(t.host, "memory")
  await run(t.writeFile("a.txt", "alpha"))
  strictEqual(text(await run(t.readRange("a.txt", 0))), "alpha")
  strictEqual(await run(t.homeDirectory), "/home/user")
  strictEqual((await run(t.exec(["echo", "hi"]))).stdout, "echo hi|")
  strictEqual((await fail(t.stat("missing"))).reason, "NotFound") // the inner's own error
  deepStrictEqual(
    t.calls.map((c) => [c.index, c.operationIndex, c.operation, c.fault, c.innerCalled]),
    [
      [0, 0, "writeFile", undefined, true],
      [1, 0, "readRange", undefined, true],
      [2, 0, "homeDirectory", undefined, true],
      [3, 0, "exec", undefined, true],
      [4, 0, "stat", undefined, true],
    ],
  )
  ok(t.calls.every((c) => c.exit !== undefined && c.innerExit !== undefined))
  ok(Exit.isFailure(t.calls[4]!.exit!))
  deepStrictEqual(t.calls[3]!.argv, ["echo", "hi"])
  deepStrictEqual(t.faulted(), [])
})

Deno.test("FaultyTransport: fail and drop fail with ConnectionLost and never reach the inner", async () => {
  for (const fault of ["fail", "drop"] as const) {
    const inner = memory()
    const t = FaultyTransport.wrap(inner, [{ operation: "writeFile", fault }])
    const e = await fail(t.writeFile("a.txt", "alpha"))
    assertInjected(e, "ConnectionLost", "writeFile")
    ok(e.message.includes(`injected ${fault}`), e.message)
    strictEqual(inner.readFile("a.txt"), undefined)
    const rec = t.calls[0]!
    strictEqual(rec.fault, fault)
    strictEqual(rec.rule, 0)
    strictEqual(rec.innerCalled, false)
    strictEqual(rec.innerExit, undefined)
    ok(rec.exit !== undefined && Exit.isFailure(rec.exit))
    // the next write goes through
    await run(t.writeFile("a.txt", "again"))
    strictEqual(text(inner.readFile("a.txt")), "again")
    strictEqual(t.faulted().length, 1)
  }
})

Deno.test("FaultyTransport: lostReply runs the inner to completion, then fails with ConnectionLost", async () => {
  const inner = memory()
  const t = FaultyTransport.wrap(inner, [
    { operation: "writeFile", fault: "lostReply" },
    { operation: "stat", fault: "lostReply" },
    { operation: "exec", fault: "lostReply" },
  ])
  assertInjected(await fail(t.writeFile("a.txt", "alpha")), "ConnectionLost", "writeFile")
  strictEqual(text(inner.readFile("a.txt")), "alpha") // it landed
  // the inner's failure is lost too: the caller sees ConnectionLost, the record keeps NotFound
  assertInjected(await fail(t.stat("missing")), "ConnectionLost", "stat")
  assertInjected(await fail(t.exec(["sbatch", "job.sh"])), "ConnectionLost", "exec")
  deepStrictEqual(inner.execCalls.map((c) => c.argv), [["sbatch", "job.sh"]])
  const [w, s, x] = t.calls
  ok(w!.innerCalled && s!.innerCalled && x!.innerCalled)
  ok(Exit.isSuccess(w!.innerExit!))
  const statExit = s!.innerExit!
  ok(Exit.isFailure(statExit))
  strictEqual(Option.getOrThrow(Cause.failureOption(statExit.cause)).reason, "NotFound")
  deepStrictEqual(
    x!.innerExit,
    Exit.succeed({
      exitCode: 2,
      signal: null,
      stdout: "sbatch job.sh|",
      stderr: "",
    }),
  )
})

Deno.test("FaultyTransport: hang fails with Timeout when the TestClock passes hangFor, inner not called", async () => {
  const inner = memory()
  const t = FaultyTransport.wrap(inner, [
    { operation: "writeFile", fault: "hang" },
    { operation: "exec", fault: "hang", hangFor: "10 minutes" },
  ])
  const started = performance.now()
  await runTest(
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(t.writeFile("a.txt", "alpha"))
      while ((yield* TestClock.sleeps()).length === 0) yield* Effect.yieldNow()
      yield* TestClock.adjust("29 seconds") // the default hangTimeout is 30 seconds
      strictEqual(Option.isNone(yield* Fiber.poll(fiber)), true)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      ok(Exit.isFailure(exit))
      assertInjected(Option.getOrThrow(Cause.failureOption(exit.cause)), "Timeout", "writeFile")

      // an exec's own shorter timeout wins over hangFor, with the local transport's wording
      const e = yield* Effect.flip(driven(t.exec(["sleep", "1"], { timeout: "5 seconds" })))
      assertInjected(e, "Timeout", "exec")
      ok(e.message.includes("sleep did not finish within 5 seconds"), e.message)
      strictEqual(yield* TestClock.currentTimeMillis, 30_000 + 60_000) // driven: 1-minute steps
    }).pipe(Effect.provide(Auth.none), Effect.provide(TestContext.TestContext)),
  )
  ok(performance.now() - started < 5_000, "no real waiting")
  strictEqual(inner.readFile("a.txt"), undefined)
  deepStrictEqual(inner.execCalls, [])
  ok(t.calls.every((c) => c.fault === "hang" && !c.innerCalled))
})

Deno.test("FaultyTransport: a hang can be interrupted; the record keeps the interruption", async () => {
  const t = FaultyTransport.wrap(memory(), [{ fault: "hang", hangFor: "1 day" }])
  await runTest(
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(t.stat("/"))
      while ((yield* TestClock.sleeps()).length === 0) yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Auth.none), Effect.provide(TestContext.TestContext)),
  )
  const exit = t.calls[0]!.exit!
  ok(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause))
})

Deno.test("FaultyTransport: downFor keeps the host unreachable for the next k calls of any operation", async () => {
  const inner = memory()
  const t = FaultyTransport.wrap(inner, [
    {
      operation: "exec",
      match: FaultyTransport.stdinIncludes("sbatch"),
      fault: "lostReply",
      downFor: 3,
    },
  ])
  await run(t.writeFile("job.sh", "#!/bin/sh\n"))
  assertInjected(
    await fail(t.exec(["/bin/sh", "-s"], { stdin: "sbatch job.sh" })),
    "ConnectionLost",
    "exec",
  )
  strictEqual(t.downRemaining(), 3)
  assertInjected(await fail(t.stat("job.sh")), "ConnectionLost", "stat")
  assertInjected(await fail(t.exec(["squeue"])), "ConnectionLost", "exec")
  assertInjected(await fail(t.homeDirectory), "ConnectionLost", "homeDirectory")
  strictEqual(t.downRemaining(), 0)
  strictEqual((await run(t.stat("job.sh"))).type, "File")
  deepStrictEqual(t.calls.map((c) => c.fault), [
    undefined,
    "lostReply",
    "down",
    "down",
    "down",
    undefined,
  ])
  // only the submission reached the far side while the host was down
  deepStrictEqual(inner.execCalls.map((c) => c.argv), [["/bin/sh", "-s"]])
  deepStrictEqual(t.faulted().map((c) => c.index), [1, 2, 3, 4])
})

// =============================================================================
// How a schedule picks calls
// =============================================================================

/** Runs `n` stats, `n` execs alternating (stat, exec, stat, ...), returns the faulted indices. */
const pick = async (schedule: FaultyTransport.FaultSchedule, n = 5) => {
  const t = FaultyTransport.wrap(memory(), schedule)
  for (let i = 0; i < n; i++) {
    await runTest(Effect.exit(Effect.provide(t.stat("/"), Auth.none)))
    await runTest(
      Effect.exit(Effect.provide(t.exec(i % 2 === 0 ? ["/bin/sh", "-c", "x"] : ["ls"]), Auth.none)),
    )
  }
  return t.calls.filter((c) => c.fault !== undefined).map((c) => [c.index, c.fault])
}

Deno.test("FaultyTransport: at counts every call, or one operation's calls, or the matching ones", async () => {
  deepStrictEqual(await pick([{ at: 3, fault: "fail" }]), [[3, "fail"]])
  deepStrictEqual(await pick([{ operation: "exec", at: 1, fault: "drop" }]), [[3, "drop"]])
  deepStrictEqual(await pick([{ operation: ["stat", "exec"], at: 2, fault: "drop" }]), [[
    2,
    "drop",
  ]])
  // the exec calls whose argv[0] is /bin/sh are exec calls 0, 2, 4 (calls 1, 5, 9)
  deepStrictEqual(
    await pick([{ match: FaultyTransport.execOf("/bin/sh"), at: 1, fault: "lostReply" }]),
    [[5, "lostReply"]],
  )
  deepStrictEqual(await pick([{ match: FaultyTransport.execOf("sh"), fault: "fail" }]), [[
    1,
    "fail",
  ]])
  deepStrictEqual(
    await pick([{ match: FaultyTransport.commandIncludes("-c"), at: 2, fault: "fail" }]),
    [[
      9,
      "fail",
    ]],
  )
  // times, and times: Infinity
  deepStrictEqual(await pick([{ operation: "stat", at: 3, times: 2, fault: "fail" }]), [
    [6, "fail"],
    [8, "fail"],
  ])
  deepStrictEqual(
    (await pick([{ operation: "exec", at: 2, times: Infinity, fault: "fail" }])).map(([i]) => i),
    [5, 7, 9],
  )
})

Deno.test("FaultyTransport: the first applicable rule wins, every matching rule counts the call", async () => {
  deepStrictEqual(
    await pick([{ at: 2, fault: "fail" }, { operation: "stat", at: 1, fault: "drop" }]),
    [[2, "fail"]], // call 2 is stat 1: both rules apply, the first wins; the second is spent
  )
  // a rule whose turn falls while the host is down is not applied
  deepStrictEqual(await pick([{ at: 0, fault: "drop", downFor: 2 }, { at: 2, fault: "fail" }]), [
    [0, "drop"],
    [1, "down"],
    [2, "down"],
  ])
  deepStrictEqual(await pick([{ at: 9, fault: "drop", downFor: 5 }]), [[9, "drop"]])
})

Deno.test("FaultyTransport.wrap: a malformed schedule throws", () => {
  const inner = memory()
  throws(() => FaultyTransport.wrap(inner, [{ fault: "explode" as "fail" }]), TypeError)
  throws(
    () => FaultyTransport.wrap(inner, [{ fault: "fail", operation: "open" as "exec" }]),
    TypeError,
  )
  throws(() => FaultyTransport.wrap(inner, [{ fault: "fail", at: -1 }]), RangeError)
  throws(() => FaultyTransport.wrap(inner, [{ fault: "fail", at: 1.5 }]), RangeError)
  throws(() => FaultyTransport.wrap(inner, [{ fault: "fail", at: Infinity }]), RangeError)
  throws(() => FaultyTransport.wrap(inner, [{ fault: "fail", times: -1 }]), RangeError)
  throws(() => FaultyTransport.wrap(inner, [{ fault: "fail", downFor: NaN }]), RangeError)
  FaultyTransport.wrap(inner, [{ fault: "fail", times: Infinity, downFor: Infinity }])
})

Deno.test("FaultyTransport.layer: wraps the Transport of the context and provides Faults", async () => {
  const inner = memory()
  const layer = FaultyTransport.layer([{ operation: "mkdir", fault: "drop" }], {
    backend: "ssh",
  }).pipe(Layer.provide(Layer.succeed(Transport, inner as TransportShape)))
  const [e, faults] = await runTest(
    Effect.gen(function* () {
      const t = yield* Transport
      const e = yield* Effect.flip(t.mkdir("d"))
      yield* t.mkdir("d")
      return [e, yield* FaultyTransport.Faults] as const
    }).pipe(Effect.provide(layer), Effect.provide(Auth.none)),
  )
  strictEqual(e.reason, "ConnectionLost")
  strictEqual(e.backend, "ssh")
  strictEqual(inner.lookup("d")?.type, "Directory")
  strictEqual(faults.inner, inner)
  deepStrictEqual(faults.calls.map((c) => c.fault), ["drop", undefined])
})

// =============================================================================
// Over the real local transport
// =============================================================================

const localTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({
    name: `FaultyTransport over LocalTransport: ${name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  })

/** The local transport, a temporary directory, and an append command on a file in it. */
const withLocal = <A, E>(
  body: (
    local: TransportShape,
    file: string,
    append: ReadonlyArray<string>,
  ) => Effect.Effect<A, E, Auth.Auth>,
): Promise<A> =>
  runTest(
    Effect.gen(function* () {
      const dir = yield* tempDir("effect-lrms-faulty-")
      const local = yield* Transport
      const file = `${dir}/file`
      return yield* body(local, file, ["sh", "-c", `echo x >> '${file}'`])
    }).pipe(Effect.provide(LocalTransport.layer), Effect.provide(Auth.none)),
  )

const readIfAny = (path: string) => {
  try {
    return Deno.readTextFileSync(path)
  } catch {
    return undefined
  }
}

localTest(
  "lostReply on `sh -c 'echo x >> file'` writes the file exactly once",
  () =>
    withLocal((local, file, append) =>
      Effect.gen(function* () {
        const t = FaultyTransport.wrap(local, [{ operation: "exec", fault: "lostReply" }])
        const e = yield* Effect.flip(t.exec(append))
        assertInjected(e, "ConnectionLost", "exec")
        strictEqual(readIfAny(file), "x\n")
        const rec = t.calls[0]!
        ok(rec.innerCalled)
        deepStrictEqual(
          rec.innerExit,
          Exit.succeed({ exitCode: 0, signal: null, stdout: "", stderr: "" }),
        )
        // a caller that retries blindly appends twice: the reason reconciliation exists
        yield* t.exec(append)
        strictEqual(readIfAny(file), "x\nx\n")
      })
    ),
)

localTest(
  "fail and drop leave the file unwritten; the retry writes it once",
  () =>
    withLocal((local, file, append) =>
      Effect.gen(function* () {
        for (const fault of ["fail", "drop"] as const) {
          const t = FaultyTransport.wrap(local, [{ operation: "exec", fault }])
          assertInjected(yield* Effect.flip(t.exec(append)), "ConnectionLost", "exec")
          strictEqual(readIfAny(file), undefined)
          strictEqual(t.calls[0]!.innerCalled, false)
        }
        const t = FaultyTransport.wrap(local, [{ operation: "exec", fault: "drop", downFor: 2 }])
        const attempt = t.exec(append).pipe(
          Effect.retry({ times: 5, while: (e) => e.reason === "ConnectionLost" }),
        )
        yield* attempt
        strictEqual(readIfAny(file), "x\n")
        deepStrictEqual(t.calls.map((c) => c.fault), ["drop", "down", "down", undefined])
      })
    ),
)

localTest(
  "hang under TestClock fails with Timeout without real waiting, file unwritten",
  async () => {
    const started = performance.now()
    await withLocal((local, file, append) =>
      Effect.gen(function* () {
        const t = FaultyTransport.wrap(local, [{
          operation: "exec",
          fault: "hang",
          hangFor: "1 hour",
        }])
        const e = yield* Effect.flip(driven(t.exec(append)))
        assertInjected(e, "Timeout", "exec")
        strictEqual(readIfAny(file), undefined)
        strictEqual(t.calls[0]!.innerCalled, false)
        // the next call reaches the real machine
        strictEqual((yield* t.exec(append)).exitCode, 0)
        strictEqual(readIfAny(file), "x\n")
      }).pipe(Effect.provide(TestContext.TestContext))
    )
    ok(performance.now() - started < 10_000, "no real waiting")
  },
)

localTest(
  "lostReply on writeFile and on put leaves the real files in place",
  () =>
    withLocal((local, file) =>
      Effect.gen(function* () {
        const t = FaultyTransport.wrap(local, [
          { operation: ["writeFile", "put"], times: 2, fault: "lostReply" },
        ])
        assertInjected(yield* Effect.flip(t.writeFile(file, "data")), "ConnectionLost", "writeFile")
        strictEqual(readIfAny(file), "data")
        assertInjected(yield* Effect.flip(t.put(file, `${file}.copy`)), "ConnectionLost", "put")
        strictEqual(readIfAny(`${file}.copy`), "data")
        yield* t.remove(`${file}.copy`)
        strictEqual(readIfAny(`${file}.copy`), undefined)
      })
    ),
)

// =============================================================================
// The arbitrary
// =============================================================================

const matchers = {
  sh: FaultyTransport.execOf("/bin/sh"),
  sbatch: FaultyTransport.stdinIncludes("sbatch"),
}

Deno.test("faultSchedule: generates valid schedules within the bounds, a fair share empty", () => {
  let empty = 0
  let total = 0
  const seenFaults = new Set<string>()
  fc.assert(
    fc.property(
      FaultyTransport.faultSchedule({ matchers, maxIndex: 7, maxDownFor: 2, hangFor: "1 second" }),
      (schedule) => {
        total++
        if (schedule.length === 0) empty++
        FaultyTransport.wrap(memory(), schedule) // validates
        ok(schedule.length <= 3)
        for (const rule of schedule) {
          seenFaults.add(rule.fault)
          ok((FaultyTransport.faults as ReadonlyArray<string>).includes(rule.fault))
          ok(rule.at === undefined || (rule.at >= 1 && rule.at <= 7))
          ok(rule.times === undefined || rule.times === 2)
          ok(rule.downFor === undefined || (rule.downFor >= 1 && rule.downFor <= 2))
          ok(
            rule.match === undefined ||
              ["sh", "sbatch"].includes(fc.stringify(rule.match)),
          )
          strictEqual(rule.hangFor !== undefined, rule.fault === "hang")
        }
      },
    ),
    { numRuns: 400 },
  )
  ok(empty > total / 10 && empty < total / 2, `${empty} empty of ${total}`)
  deepStrictEqual([...seenFaults].sort(), ["drop", "fail", "hang", "lostReply"])
})

Deno.test("faultSchedule: respects faults and operations; shrinks to the simplest failing schedule", () => {
  fc.assert(
    fc.property(
      FaultyTransport.faultSchedule({ faults: ["drop"], operations: ["exec"] }),
      (schedule) =>
        schedule.every((r) =>
          r.fault === "drop" && (r.operation === undefined || r.operation === "exec")
        ),
    ),
  )
  // any non-empty schedule "fails": the counterexample shrinks to one rule with every default
  const found = fc.check(
    fc.property(FaultyTransport.faultSchedule({ matchers }), (s) => s.length === 0),
    { seed: 42 },
  )
  ok(found.failed)
  deepStrictEqual(found.counterexample, [[{ fault: "fail" }]])
  // a property that fails on a lost reply after the third call shrinks to exactly that
  const lost = fc.check(
    fc.property(
      FaultyTransport.faultSchedule({ matchers }),
      (s) => !s.some((r) => r.fault === "lostReply" && (r.at ?? 0) >= 3),
    ),
    { seed: 7, numRuns: 1000 },
  )
  ok(lost.failed)
  deepStrictEqual(lost.counterexample, [[{ fault: "lostReply", at: 3 }]])
})

// =============================================================================
// Property: over MemoryTransport, a call gives what the unwrapped one gives, or fails as injected
// =============================================================================

type Op =
  | { readonly op: "writeFile"; readonly path: string; readonly data: string }
  | { readonly op: "readRange"; readonly path: string }
  | { readonly op: "stat"; readonly path: string }
  | { readonly op: "list"; readonly path: string }
  | { readonly op: "mkdir"; readonly path: string }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "rename"; readonly from: string; readonly to: string }
  | { readonly op: "chmod"; readonly path: string; readonly mode: number }
  | { readonly op: "homeDirectory" }
  | { readonly op: "exec"; readonly argv: ReadonlyArray<string>; readonly stdin?: string }

const pathArb = fc.constantFrom("a", "b", "d", "d/a", "d/e/f", "/tmp/x")
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("writeFile" as const), path: pathArb, data: fc.string() }),
  fc.record({ op: fc.constant("readRange" as const), path: pathArb }),
  fc.record({ op: fc.constant("stat" as const), path: pathArb }),
  fc.record({ op: fc.constant("list" as const), path: pathArb }),
  fc.record({ op: fc.constant("mkdir" as const), path: pathArb }),
  fc.record({ op: fc.constant("remove" as const), path: pathArb }),
  fc.record({ op: fc.constant("rename" as const), from: pathArb, to: pathArb }),
  fc.record({
    op: fc.constant("chmod" as const),
    path: pathArb,
    mode: fc.constantFrom(0o600, 0o755),
  }),
  fc.constant({ op: "homeDirectory" as const }),
  fc.record({
    op: fc.constant("exec" as const),
    argv: fc.constantFrom(["/bin/sh", "-s"], ["squeue"], ["sh", "-c", "sbatch x"]),
    stdin: fc.constantFrom("sbatch job.sh", "echo hi"),
  }),
)

const perform = (t: TransportShape, op: Op): Fx<unknown> => {
  switch (op.op) {
    case "writeFile":
      return t.writeFile(op.path, op.data)
    case "readRange":
      return t.readRange(op.path, 0)
    case "stat":
      return t.stat(op.path)
    case "list":
      return t.list(op.path)
    case "mkdir":
      return t.mkdir(op.path)
    case "remove":
      return t.remove(op.path, { recursive: true })
    case "rename":
      return t.rename(op.from, op.to)
    case "chmod":
      return t.chmod(op.path, op.mode)
    case "homeDirectory":
      return t.homeDirectory
    case "exec":
      return t.exec(op.argv, op.stdin !== undefined ? { stdin: op.stdin } : {})
  }
}

/** An exit, comparable: the value, or the error's reason, backend and description. */
const outcome = (exit: Exit.Exit<unknown, LrmsError>) =>
  Exit.isSuccess(exit) ? { ok: exit.value } : Option.match(Cause.failureOption(exit.cause), {
    onNone: () => ({ defect: Cause.pretty(exit.cause) }),
    onSome: (e) => ({ reason: e.reason, backend: e.backend, description: e.description }),
  })

/**
 * The faults the schedule must give, from the rules as documented, for calls of these
 * operations in order: a rule's counted calls are the earlier and current calls it matches.
 */
const modelFaults = (
  schedule: FaultyTransport.FaultSchedule,
  calls: ReadonlyArray<FaultyTransport.Call>,
): ReadonlyArray<string | undefined> => {
  const out: Array<string | undefined> = []
  let downUntil = -1 // calls with index ≤ downUntil are down
  const matches = (rule: FaultyTransport.FaultRule, c: FaultyTransport.Call) =>
    (rule.operation === undefined || [rule.operation].flat().includes(c.operation)) &&
    (rule.match === undefined || rule.match(c))
  calls.forEach((c, i) => {
    if (i <= downUntil) return out.push("down")
    const rule = schedule.find((r) => {
      if (!matches(r, c)) return false
      const n = calls.slice(0, i).filter((earlier) => matches(r, earlier)).length
      return n >= (r.at ?? 0) && n < (r.at ?? 0) + (r.times ?? 1)
    })
    if (rule === undefined) return out.push(undefined)
    downUntil = i + (rule.downFor ?? 0)
    out.push(rule.fault)
  })
  return out
}

Deno.test("property: over MemoryTransport every call succeeds as unwrapped or fails as injected", async () => {
  const seen = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(
      FaultyTransport.faultSchedule({ matchers, maxIndex: 10 }),
      fc.array(opArb, { maxLength: 14 }),
      async (schedule, ops) => {
        const reference = memory()
        const inner = memory()
        const t = FaultyTransport.wrap(inner, schedule)
        await runTest(
          Effect.gen(function* () {
            for (const [i, op] of ops.entries()) {
              const got = yield* Effect.exit(driven(perform(t, op)))
              const rec = t.calls[i]!
              strictEqual(rec.operation, op.op)
              deepStrictEqual(outcome(rec.exit!), outcome(got))
              switch (rec.fault) {
                case undefined: {
                  ok(rec.innerCalled)
                  const want = yield* Effect.exit(perform(reference, op))
                  deepStrictEqual(outcome(got), outcome(want))
                  break
                }
                case "lostReply": {
                  // the far side ran it exactly as the unwrapped transport would
                  ok(rec.innerCalled)
                  const want = yield* Effect.exit(perform(reference, op))
                  deepStrictEqual(outcome(rec.innerExit!), outcome(want))
                  ok(Exit.isFailure(got))
                  assertInjected(
                    Option.getOrThrow(Cause.failureOption(got.cause)),
                    "ConnectionLost",
                    op.op,
                  )
                  break
                }
                default: {
                  strictEqual(rec.innerCalled, false)
                  ok(Exit.isFailure(got))
                  assertInjected(
                    Option.getOrThrow(Cause.failureOption(got.cause)),
                    rec.fault === "hang" ? "Timeout" : "ConnectionLost",
                    op.op,
                  )
                }
              }
            }
          }).pipe(Effect.provide(Auth.none), Effect.provide(TestContext.TestContext)),
        )
        strictEqual(t.calls.length, ops.length)
        deepStrictEqual(t.calls.map((c) => c.fault), modelFaults(schedule, t.calls))
        // the far side saw exactly the calls that reached it
        deepStrictEqual(inner.snapshot(), reference.snapshot())
        deepStrictEqual(inner.execCalls, reference.execCalls)
        if (schedule.length === 0) deepStrictEqual(t.faulted(), [])
        for (const c of t.calls) seen.set(String(c.fault), (seen.get(String(c.fault)) ?? 0) + 1)
      },
    ),
    {
      numRuns: 200,
      // besides the random runs, one of each fault with a down host after it
      examples: FaultyTransport.faults.map((fault): [FaultyTransport.FaultSchedule, Array<Op>] => [
        [{ fault, at: 1, downFor: 2 }],
        [
          { op: "writeFile", path: "a", data: "x" },
          { op: "exec", argv: ["/bin/sh", "-s"], stdin: "sbatch job.sh" },
          { op: "stat", path: "a" },
          { op: "homeDirectory" },
          { op: "readRange", path: "a" },
        ],
      ]),
    },
  )
  // the runs exercised every fault, and most calls went through
  deepStrictEqual([...seen.keys()].sort(), [
    "down",
    "drop",
    "fail",
    "hang",
    "lostReply",
    "undefined",
  ])
  const faultedCalls = [...seen].filter(([k]) => k !== "undefined").reduce((n, [, v]) => n + v, 0)
  ok(seen.get("undefined")! > faultedCalls, JSON.stringify([...seen]))
})
