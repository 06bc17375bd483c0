/** @internal Decoding at the boundary: a ParseError becomes an InvalidArgument LrmsError. */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { LrmsError, type Reason } from "../LrmsError.ts"

/** @internal Formats a parse error as lines naming the path of each failing field. */
export const formatParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    // a failing optional field also reports "Expected undefined": only noise for a person
    .filter((issue, _, all) =>
      !(all.length > 1 && /^Expected (undefined|"\*"),/.test(issue.message))
    )
    .map((issue) =>
      `${issue.path.length > 0 ? issue.path.map(String).join(".") + ": " : ""}${issue.message}`
    )
    .join("; ")

/** @internal Decodes unknown input, failing with a typed LrmsError that names the field. */
export const decodeOrFail = <A, I>(
  schema: Schema.Schema<A, I>,
  backend: string,
  operation: string,
  reason: Reason = "InvalidArgument",
) =>
(input: unknown): Effect.Effect<A, LrmsError> =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "error" })(input).pipe(
    Effect.mapError((e) =>
      new LrmsError({ reason, backend, operation, description: formatParseError(e), cause: e })
    ),
  )
