/**
 * JobStore: jobs kept on disk, one JSON file per job, written atomically. Round trips of jobs in
 * every state, id-prefix lookup, refused ids, corrupt records reported beside the good ones, and
 * the crash laws: a temporary file left by a write that never finished, an interrupted `put` and
 * a `put` failing at any step never leave a partial record, and never hide a completed one.
 */
import { deepStrictEqual, match, ok, strictEqual } from "node:assert/strict"
import { SystemError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeFileSystem } from "@effect/platform-node"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import * as Application from "../src/Application.ts"
import * as Job from "../src/Job.ts"
import * as JobStore from "../src/JobStore.ts"
import * as Quantity from "../src/Quantity.ts"
import * as RunState from "../src/RunState.ts"
import * as Termination from "../src/Termination.ts"
import { arbitraries } from "../src/testing.ts"
import { runTest, tempDir } from "./_effect.ts"

const realFs: FileSystem.FileSystem = await Effect.runPromise(
  Effect.provide(FileSystem.FileSystem, NodeFileSystem.layer),
)

/** A store over `dir`, using the given file system (the real one unless told otherwise). */
const storeAt = (dir: string, fs: FileSystem.FileSystem = realFs) =>
  Effect.provideService(JobStore.make(dir), FileSystem.FileSystem, fs)

const app = Effect.runSync(Application.make({
  arguments: ["/bin/echo", "hello"],
  stdout: "out.txt",
  requestedMemory: "1 GB",
  requestedWalltime: "10 min",
  environment: { GREETING: "it's $HOME" },
}))

const t0 = new Date("2026-01-02T03:04:05.678Z")
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000)

const newJob = (id: string, created: Date = t0) =>
  Job.make({ resourceName: "local", backend: "shellcmd", application: app, id, now: created })

const encodeJson = (job: Job.Job): string => JSON.stringify(Schema.encodeSync(Job.Job)(job))
const canonical = (job: Job.Job): Job.Job =>
  Schema.decodeUnknownSync(Job.Job)(JSON.parse(encodeJson(job)))
const equivalent = Schema.equivalence(Job.Job)

/**
 * The job read back is the job stored: a `Job` instance, equivalent by the schema, with the same
 * JSON, and deep-equal to the stored job's decoded form (a decoded `Duration` is kept in nanos,
 * a constructed one in millis, so the stored job itself is compared through its JSON).
 */
const assertSameJob = (actual: Job.Job, expected: Job.Job, context = "") => {
  ok(actual instanceof Job.Job, `${context} not a Job instance`)
  ok(equivalent(actual, expected), `${context} not equivalent to the stored job`)
  strictEqual(encodeJson(actual), encodeJson(expected), context)
  deepStrictEqual(actual, canonical(expected), context)
}

const names = (dir: string): Array<string> => [...Deno.readDirSync(dir)].map((e) => e.name).sort()
const tempFiles = (dir: string) => names(dir).filter((n) => n.endsWith(".tmp"))

/** Every record file holds a whole job, the one its name says: no record is a partial write. */
const assertWholeRecords = (dir: string) => {
  for (const name of names(dir).filter((n) => n.endsWith(".json"))) {
    const text = Deno.readTextFileSync(`${dir}/${name}`)
    const job = Schema.decodeUnknownSync(Job.Job)(JSON.parse(text))
    strictEqual(`${job.id}.json`, name, `${name} holds job ${job.id}`)
  }
}

