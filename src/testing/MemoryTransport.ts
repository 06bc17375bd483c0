/**
 * An in-memory `Transport` for tests: a model of a host's file system (files with bytes, mode
 * and mtime, directories, symbolic links) whose `put` and `get` copy between the real local
 * file system and the model, and whose `exec` answers from a stub.
 *
 * Besides the `TransportShape`, a {@linkcode MemoryTransport} has handles for tests: seed files
 * with chosen bytes and mtimes, read the tree back, record `exec` calls, and inject a failure
 * into `get` (after some bytes, on a given file) to test interrupted copies.
 *
 * Paths are absolute or relative to the home directory; `.` and `..` are resolved lexically,
 * symbolic links are followed in the middle of a path and, except by `stat`, `remove`, `rename`
 * and `lookup`, at its end.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 * import { MemoryTransport } from "effect-lrms/testing"
 *
 * const remote = MemoryTransport.make()
 * remote.seedFile("/home/user/job/out.txt", "hello", { mtime: new Date("2024-01-01") })
 * const size = Effect.runSync(
 *   Effect.map(remote.stat("job/out.txt"), (info) => info.size).pipe(Effect.provide(Auth.none)),
 * )
 * deepStrictEqual(size, 5)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LrmsError } from "../LrmsError.ts"
import type { RemoteTree } from "../testing.ts"
import {
  type ExecOptions,
  type ExecResult,
  make as makeTransport,
  Transport,
  type TransportImpl,
  type TransportShape,
} from "../Transport.ts"
import * as Copy from "./internal/memoryCopy.ts"
import * as Fs from "./internal/memoryFs.ts"

// =============================================================================
// MemoryTransport: models
// =============================================================================

/**
 * A stub answering `exec` on a {@linkcode MemoryTransport}: it returns the result, or an effect
 * giving it.
 *
 * @since 0.1.0
 * @category models
 */
export type ExecStub = (
  argv: ReadonlyArray<string>,
  options: ExecOptions,
) => Effect.Effect<ExecResult, LrmsError> | ExecResult

/**
 * A file to seed: its bytes (or UTF-8 text), with an optional mtime and mode.
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedFile {
  /** The file's content. */
  readonly bytes: string | Uint8Array
  /** The modification time (a `Date` or milliseconds since the epoch); default now. */
  readonly mtime?: Date | number
  /** Permission bits; default `0o644`. */
  readonly mode?: number
}

/**
 * How to build a {@linkcode MemoryTransport}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryTransportOptions {
  /** The home directory, created empty (default `/home/user`); relative paths resolve here. */
  readonly home?: string
  /** The host name the transport reports (default `memory`). */
  readonly host?: string
  /** Answers `exec`; by default every command exits 127 with "command not found". */
  readonly exec?: ExecStub
  /** Files to create at the start, by absolute path (parents are created). */
  readonly files?: Readonly<Record<string, string | Uint8Array | SeedFile>>
  /** The clock used for the mtime of files the transport writes (default `new Date()`). */
  readonly now?: () => Date
}

/**
 * A failure injected into `get`, for "interrupted copy" tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface GetFailure {
  /** The remote file whose download fails; any file when absent. */
  readonly path?: string
  /** How many bytes of the file reach the local copy before the failure (default 0). */
  readonly afterBytes?: number
  /** How many downloads fail before the failure clears itself; every one when absent. */
  readonly times?: number
  /**
   * What happens after the partial write: `fail` (default) fails with a recoverable
   * `ConnectionLost`, `interrupt` interrupts the calling fiber, `hang` never finishes (so the
   * caller's timeout or interruption ends the copy).
   */
  readonly mode?: "fail" | "interrupt" | "hang"
}

/**
 * One entry of the in-memory file system, as the handles report it.
 *
 * @since 0.1.0
 * @category models
 */
export type MemoryEntry =
  | {
    /** A regular file. */
    readonly type: "File"
    /** A copy of the file's content. */
    readonly bytes: Uint8Array
    /** Permission bits. */
    readonly mode: number
    /** Last modification time. */
    readonly mtime: Date
  }
  | {
    /** A directory. */
    readonly type: "Directory"
    /** Permission bits. */
    readonly mode: number
    /** Last modification time. */
    readonly mtime: Date
  }
  | {
    /** A symbolic link. */
    readonly type: "SymbolicLink"
    /** Where the link points (as given; relative targets resolve from the link's directory). */
    readonly target: string
    /** Last modification time. */
    readonly mtime: Date
  }

