/**
 * @internal Opening one SSH connection: the TCP socket (or a channel forwarded through the
 * previous jump host), the handshake with host-key verification, and the login with the
 * caller's credential; every hop of `ProxyJump` is such a connection through the previous one.
 */
import * as net from "node:net"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
// @ts-types="@types/ssh2"
import ssh2 from "ssh2"
import type { Credential } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import { fail } from "./errors.ts"
import * as HostKey from "./hostKey.ts"
import { defaultIdentityFiles, localUser, readIfExists, type Settings } from "./settings.ts"

/** @internal One host to log in to, as the ssh config resolved it. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly user: string | undefined
  readonly identityFiles: ReadonlyArray<string>
}

type Duplex = NodeJS.ReadableStream & NodeJS.WritableStream

/** The cipher preference: chacha20-poly1305 first, then AES (GCM, CTR). */
const ciphers = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
] as const

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

/** A channel to `target` forwarded through the jump host `via`. */
const forward = (via: ssh2.Client, target: Target) =>
  Effect.async<Duplex, LrmsError>((resume) => {
    try {
      via.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) => {
        if (err) {
          resume(Effect.fail(fail(
            "ConnectionLost",
            "connect",
            `cannot reach ${target.host}:${target.port} through the jump host: ${err.message}`,
            err,
          )))
        } else {
          resume(Effect.succeed(stream as unknown as Duplex))
        }
      })
    } catch (e) {
      resume(Effect.fail(fail("ConnectionLost", "connect", `jump host: ${String(e)}`, e)))
    }
  })

/** The ssh2 authentication methods a credential offers, in order. */
const authMethods = (settings: Settings, credential: Credential, target: Target) =>
  Effect.gen(function* () {
    const user = credential._tag === "None" ? target.user ?? localUser() : credential.user
    const methods: Array<ssh2.AnyAuthMethod> = []
    const publickey = (key: string, passphrase?: string): ssh2.AnyAuthMethod => ({
      type: "publickey",
      username: user,
      key,
      ...(passphrase !== undefined ? { passphrase } : {}),
    })
    switch (credential._tag) {
      case "SshKey": {
        if (credential.key !== undefined) {
          methods.push(publickey(Redacted.value(credential.key)))
          break
        }
        const file = credential.keyFile
        const key = yield* settings.fs.readFileString(file).pipe(
          Effect.mapError((cause) =>
            fail("AuthenticationFailed", "connect", `cannot read key file ${file}`, cause)
          ),
        )
        const passphrase = credential.passphrase
        methods.push(publickey(key, passphrase && Redacted.value(passphrase)))
        break
      }
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
          : defaultIdentityFiles()
        for (const f of files) {
          const key = yield* readIfExists(settings.fs, f)
          if (key !== undefined) methods.push(publickey(key))
        }
      }
    }
    return { user, methods }
  })

/** The error a failed handshake ends with, from ssh2's error and what the host key said. */
const handshakeError = (
  e: Error & { level?: string },
  hostKeyError: LrmsError | undefined,
  target: Target,
  user: string,
  methods: ReadonlyArray<ssh2.AnyAuthMethod>,
): LrmsError => {
  if (hostKeyError !== undefined) return hostKeyError
  if (e.level === "client-authentication") {
    const offered = methods.map((m) => m.type).join(", ")
    return fail(
      "AuthenticationFailed",
      "connect",
      `${user}@${target.host}:${target.port} refused the credential (${offered})`,
      e,
    )
  }
  if (e.level === "client-timeout") {
    return fail("Timeout", "connect", `${target.host}: ${e.message}`, e)
  }
  return fail("ConnectionLost", "connect", `${target.host}: ${e.message}`, e)
}

/**
 * The SSH connection over `sock`: key exchange (the host key judged by `verify`, which returns
 * why it is refused, if it is) and login with `methods`, in turn.
 */
