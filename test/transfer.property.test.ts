/**
 * Property tests of the transfer laws (DESIGN.md, "Semantics to keep"): `getResults` against an
 * independent model for every option pair, `peek` equals the byte slice, an interrupted download
 * leaves no partial file, and names that would leave the download directory are refused before
 * anything is written. The remote side is a `MemoryTransport`; the local side is a real
 * temporary directory.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeContext } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Job from "../src/Job.ts"
import { isLrmsError, type LrmsError } from "../src/LrmsError.ts"
import {
  arbitraries,
  expectedAfterGetResults,
  type LocalState,
  MemoryTransport,
  type RemoteTree,
  type TransferOptions,
} from "../src/testing.ts"
import * as Transfer from "../src/Transfer.ts"
import type { TransportShape } from "../src/Transport.ts"
import { runTest, tempDir } from "./_effect.ts"

const JOB_DIR = "/home/user/.lrms/jobs/job-1"
const NUM_RUNS = 60

const fs: FileSystem.FileSystem = await Effect.runPromise(
  Effect.provide(FileSystem.FileSystem, NodeContext.layer),
)

const app = await Effect.runPromise(Application.make({ arguments: ["true"], outputs: ["*"] }))
const job: Job.Job = Job.update(
  Job.make({ resourceName: "memory", backend: "test", application: app }),
  { remoteDir: JOB_DIR, state: "TERMINATING" },
)

/** Runs an effect that needs `Auth` (the memory transport ignores it) and returns its exit. */
const exitOf = <A>(effect: Effect.Effect<A, LrmsError, Auth.Auth>) =>
  Effect.runPromiseExit(Effect.provide(effect, Auth.none))

const remoteFor = (tree: RemoteTree) => {
  const t = MemoryTransport.make()
  t.seedDirectory(JOB_DIR)
  t.seedTree(JOB_DIR, tree)
  return t
}

const seedLocal = (dir: string, local: LocalState) => {
  for (const [rel, file] of local) {
    const path = `${dir}/${rel}`
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true })
    Deno.writeFileSync(path, file.bytes)
    Deno.utimeSync(path, file.mtime / 1000, file.mtime / 1000)
  }
}

interface LocalEntry {
  readonly bytes: Uint8Array
  readonly mtime: number
}

/** Every file under a real directory, by relative path; fails on anything but files and dirs. */
const readLocal = (root: string): Map<string, LocalEntry> => {
  const out = new Map<string, LocalEntry>()
  const walk = (dir: string, prefix: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const rel = prefix === "" ? e.name : `${prefix}/${e.name}`
      const path = `${dir}/${e.name}`
      if (e.isDirectory) walk(path, rel)
      else if (e.isFile) {
        out.set(rel, {
          bytes: Deno.readFileSync(path),
          mtime: Deno.statSync(path).mtime!.getTime(),
        })
      } else throw new Error(`unexpected entry in the download directory: ${rel}`)
    }
  }
  walk(root, "")
  return out
}

const sorted = (keys: Iterable<string>) => [...keys].sort()

const newRunDir = (base: string) => Deno.makeTempDirSync({ dir: base, prefix: "run-" })

/** The local state must be exactly as it was: same files, same bytes, same mtimes. */
const assertUntouched = (dir: string, before: LocalState) => {
  const after = readLocal(dir)
  deepStrictEqual(sorted(after.keys()), sorted(before.keys()))
  for (const [rel, file] of before) {
    deepStrictEqual(after.get(rel)?.bytes, file.bytes, `${rel}: content changed`)
    strictEqual(after.get(rel)?.mtime, file.mtime, `${rel}: mtime changed`)
  }
}

const treeAndLocal = arbitraries.remoteTree.chain((tree) =>
  arbitraries.localState(tree).map((local) => ({ tree, local }))
)

// =============================================================================
// getResults against the model
// =============================================================================