/** Jobs in several states: NEW, SUBMITTED, RUNNING, TERMINATING with usage, TERMINATED, ... */
const jobsInSeveralStates = (): Array<Job.Job> => {
  const submitted = (id: string, created: number) =>
    Job.update(
      Job.transition(newJob(id, at(created)), "SUBMITTED", { now: at(created + 1) }),
      { nativeId: `${created}4242`, remoteDir: `/spool/${id}` },
    )
  const running = Job.transition(submitted("job-running", 3), "RUNNING", {
    now: at(5),
    message: "started",
  })
  const usage = new Job.Usage({
    duration: Duration.millis(2100),
    cpuTime: Duration.millis(1280),
    maxUsedMemory: Quantity.memory(63082496),
    maxUsedVirtualMemory: Quantity.memory(2 ** 31),
    cores: 2,
    extra: { shellcmd_minor_page_faults: 101799, sge_queue: "all.q" },
  })
  const terminating = Job.withBackendData(
    Job.transition(
      Job.transition(submitted("job-terminating", 4), "RUNNING", { now: at(6) }),
      "TERMINATING",
      { now: at(9), termination: Termination.exited(3), usage },
    ),
    { pid: 7, window: { since: 1.5, hosts: ["a", "b"] }, done: true, none: null },
  )
  const terminated = Job.transition(
    Job.transition(submitted("job-killed", 1), "TERMINATING", {
      now: at(3),
      termination: Termination.signalled(9),
    }),
    "TERMINATED",
    { now: at(4) },
  )
  const unknown = Job.transition(submitted("job-unknown", 7), "UNKNOWN", {
    now: at(9),
    message: "lost track",
  })
  return [newJob("job-new", at(6)), terminating, terminated, unknown, running]
}

// =============================================================================
// Round trips
// =============================================================================

Deno.test("put/get/list/remove: jobs in several states come back as they were stored", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir()
    const dir = `${base}/nested/jobs`
    const store = yield* storeAt(dir)
    strictEqual(store.dir, dir)
    strictEqual(Deno.statSync(dir).mode! & 0o777, 0o700, "the directory is made with mode 0700")

    const jobs = jobsInSeveralStates()
    for (const job of jobs) yield* store.put(job)
    for (const job of jobs) {
      assertSameJob(yield* store.get(job.id), job, job.id)
      strictEqual(Deno.statSync(`${dir}/${job.id}.json`).mode! & 0o777, 0o600, job.id)
    }
    deepStrictEqual(names(dir), jobs.map((j) => `${j.id}.json`).sort(), "one file per job, no temp")

    const { jobs: listed, problems } = yield* store.list
    deepStrictEqual(problems, [])
    // oldest first, by the NEW timestamp
    deepStrictEqual(listed.map((j) => j.id), [
      "job-killed",
      "job-running",
      "job-terminating",
      "job-new",
      "job-unknown",
    ])
    for (const job of listed) assertSameJob(job, jobs.find((j) => j.id === job.id)!, job.id)

    // a put replaces the record
    const running = jobs.find((j) => j.id === "job-running")!
    const later = Job.transition(running, "TERMINATED", {
      now: at(20),
      termination: Termination.exited(0),
    })
    yield* store.put(later)
    assertSameJob(yield* store.get("job-running"), later)
    strictEqual((yield* store.list).jobs.length, jobs.length)

    // remove, twice; then the job is gone
    yield* store.remove("job-running")
    yield* store.remove("job-running")
    yield* store.remove("never-stored")
    const gone = yield* Effect.flip(store.get("job-running"))
    strictEqual(gone.reason, "NotFound")
    deepStrictEqual((yield* store.list).jobs.map((j) => j.id), [
      "job-killed",
      "job-terminating",
      "job-new",
      "job-unknown",
    ])

    // a second store over the same directory (a later process) sees the same jobs
    const again = yield* storeAt(dir)
    deepStrictEqual(
      (yield* again.list).jobs.map(encodeJson),
      (yield* store.list).jobs.map(encodeJson),
    )
  })))

Deno.test("the layer provides a store over the local file system", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    const job = newJob("via-layer")
    const got = yield* Effect.gen(function* () {
      const store = yield* JobStore.JobStore
      yield* store.put(job)
      return yield* store.get("via")
    }).pipe(Effect.provide(JobStore.layer(dir)))
    assertSameJob(got, job)
  })))

