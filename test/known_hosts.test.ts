/**
 * KnownHosts: parsing OpenSSH known_hosts, host patterns, fingerprints and verdicts. The hashed
 * entries and the fingerprints are checked against `ssh-keygen` itself, which must be installed
 * (the tests fail, not skip, without it).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import { createHmac } from "node:crypto"
import fc from "fast-check"
import * as KnownHosts from "../backends/ssh/KnownHosts.ts"

// ----------------------------------------------------------------------------------------------
// helpers
// ----------------------------------------------------------------------------------------------

const decode = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))

const sshString = (s: string): Uint8Array => {
  const bytes = new TextEncoder().encode(s)
  const out = new Uint8Array(4 + bytes.length)
  new DataView(out.buffer).setUint32(0, bytes.length)
  out.set(bytes, 4)
  return out
}

/** A syntactically valid public-key blob of `type`, whose payload is `seed` repeated. */
const fakeBlob = (type: string, seed: number, size = 32): Uint8Array => {
  const head = sshString(type)
  const out = new Uint8Array(head.length + 4 + size)
  out.set(head)
  out.set(sshString("x".repeat(size)), head.length)
  out.fill(seed, head.length + 4)
  return out
}

const b64 = (blob: Uint8Array): string => btoa(String.fromCharCode(...blob))

/** Runs ssh-keygen (throws, failing the test, when it is missing or fails). */
const sshKeygen = (...args: Array<string>): string => {
  const out = new Deno.Command("ssh-keygen", { args, stdout: "piped", stderr: "piped" })
    .outputSync()
  if (!out.success) {
    throw new Error(`ssh-keygen ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`)
  }
  return new TextDecoder().decode(out.stdout)
}

/** Generates a key pair with ssh-keygen in `dir` and returns its public-key blob. */
const generate = (dir: string, type: string, name: string): Uint8Array => {
  const path = `${dir}/${name}`
  sshKeygen("-q", "-t", type, "-N", "", "-C", "test", "-f", path)
  const [keyType, key] = Deno.readTextFileSync(`${path}.pub`).trim().split(" ")
  const blob = decode(key!)
  strictEqual(KnownHosts.keyTypeOf(blob), keyType)
  return blob
}

const ED = fakeBlob("ssh-ed25519", 1)
const ED2 = fakeBlob("ssh-ed25519", 2)
const RSA = fakeBlob("ssh-rsa", 3)

// ----------------------------------------------------------------------------------------------
// parse
// ----------------------------------------------------------------------------------------------

Deno.test("parse: lines, markers, line numbers; blanks, comments and garbage skipped", () => {
  const text = [
    "# a comment",
    "",
    `example.org,192.0.2.1 ssh-ed25519 ${b64(ED)} a comment with spaces`,
    `   [127.0.0.1]:2222\tssh-rsa\t${b64(RSA)}`,
    `@revoked * ssh-ed25519 ${b64(ED2)}`,
    `@cert-authority *.example.org ssh-ed25519 ${b64(ED)}`,
    `@unknown host ssh-ed25519 ${b64(ED)}`, // unknown marker
    "host-only", // too few fields
    "host ssh-ed25519", // no key
    "host ssh-ed25519 not*base64", // bad base64
    `host ssh-rsa ${b64(ED)}`, // the blob says ssh-ed25519
    "host 2048 65537 1234567", // SSH-1 format
    "   # indented comment\r",
  ].join("\n")
  deepStrictEqual(KnownHosts.parse(text), [
    {
      marker: undefined,
      patterns: "example.org,192.0.2.1",
      keyType: "ssh-ed25519",
      key: b64(ED),
      line: 3,
    },
    { marker: undefined, patterns: "[127.0.0.1]:2222", keyType: "ssh-rsa", key: b64(RSA), line: 4 },
    { marker: "@revoked", patterns: "*", keyType: "ssh-ed25519", key: b64(ED2), line: 5 },
    {
      marker: "@cert-authority",
      patterns: "*.example.org",
      keyType: "ssh-ed25519",
      key: b64(ED),
      line: 6,
    },
  ])
})

Deno.test("parse: CRLF line endings count lines like LF", () => {
  const lines = KnownHosts.parse(
    `# c\r\nh ssh-ed25519 ${b64(ED)}\r\n\r\nh2 ssh-rsa ${b64(RSA)}\r\n`,
  )
  deepStrictEqual(lines.map((l) => [l.patterns, l.line]), [["h", 2], ["h2", 4]])
})

