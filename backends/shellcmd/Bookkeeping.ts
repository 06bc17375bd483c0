/**
 * The capacity bookkeeping shellcmd shares between every process of a user on a host.
 *
 * One file per job in a directory on the target host (default `~/.effect-lrms/shellcmd.d`):
 * `<job id>~<cores>~<memory bytes>.job` holds the job's record as JSON (its directory, where the
 * wrapper records its pid and start time), and `<job id>.done` appears when the job ended (the wrapper creates it, or
 * whoever sees the job gone). Capacity in use is read from one directory listing: the `.job`
 * files without a `.done` beside them. Reservations are taken under a lock directory (`mkdir` is
 * atomic on every POSIX file system and over SFTP), so two processes cannot both take the last
 * core. Unlike GC3Pie's pickles keyed by pid, a job is known by its pid *and* start time, so a
 * reused pid is never taken for a live job, and a record whose wrapper died unseen is collected.
 *
 * @since 0.1.0
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Auth } from "../../src/Auth.ts"
import { LrmsError } from "../../src/LrmsError.ts"
import { readFileString, type TransportShape } from "../../src/Transport.ts"

/**
 * The JSON record of one job in the bookkeeping directory.
 *
 * @since 0.1.0
 * @category models
 */
export const Entry = Schema.Struct({
  jobId: Schema.String,
  resourceName: Schema.String,
  cores: Schema.Int,
  memory: Schema.Number,
  jobDir: Schema.String,
  createdAt: Schema.Number,
})

/**
 * The JSON record of one job.
 *
 * @since 0.1.0
 * @category models
 */
export type Entry = typeof Entry.Type

/**
 * A job as the directory listing shows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listed {
  /** The job's id. */
  readonly jobId: string
  /** Cores it holds. */
  readonly cores: number
  /** Memory it holds, in bytes. */
  readonly memory: number
  /** The record's file name. */
  readonly file: string
}

/**
 * The file name of a job's record.
 *
 * @since 0.1.0
 * @category naming
 */
export const entryName = (jobId: string, cores: number, memory: number): string =>
  `${jobId}~${cores}~${memory}.job`

/**
 * The file name of a job's done marker.
 *
 * @since 0.1.0
 * @category naming
 */
export const doneName = (jobId: string): string => `${jobId}.done`

/**
 * Reads a directory listing: the jobs that still hold capacity (pure).
 *
 * @since 0.1.0
 * @category parsing
 */
export const active = (names: ReadonlyArray<string>): ReadonlyArray<Listed> => {
  const done = new Set(names.filter((n) => n.endsWith(".done")).map((n) => n.slice(0, -5)))
  const out: Array<Listed> = []
  for (const file of names) {
    const m = /^([^~/]+)~(\d+)~(\d+)\.job$/.exec(file)
    if (m === null || done.has(m[1]!)) continue
    out.push({ jobId: m[1]!, cores: Number(m[2]), memory: Number(m[3]), file })
  }
  return out
}

/**
 * Sums the cores and memory the listed jobs hold (pure).
 *
 * @since 0.1.0
 * @category capacity
 */
export const used = (
  jobs: ReadonlyArray<Listed>,
): { readonly cores: number; readonly memory: number } =>
  jobs.reduce((acc, j) => ({ cores: acc.cores + j.cores, memory: acc.memory + j.memory }), {
    cores: 0,
    memory: 0,
  })

const LOCK = ".lock"
const STALE_LOCK = Duration.seconds(10)

/**
 * The bookkeeping directory of one host, over a transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /** The directory. */
  readonly dir: string
  /** Runs an effect while holding the cross-process lock. */
  readonly withLock: <A, E, R>(
    self: Effect.Effect<A, E, R>,
  ) => Effect.Effect<A, E | LrmsError, R | Auth>
  /** The jobs that hold capacity. */
  readonly list: Effect.Effect<ReadonlyArray<Listed>, LrmsError, Auth>
  /** Writes a job's record. */
  readonly write: (entry: Entry) => Effect.Effect<void, LrmsError, Auth>
  /** Reads a job's record. */
  readonly read: (listed: Listed) => Effect.Effect<Entry, LrmsError, Auth>
  /** Marks a job done: it no longer holds capacity. */
  readonly markDone: (jobId: string) => Effect.Effect<void, LrmsError, Auth>
  /** Removes a job's record and marker. */
  readonly remove: (entry: Pick<Entry, "jobId" | "cores" | "memory">) => Effect.Effect<
    void,
    LrmsError,
    Auth
  >
}