const login = (
  settings: Settings,
  target: Target,
  sock: Duplex,
  user: string,
  methods: ReadonlyArray<ssh2.AnyAuthMethod>,
  verify: (blob: Uint8Array) => LrmsError | undefined,
) =>
  Effect.async<ssh2.Client, LrmsError>((resume) => {
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
      finish(Effect.fail(handshakeError(e, hostKeyError, target, user, methods)))
    })
    client.once("close", () =>
      finish(
        Effect.fail(fail("ConnectionLost", "connect", `${target.host} closed the connection`)),
      ))
    const remaining = [...methods]
    client.connect({
      sock: sock as unknown as NonNullable<ssh2.ConnectConfig["sock"]>,
      host: target.host,
      port: target.port,
      username: user,
      readyTimeout: settings.connectTimeoutMs,
      keepaliveInterval: settings.keepaliveMs,
      keepaliveCountMax: 3,
      // chacha20-poly1305 first, as OpenSSH does: under Deno it moved 256 MiB over SFTP at
      // 200+ MiB/s, where AES-GCM (node:crypto) ran at about 120 MiB/s. Not through a jump
      // host: ssh2's chacha20 stalled on a forwarded channel here, so those use its default.
      ...(sock instanceof net.Socket ? { algorithms: { cipher: [...ciphers] } } : {}),
      hostVerifier: (key: Buffer) => {
        hostKeyError = verify(new Uint8Array(key))
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

/**
 * The SSH handshake and login over `sock`, with the host key checked against known_hosts; a new
 * key the policy accepts is recorded once the handshake is over (its failure fails the connect).
 */
const handshake = (settings: Settings, target: Target, credential: Credential, sock: Duplex) =>
  Effect.gen(function* () {
    const { user, methods } = yield* authMethods(settings, credential, target)
    if (methods.length === 0) {
      return yield* fail(
        "AuthenticationFailed",
        "connect",
        `no credential to log in to ${target.host} as ${user}: give an Auth layer ` +
          `(Auth.sshKey, Auth.sshAgent, Auth.password) or an IdentityFile in the ssh config`,
      )
    }
    const known = yield* HostKey.load(settings)
    let newKey: Uint8Array | undefined
    const verify = (blob: Uint8Array) => {
      const judgement = HostKey.judge(settings, known, target.host, target.port, blob)
      if (judgement._tag === "New") newKey = blob
      return judgement._tag === "Refused" ? judgement.error : undefined
    }
    const exit = yield* Effect.exit(login(settings, target, sock, user, methods, verify))
    if (newKey !== undefined) {
      const recorded = yield* Effect.either(
        HostKey.record(settings, target.host, target.port, newKey),
      )
      if (recorded._tag === "Left") {
        if (Exit.isSuccess(exit)) exit.value.end()
        return yield* recorded.left
      }
    }
    return yield* exit
  })

/**
 * @internal Logs in to the configured host with a credential, through every jump host of
 * `ProxyJump` (each an SSH connection through the previous one); a failure ends the hops
 * already open.
 */
export const open = (settings: Settings, credential: Credential): Effect.Effect<
  { readonly client: ssh2.Client; readonly hops: ReadonlyArray<ssh2.Client> },
  LrmsError
> =>
  Effect.suspend(() => {
    const { resolved, resolveHost } = settings
    const hops: Array<ssh2.Client> = []
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
        port: settings.port,
        user: resolved.user,
        identityFiles: resolved.identityFiles,
      },
    ]
    return Effect.gen(function* () {
      let previous: ssh2.Client | undefined
      for (const target of chain) {
        const sock = previous === undefined
          ? yield* tcpConnect(target.host, target.port, settings.connectTimeoutMs)
          : yield* forward(previous, target)
        previous = yield* handshake(settings, target, credential, sock)
        hops.push(previous)
      }
      return { client: previous!, hops: hops.slice(0, -1) }
    }).pipe(Effect.onError(() => Effect.sync(() => hops.forEach((h) => h.end()))))
  })