Deno.test("parse: never throws on arbitrary text", () => {
  const piece = fc.oneof(
    fc.string(),
    fc.constantFrom(
      "\n",
      "\r\n",
      " ",
      "\t",
      "#",
      "@revoked",
      "@cert-authority",
      "|1|",
      "ssh-ed25519",
      b64(ED),
      "AAAA",
      "[",
      "]:",
      "=",
    ),
  )
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join("")), (text) => {
      const lines = KnownHosts.parse(text)
      for (const l of lines) ok(l.line >= 1 && l.patterns !== "" && l.key !== "")
    }),
    { numRuns: 500 },
  )
  fc.assert(fc.property(fc.fullUnicodeString(), (text) => Array.isArray(KnownHosts.parse(text))))
})

// ----------------------------------------------------------------------------------------------
// hostString and matches
// ----------------------------------------------------------------------------------------------

Deno.test("hostString: bare on port 22, [host]:port otherwise", () => {
  strictEqual(KnownHosts.hostString("example.org", 22), "example.org")
  strictEqual(KnownHosts.hostString("127.0.0.1", 2222), "[127.0.0.1]:2222")
  strictEqual(KnownHosts.hostString("::1", 2200), "[::1]:2200")
})

Deno.test("matches: plain names and lists, case-insensitively", () => {
  ok(KnownHosts.matches("example.org", "example.org", 22))
  ok(KnownHosts.matches("other.org,example.org,192.0.2.1", "example.org", 22))
  ok(KnownHosts.matches("192.0.2.1,example.org", "192.0.2.1", 22))
  ok(KnownHosts.matches("Example.ORG", "example.org", 22))
  ok(KnownHosts.matches("example.org", "EXAMPLE.org", 22))
  ok(!KnownHosts.matches("example.org", "example.com", 22))
  ok(!KnownHosts.matches("example.org", "sub.example.org", 22))
  // a bare pattern is port 22 only
  ok(!KnownHosts.matches("example.org", "example.org", 2222))
  ok(!KnownHosts.matches("", "example.org", 22))
})

Deno.test("matches: [host]:port patterns", () => {
  ok(KnownHosts.matches("[127.0.0.1]:2222", "127.0.0.1", 2222))
  ok(KnownHosts.matches("example.org,[127.0.0.1]:2222", "127.0.0.1", 2222))
  ok(!KnownHosts.matches("[127.0.0.1]:2222", "127.0.0.1", 22))
  ok(!KnownHosts.matches("[127.0.0.1]:2222", "127.0.0.1", 2223))
  ok(KnownHosts.matches("[::1]:2200", "::1", 2200))
  ok(KnownHosts.matches("[*.example.org]:2222", "node1.example.org", 2222))
})

Deno.test("matches: wildcards * and ?", () => {
  ok(KnownHosts.matches("*.example.org", "node1.example.org", 22))
  ok(KnownHosts.matches("*.example.org", "a.b.example.org", 22))
  ok(!KnownHosts.matches("*.example.org", "example.org", 22))
  ok(KnownHosts.matches("node?.example.org", "node7.example.org", 22))
  ok(!KnownHosts.matches("node?.example.org", "node.example.org", 22))
  ok(!KnownHosts.matches("node?.example.org", "node17.example.org", 22))
  ok(KnownHosts.matches("192.0.2.*", "192.0.2.55", 22))
  ok(KnownHosts.matches("*", "anything", 22))
  ok(KnownHosts.matches("*", "anything", 2222)) // `*` also covers "[anything]:2222"
  // regex metacharacters are literal
  ok(!KnownHosts.matches("a.c", "abc", 22))
  ok(KnownHosts.matches("a+c(1)", "a+c(1)", 22))
})

Deno.test("matches: a matching negation excludes the host whatever else matches", () => {
  ok(!KnownHosts.matches("*.example.org,!bad.example.org", "bad.example.org", 22))
  ok(!KnownHosts.matches("!bad.example.org,*.example.org", "bad.example.org", 22))
  ok(KnownHosts.matches("*.example.org,!bad.example.org", "good.example.org", 22))
  // a negation alone matches nothing
  ok(!KnownHosts.matches("!bad.example.org", "good.example.org", 22))
  ok(!KnownHosts.matches("*,!192.0.2.*", "192.0.2.9", 22))
  ok(!KnownHosts.matches("*.Example.org,!BAD.example.org", "bad.example.ORG", 22))
})

