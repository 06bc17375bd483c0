/**
 * @internal The file operations over the connection's one SFTP session (opened on first use):
 * stat, list, mkdir, remove, rename, ranged reads, writes, chmod and the home directory.
 */
import * as Effect from "effect/Effect"
// @ts-types="@types/ssh2"
import type ssh2 from "ssh2"
import { Auth, credentialKey } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { retryWhileWritten } from "../../../src/internal/removeTree.ts"
import type { FileInfo, TransportShape } from "../../../src/Transport.ts"
import { type Connection, onConnection, type Pool } from "./connection.ts"
import { fail, wrap } from "./errors.ts"

type Callback<A> = (err: Error | undefined | null, a?: A) => void

/** @internal The SFTP operations of a transport, and the two primitives the copies use. */
export interface Sftp extends
  Pick<
    TransportShape,
    | "stat"
    | "list"
    | "mkdir"
    | "remove"
    | "rename"
    | "readRange"
    | "writeFile"
    | "chmod"
    | "homeDirectory"
  > {
  /** The connection's SFTP session. */
  readonly session: (conn: Connection) => Effect.Effect<ssh2.SFTPWrapper, LrmsError>
  /** Runs one SFTP call (callback style) on the caller's connection. */
  readonly call: <A>(
    operation: string,
    path: string,
    f: (sftp: ssh2.SFTPWrapper, cb: Callback<A>) => void,
  ) => Effect.Effect<A, LrmsError, Auth>
}

const toInfo = (s: ssh2.Stats): FileInfo => ({
  type: s.isSymbolicLink()
    ? "SymbolicLink"
    : s.isDirectory()
    ? "Directory"
    : s.isFile()
    ? "File"
    : "Other",
  size: s.size,
  mtime: new Date(s.mtime * 1000),
  mode: s.mode & 0o7777,
})

/** Reads `size` bytes (all to the end without it) from `offset` of an open handle. */
const readHandle = (
  conn: Connection,
  sftp: ssh2.SFTPWrapper,
  handle: Buffer,
  path: string,
  offset: number,
  size: number | undefined,
) =>
  onConnection<Uint8Array>(conn, (resume) => {
    const go = (total: number) => {
      const chunks: Array<Buffer> = []
      let got = 0
      const step = () => {
        if (got >= total) return resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
        const want = Math.min(32768, total - got)
        const buf = Buffer.alloc(want)
        sftp.read(handle, buf, 0, want, offset + got, (err, n) => {
          if (err) return resume(Effect.fail(wrap("readRange", path)(err)))
          if (n === 0) return resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
          chunks.push(buf.subarray(0, n))
          got += n
          step()
        })
      }
      step()
    }
    if (size !== undefined) return go(size)
    sftp.fstat(handle, (err, st) => {
      if (err) return resume(Effect.fail(wrap("readRange", path)(err)))
      go(Math.max(0, st.size - offset))
    })
  })

/** `mkdir` (recursive by default) and `remove` (`rm -rf` through `exec` for a tree). */
const directories = (
  call: Sftp["call"],
  stat: (path: string) => Effect.Effect<FileInfo, LrmsError, Auth>,
  exec: TransportShape["exec"],
): Pick<TransportShape, "mkdir" | "remove"> => {
  const mkdirOne = (path: string, mode?: number) =>
    call<void>(
      "mkdir",
      path,
      (s, cb) => mode === undefined ? s.mkdir(path, cb) : s.mkdir(path, { mode }, cb),
    ).pipe(
      Effect.catchAll((e) =>
        // SFTP says only "Failure" for an existing path
        Effect.flatMap(Effect.either(stat(path)), (info) =>
          info._tag === "Right"
            ? Effect.fail(fail("InvalidState", "mkdir", `${path} already exists`))
            : Effect.fail(e))
      ),
    )

  const mkdir = (
    path: string,
    options?: { readonly recursive?: boolean; readonly mode?: number },
  ): Effect.Effect<void, LrmsError, Auth> => {
    if (!(options?.recursive ?? true)) return mkdirOne(path, options?.mode)
    const parent = path.replace(/\/+$/, "").replace(/\/[^/]*$/, "")
    return mkdirOne(path, options?.mode).pipe(
      Effect.catchIf(
        (e) => e.reason === "InvalidState",
        () =>
          Effect.flatMap(
            stat(path),
            (i) =>
              i.type === "Directory"
                ? Effect.void
                : Effect.fail(fail("InvalidState", "mkdir", `${path} is a file`)),
          ),
      ),
      Effect.catchIf(
        (e) => e.reason === "NotFound" && parent !== "" && parent !== path,
        () =>
          mkdir(parent, { recursive: true }).pipe(
            Effect.zipRight(mkdirOne(path, options?.mode)),
            Effect.catchIf((e) => e.reason === "InvalidState", () => Effect.void),
          ),
      ),
    )
  }

  const removeTree = (path: string) =>
    retryWhileWritten(
      exec(["rm", "-rf", "--", path]).pipe(
        Effect.flatMap((r) =>
          r.exitCode === 0 ? Effect.void : Effect.fail(fail(
            // a file written meanwhile (a scheduler's late report): worth another try
            r.stderr.includes("Directory not empty") ? "InvalidState" : "CommandFailed",
            "remove",
            `rm -rf ${path}: ${r.stderr.trim()}`,
          ))
        ),
      ),
    )

  const remove = (
    path: string,
    options?: { readonly recursive?: boolean },
  ): Effect.Effect<void, LrmsError, Auth> =>
    Effect.flatMap(Effect.either(stat(path)), (info) => {
      if (info._tag === "Left") {
        return info.left.reason === "NotFound" ? Effect.void : Effect.fail(info.left)
      }
      if (info.right.type !== "Directory") {
        return call<void>("remove", path, (s, cb) => s.unlink(path, cb))
      }
      if (!(options?.recursive ?? false)) {
        return call<void>("remove", path, (s, cb) => s.rmdir(path, cb))
      }
      return removeTree(path)
    })

  return { mkdir, remove }
}

