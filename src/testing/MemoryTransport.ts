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
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 * import { MemoryTransport } from "effect-lrms/testing"
 *
 * const remote = MemoryTransport.make()
 * remote.seedFile("/home/user/job/out.txt", "hello", { mtime: new Date("2024-01-01") })
 * const size = Effect.runSync(
 *   Effect.map(remote.stat("job/out.txt"), (info) => info.size).pipe(Effect.provide(Auth.none)),
 * )
 * console.log(size) // 5
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { LrmsError, type Reason } from "../LrmsError.ts"
import type { RemoteTree } from "../testing.ts"
import {
  type ExecOptions,
  type ExecResult,
  type FileInfo,
  Transport,
  type TransportShape,
} from "../Transport.ts"

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

interface FileNode {
  readonly kind: "File"
  bytes: Uint8Array
  mode: number
  mtime: Date
}

interface DirNode {
  readonly kind: "Directory"
  readonly children: Map<string, Node>
  mode: number
  mtime: Date
}

interface LinkNode {
  readonly kind: "SymbolicLink"
  readonly target: string
  mtime: Date
}

type Node = FileNode | DirNode | LinkNode

/** Where a path leads: the directory that holds it, its name there, and what is there. */
interface Located {
  readonly parent: DirNode | undefined
  readonly name: string
  readonly node: Node | undefined
  readonly path: string
}

const BACKEND = "memory"
const MAX_LINK_HOPS = 40
const MAX_COPY_DEPTH = 64
const encoder = new TextEncoder()

const toBytes = (data: string | Uint8Array): Uint8Array =>
  typeof data === "string" ? encoder.encode(data) : data.slice()

const toDate = (t: Date | number | undefined, now: () => Date): Date =>
  t === undefined ? now() : typeof t === "number" ? new Date(t) : new Date(t.getTime())

const splitPath = (path: string): Array<string> => {
  const out: Array<string> = []
  for (const s of path.split("/")) {
    if (s === "" || s === ".") continue
    if (s === "..") out.pop()
    else out.push(s)
  }
  return out
}

const joinSegments = (segments: ReadonlyArray<string>): string => "/" + segments.join("/")

const denoErrorReason = (e: unknown): Reason =>
  e instanceof Deno.errors.NotFound
    ? "NotFound"
    : e instanceof Deno.errors.PermissionDenied
    ? "PermissionDenied"
    : e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.IsADirectory ||
        e instanceof Deno.errors.NotADirectory
    ? "InvalidState"
    : "CommandFailed"

