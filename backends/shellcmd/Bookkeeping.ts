/**
 * The capacity bookkeeping shellcmd shares between every process of a user on a host.
 *
 * One file per job in a directory on the target host (default `~/.effect-lrms/shellcmd.d`):
 * `<job id>~<cores>~<memory bytes>.job` holds the job's record as JSON (its id, which is also its
 * tag, and its directory, where the wrapper records its pid and start time), and
 * `<job id>.done` appears when the job ended (the wrapper creates it, or whoever sees the job
 * gone). Capacity in use is read from one directory listing: the `.job` files without a `.done`
 * beside them. Reservations are taken under a cross-process lock (see {@linkcode make}: claims
 * named by their holder's token, refreshed by a heartbeat while held), so two processes cannot
 * both take the last core. Unlike GC3Pie's pickles keyed by pid, a job is known by its pid *and*
 * start time, so a reused pid is never taken for a live job, and a record whose wrapper died
 * unseen is collected.
 *
 * @since 0.1.0
 * @module
 */
import * as Clock from "effect/Clock"
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
 * @category models
 */
export const entryName = (jobId: string, cores: number, memory: number): string =>
  `${jobId}~${cores}~${memory}.job`

/**
 * The file name of a job's done marker.
 *
 * @since 0.1.0
 * @category models
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
    const parsed = parseEntryName(file)
    if (parsed === undefined || done.has(parsed.jobId)) continue
    out.push({ ...parsed, file })
  }
  return out
}

/**
 * Sums the cores and memory the listed jobs hold (pure).
 *
 * @since 0.1.0
 * @category models
 */
export const used = (
  jobs: ReadonlyArray<Listed>,
): { readonly cores: number; readonly memory: number } =>
  jobs.reduce((acc, j) => ({ cores: acc.cores + j.cores, memory: acc.memory + j.memory }), {
    cores: 0,
    memory: 0,
  })

/**
 * Where an entry name of the bookkeeping directory says a job's record is (pure): the job id,
 * cores and memory of a `.job` file, `undefined` for any other name.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseEntryName = (
  name: string,
): { readonly jobId: string; readonly cores: number; readonly memory: number } | undefined => {
  const m = /^([^~/]+)~(\d+)~(\d+)\.job$/.exec(name)
  return m === null ? undefined : { jobId: m[1]!, cores: Number(m[2]), memory: Number(m[3]) }
}

// =============================================================================
// The cross-process lock
// =============================================================================

/**
 * The directory of lock claims inside the bookkeeping directory.
 *
 * @since 0.1.0
 * @category models
 */
export const CLAIMS_DIR = ".lock.d"

/**
 * The name of a lock claim: its holder's token and how many heartbeats it has had.
 *
 * @since 0.1.0
 * @category models
 */
export const claimName = (token: string, beat: number): string => `${token}~${beat}`

/**
 * Reads a claim's name (pure): its token and heartbeat count, `undefined` for any other name.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseClaim = (
  name: string,
): { readonly token: string; readonly beat: number } | undefined => {
  const m = /^([0-9a-f]{32})~(\d+)$/.exec(name)
  return m === null ? undefined : { token: m[1]!, beat: Number(m[2]) }
}

/**
 * How the lock behaves; the defaults suit every real host, tests shorten them.
 *
 * @since 0.1.0
 * @category models
 */
export interface LockOptions {
  /**
   * A claim whose heartbeat has not moved for this long belonged to a process that died (or
   * stalled past its lease), and is broken (default 10 s). The holder refreshes its claim every
   * fifth of it. Every process sharing a bookkeeping directory must use the same value.
   */
  readonly staleAfter?: Duration.DurationInput
  /** How long `withLock` waits for the lock before failing with `Timeout` (default 20 s). */
  readonly waitAtMost?: Duration.DurationInput
}

/**
 * The default of {@linkcode LockOptions.staleAfter}.
 *
 * @since 0.1.0
 * @category models
 */
export const STALE_LOCK: Duration.Duration = Duration.seconds(10)

