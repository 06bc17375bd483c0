/**
 * Jobs kept on disk, so that a later process re-attaches to them.
 *
 * A {@linkcode JobStore} keeps one file per job, `<dir>/<job.id>.json`, holding the job encoded
 * with the `Job` schema (plain JSON; `Schema.decode` gives the same job back). The directory is
 * `~/.effect-lrms/jobs` unless told otherwise, and is created with mode 0700 when missing.
 *
 * A record is written atomically: the JSON goes to a temporary file beside it
 * (`.<id>.json.<random>.tmp`, mode 0600), is flushed to disk, and the temporary file is renamed
 * over the record. A reader therefore sees the old record or the new one, never a partial write,
 * and a put that fails or is interrupted removes its temporary file. (A process killed outright
 * can leave a temporary file behind; `list` and `get` ignore it.)
 *
 * `get` takes a job's id or, as git does, any prefix of it that names one job. `list` returns the
 * jobs oldest first, and reports the files it could not read instead of failing on them.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Application, Job, JobStore } from "effect-lrms"
 *
 * const dir = Deno.makeTempDirSync()
 * const program = Effect.gen(function* () {
 *   const store = yield* JobStore.JobStore
 *   const app = yield* Application.make({ arguments: ["true"] })
 *   const job = Job.make({ resourceName: "local", backend: "shellcmd", application: app })
 *   yield* store.put(job)
 *   const again = yield* store.get(job.id.slice(0, 8)) // a unique prefix will do
 *   const { jobs, problems } = yield* store.list
 *   return [again.id === job.id, jobs.length, problems.length]
 * })
 * const result = await Effect.runPromise(program.pipe(Effect.provide(JobStore.layerNode(dir))))
 * deepStrictEqual(result, [true, 1, 0])
 * Deno.removeSync(dir, { recursive: true })
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type { PlatformError } from "@effect/platform/Error"
import { fromPlatformError } from "./internal/platformError.ts"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { formatParseError } from "./internal/decode.ts"
import * as Job from "./Job.ts"
import { LrmsError, type Reason } from "./LrmsError.ts"

// =============================================================================
// Service
// =============================================================================

/**
 * What a job store does.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobStoreShape {
  /** The directory holding the records. */
  readonly dir: string
  /** Writes (or replaces) the job's record atomically. */
  readonly put: (job: Job.Job) => Effect.Effect<void, LrmsError>
  /**
   * Reads one job by id, or by a unique prefix of its id (as git does); fails with `NotFound`
   * when nothing matches, and with `InvalidArgument`, naming the candidates, when the prefix is
   * ambiguous.
   */
  readonly get: (idOrPrefix: string) => Effect.Effect<Job.Job, LrmsError>
  /**
   * Every stored job, oldest first (by the job's `NEW` timestamp); unreadable or corrupt files
   * are skipped and reported in `problems`, temporary files are ignored.
   */
  readonly list: Effect.Effect<ListResult, LrmsError>
  /** Removes a job's record; a missing one is not an error. */
  readonly remove: (id: string) => Effect.Effect<void, LrmsError>
}

/**
 * A record `list` could not read, and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface Problem {
  /** The path of the file. */
  readonly file: string
  /** What is wrong with it, for a person to read. */
  readonly reason: string
}

/**
 * What `list` returns: the jobs it read, oldest first, and the files it could not read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListResult {
  /** The jobs, oldest first. */
  readonly jobs: ReadonlyArray<Job.Job>
  /** The files skipped, with the reason. */
  readonly problems: ReadonlyArray<Problem>
}

/**
 * The job store service.
 *
 * @since 0.1.0
 * @category tags
 */
export class JobStore extends Context.Tag("effect-lrms/JobStore")<JobStore, JobStoreShape>() {}

// =============================================================================
// Names and errors
// =============================================================================

const BACKEND = "jobStore"
const SUFFIX = ".json"