Deno.test("matches: hashed entries made by ssh-keygen -H", () => {
  const dir = Deno.makeTempDirSync({ prefix: "known_hosts_test_" })
  try {
    const file = `${dir}/known_hosts`
    Deno.writeTextFileSync(
      file,
      [
        `example.org ssh-ed25519 ${b64(ED)}`,
        `[127.0.0.1]:2222 ssh-ed25519 ${b64(ED2)}`,
        `node1.example.org,192.0.2.7 ssh-rsa ${b64(RSA)}`,
        "",
      ].join("\n"),
    )
    sshKeygen("-H", "-f", file)
    const lines = KnownHosts.parse(Deno.readTextFileSync(file))
    // ssh-keygen writes one hashed line per name
    strictEqual(lines.length, 4)
    for (const l of lines) ok(/^\|1\|[^|]+\|[^|]+$/.test(l.patterns), l.patterns)
    const find = (host: string, port: number) =>
      lines.filter((l) => KnownHosts.matches(l.patterns, host, port)).map((l) => l.key)
    deepStrictEqual(find("example.org", 22), [b64(ED)])
    deepStrictEqual(find("EXAMPLE.org", 22), [b64(ED)])
    deepStrictEqual(find("127.0.0.1", 2222), [b64(ED2)])
    deepStrictEqual(find("node1.example.org", 22), [b64(RSA)])
    deepStrictEqual(find("192.0.2.7", 22), [b64(RSA)])
    deepStrictEqual(find("127.0.0.1", 22), [])
    deepStrictEqual(find("example.org", 2222), [])
    deepStrictEqual(find("other.org", 22), [])
    deepStrictEqual(KnownHosts.check(lines, "127.0.0.1", 2222, ED2), { _tag: "Known" })
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("matches: hashed entries computed here (HMAC-SHA1 keyed with the salt)", () => {
  const salt = new Uint8Array(20).map((_, i) => i * 7)
  const hash = new Uint8Array(createHmac("sha1", salt).update("[10.0.0.1]:2200").digest())
  const entry = `|1|${b64(salt)}|${b64(hash)}`
  ok(KnownHosts.matches(entry, "10.0.0.1", 2200))
  ok(!KnownHosts.matches(entry, "10.0.0.1", 22))
  ok(!KnownHosts.matches(entry, "10.0.0.2", 2200))
  // malformed hashed entries match nothing
  ok(!KnownHosts.matches(`|1|${b64(salt)}`, "10.0.0.1", 2200))
  ok(!KnownHosts.matches(`|2|${b64(salt)}|${b64(hash)}`, "10.0.0.1", 2200))
  ok(!KnownHosts.matches(`|1|!!|${b64(hash)}`, "10.0.0.1", 2200))
})

// ----------------------------------------------------------------------------------------------
// keys and fingerprints
// ----------------------------------------------------------------------------------------------

Deno.test("keyTypeOf and fingerprint agree with ssh-keygen for generated keys", () => {
  const dir = Deno.makeTempDirSync({ prefix: "known_hosts_test_" })
  try {
    for (const type of ["ed25519", "ecdsa", "rsa"]) {
      const blob = generate(dir, type, `id_${type}`)
      // "256 SHA256:... test (ED25519)"
      const printed = sshKeygen("-l", "-E", "sha256", "-f", `${dir}/id_${type}.pub`).split(" ")[1]
      strictEqual(KnownHosts.fingerprint(blob), printed)
      ok(!KnownHosts.fingerprint(blob).endsWith("="))
    }
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("keyTypeOf: short or truncated blobs give the empty string", () => {
  strictEqual(KnownHosts.keyTypeOf(new Uint8Array()), "")
  strictEqual(KnownHosts.keyTypeOf(new Uint8Array([0, 0, 0])), "")
  strictEqual(KnownHosts.keyTypeOf(new Uint8Array([0, 0, 0, 9, 97])), "")
  strictEqual(KnownHosts.keyTypeOf(new Uint8Array([255, 255, 255, 255, 97])), "")
  strictEqual(KnownHosts.keyTypeOf(sshString("ssh-ed25519")), "ssh-ed25519")
})

// ----------------------------------------------------------------------------------------------
// check
// ----------------------------------------------------------------------------------------------

const FILE = KnownHosts.parse(
  [
    `example.org,192.0.2.1 ssh-ed25519 ${b64(ED)}`,
    `[127.0.0.1]:2222 ssh-ed25519 ${b64(ED)}`,
    `rsa-only.example.org ssh-rsa ${b64(RSA)}`,
    `*.cluster.example.org,!login.cluster.example.org ssh-ed25519 ${b64(ED)}`,
    `@revoked * ssh-ed25519 ${b64(ED2.map((b, i) => i > 20 ? 99 : b))}`,
    `@cert-authority * ssh-ed25519 ${b64(ED2)}`,
  ].join("\n"),
)

Deno.test("check: Known for a matching line with the same key, whatever the base64 padding", () => {
  deepStrictEqual(KnownHosts.check(FILE, "example.org", 22, ED), { _tag: "Known" })
  deepStrictEqual(KnownHosts.check(FILE, "192.0.2.1", 22, ED), { _tag: "Known" })
  deepStrictEqual(KnownHosts.check(FILE, "127.0.0.1", 2222, ED), { _tag: "Known" })
  deepStrictEqual(KnownHosts.check(FILE, "n1.cluster.example.org", 22, ED), { _tag: "Known" })
  const padded = fakeBlob("ssh-ed25519", 5, 33)
  ok(b64(padded).endsWith("=="))
  const unpadded = KnownHosts.parse(`h ssh-ed25519 ${b64(padded).replace(/=+$/, "")}`)
  strictEqual(unpadded.length, 1)
  deepStrictEqual(KnownHosts.check(unpadded, "h", 22, padded), { _tag: "Known" })
})

Deno.test("check: Changed when the host has other keys on file, of the same or another type", () => {
  deepStrictEqual(KnownHosts.check(FILE, "example.org", 22, ED2), {
    _tag: "Changed",
    known: [KnownHosts.fingerprint(ED)],
  })
  // only an RSA key on file: another key type is also a change
  deepStrictEqual(KnownHosts.check(FILE, "rsa-only.example.org", 22, ED), {
    _tag: "Changed",
    known: [KnownHosts.fingerprint(RSA)],
  })
  // several lines: every fingerprint, once
  const many = KnownHosts.parse(
    [`h ssh-ed25519 ${b64(ED)}`, `h,x ssh-rsa ${b64(RSA)}`, `*,!x ssh-ed25519 ${b64(ED)}`].join(
      "\n",
    ),
  )
  deepStrictEqual(KnownHosts.check(many, "h", 22, ED2), {
    _tag: "Changed",
    known: [KnownHosts.fingerprint(ED), KnownHosts.fingerprint(RSA)],
  })
})

Deno.test("check: Unknown when no line matches the host (port, negation, cert-authority)", () => {
  deepStrictEqual(KnownHosts.check(FILE, "example.com", 22, ED), { _tag: "Unknown" })
  deepStrictEqual(KnownHosts.check(FILE, "example.org", 2222, ED), { _tag: "Unknown" })
  deepStrictEqual(KnownHosts.check(FILE, "127.0.0.1", 22, ED), { _tag: "Unknown" })
  deepStrictEqual(KnownHosts.check(FILE, "login.cluster.example.org", 22, ED), {
    _tag: "Unknown",
  })
  // the @cert-authority line's pattern is `*` but it is ignored
  deepStrictEqual(KnownHosts.check(FILE, "elsewhere.org", 22, ED2), { _tag: "Unknown" })
  deepStrictEqual(KnownHosts.check([], "example.org", 22, ED), { _tag: "Unknown" })
})

Deno.test("check: Revoked wins over everything, whatever the host", () => {
  const revoked = ED2.map((b, i) => i > 20 ? 99 : b)
  deepStrictEqual(KnownHosts.check(FILE, "elsewhere.org", 22, revoked), { _tag: "Revoked" })
  const both = KnownHosts.parse(
    [`h ssh-ed25519 ${b64(ED)}`, `@revoked other.host ssh-ed25519 ${b64(ED)}`].join("\n"),
  )
  deepStrictEqual(KnownHosts.check(both, "h", 22, ED), { _tag: "Revoked" })
})

// ----------------------------------------------------------------------------------------------
// formatLine
// ----------------------------------------------------------------------------------------------

Deno.test("formatLine: the line accept-new appends, which parses and checks as Known", () => {
  const line = KnownHosts.formatLine("127.0.0.1", 2222, ED)
  strictEqual(line, `[127.0.0.1]:2222 ssh-ed25519 ${b64(ED)}`)
  strictEqual(KnownHosts.formatLine("Example.ORG", 22, RSA), `example.org ssh-rsa ${b64(RSA)}`)
  const parsed = KnownHosts.parse(line + "\n")
  deepStrictEqual(KnownHosts.check(parsed, "127.0.0.1", 2222, ED), { _tag: "Known" })
})

Deno.test("formatLine: round trip for generated keys, arbitrary hosts and ports", () => {
  const dir = Deno.makeTempDirSync({ prefix: "known_hosts_test_" })
  try {
    const blob = generate(dir, "ed25519", "id")
    const line = KnownHosts.formatLine("node1.example.org", 22, blob)
    // the same text as the .pub file (less the comment)
    strictEqual(
      line,
      `node1.example.org ${Deno.readTextFileSync(`${dir}/id.pub`).trim().slice(0, -5)}`,
    )
    const host = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,30}$/)
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
        const lines = KnownHosts.parse(KnownHosts.formatLine(h, port, blob))
        deepStrictEqual(KnownHosts.check(lines, h, port, blob), { _tag: "Known" })
        deepStrictEqual(KnownHosts.check(lines, h, port, ED)._tag, "Changed")
      }),
      { numRuns: 200 },
    )
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
