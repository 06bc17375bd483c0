/**
 * `getResults` and `peek`, written once on top of `Transport` for every backend.
 *
 * `getResults` copies a job's outputs into an existing local directory. What it copies is
 * decided by a pure function, {@linkcode decide}, so the rules can be property-tested:
 *
 * | local file | `overwrite` | `changedOnly` | result |
 * |---|---|---|---|
 * | missing | any | any | copied |
 * | exists | `false` | any | never touched |
 * | exists | `true` | `true` | copied when the remote size differs or the remote file is newer |
 * | exists | `true` | `false` | copied |
 *
 * A download lands under a temporary name beside its target and is renamed into place, so an
 * interrupted copy never leaves a partial file. A remote or destination name that would leave the
 * download directory (`../x`, an absolute path) is refused before anything is written.
 *
 * `peek` copies a byte range of a file in the job directory (a negative offset counts from the
 * end, clamped to the start) into a local path or an effect `Sink`.
 *
 * `stageInputs` is the other direction, shared by every backend: it copies an application's
 * `file:` inputs into a new job directory, keeping the executable bit.
 *
 * @since 0.1.0
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { ANY_OUTPUT, normalizeRelative, relativePathProblem } from "./Application.ts"
import type { Auth } from "./Auth.ts"
import type { Job } from "./Job.ts"
import { LrmsError } from "./LrmsError.ts"
import type { TransportShape } from "./Transport.ts"
import * as TransferUrl from "./TransferUrl.ts"

// =============================================================================
// Pure planning
// =============================================================================

/**
 * The options of `getResults`. GC3Pie's defaults: `overwrite: false`, `changedOnly: true`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferOptions {
  /** Replace local files that already exist. */
  readonly overwrite?: boolean
  /** With `overwrite`, replace only files whose remote size differs or remote copy is newer. */
  readonly changedOnly?: boolean
}

/**
 * The size and modification time of one side of a copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileState {
  /** Size in bytes. */
  readonly size: number
  /** Modification time, in milliseconds since the epoch. */
  readonly mtime: number
}

/**
 * What to do with one file, and why.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly copy: true; readonly reason: "missing" | "overwrite" | "changed" }
  | { readonly copy: false; readonly reason: "exists" | "unchanged" }

/**
 * Decides whether one remote file is copied over its local counterpart (pure).
 *
 * @since 0.1.0
 * @category transfer
 */
export const decide = (
  remote: FileState,
  local: FileState | undefined,
  options: TransferOptions = {},
): Decision => {
  if (local === undefined) return { copy: true, reason: "missing" }
  if (!(options.overwrite ?? false)) return { copy: false, reason: "exists" }
  if (!(options.changedOnly ?? true)) return { copy: true, reason: "overwrite" }
  return remote.size !== local.size || remote.mtime > local.mtime
    ? { copy: true, reason: "changed" }
    : { copy: false, reason: "unchanged" }
}

/**
 * The byte window `peek` reads from a file of `fileSize` bytes (pure): a negative offset counts
 * from the end and is clamped to the start; `size` absent means to the end.
 *
 * @since 0.1.0
 * @category transfer
 */
export const peekWindow = (
  fileSize: number,
  offset: number,
  size?: number,
): { readonly start: number; readonly length: number } => {
  const start = offset >= 0 ? Math.min(offset, fileSize) : Math.max(0, fileSize + offset)
  const end = size === undefined ? fileSize : Math.min(fileSize, start + size)
  return { start, length: Math.max(0, end - start) }
}

/**
 * Joins a relative path to a directory, refusing a path that would leave it (pure); returns
 * `undefined` when the path escapes.
 *
 * @since 0.1.0
 * @category transfer
 */
export const joinInside = (dir: string, relative: string): string | undefined => {
  if (relative === "" || relative === ".") return dir
  if (relativePathProblem(relative) !== undefined) return undefined
  return `${dir.replace(/\/+$/, "")}/${normalizeRelative(relative)}`
}

// =============================================================================
// getResults
// =============================================================================

