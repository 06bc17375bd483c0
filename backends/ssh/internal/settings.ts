/**
 * @internal What a transport's configuration resolves to once the ssh config file
 * (`~/.ssh/config`) fills in what it leaves out: the target, the trusted known_hosts files and
 * the timeouts every part of the transport shares.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as SshConfig from "../SshConfig.ts"
import type { SshTransportConfig } from "../SshTransport.ts"
import { fail } from "./errors.ts"

/** @internal The decoded configuration of a transport. */
export type Config = typeof SshTransportConfig.Type

/** @internal The local user name (the default remote user). */
export const localUser = (): string => Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "root"

/** @internal The local home directory. */
export const home = (): string => Deno.env.get("HOME") ?? "/"

/** @internal The identity files OpenSSH tries when the ssh config names none. */
export const defaultIdentityFiles = (): ReadonlyArray<string> => [
  `${home()}/.ssh/id_ed25519`,
  `${home()}/.ssh/id_rsa`,
]

/** @internal The text of a file, or `undefined` when it cannot be read. */
export const readIfExists = (
  fs: FileSystem.FileSystem,
  path: string,
): Effect.Effect<string | undefined> =>
  fs.readFileString(path).pipe(Effect.orElseSucceed(() => undefined))

/** @internal A transport's configuration with the ssh config applied. */
export interface Settings {
  readonly config: Config
  /** What the ssh config says about the configured host. */
  readonly resolved: SshConfig.Resolved
  /** What the ssh config says about another alias (a jump host). */
  readonly resolveHost: (alias: string) => SshConfig.Resolved
  readonly port: number
  readonly knownHostsFiles: ReadonlyArray<string>
  readonly connectTimeoutMs: number
  readonly keepaliveMs: number
  readonly fs: FileSystem.FileSystem
}

/** @internal Reads the ssh config file and resolves the configured host with it. */
export const make = (config: Config): Effect.Effect<Settings, LrmsError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const sshConfigPath = config.sshConfig ?? `${home()}/.ssh/config`
    const sshConfigText = yield* readIfExists(fs, sshConfigPath)
    if (config.sshConfig !== undefined && sshConfigText === undefined) {
      return yield* fail("ConfigurationError", "config", `cannot read ssh config ${sshConfigPath}`)
    }
    const resolveHost = (alias: string) =>
      SshConfig.resolve(sshConfigText ?? "", alias, { home: home(), localUser: localUser() })
    const resolved = resolveHost(config.host)
    return {
      config,
      resolved,
      resolveHost,
      port: config.port ?? resolved.port ?? 22,
      knownHostsFiles: config.knownHosts !== undefined
        ? [config.knownHosts]
        : resolved.userKnownHostsFiles.length > 0
        ? resolved.userKnownHostsFiles
        : [`${home()}/.ssh/known_hosts`],
      connectTimeoutMs: Duration.toMillis(
        config.connectTimeout ?? Duration.seconds(resolved.connectTimeout ?? 30),
      ),
      keepaliveMs: Duration.toMillis(
        config.keepaliveInterval ?? Duration.seconds(resolved.serverAliveInterval ?? 15),
      ),
      fs,
    }
  })
