/**
 * The `Transport` of any host reachable by SSH, over `ssh2` (exec channels and SFTP).
 *
 * One connection per target and credential, opened on first use with the `Auth` of the calling
 * context and kept in the layer's scope (closed with it). Many commands and SFTP operations
 * share it at once, bounded below sshd's `MaxSessions` (`maxChannels`, default 8, counting the
 * SFTP session); a refused channel open is retried, not failed. A dropped connection fails the
 * operation in flight with a recoverable `ConnectionLost`, and the next operation reconnects
 * (three attempts, with a growing pause). Host keys are verified against `known_hosts` by default
 * (`hostKeyPolicy: "strict"`): an unknown or changed key fails with `HostKeyMismatch`, naming the
 * host and the key's fingerprint. What the configuration leaves out comes from the ssh config
 * file (`~/.ssh/config`): `HostName`, `User`, `Port`, `IdentityFile`, `ProxyJump` (each hop a real
 * SSH connection through the previous one), `ConnectTimeout`, `ServerAliveInterval`,
 * `UserKnownHostsFile`. Local files (the ssh config, known_hosts, keys, downloads) go through the
 * platform's `FileSystem`, which the application provides (`NodeContext.layer` under Deno).
 *
 * Commands are argv arrays, quoted word by word with `Shell.quote` for the remote login shell,
 * which must be a POSIX shell (sh, bash, dash, ksh, zsh). Files above `bulkThreshold` (8 MiB) are
 * copied by the system's OpenSSH `scp` when it can do so with the same trust and credential
 * (`bulkCopy: "auto"`, see `OpenSshCopy`); `bulkCopy: "ssh2"` keeps every copy in ssh2.
 *
 * @example
 * ```ts ignore
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { Application, Auth, Lrms, Shellcmd } from "effect-lrms"
 * import { SshTransport } from "effect-lrms/ssh"
 *
 * const workstation = Shellcmd.layer({
 *   name: "workstation",
 *   architecture: "x86_64",
 *   maxCores: 8,
 *   maxMemoryPerCore: "4 GiB",
 *   maxWalltime: "1 day",
 * }).pipe(Layer.provide(SshTransport.layer({ host: "workstation.example.org" })))
 * const alice = Auth.sshKey({ user: "alice", keyFile: "/home/alice/.ssh/id_ed25519" })
 *
 * const program = Effect.gen(function* () {
 *   const job = yield* Lrms.submitJob(yield* Application.make({ arguments: ["hostname"] }))
 *   return yield* Lrms.awaitTermination(job)
 * })
 * await Effect.runPromise(
 *   program.pipe(
 *     Effect.provide(workstation),
 *     Effect.provide(alice),
 *     Effect.provide(NodeContext.layer),
 *   ),
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { decodeOrFail } from "../../src/internal/decode.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import { Transport, type TransportShape, withSpans } from "../../src/Transport.ts"
import * as Connection from "./internal/connection.ts"
import * as Copy from "./internal/copy.ts"
import { BACKEND } from "./internal/errors.ts"
import * as Exec from "./internal/exec.ts"
import * as Settings from "./internal/settings.ts"
import * as Sftp from "./internal/sftp.ts"

// =============================================================================
// Configuration
// =============================================================================

/**
 * What to do with a host key that `known_hosts` does not vouch for.
 *
 * - `strict` (the default): refuse an unknown or changed key.
 * - `accept-new`: add an unknown key to `known_hosts`, refuse a changed one (OpenSSH's
 *   `StrictHostKeyChecking=accept-new`).
 * - `ignore`: accept any key (GC3Pie's `ignore_ssh_host_keys`): only for those who choose it.
 *
 * @since 0.1.0
 * @category models
 */
export const HostKeyPolicy: Schema.Literal<["strict", "accept-new", "ignore"]> = Schema.Literal(
  "strict",
  "accept-new",
  "ignore",
)

/**
 * The configuration of an SSH transport.
 *
 * @since 0.1.0
 * @category models
 */
export const SshTransportConfig: Schema.Struct<{
  host: typeof Schema.String
  port: Schema.optional<Schema.filter<typeof Schema.Int>>
  sshConfig: Schema.optional<typeof Schema.String>
  knownHosts: Schema.optional<typeof Schema.String>
  hostKeyPolicy: Schema.optionalWith<typeof HostKeyPolicy, { default: () => "strict" }>
  connectTimeout: Schema.optional<typeof Quantity.DurationFromInput>
  keepaliveInterval: Schema.optional<typeof Quantity.DurationFromInput>
  maxChannels: Schema.optionalWith<Schema.filter<typeof Schema.Int>, { default: () => number }>
  bulkCopy: Schema.optionalWith<Schema.Literal<["auto", "ssh2"]>, { default: () => "auto" }>
  bulkThreshold: Schema.optionalWith<
    typeof Quantity.MemoryFromInput,
    { default: () => Quantity.Memory }
  >
}> = Schema.Struct({
  host: Schema.String,
  port: Schema.optional(Schema.Int.pipe(Schema.between(1, 65535))),
  sshConfig: Schema.optional(Schema.String),
  knownHosts: Schema.optional(Schema.String),
  hostKeyPolicy: Schema.optionalWith(HostKeyPolicy, { default: () => "strict" as const }),
  connectTimeout: Schema.optional(Quantity.DurationFromInput),
  keepaliveInterval: Schema.optional(Quantity.DurationFromInput),
  maxChannels: Schema.optionalWith(Schema.Int.pipe(Schema.between(2, 64)), { default: () => 8 }),
  bulkCopy: Schema.optionalWith(Schema.Literal("auto", "ssh2"), { default: () => "auto" as const }),
  bulkThreshold: Schema.optionalWith(Quantity.MemoryFromInput, {
    default: () => Quantity.memory(8 * 1024 * 1024),
  }),
})

/**
 * What an SSH transport configuration may contain.
 *
 * @since 0.1.0
 * @category models
 */
export type SshTransportConfigInput = typeof SshTransportConfig.Encoded

// =============================================================================
// Constructors
// =============================================================================

/**
 * Builds the transport for one host from its configuration: the ssh config is read now, each
 * connection on first use by a credential; every connection is closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: SshTransportConfigInput,
): Effect.Effect<TransportShape, LrmsError, Scope.Scope | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const config = yield* decodeOrFail(SshTransportConfig, BACKEND, "config", "ConfigurationError")(
      input,
    )
    const settings = yield* Settings.make(config)
    const pool = yield* Connection.makePool(settings)
    const exec = Exec.make(config.host, pool)
    const sftp = Sftp.make(config.host, pool, exec)
    const { put, get } = yield* Copy.make(settings, pool, sftp)
    return withSpans({
      kind: "ssh",
      host: config.host,
      exec,
      homeDirectory: sftp.homeDirectory,
      stat: sftp.stat,
      list: sftp.list,
      mkdir: sftp.mkdir,
      remove: sftp.remove,
      rename: sftp.rename,
      readRange: sftp.readRange,
      writeFile: sftp.writeFile,
      chmod: sftp.chmod,
      put,
      get,
      close: pool.closeAll,
    })
  })

/**
 * The SSH transport as a layer; connections live as long as the layer's scope. It requires the
 * platform's `FileSystem` (provide `NodeContext.layer` from `@effect/platform-node`, or a file
 * system of your own) for the ssh config, known_hosts, keys and local copies.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  config: SshTransportConfigInput,
): Layer.Layer<Transport, LrmsError, FileSystem.FileSystem> => Layer.scoped(Transport, make(config))
