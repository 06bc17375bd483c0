/**
 * Quantities: memory sizes in bytes and wall-clock durations, with parsers, formatters and schemas.
 *
 * Memory units: `B`; decimal `kB MB GB TB PB` (1000^n); binary `KiB MiB GiB TiB PiB` (1024^n);
 * and the single letters `K M G T P`, which mean binary units, as SLURM, `ps` and most HPC tools
 * print them. Unit names are matched without regard to case (`4 gb` = `4 GB`).
 *
 * Durations are effect `Duration`s. The parser reads `90 min`, `1h30m`, `3h 42m` (every pair is
 * summed; GC3Pie reads only the first), `1.5 hours`, `01:30:00`, `1:00:30:00` (days first),
 * `2-00:00:00` and `2-12` (SLURM's day forms). `MM:SS`-looking `01:30` is refused as ambiguous,
 * and a bare number is refused because it has no unit.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Duration, Either } from "effect"
 * import { Quantity } from "effect-lrms"
 *
 * deepStrictEqual(Quantity.parseMemory("4 GiB"), Either.right(4294967296))
 * const d = Quantity.parseDuration("1h30m")
 * deepStrictEqual(Either.map(d, Duration.toSeconds), Either.right(5400))
 * deepStrictEqual(Quantity.formatMemory(Quantity.memory(1536 * 1024 * 1024)), "1536MiB")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Brand from "effect/Brand"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

// =============================================================================
// Memory
// =============================================================================

/**
 * A non-negative whole number of bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Memory = number & Brand.Brand<"Memory">

/**
 * The schema of a {@linkcode Memory} value itself (a branded non-negative integer of bytes).
 *
 * @since 0.1.0
 * @category models
 */
export const MemoryBytes: Schema.brand<Schema.filter<typeof Schema.Number>, "Memory"> = Schema
  .Number.pipe(
    Schema.filter((n) => Number.isSafeInteger(n) && n >= 0, {
      message: (issue) => `expected a whole, non-negative number of bytes, got ${issue.actual}`,
      arbitrary: () => (fc) => fc.nat({ max: 2 ** 50 }),
    }),
    Schema.brand("Memory"),
  )

/**
 * Makes a {@linkcode Memory} from a number of bytes, rounding to the nearest byte.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memory = (bytes: number): Memory => Math.max(0, Math.round(bytes)) as Memory

const KIB = 1024
/**
 * Byte counts of the memory units the parser knows, keyed by lower-case unit name.
 *
 * @since 0.1.0
 * @category models
 */
export const memoryUnits: Readonly<Record<string, number>> = {
  "b": 1,
  "byte": 1,
  "bytes": 1,
  "kb": 1e3,
  "mb": 1e6,
  "gb": 1e9,
  "tb": 1e12,
  "pb": 1e15,
  "kib": KIB,
  "mib": KIB ** 2,
  "gib": KIB ** 3,
  "tib": KIB ** 4,
  "pib": KIB ** 5,
  "k": KIB,
  "m": KIB ** 2,
  "g": KIB ** 3,
  "t": KIB ** 4,
  "p": KIB ** 5,
}

const memoryRe = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]+)?\s*$/i

/**
 * Parses a memory size such as `512MiB`, `4 GB`, `1.5G` or `7889776K`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMemory = (input: string): Either.Either<Memory, string> => {
  const m = memoryRe.exec(input)
  if (m === null) {
    return Either.left(
      `cannot read ${JSON.stringify(input)} as a memory size (expected a number and a unit, ` +
        `e.g. "512 MiB", "4 GB", "1.5G")`,
    )
  }
  const amount = Number(m[1])
  const unitName = m[2]
  if (unitName === undefined) {
    return Either.left(
      `memory size ${JSON.stringify(input)} has no unit (use B, kB, MB, GB, TB, KiB, MiB, GiB, ` +
        `TiB, or K/M/G/T for binary units)`,
    )
  }
  const factor = memoryUnits[unitName.toLowerCase()]
  if (factor === undefined) {
    return Either.left(
      `unknown memory unit ${JSON.stringify(unitName)} in ${JSON.stringify(input)} (known: B, ` +
        `kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB, K, M, G, T, P)`,
    )
  }
  if (amount < 0) return Either.left(`memory size ${JSON.stringify(input)} is negative`)
  const bytes = amount * factor
  if (!Number.isFinite(bytes) || bytes > Number.MAX_SAFE_INTEGER) {
    return Either.left(`memory size ${JSON.stringify(input)} is too large`)
  }
  return Either.right(memory(bytes))
}

const exactUnits: ReadonlyArray<readonly [string, number]> = [
  ["PiB", KIB ** 5],
  ["PB", 1e15],
  ["TiB", KIB ** 4],
  ["TB", 1e12],
  ["GiB", KIB ** 3],
  ["GB", 1e9],
  ["MiB", KIB ** 2],
  ["MB", 1e6],
  ["KiB", KIB],
  ["kB", 1e3],
]

/**
 * Formats a memory size exactly, in the unit that gives the smallest whole amount
 * (`4GiB`, `1536MiB`, `4GB`, `1023B`). `parseMemory(formatMemory(m)) === m` for every `m`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const formatMemory = (bytes: Memory): string => {
  if (bytes === 0) return "0B"
  let best: readonly [string, number] | undefined
  for (const unit of exactUnits) {
    if (bytes % unit[1] === 0 && (best === undefined || bytes / unit[1] < bytes / best[1])) {
      best = unit
    }
  }
  return best === undefined ? `${bytes}B` : `${bytes / best[1]}${best[0]}`
}

/**
 * Formats a memory size for people, rounded to three significant digits in binary units
 * (`1.5 GiB`, `977 KiB`).
 *
 * @since 0.1.0
 * @category conversions
 */