/**
 * The bookkeeping directory of one host, over a transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /** The directory. */
  readonly dir: string
  /**
   * Runs an effect while holding the cross-process lock. The lock is refreshed while the effect
   * runs; if it is lost all the same (this process stalled past `staleAfter` and another broke
   * it), the effect is interrupted and `withLock` fails with a recoverable `Timeout`.
   */
  readonly withLock: <A, E, R>(
    self: Effect.Effect<A, E, R>,
  ) => Effect.Effect<A, E | LrmsError, R | Auth>
  /** The jobs that hold capacity. */
  readonly list: Effect.Effect<ReadonlyArray<Listed>, LrmsError, Auth>
  /** The record of a job, held or done, if there is one (its file name and whether it is done). */
  readonly find: (jobId: string) => Effect.Effect<
    {
      readonly file: string
      readonly cores: number
      readonly memory: number
      readonly done: boolean
    } | undefined,
    LrmsError,
    Auth
  >
  /** Writes a job's record. */
  readonly write: (entry: Entry) => Effect.Effect<void, LrmsError, Auth>
  /** Reads a job's record. */
  readonly read: (listed: Pick<Listed, "file">) => Effect.Effect<Entry, LrmsError, Auth>
  /** Marks a job done: it no longer holds capacity. */
  readonly markDone: (jobId: string) => Effect.Effect<void, LrmsError, Auth>
  /** Removes a job's record and marker. */
  readonly remove: (entry: Pick<Entry, "jobId" | "cores" | "memory">) => Effect.Effect<
    void,
    LrmsError,
    Auth
  >
}

/** A claim this process holds: its token and its current name (which each heartbeat changes). */
interface Held {
  readonly token: string
  name: string
}

const lockError = (description: string) =>
  new LrmsError({ reason: "Timeout", backend: "shellcmd", operation: "bookkeeping", description })

/**
 * Makes the store for a directory on the transport's host (created if missing).
 *
 * The lock is a directory of claims, `.lock.d`, each an empty file named `<token>~<beat>`: a
 * random token of its holder and a heartbeat count.
 *
 * - **Acquire**: create our claim `<token>~0`, then list the directory. If ours is the only
 *   claim, we hold the lock; otherwise withdraw it (remove it), wait a random while and try
 *   again. Of two contenders each writes before it lists, so they cannot both see only their
 *   own claim: at most one holds the lock (both may withdraw, and retry after random waits).
 * - **Heartbeat**: while the lock is held, every fifth of `staleAfter` the holder renames its
 *   claim to the next beat, `<token>~<beat+1>`. Work under the lock may take as long as it
 *   needs: the claim keeps moving.
 * - **Breaking a stale claim**: a contender that sees the same claim name, unchanged, for
 *   `staleAfter` by its own `Clock` (never compared with the host's clock, which may differ)
 *   removes exactly that name. A live holder has renamed it in the meantime, so the removal
 *   finds nothing; only a claim whose heartbeat really stopped is removed.
 * - **Release**: remove our claim by its exact name.
 *
 * Why names rather than a token written in a lock directory: `rename` and `remove` address a
 * name, and every name here belongs to one holder and one heartbeat, so each operation is a
 * compare-and-swap by construction. Release needs no "rename aside, then check the token"
 * step (which, when the check fails, has already taken a live lock away from its holder and can
 * only try to put it back); it removes our own name, which no one else ever creates. A breaker
 * cannot remove a newer claim (the ABA race of breaking one `.lock` directory, where a new
 * holder may have taken the path between the look and the removal), because a newer claim,
 * or a refreshed one, has another name. And a holder whose claim was broken finds out at its
 * next heartbeat (the rename fails): `withLock` then interrupts the work and fails.
 */