/**
 * One `exec` call a {@linkcode MemoryTransport} received.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecCall {
  /** The command and its arguments. */
  readonly argv: ReadonlyArray<string>
  /** The options it was called with. */
  readonly options: ExecOptions
}

/**
 * An in-memory transport: a `TransportShape` plus handles for tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryTransport extends TransportShape {
  /** Creates (or replaces) a file and its missing parent directories. */
  readonly seedFile: (
    path: string,
    bytes: string | Uint8Array,
    options?: { readonly mtime?: Date | number; readonly mode?: number },
  ) => void
  /** Creates a directory and its missing parents. */
  readonly seedDirectory: (
    path: string,
    options?: { readonly mtime?: Date | number; readonly mode?: number },
  ) => void
  /** Creates a symbolic link (and the link's missing parent directories). */
  readonly seedSymlink: (path: string, target: string) => void
  /** Creates `root` and every file of a {@linkcode RemoteTree} under it. */
  readonly seedTree: (root: string, tree: RemoteTree) => void
  /** The content of a file (links followed), or `undefined` when there is no such file. */
  readonly readFile: (path: string) => Uint8Array | undefined
  /** The entry at a path (a final link is not followed), or `undefined`. */
  readonly lookup: (path: string) => MemoryEntry | undefined
  /** Every file and link under a directory, by path relative to it, sorted. */
  readonly snapshot: (root?: string) => ReadonlyMap<string, MemoryEntry>
  /** Makes later `get` calls fail midway (see {@linkcode GetFailure}). */
  readonly injectGetFailure: (failure: GetFailure) => void
  /** Removes every injected failure. */
  readonly clearFailures: () => void
  /** The `exec` calls received so far, oldest first. */
  readonly execCalls: ReadonlyArray<ExecCall>
}

// =============================================================================
// MemoryTransport: implementation
// =============================================================================

const encoder = new TextEncoder()

const toBytes = (data: string | Uint8Array): Uint8Array =>
  typeof data === "string" ? encoder.encode(data) : data.slice()

const toDate = (t: Date | number | undefined, now: () => Date): Date =>
  t === undefined ? now() : typeof t === "number" ? new Date(t) : new Date(t.getTime())

const orThrow = (e: LrmsError | undefined): void => {
  if (e !== undefined) throw e
}

const orFail = (e: LrmsError | undefined): Effect.Effect<void, LrmsError> =>
  e === undefined ? Effect.void : Effect.fail(e)

/** The default `exec` stub: every command exits 127 with "command not found". */
const commandNotFound: ExecStub = (argv) => ({
  exitCode: 127,
  signal: null,
  stdout: "",
  stderr: `${argv[0] ?? ""}: command not found\n`,
})

/** The `exec` of the transport: records the call and asks the stub. */
const stubExec = (stub: ExecStub, calls: Array<ExecCall>) =>
(
  argv: ReadonlyArray<string>,
  options: ExecOptions = {},
): Effect.Effect<ExecResult, LrmsError> =>
  Effect.suspend(() => {
    calls.push({ argv: [...argv], options })
    if (argv.length === 0 || argv[0] === "") {
      return Effect.fail(Fs.error("InvalidArgument", "exec", "empty command"))
    }
    const answer = stub(argv, options)
    return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
  })

/** The entry at a path as an effect, failing as the model does. */
const existing = (fs: Fs.MemoryFs, path: string, followLast: boolean, operation: string) =>
  Effect.suspend(() => {
    const at = fs.existing(path, followLast, operation)
    return at instanceof LrmsError ? Effect.fail(at) : Effect.succeed(at)
  })

