/**
 * The test sshd started by `test/services/sshd-up.sh`: its facts, read from its env file, and the
 * layers the SSH tests use. When the server is down, `sshd` is `undefined` and the SSH tests are
 * registered as ignored with the reason printed once.
 */
import * as Layer from "effect/Layer"
import * as SshTransport from "../backends/ssh/SshTransport.ts"
import * as Auth from "../src/Auth.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import type { Transport } from "../src/Transport.ts"
import type { Platform } from "./_effect.ts"
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What sshd-up.sh writes to its env file. */
export interface Sshd {
  readonly host: string
  readonly port: number
  readonly keyUser: string
  readonly key: string
  readonly rsaKey: string
  readonly ecdsaKey: string
  readonly pwUser: string
  readonly password: string
  readonly knownHosts: string
  readonly sshConfig: string
  readonly dir: string
}

const dir = Deno.env.get("LRMS_SSHD_DIR") ?? "/tmp/effect-lrms-sshd"

const load = (): Sshd | string => {
  const env = readEnvFile(`${dir}/env`, "sshd-up.sh")
  if (typeof env === "string") return `no test sshd: ${env}`
  const get = (k: string) => env.get(k) ?? ""
  const facts: Sshd = {
    host: get("LRMS_SSH_HOST"),
    port: Number(get("LRMS_SSH_PORT")),
    keyUser: get("LRMS_SSH_KEY_USER"),
    key: get("LRMS_SSH_KEY"),
    rsaKey: get("LRMS_SSH_RSA_KEY"),
    ecdsaKey: get("LRMS_SSH_ECDSA_KEY"),
    pwUser: get("LRMS_SSH_PW_USER"),
    password: get("LRMS_SSH_PASSWORD"),
    knownHosts: get("LRMS_SSH_KNOWN_HOSTS"),
    sshConfig: get("LRMS_SSH_CONFIG"),
    dir,
  }
  // the server must also answer: a stale env file from a stopped server does not count
  const conn = probe("bash", ["-c", `exec 3<>/dev/tcp/${facts.host}/${facts.port}`])
  if (!conn.ok) return `the test sshd of ${dir}/env does not answer on port ${facts.port}`
  return facts
}

const loaded = load()

/** The running test sshd, or `undefined`. */
export const sshd: Sshd | undefined = typeof loaded === "string" ? undefined : loaded

/** Why the SSH tests are skipped, or `undefined` when the server is up. */
export const skipReason: string | undefined = typeof loaded === "string" ? loaded : undefined

/** Deno test options shared by the SSH tests. */
export const sshTest = serverTest("SSH", skipReason)

/** The transport to the test sshd, strict about host keys. */
export const transport = (
  extra: Partial<SshTransport.SshTransportConfigInput> = {},
): Layer.Layer<Transport, LrmsError, Platform> =>
  SshTransport.layer({
    host: sshd?.host ?? "127.0.0.1",
    port: sshd?.port ?? 22,
    knownHosts: sshd?.knownHosts ?? "/nonexistent",
    sshConfig: "/dev/null",
    ...extra,
  })

/** Key login as the test key user. */
export const keyAuth: Layer.Layer<Auth.Auth, LrmsError, Platform> = Auth.sshKey({
  user: sshd?.keyUser ?? "nobody",
  keyFile: sshd?.key ?? "/nonexistent",
})

/** Password login as the test password user (another user than {@linkcode keyAuth}'s). */
export const pwAuth: Layer.Layer<Auth.Auth, LrmsError> = Auth.password({
  user: sshd?.pwUser ?? "nobody",
  password: sshd?.password ?? "",
})

/** Runs a command of test/services/sshd-ctl.sh (drop, stop, start). */
export const sshdCtl = (what: "drop" | "stop" | "start"): void => {
  const out = new Deno.Command("bash", {
    args: [new URL("./services/sshd-ctl.sh", import.meta.url).pathname, what],
    env: { LRMS_SSHD_DIR: dir },
  }).outputSync()
  if (!out.success) {
    throw new Error(`sshd-ctl.sh ${what} failed: ${new TextDecoder().decode(out.stderr)}`)
  }
}

/** Shorthand to merge a transport and an auth layer. */
export const withAuth = <A, E, R = never>(
  t: Layer.Layer<A, E, R>,
  auth: Layer.Layer<Auth.Auth, LrmsError, Platform> = keyAuth,
): Layer.Layer<A | Auth.Auth, E | LrmsError, R | Platform> => Layer.merge(t, auth)