export const formatMemoryHuman = (bytes: Memory): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
  let v = bytes as number
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : Number(v.toPrecision(3))} ${units[i]}`
}

/**
 * A memory size decoded from a string (`"4 GB"`) or a number of bytes, and encoded as the exact
 * string of {@linkcode formatMemory}.
 *
 * @since 0.1.0
 * @category models
 */
export const MemoryFromInput: Schema.Schema<Memory, string | number> = Schema.transformOrFail(
  Schema.Union(Schema.String, Schema.Number),
  MemoryBytes,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number") {
        return Number.isSafeInteger(input) && input >= 0
          ? ParseResult.succeed(input)
          : ParseResult.fail(
            new ParseResult.Type(
              ast,
              input,
              `expected a whole, non-negative number of bytes, got ${input}`,
            ),
          )
      }
      return Either.match(parseMemory(input), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
        onRight: (m) => ParseResult.succeed(m as number),
      })
    },
    encode: (m) => ParseResult.succeed(formatMemory(m as Memory)),
  },
).annotations({ identifier: "Memory", description: 'a memory size such as "4 GB" or "512MiB"' })

// =============================================================================
// Duration
// =============================================================================

const NANOS: Readonly<Record<string, bigint>> = (() => {
  const ns = 1n
  const us = 1000n
  const ms = 1_000_000n
  const s = 1_000_000_000n
  const m = 60n * s
  const h = 60n * m
  const d = 24n * h
  const w = 7n * d
  const table: Record<string, bigint> = {}
  const add = (names: ReadonlyArray<string>, v: bigint) => names.forEach((n) => (table[n] = v))
  add(["ns", "nanos", "nano", "nanosec", "nanosecs", "nanosecond", "nanoseconds"], ns)
  add(["us", "µs", "micros", "micro", "microsec", "microsecs", "microsecond", "microseconds"], us)
  add(["ms", "millis", "milli", "millisec", "millisecs", "millisecond", "milliseconds"], ms)
  add(["s", "sec", "secs", "second", "seconds"], s)
  add(["m", "min", "mins", "minute", "minutes"], m)
  add(["h", "hr", "hrs", "hour", "hours"], h)
  add(["d", "day", "days"], d)
  add(["w", "wk", "wks", "week", "weeks"], w)
  return table
})()

const SECOND = 1_000_000_000n

/** Converts a decimal string and a unit in nanoseconds to whole nanoseconds, exactly. */
const decimalToNanos = (amount: string, unit: bigint): bigint => {
  const [int = "0", frac = ""] = amount.split(".")
  const whole = BigInt(int === "" ? "0" : int) * unit
  if (frac === "") return whole
  const scale = 10n ** BigInt(frac.length)
  return whole + (BigInt(frac) * unit) / scale
}

const pairRe = /(\d+(?:\.\d*)?|\.\d+)\s*([a-zµ]+)\s*,?\s*/giy
const dayDashRe = /^(\d+)-(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?)?$/
const colonRe = /^(?:(\d+):)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/

/**
 * Parses a wall-clock duration (`90 min`, `1h30m`, `3h 42m`, `01:30:00`, `2-00:00:00`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (input: string): Either.Either<Duration.Duration, string> => {
  const s = input.trim()
  const quoted = JSON.stringify(input)
  if (s === "") return Either.left("empty duration")
  let m = dayDashRe.exec(s)
  if (m !== null) {
    const [, d, h, mi, se] = m
    const nanos = BigInt(d!) * 86400n * SECOND + BigInt(h!) * 3600n * SECOND +
      BigInt(mi ?? "0") * 60n * SECOND + decimalToNanos(se ?? "0", SECOND)
    return Either.right(Duration.nanos(nanos))
  }
  m = colonRe.exec(s)
  if (m !== null) {
    const [, d, h, mi, se] = m
    const nanos = BigInt(d ?? "0") * 86400n * SECOND + BigInt(h!) * 3600n * SECOND +
      BigInt(mi!) * 60n * SECOND + decimalToNanos(se!, SECOND)
    return Either.right(Duration.nanos(nanos))
  }
  if (/^\d+:\d+(?:\.\d+)?$/.test(s)) {
    return Either.left(
      `duration ${quoted} is ambiguous (HH:MM or MM:SS?); write "HH:MM:SS" or use units`,
    )
  }
  if (/^[+-]?(?:\d+\.?\d*|\.\d+)$/.test(s)) {
    return Either.left(`duration ${quoted} has no unit (e.g. "${s} hours", "${s}s")`)
  }
  if (s.startsWith("-")) return Either.left(`duration ${quoted} is negative`)
  pairRe.lastIndex = 0
  let total = 0n
  let pos = 0
  let pairs = 0
  while (pos < s.length) {
    pairRe.lastIndex = pos
    const p = pairRe.exec(s)
    if (p === null) {
      return Either.left(
        `cannot read ${quoted} as a duration (expected e.g. "90 min", "1h30m", "01:30:00")`,
      )
    }
    const unit = NANOS[p[2]!.toLowerCase()]
    if (unit === undefined) {
      return Either.left(
        `unknown time unit ${JSON.stringify(p[2])} in ${quoted} (known: ns, us, ms, s, min, h, ` +
          `d, w and their long forms)`,
      )
    }
    total += decimalToNanos(p[1]!, unit)
    pos = pairRe.lastIndex
    pairs++
  }
  if (pairs === 0) return Either.left(`cannot read ${quoted} as a duration`)
  return Either.right(Duration.nanos(total))
}

/**
 * Formats a duration exactly as days, hours, minutes and (fractional) seconds: `1d2h3m4.5s`,
 * `90m` is written `1h30m`, zero is `0s`. `parseDuration(formatDuration(d))` equals `d`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const formatDuration = (d: Duration.Duration): string => {
  if (!Duration.isFinite(d)) return "infinity"
  let n = Duration.unsafeToNanos(d)
  const parts: Array<string> = []
  const day = 86400n * SECOND
  const hour = 3600n * SECOND
  const minute = 60n * SECOND
  if (n >= day) parts.push(`${n / day}d`), (n %= day)
  if (n >= hour) parts.push(`${n / hour}h`), (n %= hour)
  if (n >= minute) parts.push(`${n / minute}m`), (n %= minute)
  if (n > 0n || parts.length === 0) {
    const whole = n / SECOND
    const frac = n % SECOND
    parts.push(
      frac === 0n
        ? `${whole}s`
        : `${whole}.${frac.toString().padStart(9, "0").replace(/0+$/, "")}s`,
    )
  }
  return parts.join("")
}

/**
 * Formats a duration as `[D-]HH:MM:SS` (whole seconds, rounded up), the form SLURM and PBS read.
 *
 * @since 0.1.0
 * @category conversions
 */
export const formatClock = (d: Duration.Duration): string => {
  const total = Math.ceil(Duration.toSeconds(d))
  const days = Math.floor(total / 86400)
  const h = Math.floor((total % 86400) / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  const pad = (v: number) => String(v).padStart(2, "0")
  return `${days > 0 ? `${days}-` : ""}${pad(h)}:${pad(m)}:${pad(s)}`
}

const durationArbitrary = () => (fc: typeof import("effect/FastCheck")) =>
  fc.nat({ max: 400 * 86400 * 1000 }).map((ms) => Duration.millis(ms))

/**
 * A wall-clock duration decoded from a string (`"1 hour"`, `"01:30:00"`) or an effect `Duration`,
 * and encoded as the exact string of {@linkcode formatDuration}.
 *
 * @since 0.1.0
 * @category models
 */
export const DurationFromInput: Schema.Schema<Duration.Duration, string | Duration.Duration> =
  Schema.transformOrFail(
    Schema.Union(Schema.String, Schema.DurationFromSelf),
    Schema.DurationFromSelf.annotations({ arbitrary: durationArbitrary }),
    {
      strict: true,
      decode: (input, _, ast) => {
        if (typeof input !== "string") {
          return Duration.isFinite(input) && Duration.unsafeToNanos(input) >= 0n
            ? ParseResult.succeed(input)
            : ParseResult.fail(new ParseResult.Type(ast, input, "expected a finite duration"))
        }
        return Either.match(parseDuration(input), {
          onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
          onRight: ParseResult.succeed,
        })
      },
      encode: (d) => ParseResult.succeed(formatDuration(d)),
    },
  ).annotations({
    identifier: "Duration",
    description: 'a duration such as "1 hour", "90 min" or "01:30:00"',
  })