Deno.test("the default directory is ~/.effect-lrms/jobs, made with mode 0700", async () => {
  const made: Array<{ path: string; mode: number | undefined; recursive: boolean | undefined }> = []
  const fake = FileSystem.makeNoop({
    makeDirectory: (path, options) =>
      Effect.sync(() => {
        made.push({ path, mode: options?.mode, recursive: options?.recursive })
      }),
    stat: () => Effect.succeed({ type: "Directory" } as FileSystem.File.Info),
  })
  const home = Deno.env.get("HOME")!
  const store = await Effect.runPromise(
    Effect.provideService(JobStore.make(), FileSystem.FileSystem, fake),
  )
  strictEqual(store.dir, `${home.replace(/\/+$/, "")}/.effect-lrms/jobs`)
  deepStrictEqual(made, [{ path: store.dir, mode: 0o700, recursive: true }])
  const tilde = await Effect.runPromise(
    Effect.provideService(JobStore.make("~/elsewhere/"), FileSystem.FileSystem, fake),
  )
  strictEqual(tilde.dir, `${home.replace(/\/+$/, "")}/elsewhere`)
})

Deno.test("make refuses a path that is a file, or empty", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    Deno.writeTextFileSync(`${dir}/file`, "")
    const e = yield* Effect.flip(storeAt(`${dir}/file`))
    strictEqual(e.reason, "InvalidArgument")
    match(e.message, /not a directory/)
    strictEqual((yield* Effect.flip(storeAt(""))).reason, "InvalidArgument")
  })))

// =============================================================================
// Ids and prefixes
// =============================================================================

Deno.test("get: a unique id prefix finds the job; an ambiguous one names the candidates", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    const store = yield* storeAt(dir)
    for (const id of ["abc-1", "abc-2", "abd-1", "ab", "x"]) yield* store.put(newJob(id))
    // a temporary file left by a crash is no candidate
    Deno.writeTextFileSync(`${dir}/.abd-2.json.0123456789ab.tmp`, "{")

    strictEqual((yield* store.get("abd")).id, "abd-1")
    strictEqual((yield* store.get("abc-2")).id, "abc-2")
    strictEqual((yield* store.get("x")).id, "x")
    // an exact id wins over the longer ids it is a prefix of
    strictEqual((yield* store.get("ab")).id, "ab")

    const ambiguous = yield* Effect.flip(store.get("abc"))
    strictEqual(ambiguous.reason, "InvalidArgument")
    match(ambiguous.message, /ambiguous/)
    match(ambiguous.message, /abc-1, abc-2/)
    const wide = yield* Effect.flip(store.get("a"))
    match(wide.message, /ab, abc-1, abc-2, abd-1/)

    const unknown = yield* Effect.flip(store.get("zz"))
    strictEqual(unknown.reason, "NotFound")
    match(unknown.message, /"zz"/)

    // many candidates: ten are named, and how many more there are
    for (let i = 0; i < 12; i++) yield* store.put(newJob(`many-${String(i).padStart(2, "0")}`))
    const many = yield* Effect.flip(store.get("many"))
    match(many.message, /many-00, .*many-09 and 2 more/)
  })))

Deno.test("ids that could leave the directory are refused by put, get and remove", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir()
    const dir = `${base}/jobs`
    const store = yield* storeAt(dir)
    const bad = ["", "a/b", "../x", "..", "x/..", "a..b", "a\\b", "..\\x", "a\0b", "/etc/passwd"]
    for (const id of bad) {
      for (
        const op of [
          store.put(new Job.Job({ ...newJob("x"), id })),
          store.get(id),
          store.remove(id),
        ]
      ) {
        const e = yield* Effect.flip(op)
        strictEqual(e.reason, "InvalidArgument", JSON.stringify(id))
        strictEqual(e.backend, "jobStore")
      }
    }
    deepStrictEqual(names(dir), [], "nothing was written in the store")
    deepStrictEqual(names(base), ["jobs"], "nothing was written beside it")

    // odd but harmless ids are kept, listed and found
    const odd = [".hidden", "with space", "ünïcødé-日本", "a.json.0123.tmp", "$HOME", "-", "."]
    for (const id of odd) yield* store.put(newJob(id))
    for (const id of odd) strictEqual((yield* store.get(id)).id, id)
    const { jobs, problems } = yield* store.list
    deepStrictEqual(jobs.map((j) => j.id).sort(), [...odd].sort())
    deepStrictEqual(problems, [])
  })))