/** Runs getResults once and checks the download directory against the model. */
const checkGetResults = async (
  base: string,
  tree: RemoteTree,
  local: LocalState,
  options: TransferOptions,
  tally: { replaced: number; kept: number; copiedMissing: number },
) => {
  const dir = newRunDir(base)
  seedLocal(dir, local)
  const transport = remoteFor(tree)
  const exit = await exitOf(Transfer.getResults(transport, fs, job, dir, options))
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  const report = exit.value

  const expected = expectedAfterGetResults(tree, local, options)
  const actual = readLocal(dir)
  deepStrictEqual(sorted(actual.keys()), sorted(expected.keys()), "the set of local files")
  for (const [rel, want] of expected) {
    deepStrictEqual(actual.get(rel)?.bytes, want.bytes, `${rel}: content (${want.source})`)
    if (want.source === "local") {
      strictEqual(actual.get(rel)?.mtime, local.get(rel)?.mtime, `${rel}: untouched mtime`)
      tally.kept++
    } else if (local.has(rel)) tally.replaced++
    else tally.copiedMissing++
  }
  if (options.overwrite !== true) {
    // overwrite=false never alters an existing local file: content and mtime
    for (const [rel, file] of local) {
      deepStrictEqual(actual.get(rel)?.bytes, file.bytes, `${rel}: altered with overwrite=false`)
      strictEqual(actual.get(rel)?.mtime, file.mtime, `${rel}: touched with overwrite=false`)
    }
  }

  // the report names exactly the files the model copies from the remote side
  deepStrictEqual(
    sorted(report.copied.map((c) => c.local.slice(dir.length + 1))),
    sorted([...expected].filter(([, f]) => f.source === "remote").map(([rel]) => rel)),
    "report.copied",
  )
  deepStrictEqual(report.missing, [])
  Deno.removeSync(dir, { recursive: true })
}

const optionCases: ReadonlyArray<[string, TransferOptions]> = [
  ["overwrite=false, changedOnly=true", { overwrite: false, changedOnly: true }],
  ["overwrite=false, changedOnly=false", { overwrite: false, changedOnly: false }],
  ["overwrite=true, changedOnly=true", { overwrite: true, changedOnly: true }],
  ["overwrite=true, changedOnly=false", { overwrite: true, changedOnly: false }],
]

for (const [name, options] of optionCases) {
  Deno.test(`getResults (${name}) leaves the download directory as the model says`, () =>
    runTest(Effect.gen(function* () {
      const base = yield* tempDir("effect-lrms-getresults-")
      const tally = { replaced: 0, kept: 0, copiedMissing: 0 }
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(treeAndLocal, ({ tree, local }) =>
            checkGetResults(base, tree, local, options, tally)),
          { numRuns: NUM_RUNS },
        )
      )
      // the generators reached the interesting cases for this option pair
      ok(tally.copiedMissing > 0, "no missing file was ever copied")
      if (options.overwrite) ok(tally.replaced > 0, "no existing file was ever replaced")
      else strictEqual(tally.replaced, 0)
      if (!(options.overwrite && !options.changedOnly)) ok(tally.kept > 0, "no file was kept")
    })))
}

Deno.test("getResults with arbitrary options (fields absent too) leaves what the model says", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-getresults-")
    const tally = { replaced: 0, kept: 0, copiedMissing: 0 }
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          treeAndLocal,
          arbitraries.transferOptions,
          ({ tree, local }, options) => checkGetResults(base, tree, local, options, tally),
        ),
        { numRuns: NUM_RUNS },
      )
    )
    ok(tally.kept > 0 && tally.copiedMissing > 0)
  })))

// =============================================================================
// peek
// =============================================================================

/** The slice `peek` must return, from JavaScript's own slice semantics (not from peekWindow). */
const expectedSlice = (content: Uint8Array, offset: number, size: number | undefined) => {
  const tail = content.slice(offset) // a negative offset counts from the end, clamped to 0
  return size === undefined ? tail : tail.slice(0, size)
}

