/**
 * TransferUrl: paths and URLs, and the validation of transfer protocols (spec §7).
 */
import { match, ok, strictEqual } from "node:assert/strict"
import * as Arbitrary from "effect/Arbitrary"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as TransferUrl from "../src/TransferUrl.ts"

const SHELLCMD = ["file", "swift", "swifts", "swt", "swts", "http", "https"]
const Shellcmd = TransferUrl.TransferUrl(SHELLCMD)
const FileOnly = TransferUrl.TransferUrl(["file"])

const decoded = (schema: Schema.Schema<TransferUrl.TransferUrl, string>, input: string): string => {
  const r = Schema.decodeUnknownEither(schema)(input)
  if (Either.isLeft(r)) throw new Error(`expected ${JSON.stringify(input)} to decode: ${r.left}`)
  return r.right
}

const refused = (schema: Schema.Schema<TransferUrl.TransferUrl, string>, input: string): string => {
  const r = Schema.decodeUnknownEither(schema)(input)
  if (Either.isRight(r)) throw new Error(`expected ${JSON.stringify(input)} to be refused`)
  return r.left.message
}

Deno.test("absolute paths become file URLs", () => {
  strictEqual(decoded(FileOnly, "/tmp/in.txt"), "file:///tmp/in.txt")
  strictEqual(decoded(FileOnly, "/"), "file:///")
  strictEqual(decoded(FileOnly, "/tmp//a/./b/../c"), "file:///tmp/a/c")
  strictEqual(decoded(FileOnly, "/tmp/a b.txt"), "file:///tmp/a%20b.txt")
  strictEqual(
    decoded(FileOnly, "/tmp/ünï cødé/日本.txt"),
    "file:///tmp/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9/%E6%97%A5%E6%9C%AC.txt",
  )
  // a percent sign in a path is a character, not an escape
  strictEqual(decoded(FileOnly, "/tmp/100%"), "file:///tmp/100%25")
})

Deno.test("a # or ? in a path stays in the path (GC3Pie splits # off as a fragment)", () => {
  const url = decoded(FileOnly, "/tmp/foo#1")
  strictEqual(url, "file:///tmp/foo%231")
  strictEqual(TransferUrl.toPath(url), "/tmp/foo#1")
  const q = decoded(FileOnly, "/tmp/a?b")
  strictEqual(TransferUrl.toPath(q), "/tmp/a?b")
})

Deno.test("relative paths resolve against the current directory (or a given one)", () => {
  const url = decoded(FileOnly, "rel/a b.txt")
  ok(url.startsWith("file:///"), url)
  strictEqual(TransferUrl.toPath(url), `${Deno.cwd() === "/" ? "" : Deno.cwd()}/rel/a b.txt`)
  const n = TransferUrl.normalize("../x/./y #2", "/home/me/work")
  ok(Either.isRight(n))
  strictEqual(n.right, "file:///home/me/x/y%20%232")
  const up = TransferUrl.normalize("../../../../x", "/a")
  ok(Either.isRight(up))
  strictEqual(up.right, "file:///x")
})

Deno.test("URLs are kept (normalised: lower-case scheme and host)", () => {
  strictEqual(decoded(Shellcmd, "http://example.org/x?q=1#frag"), "http://example.org/x?q=1#frag")
  strictEqual(decoded(Shellcmd, "HTTPS://Example.ORG/a b"), "https://example.org/a%20b")
  strictEqual(decoded(Shellcmd, "swift://user@host:8080/c/o"), "swift://user@host:8080/c/o")
  strictEqual(decoded(FileOnly, "file:///tmp/x"), "file:///tmp/x")
  strictEqual(decoded(FileOnly, "FILE:///tmp/x"), "file:///tmp/x")
  strictEqual(decoded(FileOnly, "file:/tmp/x"), "file:///tmp/x")
  strictEqual(decoded(FileOnly, "file://localhost/tmp/x"), "file:///tmp/x")
  strictEqual(decoded(FileOnly, "file:///tmp/a%20b"), "file:///tmp/a%20b")
})

Deno.test("an unsupported scheme is refused, naming it and the accepted ones", () => {
  const message = refused(FileOnly, "sftp://host/x")
  match(message, /unsupported transfer protocol "sftp"/)
  match(message, /accepts: file\)/)
  match(refused(Shellcmd, "s3://bucket/key"), /"s3".*accepts: file, swift, swifts, swt, swts, http/)
  match(refused(FileOnly, "http://example.org/"), /"http"/)
  match(refused(TransferUrl.TransferUrl([]), "/tmp/x"), /"file" \(this backend accepts: none\)/)
  strictEqual(
    TransferUrl.unsupportedMessage("gsiftp", ["file"]),
    'unsupported transfer protocol "gsiftp" (this backend accepts: file)',
  )
})

Deno.test("other refusals: empty, NUL, unparsable, remote file host, bad escapes", () => {
  match(refused(Shellcmd, ""), /empty URL or path/)
  match(refused(Shellcmd, "/tmp/a\0b"), /NUL/)
  match(refused(Shellcmd, "http://"), /cannot parse "http:\/\/" as a URL/)
  match(refused(Shellcmd, "file://otherhost/x"), /names a remote host/)
  // a malformed percent escape in a file URL is refused, not thrown
  match(refused(Shellcmd, "file:///tmp/100%"), /malformed percent-encoding/)
  match(refused(Shellcmd, "file:///tmp/%ZZ"), /malformed percent-encoding/)
  strictEqual(TransferUrl.toPath("file:///tmp/%ZZ"), "/tmp/%ZZ")
})

