/**
 * Resources: GC3Pie's brokering (compatibility, then order by status), submit falling through
 * to the next resource, and a configuration file turned into working layers.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Resources from "../backends/Resources.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Application from "../src/Application.ts"
import * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { LrmsError } from "../src/LrmsError.ts"
import * as Quantity from "../src/Quantity.ts"
import * as Resource from "../src/Resource.ts"
import { runFailure, runTest, tempDir } from "./_effect.ts"

const status = (s: Partial<Resource.ResourceStatus>) =>
  new Resource.ResourceStatus({
    freeSlots: 0,
    userRun: 0,
    userQueued: 0,
    queued: 0,
    totalRun: 0,
    updatedAt: new Date(),
    ...s,
  })

/** A resource that answers with a fixed status and accepts or refuses jobs. */
const fake = (
  name: string,
  s: Resource.ResourceStatus | "down",
  options: {
    maxCoresPerJob?: number
    refuse?: string
    error?: LrmsError
    submits?: Array<string>
  } = {},
): Resources.Entry => ({
  name,
  auth: { label: "none", credential: { _tag: "None" }, check: Effect.void },
  lrms: Lrms.make({
    resource: {
      name,
      type: "fake",
      architecture: ["x86_64"],
      maxCores: 64,
      maxCoresPerJob: options.maxCoresPerJob ?? 64,
      maxMemoryPerCore: Quantity.memory(2 ** 30),
      maxWalltime: Duration.hours(1),
      enabled: true,
    },
    protocols: ["file"],
    submitJob: (app) =>
      options.error !== undefined
        ? Effect.sync(() => options.submits?.push(name)).pipe(
          Effect.zipRight(Effect.fail(options.error)),
        )
        : options.refuse !== undefined
        ? Effect.fail(
          new LrmsError({
            reason: "SubmitRejected",
            backend: "fake",
            operation: "submitJob",
            description: options.refuse,
          }),
        )
        : Effect.sync(() => options.submits?.push(name)).pipe(Effect.as(
          Job.transition(
            Job.make({ resourceName: name, backend: "fake", application: app }),
            "SUBMITTED",
          ),
        )),
    updateJobState: Effect.succeed,
    cancelJob: Effect.succeed,
    free: () => Effect.void,
    getResourceStatus: s === "down"
      ? Effect.fail(
        new LrmsError({
          reason: "ConnectionLost",
          backend: "fake",
          operation: "status",
          description: "down",
        }),
      )
      : Effect.succeed(s),
    files: { transport: undefined as never, fileSystem: undefined as never },
  }),
})

const app = (cores = 1) =>
  Effect.runSync(Application.make({ arguments: ["true"], requestedCores: cores }))

Deno.test("select: incompatible and unreachable resources are skipped with reasons; the rest ordered as GC3Pie", async () => {
  const r = Resources.make([
    fake("busy", status({ userQueued: 3, freeSlots: 100 })),
    fake("small", status({ freeSlots: 50 }), { maxCoresPerJob: 2 }),
    fake("roomy", status({ freeSlots: 40 })),
    fake("roomier", status({ freeSlots: 60 })),
    fake("down", "down"),
    fake("tie", status({ freeSlots: 60, queued: 5 })),
  ])
  const { candidates, skipped } = await runTest(r.select(app(4)))
  deepStrictEqual(candidates.map((c) => c.entry.name), ["roomier", "tie", "roomy", "busy"])
  deepStrictEqual(skipped.map((s) => s.name), ["small", "down"])
  ok(skipped[0]!.reason.includes("requestedCores"), skipped[0]!.reason)
  ok(skipped[1]!.reason.includes("status unavailable"), skipped[1]!.reason)
})

Deno.test("submit: the first candidate that takes the job wins; all refusing is one error listing each", async () => {
  const r = Resources.make([
    fake("first", status({ freeSlots: 10 }), { refuse: "queue closed" }),
    fake("second", status({ freeSlots: 5 })),
  ])
  const { job, tried } = await runTest(r.submit(app()))
  strictEqual(job.resourceName, "second")
  deepStrictEqual(tried.map((t) => t.name), ["first"])
  const none = Resources.make([
    fake("a", status({}), { refuse: "no" }),
    fake("b", status({}), { maxCoresPerJob: 1 }),
  ])
  const err = await runFailure(none.submit(app(2)))
  strictEqual(err.reason, "SubmitRejected")
  ok(err.message.includes("a: ") && err.message.includes("b: "), err.message)
  const skipped = err.cause as ReadonlyArray<Resources.Skipped>
  deepStrictEqual(skipped.map((s) => [s.name, s.error.reason]), [
    ["b", "SubmitRejected"],
    ["a", "SubmitRejected"],
  ], "the skipped errors are values")
  const named = await runFailure(r.submit(app(), { resource: "nope" }))
  ok(named.message.includes("configured: first, second"), named.message)
})

