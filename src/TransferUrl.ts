/**
 * Data URLs and the validation of transfer protocols, in the schema.
 *
 * `TransferUrl(["file"])` is a schema that decodes a string to a normalised URL and fails, with a
 * readable message, when the URL's scheme is not one the backend supports. Local paths, absolute
 * or relative, decode as `file:` URLs (a relative path is resolved against the current
 * directory). A backend's `validateData` is `Schema.is` over its `TransferUrl`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Schema } from "effect"
 * import { TransferUrl } from "effect-lrms"
 *
 * const FileOnly = TransferUrl.TransferUrl(["file"])
 * deepStrictEqual(Schema.decodeUnknownSync(FileOnly)("/tmp/in.txt"), "file:///tmp/in.txt")
 * deepStrictEqual(Schema.is(FileOnly)("sftp://host/x"), false)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Brand from "effect/Brand"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * A normalised data URL whose scheme a backend supports.
 *
 * @since 0.1.0
 * @category models
 */
export type TransferUrl = string & Brand.Brand<"TransferUrl">

const schemeRe = /^([a-zA-Z][a-zA-Z0-9+.-]*):/

/**
 * Encodes a local absolute path as a `file:` URL (each segment percent-encoded).
 *
 * @since 0.1.0
 * @category conversions
 */
export const fromPath = (absolutePath: string): string =>
  "file://" + absolutePath.split("/").map((s) => encodeURIComponent(s)).join("/")

const resolvePath = (path: string, cwd: string): string => {
  const segments: Array<string> = []
  for (const s of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
    if (s === "" || s === ".") continue
    if (s === "..") segments.pop()
    else segments.push(s)
  }
  return "/" + segments.join("/")
}

/** `decodeURIComponent`, or `undefined` for a malformed escape (`%ZZ`, a lone `%`). */
const decodePercent = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

const currentDirectory = (): string => {
  try {
    return Deno.cwd()
  } catch {
    return "/"
  }
}

/**
 * Normalises a URL or a local path: a path becomes an absolute `file:` URL, a URL is parsed and
 * re-serialised. Fails with a message when the text is not a URL.
 *
 * @since 0.1.0
 * @category parsing
 */
export const normalize = (input: string, cwd?: string): Either.Either<string, string> => {
  if (input.length === 0) return Either.left("empty URL or path")
  if (input.includes("\0")) return Either.left("URL or path contains a NUL byte")
  const m = schemeRe.exec(input)
  if (m === null) return Either.right(fromPath(resolvePath(input, cwd ?? currentDirectory())))
  const url = URL.parse(input)
  if (url === null) return Either.left(`cannot parse ${JSON.stringify(input)} as a URL`)
  if (url.protocol === "file:") {
    if (url.hostname !== "" && url.hostname !== "localhost") {
      return Either.left(`file URL ${JSON.stringify(input)} names a remote host`)
    }
    const path = decodePercent(url.pathname)
    if (path === undefined) {
      return Either.left(`file URL ${JSON.stringify(input)} has a malformed percent-encoding`)
    }
    return Either.right(fromPath(resolvePath(path, "/")))
  }
  return Either.right(url.href)
}

/**
 * The scheme of a URL or path, without the colon (`file` for a local path).
 *
 * @since 0.1.0
 * @category accessors
 */
export const scheme = (urlOrPath: string): string =>
  schemeRe.exec(urlOrPath)?.[1]?.toLowerCase() ?? "file"

/**
 * The local path of a `file:` URL (or the path itself when it is not a URL).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toPath = (url: string): string => {
  if (!schemeRe.test(url)) return url
  const parsed = URL.parse(url)
  return parsed === null ? url : decodePercent(parsed.pathname) ?? parsed.pathname
}

/**
 * Builds the message for a URL whose scheme is not in the allowed set.
 *
 * @since 0.1.0
 * @category conversions
 */
export const unsupportedMessage = (urlScheme: string, allowed: ReadonlyArray<string>): string =>
  `unsupported transfer protocol "${urlScheme}" (this backend accepts: ${
    allowed.length === 0 ? "none" : allowed.join(", ")
  })`

/**
 * The schema of a data URL whose scheme is in `schemes`: decodes paths and URLs to the
 * normalised form and refuses other schemes with a readable message.
 *
 * @since 0.1.0
 * @category models
 */
export const TransferUrl = (
  schemes: ReadonlyArray<string>,
): Schema.Schema<TransferUrl, string> =>
  Schema.transformOrFail(
    Schema.String,
    Schema.String.pipe(
      // so that `Schema.is` refuses a scheme the backend does not support
      Schema.filter((u) => schemes.includes(scheme(u)) || unsupportedMessage(scheme(u), schemes)),
      Schema.brand("TransferUrl"),
    ).annotations({
      arbitrary: () => (fc) =>
        fc.tuple(
          fc.constantFrom(...(schemes.length > 0 ? schemes : ["file"])),
          // no "." or ".." segment: the generated URL is already normalised
          fc.array(fc.stringMatching(/^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,7}$/), {
            minLength: 1,
            maxLength: 4,
          }),
        ).map(([s, segs]) =>
          s === "file" ? fromPath("/" + segs.join("/")) : `${s}://example.org/${segs.join("/")}`
        ).map((s) => s as TransferUrl),
    }),
    {
      strict: true,
      decode: (input, _, ast) =>
        Either.match(normalize(input), {
          onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
          onRight: (url) => {
            const s = scheme(url)
            return schemes.includes(s)
              ? ParseResult.succeed(url as TransferUrl)
              : ParseResult.fail(new ParseResult.Type(ast, input, unsupportedMessage(s, schemes)))
          },
        }),
      encode: ParseResult.succeed,
    },
  ).annotations({
    identifier: `TransferUrl(${schemes.join("|")})`,
    description: `a ${schemes.join("/")} URL or a local path`,
  })

/**
 * A data URL of any scheme (the form `Application` stores before a backend checks it).
 *
 * @since 0.1.0
 * @category models
 */
export const AnyUrl: Schema.Schema<string, string> = Schema.transformOrFail(
  Schema.String,
  Schema.String.annotations({
    arbitrary: () => (fc) =>
      fc.tuple(
        fc.constantFrom("file", "http", "https"),
        fc.array(fc.stringMatching(/^[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,7}$/), {
          minLength: 1,
          maxLength: 4,
        }),
      ).map(([s, segs]) =>
        s === "file" ? fromPath("/" + segs.join("/")) : `${s}://example.org/${segs.join("/")}`
      ),
  }),
  {
    strict: true,
    decode: (input, _, ast) =>
      Either.match(normalize(input), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, input, message)),
        onRight: ParseResult.succeed,
      }),
    encode: ParseResult.succeed,
  },
).annotations({ identifier: "Url", description: "a URL or a local path" })

/**
 * Tells whether every URL has one of the given schemes (GC3Pie's `validate_data`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const validate =
  (schemes: ReadonlyArray<string>): (urls: ReadonlyArray<string>) => boolean =>
  (urls: ReadonlyArray<string>): boolean =>
    urls.every((u) => Either.isRight(normalize(u)) && schemes.includes(scheme(u)))