const concat = (chunks: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

const peekOptions = (offset: number | undefined, size: number | undefined) => ({
  ...(offset !== undefined ? { offset } : {}),
  ...(size !== undefined ? { size } : {}),
})

Deno.test("peek equals the byte slice for any content, offset and size (path and sink)", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-peek-")
    const transport = MemoryTransport.make()
    let n = 0
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 3000 }),
          fc.option(
            fc.oneof(
              fc.integer({ min: -3200, max: 3200 }),
              fc.constantFrom(0, -1, 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
            ),
            { nil: undefined },
          ),
          fc.option(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3200 })), {
            nil: undefined,
          }),
          fc.boolean(),
          async (content, offset, size, preexisting) => {
            const remote = `${JOB_DIR}/out ${n++}.txt`
            transport.seedFile(remote, content)
            const want = expectedSlice(content, offset ?? 0, size)
            const options = peekOptions(offset, size)

            const target = `${base}/peek ${n}.out`
            if (preexisting) Deno.writeFileSync(target, new Uint8Array(5000).fill(42))
            const written = await exitOf(Transfer.peek(transport, fs, remote, target, options))
            if (Exit.isFailure(written)) throw new Error(Cause.pretty(written.cause))
            strictEqual(written.value, want.length)
            deepStrictEqual(Deno.readFileSync(target), want)

            const chunks: Array<Uint8Array> = []
            const sink = Sink.forEach((chunk: Uint8Array) => Effect.sync(() => chunks.push(chunk)))
            const viaSink = await exitOf(Transfer.peek(transport, fs, remote, sink, options))
            if (Exit.isFailure(viaSink)) throw new Error(Cause.pretty(viaSink.cause))
            strictEqual(viaSink.value, want.length)
            deepStrictEqual(concat(chunks), want)
            Deno.removeSync(target)
          },
        ),
        { numRuns: 150 },
      )
    )
  })))

Deno.test("peek reads a file larger than one chunk in several chunks, and refuses bad options", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-peek-")
    const content = new Uint8Array(2.5 * 1024 * 1024)
    for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251
    const transport = MemoryTransport.make()
    transport.seedFile(`${JOB_DIR}/big`, content)
    const offset = 1024 * 1024 - 10
    const size = 1_300_000
    const chunks: Array<Uint8Array> = []
    const sink = Sink.forEach((chunk: Uint8Array) => Effect.sync(() => chunks.push(chunk)))
    const n = yield* Effect.provide(
      Transfer.peek(transport, fs, `${JOB_DIR}/big`, sink, { offset, size }),
      Auth.none,
    )
    strictEqual(n, size)
    ok(chunks.length > 1, `expected several chunks, got ${chunks.length}`)
    deepStrictEqual(concat(chunks), content.slice(offset, offset + size))

    const tail = yield* Effect.provide(
      Transfer.peek(transport, fs, `${JOB_DIR}/big`, `${base}/tail`, { offset: -100 }),
      Auth.none,
    )
    strictEqual(tail, 100)
    deepStrictEqual(Deno.readFileSync(`${base}/tail`), content.slice(-100))

    for (const bad of [{ offset: 1.5 }, { size: -1 }, { size: 0.5 }, { offset: Number.NaN }]) {
      const e = yield* Effect.flip(
        Effect.provide(Transfer.peek(transport, fs, `${JOB_DIR}/big`, `${base}/x`, bad), Auth.none),
      )
      strictEqual(e.reason, "InvalidArgument", JSON.stringify(bad))
    }
    const missing = yield* Effect.flip(
      Effect.provide(Transfer.peek(transport, fs, `${JOB_DIR}/nope`, `${base}/x`), Auth.none),
    )
    strictEqual(missing.reason, "NotFound")
  })))

// =============================================================================
// interrupted downloads
// =============================================================================

const nonEmptyTreeAndLocal = arbitraries.remoteTree.filter((t) => t.size > 0).chain((tree) =>
  fc.record({
    tree: fc.constant(tree),
    local: arbitraries.localState(tree),
    victim: fc.constantFrom(...tree.keys()),
    afterBytes: fc.nat({ max: 5000 }),
    mode: fc.constantFrom("fail" as const, "interrupt" as const),
  })
)