Deno.test("submit: after an ambiguous failure no other resource is tried (the job may exist)", async () => {
  const submits: Array<string> = []
  const unknown = new LrmsError({
    reason: "SubmitOutcomeUnknown",
    backend: "fake",
    operation: "submitJob",
    description: "the reply was lost",
    submission: { resource: "first", tag: "t1", jobDir: "/spool/job.t1" },
  })
  const r = Resources.make([
    fake("first", status({ freeSlots: 10 }), { error: unknown, submits }),
    fake("second", status({ freeSlots: 5 }), { submits }),
  ])
  const err = await runFailure(r.submit(app()))
  strictEqual(err.reason, "SubmitOutcomeUnknown")
  strictEqual(err.recoverable, false)
  deepStrictEqual(err.submission, { resource: "first", tag: "t1", jobDir: "/spool/job.t1" })
  deepStrictEqual(submits, ["first"], "the second resource never got the job")
})

Deno.test("submit: recoverability comes from the errors' fields, not their text", async () => {
  const refusal = (recoverable: boolean, description: string) =>
    new LrmsError({
      reason: "SubmitRejected",
      backend: "fake",
      operation: "submitJob",
      description,
      recoverable,
    })
  const busy = await runFailure(
    Resources.make([fake("a", status({}), { error: refusal(true, "controller busy") })])
      .submit(app()),
  )
  strictEqual(busy.recoverable, true, "a recoverable refusal makes the whole recoverable")
  const words = await runFailure(
    Resources.make([
      fake("a", status({}), {
        error: refusal(false, "MaximumCapacityReached is recoverable, says the text"),
      }),
    ]).submit(app()),
  )
  strictEqual(words.recoverable, false, "words in a message do not make it recoverable")
  const skipped = await runTest(Resources.make([fake("down", "down")]).select(app()))
  strictEqual(skipped.skipped[0]!.error.reason, "ConnectionLost", "skipped errors are values")
})

Deno.test("select: the broker sees the limits a resource discovers (shellcmd override)", () =>
  runTest(Effect.gen(function* () {
    const cpus = navigator.hardwareConcurrency
    if (cpus < 2) return // a 1-CPU host cannot show the difference
    const dir = yield* tempDir("lrms-resources-discover-")
    const local = Shellcmd.layerLocal({
      spooldir: `${dir}/spool`,
      resourceDir: `${dir}/bk`,
    })
    const entry = yield* Effect.map(Lrms.Lrms, (lrms) => ({
      name: "localhost",
      lrms,
      auth: { label: "none", credential: { _tag: "None" as const }, check: Effect.void },
    })).pipe(Effect.provide(local))
    strictEqual(entry.lrms.resource.maxCoresPerJob, 1, "before discovery: the configured 1 core")
    const { candidates, skipped } = yield* Resources.make([entry]).select(app(2))
    deepStrictEqual(skipped, [])
    deepStrictEqual(candidates.map((c) => c.entry.name), ["localhost"])
  })))

Deno.test("layerFile: a configuration file becomes working resources (two local shellcmd)", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-resources-")
    const conf = `${dir}/gc3pie.conf`
    yield* Effect.sync(() =>
      Deno.writeTextFileSync(
        conf,
        ["one", "two"].map((n, i) =>
          `[resource/${n}]\ntype = shellcmd\ntransport = local\nauth = none\nmax_cores = ${
            i + 1
          }\n` +
          `max_cores_per_job = ${i + 1}\nmax_memory_per_core = 1 GB\nmax_walltime = 1 hour\n` +
          `architecture = x86_64, aarch64\nspooldir = ${dir}/${n}/spool\nresourcedir = ${dir}/${n}/bk\n`
        ).join("\n"),
      )
    )
    yield* Effect.gen(function* () {
      const r = yield* Resources.Resources
      deepStrictEqual(r.entries.map((e) => e.name), ["one", "two"])
      const { job, tried } = yield* r.submit(app(2))
      strictEqual(job.resourceName, "two")
      ok(tried.some((t) => t.name === "one" && t.reason.includes("requestedCores")))
      const done = yield* r.forJob(job, () => Lrms.awaitTermination(job))
      strictEqual(done.termination?.exitCode, 0)
      yield* r.forJob(done, (l) => l.free(done))
    }).pipe(Effect.provide(Resources.layerFile(conf)))
  })))

Deno.test("layerFile: an unreadable file fails with ConfigurationError naming it", async () => {
  const missing = await runFailure(
    Effect.provide(Resources.Resources, Resources.layerFile("/nonexistent/gc3pie.conf")),
  )
  strictEqual(missing.reason, "ConfigurationError")
  ok(missing.message.includes("/nonexistent/gc3pie.conf"))
})

Deno.test("layerConfig: the file comes from Effect's Config (GC3PIE_CONF)", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-resources-config-")
    yield* Effect.sync(() =>
      Deno.writeTextFileSync(
        `${dir}/my.conf`,
        `[resource/from-config]\ntype = shellcmd\nmax_cores = 1\nmax_memory_per_core = 1\n` +
          `max_walltime = 1\narchitecture = x86_64, aarch64\nspooldir = ${dir}/spool\n` +
          `resourcedir = ${dir}/bk\n`,
      )
    )
    const names = yield* Effect.map(Resources.Resources, (r) => r.entries.map((e) => e.name)).pipe(
      Effect.provide(Resources.layerConfig),
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["GC3PIE_CONF", `${dir}/my.conf`]])),
      ),
    )
    deepStrictEqual(names, ["from-config"])
  })))