/** @internal The SFTP operations over a pool; `remove -r` runs `rm -rf` through `exec`. */
export const make = (host: string, pool: Pool, exec: TransportShape["exec"]): Sftp => {
  const session = (conn: Connection) =>
    onConnection<ssh2.SFTPWrapper>(conn, (finish) => {
      if (conn.sftp === undefined) {
        conn.sftp = new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
          conn.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)))
        )
        conn.sftp.catch(() => (conn.sftp = undefined))
      }
      conn.sftp.then(
        (sftp) => finish(Effect.succeed(sftp)),
        (err) => finish(Effect.fail(wrap("sftp", host)(err))),
      )
    })

  const call = <A>(
    operation: string,
    path: string,
    f: (sftp: ssh2.SFTPWrapper, cb: Callback<A>) => void,
  ): Effect.Effect<A, LrmsError, Auth> =>
    pool.withConnection((conn) =>
      Effect.flatMap(session(conn), (sftp) =>
        onConnection<A>(conn, (resume) => {
          f(
            sftp,
            (err, a) =>
              resume(err ? Effect.fail(wrap(operation, path)(err)) : Effect.succeed(a as A)),
          )
        }))
    )

  const stat = (path: string) =>
    call<ssh2.Stats>("stat", path, (s, cb) => s.lstat(path, cb)).pipe(Effect.map(toInfo))

  const { mkdir, remove } = directories(call, stat, exec)

  const readRange = (path: string, offset: number, size?: number) =>
    pool.withConnection((conn) =>
      Effect.flatMap(session(conn), (sftp) =>
        Effect.acquireUseRelease(
          onConnection<Buffer>(conn, (resume) =>
            sftp.open(
              path,
              "r",
              (err, handle) =>
                resume(err ? Effect.fail(wrap("readRange", path)(err)) : Effect.succeed(handle)),
            )),
          (handle) => readHandle(conn, sftp, handle, path, offset, size),
          (handle) =>
            onConnection<void>(conn, (resume) => sftp.close(handle, () => resume(Effect.void)))
              .pipe(Effect.ignore),
        ))
    )

  const writeFile = (
    path: string,
    data: string | Uint8Array,
    options?: { readonly mode?: number },
  ) =>
    call<void>(
      "writeFile",
      path,
      (s, cb) =>
        s.writeFile(
          path,
          typeof data === "string" ? data : Buffer.from(data),
          options?.mode !== undefined ? { mode: options.mode } : {},
          cb,
        ),
    ).pipe(
      Effect.zipRight(
        options?.mode !== undefined
          ? call<void>("chmod", path, (s, cb) => s.chmod(path, options.mode!, cb))
          : Effect.void,
      ),
    )

  const homes = new Map<string, string>()
  const homeDirectory = Effect.flatMap(Auth, (auth) => {
    const key = credentialKey(auth.credential)
    const known = homes.get(key)
    return known !== undefined
      ? Effect.succeed(known)
      : call<string>("homeDirectory", ".", (s, cb) => s.realpath(".", cb)).pipe(
        Effect.tap((h) => Effect.sync(() => homes.set(key, h))),
      )
  })

  return {
    session,
    call,
    stat,
    list: (path) =>
      call<Array<ssh2.FileEntryWithStats>>("list", path, (s, cb) => s.readdir(path, cb)).pipe(
        Effect.map((entries) =>
          entries.map((e) => e.filename).filter((n) => n !== "." && n !== "..")
        ),
      ),
    mkdir,
    remove,
    rename: (from, to) =>
      call<void>("rename", `${from} -> ${to}`, (s, cb) => s.ext_openssh_rename(from, to, cb)),
    readRange,
    writeFile,
    chmod: (path, mode) => call<void>("chmod", path, (s, cb) => s.chmod(path, mode, cb)),
    homeDirectory,
  }
}