/**
 * What `getResults` did, file by file.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransferReport {
  /** Files copied, with the reason they were. */
  readonly copied: ReadonlyArray<{
    readonly remote: string
    readonly local: string
    readonly bytes: number
    readonly reason: "missing" | "overwrite" | "changed"
  }>
  /** Files left alone, with the reason. */
  readonly skipped: ReadonlyArray<{
    readonly remote: string
    readonly local: string
    readonly reason: "exists" | "unchanged" | "symbolic link" | "not a file URL"
  }>
  /** Declared outputs the job did not produce. */
  readonly missing: ReadonlyArray<string>
}

interface Pair {
  readonly remote: string
  readonly local: string
  readonly state: FileState
}

const stagingError = (operation: string, description: string, cause?: unknown) =>
  new LrmsError({ reason: "DataStaging", backend: "transfer", operation, description, cause })

const checkName = (name: string, dir: string) =>
  name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")
    ? Effect.fail(
      stagingError(
        "getResults",
        `the remote directory ${dir} lists the name ${JSON.stringify(name)}, which would leave ` +
          `the download directory; nothing was written`,
      ),
    )
    : Effect.void

/** Lists the files under a remote path, pairing each with its local destination. */
const expand = (
  transport: TransportShape,
  remote: string,
  local: string,
  exclude: ReadonlySet<string>,
  skipped: Array<TransferReport["skipped"][number]>,
  missing: Array<string>,
): Effect.Effect<ReadonlyArray<Pair>, LrmsError, Auth> =>
  transport.stat(remote).pipe(
    Effect.map(Option.some),
    Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none())),
    Effect.flatMap((info): Effect.Effect<ReadonlyArray<Pair>, LrmsError, Auth> => {
      if (Option.isNone(info)) {
        missing.push(remote)
        return Effect.succeed([])
      }
      const i = info.value
      if (i.type === "SymbolicLink") {
        skipped.push({ remote, local, reason: "symbolic link" })
        return Effect.succeed([])
      }
      if (i.type !== "Directory") {
        return Effect.succeed([{
          remote,
          local,
          state: { size: i.size, mtime: i.mtime.getTime() },
        }])
      }
      return transport.list(remote).pipe(
        Effect.flatMap((names) =>
          Effect.forEach(
            names.filter((n) => !exclude.has(n)),
            (name) =>
              checkName(name, remote).pipe(
                Effect.zipRight(
                  expand(
                    transport,
                    `${remote}/${name}`,
                    `${local}/${name}`,
                    new Set(),
                    skipped,
                    missing,
                  ),
                ),
              ),
            { concurrency: 8 },
          )
        ),
        Effect.map((nested) => nested.flat()),
      )
    }),
  )

const localState = (fs: FileSystem.FileSystem, path: string) =>
  fs.stat(path).pipe(
    Effect.map((info) =>
      Option.some({
        type: info.type,
        size: Number(info.size),
        mtime: Option.getOrElse(info.mtime, () => new Date(0)).getTime(),
      })
    ),
    Effect.catchAll((e) =>
      e._tag === "SystemError" && e.reason === "NotFound"
        ? Effect.succeed(Option.none())
        : Effect.fail(stagingError("getResults", `cannot stat local ${path}: ${e.message}`, e))
    ),
  )

const dirname = (p: string) => p.slice(0, Math.max(p.lastIndexOf("/"), 0)) || "/"
const basename = (p: string) => p.slice(p.lastIndexOf("/") + 1)

/**
 * Downloads one remote file to a local path through a temporary name beside it; the temporary
 * file is removed if the copy fails or is interrupted.
 *
 * @since 0.1.0
 * @category transfer
 */
export const downloadAtomically = (
  transport: TransportShape,
  fs: FileSystem.FileSystem,
  remote: string,
  local: string,
): Effect.Effect<void, LrmsError, Auth> => {
  const temp = `${dirname(local)}/.${basename(local)}.lrms-part-${crypto.randomUUID().slice(0, 8)}`
  const fsError = (what: string) => (e: { readonly message: string }) =>
    stagingError("getResults", `${what}: ${e.message}`, e)
  // A file-system call, once started, finishes even if the fiber is interrupted (the promise
  // under it cannot be cancelled): run the local mutations uninterruptibly, so none of them lands
  // after getResults has returned.
  return Effect.uninterruptible(fs.makeDirectory(dirname(local), { recursive: true })).pipe(
    Effect.mapError(fsError(`cannot create ${dirname(local)}`)),
    Effect.zipRight(
      Effect.acquireUseRelease(
        Effect.succeed(temp),
        (tmp) =>
          transport.get(remote, tmp).pipe(
            Effect.zipRight(
              Effect.uninterruptible(fs.rename(tmp, local)).pipe(
                Effect.mapError(fsError(`cannot rename to ${local}`)),
              ),
            ),
            // the file is whole under its name: drop what a killed earlier copy of it left
            Effect.zipRight(removeStaleParts(fs, local)),
          ),
        (tmp, exit) =>
          exit._tag === "Success"
            ? Effect.void
            : fs.remove(tmp, { force: true }).pipe(Effect.ignore),
      ),
    ),
  )
}

