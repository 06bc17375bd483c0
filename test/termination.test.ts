/**
 * Termination: the POSIX 16-bit status, shell exits and GC3Pie's pseudo-signals (spec §2.3).
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Termination from "../src/Termination.ts"

const pair = (t: Termination.Termination) => ({ exitCode: t.exitCode, signal: t.signal })

Deno.test("exited / signalled mask like GC3Pie's setters (0xff, 0x7f)", () => {
  deepStrictEqual(pair(Termination.exited(3)), { exitCode: 3, signal: 0 })
  deepStrictEqual(pair(Termination.exited(-1)), { exitCode: 255, signal: 0 })
  deepStrictEqual(pair(Termination.exited(256 + 7)), { exitCode: 7, signal: 0 })
  deepStrictEqual(pair(Termination.signalled(9)), { exitCode: null, signal: 9 })
  deepStrictEqual(pair(Termination.signalled(15, 75)), { exitCode: 75, signal: 15 })
  deepStrictEqual(pair(Termination.signalled(128 + 9)), { exitCode: null, signal: 9 })
})

Deno.test("toPosix: exitCode << 8 | signal, a missing exit code counts as 255", () => {
  strictEqual(Termination.toPosix(Termination.exited(0)), 0)
  strictEqual(Termination.toPosix(Termination.exited(3)), 768)
  strictEqual(Termination.toPosix(Termination.signalled(15)), (255 << 8) | 15)
  strictEqual(Termination.toPosix(Termination.signalled(122, 75)), (75 << 8) | 122)
})

Deno.test("fromPosix: decodes the 16-bit status; exit 255 with a signal means no exit code", () => {
  deepStrictEqual(pair(Termination.fromPosix(768)), { exitCode: 3, signal: 0 })
  deepStrictEqual(pair(Termination.fromPosix(0)), { exitCode: 0, signal: 0 })
  deepStrictEqual(pair(Termination.fromPosix((255 << 8) | 9)), { exitCode: null, signal: 9 })
  deepStrictEqual(pair(Termination.fromPosix((75 << 8) | 122)), { exitCode: 75, signal: 122 })
  deepStrictEqual(pair(Termination.fromPosix(255 << 8)), { exitCode: 255, signal: 0 })
  // the core-dump bit (0x80) is never part of the signal
  deepStrictEqual(pair(Termination.fromPosix(0x80 | 11)), { exitCode: 0, signal: 11 })
})

Deno.test("property: toPosix(fromPosix(s)) === s for every status without the core-dump bit", () => {
  for (let s = 0; s <= 0xffff; s++) {
    if ((s & 0x80) !== 0) continue
    const back = Termination.toPosix(Termination.fromPosix(s))
    if (back !== s) throw new Error(`status ${s} came back as ${back}`)
  }
})

Deno.test("property: fromPosix(toPosix(t)) equals t, unless 255 stands for a missing code", () => {
  fc.assert(
    fc.property(Arbitrary.make(Termination.Termination), (t) => {
      const back = Termination.fromPosix(Termination.toPosix(t))
      if (t.exitCode === null && t.signal === 0) {
        // "no exit code and no signal" is not a status a process can have: it reads as exit 255
        deepStrictEqual(pair(back), { exitCode: 255, signal: 0 })
      } else if (t.signal !== 0 && t.exitCode === 255) {
        deepStrictEqual(pair(back), { exitCode: null, signal: t.signal })
      } else {
        deepStrictEqual(pair(back), pair(t))
      }
    }),
    { numRuns: 500 },
  )
})

Deno.test("fromShellExit: GC3Pie's shellexit_to_returncode", () => {
  deepStrictEqual(pair(Termination.fromShellExit(137)), { exitCode: null, signal: 9 })
  deepStrictEqual(pair(Termination.fromShellExit(143)), { exitCode: null, signal: 15 })
  deepStrictEqual(pair(Termination.fromShellExit(75)), { exitCode: 75, signal: 0 })
  deepStrictEqual(pair(Termination.fromShellExit(0)), { exitCode: 0, signal: 0 })
  // 128 itself is an exit code, not "signal 0"
  deepStrictEqual(pair(Termination.fromShellExit(128)), { exitCode: 128, signal: 0 })
  deepStrictEqual(pair(Termination.fromShellExit(129)), { exitCode: null, signal: 1 })
  // only the low byte counts
  deepStrictEqual(pair(Termination.fromShellExit(256 + 3)), { exitCode: 3, signal: 0 })
  deepStrictEqual(pair(Termination.fromShellExit(256 + 137)), { exitCode: null, signal: 9 })
})

Deno.test("property: fromShellExit is total and agrees with the rule rc & 0xff > 128", () => {
  fc.assert(
    fc.property(fc.integer({ min: -70000, max: 70000 }), (rc) => {
      const t = Termination.fromShellExit(rc)
      const v = rc & 0xff
      if (v > 128) deepStrictEqual(pair(t), { exitCode: null, signal: v - 128 })
      else deepStrictEqual(pair(t), { exitCode: v, signal: 0 })
      ok(Either.isRight(Schema.validateEither(Termination.Termination)(t)))
    }),
  )
})

Deno.test("pseudo-signals 120-125", () => {
  deepStrictEqual(Termination.Signals, {
    Lost: 120,
    Cancelled: 121,
    RemoteKill: 122,
    DataStagingFailure: 123,
    RemoteError: 124,
    SubmissionFailed: 125,
  })
  for (let s = 0; s < 128; s++) {
    strictEqual(Termination.isPseudoSignal(s), s >= 120 && s <= 125, `signal ${s}`)
  }
  strictEqual(Termination.EX_TEMPFAIL, 75)
})

Deno.test("isSuccess: exit code 0 and no signal only", () => {
  ok(Termination.isSuccess(Termination.exited(0)))
  ok(!Termination.isSuccess(Termination.exited(1)))
  ok(!Termination.isSuccess(Termination.signalled(9)))
  ok(!Termination.isSuccess(Termination.signalled(9, 0)))
})

Deno.test("describe: says how the job ended", () => {
  strictEqual(Termination.describe(Termination.exited(3)), "exited with code 3")
  strictEqual(Termination.describe(Termination.exited(0)), "exited with code 0")
  strictEqual(Termination.describe(Termination.signalled(9)), "terminated by signal 9 (SIGKILL)")
  strictEqual(Termination.describe(Termination.signalled(15)), "terminated by signal 15 (SIGTERM)")
  strictEqual(Termination.describe(Termination.signalled(33)), "terminated by signal 33")
  strictEqual(
    Termination.describe(Termination.signalled(Termination.Signals.Cancelled)),
    "abnormal termination: Cancelled",
  )
  strictEqual(
    Termination.describe(Termination.signalled(Termination.Signals.RemoteKill, 75)),
    "abnormal termination: RemoteKill (exit code 75)",
  )
  for (const [name, signal] of Object.entries(Termination.Signals)) {
    match(Termination.describe(Termination.signalled(signal)), new RegExp(`abnormal.*${name}`))
  }
})

Deno.test("Termination schema: refuses out-of-range values", () => {
  const decode = Schema.decodeUnknownEither(Termination.Termination)
  ok(Either.isRight(decode({ exitCode: 0, signal: 0 })))
  ok(Either.isRight(decode({ exitCode: null, signal: 9 })))
  for (
    const bad of [
      { exitCode: 256, signal: 0 },
      { exitCode: -1, signal: 0 },
      { exitCode: 0, signal: 128 },
      { exitCode: 1.5, signal: 0 },
      { signal: 0 },
    ]
  ) ok(Either.isLeft(decode(bad)), JSON.stringify(bad))
})

Deno.test("property: Termination schema round trip through JSON", () => {
  const encode = Schema.encodeSync(Termination.Termination)
  const decode = Schema.decodeUnknownSync(Termination.Termination)
  const eq = Schema.equivalence(Termination.Termination)
  fc.assert(
    fc.property(Arbitrary.make(Termination.Termination), (t) => {
      const back = decode(JSON.parse(JSON.stringify(encode(t))))
      ok(back instanceof Termination.Termination)
      ok(eq(back, t), JSON.stringify(encode(t)))
    }),
  )
})

Deno.test("signalNumber reads signal names with or without SIG", () => {
  strictEqual(Termination.signalNumber("SIGKILL"), 9)
  strictEqual(Termination.signalNumber("TERM"), 15)
  strictEqual(Termination.signalNumber("NOPE"), undefined)
})
