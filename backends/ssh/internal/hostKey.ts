/**
 * @internal Host-key verification against `known_hosts`, under the transport's policy. The files
 * are read before the handshake and the key judged synchronously in ssh2's host verifier (its
 * asynchronous verifier stalled some handshakes); a new key `accept-new` takes is recorded once
 * the handshake is over.
 */
import * as Effect from "effect/Effect"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as KnownHosts from "../KnownHosts.ts"
import { fail } from "./errors.ts"
import { readIfExists, type Settings } from "./settings.ts"

/** @internal The lines of every trusted known_hosts file (none under the `ignore` policy). */
export const load = (settings: Settings): Effect.Effect<ReadonlyArray<KnownHosts.KnownHostLine>> =>
  settings.config.hostKeyPolicy === "ignore" ? Effect.succeed([]) : Effect.map(
    Effect.forEach(settings.knownHostsFiles, (f) => readIfExists(settings.fs, f)),
    (texts) => texts.flatMap((text) => KnownHosts.parse(text ?? "")),
  )

/** @internal What the policy says about a key: refused (why), accepted, or accepted as new. */
export type Judgement =
  | { readonly _tag: "Refused"; readonly error: LrmsError }
  | { readonly _tag: "Accepted" }
  | { readonly _tag: "New" }

/** @internal Judges the key `host:port` presented against the loaded known_hosts lines (pure). */
export const judge = (
  settings: Settings,
  lines: ReadonlyArray<KnownHosts.KnownHostLine>,
  host: string,
  port: number,
  blob: Uint8Array,
): Judgement => {
  const { config, knownHostsFiles } = settings
  if (config.hostKeyPolicy === "ignore") return { _tag: "Accepted" }
  const verdict = KnownHosts.check(lines, host, port, blob)
  const where = KnownHosts.hostString(host, port)
  const fp = KnownHosts.fingerprint(blob)
  const refuse = (description: string): Judgement => ({
    _tag: "Refused",
    error: fail("HostKeyMismatch", "connect", description),
  })
  switch (verdict._tag) {
    case "Known":
      return { _tag: "Accepted" }
    case "Revoked":
      return refuse(`the host key of ${where} (${fp}) is revoked`)
    case "Changed":
      return refuse(
        `the host key of ${where} changed: it presented ${fp}, known_hosts has ` +
          `${verdict.known.join(", ")} (${knownHostsFiles.join(", ")})`,
      )
    case "Unknown":
      return config.hostKeyPolicy === "accept-new" ? { _tag: "New" } : refuse(
        `the host key of ${where} (${fp}) is not in ${knownHostsFiles.join(", ")}; ` +
          `add it (ssh-keyscan) or choose hostKeyPolicy "accept-new"`,
      )
  }
}

/** @internal Appends a new host key to the first known_hosts file. */
export const record = (
  settings: Settings,
  host: string,
  port: number,
  blob: Uint8Array,
): Effect.Effect<void, LrmsError> => {
  const file = settings.knownHostsFiles[0]!
  return settings.fs.writeFileString(file, KnownHosts.formatLine(host, port, blob) + "\n", {
    flag: "a",
    mode: 0o600,
  }).pipe(Effect.mapError((cause) =>
    fail(
      "HostKeyMismatch",
      "connect",
      `cannot record the new host key of ${KnownHosts.hostString(host, port)} ` +
        `(${KnownHosts.fingerprint(blob)}) in ${file}`,
      cause,
    )
  ))
}