// =============================================================================
// Corrupt records
// =============================================================================

Deno.test("corrupt records are reported in problems and do not hide the others", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    const store = yield* storeAt(dir)
    const good = [newJob("good-1", at(1)), newJob("good-2", at(2)), newJob("good-3", at(3))]
    for (const job of good) yield* store.put(job)
    const whole = Deno.readTextFileSync(`${dir}/good-1.json`)
    // written by something else: truncated, not a job, the wrong job, not UTF-8, a directory
    Deno.writeTextFileSync(`${dir}/truncated.json`, whole.slice(0, whole.length >> 1))
    Deno.writeTextFileSync(`${dir}/not-a-job.json`, JSON.stringify({ id: "not-a-job" }))
    Deno.writeTextFileSync(`${dir}/misnamed.json`, whole)
    Deno.writeFileSync(`${dir}/binary.json`, new Uint8Array([0xff, 0xfe, 0x00]))
    Deno.mkdirSync(`${dir}/folder.json`)
    Deno.writeTextFileSync(
      `${dir}/extra.json`,
      JSON.stringify({ ...JSON.parse(whole), id: "extra", x: 1 }),
    )
    // ignored: temporary files and anything that is not a record
    Deno.writeTextFileSync(`${dir}/.good-4.json.0123456789ab.tmp`, whole.slice(0, 10))
    Deno.writeTextFileSync(`${dir}/README`, "hello")

    const { jobs, problems } = yield* store.list
    deepStrictEqual(jobs.map((j) => j.id), ["good-1", "good-2", "good-3"])
    good.forEach((job, i) => assertSameJob(jobs[i]!, job))
    deepStrictEqual(
      problems.map((p) => p.file),
      ["binary", "extra", "folder", "misnamed", "not-a-job", "truncated"].map((n) =>
        `${dir}/${n}.json`
      ),
    )
    const reason = (name: string) => problems.find((p) => p.file === `${dir}/${name}.json`)!.reason
    match(reason("truncated"), /^not JSON/)
    match(reason("binary"), /^not JSON/)
    match(reason("not-a-job"), /^not a job record: .*resourceName/)
    match(reason("extra"), /^not a job record: .*x/)
    match(reason("misnamed"), /holds job "good-1", not "misnamed"/)
    match(reason("folder"), /^cannot read/)

    const e = yield* Effect.flip(store.get("truncated"))
    strictEqual(e.reason, "UnexpectedOutput")
    match(e.message, /truncated\.json: not JSON/)
    strictEqual((yield* store.get("good-2")).id, "good-2")
  })))

// =============================================================================
// Crashes
// =============================================================================

const appArbitrary: fc.Arbitrary<Application.Application> = arbitraries.application.map((input) =>
  Effect.runSync(Application.make(input))
)

/** Drops the keys `Arbitrary.make` sets to `undefined` (JSON gives absent keys back). */
const compact = (u: Job.Usage): Job.Usage =>
  new Job.Usage(
    Object.fromEntries(
      Object.entries(u).filter(([, v]) => v !== undefined),
    ) as ConstructorParameters<
      typeof Job.Usage
    >[0],
  )

