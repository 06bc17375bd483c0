/**
 * Quantity: memory sizes and durations (spec §8.5), their parsers, formatters and schemas.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Quantity from "../src/Quantity.ts"

const right = <A>(e: Either.Either<A, string>, input: string): A => {
  if (Either.isLeft(e)) {
    throw new Error(`expected ${JSON.stringify(input)} to parse, got: ${e.left}`)
  }
  return e.right
}

const left = <A>(e: Either.Either<A, string>, input: string): string => {
  if (Either.isRight(e)) {
    throw new Error(`expected ${JSON.stringify(input)} to be refused, got ${String(e.right)}`)
  }
  return e.left
}

const bytes = (input: string): number => right(Quantity.parseMemory(input), input)
const millis = (input: string): number =>
  Duration.toMillis(right(Quantity.parseDuration(input), input))

// =============================================================================
// Memory
// =============================================================================

Deno.test("parseMemory: every unit of the module doc, at its documented factor", () => {
  const K = 1024
  const units: ReadonlyArray<readonly [string, number]> = [
    ["B", 1],
    ["kB", 1e3],
    ["MB", 1e6],
    ["GB", 1e9],
    ["TB", 1e12],
    ["PB", 1e15],
    ["KiB", K],
    ["MiB", K ** 2],
    ["GiB", K ** 3],
    ["TiB", K ** 4],
    ["PiB", K ** 5],
    // single letters are binary units, as SLURM, ps and most HPC tools print them
    ["K", K],
    ["M", K ** 2],
    ["G", K ** 3],
    ["T", K ** 4],
    ["P", K ** 5],
  ]
  for (const [unit, factor] of units) {
    for (const spelling of [unit, unit.toLowerCase(), unit.toUpperCase()]) {
      strictEqual(bytes(`3${spelling}`), 3 * factor, `3${spelling}`)
      strictEqual(bytes(`3 ${spelling}`), 3 * factor, `3 ${spelling}`)
      strictEqual(bytes(`  3  ${spelling}  `), 3 * factor, `padded 3 ${spelling}`)
    }
  }
})

Deno.test("parseMemory: the documented examples", () => {
  strictEqual(bytes("512MiB"), 512 * 1024 ** 2)
  strictEqual(bytes("4 GB"), 4_000_000_000)
  strictEqual(bytes("1.5G"), 1.5 * 1024 ** 3)
  strictEqual(bytes("7889776K"), 7889776 * 1024)
  // case-insensitive: GC3Pie refuses `2 gb`; we read it as 2 GB
  strictEqual(bytes("2 gb"), 2e9)
  strictEqual(bytes("0B"), 0)
  strictEqual(bytes(".5 KiB"), 512)
  strictEqual(bytes("1e3 kB"), 1e6)
  // fractions of a byte round to the nearest byte
  strictEqual(bytes("1.5 B"), 2)
})

Deno.test("parseMemory: refusals say what is wrong", () => {
  match(left(Quantity.parseMemory("4"), "4"), /has no unit/)
  match(left(Quantity.parseMemory("4"), "4"), /"4"/)
  const unknown = left(Quantity.parseMemory("4 XB"), "4 XB")
  match(unknown, /unknown memory unit "XB"/)
  match(unknown, /known: B, kB, MB/)
  match(left(Quantity.parseMemory("-4 GB"), "-4 GB"), /"-4 GB" is negative/)
  match(left(Quantity.parseMemory(""), ""), /cannot read "" as a memory size/)
  match(left(Quantity.parseMemory("GB"), "GB"), /cannot read/)
  match(left(Quantity.parseMemory("4 GB 2"), "4 GB 2"), /cannot read/)
  match(left(Quantity.parseMemory("1e300 PB"), "1e300 PB"), /too large/)
})

Deno.test("formatMemory: exact, in the unit with the smallest whole amount", () => {
  const cases: ReadonlyArray<readonly [number, string]> = [
    [0, "0B"],
    [1023, "1023B"],
    [1024, "1KiB"],
    [1000, "1kB"],
    [4 * 1024 ** 3, "4GiB"],
    [1536 * 1024 ** 2, "1536MiB"],
    [4e9, "4GB"],
    [1024 ** 5, "1PiB"],
    [2e15, "2PB"],
  ]
  for (const [n, text] of cases) strictEqual(Quantity.formatMemory(Quantity.memory(n)), text)
})

Deno.test("formatMemoryHuman: three significant digits in binary units", () => {
  strictEqual(Quantity.formatMemoryHuman(Quantity.memory(1.5 * 1024 ** 3)), "1.5 GiB")
  strictEqual(Quantity.formatMemoryHuman(Quantity.memory(1e6)), "977 KiB")
  strictEqual(Quantity.formatMemoryHuman(Quantity.memory(12)), "12 B")
})

Deno.test("memory: rounds to the nearest byte and clamps at 0", () => {
  strictEqual(Quantity.memory(1.4), 1)
  strictEqual(Quantity.memory(1.6), 2)
  strictEqual(Quantity.memory(-5), 0)
})

Deno.test("property: parseMemory(formatMemory(m)) === m", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.maxSafeNat(),
        // multiples of the units, so that every unit is chosen now and then
        fc.tuple(fc.nat({ max: 4096 }), fc.constantFrom(...Object.values(Quantity.memoryUnits)))
          .map(([n, f]) => n * f)
          .filter(Number.isSafeInteger),
      ),
      (n) => {
        const m = Quantity.memory(n)
        const text = Quantity.formatMemory(m)
        strictEqual(bytes(text), m, text)
      },
    ),
    { numRuns: 500 },
  )
})

Deno.test("MemoryFromInput: decodes strings and byte counts, refuses bad ones", () => {
  const decode = Schema.decodeUnknownEither(Quantity.MemoryFromInput)
  deepStrictEqual(decode("4 GB"), Either.right(4e9))
  deepStrictEqual(decode(2048), Either.right(2048))
  for (const bad of [-1, 1.5, Number.NaN, "4 XB", "4", null]) {
    ok(Either.isLeft(decode(bad)), `refuses ${String(bad)}`)
  }
  const err = decode("4 XB")
  ok(Either.isLeft(err))
  match(err.left.message, /unknown memory unit "XB"/)
  strictEqual(
    Schema.encodeSync(Quantity.MemoryFromInput)(Quantity.memory(1536 * 1024 ** 2)),
    "1536MiB",
  )
})

Deno.test("property: MemoryFromInput round trip (encode, then decode, is the identity)", () => {
  const encode = Schema.encodeSync(Quantity.MemoryFromInput)
  const decode = Schema.decodeUnknownSync(Quantity.MemoryFromInput)
  fc.assert(
    fc.property(Arbitrary.make(Quantity.MemoryFromInput), (m) => {
      const encoded = encode(m)
      strictEqual(typeof encoded, "string")
      strictEqual(decode(JSON.parse(JSON.stringify(encoded))), m)
    }),
  )
})

Deno.test("property: parseMemory never throws", () => {
  const alphabet = fc.constantFrom(
    ..."0123456789.eE+- kKmMgGtTpPiIbByYxX".split(""),
    "\t",
    "µ",
    "\u212a", // KELVIN SIGN, which case-folds to "k" under /iu
  )
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.fullUnicodeString(), fc.stringOf(alphabet, { maxLength: 16 })),
      (s) => {
        const r = Quantity.parseMemory(s)
        if (Either.isRight(r)) ok(Number.isSafeInteger(r.right) && r.right >= 0, s)
        else strictEqual(typeof r.left, "string")
      },
    ),
    { numRuns: 1000 },
  )
})

// =============================================================================
// Duration
// =============================================================================

const S = 1000
const MIN = 60 * S
const H = 60 * MIN
const D = 24 * H

Deno.test("parseDuration: the documented forms", () => {
  const cases: ReadonlyArray<readonly [string, number]> = [
    ["90 min", 90 * MIN],
    ["1h30m", H + 30 * MIN],
    ["1h, 30m", H + 30 * MIN],
    // GC3Pie reads only the first pair ("3h 42m" = 3 h, spec Appendix A quirk 25); summing every
    // pair is a deliberate fix of that quirk
    ["3h 42m", 3 * H + 42 * MIN],
    ["01:30:00", H + 30 * MIN],
    ["1:2:3", H + 2 * MIN + 3 * S],
    ["00:00:01.5", 1.5 * S],
    ["2-00:00:00", 2 * D],
    ["2-12", 2 * D + 12 * H],
    ["1-02:03", D + 2 * H + 3 * MIN],
    ["1:00:30:00", D + 30 * MIN],
    ["1.5 hours", 1.5 * H],
    ["1 day 4 hours 9 minutes 16 seconds", D + 4 * H + 9 * MIN + 16 * S],
    ["2 weeks", 14 * D],
    ["250ms", 250],
    ["  10 s  ", 10 * S],
    ["10 SECONDS", 10 * S],
  ]
  for (const [text, ms] of cases) strictEqual(millis(text), ms, text)
  // sub-millisecond precision is kept exactly
  strictEqual(
    Duration.unsafeToNanos(right(Quantity.parseDuration("1.000000001s"), "1.000000001s")),
    1_000_000_001n,
  )
  strictEqual(
    Duration.unsafeToNanos(right(Quantity.parseDuration("3us"), "3us")),
    3000n,
  )
})

Deno.test("parseDuration: refusals say what is wrong", () => {
  match(left(Quantity.parseDuration("01:30"), "01:30"), /"01:30" is ambiguous/)
  match(left(Quantity.parseDuration("8"), "8"), /"8" has no unit/)
  match(left(Quantity.parseDuration("8"), "8"), /8 hours/)
  match(left(Quantity.parseDuration(""), ""), /empty duration/)
  match(left(Quantity.parseDuration("   "), "   "), /empty duration/)
  match(left(Quantity.parseDuration("-1h"), "-1h"), /negative/)
  match(
    left(Quantity.parseDuration("5 fortnights"), "5 fortnights"),
    /unknown time unit "fortnights"/,
  )
  match(left(Quantity.parseDuration("soon"), "soon"), /cannot read "soon" as a duration/)
  match(left(Quantity.parseDuration("1h 30"), "1h 30"), /cannot read/)
})

Deno.test("formatDuration: days, hours, minutes and exact seconds", () => {
  strictEqual(Quantity.formatDuration(Duration.zero), "0s")
  strictEqual(Quantity.formatDuration(Duration.minutes(90)), "1h30m")
  strictEqual(Quantity.formatDuration(Duration.millis(D + 2 * H + 3 * MIN + 4500)), "1d2h3m4.5s")
  strictEqual(Quantity.formatDuration(Duration.nanos(1n)), "0.000000001s")
  strictEqual(Quantity.formatDuration(Duration.infinity), "infinity")
})

Deno.test("formatClock: [D-]HH:MM:SS, whole seconds rounded up", () => {
  strictEqual(Quantity.formatClock(Duration.zero), "00:00:00")
  strictEqual(Quantity.formatClock(Duration.minutes(90)), "01:30:00")
  strictEqual(Quantity.formatClock(Duration.millis(59_001)), "00:01:00")
  strictEqual(Quantity.formatClock(Duration.millis(2 * D + 1200)), "2-00:00:02")
  strictEqual(Quantity.formatClock(Duration.millis(D - 1000)), "23:59:59")
  strictEqual(Quantity.formatClock(Duration.hours(100)), "4-04:00:00")
})

Deno.test("property: formatClock output parses back to the duration rounded up to a second", () => {
  fc.assert(
    fc.property(fc.nat({ max: 400 * D }), (ms) => {
      const text = Quantity.formatClock(Duration.millis(ms))
      match(text, /^(\d+-)?\d{2}:\d{2}:\d{2}$/)
      strictEqual(millis(text), Math.ceil(ms / 1000) * 1000, text)
    }),
  )
})

Deno.test("property: parseDuration(formatDuration(d)) equals d for whole milliseconds", () => {
  fc.assert(
    fc.property(fc.nat({ max: 1000 * D }), (ms) => {
      const d = Duration.millis(ms)
      const text = Quantity.formatDuration(d)
      const back = right(Quantity.parseDuration(text), text)
      ok(Duration.equals(back, d), `${ms} ms -> ${text} -> ${Duration.format(back)}`)
    }),
    { numRuns: 500 },
  )
})

Deno.test("property: parseDuration(formatDuration(d)) equals d for whole nanoseconds", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (ns) => {
      const d = Duration.nanos(ns)
      const text = Quantity.formatDuration(d)
      strictEqual(Duration.unsafeToNanos(right(Quantity.parseDuration(text), text)), ns, text)
    }),
  )
})

Deno.test("DurationFromInput: decodes strings and Durations, refuses bad ones", () => {
  const decode = Schema.decodeUnknownEither(Quantity.DurationFromInput)
  const hour = decode("1 hour")
  ok(Either.isRight(hour) && Duration.equals(hour.right, Duration.hours(1)))
  const same = decode(Duration.seconds(5))
  ok(Either.isRight(same) && Duration.equals(same.right, Duration.seconds(5)))
  for (const bad of ["01:30", "8", Duration.infinity, 42, null]) {
    ok(Either.isLeft(decode(bad)), `refuses ${String(bad)}`)
  }
  const err = decode("01:30")
  ok(Either.isLeft(err))
  match(err.left.message, /ambiguous/)
  strictEqual(Schema.encodeSync(Quantity.DurationFromInput)(Duration.minutes(90)), "1h30m")
})

Deno.test("property: DurationFromInput round trip (encode, then decode, is the identity)", () => {
  const encode = Schema.encodeSync(Quantity.DurationFromInput)
  const decode = Schema.decodeUnknownSync(Quantity.DurationFromInput)
  fc.assert(
    fc.property(Arbitrary.make(Quantity.DurationFromInput), (d) => {
      const encoded = encode(d)
      strictEqual(typeof encoded, "string")
      const back = decode(JSON.parse(JSON.stringify(encoded)))
      ok(Duration.equals(back, d), `${encoded} -> ${Duration.format(back)}`)
    }),
  )
})

Deno.test("property: parseDuration never throws", () => {
  const alphabet = fc.constantFrom(
    ..."0123456789.:-+, smhdwSMHDWinoursecayk".split(""),
    "µ",
    "\u039c", // GREEK CAPITAL MU, the upper case of µ
    "\t",
  )
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.fullUnicodeString(), fc.stringOf(alphabet, { maxLength: 20 })),
      (s) => {
        const r = Quantity.parseDuration(s)
        if (Either.isRight(r)) ok(Duration.isFinite(r.right), s)
        else strictEqual(typeof r.left, "string")
      },
    ),
    { numRuns: 1000 },
  )
})
