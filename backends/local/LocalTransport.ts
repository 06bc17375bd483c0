/**
 * The `Transport` of the local machine, on @effect/platform: `FileSystem` for files and
 * `CommandExecutor` for processes, which the application provides (`NodeContext.layer` works
 * under Deno); `layerNode` provides them.
 *
 * Commands run without a shell, argv as given. A command runs in its own process group, owned
 * by a scope: a timeout or an interruption kills the whole group.
 *
 * @since 0.1.0
 * @module
 */
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { LrmsError } from "../../src/LrmsError.ts"
import { signalNumber } from "../../src/Termination.ts"
import { retryWhileWritten } from "../../src/internal/removeTree.ts"
import { fromPlatformError } from "../../src/internal/platformError.ts"
import {
  type ExecOptions,
  type ExecResult,
  type FileInfo,
  Transport,
  type TransportImpl,
  type TransportShape,
  withSpans,
} from "../../src/Transport.ts"

const BACKEND = "local"

const toLrmsError = (operation: string, path: string) => fromPlatformError(BACKEND, operation, path)

const decoder = new TextDecoder()
const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => {
    const all = Chunk.toReadonlyArray(chunks)
    const total = all.reduce((n, c) => n + c.length, 0)
    const out = new Uint8Array(total)
    let at = 0
    for (const c of all) {
      out.set(c, at)
      at += c.length
    }
    return decoder.decode(out)
  })

const fileType = (t: FileSystem.File.Type): FileInfo["type"] =>
  t === "File"
    ? "File"
    : t === "Directory"
    ? "Directory"
    : t === "SymbolicLink"
    ? "SymbolicLink"
    : "Other"

