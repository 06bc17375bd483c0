/**
 * Bulk file copies handed to the system's OpenSSH `scp`, under the same host-key policy.
 *
 * ssh2 encrypts in JavaScript on one thread, which caps SFTP at about 200 MiB/s here; OpenSSH's
 * `scp` (SFTP protocol since OpenSSH 9) runs its crypto natively in another process. The SSH
 * transport hands it files above a threshold when it can do so with the same trust and the same
 * credential: a key file without passphrase, an agent, or the ssh config's identities (never a
 * password: OpenSSH would prompt), no jump host, and paths made of plain characters (so no
 * shell or glob can ever read them differently). Otherwise ssh2 copies the file.
 *
 * @since 0.1.0
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { LrmsError, type Reason } from "../../src/LrmsError.ts"

/**
 * What `scp` needs to know.
 *
 * @since 0.1.0
 * @category models
 */
export interface CopySpec {
  /** `get` copies from the host, `put` to it. */
  readonly direction: "get" | "put"
  /** The host name to connect to (already resolved through the ssh config). */
  readonly host: string
  /** The port. */
  readonly port: number
  /** The remote user. */
  readonly user: string
  /** Private key files to offer (in order). */
  readonly identityFiles: ReadonlyArray<string>
  /** An ssh-agent socket to use, if any. */
  readonly agent: string | undefined
  /** The known_hosts files the transport trusts. */
  readonly knownHostsFiles: ReadonlyArray<string>
  /** The transport's host-key policy. */
  readonly hostKeyPolicy: "strict" | "accept-new" | "ignore"
  /** Seconds to wait for the connection. */
  readonly connectTimeout: number
  /** The local path. */
  readonly local: string
  /** The remote path. */
  readonly remote: string
}

const plain = /^[A-Za-z0-9._/+@%=,:~-]+$/

/**
 * Tells whether a path can be given to `scp` as it is: plain characters only, no leading `-`.
 *
 * @since 0.1.0
 * @category transfer
 */
export const isPlainPath = (path: string): boolean => plain.test(path) && !path.startsWith("-")

/**
 * The `scp` argv for a copy, or `undefined` when `scp` cannot make it with the same trust and
 * credential (pure). `-F /dev/null` keeps the user's ssh config out: the transport already
 * resolved host, port, user and keys from it.
 *
 * @since 0.1.0
 * @category transfer
 */
export const scpArgv = (spec: CopySpec): ReadonlyArray<string> | undefined => {
  // scp reads "x:y" as host:path unless a "/" comes first: local paths must be absolute
  if (!isPlainPath(spec.local) || !spec.local.startsWith("/") || !isPlainPath(spec.remote)) {
    return undefined
  }
  if (!/^[A-Za-z0-9._-]+$/.test(spec.user)) return undefined
  if (spec.identityFiles.length === 0 && spec.agent === undefined) return undefined
  if ([...spec.identityFiles, ...spec.knownHostsFiles].some((f) => !isPlainPath(f))) {
    return undefined
  }
  const host = spec.host.includes(":") ? `[${spec.host}]` : spec.host
  const remote = `${spec.user}@${host}:${spec.remote}`
  const trust = spec.hostKeyPolicy === "ignore"
    ? ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    : [
      "-o",
      `StrictHostKeyChecking=${spec.hostKeyPolicy === "strict" ? "yes" : "accept-new"}`,
      "-o",
      `UserKnownHostsFile=${spec.knownHostsFiles.join(" ")}`,
    ]
  // no -q: it would also silence ssh's diagnostics, which say why a copy failed
  return [
    "scp",
    "-p",
    "-P",
    String(spec.port),
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    ...trust,
    "-o",
    `ConnectTimeout=${Math.max(1, Math.ceil(spec.connectTimeout))}`,
    "-o",
    "IdentitiesOnly=yes",
    ...(spec.agent !== undefined
      ? ["-o", `IdentityAgent=${spec.agent}`]
      : ["-o", "IdentityAgent=none"]),
    ...spec.identityFiles.flatMap((f) => ["-i", f]),
    "--",
    ...(spec.direction === "get" ? [remote, spec.local] : [spec.local, remote]),
  ]
}

/**
 * Reads what went wrong from `scp`'s exit code and standard error (pure).
 *
 * @since 0.1.0
 * @category parsing
 */
export const failureReason = (exitCode: number, stderr: string): Reason =>
  /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)
    ? "HostKeyMismatch"
    : /Permission denied \((publickey|password|keyboard)/i.test(stderr)
    ? "AuthenticationFailed"
    : /No such file or directory/i.test(stderr)
    ? "NotFound"
    : /Connection (closed|reset|refused|timed out)|lost connection|Broken pipe|Connection to .* closed/i
        .test(stderr) || exitCode === 255
    ? "ConnectionLost"
    : "CommandFailed"

/**
 * The first executable `scp` on the `PATH`, if there is one (looked up with the platform's
 * `FileSystem`).
 *
 * @since 0.1.0
 * @category transfer
 */
export const findScp: Effect.Effect<string | undefined, never, FileSystem.FileSystem> = Effect
  .gen(function* () {
    const fs = yield* FileSystem.FileSystem
    for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
      const info = yield* Effect.option(fs.stat(`${dir}/scp`))
      if (info._tag === "Some" && info.value.type === "File" && (info.value.mode & 0o111) !== 0) {
        return `${dir}/scp`
      }
    }
    return undefined
  })

/**
 * Runs `scp`; interrupting the effect kills it.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (argv: ReadonlyArray<string>, what: string): Effect.Effect<void, LrmsError> =>
  Effect.async<void, LrmsError>((resume) => {
    const child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn()
    let done = false
    child.output().then(
      ({ code, stderr }) => {
        done = true
        if (code === 0) return resume(Effect.void)
        const text = new TextDecoder().decode(stderr).trim()
        resume(Effect.fail(
          new LrmsError({
            reason: failureReason(code, text),
            backend: "ssh",
            operation: "scp",
            description: `${what}: scp exited with ${code}: ${text.slice(0, 500)}`,
          }),
        ))
      },
      (cause) => {
        done = true
        resume(Effect.fail(
          new LrmsError({
            reason: "CommandFailed",
            backend: "ssh",
            operation: "scp",
            description: `${what}: cannot run scp`,
            cause,
          }),
        ))
      },
    )
    return Effect.sync(() => {
      if (!done) {
        try {
          child.kill("SIGTERM")
        } catch { /* already gone */ }
      }
    })
  })