/** Removes `.<name>.lrms-part-*` beside `local`: temporary copies a killed process left. */
const removeStaleParts = (fs: FileSystem.FileSystem, local: string) => {
  const prefix = `.${basename(local)}.lrms-part-`
  return fs.readDirectory(dirname(local)).pipe(
    Effect.flatMap((names) =>
      Effect.forEach(
        names.filter((n) => n.startsWith(prefix)),
        (n) => fs.remove(`${dirname(local)}/${n}`, { force: true }),
        { discard: true },
      )
    ),
    Effect.ignore,
    Effect.uninterruptible,
  )
}

/**
 * Copies a job's outputs into `downloadDir`, which must exist (see the module documentation for
 * the rules). `exclude` names entries of the job directory that `*` does not copy (the backend's
 * private files).
 *
 * @since 0.1.0
 * @category transfer
 */
export const getResults = (
  transport: TransportShape,
  fs: FileSystem.FileSystem,
  job: Job,
  downloadDir: string,
  options: TransferOptions & { readonly exclude?: ReadonlyArray<string> } = {},
): Effect.Effect<TransferReport, LrmsError, Auth> =>
  Effect.gen(function* () {
    const jobDir = job.remoteDir
    if (jobDir === undefined) {
      return yield* new LrmsError({
        reason: "InvalidState",
        backend: job.backend,
        operation: "getResults",
        description: `job ${job.id} has no remote directory (state ${job.state})`,
      })
    }
    const dirInfo = yield* localState(fs, downloadDir)
    if (Option.isNone(dirInfo) || dirInfo.value.type !== "Directory") {
      return yield* new LrmsError({
        reason: "InvalidArgument",
        backend: job.backend,
        operation: "getResults",
        description: `download directory ${downloadDir} does not exist or is not a directory`,
      })
    }
    const skipped: Array<TransferReport["skipped"][number]> = []
    const missing: Array<string> = []
    // Plan every output before touching the local file system.
    const roots: Array<{ remote: string; local: string; exclude: ReadonlySet<string> }> = []
    for (const [i, out] of job.application.outputs.entries()) {
      const isUrl = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(out.destination)
      if (isUrl && TransferUrl.scheme(out.destination) !== "file") {
        skipped.push({ remote: out.remote, local: out.destination, reason: "not a file URL" })
        continue
      }
      const destination = isUrl ? TransferUrl.toPath(out.destination) : out.destination
      const remoteRel = out.remote === ANY_OUTPUT ? "" : out.remote
      const localRel = out.remote === ANY_OUTPUT && destination === "" ? "" : destination
      const remote = joinInside(jobDir, remoteRel)
      const local = joinInside(downloadDir, localRel)
      if (remote === undefined || local === undefined) {
        return yield* stagingError(
          "getResults",
          `outputs.${i}: ${JSON.stringify(remote === undefined ? out.remote : out.destination)} ` +
            `would leave ${remote === undefined ? "the job" : "the download"} directory; ` +
            `nothing was written`,
        )
      }
      roots.push({
        remote,
        local,
        exclude: new Set(remoteRel === "" ? options.exclude ?? [] : []),
      })
    }
    const pairs = (yield* Effect.forEach(
      roots,
      (r) => expand(transport, r.remote, r.local, r.exclude, skipped, missing),
      { concurrency: 4 },
    )).flat()
    const copied: Array<TransferReport["copied"][number]> = []
    // At most 4 downloads at a time, bounded by a semaphore rather than `concurrency: 4`: in
    // effect 3.22, a bounded `Effect.forEach` given more items than its bound can return on the
    // first failure before the interrupted siblings have run their finalizers, so a sibling's
    // temporary file was removed only after getResults had returned (or never, if the program
    // then exits). With one fiber per item, the interruption of every sibling is awaited.
    const downloads = yield* Effect.makeSemaphore(4)
    yield* Effect.forEach(pairs, (pair) =>
      downloads.withPermits(1)(Effect.gen(function* () {
        const local = yield* localState(fs, pair.local)
        if (Option.isSome(local) && local.value.type !== "File") {
          return yield* stagingError(
            "getResults",
            `cannot write ${pair.local}: a ${local.value.type.toLowerCase()} is in the way`,
          )
        }
        const decision = decide(pair.state, Option.getOrUndefined(local), options)
        if (!decision.copy) {
          skipped.push({ remote: pair.remote, local: pair.local, reason: decision.reason })
          return
        }
        yield* downloadAtomically(transport, fs, pair.remote, pair.local)
        copied.push({
          remote: pair.remote,
          local: pair.local,
          bytes: pair.state.size,
          reason: decision.reason,
        })
      })), { concurrency: "unbounded", discard: true })
    return { copied, skipped, missing }
  })