Deno.test("scheme, fromPath, toPath", () => {
  strictEqual(TransferUrl.scheme("/tmp/x"), "file")
  strictEqual(TransferUrl.scheme("rel/x"), "file")
  strictEqual(TransferUrl.scheme("HTTP://x/"), "http")
  strictEqual(TransferUrl.scheme("swift+ssl://x/"), "swift+ssl")
  strictEqual(TransferUrl.fromPath("/a b/c#d"), "file:///a%20b/c%23d")
  strictEqual(TransferUrl.toPath("/plain/path"), "/plain/path")
  strictEqual(TransferUrl.toPath("file:///a%20b/c%23d"), "/a b/c#d")
  strictEqual(TransferUrl.toPath("http://h/a%20b"), "/a b")
})

Deno.test("property: toPath(fromPath(p)) === p for absolute paths", () => {
  // `.` and `..` segments are resolved by URL parsing (the same file without symlinks): the
  // round trip holds for normalised paths, which is what the property generates
  strictEqual(TransferUrl.toPath(TransferUrl.fromPath("/a/./b")), "/a/b")
  fc.assert(
    fc.property(
      fc.array(
        fc.fullUnicodeString({ minLength: 1, maxLength: 8 }).filter((s) =>
          !s.includes("/") && s !== "." && s !== ".."
        ),
        {
          maxLength: 5,
        },
      ),
      (segments) => {
        const path = "/" + segments.join("/")
        strictEqual(TransferUrl.toPath(TransferUrl.fromPath(path)), path)
      },
    ),
  )
})

Deno.test("property: a URL decodes iff its scheme is in the allowed set", () => {
  const allowed = ["file", "http", "https", "swift"]
  const S = TransferUrl.TransferUrl(allowed)
  const scheme = fc.oneof(
    fc.constantFrom(...allowed, "HTTP", "File"),
    fc.stringMatching(/^[a-z][a-z0-9+.-]{0,8}$/),
  )
  const segment = fc.stringMatching(/^[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,7}$/)
  fc.assert(
    fc.property(scheme, fc.array(segment, { maxLength: 3 }), (s, segs) => {
      const url = s.toLowerCase() === "file"
        ? `${s}:///${segs.join("/")}`
        : `${s}://example.org/${segs.join("/")}`
      const r = Schema.decodeUnknownEither(S)(url)
      const expected = allowed.includes(s.toLowerCase())
      strictEqual(Either.isRight(r), expected, url)
      strictEqual(Schema.is(S)(url), expected, `Schema.is ${url}`)
      strictEqual(TransferUrl.validate(allowed)([url]), expected, `validate ${url}`)
      if (Either.isLeft(r)) {
        match(r.left.message, new RegExp(`"${s.toLowerCase().replace(/[+.]/g, "\\$&")}"`))
      } else strictEqual(TransferUrl.scheme(r.right), s.toLowerCase())
    }),
    { numRuns: 300 },
  )
})

Deno.test("property: TransferUrl schema round trip (encode, then decode, is the identity)", () => {
  for (const schemes of [["file"], SHELLCMD]) {
    const S = TransferUrl.TransferUrl(schemes)
    fc.assert(
      fc.property(Arbitrary.make(S), (url) => {
        strictEqual(decoded(S, Schema.encodeSync(S)(url)), url)
      }),
    )
  }
})

Deno.test("property: decoding never throws, and a decoded URL is a fixed point", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.fullUnicodeString(),
        fc.tuple(
          fc.constantFrom("file:", "file://", "file:///", "http://", "swift://", "x:", "/", ""),
          fc.stringOf(fc.constantFrom(..."ab%/.:#?@ 0F\\".split(""))),
        ).map(([a, b]) => a + b),
      ),
      (input) => {
        const r = Schema.decodeUnknownEither(Shellcmd)(input)
        if (Either.isRight(r)) strictEqual(decoded(Shellcmd, r.right), r.right, input)
      },
    ),
    { numRuns: 1000 },
  )
})

Deno.test("validate: every URL must have an accepted scheme (GC3Pie's validate_data)", () => {
  const v = TransferUrl.validate(["file"])
  ok(v([]))
  ok(v(["/a", "file:///b", "rel/c"]))
  ok(!v(["/a", "http://example.org/b"]))
  ok(!v(["file:///tmp/%ZZ"]), "an unreadable URL is not valid")
  ok(!v([""]))
  // the NoOp backend: no scheme at all, so only an empty list passes
  ok(TransferUrl.validate([])([]))
  ok(!TransferUrl.validate([])(["/a"]))
  ok(TransferUrl.validate(SHELLCMD)(["swifts://h/c/o", "https://h/x", "/tmp/y"]))
})

Deno.test("AnyUrl: any scheme, normalised", () => {
  const decode = Schema.decodeUnknownEither(TransferUrl.AnyUrl)
  const r = decode("gsiftp://Host/x")
  ok(Either.isRight(r))
  strictEqual(r.right, "gsiftp://Host/x")
  const p = decode("/tmp/a b")
  ok(Either.isRight(p))
  strictEqual(p.right, "file:///tmp/a%20b")
  ok(Either.isLeft(decode("")))
  fc.assert(
    fc.property(Arbitrary.make(TransferUrl.AnyUrl), (url) => {
      const back = decode(url)
      ok(Either.isRight(back))
      strictEqual(back.right, url)
    }),
  )
})
