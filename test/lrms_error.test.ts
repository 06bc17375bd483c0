/**
 * LrmsError: the one error family, its reasons and retry-ability (spec §9).
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Auth from "../src/Auth.ts"
import * as LrmsError from "../src/LrmsError.ts"
import { run } from "../src/Transport.ts"
import * as MemoryTransport from "../src/testing/MemoryTransport.ts"
import { runFailure } from "./_effect.ts"

const RECOVERABLE = new Set(["ConnectionLost", "Timeout", "MaximumCapacityReached"])

Deno.test("recoverable defaults per reason", () => {
  strictEqual(Object.keys(LrmsError.defaultRecoverable).length, LrmsError.Reason.literals.length)
  for (const reason of LrmsError.Reason.literals) {
    const e = new LrmsError.LrmsError({ reason, backend: "b", operation: "op" })
    strictEqual(e.recoverable, RECOVERABLE.has(reason), reason)
    strictEqual(e.recoverable, LrmsError.defaultRecoverable[reason], reason)
  }
})

Deno.test("recoverable can be overridden either way", () => {
  const e1 = new LrmsError.LrmsError({
    reason: "CommandFailed",
    backend: "b",
    operation: "op",
    recoverable: true,
  })
  strictEqual(e1.recoverable, true)
  const e2 = new LrmsError.LrmsError({
    reason: "Timeout",
    backend: "b",
    operation: "op",
    recoverable: false,
  })
  strictEqual(e2.recoverable, false)
  const e3 = new LrmsError.LrmsError({
    reason: "Timeout",
    backend: "b",
    operation: "op",
    recoverable: undefined,
  })
  strictEqual(e3.recoverable, true)
})

Deno.test("message: reason, backend.operation and description", () => {
  const e = new LrmsError.LrmsError({
    reason: "MaximumCapacityReached",
    backend: "shellcmd",
    operation: "submitJob",
    description: "2 cores requested, 0 free",
  })
  strictEqual(e.message, "MaximumCapacityReached in shellcmd.submitJob: 2 cores requested, 0 free")
  strictEqual(e._tag, "LrmsError")
  ok(e instanceof Error)
  const bare = LrmsError.make("UnknownJob", "slurm", "updateJobState")
  strictEqual(bare.message, "UnknownJob in slurm.updateJobState")
  strictEqual(bare.description, undefined)
  ok(!("description" in bare), "an absent description is not set")
  ok(!("cause" in bare), "an absent cause is not set")
  match(String(e), /MaximumCapacityReached in shellcmd\.submitJob/)
})

Deno.test("make: the shorthand keeps every field", () => {
  const cause = new Error("boom")
  const e = LrmsError.make("ConnectionLost", "ssh", "exec", "reset by peer", cause)
  strictEqual(e.reason, "ConnectionLost")
  strictEqual(e.backend, "ssh")
  strictEqual(e.operation, "exec")
  strictEqual(e.description, "reset by peer")
  strictEqual(e.cause, cause)
  strictEqual(e.recoverable, true)
})

Deno.test("isLrmsError", () => {
  ok(LrmsError.isLrmsError(LrmsError.make("Timeout", "b", "o")))
  for (const other of [new Error("x"), { reason: "Timeout" }, null, undefined, "LrmsError", 1]) {
    ok(!LrmsError.isLrmsError(other), String(other))
  }
})

Deno.test("an LrmsError is an Effect failure that catchTag can handle", async () => {
  const failing = Effect.fail(LrmsError.make("MaximumCapacityReached", "shellcmd", "submitJob"))
  const e = await runFailure(failing)
  strictEqual(e.reason, "MaximumCapacityReached")
  const handled = Effect.runSync(
    failing.pipe(Effect.catchTag("LrmsError", (err) => Effect.succeed(err.recoverable))),
  )
  strictEqual(handled, true)
})

Deno.test("schema: encode and decode keep reason, recoverable, description", () => {
  const encode = Schema.encodeSync(LrmsError.LrmsError)
  const decode = Schema.decodeUnknownSync(LrmsError.LrmsError)
  const e = new LrmsError.LrmsError({
    reason: "CommandFailed",
    backend: "local",
    operation: "exec",
    description: "exit 2",
    recoverable: true,
  })
  const encoded = encode(e)
  deepStrictEqual(
    { ...encoded },
    {
      _tag: "LrmsError",
      reason: "CommandFailed",
      backend: "local",
      operation: "exec",
      description: "exit 2",
      recoverable: true,
    },
  )
  const back = decode(JSON.parse(JSON.stringify(encoded)))
  ok(LrmsError.isLrmsError(back))
  strictEqual(back.reason, "CommandFailed")
  strictEqual(back.recoverable, true)
  strictEqual(back.description, "exit 2")
  strictEqual(back.message, e.message)
})

Deno.test("property: schema round trip of any LrmsError", () => {
  const encode = Schema.encodeSync(LrmsError.LrmsError)
  const decode = Schema.decodeUnknownSync(LrmsError.LrmsError)
  fc.assert(
    fc.property(Arbitrary.make(LrmsError.LrmsError), (e) => {
      const back = decode(JSON.parse(JSON.stringify(encode(e))))
      ok(LrmsError.isLrmsError(back))
      strictEqual(back.reason, e.reason)
      strictEqual(back.recoverable, e.recoverable)
      strictEqual(back.description, e.description)
      strictEqual(back.backend, e.backend)
      strictEqual(back.operation, e.operation)
      strictEqual(back.message, e.message)
      deepStrictEqual(
        [back.command, back.exitCode, back.stderr, back.host, back.jobId],
        [e.command, e.exitCode, e.stderr, e.host, e.jobId],
      )
    }),
    { numRuns: 1000 },
  )
})

Deno.test("property: a built error's recoverable is the override, else the default", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...LrmsError.Reason.literals),
      fc.option(fc.boolean(), { nil: undefined }),
      (reason, recoverable) => {
        const e = new LrmsError.LrmsError({ reason, backend: "b", operation: "o", recoverable })
        strictEqual(e.recoverable, recoverable ?? LrmsError.defaultRecoverable[reason])
      },
    ),
  )
})

Deno.test("data fields: a failed command's program, exit code, stderr tail and host", async () => {
  const transport = MemoryTransport.make({
    exec: () => ({ exitCode: 3, signal: null, stdout: "", stderr: `${"x".repeat(5000)}the end\n` }),
  })
  const e = await runFailure(
    Effect.provide(
      run(transport, ["sbatch", "--comment=secret-argument", "job.sh"], { backend: "slurm" }),
      Auth.none,
    ),
  )
  strictEqual(e.reason, "CommandFailed")
  deepStrictEqual(
    { command: e.command, exitCode: e.exitCode, host: e.host, tail: e.stderr?.endsWith("the end") },
    { command: "sbatch", exitCode: 3, host: transport.host, tail: true },
  )
  strictEqual(e.stderr?.length, LrmsError.STDERR_TAIL, "a bounded tail")
  ok(!JSON.stringify(e).includes("secret-argument"), "no argument among the fields")
  const back = Schema.decodeUnknownSync(LrmsError.LrmsError)(
    Schema.encodeSync(LrmsError.LrmsError)(e),
  )
  deepStrictEqual(
    [back.command, back.exitCode, back.stderr, back.host],
    [e.command, e.exitCode, e.stderr, e.host],
  )
})
