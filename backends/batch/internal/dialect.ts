/**
 * @internal What every dialect shares: reading a reply's last line, the failure texts of stat and
 * status commands, the job-id lists of argvs, the units submit commands round up to, and the
 * configuration schemas of names and lines.
 *
 * @module
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import type { Dialect, QueueStatus, Reply, SubmitSpec } from "../Dialect.ts"

// =============================================================================
// Replies
// =============================================================================

/** @internal The last non-blank line of a text, trimmed; `undefined` when there is none. */
export const lastLine = (text: string): string | undefined =>
  text.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1)

/**
 * @internal Why a command failed: the last line of its standard error (or, with `stdout`, of its
 * output, standard error first), else `<command> exited with code N`.
 */
export const failureMessage = (command: string, reply: Reply, stdout = false): string =>
  lastLine(stdout ? `${reply.stdout}\n${reply.stderr}` : reply.stderr) ??
    `${command} exited with code ${reply.exitCode}`

/**
 * @internal A status `parse`'s answer when its first reply (the queue listing) did not come or
 * failed: `<what> failed: <last line of standard error>`.
 */
export const firstReplyFailed = (what: string, reply: Reply | undefined): string =>
  `${what} failed: ${lastLine(reply?.stderr ?? "") ?? "no reply"}`

/**
 * @internal A status `parse` over two replies: the queue listing, which must answer (`counts`),
 * and the node listing (`free`), whose failure or unreadable text leaves free slots unknown (−1).
 */
export const queueAndNodes = (
  what: string,
  counts: (stdout: string, user: string) => Omit<QueueStatus, "freeSlots">,
  free: (stdout: string) => number | undefined,
): Dialect["status"]["parse"] =>
([queue, nodes], user) => {
  if (queue === undefined || queue.exitCode !== 0) return firstReplyFailed(what, queue)
  const slots = nodes !== undefined && nodes.exitCode === 0 ? free(nodes.stdout) : undefined
  return { ...counts(queue.stdout, user), freeSlots: slots ?? -1 }
}

// =============================================================================
// Job ids
// =============================================================================

/**
 * @internal The ids, deduplicated, or `undefined` when the list is empty or any id may not be put
 * on a command line (all or nothing: a silently dropped id would never get a status).
 */
export const uniqueIds = (
  ids: ReadonlyArray<string>,
  isValid: (id: string) => boolean,
): ReadonlyArray<string> | undefined =>
  ids.length > 0 && ids.every(isValid) ? [...new Set(ids)] : undefined

/** @internal `head` followed by the ids ({@linkcode uniqueIds}), or `undefined`. */
export const withIds = (
  head: ReadonlyArray<string>,
  ids: ReadonlyArray<string>,
  isValid: (id: string) => boolean,
): ReadonlyArray<string> | undefined => {
  const list = uniqueIds(ids, isValid)
  return list === undefined ? undefined : [...head, ...list]
}

// =============================================================================
// Submit commands
// =============================================================================

/**
 * @internal What every submit command is given: the application's name, cores, memory and
 * walltime, the scheduler's output and error files, and the job script.
 */
export const submitOptions = (spec: SubmitSpec): {
  readonly jobname: string
  readonly cores: number
  readonly memory: number | undefined
  readonly walltime: Duration.Duration | undefined
  readonly output: string
  readonly error: string
  readonly script: string
} => ({
  jobname: spec.app.jobname,
  cores: spec.app.requestedCores,
  memory: spec.app.requestedMemory,
  walltime: spec.app.requestedWalltime,
  output: spec.schedulerOutput,
  error: spec.schedulerError,
  script: spec.scriptPath,
})

// =============================================================================
// Units of submit commands (rounded up, at least 1)
// =============================================================================

/** @internal Bytes as MiB, rounded up, at least 1. */
export const mebibytesUp = (bytes: number): number => Math.max(1, Math.ceil(bytes / 1024 ** 2))

/** @internal A duration in whole minutes, rounded up, at least 1. */
export const minutesUp = (d: Duration.Duration): number =>
  Math.max(1, Math.ceil(Duration.toMillis(d) / 60_000))

/** @internal A duration in whole seconds, rounded up, at least 1. */
export const secondsUp = (d: Duration.Duration): number =>
  Math.max(1, Math.ceil(Duration.toMillis(d) / 1000))

// =============================================================================
// Configuration schemas
// =============================================================================

/** @internal A queue, account or project name: one word. */
export const Word: Schema.filter<typeof Schema.String> = Schema.String.pipe(
  Schema.filter((s) =>
    /^[A-Za-z0-9_.@-]+$/.test(s) || "expected one word (letters, digits, _ . @ -)"
  ),
)

/** @internal One non-empty line of text (no CR, LF or NUL); `message` when it is not. */
export const Line = (message: string): Schema.filter<typeof Schema.String> =>
  Schema.String.pipe(
    Schema.filter((s) => (s.trim() !== "" && !/[\r\n\0]/.test(s)) || message),
  )

/**
 * @internal The `spooldir` field: a non-empty path (default `~/.effect-lrms/batch`) that also
 * passes the dialect's `check`.
 */
export const spooldir = (
  check: (path: string) => true | string = () => true,
): Schema.optionalWith<
  Schema.filter<Schema.filter<typeof Schema.String>>,
  { default: () => string }
> =>
  Schema.optionalWith(Schema.String.pipe(Schema.nonEmptyString(), Schema.filter(check)), {
    default: () => "~/.effect-lrms/batch",
  })
