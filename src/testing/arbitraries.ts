/**
 * fast-check arbitraries (fast-check 3, as `effect/FastCheck`) for the transfer laws and for job
 * descriptions: valid `Application.make` inputs, remote file trees with awkward names, every
 * combination of transfer options, and the local state of a download directory relative to a
 * remote tree.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as fc from "effect/FastCheck"
 * import { Application } from "effect-lrms"
 * import { arbitraries } from "effect-lrms/testing"
 *
 * fc.assert(
 *   fc.property(arbitraries.application, (input) => {
 *     Effect.runSync(Application.make(input)) // never fails
 *   }),
 *   { numRuns: 20 },
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as FastCheck from "effect/FastCheck"
import type { ApplicationInput } from "../Application.ts"
import type { LocalFile, LocalState, RemoteFile, RemoteTree } from "../testing.ts"
import type { TransferOptions } from "../Transfer.ts"

// =============================================================================
// Arbitraries
// =============================================================================

const nameByteLimit = 100
const encoder = new TextEncoder()

const isUsableName = (s: string): boolean =>
  s.length > 0 && s !== "." && s !== ".." && !s.includes("/") && !s.includes("\0") &&
  encoder.encode(s).length <= nameByteLimit

/**
 * One file or directory name: spaces, quotes, `$`, unicode, control characters; never `/`,
 * NUL, `.` or `..`, and at most 100 bytes of UTF-8.
 *
 * @since 0.1.0
 * @category testing
 */