/** A job under one of a few ids (so that later puts replace earlier ones), in a random state. */
const jobArbitrary: fc.Arbitrary<Job.Job> = fc.record({
  id: fc.oneof(
    fc.constantFrom("job-0", "job-1", "job-2", "job-3"),
    fc.stringMatching(/^[a-z0-9-]{1,12}$/).filter((s) => !s.includes("..")),
  ),
  application: appArbitrary,
  created: fc.integer({ min: 0, max: 1_000_000 }),
  steps: fc.array(
    fc.record({
      state: fc.constantFrom(...RunState.all),
      dt: fc.nat({ max: 10_000 }),
      message: fc.option(fc.string(), { nil: undefined }),
      termination: fc.option(Arbitrary.make(Termination.Termination), { nil: undefined }),
      usage: fc.option(Arbitrary.make(Job.Usage).map(compact), { nil: undefined }),
    }),
    { maxLength: 4 },
  ),
  nativeId: fc.option(fc.string(), { nil: undefined }),
  data: fc.dictionary(fc.string(), fc.jsonValue() as fc.Arbitrary<Job.Json>, { maxKeys: 3 }),
}).map(({ id, application, created, steps, nativeId, data }) => {
  let job = Job.make({
    resourceName: "r",
    backend: "b",
    application,
    id,
    now: new Date(t0.getTime() + created),
  })
  let time = created
  for (const s of steps) {
    time += s.dt
    job = Job.transition(job, s.state, {
      now: new Date(t0.getTime() + time),
      ...(s.message !== undefined ? { message: s.message } : {}),
      ...(s.termination !== undefined ? { termination: s.termination } : {}),
      ...(s.usage !== undefined ? { usage: s.usage } : {}),
    })
  }
  if (nativeId !== undefined) job = Job.update(job, { nativeId })
  return Job.withBackendData(job, data)
})

/** The store must hold exactly the model, oldest first, with no problem and no partial record. */
const assertHoldsModel = (
  store: JobStore.JobStoreShape,
  model: ReadonlyMap<string, Job.Job>,
) =>
  Effect.gen(function* () {
    assertWholeRecords(store.dir)
    const { jobs, problems } = yield* store.list
    deepStrictEqual(problems, [])
    const expected = [...model.values()].sort((a, b) =>
      a.timestamps.NEW!.getTime() - b.timestamps.NEW!.getTime() ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
    )
    deepStrictEqual(jobs.map((j) => j.id), expected.map((j) => j.id), "the jobs, oldest first")
    jobs.forEach((job, i) => assertSameJob(job, expected[i]!, job.id))
    for (const [id, job] of model) assertSameJob(yield* store.get(id), job, `get ${id}`)
  })

const newRunDir = (base: string) => Deno.makeTempDirSync({ dir: base, prefix: "run-" })

Deno.test("property: a write that crashed part-way (a temporary file with any prefix of the record) hides no completed put", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir()
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(jobArbitrary, { maxLength: 6 }),
          fc.array(fc.tuple(jobArbitrary, fc.double({ min: 0, max: 1, noNaN: true })), {
            minLength: 1,
            maxLength: 3,
          }),
          async (puts, crashes) => {
            const dir = newRunDir(base)
            await runTest(Effect.gen(function* () {
              const store = yield* storeAt(dir)
              const model = new Map<string, Job.Job>()
              for (const job of puts) {
                yield* store.put(job)
                model.set(job.id, job)
              }
              // each crashed write left its temporary file holding a prefix of the record
              for (const [job, cut] of crashes) {
                const bytes = new TextEncoder().encode(
                  `${JSON.stringify(Schema.encodeSync(Job.Job)(job), null, 2)}\n`,
                )
                const random = crypto.randomUUID().replaceAll("-", "").slice(0, 12)
                Deno.writeFileSync(
                  `${dir}/.${job.id}.json.${random}.tmp`,
                  bytes.slice(0, Math.floor(cut * bytes.length)),
                  { mode: 0o600 },
                )
              }
              yield* assertHoldsModel(store, model)
              // a later process re-attaches, and can write the same jobs again
              const later = yield* storeAt(dir)
              yield* assertHoldsModel(later, model)
              for (const [job] of crashes) {
                yield* later.put(job)
                model.set(job.id, job)
              }
              yield* assertHoldsModel(later, model)
              strictEqual(tempFiles(dir).length, crashes.length, "only the crashed writes' files")
            }))
          },
        ),
        { numRuns: 30 },
      )
    )
  })))

