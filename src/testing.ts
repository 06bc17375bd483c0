/**
 * The test kit of effect-lrms (`effect-lrms/testing`): an in-memory transport
 * ({@linkcode MemoryTransport}), a wrapper injecting network faults into any transport
 * ({@linkcode FaultyTransport}, with a fast-check arbitrary of fault schedules), fast-check
 * {@linkcode arbitraries} for applications, remote file trees and transfer options, and a pure
 * model of what `getResults` must leave in the download directory
 * ({@linkcode expectedAfterGetResults}).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth, Transport } from "effect-lrms"
 * import { MemoryTransport } from "effect-lrms/testing"
 *
 * const remote = MemoryTransport.make({
 *   exec: (argv) => ({ exitCode: 0, signal: null, stdout: argv.join(" "), stderr: "" }),
 * })
 * remote.seedFile("/home/user/job/out.txt", "hello", { mtime: new Date("2024-01-01") })
 *
 * const program = Effect.gen(function* () {
 *   const text = yield* Transport.readFileString(remote, "/home/user/job/out.txt")
 *   const echoed = yield* remote.exec(["echo", "hi"])
 *   return `${text} ${echoed.stdout}`
 * })
 * deepStrictEqual(Effect.runSync(program.pipe(Effect.provide(Auth.none))), "hello echo hi")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type { TransferOptions } from "./Transfer.ts"

/**
 * An in-memory `Transport` with handles for tests: `MemoryTransport.make(options)`,
 * `MemoryTransport.layer(options)`.
 *
 * @since 0.1.0
 * @category testing
 */
export * as MemoryTransport from "./testing/MemoryTransport.ts"

/**
 * A `Transport` wrapper that injects network faults (`fail`, `drop`, `hang`, `lostReply`, a
 * host down for some calls) following a schedule, and records every call:
 * `FaultyTransport.wrap(inner, schedule)`, `FaultyTransport.layer(schedule)`, and the
 * fast-check arbitrary `FaultyTransport.faultSchedule(options)`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 * import { FaultyTransport, MemoryTransport } from "effect-lrms/testing"
 *
 * const faulty = FaultyTransport.wrap(MemoryTransport.make(), [
 *   { operation: "exec", match: FaultyTransport.execOf("sbatch"), fault: "lostReply" },
 * ])
 * const error = Effect.runSync(
 *   Effect.flip(faulty.exec(["sbatch", "job.sh"])).pipe(Effect.provide(Auth.none)),
 * )
 * deepStrictEqual([error.reason, faulty.calls[0]?.innerCalled], ["ConnectionLost", true])
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export * as FaultyTransport from "./testing/FaultyTransport.ts"

/**
 * fast-check (v3) arbitraries: `application`, `remoteTree`, `transferOptions`, `localState`.
 *
 * @since 0.1.0
 * @category testing
 */
export * as arbitraries from "./testing/arbitraries.ts"

/**
 * The options of `getResults`, re-exported for the model's signature.
 *
 * @since 0.1.0
 * @category models
 */
export type { TransferOptions } from "./Transfer.ts"

// =============================================================================
// Remote trees, local states and the getResults model
// =============================================================================

/**
 * One file of a remote tree.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoteFile {
  /** The file's content. */
  readonly bytes: Uint8Array
  /** Modification time in milliseconds since the epoch (whole seconds). */
  readonly mtime: number
}

/**
 * A remote file tree: `/`-separated relative paths of files (directories are implied) to their
 * content. No path is both a file and a directory.
 *
 * @since 0.1.0
 * @category models
 */
export type RemoteTree = ReadonlyMap<string, RemoteFile>

/**
 * How a local file compares with the remote file of the same path (`localOnly`: no remote
 * file has that path).
 *
 * @since 0.1.0
 * @category models
 */
export type LocalRelation = "same" | "older" | "newer" | "differentSize" | "localOnly"

/**
 * One file of the download directory before `getResults`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LocalFile {
  /** The file's content. */
  readonly bytes: Uint8Array
  /** Modification time in milliseconds since the epoch (whole seconds). */
  readonly mtime: number
  /** How it compares with the remote file. */
  readonly relation: LocalRelation
}

/**
 * The files of the download directory before `getResults`, by relative path.
 *
 * @since 0.1.0
 * @category models
 */
export type LocalState = ReadonlyMap<string, LocalFile>

/**
 * One file the download directory must hold after `getResults`: its bytes and where they come
 * from (`local`: the file that was there, unchanged, mtime included).
 *
 * @since 0.1.0
 * @category models
 */
export interface ExpectedFile {
  /** The content the file must have. */
  readonly bytes: Uint8Array
  /** `remote`: copied from the remote tree; `local`: the pre-existing file, left untouched. */
  readonly source: "remote" | "local"
}

/**
 * What the download directory must contain after `getResults(job, dir, options)` when the
 * job's outputs are `*` (the whole job directory), written from the rules of the design rather
 * than from `Transfer.decide`: a missing local file is always copied; with `overwrite: false`
 * (the default) an existing local file is never altered; with `overwrite: true` and
 * `changedOnly: true` (the default) it is replaced only when the remote size differs or the
 * remote mtime is newer; with `overwrite: true, changedOnly: false` it is always replaced; a
 * local file the remote tree does not have stays as it is.
 *
 * @since 0.1.0
 * @category models
 */
export const expectedAfterGetResults = (
  remoteTree: RemoteTree,
  localBefore: LocalState,
  options: TransferOptions = {},
): ReadonlyMap<string, ExpectedFile> => {
  const expected = new Map<string, ExpectedFile>()
  for (const [path, file] of localBefore) {
    expected.set(path, { bytes: file.bytes, source: "local" })
  }
  const overwrite = options.overwrite === true
  const changedOnly = options.changedOnly !== false
  for (const [path, remote] of remoteTree) {
    const local = localBefore.get(path)
    let takeRemote: boolean
    if (local === undefined) takeRemote = true
    else if (!overwrite) takeRemote = false
    else if (!changedOnly) takeRemote = true
    else {
      const sizeDiffers = local.bytes.length !== remote.bytes.length
      const remoteIsNewer = remote.mtime > local.mtime
      takeRemote = sizeDiffers || remoteIsNewer
    }
    if (takeRemote) expected.set(path, { bytes: remote.bytes, source: "remote" })
  }
  return expected
}