const storeError = (
  reason: Reason,
  operation: string,
  description: string,
  cause?: unknown,
): LrmsError => new LrmsError({ reason, backend: BACKEND, operation, description, cause })

const fromPlatform = (operation: string, what: string) =>
  fromPlatformError(BACKEND, operation, what)

const isNotFound = (e: PlatformError): boolean =>
  e._tag === "SystemError" && e.reason === "NotFound"

/** Why an id (or id prefix) cannot name a file in the store, or `undefined` when it can. */
const idProblem = (id: string): string | undefined =>
  id === ""
    ? "is empty"
    : id.includes("/") || id.includes("\\")
    ? "contains a path separator"
    : id.includes("..")
    ? 'contains ".."'
    : id.includes("\0")
    ? "contains NUL"
    : undefined

const checkId = (operation: string, id: string, what = "job id") => {
  const problem = idProblem(id)
  return problem === undefined ? Effect.void : Effect.fail(
    storeError(
      "InvalidArgument",
      operation,
      `${what} ${JSON.stringify(id)} ${problem}; it would not name a file inside the store`,
    ),
  )
}

/** The ids of the records among a directory's entries (temporary files end in `.tmp`). */
const recordIds = (names: ReadonlyArray<string>): Array<string> =>
  names.filter((n) => n.endsWith(SUFFIX) && n.length > SUFFIX.length).map((n) =>
    n.slice(0, -SUFFIX.length)
  )

const randomHex = (): string => crypto.randomUUID().replaceAll("-", "").slice(0, 12)

const expandHome = (dir: string): Effect.Effect<string, LrmsError> =>
  dir !== "~" && !dir.startsWith("~/") ? Effect.succeed(dir) : Config.nonEmptyString("HOME").pipe(
    Effect.map((home) => `${home.replace(/\/+$/, "")}${dir.slice(1)}`),
    Effect.mapError((e) =>
      storeError(
        "ConfigurationError",
        "make",
        `cannot find the home directory for ${dir}: HOME is not set`,
        e,
      )
    ),
  )

/** When a job was created, for sorting: the `NEW` timestamp, else its earliest one. */
const createdAt = (job: Job.Job): number => {
  const created = job.timestamps.NEW
  if (created !== undefined) return created.getTime()
  const times = Object.values(job.timestamps).flatMap((d) => d === undefined ? [] : [d.getTime()])
  return times.length > 0 ? Math.min(...times) : Number.POSITIVE_INFINITY
}

const byAge = (a: Job.Job, b: Job.Job): number =>
  createdAt(a) - createdAt(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

// =============================================================================
// Encoding
// =============================================================================

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })
const encodeJob = Schema.encode(Job.Job)
const decodeJob = Schema.decodeUnknown(Job.Job, { errors: "all", onExcessProperty: "error" })

/** Why a record could not be read: gone in the meantime, or unreadable / corrupt. */
type ReadFailure =
  | { readonly _tag: "Gone" }
  | { readonly _tag: "Bad"; readonly reason: string; readonly cause?: unknown }

const bad = (reason: string, cause?: unknown): ReadFailure => ({ _tag: "Bad", reason, cause })

// =============================================================================
// Constructors
// =============================================================================

