/**
 * OpenSSH `known_hosts` handling (pure): parsing the file, matching host patterns (plain,
 * wildcard, negated, `[host]:port` and hashed), key fingerprints, and the verdict on a host key.
 * Callers read and append to the file themselves.
 *
 * Certificates are not supported: `@cert-authority` lines are parsed but never consulted.
 *
 * @since 0.1.0
 * @category models
 * @module
 */
import { createHash, createHmac } from "node:crypto"
import { wildcard } from "./internal/wildcard.ts"

/**
 * One usable line of a `known_hosts` file.
 *
 * @since 0.1.0
 * @category models
 */
export interface KnownHostLine {
  /** The marker in front of the line, if any. */
  readonly marker: "@revoked" | "@cert-authority" | undefined
  /** The host patterns: a comma-separated list, or one hashed entry `|1|salt|hash`. */
  readonly patterns: string
  /** The key type as written (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...). */
  readonly keyType: string
  /** The public-key blob, base64 as written. */
  readonly key: string
  /** The line number in the file, from 1. */
  readonly line: number
}

/**
 * What the `known_hosts` lines say about the key a host presented.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict =
  | { readonly _tag: "Known" }
  | { readonly _tag: "Unknown" }
  | {
    readonly _tag: "Changed"
    /** The fingerprints ({@linkcode fingerprint}) of the keys on file for that host. */
    readonly known: ReadonlyArray<string>
  }
  | { readonly _tag: "Revoked" }

// ----------------------------------------------------------------------------------------------
// base64 and SSH wire helpers
// ----------------------------------------------------------------------------------------------

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

const decodeBase64 = (text: string): Uint8Array | undefined => {
  if (!BASE64.test(text)) return undefined
  let binary: string
  try {
    binary = atob(text)
  } catch {
    return undefined
  }
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

const encodeBase64 = (bytes: Uint8Array): string => {
  let binary = ""
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  }
  return btoa(binary)
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Reads the SSH string (a big-endian `uint32` length, then that many bytes) at the start of a
 * public-key blob: the key type, e.g. `"ssh-ed25519"`. Returns `""` when the blob is too short to
 * hold one.
 *
 * @since 0.1.0
 * @category models
 */
export const keyTypeOf = (blob: Uint8Array): string => {
  if (blob.length < 4) return ""
  const length = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0
  if (length > blob.length - 4) return ""
  return new TextDecoder().decode(blob.subarray(4, 4 + length))
}

/**
 * The OpenSSH fingerprint of a public-key blob, as `ssh-keygen -l` prints it: `SHA256:` and the
 * base64 of the blob's SHA-256, without `=` padding.
 *
 * @since 0.1.0
 * @category models
 */
export const fingerprint = (blob: Uint8Array): string =>
  "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")

// ----------------------------------------------------------------------------------------------
// parsing
// ----------------------------------------------------------------------------------------------

/**
 * Parses a `known_hosts` file. Never throws: blank lines, comments and malformed lines (too few
 * fields, an unknown `@` marker, a key that is not base64 or whose embedded type differs from
 * the type written on the line, the old numeric SSH-1 format) are skipped.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): ReadonlyArray<KnownHostLine> => {
  const out: Array<KnownHostLine> = []
  const lines = text.split(/\r?\n|\r/)
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.trim()
    if (trimmed === "" || trimmed.startsWith("#")) continue
    const fields = trimmed.split(/[ \t]+/)
    let marker: KnownHostLine["marker"] = undefined
    if (fields[0]!.startsWith("@")) {
      const m = fields.shift()!
      if (m === "@revoked" || m === "@cert-authority") marker = m
      else continue
    }
    const [patterns, keyType, key] = fields
    if (patterns === undefined || keyType === undefined || key === undefined) continue
    const blob = decodeBase64(key)
    if (blob === undefined || keyTypeOf(blob) !== keyType) continue
    out.push({ marker, patterns, keyType, key, line: i + 1 })
  }
  return out
}

// ----------------------------------------------------------------------------------------------
// host matching
// ----------------------------------------------------------------------------------------------

/**
 * The host string OpenSSH looks up and writes: `host` on port 22, `[host]:port` otherwise.
 *
 * @since 0.1.0
 * @category predicates
 */
export const hostString = (host: string, port: number): string =>
  port === 22 ? host : `[${host}]:${port}`

