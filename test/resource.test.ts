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
import * as Application from "../src/Application.ts"
import * as Lrms from "../src/Lrms.ts"
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

// =============================================================================
// parallel limits (issue 14)
// =============================================================================

const cluster = Resource.make(
  "slurm",
  Schema.decodeUnknownSync(Resource.ResourceConfig)({
    ...config,
    maxCores: 64,
    maxCoresPerJob: 64,
    maxNodesPerJob: 2,
    coresPerNode: 8,
    gpusPerNode: 2,
    launcher: "srun",
    launcherCommands: { mpirun: "/opt/ompi/bin/mpirun --oversubscribe" },
    preLaunch: "module load openmpi",
  }),
)

/** The description of checkApplication's failure for this shape, or "ok". */
const check = (resource: Resource.Resource, input: Application.ApplicationInput) =>
  Effect.runSync(
    Lrms.checkApplication(resource, ["file"], Effect.runSync(Application.make(input))).pipe(
      Effect.as("ok"),
      Effect.catchAll((e) => {
        strictEqual(e.reason, "SubmitRejected")
        strictEqual(e.recoverable, false)
        return Effect.succeed(e.description ?? "")
      }),
    ),
  )

Deno.test("make: the node limits and the default launcher are kept", () => {
  deepStrictEqual(
    [cluster.maxNodesPerJob, cluster.coresPerNode, cluster.gpusPerNode, cluster.launcher],
    [2, 8, 2, "srun"],
  )
  const plain = Resource.make("slurm", Schema.decodeUnknownSync(Resource.ResourceConfig)(config))
  ok(!("maxNodesPerJob" in plain) && !("launcher" in plain), "absent when not configured")
})

Deno.test("decodeConfig: bad parallel settings fail naming the field", async () => {
  for (
    const [bad, pattern] of [
      [{ maxNodesPerJob: 0 }, /maxNodesPerJob/],
      [{ coresPerNode: 1.5 }, /coresPerNode/],
      [{ gpusPerNode: -1 }, /gpusPerNode/],
      [{ launcher: "aprun" }, /launcher/],
      [{ launcherCommands: { mpirun: "'unterminated" } }, /launcherCommands\.mpirun/],
    ] as const
  ) {
    const e = await runFailure(Resource.decodeConfig({ ...config, ...bad }, "slurm"))
    strictEqual(e.reason, "ConfigurationError")
    match(e.description ?? "", pattern)
  }
})

Deno.test("checkApplication: the shape against the node limits, naming the fields", () => {
  strictEqual(
    check(cluster, { arguments: ["x"], nodes: 2, processesPerNode: 4, coresPerProcess: 2 }),
    "ok",
  )
  match(
    check(cluster, { arguments: ["x"], nodes: 3 }),
    /^nodes: 3 nodes requested, resource laptop allows at most 2 per job/,
  )
  match(
    check(cluster, { arguments: ["x"], nodes: 2, processesPerNode: 4, coresPerProcess: 3 }),
    /^processesPerNode, coresPerProcess: 4 process\(es\) × 3 core\(s\) on a node make 12 cores, resource laptop has 8 per node/,
  )
  match(
    check(cluster, { arguments: ["x"], processes: 2, coresPerProcess: 9 }),
    /^coresPerProcess: 9 core\(s\) for one process make 9 cores, resource laptop has 8 per node/,
  )
  match(
    check(cluster, { arguments: ["x"], nodes: 1, processesPerNode: 3, gpusPerProcess: 1 }),
    /^processesPerNode, gpusPerProcess: 3 process\(es\) × 1 GPU\(s\) on a node make 3 GPUs, resource laptop has 2 per node/,
  )
  strictEqual(check(cluster, { arguments: ["x"], processes: 8, gpusPerProcess: 2 }), "ok")
  const noGpus = { ...cluster, gpusPerNode: 0 }
  match(check(noGpus, { arguments: ["x"], gpusPerProcess: 1 }), /^gpusPerProcess: .* has no GPUs/)
  // unknown limits are the scheduler's to check
  const unknown = {
    ...cluster,
    maxNodesPerJob: undefined,
    coresPerNode: undefined,
    gpusPerNode: undefined,
  }
  strictEqual(
    check(unknown, { arguments: ["x"], nodes: 2, processesPerNode: 8, gpusPerProcess: 4 }),
    "ok",
  )
  // a node's cores first; the total is still checked against maxCoresPerJob
  match(
    check(cluster, { arguments: ["x"], nodes: 2, processesPerNode: 8, coresPerProcess: 8 }),
    /^processesPerNode, coresPerProcess/,
  )
  match(
    check({ ...unknown, maxCoresPerJob: 4 }, { arguments: ["x"], processes: 8 }),
    /^requestedCores: 8 cores/,
  )
})

Deno.test("checkApplication: a default launcher of multiple cannot spread over nodes", () => {
  const multiple = { ...cluster, launcher: "multiple" as const }
  match(
    check(multiple, { arguments: ["x"], nodes: 2 }),
    /^launcher: resource laptop's default launcher, multiple, starts every copy on the first node/,
  )
  strictEqual(check(multiple, { arguments: ["x"], nodes: 2, launcher: "mpirun" }), "ok")
  strictEqual(check(multiple, { arguments: ["x"], processes: 4 }), "ok")
})

Deno.test("checkApplication: srun only on SLURM, whoever asks for it", () => {
  strictEqual(check(cluster, { arguments: ["x"], processes: 2 }), "ok")
  const sge = { ...cluster, type: "sge", launcher: undefined }
  match(
    check(sge, { arguments: ["x"], launcher: "srun" }),
    /^launcher: srun starts processes only inside a SLURM allocation, and resource laptop is sge \(use mpirun\)/,
  )
  match(
    check({ ...cluster, type: "shellcmd" }, { arguments: ["x"] }),
    /^launcher: srun .* is shellcmd \(use multiple\)/,
  )
})

Deno.test("checkApplication: one node only, said plainly, when maxNodesPerJob is 1", () => {
  match(
    check({ ...cluster, type: "shellcmd", maxNodesPerJob: 1 }, { arguments: ["x"], nodes: 2 }),
    /^nodes: 2 nodes requested, resource laptop \(shellcmd\) runs each job on its one host/,
  )
  match(
    check({ ...cluster, maxNodesPerJob: 1 }, { arguments: ["x"], nodes: 2 }),
    /runs each job on one node/,
  )
})