/** The file operations of the `TransportShape`, over the model. */
const fileOperations = (
  fs: Fs.MemoryFs,
  now: () => Date,
): Omit<TransportImpl, "kind" | "host" | "exec" | "homeDirectory" | "put" | "get"> => ({
  stat: (path) => Effect.map(existing(fs, path, false, "stat"), ({ node }) => Fs.info(node)),
  list: (path) =>
    Effect.flatMap(
      existing(fs, path, true, "list"),
      ({ node }) =>
        node.kind === "Directory"
          ? Effect.succeed([...node.children.keys()].sort())
          : Effect.fail(Fs.error("InvalidState", "list", `${path}: not a directory`)),
    ),
  mkdir: (path, options) =>
    Effect.suspend(() =>
      orFail(
        fs.mkdir(path, options?.recursive ?? true, (options?.mode ?? 0o755) & 0o7777, "mkdir"),
      )
    ),
  remove: (path, options) =>
    Effect.suspend(() => orFail(fs.remove(path, options?.recursive ?? false))),
  rename: (from, to) => Effect.suspend(() => orFail(fs.rename(from, to))),
  readRange: (path, offset, size) =>
    Effect.suspend(() => {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        return Effect.fail(
          Fs.error("InvalidArgument", "readRange", `offset must be a whole number ≥ 0: ${offset}`),
        )
      }
      if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
        return Effect.fail(
          Fs.error("InvalidArgument", "readRange", `size must be a whole number ≥ 0: ${size}`),
        )
      }
      return Effect.flatMap(existing(fs, path, true, "readRange"), ({ node }) =>
        node.kind === "File"
          ? Effect.succeed(node.bytes.slice(offset, size === undefined ? undefined : offset + size))
          : Effect.fail(Fs.error("InvalidState", "readRange", `${path}: not a regular file`)))
    }),
  writeFile: (path, data, options) =>
    Effect.suspend(() =>
      orFail(fs.writeFile(path, toBytes(data), options?.mode, now(), "writeFile"))
    ),
  chmod: (path, mode) =>
    Effect.flatMap(existing(fs, path, true, "chmod"), ({ node }) =>
      Effect.sync(() => {
        if (node.kind !== "SymbolicLink") node.mode = mode & 0o7777
      })),
})

const makeMemoryTransport = (options: MemoryTransportOptions = {}): MemoryTransport => {
  const now = options.now ?? (() => new Date())
  const fs = Fs.makeFs(options.home ?? "/home/user", now)
  const copies = Copy.makeCopies(fs, now)
  const execCalls: Array<ExecCall> = []

  const handle: MemoryTransport = {
    ...makeTransport({
      kind: "memory",
      host: options.host ?? "memory",
      exec: stubExec(options.exec ?? commandNotFound, execCalls),
      homeDirectory: Effect.succeed(fs.home),
      ...fileOperations(fs, now),
      put: copies.put,
      get: copies.get,
    }),

    seedFile: (path, bytes, seed) => {
      orThrow(fs.mkdir(Fs.dirname(fs.absolute(path)), true, 0o755, "seedFile"))
      orThrow(fs.writeFile(path, toBytes(bytes), seed?.mode, toDate(seed?.mtime, now), "seedFile"))
    },
    seedDirectory: (path, seed) => {
      orThrow(fs.mkdir(path, true, (seed?.mode ?? 0o755) & 0o7777, "seedDirectory"))
      const at = fs.locate(path, true, "seedDirectory")
      if (
        !(at instanceof LrmsError) && at.node?.kind === "Directory" && seed?.mtime !== undefined
      ) {
        at.node.mtime = toDate(seed.mtime, now)
      }
    },
    seedSymlink: (path, target) => orThrow(fs.symlink(path, target, "seedSymlink")),
    seedTree: (rootPath, tree) => {
      orThrow(fs.mkdir(rootPath, true, 0o755, "seedTree"))
      for (const [rel, file] of tree) {
        handle.seedFile(`${fs.absolute(rootPath)}/${rel}`, file.bytes, { mtime: file.mtime })
      }
    },
    readFile: (path) => {
      const at = fs.locate(path, true, "readFile")
      return !(at instanceof LrmsError) && at.node?.kind === "File"
        ? at.node.bytes.slice()
        : undefined
    },
    lookup: (path) => {
      const at = fs.locate(path, false, "lookup")
      return !(at instanceof LrmsError) && at.node !== undefined ? Fs.entryOf(at.node) : undefined
    },
    snapshot: (rootPath = "/") => fs.snapshot(rootPath),
    injectGetFailure: copies.injectGetFailure,
    clearFailures: copies.clearFailures,
    execCalls,
  }

  orThrow(fs.mkdir(fs.home, true, 0o755, "make"))
  for (const [path, seed] of Object.entries(options.files ?? {})) {
    if (typeof seed === "string" || seed instanceof Uint8Array) handle.seedFile(path, seed)
    else handle.seedFile(path, seed.bytes, seed)
  }
  return handle
}

/**
 * Builds an in-memory transport: an empty file system holding the home directory (and the
 * `files` of the options), with the test handles of {@linkcode MemoryTransport}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: MemoryTransportOptions) => MemoryTransport = makeMemoryTransport

/**
 * A layer giving a fresh in-memory transport as the `Transport` service each time it is built.
 * To keep the handles and provide the service, use
 * `Layer.succeed(Transport, MemoryTransport.make())`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: MemoryTransportOptions): Layer.Layer<Transport> =>
  Layer.sync(Transport, () => makeMemoryTransport(options))