// =============================================================================
// peek
// =============================================================================

/**
 * Where `peek` writes: a local path (created or truncated) or a sink of byte chunks.
 *
 * @since 0.1.0
 * @category models
 */
export type PeekTarget = string | Sink.Sink<unknown, Uint8Array, unknown, never, never>

/**
 * The options of `peek`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeekOptions {
  /** Where to start: bytes from the start, or from the end when negative. Default 0. */
  readonly offset?: number
  /** How many bytes at most; to the end of the file when absent. */
  readonly size?: number
}

const PEEK_CHUNK = 1024 * 1024

/**
 * Copies a byte range of a remote file into a local path or a sink; returns the bytes written.
 *
 * @since 0.1.0
 * @category transfer
 */
export const peek = (
  transport: TransportShape,
  fs: FileSystem.FileSystem,
  remotePath: string,
  target: PeekTarget,
  options: PeekOptions = {},
): Effect.Effect<number, LrmsError, Auth> =>
  Effect.gen(function* () {
    const offset = options.offset ?? 0
    if (!Number.isSafeInteger(offset)) {
      return yield* invalidPeek(`offset must be a whole number, got ${offset}`)
    }
    if (options.size !== undefined && !(Number.isSafeInteger(options.size) && options.size >= 0)) {
      return yield* invalidPeek(`size must be a whole number ≥ 0, got ${options.size}`)
    }
    const info = yield* transport.stat(remotePath)
    const { start, length } = peekWindow(info.size, offset, options.size)
    const chunks = Stream.unfoldEffect(0, (done) =>
      done >= length ? Effect.succeed(Option.none()) : Effect.map(
        transport.readRange(remotePath, start + done, Math.min(PEEK_CHUNK, length - done)),
        (bytes) =>
          bytes.length === 0 ? Option.none() : Option.some([bytes, done + bytes.length] as const),
      ))
    if (typeof target === "string") {
      return yield* Effect.scoped(
        Effect.gen(function* () {
          const file = yield* fs.open(target, { flag: "w" }).pipe(
            Effect.mapError((e) =>
              stagingError("peek", `cannot open ${target}: ${e.message}`, e)
            ),
          )
          return yield* Stream.runFoldEffect(chunks, 0, (n, bytes) =>
            file.writeAll(bytes).pipe(
              Effect.as(n + bytes.length),
              Effect.mapError((e) =>
                stagingError("peek", `cannot write ${target}: ${e.message}`, e)
              ),
            ))
        }),
      )
    }
    let written = 0
    yield* Stream.run(
      Stream.tap(chunks, (bytes) => Effect.sync(() => (written += bytes.length))),
      target,
    )
    return written
  })

const invalidPeek = (description: string) =>
  new LrmsError({ reason: "InvalidArgument", backend: "transfer", operation: "peek", description })

/**
 * Collects a sink's worth of chunks into one byte array (handy with `peek` in tests).
 *
 * @since 0.1.0
 * @category transfer
 */
export const concatChunks = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  const total = Chunk.reduce(chunks, 0, (n, c) => n + c.length)
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