/**
 * Builds the local transport from a `FileSystem` and a `CommandExecutor`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<
  TransportShape,
  never,
  FileSystem.FileSystem | CommandExecutor.CommandExecutor | Path.Path
> = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const executor = yield* CommandExecutor.CommandExecutor
  const path = yield* Path.Path
  // the home directory from the environment as Effect's ConfigProvider reads it
  const homeDirectory = Config.string("HOME").pipe(
    Config.orElse(() => Config.string("USERPROFILE")),
    Config.withDefault(path.resolve(".")),
    Effect.orElseSucceed(() => path.resolve(".")),
  )

  const exec = (
    argv: ReadonlyArray<string>,
    options: ExecOptions = {},
  ): Effect.Effect<ExecResult, LrmsError> => {
    const [cmd, ...args] = argv
    if (cmd === undefined || cmd === "") {
      return Effect.fail(
        new LrmsError({
          reason: "InvalidArgument",
          backend: BACKEND,
          operation: "exec",
          description: "empty command",
        }),
      )
    }
    let command = Command.make(cmd, ...args)
    if (options.env) command = Command.env(command, options.env)
    if (options.cwd !== undefined) command = Command.workingDirectory(command, options.cwd)
    if (options.stdin !== undefined) {
      const bytes = typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin
      command = Command.stdin(command, Stream.make(bytes))
    }
    const run = Effect.scoped(
      Effect.gen(function* () {
        const proc = yield* executor.start(command)
        const [stdout, stderr, exitCode] = yield* Effect.all(
          [collect(proc.stdout), collect(proc.stderr), proc.exitCode],
          { concurrency: 3 },
        )
        return { exitCode, signal: null, stdout, stderr } satisfies ExecResult
      }),
    ).pipe(
      Effect.catchAll((e) => {
        const m = /due to receipt of signal: (\w+)/.exec(e.message)
        if (m !== null) {
          return Effect.succeed<ExecResult>({
            exitCode: 128 + (signalNumber(m[1]!) ?? 0),
            signal: m[1]!,
            stdout: "",
            stderr: "",
          })
        }
        return Effect.fail(
          new LrmsError({
            reason: e._tag === "SystemError" && e.reason === "NotFound"
              ? "NotFound"
              : "CommandFailed",
            backend: BACKEND,
            operation: "exec",
            description: `cannot run ${JSON.stringify(cmd)}: ${e.message}`,
            cause: e,
          }),
        )
      }),
    )
    if (options.timeout === undefined) return run
    return run.pipe(
      Effect.timeoutFail({
        duration: options.timeout,
        onTimeout: () =>
          new LrmsError({
            reason: "Timeout",
            backend: BACKEND,
            operation: "exec",
            description: `${cmd} did not finish within ${String(options.timeout)}; killed`,
          }),
      }),
    )
  }

  const stat = (path: string): Effect.Effect<FileInfo, LrmsError> =>
    fs.stat(path).pipe(
      Effect.mapError(toLrmsError("stat", path)),
      Effect.map((info) => ({
        type: fileType(info.type),
        size: Number(info.size),
        mtime: Option.getOrElse(info.mtime, () => new Date(0)),
        mode: info.mode & 0o7777,
      })),
    )

  // FileSystem has no lstat: a path whose link can be read is a symbolic link (described by
  // itself, not followed); anything else is what stat says.
  const lstat = (path: string): Effect.Effect<FileInfo, LrmsError> =>
    fs.readLink(path).pipe(
      Effect.map((target): FileInfo => ({
        type: "SymbolicLink",
        size: new TextEncoder().encode(target).length,
        mtime: new Date(0),
        mode: 0o777,
      })),
      Effect.orElse(() => stat(path)),
    )

  const copyTree = (from: string, to: string, operation: string): Effect.Effect<void, LrmsError> =>
    Effect.flatMap(
      stat(from),
      (info) =>
        info.type === "Directory"
          ? fs.makeDirectory(to, { recursive: true }).pipe(
            Effect.mapError(toLrmsError(operation, to)),
            Effect.zipRight(
              fs.readDirectory(from).pipe(Effect.mapError(toLrmsError(operation, from))),
            ),
            Effect.flatMap((names) =>
              Effect.forEach(names, (n) => copyTree(`${from}/${n}`, `${to}/${n}`, operation), {
                concurrency: 4,
                discard: true,
              })
            ),
          )
          : fs.copyFile(from, to).pipe(Effect.mapError(toLrmsError(operation, `${from} -> ${to}`))),
    )

  const shape: TransportImpl = {
    kind: "local",
    host: "localhost",
    exec,
    homeDirectory,
    stat: lstat,
    list: (path) =>
      fs.readDirectory(path).pipe(
        Effect.map((names) => names.filter((n) => !n.includes("/"))),
        Effect.mapError(toLrmsError("list", path)),
      ),
    mkdir: (path, options) =>
      fs.makeDirectory(path, {
        recursive: options?.recursive ?? true,
        ...(options?.mode !== undefined ? { mode: options.mode } : {}),
      }).pipe(Effect.mapError(toLrmsError("mkdir", path))),
    remove: (path, options) =>
      retryWhileWritten(
        fs.remove(path, { recursive: options?.recursive ?? false, force: true }).pipe(
          Effect.mapError(toLrmsError("remove", path)),
        ),
      ),
    rename: (from, to) =>
      fs.rename(from, to).pipe(Effect.mapError(toLrmsError("rename", `${from} -> ${to}`))),
    readRange: (path, offset, size) =>
      // a whole file (a report, a record: what polls read) in one read, no handle to manage
      offset === 0 && size === undefined
        ? fs.readFile(path).pipe(Effect.mapError(toLrmsError("readRange", path)))
        : Effect.scoped(
          Effect.gen(function* () {
            const file = yield* fs.open(path, { flag: "r" })
            if (size === undefined) {
              const info = yield* file.stat
              size = Math.max(0, Number(info.size) - offset)
            }
            yield* file.seek(offset, "start")
            const buffer = new Uint8Array(size)
            let at = 0
            while (at < size) {
              const n = yield* file.read(buffer.subarray(at))
              if (Number(n) === 0) break
              at += Number(n)
            }
            return buffer.subarray(0, at)
          }),
        ).pipe(Effect.mapError(toLrmsError("readRange", path))),
    writeFile: (path, data, options) =>
      fs.writeFile(
        path,
        typeof data === "string" ? new TextEncoder().encode(data) : data,
        options?.mode !== undefined ? { mode: options.mode } : {},
      ).pipe(
        Effect.zipRight(options?.mode !== undefined ? fs.chmod(path, options.mode) : Effect.void),
        Effect.mapError(toLrmsError("writeFile", path)),
      ),
    chmod: (path, mode) => fs.chmod(path, mode).pipe(Effect.mapError(toLrmsError("chmod", path))),
    put: (local, remote) => copyTree(local, remote, "put"),
    get: (remote, local) => copyTree(remote, local, "get"),
  }
  return withSpans(shape)
})

/**
 * The local transport over the platform services the application provides (`FileSystem`,
 * `CommandExecutor`, `Path`): `NodeContext.layer` under Deno or Node, or a platform of one's own.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  Transport,
  never,
  FileSystem.FileSystem | CommandExecutor.CommandExecutor | Path.Path
> = Layer.effect(Transport, make)

/**
 * The local transport with Node's platform services (which run under Deno) provided: the layer a
 * script reaches for first.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode: Layer.Layer<Transport> = layer.pipe(Layer.provide(NodeContext.layer))