export const fileName: FastCheck.Arbitrary<string> = FastCheck.oneof(
  { weight: 4, arbitrary: FastCheck.stringMatching(/^[a-zA-Z0-9 _.'"$()&;,=+-]{1,12}$/) },
  {
    weight: 2,
    arbitrary: FastCheck.constantFrom(
      "with space",
      "ünïcødé",
      "日本語.txt",
      "it's",
      '"quoted"',
      "$HOME",
      "-rf",
      " lead",
      "trail ",
      "back\\slash",
      "emoji 😀",
      "new\nline",
      "tab\there",
      "*",
      "?",
      ".hidden",
      "...",
      "a:b",
    ),
  },
  { weight: 1, arbitrary: FastCheck.string({ unit: "binary", minLength: 1, maxLength: 8 }) },
).filter(isUsableName)

/** A directory name, often one of a few shared names so that trees nest. */
const dirName: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.constantFrom("sub", "dir with space", "ü", "results"),
  fileName,
)

const fileBytes: FastCheck.Arbitrary<Uint8Array> = FastCheck.oneof(
  { weight: 1, arbitrary: FastCheck.constant(new Uint8Array(0)) },
  { weight: 6, arbitrary: FastCheck.uint8Array({ minLength: 1, maxLength: 64 }) },
  { weight: 1, arbitrary: FastCheck.uint8Array({ minLength: 500, maxLength: 4000 }) },
)

/** Modification times in whole seconds, between 2000 and 2030. */
const mtimeMs: FastCheck.Arbitrary<number> = FastCheck.integer({
  min: 946_684_800,
  max: 1_893_456_000,
}).map((s) => s * 1000)

const relativeFilePath: FastCheck.Arbitrary<string> = FastCheck.tuple(
  FastCheck.array(dirName, { maxLength: 2 }),
  fileName,
).map(([dirs, name]) => [...dirs, name].join("/"))

/** Whether two file paths cannot both be files (equal, or one is a directory of the other). */
const collides = (a: string, b: string): boolean =>
  a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`)

/**
 * Remote file trees: up to 10 files, up to two directories deep, names with spaces, quotes,
 * unicode and control characters, empty and multi-kilobyte files, whole-second mtimes between
 * 2000 and 2030; no path is both a file and a directory.
 *
 * @since 0.1.0
 * @category testing
 */
export const remoteTree: FastCheck.Arbitrary<RemoteTree> = FastCheck.array(
  FastCheck.record({ path: relativeFilePath, bytes: fileBytes, mtime: mtimeMs }),
  { maxLength: 10 },
).map((entries) => {
  const tree = new Map<string, RemoteFile>()
  for (const e of entries) {
    if ([...tree.keys()].some((p) => collides(p, e.path))) continue
    tree.set(e.path, { bytes: e.bytes, mtime: e.mtime })
  }
  return tree as RemoteTree
})

const secondsDelta = FastCheck.integer({ min: 1, max: 10_000_000 }).map((s) => s * 1000)

/** Same-length content: the remote bytes themselves, or other bytes of the same length. */
const sameLength = (bytes: Uint8Array): FastCheck.Arbitrary<Uint8Array> =>
  FastCheck.oneof(
    FastCheck.constant(bytes),
    FastCheck.uint8Array({ minLength: bytes.length, maxLength: bytes.length }),
  )

const localFileFor = (remote: RemoteFile): FastCheck.Arbitrary<LocalFile | undefined> =>
  FastCheck.oneof(
    FastCheck.constant(undefined),
    sameLength(remote.bytes).map((bytes): LocalFile => ({
      bytes,
      mtime: remote.mtime,
      relation: "same",
    })),
    FastCheck.tuple(sameLength(remote.bytes), secondsDelta).map(([bytes, d]): LocalFile => ({
      bytes,
      mtime: remote.mtime - d,
      relation: "older",
    })),
    FastCheck.tuple(sameLength(remote.bytes), secondsDelta).map(([bytes, d]): LocalFile => ({
      bytes,
      mtime: remote.mtime + d,
      relation: "newer",
    })),
    FastCheck.tuple(
      FastCheck.uint8Array({ maxLength: 80 }).filter((b) => b.length !== remote.bytes.length),
      FastCheck.integer({ min: -1, max: 1 }),
      secondsDelta,
    ).map(([bytes, sign, d]): LocalFile => ({
      bytes,
      mtime: remote.mtime + sign * d,
      relation: "differentSize",
    })),
  )

/**
 * For a remote tree, the files of the download directory before `getResults`: each remote file
 * is absent locally or present with the same size and mtime (same or other bytes), older, newer,
 * or of another size; a few files only the local side has are added.
 *
 * @since 0.1.0
 * @category testing
 */
export const localState = (tree: RemoteTree): FastCheck.Arbitrary<LocalState> => {
  const paths = [...tree.keys()]
  return FastCheck.tuple(
    FastCheck.tuple(...paths.map((p) => localFileFor(tree.get(p)!))),
    FastCheck.array(
      FastCheck.record({ path: relativeFilePath, bytes: fileBytes, mtime: mtimeMs }),
      { maxLength: 3 },
    ),
  ).map(([perFile, extras]) => {
    const state = new Map<string, LocalFile>()
    perFile.forEach((file, i) => {
      if (file !== undefined) state.set(paths[i]!, file)
    })
    for (const e of extras) {
      const taken = [...paths, ...state.keys()]
      if (taken.some((p) => collides(p, e.path))) continue
      state.set(e.path, { bytes: e.bytes, mtime: e.mtime, relation: "localOnly" })
    }
    return state as LocalState
  })
}

/**
 * Options of `getResults`: every `overwrite` × `changedOnly` combination, each field also absent.
 *
 * @since 0.1.0
 * @category testing
 */
export const transferOptions: FastCheck.Arbitrary<TransferOptions> = FastCheck.record(
  { overwrite: FastCheck.boolean(), changedOnly: FastCheck.boolean() },
  { requiredKeys: [] },
)

// --- applications ------------------------------------------------------------

const shellySpecials = [
  " ",
  "'",
  '"',
  "$",
  "\\",
  "`",
  "\n",
  "\t",
  "*",
  "?",
  "!",
  ";",
  "&",
  "|",
  "<",
  ">",
  "(",
  ")",
  "{",
  "}",
  "~",
  "#",
  "=",
  "-",
  "a",
  "Z",
  "0",
  "é",
  "日",
  "😀",
]

/**
 * One argument a process can receive: any text without NUL (the empty string, quotes, `$`,
 * backslashes, newlines, unicode).
 *
 * @since 0.1.0
 * @category testing
 */
export const argument: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.string({ unit: "binary", maxLength: 12 }),
  FastCheck.string({ unit: FastCheck.constantFrom(...shellySpecials), maxLength: 12 }),
  FastCheck.constantFrom("", "$HOME", "it's", '"quoted"', "a b", "--flag=value", "$(id)", "`id`"),
).map((s) => s.replaceAll("\0", ""))

const command: FastCheck.Arbitrary<string> = FastCheck.oneof(
  FastCheck.constantFrom("true", "/bin/echo", "printf", "my program", "./run.sh"),
  argument.filter((s) => s.length > 0),
)

