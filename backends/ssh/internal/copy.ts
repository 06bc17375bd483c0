/**
 * @internal Copies of files and trees between the local file system (the platform's
 * `FileSystem`) and the host: SFTP by ssh2, or OpenSSH's `scp` for files above the bulk
 * threshold when it can copy with the same trust and credential. A download lands under a
 * temporary name beside its target and is renamed into place once whole.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { Auth, type Credential } from "../../../src/Auth.ts"
import { fromPlatformError } from "../../../src/internal/platformError.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import type { TransportShape } from "../../../src/Transport.ts"
import * as OpenSshCopy from "../OpenSshCopy.ts"
import type { Pool } from "./connection.ts"
import { onConnection } from "./connection.ts"
import { BACKEND, wrap } from "./errors.ts"
import { defaultIdentityFiles, localUser, type Settings } from "./settings.ts"
import type { Sftp } from "./sftp.ts"

/** 64 requests of 64 KiB in flight: measured best on loopback (see bench/ssh.ts). */
const transferOptions = { concurrency: 64, chunkSize: 65536 }

/** The keys and agent `scp` may log in with for a credential, or `undefined` (a password). */
const scpIdentity = (settings: Settings, c: Credential) =>
  Effect.gen(function* () {
    const agentEnv = Deno.env.get("SSH_AUTH_SOCK") || undefined
    switch (c._tag) {
      case "SshKey":
        return c.passphrase === undefined ? { files: [c.keyFile], agent: undefined } : undefined
      case "SshAgent":
        return { files: [], agent: c.socket ?? agentEnv }
      case "None": {
        const files = settings.resolved.identityFiles.length > 0
          ? settings.resolved.identityFiles
          : defaultIdentityFiles()
        const readable = yield* Effect.filter(files, (f) =>
          settings.fs.access(f, { readable: true }).pipe(
            Effect.as(true),
            Effect.orElseSucceed(() =>
              false
            ),
          ))
        return { files: readable, agent: agentEnv }
      }
      case "Password":
        return undefined // OpenSSH would prompt for it
    }
  })

/** @internal `put` and `get` of the transport. */
export const make = (
  settings: Settings,
  pool: Pool,
  sftp: Sftp,
): Effect.Effect<Pick<TransportShape, "put" | "get">, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const { config, resolved, fs } = settings
    const local = (operation: string, path: string) => fromPlatformError(BACKEND, operation, path)
    const scp = config.bulkCopy === "auto" ? yield* OpenSshCopy.findScp : undefined

    /** The scp argv for a copy with the caller's credential, when scp can make it. */
    const scpFor = (direction: "get" | "put", localPath: string, remote: string) =>
      Effect.flatMap(Auth, (auth) =>
        Effect.gen(function* () {
          if (scp === undefined || resolved.proxyJump.length > 0) return undefined
          const c = auth.credential
          const identity = yield* scpIdentity(settings, c)
          if (identity === undefined) return undefined
          const argv = OpenSshCopy.scpArgv({
            direction,
            host: resolved.hostName,
            port: settings.port,
            user: c._tag === "None" ? resolved.user ?? localUser() : c.user,
            identityFiles: identity.files,
            agent: identity.agent,
            knownHostsFiles: settings.knownHostsFiles,
            hostKeyPolicy: config.hostKeyPolicy,
            connectTimeout: settings.connectTimeoutMs / 1000,
            local: localPath,
            remote,
          })
          return argv === undefined ? undefined : [scp, ...argv.slice(1)]
        }))

    /** Copies one file by scp when it is big enough and scp can, else by `ssh2`. */
    const copyFile = (
      direction: "get" | "put",
      size: number,
      localPath: string,
      remote: string,
      bySsh2: Effect.Effect<void, LrmsError, Auth>,
    ) =>
      (size < config.bulkThreshold
        ? Effect.succeed(undefined)
        : scpFor(direction, localPath, remote))
        .pipe(
          Effect.flatMap((argv) =>
            argv !== undefined ? OpenSshCopy.run(argv, `${direction} ${remote}`) : bySsh2
          ),
        )

    /**
     * ssh2's fastGet cannot be stopped: when the caller is interrupted it goes on, and may
     * create its temporary file only later. The file is removed when fastGet is done, whenever
     * that is.
     */
    const fastGet = (remote: string, temp: string) =>
      pool.withConnection((conn) =>
        Effect.flatMap(sftp.session(conn), (session) =>
          onConnection<void>(conn, (resume) => {
            let abandoned = false
            session.fastGet(remote, temp, transferOptions, (err) => {
              if (abandoned) return void Effect.runFork(Effect.ignore(fs.remove(temp)))
              resume(err ? Effect.fail(wrap("get", `${remote} -> ${temp}`)(err)) : Effect.void)
            })
            return Effect.sync(() => {
              abandoned = true
            })
          }))
      )

    /**
     * Downloads one file under a temporary name beside its target, renamed into place once
     * whole: an interrupted transfer leaves no partial file.
     */
    const getFile = (remote: string, target: string, size: number) => {
      const slash = target.lastIndexOf("/")
      const temp = `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.lrms-part-${
        crypto.randomUUID().slice(0, 8)
      }`
      return copyFile("get", size, temp, remote, fastGet(remote, temp)).pipe(
        Effect.zipRight(fs.rename(temp, target).pipe(Effect.mapError(local("get", target)))),
        Effect.onExit((exit) =>
          exit._tag === "Success" ? Effect.void : Effect.ignore(fs.remove(temp))
        ),
      )
    }

    const putFile = (source: string, remote: string, size: number) =>
      copyFile(
        "put",
        size,
        source,
        remote,
        sftp.call<void>(
          "put",
          `${source} -> ${remote}`,
          (s, cb) => s.fastPut(source, remote, transferOptions, cb),
        ),
      )

    const put = (source: string, remote: string): Effect.Effect<void, LrmsError, Auth> =>
      Effect.flatMap(
        fs.stat(source).pipe(Effect.mapError(local("put", source))),
        (info) =>
          info.type === "Directory"
            ? sftp.mkdir(remote, { recursive: true }).pipe(
              Effect.zipRight(fs.readDirectory(source).pipe(Effect.mapError(local("put", source)))),
              Effect.flatMap((names) =>
                Effect.forEach(names, (n) => put(`${source}/${n}`, `${remote}/${n}`), {
                  discard: true,
                })
              ),
            )
            : putFile(source, remote, Number(info.size)),
      )

    const get = (remote: string, target: string): Effect.Effect<void, LrmsError, Auth> =>
      Effect.flatMap(
        sftp.stat(remote),
        (info) =>
          info.type === "Directory"
            ? fs.makeDirectory(target, { recursive: true }).pipe(
              Effect.mapError(local("get", target)),
              Effect.zipRight(sftp.list(remote)),
              Effect.flatMap((names) =>
                Effect.forEach(names, (n) => get(`${remote}/${n}`, `${target}/${n}`), {
                  discard: true,
                })
              ),
            )
            : getFile(remote, target, info.size),
      )

    return { put, get }
  })
