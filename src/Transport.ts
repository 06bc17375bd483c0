/**
 * The `Transport` service: run a command on a host and move files to and from it.
 *
 * A backend talks to its resource only through a `Transport`, so one backend runs on the local
 * machine (`LocalTransport`) or on any SSH host with the same code. Commands are argv arrays,
 * never shell strings: a transport that needs a shell (SSH) quotes every word with
 * `Shell.quote`. Every operation has `Auth` in its requirements, so the SSH transport connects
 * with the caller's credentials; the local transport ignores it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth, LocalTransport, Transport } from "effect-lrms"
 *
 * const program = Effect.gen(function* () {
 *   const t = yield* Transport.Transport
 *   const r = yield* t.exec(["echo", "hello"])
 *   return r.stdout.trim()
 * })
 * const out = await Effect.runPromise(
 *   program.pipe(Effect.provide(LocalTransport.layerNode), Effect.provide(Auth.none)),
 * )
 * deepStrictEqual(out, "hello")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Auth } from "./Auth.ts"
import { LrmsError } from "./LrmsError.ts"

/**
 * Options for running a command.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecOptions {
  /** Bytes or text written to the command's standard input, which is then closed. */
  readonly stdin?: string | Uint8Array
  /** Variables added to the command's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** The directory the command runs in. */
  readonly cwd?: string
  /** Kill the command (and its process group) and fail with `Timeout` after this long. */
  readonly timeout?: Duration.DurationInput
}

/**
 * What a finished command gave back. A non-zero exit is a result, not an error.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecResult {
  /** The exit code, or `128 + signal` when a signal killed the command. */
  readonly exitCode: number
  /** The signal that killed the command, if one did (`SIGKILL`). */
  readonly signal: string | null
  /** Standard output, decoded as UTF-8. */
  readonly stdout: string
  /** Standard error, decoded as UTF-8. */
  readonly stderr: string
}

/**
 * What `stat` tells about a path.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileInfo {
  /** The kind of file. */
  readonly type: "File" | "Directory" | "SymbolicLink" | "Other"
  /** Size in bytes. */
  readonly size: number
  /** Last modification time. */
  readonly mtime: Date
  /** Permission bits (`0o755`). */
  readonly mode: number
}

/**
 * The operations a transport implements.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportShape {
  /** The transport kind: `local`, `ssh`, `memory`. */
  readonly kind: string
  /** The host the transport reaches (`localhost` for the local machine). */
  readonly host: string
  /** Runs an argv on the host; resolves with its exit code and output. */
  readonly exec: (
    argv: ReadonlyArray<string>,
    options?: ExecOptions,
  ) => Effect.Effect<ExecResult, LrmsError, Auth>
  /** The home directory of the user on the host. */
  readonly homeDirectory: Effect.Effect<string, LrmsError, Auth>
  /** Information about a path (symbolic links are not followed); fails with `NotFound`. */
  readonly stat: (path: string) => Effect.Effect<FileInfo, LrmsError, Auth>
  /** The names in a directory (without `.` and `..`). */
  readonly list: (path: string) => Effect.Effect<ReadonlyArray<string>, LrmsError, Auth>
  /** Creates a directory and, with `recursive` (the default), its parents. */
  readonly mkdir: (
    path: string,
    options?: { readonly recursive?: boolean; readonly mode?: number },
  ) => Effect.Effect<void, LrmsError, Auth>
  /**
   * Removes a file, or a directory tree with `recursive`; a missing path is not an error. A tree
   * that something still writes into (a scheduler's late report) is tried again for about 6 s,
   * then fails with `InvalidState`.
   */
  readonly remove: (
    path: string,
    options?: { readonly recursive?: boolean },
  ) => Effect.Effect<void, LrmsError, Auth>
  /** Renames a path on the host, replacing the target (atomic on POSIX file systems). */
  readonly rename: (from: string, to: string) => Effect.Effect<void, LrmsError, Auth>
  /** Reads up to `size` bytes from `offset` (to the end when `size` is absent). */
  readonly readRange: (
    path: string,
    offset: number,
    size?: number,
  ) => Effect.Effect<Uint8Array, LrmsError, Auth>
  /** Writes a whole file, creating or truncating it, with an optional mode. */
  readonly writeFile: (
    path: string,
    data: string | Uint8Array,
    options?: { readonly mode?: number },
  ) => Effect.Effect<void, LrmsError, Auth>
  /** Changes a path's permission bits. */
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, LrmsError, Auth>
  /** Copies a local file or directory tree to the host. */
  readonly put: (localPath: string, remotePath: string) => Effect.Effect<void, LrmsError, Auth>
  /** Copies a file or directory tree from the host to a local path. */
  readonly get: (remotePath: string, localPath: string) => Effect.Effect<void, LrmsError, Auth>
  /**
   * Releases what the transport holds (SSH: its connections); a later operation opens what it
   * needs again. Absent when there is nothing to release.
   */
  readonly close?: Effect.Effect<void>
  /** Tells whether a path exists (derived by {@linkcode make} from `stat`). */
  readonly exists: (path: string) => Effect.Effect<boolean, LrmsError, Auth>
  /** Reads a whole file as UTF-8 text (derived by {@linkcode make} from `readRange`). */
  readonly readFileString: (path: string) => Effect.Effect<string, LrmsError, Auth>
  /**
   * Runs an argv and fails with `CommandFailed` when it exits non-zero (derived by
   * {@linkcode make} from `exec`).
   */
  readonly run: (
    argv: ReadonlyArray<string>,
    options?: RunOptions,
  ) => Effect.Effect<ExecResult, LrmsError, Auth>
  /**
   * Resolves `~` and `$HOME` at the start of a path against the home directory (derived by
   * {@linkcode make} from `homeDirectory`).
   */
  readonly expandHome: (path: string) => Effect.Effect<string, LrmsError, Auth>
}