/** A relative name for inputs and outputs: 1–3 segments, never `*` and never URL-like. */
const jobFileName: FastCheck.Arbitrary<string> = FastCheck.array(
  FastCheck.oneof(
    FastCheck.stringMatching(/^[a-zA-Z0-9 _.'"$-]{1,10}$/),
    FastCheck.constantFrom("ünïcødé", "日本語", "it's", "$HOME", "with space"),
  ).filter((s) => s !== "." && s !== ".." && !s.includes(":")),
  { minLength: 1, maxLength: 3 },
).map((segs) => segs.join("/")).filter((p) => !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p))

const inputSource = (name: string): FastCheck.Arbitrary<string> =>
  FastCheck.constantFrom(
    `/data/${name}`,
    `file:///data/${name.split("/").map(encodeURIComponent).join("/")}`,
    `https://example.org/${name.split("/").map(encodeURIComponent).join("/")}`,
    `sftp://host.example.org/srv/${name.split("/").map(encodeURIComponent).join("/")}`,
  )

const environment: FastCheck.Arbitrary<Readonly<Record<string, string>>> = FastCheck.array(
  FastCheck.tuple(
    FastCheck.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/),
    argument,
  ),
  { maxLength: 4 },
).map((pairs) => {
  const env: Record<string, string> = {}
  for (const [k, v] of pairs) {
    if (k !== "__proto__") env[k] = v
  }
  return env
})

/**
 * Valid inputs of `Application.make`: arguments with any text but NUL, unique input and output
 * names (some renamed, sometimes `*`), stdin, stdout/stderr (separate, equal or joined), an
 * environment, and some resource requests.
 *
 * @since 0.1.0
 * @category testing
 */
export const application: FastCheck.Arbitrary<ApplicationInput> = FastCheck.record({
  names: FastCheck.uniqueArray(jobFileName, {
    maxLength: 12,
    selector: (p) => p.split("/").filter((s) => s !== "" && s !== ".").join("/"),
  }),
  counts: FastCheck.tuple(
    FastCheck.nat({ max: 3 }),
    FastCheck.nat({ max: 3 }),
    FastCheck.boolean(),
  ),
  std: FastCheck.constantFrom("none", "stdout", "both", "join", "same"),
  withStdin: FastCheck.boolean(),
  withAll: FastCheck.boolean(),
  renameOutputs: FastCheck.boolean(),
  argv: FastCheck.tuple(command, FastCheck.array(argument, { maxLength: 6 })),
  environment,
  requestedCores: FastCheck.option(FastCheck.integer({ min: 1, max: 64 }), { nil: undefined }),
  requestedMemory: FastCheck.option(FastCheck.constantFrom("512MiB", "4 GB", 1_073_741_824), {
    nil: undefined,
  }),
  requestedWalltime: FastCheck.option(FastCheck.constantFrom("10 min", "1h30m", "01:30:00"), {
    nil: undefined,
  }),
  jobname: FastCheck.option(argument, { nil: undefined }),
}).chain((p) => {
  const pool = [...p.names]
  const take = () => pool.shift()
  const inputNames: Array<string> = []
  for (let i = 0; i < p.counts[0]; i++) {
    const n = take()
    if (n !== undefined) inputNames.push(n)
  }
  const outputs: Array<string | readonly [string, string]> = []
  for (let i = 0; i < p.counts[1]; i++) {
    const remote = take()
    if (remote === undefined) break
    const dest = p.renameOutputs ? take() : undefined
    outputs.push(dest === undefined ? remote : [remote, dest])
  }
  if (p.withAll) outputs.push("*")
  const stdinName = p.withStdin ? pool.find((n) => !n.includes("/")) : undefined
  if (stdinName !== undefined) pool.splice(pool.indexOf(stdinName), 1)
  const stdout = p.std === "none" ? undefined : take()
  const stderr = p.std === "both" ? take() : undefined
  return FastCheck.tuple(
    FastCheck.tuple(...inputNames.map(inputSource)),
    stdinName === undefined ? FastCheck.constant(undefined) : inputSource(stdinName),
  ).map(([sources, stdin]): ApplicationInput => ({
    arguments: [p.argv[0], ...p.argv[1]],
    inputs: inputNames.map((remote, i) => ({ source: sources[i]!, remote })),
    outputs,
    ...(stdin !== undefined ? { stdin } : {}),
    ...(stdout !== undefined ? { stdout } : {}),
    ...(stdout !== undefined && p.std === "same" ? { stderr: stdout } : {}),
    ...(stderr !== undefined ? { stderr } : {}),
    ...(stdout !== undefined && p.std === "join" ? { join: true } : {}),
    environment: p.environment,
    ...(p.requestedCores !== undefined ? { requestedCores: p.requestedCores } : {}),
    ...(p.requestedMemory !== undefined ? { requestedMemory: p.requestedMemory } : {}),
    ...(p.requestedWalltime !== undefined ? { requestedWalltime: p.requestedWalltime } : {}),
    ...(p.jobname !== undefined ? { jobname: p.jobname } : {}),
  }))
})