/**
 * Makes a job store over the `FileSystem` in context, keeping its records in `dir` (default
 * `~/.effect-lrms/jobs`; a leading `~` is the home directory), which is created with mode 0700
 * when missing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  dir: string = "~/.effect-lrms/jobs",
): Effect.Effect<JobStoreShape, LrmsError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (dir === "") {
      return yield* storeError("InvalidArgument", "make", "the store directory is empty")
    }
    const expanded = yield* expandHome(dir)
    const root = expanded.length > 1 ? expanded.replace(/\/+$/, "") : expanded
    yield* fs.makeDirectory(root, { recursive: true, mode: 0o700 }).pipe(
      Effect.mapError((e) =>
        e._tag === "SystemError" && e.reason === "AlreadyExists"
          ? storeError("InvalidArgument", "make", `${root} exists and is not a directory`, e)
          : fromPlatform("make", `cannot create the store directory ${root}`)(e)
      ),
    )
    const info = yield* fs.stat(root).pipe(
      Effect.mapError(fromPlatform("make", `cannot read the store directory ${root}`)),
    )
    if (info.type !== "Directory") {
      return yield* storeError("InvalidArgument", "make", `${root} is not a directory`)
    }

    const pathOf = (id: string) => `${root}/${id}${SUFFIX}`

    /** Reads and decodes one record; checks that it holds the job its name says. */
    const readRecord = (id: string): Effect.Effect<Job.Job, ReadFailure> =>
      fs.readFile(pathOf(id)).pipe(
        Effect.mapError((e): ReadFailure =>
          isNotFound(e) ? { _tag: "Gone" } : bad(`cannot read: ${e.message}`, e)
        ),
        Effect.flatMap((bytes) =>
          Effect.try({
            try: () => JSON.parse(decoder.decode(bytes)) as unknown,
            catch: (e) => bad(`not JSON: ${e instanceof Error ? e.message : String(e)}`, e),
          })
        ),
        Effect.flatMap((json) =>
          decodeJob(json).pipe(
            Effect.mapError((e) => bad(`not a job record: ${formatParseError(e)}`, e)),
          )
        ),
        Effect.filterOrFail(
          (job) => job.id === id,
          (job) => bad(`holds job ${JSON.stringify(job.id)}, not ${JSON.stringify(id)}`),
        ),
      )

    const readDirectory = (operation: string) =>
      fs.readDirectory(root).pipe(
        Effect.mapError(fromPlatform(operation, `cannot list the store directory ${root}`)),
      )

    const put = (job: Job.Job): Effect.Effect<void, LrmsError> =>
      Effect.suspend(() => {
        const target = pathOf(job.id)
        const temp = `${root}/.${job.id}${SUFFIX}.${randomHex()}.tmp`
        // Set when the temporary name turned out to be taken: that file is not ours to remove.
        let taken = false
        const failed = (what: string) => fromPlatform("put", `${what} ${temp}`)
        // A file-system call, once started, finishes even if the fiber is interrupted: each one
        // runs uninterruptibly, so none lands after the cleanup below has run. `open` is
        // already uninterruptible (the scope's acquire), and the scope closes the descriptor.
        const writeTemp = (bytes: Uint8Array) =>
          Effect.scoped(
            Effect.gen(function* () {
              const file = yield* fs.open(temp, { flag: "wx", mode: 0o600 }).pipe(
                Effect.tapError((e) =>
                  Effect.sync(() => {
                    if (e._tag === "SystemError" && e.reason === "AlreadyExists") taken = true
                  })
                ),
                Effect.mapError(failed("cannot create")),
              )
              yield* Effect.uninterruptible(file.writeAll(bytes)).pipe(
                Effect.mapError(failed("cannot write")),
              )
              yield* Effect.uninterruptible(file.sync).pipe(Effect.mapError(failed("cannot sync")))
            }),
          )
        const syncDirectory = Effect.uninterruptible(
          Effect.scoped(Effect.flatMap(fs.open(root, { flag: "r" }), (d) => d.sync)),
        ).pipe(Effect.ignore)
        return Effect.gen(function* () {
          yield* checkId("put", job.id)
          const encoded = yield* encodeJob(job).pipe(
            Effect.mapError((e) =>
              storeError(
                "InvalidArgument",
                "put",
                `job ${job.id} cannot be encoded: ${formatParseError(e)}`,
                e,
              )
            ),
          )
          const bytes = encoder.encode(`${JSON.stringify(encoded, null, 2)}\n`)
          yield* Effect.acquireUseRelease(
            Effect.void,
            () =>
              writeTemp(bytes).pipe(
                Effect.zipRight(
                  Effect.uninterruptible(fs.rename(temp, target)).pipe(
                    Effect.mapError(fromPlatform("put", `cannot rename ${temp} to ${target}`)),
                  ),
                ),
              ),
            (_, exit) =>
              exit._tag === "Success" || taken
                ? Effect.void
                : fs.remove(temp, { force: true }).pipe(Effect.ignore),
          )
          // Makes the rename itself durable; a file system that cannot sync a directory still
          // has the record.
          yield* syncDirectory
        })
      })

    const get = (idOrPrefix: string): Effect.Effect<Job.Job, LrmsError> =>
      Effect.gen(function* () {
        yield* checkId("get", idOrPrefix, "job id or prefix")
        const toError = (id: string) => (f: ReadFailure) =>
          f._tag === "Gone"
            ? storeError("NotFound", "get", `no job ${id} in ${root}`)
            : storeError("UnexpectedOutput", "get", `${pathOf(id)}: ${f.reason}`, f.cause)
        // An exact id wins over longer ids it is a prefix of.
        const exact = yield* readRecord(idOrPrefix).pipe(
          Effect.map((job): Job.Job | undefined => job),
          Effect.catchAll((f) =>
            f._tag === "Gone" ? Effect.succeed(undefined) : Effect.fail(toError(idOrPrefix)(f))
          ),
        )
        if (exact !== undefined) return exact
        const candidates = recordIds(yield* readDirectory("get"))
          .filter((id) => id.startsWith(idOrPrefix))
          .sort()
        const [only] = candidates
        if (only === undefined) {
          return yield* storeError(
            "NotFound",
            "get",
            `no job with id or id prefix ${JSON.stringify(idOrPrefix)} in ${root}`,
          )
        }
        if (candidates.length > 1) {
          const shown = candidates.slice(0, 10).join(", ")
          const more = candidates.length > 10 ? ` and ${candidates.length - 10} more` : ""
          return yield* storeError(
            "InvalidArgument",
            "get",
            `the id prefix ${JSON.stringify(idOrPrefix)} is ambiguous: it matches ${shown}${more}`,
          )
        }
        return yield* readRecord(only).pipe(Effect.mapError(toError(only)))
      })

    const list: Effect.Effect<ListResult, LrmsError> = Effect.gen(function* () {
      const names = yield* readDirectory("list")
      const jobs: Array<Job.Job> = []
      const problems: Array<Problem> = []
      yield* Effect.forEach(recordIds(names), (id) =>
        readRecord(id).pipe(
          Effect.match({
            onSuccess: (job) => {
              jobs.push(job)
            },
            onFailure: (f) => {
              // a record removed since the directory was read is simply gone
              if (f._tag === "Bad") problems.push({ file: pathOf(id), reason: f.reason })
            },
          }),
        ), { concurrency: 8, discard: true })
      problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
      return { jobs: jobs.sort(byAge), problems }
    })

    const remove = (id: string): Effect.Effect<void, LrmsError> =>
      checkId("remove", id).pipe(
        Effect.zipRight(
          Effect.uninterruptible(fs.remove(pathOf(id))).pipe(
            Effect.catchIf(isNotFound, () => Effect.void),
            Effect.mapError(fromPlatform("remove", `cannot remove ${pathOf(id)}`)),
          ),
        ),
      )

    return { dir: root, put, get, list, remove } satisfies JobStoreShape
  })

/**
 * A layer of a job store over the `FileSystem` the application provides (see
 * {@linkcode make}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (dir?: string): Layer.Layer<JobStore, LrmsError, FileSystem.FileSystem> =>
  Layer.effect(JobStore, make(dir))

/**
 * A layer of a job store over Node's file system (which runs under Deno).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode = (dir?: string): Layer.Layer<JobStore, LrmsError> =>
  layer(dir).pipe(Layer.provide(NodeFileSystem.layer))
