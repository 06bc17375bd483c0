/**
 * GnuTime: the shellcmd wrapper's resource-usage report (spec §3.4, vectors §4.8.5).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as fc from "effect/FastCheck"
import * as GnuTime from "../backends/shellcmd/GnuTime.ts"
import { gc3pie } from "./_vectors.ts"

interface ShellcmdVector {
  readonly resource_usage_txt: string
  readonly expected: {
    readonly acct: Record<string, unknown>
    readonly termstatus: { readonly exitcode: number; readonly signal: number }
    readonly valid: boolean
  }
}

interface Vectors {
  readonly test_shellcmd: {
    readonly _parse_time_duration: Record<string, { readonly seconds: number }>
    readonly test_shellcmd_backend_parse_wrapper_output_signalled: ShellcmdVector
    readonly test_shellcmd_backend_parse_wrapper_output_successful: ShellcmdVector
  }
}

/** The GC3Pie vectors; a missing file fails the test (it is part of the checkout). */
const vectors = (): Promise<Vectors["test_shellcmd"]> => gc3pie("test_shellcmd")

const seconds = (d: Duration.Duration | undefined): number | undefined =>
  d === undefined ? undefined : Duration.toMillis(d) / 1000

Deno.test("vector: signalled (Command terminated by signal 15)", async () => {
  const v = (await vectors()).test_shellcmd_backend_parse_wrapper_output_signalled
  const r = GnuTime.parse(v.resource_usage_txt)
  // GC3Pie: termstatus (signal 15, exit -1): no exit code of its own
  deepStrictEqual(v.expected.termstatus, { exitcode: -1, signal: 15 })
  strictEqual(r.termination?.signal, 15)
  strictEqual(r.termination?.exitCode, null)
  strictEqual(r.valid, v.expected.valid)
  strictEqual(seconds(r.usage.duration), 6.44)
  strictEqual(seconds(r.usage.cpuTime), 0)
  // GNU time's %M is in KiB: 2004 kB = 2004 * 1024 bytes. GC3Pie expects 2004000 (kB read as
  // 1000 bytes), which is wrong for GNU time.
  strictEqual((v.expected.acct.max_used_memory as { bytes: number }).bytes, 2004000)
  strictEqual(r.usage.maxUsedMemory, 2004 * 1024)
  strictEqual(r.usage.extra.shellcmd_minor_page_faults, 73)
  strictEqual(r.usage.extra.shellcmd_voluntary_context_switches, 2)
  strictEqual(r.usage.extra.shellcmd_filesystem_outputs, 0)
  strictEqual(r.usage.extra.shellcmd_page_size, 4096)
  strictEqual(r.usage.extra.shellcmd_cpu_usage, 0)
  deepStrictEqual(r.unknown, [])
})

Deno.test("vector: successful", async () => {
  const v = (await vectors()).test_shellcmd_backend_parse_wrapper_output_successful
  const r = GnuTime.parse(v.resource_usage_txt)
  deepStrictEqual(v.expected.termstatus, { exitcode: 0, signal: 0 })
  strictEqual(r.termination?.exitCode, 0)
  strictEqual(r.termination?.signal, 0)
  strictEqual(r.valid, true)
  strictEqual(seconds(r.usage.duration), 2.1)
  // used_cpu_time = UserTime + KernelTime = 0.67 + 0.61
  strictEqual(seconds(r.usage.cpuTime), 1.28)
  strictEqual(r.usage.extra.shellcmd_user_time, 0.67)
  strictEqual(r.usage.extra.shellcmd_kernel_time, 0.61)
  // GNU time's %M is ru_maxrss in KiB on Linux: 61604 kB = 63082496 bytes. GC3Pie's expected
  // value (61604000) reads kB as 1000 bytes, which is wrong for GNU time's %M.
  strictEqual((v.expected.acct.max_used_memory as { bytes: number }).bytes, 61604000)
  strictEqual(r.usage.maxUsedMemory, 63082496)
  strictEqual(r.usage.extra.shellcmd_cpu_usage, 61)
  strictEqual(r.usage.extra.shellcmd_filesystem_outputs, 400)
  strictEqual(r.usage.extra.shellcmd_filesystem_inputs, 0)
  strictEqual(r.usage.extra.shellcmd_minor_page_faults, 101799)
  strictEqual(r.usage.extra.shellcmd_major_page_faults, 0)
  strictEqual(r.usage.extra.shellcmd_involuntary_context_switches, 82)
  strictEqual(r.usage.extra.shellcmd_voluntary_context_switches, 487)
  strictEqual(r.usage.extra.shellcmd_swapped, 0)
  strictEqual(r.usage.extra.shellcmd_signals_delivered, 0)
  strictEqual(r.usage.extra.shellcmd_page_size, 4096)
  strictEqual(r.usage.extra.shellcmd_average_resident_memory, 0)
  deepStrictEqual(r.unknown, [])
  // every integer counter GC3Pie reports, we report the same
  for (const [key, value] of Object.entries(v.expected.acct)) {
    if (typeof value === "number" && key in r.usage.extra) {
      strictEqual(r.usage.extra[key], value, key)
    }
  }
})