/**
 * The operations {@linkcode make} derives from the primitives.
 *
 * @since 0.1.0
 * @category models
 */
export type Derived = "exists" | "readFileString" | "run" | "expandHome"

/**
 * The primitives a transport implements; {@linkcode make} derives the rest.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportImpl = Omit<TransportShape, Derived>

/**
 * Options of `run`: those of `exec`, and the backend and operation its error names.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends ExecOptions {
  /** The backend named by the error (default: the transport's kind). */
  readonly backend?: string
  /** The operation named by the error (default: `exec`). */
  readonly operation?: string
}

/**
 * Builds a transport from its primitives, deriving `exists`, `readFileString`, `run` and
 * `expandHome` once, as `FileSystem.make` does. A wrapper that replaces primitives (to count,
 * trace or fault them) goes through `make` again, so that the derived operations use its
 * primitives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (impl: TransportImpl): TransportShape => ({
  ...impl,
  exists: (path) => exists(impl, path),
  readFileString: (path) => readFileString(impl, path),
  run: (argv, options) => run(impl, argv, options),
  expandHome: (path) => expandHome(impl, path),
})

/**
 * The transport a backend reaches its resource through.
 *
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("effect-lrms/Transport")<Transport, TransportShape>() {}

/**
 * Tells whether a path exists on the transport's host.
 *
 * @since 0.1.0
 * @category accessors
 */
export const exists = (
  t: TransportImpl,
  path: string,
): Effect.Effect<boolean, LrmsError, Auth> =>
  t.stat(path).pipe(
    Effect.as(true),
    Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(false)),
  )

/**
 * Reads a whole file as UTF-8 text.
 *
 * @since 0.1.0
 * @category accessors
 */
export const readFileString = (
  t: TransportImpl,
  path: string,
): Effect.Effect<string, LrmsError, Auth> =>
  Effect.map(t.readRange(path, 0), (bytes) => new TextDecoder().decode(bytes))

/**
 * Runs an argv and fails with `CommandFailed` (naming the command and its stderr) when it exits
 * non-zero.
 *
 * @since 0.1.0
 * @category accessors
 */
export const run = (
  t: TransportImpl,
  argv: ReadonlyArray<string>,
  options?: RunOptions,
): Effect.Effect<ExecResult, LrmsError, Auth> =>
  Effect.flatMap(t.exec(argv, options), (r) =>
    r.exitCode === 0 ? Effect.succeed(r) : Effect.fail(
      new LrmsError({
        reason: "CommandFailed",
        backend: options?.backend ?? t.kind,
        operation: options?.operation ?? "exec",
        description: `${argv[0]} exited with code ${r.exitCode}${
          r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 2000)}` : ""
        }`,
        command: argv[0],
        exitCode: r.exitCode,
        stderr: r.stderr.trim(),
        host: t.host,
      }),
    ))

/**
 * Resolves `~` and `$HOME` at the start of a path against the host's home directory.
 *
 * @since 0.1.0
 * @category accessors
 */
export const expandHome = (
  t: TransportImpl,
  path: string,
): Effect.Effect<string, LrmsError, Auth> => {
  const m = /^(~|\$HOME|\$\{HOME\})(\/.*)?$/.exec(path)
  if (m === null) return Effect.succeed(path)
  return Effect.map(t.homeDirectory, (home) => `${home}${m[2] ?? ""}`)
}

/**
 * Gives every operation of a transport its own span, `Transport.<operation>`, carrying
 * `lrms.transport` (its kind), `lrms.host` and, for `exec`, `lrms.program`: the program's name
 * only, never its arguments, its environment or its input, which may hold secrets.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withSpans = (shape: TransportImpl): TransportShape => {
  const attributes = { "lrms.transport": shape.kind, "lrms.host": shape.host }
  const span =
    (operation: string, extra: Record<string, string> = {}) =>
    <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.withSpan(self, `Transport.${operation}`, {
        kind: "client",
        captureStackTrace: false,
        attributes: { ...attributes, ...extra },
      })
  return make({
    kind: shape.kind,
    host: shape.host,
    exec: (argv, options) =>
      shape.exec(argv, options).pipe(
        span("exec", { "lrms.program": (argv[0] ?? "").split("/").pop() ?? "" }),
      ),
    homeDirectory: shape.homeDirectory.pipe(span("homeDirectory")),
    stat: (path) => shape.stat(path).pipe(span("stat")),
    list: (path) => shape.list(path).pipe(span("list")),
    mkdir: (path, options) => shape.mkdir(path, options).pipe(span("mkdir")),
    remove: (path, options) => shape.remove(path, options).pipe(span("remove")),
    rename: (from, to) => shape.rename(from, to).pipe(span("rename")),
    readRange: (path, offset, size) => shape.readRange(path, offset, size).pipe(span("readRange")),
    writeFile: (path, data, options) =>
      shape.writeFile(path, data, options).pipe(span("writeFile")),
    chmod: (path, mode) => shape.chmod(path, mode).pipe(span("chmod")),
    put: (local, remote) => shape.put(local, remote).pipe(span("put")),
    get: (remote, local) => shape.get(remote, local).pipe(span("get")),
    ...(shape.close !== undefined ? { close: shape.close.pipe(span("close")) } : {}),
  })
}