/**
 * Makes the store for a directory on the transport's host (created if missing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (transport: TransportShape, dir: string): Store => {
  const lockPath = `${dir}/${LOCK}`
  // one fiber of this process at a time contends for the cross-process lock
  const local = Effect.unsafeMakeSemaphore(1)
  const encode = Schema.encodeSync(Entry)
  const decode = Schema.decodeUnknown(Schema.parseJson(Entry))
  const ensureDir = transport.mkdir(dir, { recursive: true, mode: 0o700 })
  const acquire = Effect.gen(function* () {
    const deadline = Date.now() + 20_000
    let wait = 2
    // the lock's mtime, and since when (on our clock) we have seen it unchanged
    let seen: { readonly mtime: number; readonly since: number } | undefined
    while (true) {
      const took = yield* transport.mkdir(lockPath, { recursive: false }).pipe(
        Effect.as(true),
        Effect.catchIf((e) => e.reason === "InvalidState", () => Effect.succeed(false)),
        Effect.catchIf(
          (e) => e.reason === "NotFound",
          () => Effect.zipRight(ensureDir, Effect.succeed(false)),
        ),
      )
      if (took) return
      const info = yield* transport.stat(lockPath).pipe(Effect.option)
      if (info._tag === "Some") {
        // A holder keeps the lock for milliseconds. One that stays, unchanged, for STALE_LOCK of
        // our own clock (never compared with the host's) belonged to a process that died: move
        // it aside atomically, so of two processes that both saw it only one takes it over.
        const mtime = info.value.mtime.getTime()
        if (seen === undefined || seen.mtime !== mtime) seen = { mtime, since: Date.now() }
        else if (Date.now() - seen.since > Duration.toMillis(STALE_LOCK)) {
          const aside = `${lockPath}.stale-${crypto.randomUUID().slice(0, 8)}`
          const moved = yield* transport.rename(lockPath, aside).pipe(
            Effect.as(true),
            Effect.orElseSucceed(() => false),
          )
          if (moved) yield* transport.remove(aside, { recursive: true }).pipe(Effect.ignore)
          seen = undefined
          continue
        }
      }
      if (Date.now() > deadline) {
        return yield* new LrmsError({
          reason: "Timeout",
          backend: "shellcmd",
          operation: "bookkeeping",
          description: `could not take the bookkeeping lock ${lockPath} within 20 s`,
        })
      }
      yield* Effect.sleep(Duration.millis(wait))
      wait = Math.min(wait * 2, 50)
    }
  })
  const release = transport.remove(lockPath, { recursive: true }).pipe(Effect.ignore)
  // Capacity is read from names, so a record needs no temporary file: a reader that meets a
  // record still being written only skips it when collecting garbage.
  const write = (entry: Entry) => {
    const path = `${dir}/${entryName(entry.jobId, entry.cores, entry.memory)}`
    const text = JSON.stringify(encode(entry))
    return transport.writeFile(path, text).pipe(
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        () => ensureDir.pipe(Effect.zipRight(transport.writeFile(path, text))),
      ),
    )
  }
  return {
    dir,
    withLock: (self) =>
      local.withPermits(1)(Effect.acquireUseRelease(acquire, () => self, () => release)),
    list: transport.list(dir).pipe(
      Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed([])),
      Effect.map(active),
    ),
    write,
    read: (listed) =>
      readFileString(transport, `${dir}/${listed.file}`).pipe(
        Effect.flatMap((text) =>
          decode(text).pipe(
            Effect.mapError((e) =>
              new LrmsError({
                reason: "UnexpectedOutput",
                backend: "shellcmd",
                operation: "bookkeeping",
                description: `${dir}/${listed.file} is not a bookkeeping record: ${e.message}`,
              })
            ),
          )
        ),
      ),
    markDone: (jobId) => transport.writeFile(`${dir}/${doneName(jobId)}`, ""),
    remove: (entry) =>
      Effect.all([
        transport.remove(`${dir}/${entryName(entry.jobId, entry.cores, entry.memory)}`),
        transport.remove(`${dir}/${doneName(entry.jobId)}`),
      ], { discard: true }),
  }
}