Deno.test("vector: _parse_time_duration examples with parseClockDuration", async () => {
  const examples = (await vectors())._parse_time_duration
  ok(Object.keys(examples).length >= 7)
  for (const [text, { seconds: expected }] of Object.entries(examples)) {
    strictEqual(seconds(GnuTime.parseClockDuration(text)), expected, text)
  }
})

Deno.test("parseClockDuration: refusals", () => {
  for (const bad of ["", "abc", "1:2:3:4", "-5", "1e3", "5 s", "1-2", ":30"]) {
    strictEqual(GnuTime.parseClockDuration(bad), undefined, bad)
  }
  strictEqual(GnuTime.parseClockDuration("9".repeat(400)), undefined, "too large")
})

Deno.test("a non-zero exit: GNU time's 'Command exited' line is ignored, ReturnCode counts", () => {
  const r = GnuTime.parse("Command exited with non-zero status 3\nWallTime=0.01s\nReturnCode=3\n")
  strictEqual(r.termination?.exitCode, 3)
  strictEqual(r.termination?.signal, 0)
  // no user or kernel time: not valid (GC3Pie's rule), but the termination is still read
  strictEqual(r.valid, false)
  strictEqual(r.usage.cpuTime, undefined)
})

Deno.test("a signal line beats ReturnCode=0 (GC3Pie issue #645: OOM-killed jobs)", () => {
  const r = GnuTime.parse("ReturnCode=0\nCommand terminated by signal 9\n")
  strictEqual(r.termination?.signal, 9)
  strictEqual(r.termination?.exitCode, null)
})

Deno.test("ReturnCode above 128 is a signal; nothing at all gives no termination", () => {
  strictEqual(GnuTime.parse("ReturnCode=137").termination?.signal, 9)
  strictEqual(GnuTime.parse("").termination, undefined)
  strictEqual(GnuTime.parse("WallTime=1s").termination, undefined)
})

Deno.test("values starting with ? are no data; unknown keys and bad values are listed", () => {
  const r = GnuTime.parse(
    [
      "WallTime=?",
      "MaxResidentMemory=?",
      "Frobs=3",
      "MinorPageFaults=many",
      "CPUUsage=lots%",
      "PageSize=4096kB",
      "UserTime=1.5s",
      "KernelTime=0:00.50",
    ].join("\r\n"),
  )
  strictEqual(r.usage.duration, undefined)
  strictEqual(r.usage.maxUsedMemory, undefined)
  deepStrictEqual(r.unknown, [
    "Frobs=3",
    "MinorPageFaults=many",
    "CPUUsage=lots%",
    "PageSize=4096kB",
  ])
  strictEqual(r.valid, true)
  strictEqual(seconds(r.usage.cpuTime), 2)
})

Deno.test("FORMAT: one Key=value line per figure the parser reads", () => {
  const lines = GnuTime.FORMAT.split("\n")
  strictEqual(lines.length, 22)
  ok(lines.every((l) => /^[A-Za-z]+=%[A-Za-z]/.test(l)), "Key=%x lines")
  // a report in that format, with figures filled in, parses with nothing unknown
  const report = lines.map((l) => l.replace(/%[A-Za-z]/, "1")).join("\n")
  const r = GnuTime.parse(report)
  deepStrictEqual(r.unknown, [])
  strictEqual(r.valid, true)
  strictEqual(r.usage.maxUsedMemory, 1024)
})

Deno.test("property: parse never throws on arbitrary text", () => {
  fc.assert(
    fc.property(fc.fullUnicodeString({ maxLength: 200 }), (text) => {
      const r = GnuTime.parse(text)
      ok(Array.isArray(r.unknown))
    }),
    { numRuns: 500 },
  )
})

Deno.test("property: parse never throws on arbitrary Key=value lines", () => {
  const keys = GnuTime.FORMAT.split("\n").map((l) => l.slice(0, l.indexOf("=")))
  const value = fc.oneof(
    fc.string(),
    fc.stringOf(fc.constantFrom(..."0123456789.:-?%sBkKeE ".split("")), { maxLength: 24 }),
    fc.bigUintN(80).map((n) => String(n)),
    fc.bigUintN(80).map((n) => `${n}kB`),
    fc.constant("9".repeat(400)),
    fc.double().map(String),
  )
  const line = fc.oneof(
    fc.tuple(fc.oneof(fc.constantFrom(...keys), fc.string()), value).map(([k, v]) => `${k}=${v}`),
    fc.nat().map((n) => `Command terminated by signal ${n}`),
    fc.string(),
  )
  fc.assert(
    fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
      const r = GnuTime.parse(lines.join("\n"))
      if (r.usage.maxUsedMemory !== undefined) ok(Number.isSafeInteger(r.usage.maxUsedMemory))
      for (const v of Object.values(r.usage.extra)) {
        ok(typeof v === "string" || Number.isFinite(v), String(v))
      }
      if (r.termination !== undefined) {
        ok(r.termination.signal >= 0 && r.termination.signal <= 127)
      }
    }),
    { numRuns: 500 },
  )
})