export const make = (transport: TransportShape, dir: string, options: LockOptions = {}): Store => {
  const claimsDir = `${dir}/${CLAIMS_DIR}`
  const staleMs = Duration.toMillis(options.staleAfter ?? STALE_LOCK)
  const waitMs = Duration.toMillis(options.waitAtMost ?? Duration.seconds(20))
  const beatEvery = Duration.millis(Math.max(1, Math.floor(staleMs / 5)))
  // one fiber of this process at a time contends for the cross-process lock
  const local = Effect.unsafeMakeSemaphore(1)
  const encode = Schema.encodeSync(Entry)
  const decode = Schema.decodeUnknown(Schema.parseJson(Entry))
  const ensureDir = transport.mkdir(dir, { recursive: true, mode: 0o700 })
  const claimPath = (name: string) => `${claimsDir}/${name}`
  const removeIfThere = (path: string) =>
    transport.remove(path).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))
  const listClaims = transport.list(claimsDir).pipe(
    Effect.catchIf(
      (e) => e.reason === "NotFound",
      () => Effect.succeed([] as ReadonlyArray<string>),
    ),
    Effect.map((names) => names.filter((n) => parseClaim(n) !== undefined)),
  )
  const writeClaim = (name: string) =>
    transport.writeFile(claimPath(name), "").pipe(
      Effect.catchIf(
        (e) => e.reason === "NotFound",
        () =>
          transport.mkdir(claimsDir, { recursive: true, mode: 0o700 }).pipe(
            Effect.zipRight(transport.writeFile(claimPath(name), "")),
          ),
      ),
    )

  const acquire: Effect.Effect<Held, LrmsError, Auth> = Effect.gen(function* () {
    const token = crypto.randomUUID().replaceAll("-", "")
    const mine = claimName(token, 0)
    const deadline = (yield* Clock.currentTimeMillis) + waitMs
    // every other claim seen, and since when (on our clock) with that very name
    const seen = new Map<string, number>()
    let cap = 4
    while (true) {
      // write, then look: a withdrawn claim is removed before anything else happens, so a
      // failure part way leaves no claim of ours behind
      const others = yield* Effect.uninterruptible(
        writeClaim(mine).pipe(
          Effect.zipRight(listClaims),
          Effect.map((names) => names.filter((n) => n !== mine)),
          Effect.tap((others) => others.length > 0 ? removeIfThere(claimPath(mine)) : Effect.void),
          Effect.tapError(() => removeIfThere(claimPath(mine)).pipe(Effect.ignore)),
        ),
      )
      if (others.length === 0) return { token, name: mine }
      const now = yield* Clock.currentTimeMillis
      for (const name of [...seen.keys()]) if (!others.includes(name)) seen.delete(name)
      for (const name of others) {
        const since = seen.get(name)
        if (since === undefined) seen.set(name, now)
        else if (now - since >= staleMs) {
          // no heartbeat for staleAfter: its holder is gone. Removing this exact name cannot
          // touch a live claim (a refreshed claim has another name).
          yield* removeIfThere(claimPath(name))
          seen.delete(name)
        }
      }
      if (now > deadline) {
        return yield* lockError(
          `could not take the bookkeeping lock ${claimsDir} within ${
            Duration.format(Duration.millis(waitMs))
          } (held by ${others.join(", ")})`,
        )
      }
      // a random wait, so that two contenders that withdrew together do not meet again
      yield* Effect.sleep(Duration.millis(1 + Math.floor(Math.random() * cap)))
      cap = Math.min(cap * 2, 100)
    }
  })

  /** Our claim's name as the directory shows it, after a heartbeat whose reply was lost. */
  const findMine = (held: Held) =>
    Effect.map(listClaims, (names) => names.find((n) => parseClaim(n)?.token === held.token))

  /** One heartbeat; fails only when the claim is provably gone (the lock was broken). */
  const beat = (held: Held): Effect.Effect<void, LrmsError, Auth> =>
    Effect.uninterruptible(Effect.gen(function* () {
      const next = claimName(held.token, (parseClaim(held.name)?.beat ?? 0) + 1)
      const renamed = yield* Effect.either(transport.rename(claimPath(held.name), claimPath(next)))
      if (renamed._tag === "Right") {
        held.name = next
        return
      }
      // a lost reply leaves the claim under either name: look
      const found = yield* Effect.either(findMine(held))
      if (found._tag === "Left") return // cannot look now; try again at the next beat
      if (found.right === undefined) {
        return yield* lockError(
          `lost the bookkeeping lock ${claimsDir}: its claim was broken as stale (this ` +
            `process did not refresh it for ${Duration.format(Duration.millis(staleMs))})`,
        )
      }
      held.name = found.right
    }))

  const heartbeat = (held: Held): Effect.Effect<never, LrmsError, Auth> =>
    Effect.forever(Effect.zipRight(Effect.sleep(beatEvery), beat(held)))

  // The heartbeat has stopped before release runs (the work and the heartbeat race, and a beat
  // is uninterruptible), so `held.name` is the claim's name on the host, or its last known name
  // after a lost reply: then look it up. Failing to remove it costs others `staleAfter`.
  const release = (held: Held) =>
    transport.remove(claimPath(held.name)).pipe(
      Effect.catchAll(() =>
        findMine(held).pipe(
          Effect.flatMap((name) =>
            name === undefined ? Effect.void : removeIfThere(claimPath(name))
          ),
        )
      ),
      Effect.ignore,
    )

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
  const names = transport.list(dir).pipe(
    Effect.catchIf(
      (e) => e.reason === "NotFound",
      () => Effect.succeed([] as ReadonlyArray<string>),
    ),
  )
  return {
    dir,
    withLock: (self) =>
      local.withPermits(1)(
        Effect.acquireUseRelease(
          acquire,
          (held) => Effect.raceFirst(self, heartbeat(held)),
          release,
        ),
      ),
    list: Effect.map(names, active),
    find: (jobId) =>
      Effect.map(names, (all) => {
        for (const file of all) {
          const parsed = parseEntryName(file)
          if (parsed !== undefined && parsed.jobId === jobId) {
            return {
              file,
              cores: parsed.cores,
              memory: parsed.memory,
              done: all.includes(doneName(jobId)),
            }
          }
        }
        return undefined
      }),
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
