/**
 * @internal What every part of the shellcmd backend shares: its configuration, the transport,
 * the host's facts and limits once discovered, and small helpers for the job directory.
 *
 * @module
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Auth } from "../../../src/Auth.ts"
import type * as Job from "../../../src/Job.ts"
import { LrmsError } from "../../../src/LrmsError.ts"
import type * as Resource from "../../../src/Resource.ts"
import { type FileInfo, readFileString, type TransportShape } from "../../../src/Transport.ts"
import type * as Bookkeeping from "../Bookkeeping.ts"
import type * as Processes from "../Processes.ts"
import type { ShellcmdConfig } from "../Shellcmd.ts"
import * as Wrapper from "../Wrapper.ts"
import type { HostInfo } from "./discover.ts"

/** @internal */
export const BACKEND = "shellcmd"

/** @internal A reservation whose record nobody rewrote for this long lost its submitter. */
export const STALE_RESERVATION_MS = 90_000

/**
 * @internal How long a wrapper that may have just been started gets to claim its launch token
 * before a settling submitter refuses it. Refusing sooner is never wrong (the rename decides,
 * and a refused wrapper runs nothing), only wasteful: the job would not run although it was
 * launched.
 */
export const CLAIM_GRACE: Duration.Duration = Duration.seconds(2)

/**
 * @internal The capacity of the resource: the configured one, or what discovery adopted from
 * the host (`override`). Discovery never changes its name or its walltime limit.
 */
export interface Limits {
  readonly resource: Resource.Resource
  /** Bytes of memory all jobs together may hold. */
  readonly totalMemory: number
}

/** @internal What a call learns before it reaches the host (once per user, then remembered). */
export interface Discovered {
  readonly info: HostInfo
  readonly limits: Limits
  /** The spool directory, `~` expanded. */
  readonly spool: string
  readonly store: Bookkeeping.Store
}

/** @internal The shared context of one shellcmd resource. */
export interface Env {
  readonly config: ShellcmdConfig
  readonly transport: TransportShape
  readonly fileSystem: FileSystem.FileSystem
  /** The configured resource: its name and walltime limit hold after discovery too. */
  readonly configured: Resource.Resource
  /** The host's facts, limits, spool and bookkeeping of the caller (see `discover.ts`). */
  readonly discover: Effect.Effect<Discovered, LrmsError, Auth>
  /** A process's `ps` row (one `ps` for every pid asked in the same moment). */
  readonly processInfo: (
    pid: number,
  ) => Effect.Effect<Processes.ProcessRow | undefined, LrmsError, Auth>
}

/** @internal */
export const lrmsError = (
  reason: LrmsError["reason"],
  operation: string,
  description: string,
  cause?: unknown,
): LrmsError => new LrmsError({ reason, backend: BACKEND, operation, description, cause })

/** @internal A number the backend kept in a job's `backendData`. */
export const numberData = (job: Job.Job, key: string): number | undefined => {
  const v = job.backendData[key]
  return typeof v === "number" ? v : undefined
}

/** @internal A file of the job directory's private part (`.lrms/`). */
export const privatePath = (jobDir: string, file: string): string =>
  `${jobDir}/${Wrapper.PRIVATE_DIR}/${file}`

const notFound = (e: LrmsError) => e.reason === "NotFound"

/** @internal A file's text, or none when it does not exist. */
export const readOptional = (
  transport: TransportShape,
  path: string,
): Effect.Effect<Option.Option<string>, LrmsError, Auth> =>
  readFileString(transport, path).pipe(
    Effect.map(Option.some),
    Effect.catchIf(notFound, () => Effect.succeed(Option.none<string>())),
  )

/** @internal A path's metadata, or none when it does not exist. */
export const statOptional = (
  transport: TransportShape,
  path: string,
): Effect.Effect<Option.Option<FileInfo>, LrmsError, Auth> =>
  transport.stat(path).pipe(
    Effect.map(Option.some),
    Effect.catchIf(notFound, () => Effect.succeed(Option.none<FileInfo>())),
  )

/** Whether a failure means the host could not be asked (the transport reconnects). */
const unreachable = (e: LrmsError) => e.reason === "ConnectionLost" || e.reason === "Timeout"

/** @internal Asks the host again, through the transport's reconnects, a few times (about 3 s). */
export const retrying = <A, R>(
  effect: Effect.Effect<A, LrmsError, R>,
): Effect.Effect<A, LrmsError, R> =>
  effect.pipe(Effect.retry({
    schedule: Schedule.exponential(Duration.millis(200), 2),
    times: 4,
    while: unreachable,
  }))