Deno.test("an interrupted download leaves no partial or temporary file and keeps the old file", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-interrupt-")
    let partialWrites = 0
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          nonEmptyTreeAndLocal,
          async ({ tree, local, victim, afterBytes, mode }) => {
            const dir = newRunDir(base)
            seedLocal(dir, local)
            const remote = remoteFor(tree)
            remote.injectGetFailure({ path: `${JOB_DIR}/${victim}`, afterBytes, mode })
            const targets: Array<{ remote: string; local: string }> = []
            const transport: TransportShape = {
              ...remote,
              get: (r, l) =>
                Effect.sync(() => targets.push({ remote: r, local: l })).pipe(
                  Effect.zipRight(remote.get(r, l)),
                ),
            }
            // overwrite everything, so that the victim is certainly downloaded
            const exit = await exitOf(
              Transfer.getResults(transport, fs, job, dir, { overwrite: true, changedOnly: false }),
            )
            ok(Exit.isFailure(exit), "getResults succeeded although a download failed")
            if (mode === "interrupt") ok(Cause.isInterrupted(exit.cause), Cause.pretty(exit.cause))
            else {
              const failure = Cause.failureOption(exit.cause)
              ok(Option.isSome(failure) && isLrmsError(failure.value), Cause.pretty(exit.cause))
              strictEqual(failure.value.reason, "ConnectionLost")
            }

            const victimGet = targets.find((t) => t.remote === `${JOB_DIR}/${victim}`)
            ok(victimGet !== undefined, "the victim was never downloaded")
            ok(victimGet.local !== `${dir}/${victim}`, "the download did not use a temporary name")
            if (Math.min(afterBytes, tree.get(victim)!.bytes.length) > 0) partialWrites++

            const after = readLocal(dir)
            for (const [rel, file] of after) {
              ok(!rel.includes(".lrms-part-"), `temporary file left behind: ${rel}`)
              const before = local.get(rel)
              const untouched = before !== undefined &&
                deepEqualBytes(before.bytes, file.bytes) && before.mtime === file.mtime
              const complete = tree.has(rel) && deepEqualBytes(tree.get(rel)!.bytes, file.bytes)
              ok(untouched || complete, `${rel} is neither the old file nor a complete copy`)
            }
            for (const rel of local.keys()) ok(after.has(rel), `${rel} disappeared`)
            const old = local.get(victim)
            if (old === undefined) ok(!after.has(victim), `a partial ${victim} was left`)
            else {
              deepStrictEqual(after.get(victim)?.bytes, old.bytes, `${victim} was altered`)
              strictEqual(after.get(victim)?.mtime, old.mtime, `${victim} was touched`)
            }
            Deno.removeSync(dir, { recursive: true })
          },
        ),
        { numRuns: 80 },
      )
    )
    ok(partialWrites > 0, "no run ever left a partial temporary file to clean up")
  })))

const deepEqualBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i])

Deno.test("a download that hangs and times out leaves no partial file", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("effect-lrms-hang-")
    Deno.writeFileSync(`${dir}/kept.txt`, new TextEncoder().encode("old"))
    Deno.utimeSync(`${dir}/kept.txt`, 1_000_000, 1_000_000)
    const remote = remoteFor(
      new Map([
        ["kept.txt", { bytes: new TextEncoder().encode("new content"), mtime: 2_000_000_000 }],
        ["fresh.txt", { bytes: new TextEncoder().encode("fresh"), mtime: 2_000_000_000 }],
      ]),
    )
    remote.injectGetFailure({ afterBytes: 3, mode: "hang" })
    const exit = yield* Effect.exit(
      Effect.provide(
        Transfer.getResults(remote, fs, job, dir, { overwrite: true }),
        Auth.none,
      ).pipe(Effect.timeout("200 millis")),
    )
    ok(Exit.isFailure(exit))
    const after = readLocal(dir)
    deepStrictEqual(sorted(after.keys()), ["kept.txt"])
    strictEqual(new TextDecoder().decode(after.get("kept.txt")!.bytes), "old")
    strictEqual(after.get("kept.txt")!.mtime, 1_000_000_000)
  })))

// =============================================================================
// names that would leave the download directory
// =============================================================================