/** A turn of the event loop, so that pending file-system callbacks run (`yieldNow` may not). */
const macrotask = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

/** Polls the directory until `seen` holds or the put is over, at most `limit` times. */
const until = (
  dir: string,
  put: Fiber.Fiber<void, unknown>,
  seen: (names: Array<string>) => boolean,
  limit = 200,
) =>
  Effect.gen(function* () {
    for (let i = 0; i < limit && !seen(names(dir)); i++) {
      if (Option.isSome(yield* Fiber.poll(put))) return
      yield* macrotask
    }
  })

/**
 * When to interrupt the put: after some scheduler yields, after some milliseconds, as soon as
 * its temporary file exists (mid-write), or once its record is in place.
 */
const delayArbitrary: fc.Arbitrary<
  (dir: string, job: Job.Job, put: Fiber.Fiber<void, unknown>) => Effect.Effect<void>
> = fc.oneof(
  fc.nat({ max: 40 }).map((n) => () => Effect.repeatN(Effect.yieldNow(), n)),
  fc.integer({ min: 0, max: 4 }).map((ms) => () => Effect.sleep(Duration.millis(ms))),
  fc.constant((dir: string, _: Job.Job, put: Fiber.Fiber<void, unknown>) =>
    until(dir, put, (ns) => ns.some((n) => n.endsWith(".tmp")))
  ),
  fc.constant((dir: string, job: Job.Job, put: Fiber.Fiber<void, unknown>) =>
    until(dir, put, () => {
      try {
        return Deno.readTextFileSync(`${dir}/${job.id}.json`).trimEnd() ===
          JSON.stringify(Schema.encodeSync(Job.Job)(job), null, 2)
      } catch {
        return false
      }
    })
  ),
)

Deno.test("property: an interrupted put either happened whole or left nothing, not even its temporary file", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir()
    const tally = { happened: 0, not: 0 }
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(jobArbitrary, { maxLength: 4 }),
          jobArbitrary,
          delayArbitrary,
          async (puts, job, delay) => {
            const dir = newRunDir(base)
            await runTest(Effect.gen(function* () {
              const store = yield* storeAt(dir)
              const model = new Map<string, Job.Job>()
              for (const p of puts) {
                yield* store.put(p)
                model.set(p.id, p)
              }
              const before = model.get(job.id)
              const fiber = yield* Effect.fork(store.put(job))
              yield* delay(dir, job, fiber)
              const exit = yield* Fiber.interrupt(fiber)
              // the interruption has been cleaned up once it returns: no temporary file is left
              deepStrictEqual(tempFiles(dir), [], "no temporary file after the interruption")
              assertWholeRecords(dir)
              const text = names(dir).includes(`${job.id}.json`)
                ? Deno.readTextFileSync(`${dir}/${job.id}.json`)
                : undefined
              const happened = text !== undefined &&
                JSON.stringify(JSON.parse(text)) === encodeJson(job)
              if (Exit.isSuccess(exit)) ok(happened, "a put that succeeded wrote the job")
              if (happened) {
                tally.happened++
                model.set(job.id, job)
              } else {
                tally.not++
                // the old record, whole, or none at all
                if (before === undefined) strictEqual(text, undefined, "no target was left")
                else strictEqual(JSON.stringify(JSON.parse(text!)), encodeJson(before))
              }
              yield* assertHoldsModel(store, model)
            }))
          },
        ),
        { numRuns: 60 },
      )
    )
    // both outcomes were reached, so the interruption did land inside the put
    ok(tally.happened > 0 && tally.not > 0, JSON.stringify(tally))
  })))

