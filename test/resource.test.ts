/**
 * Resource: static attributes from configuration, and the dynamic ResourceStatus.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Quantity from "../src/Quantity.ts"
import * as Resource from "../src/Resource.ts"
import { runFailure } from "./_effect.ts"

const config = {
  name: "laptop",
  architecture: "x86_64",
  maxCores: 4,
  maxCoresPerJob: 2,
  maxMemoryPerCore: "2 GiB",
  maxWalltime: "8 hours",
}

Deno.test("parseArchitecture: the usual names and aliases", () => {
  const cases: ReadonlyArray<readonly [string, Resource.Architecture | undefined]> = [
    ["x86_64", "x86_64"],
    ["amd64", "x86_64"],
    ["X64", "x86_64"],
    ["x86-64", "x86_64"],
    [" i386 ", "i686"],
    ["i686", "i686"],
    ["x86", "i686"],
    ["arm64", "aarch64"],
    ["aarch64", "aarch64"],
    ["ppc64le", "ppc64le"],
    ["riscv64", "riscv64"],
    ["sparc", undefined],
    ["", undefined],
  ]
  for (const [name, arch] of cases) strictEqual(Resource.parseArchitecture(name), arch, name)
})

Deno.test("Architectures: a list or a comma-separated string, never empty", () => {
  const decode = Schema.decodeUnknownEither(Resource.Architectures)
  deepStrictEqual(decode("x86_64, arm64"), Either.right(["x86_64", "aarch64"]))
  deepStrictEqual(decode(["amd64"]), Either.right(["x86_64"]))
  ok(Either.isLeft(decode("")))
  ok(Either.isLeft(decode([])))
  const bad = decode("x86_64,sparc")
  ok(Either.isLeft(bad))
  match(bad.left.message, /unknown architecture "sparc"/)
})

Deno.test("ResourceName: letters, digits, . _ -", () => {
  const decode = Schema.decodeUnknownEither(Resource.ResourceName)
  for (const good of ["localhost", "hpc-1.cluster_a", "0x"]) ok(Either.isRight(decode(good)), good)
  for (const bad of ["", "a b", "-x", "a/b", "ü"]) ok(Either.isLeft(decode(bad)), bad)
  const e = decode("a b")
  ok(Either.isLeft(e))
  match(e.left.message, /a resource name is letters, digits/)
})

Deno.test("decodeConfig: quantities from strings, enabled defaults to true", () => {
  const r = Effect.runSync(Resource.decodeConfig(config))
  strictEqual(r.name, "laptop")
  deepStrictEqual(r.architecture, ["x86_64"])
  strictEqual(r.maxCores, 4)
  strictEqual(r.maxCoresPerJob, 2)
  strictEqual(r.maxMemoryPerCore, 2 * 1024 ** 3)
  ok(Duration.equals(r.maxWalltime, Duration.hours(8)))
  strictEqual(r.enabled, true)
})

Deno.test("decodeConfig: a bad field is a ConfigurationError naming it", async () => {
  const cases: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
    [{ ...config, maxCores: 0 }, /maxCores: expected a whole number above 0/],
    [{ ...config, maxMemoryPerCore: "2 XB" }, /maxMemoryPerCore: unknown memory unit "XB"/],
    [{ ...config, maxWalltime: "8" }, /maxWalltime: .*no unit/],
    [{ ...config, architecture: "sparc" }, /architecture/],
    [{ ...config, name: "a b" }, /name: a resource name/],
    [{ ...config, frobnicate: 1 }, /frobnicate/],
  ]
  for (const [input, pattern] of cases) {
    const e = await runFailure(Resource.decodeConfig(input, "shellcmd"))
    strictEqual(e.reason, "ConfigurationError")
    strictEqual(e.backend, "shellcmd")
    strictEqual(e.recoverable, false)
    match(e.description ?? "", pattern)
  }
})

Deno.test("make: fills maxCoresPerJob, and never above maxCores", () => {
  const decode = Schema.decodeUnknownSync(Resource.ResourceConfig)
  const r = Resource.make("shellcmd", decode(config))
  strictEqual(r.type, "shellcmd")
  strictEqual(r.maxCoresPerJob, 2)
  const { maxCoresPerJob: _, ...noPerJob } = config
  strictEqual(Resource.make("shellcmd", decode(noPerJob)).maxCoresPerJob, 4)
  strictEqual(
    Resource.make("shellcmd", decode({ ...config, maxCoresPerJob: 64 })).maxCoresPerJob,
    4,
  )
  strictEqual(Resource.make("slurm", decode({ ...config, enabled: false })).enabled, false)
})

Deno.test("ResourceStatus: freeSlots may be -1 (unknown), counts are non-negative", () => {
  const decode = Schema.decodeUnknownEither(Resource.ResourceStatus)
  const base = { freeSlots: -1, userRun: 0, userQueued: 0, queued: 0, totalRun: 0 }
  ok(Either.isRight(decode({ ...base, updatedAt: "2026-01-01T00:00:00Z" })))
  ok(
    Either.isRight(
      decode({ ...base, availableMemory: "1 GiB", updatedAt: "2026-01-01T00:00:00Z" }),
    ),
  )
  ok(Either.isLeft(decode({ ...base, userRun: -1, updatedAt: "2026-01-01T00:00:00Z" })))
  ok(Either.isLeft(decode({ ...base, freeSlots: 1.5, updatedAt: "2026-01-01T00:00:00Z" })))
  ok(Either.isLeft(decode({ ...base, updatedAt: "yesterday" })))
})

Deno.test("property: ResourceStatus round trip through JSON", () => {
  const encode = Schema.encodeSync(Resource.ResourceStatus)
  const decode = Schema.decodeUnknownSync(Resource.ResourceStatus)
  const eq = Schema.equivalence(Resource.ResourceStatus)
  fc.assert(
    fc.property(Arbitrary.make(Resource.ResourceStatus), (status) => {
      // without JSON: the identity, explicit `undefined` fields included
      ok(eq(decode(encode(status)), status))
      // through JSON (which drops undefined fields): the same JSON again
      const json = JSON.stringify(encode(status))
      const back = decode(JSON.parse(json))
      ok(back instanceof Resource.ResourceStatus)
      strictEqual(JSON.stringify(encode(back)), json)
      strictEqual(back.freeSlots, status.freeSlots)
      strictEqual(back.availableMemory, status.availableMemory)
      strictEqual(back.updatedAt.getTime(), status.updatedAt.getTime())
    }),
  )
})

Deno.test("ResourceStatus encodes memory as an exact string", () => {
  const s = new Resource.ResourceStatus({
    freeSlots: 3,
    userRun: 1,
    userQueued: 0,
    queued: 0,
    totalRun: 1,
    availableMemory: Quantity.memory(6 * 1024 ** 3),
    totalMemory: Quantity.memory(8 * 1024 ** 3),
    updatedAt: new Date(0),
  })
  const e = Schema.encodeSync(Resource.ResourceStatus)(s)
  strictEqual(e.availableMemory, "6GiB")
  strictEqual(e.totalMemory, "8GiB")
  strictEqual(e.updatedAt, "1970-01-01T00:00:00.000Z")
})