const badName = fc.constantFrom("..", ".", "", "../x", "a/b", "/etc/passwd", "x\0y", "../../up")

/** The directories of a tree (relative; "" is the job directory itself). */
const directoriesOf = (tree: RemoteTree) => {
  const dirs = new Set<string>([""])
  for (const rel of tree.keys()) {
    const parts = rel.split("/")
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"))
  }
  return [...dirs]
}

Deno.test("a remote listing with an escaping name fails with DataStaging and writes nothing", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-escape-")
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          treeAndLocal.chain(({ tree, local }) =>
            fc.record({
              tree: fc.constant(tree),
              local: fc.constant(local),
              where: fc.constantFrom(...directoriesOf(tree)),
              bad: badName,
              position: fc.nat(),
              options: arbitraries.transferOptions,
            })
          ),
          async ({ tree, local, where, bad, position, options }) => {
            const dir = newRunDir(base)
            seedLocal(dir, local)
            const remote = remoteFor(tree)
            const listed = where === "" ? JOB_DIR : `${JOB_DIR}/${where}`
            let injected = false
            const transport: TransportShape = {
              ...remote,
              list: (path) =>
                Effect.map(remote.list(path), (names) => {
                  if (path !== listed) return names
                  injected = true
                  const at = position % (names.length + 1)
                  return [...names.slice(0, at), bad, ...names.slice(at)]
                }),
            }
            const exit = await exitOf(Transfer.getResults(transport, fs, job, dir, options))
            ok(injected, `the listing of ${listed} was never asked for`)
            ok(Exit.isFailure(exit), `getResults accepted the name ${JSON.stringify(bad)}`)
            const failure = Cause.failureOption(exit.cause)
            ok(Option.isSome(failure), Cause.pretty(exit.cause))
            strictEqual(failure.value.reason, "DataStaging")
            assertUntouched(dir, local)
            deepStrictEqual([...Deno.readDirSync(base)].map((e) => e.name), [
              dir.slice(base.length + 1),
            ])
            Deno.removeSync(dir, { recursive: true })
          },
        ),
        { numRuns: NUM_RUNS },
      )
    )
  })))

Deno.test("an output destination or remote name that leaves its directory is refused", () =>
  runTest(Effect.gen(function* () {
    const base = yield* tempDir("effect-lrms-dest-")
    const remote = remoteFor(
      new Map([["out.txt", { bytes: new TextEncoder().encode("x"), mtime: 1_000_000 }]]),
    )
    remote.seedFile("/home/user/.lrms/jobs/secret", "secret")
    const cases: ReadonlyArray<Application.Output> = [
      { remote: "out.txt", destination: "../x" },
      { remote: "out.txt", destination: "a/../../x" },
      { remote: "out.txt", destination: "/tmp/effect-lrms-absolute-x" },
      { remote: "out.txt", destination: "file:///tmp/effect-lrms-absolute-x" },
      { remote: "*", destination: "../x" },
      { remote: "../secret", destination: "secret" },
      { remote: "/home/user/.lrms/jobs/secret", destination: "secret" },
    ]
    for (const output of cases) {
      const dir = `${base}/download`
      Deno.mkdirSync(dir)
      const bad = new Application.Application({ ...app, outputs: [output] }, true)
      const badJob = Job.update(job, { application: bad })
      deepStrictEqual(badJob.application.outputs, [output])
      const e = yield* Effect.flip(
        Effect.provide(Transfer.getResults(remote, fs, badJob, dir), Auth.none),
      )
      strictEqual(e.reason, "DataStaging", JSON.stringify(output))
      deepStrictEqual([...Deno.readDirSync(base)].map((x) => x.name), ["download"])
      deepStrictEqual([...Deno.readDirSync(dir)], [], JSON.stringify(output))
      Deno.removeSync(dir)
    }
    let absoluteWritten = true
    try {
      Deno.statSync("/tmp/effect-lrms-absolute-x")
    } catch {
      absoluteWritten = false
    }
    ok(!absoluteWritten, "an absolute destination was written")
  })))