const makeMemoryTransport = (options: MemoryTransportOptions = {}): MemoryTransport => {
  const now = options.now ?? (() => new Date())
  const home = joinSegments(splitPath(options.home ?? "/home/user"))
  const stub: ExecStub = options.exec ?? ((argv) => ({
    exitCode: 127,
    signal: null,
    stdout: "",
    stderr: `${argv[0] ?? ""}: command not found\n`,
  }))
  const root: DirNode = { kind: "Directory", children: new Map(), mode: 0o755, mtime: now() }
  const execCalls: Array<ExecCall> = []
  let failures: Array<{ failure: GetFailure; remaining: number }> = []

  const error = (reason: Reason, operation: string, description: string, cause?: unknown) =>
    new LrmsError({ reason, backend: BACKEND, operation, description, cause })

  /** The absolute, lexically normalised form of a path (relative paths start at home). */
  const absolute = (path: string): string =>
    joinSegments(splitPath(path.startsWith("/") ? path : `${home}/${path}`))

  /**
   * Walks a path from the root, following symbolic links in the middle (and at the end with
   * `followLast`). Fails with `NotFound` when a parent is missing and `InvalidState` when a
   * parent is a file or links loop.
   */
  const locate = (
    path: string,
    followLast: boolean,
    operation: string,
  ): { readonly ok: true; readonly at: Located } | {
    readonly ok: false
    readonly error: LrmsError
  } => {
    let segments = splitPath(absolute(path))
    let hops = 0
    let dir = root
    let done: Array<string> = []
    let i = 0
    while (i < segments.length) {
      const name = segments[i]!
      const node = dir.children.get(name)
      const last = i === segments.length - 1
      if (node?.kind === "SymbolicLink" && (!last || followLast)) {
        if (++hops > MAX_LINK_HOPS) {
          return {
            ok: false,
            error: error("InvalidState", operation, `${path}: too many levels of symbolic links`),
          }
        }
        const base = node.target.startsWith("/")
          ? node.target
          : `${joinSegments(done)}/${node.target}`
        segments = [...splitPath(base), ...segments.slice(i + 1)]
        dir = root
        done = []
        i = 0
        continue
      }
      if (last) {
        return { ok: true, at: { parent: dir, name, node, path: joinSegments([...done, name]) } }
      }
      if (node === undefined) {
        return { ok: false, error: error("NotFound", operation, `${path}: no such directory`) }
      }
      if (node.kind !== "Directory") {
        return {
          ok: false,
          error: error("InvalidState", operation, `${path}: ${name} is not a directory`),
        }
      }
      dir = node
      done.push(name)
      i++
    }
    return { ok: true, at: { parent: undefined, name: "", node: root, path: "/" } }
  }

  const find = (path: string, followLast: boolean, operation: string) =>
    Effect.suspend(() => {
      const r = locate(path, followLast, operation)
      return r.ok ? Effect.succeed(r.at) : Effect.fail(r.error)
    })

  const existing = (path: string, followLast: boolean, operation: string) =>
    Effect.flatMap(
      find(path, followLast, operation),
      (at) =>
        at.node === undefined
          ? Effect.fail(error("NotFound", operation, `${path}: no such file or directory`))
          : Effect.succeed({ ...at, node: at.node }),
    )

  const touch = (dir: DirNode | undefined) => {
    if (dir !== undefined) dir.mtime = now()
  }

  const info = (node: Node): FileInfo =>
    node.kind === "File"
      ? { type: "File", size: node.bytes.length, mtime: node.mtime, mode: node.mode }
      : node.kind === "Directory"
      ? { type: "Directory", size: 4096, mtime: node.mtime, mode: node.mode }
      : {
        type: "SymbolicLink",
        size: encoder.encode(node.target).length,
        mtime: node.mtime,
        mode: 0o777,
      }

  const entryOf = (node: Node): MemoryEntry =>
    node.kind === "File"
      ? { type: "File", bytes: node.bytes.slice(), mode: node.mode, mtime: node.mtime }
      : node.kind === "Directory"
      ? { type: "Directory", mode: node.mode, mtime: node.mtime }
      : { type: "SymbolicLink", target: node.target, mtime: node.mtime }

  /** Creates a directory; with `recursive`, its parents, and an existing directory is fine. */
  const mkdirSync = (
    path: string,
    recursive: boolean,
    mode: number,
    operation: string,
  ): LrmsError | undefined => {
    const r = locate(path, true, operation)
    if (!r.ok) {
      if (!recursive || r.error.reason !== "NotFound") return r.error
      const parent = absolute(path).replace(/\/[^/]*$/, "") || "/"
      const made = mkdirSync(parent, true, mode, operation)
      if (made !== undefined) return made
      return mkdirSync(path, false, mode, operation)
    }
    const { parent, name, node } = r.at
    if (node !== undefined) {
      if (recursive && node.kind === "Directory") return undefined
      return error("InvalidState", operation, `${path}: already exists`)
    }
    if (parent === undefined) return undefined
    parent.children.set(name, { kind: "Directory", children: new Map(), mode, mtime: now() })
    touch(parent)
    return undefined
  }

  const writeFileSync = (
    path: string,
    bytes: Uint8Array,
    mode: number | undefined,
    mtime: Date,
    operation: string,
  ): LrmsError | undefined => {
    const r = locate(path, true, operation)
    if (!r.ok) return r.error
    const { parent, name, node } = r.at
    if (parent === undefined || node?.kind === "Directory") {
      return error("InvalidState", operation, `${path}: is a directory`)
    }
    if (node?.kind === "File") {
      node.bytes = bytes
      node.mtime = mtime
      if (mode !== undefined) node.mode = mode & 0o7777
      return undefined
    }
    parent.children.set(name, { kind: "File", bytes, mode: (mode ?? 0o644) & 0o7777, mtime })
    touch(parent)
    return undefined
  }

  const orThrow = (e: LrmsError | undefined) => {
    if (e !== undefined) throw e
  }

  // ---------------------------------------------------------------------------
  // put / get: between the real local file system and the model
  // ---------------------------------------------------------------------------

  const localError = (operation: string, path: string) => (e: unknown) =>
    error(denoErrorReason(e), operation, `${path}: ${e instanceof Error ? e.message : e}`, e)

  /**
   * One write to the local file system. It is uninterruptible: a promise cannot be cancelled, and
   * an interrupted `get` must not go on writing after it has returned (the caller's cleanup
   * would run before the write lands and leave a file behind).
   */
  const localIo = <A>(operation: string, path: string, io: () => Promise<A>) =>
    Effect.uninterruptible(Effect.tryPromise({ try: io, catch: localError(operation, path) }))

  const put = (
    local: string,
    remote: string,
    depth = 0,
  ): Effect.Effect<void, LrmsError> =>
    Effect.gen(function* () {
      if (depth > MAX_COPY_DEPTH) {
        return yield* error("InvalidState", "put", `${local}: directory tree too deep`)
      }
      const st = yield* Effect.tryPromise({
        try: () => Deno.stat(local),
        catch: localError("put", local),
      })
      if (st.isDirectory) {
        const made = mkdirSync(remote, true, (st.mode ?? 0o755) & 0o7777, "put")
        if (made !== undefined) return yield* made
        const names = yield* Effect.tryPromise({
          try: () => Array.fromAsync(Deno.readDir(local), (e) => e.name),
          catch: localError("put", local),
        })
        for (const name of names) yield* put(`${local}/${name}`, `${remote}/${name}`, depth + 1)
        return
      }
      const bytes = yield* Effect.tryPromise({
        try: () => Deno.readFile(local),
        catch: localError("put", local),
      })
      const written = writeFileSync(remote, bytes, (st.mode ?? 0o644) & 0o7777, now(), "put")
      if (written !== undefined) return yield* written
    })

  const takeFailure = (path: string): GetFailure | undefined => {
    const slot = failures.find((f) =>
      f.remaining > 0 && (f.failure.path === undefined || absolute(f.failure.path) === path)
    )
    if (slot === undefined) return undefined
    slot.remaining--
    failures = failures.filter((f) => f.remaining > 0)
    return slot.failure
  }

  const get = (
    remote: string,
    local: string,
    depth = 0,
  ): Effect.Effect<void, LrmsError> =>
    Effect.gen(function* () {
      if (depth > MAX_COPY_DEPTH) {
        return yield* error("InvalidState", "get", `${remote}: directory tree too deep`)
      }
      const at = yield* existing(remote, true, "get")
      const node = at.node
      if (node.kind === "Directory") {
        yield* localIo("get", local, () => Deno.mkdir(local, { recursive: true }))
        for (const name of [...node.children.keys()].sort()) {
          yield* get(`${at.path}/${name}`, `${local}/${name}`, depth + 1)
        }
        return
      }
      if (node.kind !== "File") {
        return yield* error("InvalidState", "get", `${remote}: not a file`)
      }
      const bytes = node.bytes.slice()
      const failure = takeFailure(absolute(remote))
      const cut = failure === undefined
        ? bytes.length
        : Math.max(0, Math.min(bytes.length, failure.afterBytes ?? 0))
      yield* localIo(
        "get",
        local,
        () => Deno.writeFile(local, bytes.subarray(0, cut), { mode: node.mode }),
      )
      if (failure === undefined) return
      const mode = failure.mode ?? "fail"
      if (mode === "interrupt") return yield* Effect.interrupt
      if (mode === "hang") return yield* Effect.never
      return yield* new LrmsError({
        reason: "ConnectionLost",
        backend: BACKEND,
        operation: "get",
        description: `${remote}: injected failure after ${cut} of ${bytes.length} bytes`,
      })
    })

  // ---------------------------------------------------------------------------
  // The shape
  // ---------------------------------------------------------------------------

  const exec = (
    argv: ReadonlyArray<string>,
    execOptions: ExecOptions = {},
  ): Effect.Effect<ExecResult, LrmsError> =>
    Effect.suspend(() => {
      execCalls.push({ argv: [...argv], options: execOptions })
      if (argv.length === 0 || argv[0] === "") {
        return Effect.fail(error("InvalidArgument", "exec", "empty command"))
      }
      const answer = stub(argv, execOptions)
      return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
    })

  const list = (path: string): Effect.Effect<ReadonlyArray<string>, LrmsError> =>
    Effect.flatMap(
      existing(path, true, "list"),
      ({ node }) =>
        node.kind === "Directory"
          ? Effect.succeed([...node.children.keys()].sort())
          : Effect.fail(error("InvalidState", "list", `${path}: not a directory`)),
    )

  const remove = (
    path: string,
    removeOptions?: { readonly recursive?: boolean },
  ): Effect.Effect<void, LrmsError> =>
    Effect.suspend(() => {
      const r = locate(path, false, "remove")
      if (!r.ok) return r.error.reason === "NotFound" ? Effect.void : Effect.fail(r.error)
      const { parent, name, node } = r.at
      if (node === undefined) return Effect.void
      if (parent === undefined) {
        return Effect.fail(error("InvalidArgument", "remove", "refusing to remove /"))
      }
      if (
        node.kind === "Directory" && node.children.size > 0 && !(removeOptions?.recursive ?? false)
      ) {
        return Effect.fail(
          error("InvalidState", "remove", `${path}: directory not empty (use recursive)`),
        )
      }
      parent.children.delete(name)
      touch(parent)
      return Effect.void
    })

  const rename = (from: string, to: string): Effect.Effect<void, LrmsError> =>
    Effect.suspend(() => {
      const src = locate(from, false, "rename")
      if (!src.ok) return Effect.fail(src.error)
      const s = src.at
      if (s.node === undefined) {
        return Effect.fail(error("NotFound", "rename", `${from}: no such file or directory`))
      }
      if (s.parent === undefined) {
        return Effect.fail(error("InvalidArgument", "rename", "cannot rename /"))
      }
      const dst = locate(to, false, "rename")
      if (!dst.ok) return Effect.fail(dst.error)
      const d = dst.at
      if (d.parent === undefined) {
        return Effect.fail(error("InvalidState", "rename", `${to}: is the root directory`))
      }
      if (d.path === s.path) return Effect.void
      if (s.node.kind === "Directory" && d.path.startsWith(`${s.path}/`)) {
        return Effect.fail(
          error("InvalidArgument", "rename", `${to}: inside the directory being moved`),
        )
      }
      if (d.node !== undefined) {
        if (d.node.kind === "Directory" && s.node.kind !== "Directory") {
          return Effect.fail(error("InvalidState", "rename", `${to}: is a directory`))
        }
        if (d.node.kind !== "Directory" && s.node.kind === "Directory") {
          return Effect.fail(error("InvalidState", "rename", `${to}: not a directory`))
        }
        if (d.node.kind === "Directory" && d.node.children.size > 0) {
          return Effect.fail(error("InvalidState", "rename", `${to}: directory not empty`))
        }
      }
      s.parent.children.delete(s.name)
      d.parent.children.set(d.name, s.node)
      touch(s.parent)
      touch(d.parent)
      return Effect.void
    })

  const readRange = (
    path: string,
    offset: number,
    size?: number,
  ): Effect.Effect<Uint8Array, LrmsError> =>
    Effect.suspend(() => {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        return Effect.fail(
          error("InvalidArgument", "readRange", `offset must be a whole number ≥ 0: ${offset}`),
        )
      }
      if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
        return Effect.fail(
          error("InvalidArgument", "readRange", `size must be a whole number ≥ 0: ${size}`),
        )
      }
      return Effect.flatMap(existing(path, true, "readRange"), ({ node }) =>
        node.kind === "File"
          ? Effect.succeed(
            node.bytes.slice(offset, size === undefined ? undefined : offset + size),
          )
          : Effect.fail(error("InvalidState", "readRange", `${path}: not a regular file`)))
    })

  const handle: MemoryTransport = {
    kind: "memory",
    host: options.host ?? "memory",
    exec,
    homeDirectory: Effect.succeed(home),
    stat: (path) => Effect.map(existing(path, false, "stat"), ({ node }) => info(node)),
    list,
    mkdir: (path, mkdirOptions) =>
      Effect.suspend(() => {
        const e = mkdirSync(
          path,
          mkdirOptions?.recursive ?? true,
          (mkdirOptions?.mode ?? 0o755) & 0o7777,
          "mkdir",
        )
        return e === undefined ? Effect.void : Effect.fail(e)
      }),
    remove,
    rename,
    readRange,
    writeFile: (path, data, writeOptions) =>
      Effect.suspend(() => {
        const e = writeFileSync(path, toBytes(data), writeOptions?.mode, now(), "writeFile")
        return e === undefined ? Effect.void : Effect.fail(e)
      }),
    chmod: (path, mode) =>
      Effect.flatMap(existing(path, true, "chmod"), ({ node }) =>
        Effect.sync(() => {
          if (node.kind !== "SymbolicLink") node.mode = mode & 0o7777
        })),
    put: (local, remote) => put(local, remote),
    get: (remote, local) => get(remote, local),

    seedFile: (path, bytes, seed) => {
      const parent = absolute(path).replace(/\/[^/]*$/, "") || "/"
      orThrow(mkdirSync(parent, true, 0o755, "seedFile"))
      orThrow(writeFileSync(path, toBytes(bytes), seed?.mode, toDate(seed?.mtime, now), "seedFile"))
    },
    seedDirectory: (path, seed) => {
      orThrow(mkdirSync(path, true, (seed?.mode ?? 0o755) & 0o7777, "seedDirectory"))
      const r = locate(path, true, "seedDirectory")
      if (r.ok && r.at.node?.kind === "Directory" && seed?.mtime !== undefined) {
        r.at.node.mtime = toDate(seed.mtime, now)
      }
    },
    seedSymlink: (path, target) => {
      const parent = absolute(path).replace(/\/[^/]*$/, "") || "/"
      orThrow(mkdirSync(parent, true, 0o755, "seedSymlink"))
      const r = locate(path, false, "seedSymlink")
      if (!r.ok) throw r.error
      if (r.at.parent === undefined || r.at.node?.kind === "Directory") {
        throw error("InvalidState", "seedSymlink", `${path}: a directory is in the way`)
      }
      r.at.parent.children.set(r.at.name, { kind: "SymbolicLink", target, mtime: now() })
    },
    seedTree: (rootPath, tree) => {
      orThrow(mkdirSync(rootPath, true, 0o755, "seedTree"))
      for (const [rel, file] of tree) {
        handle.seedFile(`${absolute(rootPath)}/${rel}`, file.bytes, { mtime: file.mtime })
      }
    },
    readFile: (path) => {
      const r = locate(path, true, "readFile")
      return r.ok && r.at.node?.kind === "File" ? r.at.node.bytes.slice() : undefined
    },
    lookup: (path) => {
      const r = locate(path, false, "lookup")
      return r.ok && r.at.node !== undefined ? entryOf(r.at.node) : undefined
    },
    snapshot: (rootPath = "/") => {
      const out = new Map<string, MemoryEntry>()
      const r = locate(rootPath, true, "snapshot")
      if (!r.ok || r.at.node?.kind !== "Directory") return out
      const walk = (dir: DirNode, prefix: string) => {
        for (const name of [...dir.children.keys()].sort()) {
          const node = dir.children.get(name)!
          const rel = prefix === "" ? name : `${prefix}/${name}`
          if (node.kind === "Directory") walk(node, rel)
          else out.set(rel, entryOf(node))
        }
      }
      walk(r.at.node, "")
      return out
    },
    injectGetFailure: (failure) => {
      failures.push({ failure, remaining: failure.times ?? Number.POSITIVE_INFINITY })
    },
    clearFailures: () => {
      failures = []
    },
    execCalls,
  }

  orThrow(mkdirSync(home, true, 0o755, "make"))
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
