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
 * `UserKnownHostsFile`.
 *
 * Commands are argv arrays, quoted word by word with `Shell.quote` for the remote login shell,
 * which must be a POSIX shell (sh, bash, dash, ksh, zsh). Files above `bulkThreshold` (8 MiB) are
 * copied by the system's OpenSSH `scp` when it can do so with the same trust and credential
 * (`bulkCopy: "auto"`, see `OpenSshCopy`); `bulkCopy: "ssh2"` keeps every copy in ssh2.
 *
 * @example
 * ```ts ignore
 * import { Effect, Layer } from "effect"
 * import { Application, Auth, Lrms, Shellcmd, SshTransport } from "effect-lrms"
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
 * await Effect.runPromise(program.pipe(Effect.provide(workstation), Effect.provide(alice)))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as net from "node:net"
import * as Deferred from "effect/Deferred"
import * as FiberId from "effect/FiberId"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
// @ts-types="@types/ssh2"
import ssh2 from "ssh2"
import { Auth, type AuthShape, type Credential, credentialKey } from "../../src/Auth.ts"
import { decodeOrFail } from "../../src/internal/decode.ts"
import { LrmsError, type Reason } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import { quote } from "../../src/Shell.ts"
import { signalNumber } from "../../src/Termination.ts"
import { retryWhileWritten } from "../../src/internal/removeTree.ts"
import {
  type ExecOptions,
  type ExecResult,
  type FileInfo,
  Transport,
  type TransportShape,
  withSpans,
} from "../../src/Transport.ts"
import * as KnownHosts from "./KnownHosts.ts"
import * as OpenSshCopy from "./OpenSshCopy.ts"
import * as SshConfig from "./SshConfig.ts"

const BACKEND = "ssh"

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
 * @category schemas
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
 * @category schemas
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
// Errors
// =============================================================================

const fail = (reason: Reason, operation: string, description: string, cause?: unknown) =>
  new LrmsError({ reason, backend: BACKEND, operation, description, cause })

const errnoOf = (e: unknown): string | number | undefined =>
  typeof e === "object" && e !== null && "code" in e
    ? (e as { code: string | number }).code
    : undefined

const connectionErrors = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTCONN",
])

/** Maps an ssh2 / SFTP error to a reason. */
const reasonOf = (e: unknown): Reason => {
  const code = errnoOf(e)
  if (code === 2) return "NotFound"
  if (code === 3) return "PermissionDenied"
  if (typeof code === "string" && connectionErrors.has(code)) return "ConnectionLost"
  const message = e instanceof Error ? e.message : String(e)
  if (/No response from server|Not connected|connection lost|closed|No SFTP/i.test(message)) {
    return "ConnectionLost"
  }
  return "CommandFailed"
}

const wrap = (operation: string, path: string) => (e: unknown): LrmsError =>
  e instanceof LrmsError
    ? e
    : fail(reasonOf(e), operation, `${path}: ${e instanceof Error ? e.message : String(e)}`, e)

// =============================================================================
// Connections
// =============================================================================

interface Connection {
  readonly client: ssh2.Client
  readonly hops: ReadonlyArray<ssh2.Client>
  readonly channels: Effect.Semaphore
  sftp: Promise<ssh2.SFTPWrapper> | undefined
  closed: boolean
  /** Why the connection dropped, once it has. */
  lost: LrmsError | undefined
  /** The operations in flight: each fails with `ConnectionLost` when the connection drops. */
  readonly waiters: Set<(error: LrmsError) => void>
}

/**
 * `Effect.async` for one ssh2 callback on a connection. Some callbacks never fire once the
 * connection is gone (a pending SFTP read, a fastGet), so the operation is registered with the
 * connection and fails with `ConnectionLost` when it drops first.
 */
const onConnection = <A>(
  conn: Connection,
  register: (finish: (effect: Effect.Effect<A, LrmsError>) => void) => Effect.Effect<void> | void,
): Effect.Effect<A, LrmsError> =>
  Effect.async<A, LrmsError>((resume) => {
    if (conn.lost !== undefined) return resume(Effect.fail(conn.lost))
    let done = false
    const onLost = (error: LrmsError) => finish(Effect.fail(error))
    const finish = (effect: Effect.Effect<A, LrmsError>) => {
      if (done) return
      done = true
      conn.waiters.delete(onLost)
      resume(effect)
    }
    conn.waiters.add(onLost)
    let cancel: Effect.Effect<void> | void = undefined
    try {
      cancel = register(finish)
    } catch (e) {
      // ssh2 throws ("Not connected") when the connection went away under us
      finish(Effect.fail(
        new LrmsError({
          reason: /not connected|no response|closed/i.test(String(e))
            ? "ConnectionLost"
            : "CommandFailed",
          backend: BACKEND,
          operation: "ssh",
          description: e instanceof Error ? e.message : String(e),
          cause: e,
        }),
      ))
    }
    return Effect.suspend(() => {
      done = true
      conn.waiters.delete(onLost)
      return cancel ?? Effect.void
    })
  })

interface Target {
  readonly host: string
  readonly port: number
  readonly user: string | undefined
  readonly identityFiles: ReadonlyArray<string>
}

/** How a refused channel open is retried: 10 ms growing to 500 ms, 30 times at most. */
const channelRetry = Schedule.exponential("10 millis").pipe(
  Schedule.either(Schedule.spaced("500 millis")),
  Schedule.intersect(Schedule.recurs(30)),
)

/** The cipher preference: chacha20-poly1305 first, then AES (GCM, CTR). */
const ciphers = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
] as const

const localUser = (): string => Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "root"
const home = (): string => Deno.env.get("HOME") ?? "/"

const readIfExists = (path: string): string | undefined => {
  try {
    return Deno.readTextFileSync(path)
  } catch {
    return undefined
  }
}

/** Opens a TCP socket with Nagle off (small commands are 30× slower with it on). */
const tcpConnect = (host: string, port: number, timeoutMs: number) =>
  Effect.async<net.Socket, LrmsError>((resume) => {
    const sock = net.connect({ host, port })
    sock.setNoDelay(true)
    const timer = setTimeout(() => {
      sock.destroy()
      resume(
        Effect.fail(
          fail("Timeout", "connect", `${host}:${port}: no answer within ${timeoutMs} ms`),
        ),
      )
    }, timeoutMs)
    sock.once("connect", () => {
      clearTimeout(timer)
      sock.setNoDelay(true) // again: before the connection exists it may not take
      resume(Effect.succeed(sock))
    })
    let settled = false
    sock.once("connect", () => (settled = true))
    // a listener for good: an error with none would be thrown to the event loop
    sock.on("error", (e) => {
      clearTimeout(timer)
      if (settled) return // ssh2 owns the socket now and reports its errors
      settled = true
      resume(Effect.fail(fail("ConnectionLost", "connect", `${host}:${port}: ${e.message}`, e)))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      sock.destroy()
    })
  })

/**
 * Builds the transport for one host from its configuration.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: SshTransportConfigInput,
): Effect.Effect<TransportShape, LrmsError, Scope.Scope> =>
  Effect.gen(function* () {
    const config = yield* decodeOrFail(SshTransportConfig, BACKEND, "config", "ConfigurationError")(
      input,
    )
    const sshConfigPath = config.sshConfig ?? `${home()}/.ssh/config`
    const sshConfigText = readIfExists(sshConfigPath)
    if (config.sshConfig !== undefined && sshConfigText === undefined) {
      return yield* fail("ConfigurationError", "config", `cannot read ssh config ${sshConfigPath}`)
    }
    const resolveHost = (alias: string) =>
      SshConfig.resolve(sshConfigText ?? "", alias, { home: home(), localUser: localUser() })
    const resolved = resolveHost(config.host)
    const knownHostsFiles = config.knownHosts !== undefined
      ? [config.knownHosts]
      : resolved.userKnownHostsFiles.length > 0
      ? resolved.userKnownHostsFiles
      : [`${home()}/.ssh/known_hosts`]
    const connectTimeoutMs = Duration.toMillis(
      config.connectTimeout ?? Duration.seconds(resolved.connectTimeout ?? 30),
    )
    const keepaliveMs = Duration.toMillis(
      config.keepaliveInterval ?? Duration.seconds(resolved.serverAliveInterval ?? 15),
    )
    const port = config.port ?? resolved.port ?? 22

    // ---- host keys -------------------------------------------------------------------
    const verifyHostKey = (
      host: string,
      hostPort: number,
      blob: Uint8Array,
    ): LrmsError | undefined => {
      if (config.hostKeyPolicy === "ignore") return undefined
      const lines = knownHostsFiles.flatMap((f) => KnownHosts.parse(readIfExists(f) ?? ""))
      const verdict = KnownHosts.check(lines, host, hostPort, blob)
      const where = KnownHosts.hostString(host, hostPort)
      const fp = KnownHosts.fingerprint(blob)
      switch (verdict._tag) {
        case "Known":
          return undefined
        case "Revoked":
          return fail("HostKeyMismatch", "connect", `the host key of ${where} (${fp}) is revoked`)
        case "Changed":
          return fail(
            "HostKeyMismatch",
            "connect",
            `the host key of ${where} changed: it presented ${fp}, known_hosts has ` +
              `${verdict.known.join(", ")} (${knownHostsFiles.join(", ")})`,
          )
        case "Unknown": {
          if (config.hostKeyPolicy === "accept-new") {
            try {
              Deno.writeTextFileSync(
                knownHostsFiles[0]!,
                KnownHosts.formatLine(host, hostPort, blob) + "\n",
                {
                  append: true,
                  create: true,
                  mode: 0o600,
                },
              )
              return undefined
            } catch (cause) {
              return fail(
                "HostKeyMismatch",
                "connect",
                `cannot record the new host key of ${where} (${fp}) in ${knownHostsFiles[0]}`,
                cause,
              )
            }
          }
          return fail(
            "HostKeyMismatch",
            "connect",
            `the host key of ${where} (${fp}) is not in ${knownHostsFiles.join(", ")}; ` +
              `add it (ssh-keyscan) or choose hostKeyPolicy "accept-new"`,
          )
        }
      }
    }

    // ---- authentication ------------------------------------------------------------------
    const authMethods = (credential: Credential, target: Target) =>
      Effect.gen(function* () {
        const user = credential._tag === "None" ? target.user ?? localUser() : credential.user
        const methods: Array<ssh2.AnyAuthMethod> = []
        const keyFromFile = (file: string, passphrase?: string) =>
          Effect.tryPromise({
            try: () => Deno.readTextFile(file),
            catch: (cause) =>
              fail("AuthenticationFailed", "connect", `cannot read key file ${file}`, cause),
          }).pipe(
            Effect.map((key) => ({
              type: "publickey" as const,
              username: user,
              key,
              ...(passphrase !== undefined ? { passphrase } : {}),
            })),
          )
        switch (credential._tag) {
          case "SshKey":
            methods.push(
              credential.key !== undefined
                ? { type: "publickey", username: user, key: Redacted.value(credential.key) }
                : yield* keyFromFile(
                  credential.keyFile,
                  credential.passphrase === undefined
                    ? undefined
                    : Redacted.value(credential.passphrase),
                ),
            )
            break
          case "SshAgent":
            methods.push({ type: "agent", username: user, agent: credential.socket ?? "" })
            break
          case "Password":
            methods.push({
              type: "password",
              username: user,
              password: Redacted.value(credential.password),
            })
            break
          case "None": {
            const agent = Deno.env.get("SSH_AUTH_SOCK")
            if (agent) methods.push({ type: "agent", username: user, agent })
            const files = target.identityFiles.length > 0
              ? target.identityFiles
              : [`${home()}/.ssh/id_ed25519`, `${home()}/.ssh/id_rsa`]
            for (const f of files) {
              const key = readIfExists(f)
              if (key !== undefined) methods.push({ type: "publickey", username: user, key })
            }
          }
        }
        return { user, methods }
      })

    // ---- connecting ----------------------------------------------------------------------
    const handshake = (
      target: Target,
      credential: Credential,
      sock: NodeJS.ReadableStream & NodeJS.WritableStream,
    ) =>
      Effect.gen(function* () {
        const { user, methods } = yield* authMethods(credential, target)
        if (methods.length === 0) {
          return yield* fail(
            "AuthenticationFailed",
            "connect",
            `no credential to log in to ${target.host} as ${user}: give an Auth layer ` +
              `(Auth.sshKey, Auth.sshAgent, Auth.password) or an IdentityFile in the ssh config`,
          )
        }
        return yield* Effect.async<ssh2.Client, LrmsError>((resume) => {
          const client = new ssh2.Client()
          let hostKeyError: LrmsError | undefined
          let done = false
          const finish = (effect: Effect.Effect<ssh2.Client, LrmsError>) => {
            if (done) return
            done = true
            resume(effect)
          }
          client.once("ready", () => finish(Effect.succeed(client)))
          client.on("error", (e: Error & { level?: string }) => {
            // once connected, the connection's own handler names the error first; then end it
            if (done) return void queueMicrotask(() => client.end())
            client.end()
            if (hostKeyError !== undefined) return finish(Effect.fail(hostKeyError))
            if (e.level === "client-authentication") {
              return finish(Effect.fail(fail(
                "AuthenticationFailed",
                "connect",
                `${user}@${target.host}:${target.port} refused the credential (${
                  methods.map((m) => m.type).join(", ")
                })`,
                e,
              )))
            }
            if (e.level === "client-timeout") {
              return finish(
                Effect.fail(fail("Timeout", "connect", `${target.host}: ${e.message}`, e)),
              )
            }
            finish(
              Effect.fail(fail("ConnectionLost", "connect", `${target.host}: ${e.message}`, e)),
            )
          })
          client.once(
            "close",
            () =>
              finish(
                Effect.fail(
                  fail("ConnectionLost", "connect", `${target.host} closed the connection`),
                ),
              ),
          )
          const remaining = [...methods]
          client.connect({
            sock: sock as unknown as NonNullable<ssh2.ConnectConfig["sock"]>,
            host: target.host,
            port: target.port,
            username: user,
            readyTimeout: connectTimeoutMs,
            keepaliveInterval: keepaliveMs,
            keepaliveCountMax: 3,
            // chacha20-poly1305 first, as OpenSSH does: under Deno it moved 256 MiB over SFTP at
            // 200+ MiB/s, where AES-GCM (node:crypto) ran at about 120 MiB/s. Not through a jump
            // host: ssh2's chacha20 stalled on a forwarded channel here, so those use its default.
            ...(sock instanceof net.Socket ? { algorithms: { cipher: [...ciphers] } } : {}),
            hostVerifier: (key: Buffer) => {
              hostKeyError = verifyHostKey(target.host, target.port, new Uint8Array(key))
              return hostKeyError === undefined
            },
            authHandler: (_left, _partial, next) => {
              const method = remaining.shift()
              next(method ?? (false as unknown as ssh2.AnyAuthMethod))
            },
          })
          return Effect.sync(() => {
            if (!done) client.end()
          })
        })
      })

    const openConnection = (credential: Credential) =>
      Effect.gen(function* () {
        const hops: Array<ssh2.Client> = []
        const close = () => {
          for (const h of hops) h.end()
        }
        return yield* Effect.gen(function* () {
          // every hop of ProxyJump is an SSH connection through the previous one
          const chain: Array<Target> = [
            ...resolved.proxyJump.map((hop) => {
              const r = resolveHost(hop.host)
              return {
                host: r.hostName,
                port: hop.port ?? r.port ?? 22,
                user: hop.user ?? r.user,
                identityFiles: r.identityFiles,
              }
            }),
            {
              host: resolved.hostName,
              port,
              user: resolved.user,
              identityFiles: resolved.identityFiles,
            },
          ]
          let previous: ssh2.Client | undefined
          for (const target of chain) {
            const sock = previous === undefined
              ? yield* tcpConnect(target.host, target.port, connectTimeoutMs)
              : yield* forward(previous, target)
            previous = yield* handshake(target, credential, sock)
            hops.push(previous)
          }
          return { client: previous!, hops: hops.slice(0, -1) }
        }).pipe(Effect.onError(() => Effect.sync(close)))
      })

    const forward = (via: ssh2.Client, target: Target) =>
      Effect.async<NodeJS.ReadableStream & NodeJS.WritableStream, LrmsError>((resume) => {
        try {
          via.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) => {
            if (err) {
              resume(Effect.fail(fail(
                "ConnectionLost",
                "connect",
                `cannot reach ${target.host}:${target.port} through the jump host: ${err.message}`,
                err,
              )))
            } else {resume(
                Effect.succeed(stream as unknown as NodeJS.ReadableStream & NodeJS.WritableStream),
              )}
          })
        } catch (e) {
          resume(Effect.fail(fail("ConnectionLost", "connect", `jump host: ${String(e)}`, e)))
        }
      })

    const layerScope = yield* Effect.scope
    const connections = new Map<string, Connection>()
    const connecting = new Map<string, Deferred.Deferred<Connection, LrmsError>>()
    /** Ends every connection; the next operation of a credential opens its own again. */
    const closeAll = Effect.sync(() => {
      for (const c of connections.values()) {
        c.closed = true
        c.client.end()
        for (const h of c.hops) h.end()
      }
      connections.clear()
    })
    yield* Effect.addFinalizer(() => closeAll)

    /** Three attempts, 200 ms then 400 ms apart, when the network (not the credential) failed. */
    const connectWithRetry = (credential: Credential) =>
      openConnection(credential).pipe(
        Effect.retry({
          schedule: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(2))),
          while: (e) => e.reason === "ConnectionLost" || e.reason === "Timeout",
        }),
      )

    /**
     * The connection for the caller's credential. A new one is opened by a fiber of the layer's
     * scope, which every caller (the first too) only awaits: an interrupted caller cannot leave
     * the others waiting, and the layer's closing stops a connect in progress.
     */
    const connection = (auth: AuthShape): Effect.Effect<Connection, LrmsError> =>
      Effect.suspend(() => {
        const key = credentialKey(auth.credential)
        const existing = connections.get(key)
        if (existing !== undefined && !existing.closed) return Effect.succeed(existing)
        const pending = connecting.get(key)
        if (pending !== undefined) return Deferred.await(pending)
        const deferred = Deferred.unsafeMake<Connection, LrmsError>(FiberId.none)
        connecting.set(key, deferred)
        const open = Effect.gen(function* () {
          const { client, hops } = yield* connectWithRetry(auth.credential)
          const conn: Connection = {
            client,
            hops,
            channels: yield* Effect.makeSemaphore(config.maxChannels - 1),
            sftp: undefined,
            closed: false,
            lost: undefined,
            waiters: new Set(),
          }
          const drop = (why: string) => {
            conn.closed = true
            if (connections.get(key) === conn) connections.delete(key)
            if (conn.lost !== undefined) return
            conn.lost = fail("ConnectionLost", "connection", `${config.host}: ${why}`)
            for (const waiter of [...conn.waiters]) waiter(conn.lost)
          }
          client.on("close", () => drop("the connection closed"))
          client.on("error", (e: Error) => drop(e.message))
          for (const hop of hops) hop.on("close", () => drop("a jump host closed the connection"))
          connections.set(key, conn)
          return conn
        }).pipe(
          Effect.exit,
          Effect.flatMap((exit) =>
            Effect.sync(() => connecting.delete(key)).pipe(
              Effect.zipRight(Deferred.done(deferred, exit)),
            )
          ),
          Effect.onInterrupt(() =>
            Effect.sync(() => connecting.delete(key)).pipe(
              Effect.zipRight(Deferred.interrupt(deferred)),
            )
          ),
        )
        return Effect.zipRight(Effect.forkIn(open, layerScope), Deferred.await(deferred))
      })

    /** Runs an operation on the caller's connection (opened on first use). */
    const withConnection = <A>(f: (conn: Connection) => Effect.Effect<A, LrmsError>) =>
      Effect.flatMap(Auth, (auth) => Effect.flatMap(connection(auth), f))

    // ---- exec ----------------------------------------------------------------------------
    /** The remote shell command for an argv; every word is quoted, nothing is expanded. */
    const renderCommand = (argv: ReadonlyArray<string>, options: ExecOptions) => {
      const parts: Array<string> = []
      if (options.cwd !== undefined) {
        parts.push(`cd ${quote(options.cwd)} || exit 126;`)
      }
      for (const [k, v] of Object.entries(options.env ?? {})) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
          return undefined
        }
        parts.push(`export ${k}=${quote(v)};`)
      }
      parts.push("exec", ...argv.map(quote))
      return parts.join(" ")
    }

    /**
     * Sends a signal request. ssh2's `channel.signal` does nothing once our side has sent EOF
     * (which every command gets after its stdin), so the request goes through the protocol.
     */
    const sendSignal = (ch: ssh2.ClientChannel, name: string): boolean => {
      const internal = ch as unknown as {
        outgoing?: { id: number; state: string }
        _client?: { _protocol?: { signal(id: number, name: string): void } }
      }
      const outgoing = internal.outgoing
      const protocol = internal._client?._protocol
      if (outgoing === undefined || protocol === undefined) {
        return false
      }
      if (outgoing.state !== "open" && outgoing.state !== "eof") {
        return false
      }
      try {
        protocol.signal(outgoing.id, name)
        return true
      } catch {
        return false
      }
    }

    const runChannel = (conn: Connection, command: string, options: ExecOptions) =>
      onConnection<ExecResult>(conn, (resume) => {
        let channel: ssh2.ClientChannel | undefined
        let finished = false
        let cancelled = false
        conn.client.exec(command, (err, ch) => {
          if (err) {
            finished = true
            const refused = /open failed|Channel open failure/i.test(err.message)
            return resume(Effect.fail(fail(
              refused ? "ConnectionLost" : reasonOf(err),
              "exec",
              `cannot open a channel: ${err.message}`,
              refused ? "channel-refused" : err,
            )))
          }
          channel = ch
          if (cancelled) {
            // interrupted while the channel was opening: the command must not run unwatched
            if (!sendSignal(ch, "KILL")) ch.close()
            setTimeout(() => ch.close(), 1000)
            return
          }
          const out: Array<Buffer> = []
          const errs: Array<Buffer> = []
          let exit: { code: number | null; signal: string | undefined } | undefined
          ch.on("data", (d: Buffer) => out.push(d))
          ch.stderr.on("data", (d: Buffer) => errs.push(d))
          ch.on("exit", (code: number | null, signal?: string) => {
            exit = { code, signal }
          })
          ch.on("close", () => {
            finished = true
            if (exit === undefined) {
              return resume(Effect.fail(fail(
                "ConnectionLost",
                "exec",
                `the connection to ${config.host} dropped while ${
                  JSON.stringify(command.slice(0, 80))
                } ran`,
              )))
            }
            const name = exit.signal?.replace(/^SIG/, "")
            resume(Effect.succeed({
              exitCode: exit.code ?? 128 + (signalNumber(name ?? "") ?? 0),
              signal: name === undefined ? null : `SIG${name}`,
              stdout: Buffer.concat(out).toString("utf8"),
              stderr: Buffer.concat(errs).toString("utf8"),
            }))
          })
          if (options.stdin !== undefined) ch.end(options.stdin)
          else ch.end()
        })
        // Interrupted (a timeout): KILL the remote command, give sshd a moment to deliver it
        // (closing the channel at once can make it drop the signal), then close the channel.
        return Effect.async<void>((done) => {
          cancelled = true
          const ch = channel
          if (finished || ch === undefined || conn.lost !== undefined) return done(Effect.void)
          const timer = setTimeout(() => {
            ch.close()
            done(Effect.void)
          }, 1000)
          ch.once("close", () => {
            clearTimeout(timer)
            done(Effect.void)
          })
          if (!sendSignal(ch, "KILL")) ch.close()
        })
      })

    const exec = (
      argv: ReadonlyArray<string>,
      options: ExecOptions = {},
    ): Effect.Effect<ExecResult, LrmsError, Auth> =>
      Effect.suspend(() => {
        if (argv.length === 0 || argv[0] === "") {
          return Effect.fail(fail("InvalidArgument", "exec", "empty command"))
        }
        if (argv.some((a) => a.includes("\0"))) {
          return Effect.fail(fail("InvalidArgument", "exec", "an argument contains a NUL byte"))
        }
        const command = renderCommand(argv, options)
        if (command === undefined) {
          return Effect.fail(
            fail("InvalidArgument", "exec", "an environment variable name is invalid"),
          )
        }
        const run = withConnection((conn) => {
          const attempt = conn.channels.withPermits(1)(runChannel(conn, command, options))
          // sshd refuses channels beyond MaxSessions (other clients of the same user count):
          // wait and try again; the retry schedule is built only when it is needed
          return attempt.pipe(
            Effect.catchIf((e) => e.cause === "channel-refused", () =>
              attempt.pipe(Effect.retry({
                schedule: channelRetry,
                while: (e) => e.cause === "channel-refused",
              }))),
          )
        })
        if (options.timeout === undefined) return run
        return run.pipe(Effect.timeoutFail({
          duration: options.timeout,
          onTimeout: () =>
            fail(
              "Timeout",
              "exec",
              `${argv[0]} did not finish within ${String(options.timeout)}; killed`,
            ),
        }))
      })

    // ---- SFTP ----------------------------------------------------------------------------
    /** The connection's one SFTP session, opened on first use. */
    const sftpOf = (conn: Connection) =>
      onConnection<ssh2.SFTPWrapper>(conn, (finish) => {
        if (conn.sftp === undefined) {
          conn.sftp = new Promise<ssh2.SFTPWrapper>((resolve, reject) =>
            conn.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)))
          )
          conn.sftp.catch(() => (conn.sftp = undefined))
        }
        conn.sftp.then(
          (sftp) => finish(Effect.succeed(sftp)),
          (err) => finish(Effect.fail(wrap("sftp", config.host)(err))),
        )
      })

    /** Runs one SFTP call (callback style) on the shared session. */
    const sftpCall = <A>(
      operation: string,
      path: string,
      f: (sftp: ssh2.SFTPWrapper, cb: (err: Error | undefined | null, a?: A) => void) => void,
    ): Effect.Effect<A, LrmsError, Auth> =>
      withConnection((conn) =>
        Effect.flatMap(sftpOf(conn), (sftp) =>
          onConnection<A>(conn, (resume) => {
            f(
              sftp,
              (err, a) =>
                resume(err ? Effect.fail(wrap(operation, path)(err)) : Effect.succeed(a as A)),
            )
          }))
      )

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

    const stat = (path: string) =>
      sftpCall<ssh2.Stats>("stat", path, (s, cb) => s.lstat(path, cb)).pipe(Effect.map(toInfo))

    const mkdirOne = (path: string, mode?: number) =>
      sftpCall<void>(
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
            Effect.flatMap(stat(path), (i) =>
              i.type === "Directory"
                ? Effect.void
                : Effect.fail(fail("InvalidState", "mkdir", `${path} is a file`))),
        ),
        Effect.catchIf(
          (e) =>
            e.reason === "NotFound" && parent !== "" && parent !== path,
          () =>
            mkdir(parent, { recursive: true }).pipe(
              Effect.zipRight(mkdirOne(path, options?.mode)),
              Effect.catchIf((e) =>
                e.reason === "InvalidState", () => Effect.void),
            ),
        ),
      )
    }

    const remove = (
      path: string,
      options?: { readonly recursive?: boolean },
    ): Effect.Effect<void, LrmsError, Auth> =>
      Effect.flatMap(Effect.either(stat(path)), (info) => {
        if (info._tag === "Left") {
          return info.left.reason === "NotFound" ? Effect.void : Effect.fail(info.left)
        }
        if (info.right.type !== "Directory") {
          return sftpCall<void>("remove", path, (s, cb) => s.unlink(path, cb))
        }
        if (!(options?.recursive ?? false)) {
          return sftpCall<void>("remove", path, (s, cb) => s.rmdir(path, cb))
        }
        return retryWhileWritten(
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
      })

    const readRange = (path: string, offset: number, size?: number) =>
      withConnection((conn) =>
        Effect.flatMap(sftpOf(conn), (sftp) =>
          Effect.acquireUseRelease(
            onConnection<Buffer>(conn, (resume) =>
              sftp.open(
                path,
                "r",
                (err, handle) =>
                  resume(err ? Effect.fail(wrap("readRange", path)(err)) : Effect.succeed(handle)),
              )),
            (handle) =>
              onConnection<Uint8Array>(conn, (resume) => {
                const go = (total: number) => {
                  const chunks: Array<Buffer> = []
                  let got = 0
                  const step = () => {
                    if (got >= total) {
                      return resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
                    }
                    const want = Math.min(32768, total - got)
                    const buf = Buffer.alloc(want)
                    sftp.read(handle, buf, 0, want, offset + got, (err, n) => {
                      if (err) return resume(Effect.fail(wrap("readRange", path)(err)))
                      if (n === 0) {
                        return resume(Effect.succeed(new Uint8Array(Buffer.concat(chunks))))
                      }
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
              }),
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
      sftpCall<void>(
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
            ? sftpCall<void>("chmod", path, (s, cb) => s.chmod(path, options.mode!, cb))
            : Effect.void,
        ),
      )

    const rename = (from: string, to: string) =>
      sftpCall<void>("rename", `${from} -> ${to}`, (s, cb) => s.ext_openssh_rename(from, to, cb))

    // ---- bulk copies through OpenSSH's scp ------------------------------------------------
    const scp = config.bulkCopy === "auto" ? OpenSshCopy.findScp() : undefined

    /** The scp argv for a copy with the caller's credential, when scp can make it. */
    const scpFor = (direction: "get" | "put", local: string, remote: string) =>
      Effect.map(Auth, (auth): ReadonlyArray<string> | undefined => {
        if (scp === undefined || resolved.proxyJump.length > 0) return undefined
        const c = auth.credential
        const agentEnv = Deno.env.get("SSH_AUTH_SOCK") || undefined
        const identity = c._tag === "SshKey"
          ? (c.passphrase === undefined ? { files: [c.keyFile], agent: undefined } : undefined)
          : c._tag === "SshAgent"
          ? { files: [], agent: c.socket ?? agentEnv }
          : c._tag === "None"
          ? {
            files: (resolved.identityFiles.length > 0
              ? resolved.identityFiles
              : [`${home()}/.ssh/id_ed25519`, `${home()}/.ssh/id_rsa`]).filter((f) =>
                readIfExists(f) !== undefined
              ),
            agent: agentEnv,
          }
          : undefined // a password: OpenSSH would prompt for it
        if (identity === undefined) return undefined
        const argv = OpenSshCopy.scpArgv({
          direction,
          host: resolved.hostName,
          port,
          user: c._tag === "None" ? resolved.user ?? localUser() : c.user,
          identityFiles: identity.files,
          agent: identity.agent,
          knownHostsFiles,
          hostKeyPolicy: config.hostKeyPolicy,
          connectTimeout: connectTimeoutMs / 1000,
          local,
          remote,
        })
        return argv === undefined ? undefined : [scp, ...argv.slice(1)]
      })

    /** 64 requests of 64 KiB in flight: measured best on loopback (see bench/ssh.ts). */
    const transferOptions = { concurrency: 64, chunkSize: 65536 }

    const putFileSsh2 = (local: string, remote: string) =>
      sftpCall<void>(
        "put",
        `${local} -> ${remote}`,
        (s, cb) => s.fastPut(local, remote, transferOptions, cb),
      )

    /**
     * ssh2's fastGet cannot be stopped: when the caller is interrupted it goes on, and may create
     * its temporary file only later. The file is removed when fastGet is done, whenever that is.
     */
    const fastGet = (remote: string, temp: string) =>
      withConnection((conn) =>
        Effect.flatMap(sftpOf(conn), (sftp) =>
          onConnection<void>(conn, (resume) => {
            let abandoned = false
            sftp.fastGet(remote, temp, transferOptions, (err) => {
              if (abandoned) {
                try {
                  Deno.removeSync(temp)
                } catch { /* never created */ }
                return
              }
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
    const getFile = (remote: string, local: string, size: number) => {
      const slash = local.lastIndexOf("/")
      const temp = `${local.slice(0, slash + 1)}.${local.slice(slash + 1)}.lrms-part-${
        crypto.randomUUID().slice(0, 8)
      }`
      const copy =
        (size < config.bulkThreshold ? Effect.succeed(undefined) : scpFor("get", temp, remote))
          .pipe(Effect.flatMap((argv) =>
            argv !== undefined ? OpenSshCopy.run(argv, `get ${remote}`) : fastGet(remote, temp)
          ))
      return copy.pipe(
        Effect.zipRight(
          Effect.try({
            try: () =>
              Deno.renameSync(temp, local),
            catch: wrap("get", local),
          }),
        ),
        Effect.onExit((exit) =>
          exit._tag === "Success" ? Effect.void : Effect.sync(() => {
            try {
              Deno.removeSync(temp)
            } catch {
              /* never created, or already gone */
            }
          })
        ),
      )
    }

    const putFile = (local: string, remote: string) =>
      Effect.flatMap(
        Effect.try({
          try: () =>
            Deno.statSync(local).size,
          catch: wrap("put", local),
        }),
        (size) =>
          size < config.bulkThreshold ? Effect.succeed(undefined) : scpFor("put", local, remote),
      ).pipe(
        Effect.flatMap((argv) =>
          argv !== undefined ? OpenSshCopy.run(argv, `put ${remote}`) : putFileSsh2(local, remote)
        ),
      )

    const put = (local: string, remote: string): Effect.Effect<void, LrmsError, Auth> =>
      Effect.flatMap(
        Effect.try({
          try: () => Deno.statSync(local),
          catch: wrap("put", local),
        }),
        (info) =>
          info.isDirectory
            ? mkdir(remote, { recursive: true }).pipe(
              Effect.zipRight(
                Effect.try({
                  try: () => [...Deno.readDirSync(local)].map((e) => e.name),
                  catch: wrap("put", local),
                }),
              ),
              Effect.flatMap((names) =>
                Effect.forEach(names, (n) => put(`${local}/${n}`, `${remote}/${n}`), {
                  discard: true,
                })
              ),
            )
            : putFile(local, remote),
      )

    const get = (remote: string, local: string): Effect.Effect<void, LrmsError, Auth> =>
      Effect.flatMap(stat(remote), (info) =>
        info.type === "Directory"
          ? Effect.try({
            try: () => Deno.mkdirSync(local, { recursive: true }),
            catch: wrap("get", local),
          }).pipe(
            Effect.zipRight(
              sftpCall<Array<ssh2.FileEntryWithStats>>(
                "list",
                remote,
                (s, cb) => s.readdir(remote, cb),
              ),
            ),
            Effect.flatMap((entries) =>
              Effect.forEach(
                entries,
                (e) => get(`${remote}/${e.filename}`, `${local}/${e.filename}`),
                { discard: true },
              )
            ),
          )
          : getFile(remote, local, info.size))

    const homes = new Map<string, string>()
    const shape: TransportShape = {
      kind: "ssh",
      host: config.host,
      exec,
      homeDirectory: Effect.flatMap(Auth, (auth) => {
        const key = credentialKey(auth.credential)
        const known = homes.get(key)
        return known !== undefined
          ? Effect.succeed(known)
          : sftpCall<string>("homeDirectory", ".", (s, cb) => s.realpath(".", cb)).pipe(
            Effect.tap((h) => Effect.sync(() => homes.set(key, h))),
          )
      }),
      stat,
      list: (path) =>
        sftpCall<Array<ssh2.FileEntryWithStats>>("list", path, (s, cb) => s.readdir(path, cb)).pipe(
          Effect.map((entries) =>
            entries.map((e) => e.filename).filter((n) => n !== "." && n !== "..")
          ),
        ),
      mkdir,
      remove,
      rename,
      readRange,
      writeFile,
      chmod: (path, mode) => sftpCall<void>("chmod", path, (s, cb) => s.chmod(path, mode, cb)),
      put,
      get,
      close: closeAll,
    }
    return withSpans(shape)
  })

/**
 * The SSH transport as a layer; connections live as long as the layer's scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: SshTransportConfigInput): Layer.Layer<Transport, LrmsError> =>
  Layer.scoped(Transport, make(config))
