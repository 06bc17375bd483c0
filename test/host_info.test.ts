/**
 * Shellcmd.parseHostInfo: what shellcmd learns about its host from one discovery command.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as fc from "effect/FastCheck"
import { parseHostInfo } from "../backends/shellcmd/Shellcmd.ts"

Deno.test("parseHostInfo: Linux (memory from /proc/meminfo, in KiB)", () => {
  // recorded on the Linux machine these tests were written on
  const text = "os=Linux\narch=x86_64\ncpus=2\nmemkb=24684092\ntime=/usr/bin/time\n"
  deepStrictEqual(parseHostInfo(text), {
    os: "Linux",
    arch: "x86_64",
    cpus: 2,
    memory: 24684092 * 1024,
    timeCmd: "/usr/bin/time",
  })
})

Deno.test("parseHostInfo: macOS (memory from sysctl, in bytes; GNU time as gtime)", () => {
  const text =
    "os=Darwin\narch=arm64\ncpus=10\nmembytes=17179869184\ntime=/opt/homebrew/bin/gtime\n"
  deepStrictEqual(parseHostInfo(text), {
    os: "Darwin",
    arch: "arm64",
    cpus: 10,
    memory: 17179869184,
    timeCmd: "/opt/homebrew/bin/gtime",
  })
})

Deno.test("parseHostInfo: missing or unreadable figures are undefined", () => {
  // no GNU time found, nproc and sysctl both failed
  deepStrictEqual(parseHostInfo("os=Linux\narch=aarch64\ncpus=\nmembytes=\n"), {
    os: "Linux",
    arch: "aarch64",
    cpus: undefined,
    memory: undefined,
    timeCmd: undefined,
  })
  deepStrictEqual(parseHostInfo(""), {
    os: "",
    arch: "",
    cpus: undefined,
    memory: undefined,
    timeCmd: undefined,
  })
  strictEqual(parseHostInfo("cpus=two").cpus, undefined)
  strictEqual(parseHostInfo("cpus=-1").cpus, undefined)
  strictEqual(parseHostInfo("memkb=1.5").memory, undefined)
  strictEqual(parseHostInfo("time=").timeCmd, undefined)
})

Deno.test("parseHostInfo: memkb wins over membytes; values are trimmed; noise is ignored", () => {
  const info = parseHostInfo(
    "warning: something\nos= Linux \r\ncpus=8\r\nmemkb=1000\nmembytes=5\n=oops\narch=x86_64",
  )
  strictEqual(info.os, "Linux")
  strictEqual(info.cpus, 8)
  strictEqual(info.memory, 1024000)
  strictEqual(info.arch, "x86_64")
})

Deno.test("parseHostInfo: the discovery figures of this machine", async () => {
  const script = [
    'echo "os=$(uname -s)"',
    'echo "arch=$(uname -m)"',
    'echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"',
  ].join("\n")
  const out = await new Deno.Command("/bin/sh", { args: ["-c", script], stdout: "piped" }).output()
  const info = parseHostInfo(new TextDecoder().decode(out.stdout))
  strictEqual(info.os, Deno.build.os === "linux" ? "Linux" : info.os)
  ok(info.arch.length > 0)
  ok(info.cpus !== undefined && info.cpus >= 1, `cpus ${info.cpus}`)
})

Deno.test("property: parseHostInfo never throws", () => {
  const line = fc.oneof(
    fc.string(),
    fc.tuple(fc.constantFrom("os", "arch", "cpus", "memkb", "membytes", "time"), fc.string())
      .map(([k, v]) => `${k}=${v}`),
  )
  fc.assert(
    fc.property(fc.oneof(fc.fullUnicodeString(), fc.array(line).map((l) => l.join("\n"))), (t) => {
      const info = parseHostInfo(t)
      strictEqual(typeof info.os, "string")
      ok(info.cpus === undefined || Number.isInteger(info.cpus))
      ok(info.memory === undefined || info.memory >= 0)
    }),
  )
})