/** A file system whose `step` fails: `open` of the temporary file, `writeAll` (after writing half
 * the bytes), `sync`, or `rename`. */
const failingAt = (step: "open" | "writeAll" | "sync" | "rename"): FileSystem.FileSystem => {
  const boom = (method: string) =>
    new SystemError({ module: "FileSystem", method, reason: "Unknown", description: "injected" })
  return {
    ...realFs,
    open: (path, options) =>
      path.endsWith(".tmp") && step === "open"
        ? Effect.fail(boom("open"))
        : realFs.open(path, options).pipe(
          Effect.map((file) => {
            if (!path.endsWith(".tmp")) return file
            const wrapped: FileSystem.File = Object.create(file)
            Object.defineProperty(wrapped, "writeAll", {
              value: (bytes: Uint8Array) =>
                step === "writeAll"
                  ? Effect.zipRight(
                    file.writeAll(bytes.slice(0, bytes.length >> 1)),
                    Effect.fail(boom("writeAll")),
                  )
                  : file.writeAll(bytes),
            })
            Object.defineProperty(wrapped, "sync", {
              get: () => step === "sync" ? Effect.fail(boom("sync")) : file.sync,
            })
            return wrapped
          }),
        ),
    rename: (from, to) => step === "rename" ? Effect.fail(boom("rename")) : realFs.rename(from, to),
  }
}

Deno.test("a put failing at any step fails, keeps the old record and removes its temporary file", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir()
    for (const step of ["open", "writeAll", "sync", "rename"] as const) {
      const dir = newRunDir(base)
      const old = newJob("kept", at(1))
      yield* (yield* storeAt(dir)).put(old)
      const store = yield* storeAt(dir, failingAt(step))
      const updated = Job.transition(old, "SUBMITTED", { now: at(2) })
      for (const job of [updated, newJob("fresh", at(3))]) {
        const e = yield* Effect.flip(store.put(job))
        match(e.message, /injected/, step)
        deepStrictEqual(tempFiles(dir), [], `${step}: the temporary file is gone`)
      }
      deepStrictEqual(names(dir), ["kept.json"], step)
      yield* assertHoldsModel(store, new Map([["kept", old]]))
    }
  })))

// =============================================================================
// Concurrency
// =============================================================================

Deno.test("concurrent puts of different jobs all land", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    const store = yield* storeAt(dir)
    const jobs = Array.from({ length: 60 }, (_, i) => newJob(`job-${i}`, at(i)))
    yield* Effect.forEach(jobs, store.put, { concurrency: "unbounded", discard: true })
    yield* assertHoldsModel(store, new Map(jobs.map((j) => [j.id, j])))
    deepStrictEqual(tempFiles(dir), [])
  })))

Deno.test("a reader never sees a partial record while the job is rewritten", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir()
    const store = yield* storeAt(dir)
    // versions of one job with a growing history, so that each record is longer than the last
    const versions: Array<Job.Job> = [newJob("busy")]
    for (let i = 1; i < 40; i++) {
      versions.push(Job.log(versions[i - 1]!, `step ${i} ${"x".repeat(200)}`, at(i)))
    }
    const known = new Set(versions.map(encodeJson))
    yield* store.put(versions[0]!)
    let done = false
    let reads = 0
    const reader = Effect.gen(function* () {
      while (!done) {
        const job = yield* store.get("busy")
        ok(known.has(encodeJson(job)), "a whole version")
        reads++
      }
    })
    const writer = Effect.forEach(versions, store.put, { discard: true }).pipe(
      Effect.ensuring(Effect.sync(() => (done = true))),
    )
    yield* Effect.all([writer, reader, reader], { concurrency: "unbounded", discard: true })
    ok(reads > 0)
    assertSameJob(yield* store.get("busy"), versions.at(-1)!)
  })))