const hashedMatches = (entry: string, target: string): boolean => {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, host))
  const parts = entry.split("|")
  if (parts.length !== 4 || parts[0] !== "" || parts[1] !== "1") return false
  const salt = decodeBase64(parts[2]!)
  const hash = decodeBase64(parts[3]!)
  if (salt === undefined || hash === undefined) return false
  const mac = new Uint8Array(createHmac("sha1", salt).update(target).digest())
  return sameBytes(mac, hash)
}

/**
 * Tells whether a line's host patterns cover `host` on `port`, as OpenSSH does: the host string
 * is {@linkcode hostString}; a hashed entry `|1|salt|hash` matches when the HMAC-SHA1 of the host
 * string keyed with the salt equals the hash; otherwise the patterns are a comma-separated list
 * where `*` and `?` are wildcards, `[host]:port` patterns name non-default ports, and a matching
 * `!pattern` excludes the host even if another pattern matches. Host names compare
 * case-insensitively (OpenSSH lower-cases host names before looking them up, and hashes the
 * lower-case form).
 *
 * @since 0.1.0
 * @category predicates
 */
export const matches = (patterns: string, host: string, port: number): boolean => {
  const target = hostString(host.toLowerCase(), port)
  if (patterns.startsWith("|")) return hashedMatches(patterns, target)
  let found = false
  for (const raw of patterns.toLowerCase().split(",")) {
    const negated = raw.startsWith("!")
    const pattern = negated ? raw.slice(1) : raw
    if (pattern === "" || !wildcard(target, pattern)) continue
    if (negated) return false
    found = true
  }
  return found
}

// ----------------------------------------------------------------------------------------------
// verdicts
// ----------------------------------------------------------------------------------------------

/**
 * Checks the key blob a host presented against the parsed lines of `known_hosts`:
 *
 * - `Revoked` when a `@revoked` line holds this key. The host patterns of `@revoked` lines are
 *   not consulted: a revoked key is refused for every host (OpenSSH only consults the revoked
 *   lines whose patterns match, so this is stricter).
 * - `Known` when a line without a marker matches the host and holds this key. Keys compare as
 *   decoded bytes, so base64 formatting (padding) cannot matter.
 * - `Changed` when lines without a marker match the host but none holds this key; `known` lists
 *   their fingerprints. This includes the case where the lines on file for the host only hold
 *   keys of *other* types. OpenSSH would call such a key new, because it steers the server to
 *   a key type it already knows (its host key algorithm order). This client's algorithm
 *   choice can differ. If a host already has a key on file, a key of another type is treated
 *   as a change, so `accept-new` cannot be used to slip in a second key: an attacker who
 *   offers only, say, an RSA key for a host known by its Ed25519 key is refused. The fix is to
 *   remove the old line, as for any changed key.
 * - `Unknown` otherwise.
 *
 * `@cert-authority` lines are ignored: host certificates are not supported.
 *
 * @since 0.1.0
 * @category predicates
 */
export const check = (
  lines: ReadonlyArray<KnownHostLine>,
  host: string,
  port: number,
  blob: Uint8Array,
): Verdict => {
  for (const l of lines) {
    if (l.marker !== "@revoked") continue
    const key = decodeBase64(l.key)
    if (key !== undefined && sameBytes(key, blob)) return { _tag: "Revoked" }
  }
  const known: Array<string> = []
  for (const l of lines) {
    if (l.marker !== undefined || !matches(l.patterns, host, port)) continue
    const key = decodeBase64(l.key)
    if (key === undefined) continue
    if (sameBytes(key, blob)) return { _tag: "Known" }
    const print = fingerprint(key)
    if (!known.includes(print)) known.push(print)
  }
  return known.length > 0 ? { _tag: "Changed", known } : { _tag: "Unknown" }
}

/**
 * The line `StrictHostKeyChecking accept-new` appends for a new host key, e.g.
 * `[127.0.0.1]:2222 ssh-ed25519 AAAA...` (no trailing newline). The host name is written in
 * lower case, as OpenSSH writes it.
 *
 * @since 0.1.0
 * @category conversions
 */
export const formatLine = (host: string, port: number, blob: Uint8Array): string =>
  `${hostString(host.toLowerCase(), port)} ${keyTypeOf(blob)} ${encodeBase64(blob)}`
