/**
 * Authentication as a service a caller provides, per program or per call.
 *
 * Every operation that reaches a resource is *guarded*: `Auth` is in its requirements, and it
 * consults the `Auth` it finds on every call ({@linkcode authenticated}, GC3Pie's
 * `authenticated` decorator). A backend never captures `Auth` when its layer is built, so one
 * backend serves many users; the SSH transport opens one connection per distinct credential.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 *
 * const guarded = Effect.succeed("ran").pipe(Auth.authenticated("demo", "op"))
 * console.log(Effect.runSync(guarded.pipe(Effect.provide(Auth.none)))) // "ran"
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import { LrmsError } from "./LrmsError.ts"

/**
 * The credential an `Auth` carries; transports read it to connect as the right user.
 *
 * @since 0.1.0
 * @category models
 */
export type Credential =
  | { readonly _tag: "None" }
  | {
    readonly _tag: "SshKey"
    /** The remote user name. */
    readonly user: string
    /** The private key file. */
    readonly keyFile: string
    /** The key's passphrase, if it has one. */
    readonly passphrase?: Redacted.Redacted<string>
  }
  | {
    readonly _tag: "SshAgent"
    /** The remote user name. */
    readonly user: string
    /** The agent's socket (default `SSH_AUTH_SOCK`). */
    readonly socket?: string
  }
  | {
    readonly _tag: "Password"
    /** The remote user name. */
    readonly user: string
    /** The password. */
    readonly password: Redacted.Redacted<string>
  }

/**
 * The shape of the `Auth` service.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthShape {
  /** A label for logs and errors; never contains a secret. */
  readonly label: string
  /** The credential transports connect with. */
  readonly credential: Credential
  /** Run before every guarded call: checks (and, if needed, refreshes) the credential. */
  readonly check: Effect.Effect<void, LrmsError>
}

/**
 * The authentication a guarded operation runs with.
 *
 * @since 0.1.0
 * @category tags
 */
export class Auth extends Context.Tag("effect-lrms/Auth")<Auth, AuthShape>() {}

/**
 * No authentication: the right `Auth` for local resources (GC3Pie's `type = none`).
 *
 * @since 0.1.0
 * @category layers
 */
export const none: Layer.Layer<Auth> = Layer.succeed(
  Auth,
  Auth.of({ label: "none", credential: { _tag: "None" }, check: Effect.void }),
)

/**
 * Makes an `Auth` layer from a shape (for credentials of your own, or tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (shape: AuthShape): Layer.Layer<Auth> => Layer.succeed(Auth, shape)

/**
 * Guards an operation: the `Auth` in context is consulted before it runs, and a failing check
 * fails the call with `AuthenticationFailed` (never runs it anyway, unlike GC3Pie).
 *
 * @since 0.1.0
 * @category combinators
 */
export const authenticated = (
  backend: string,
  operation: string,
): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | LrmsError, R | Auth> =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | LrmsError, R | Auth> =>
  Effect.flatMap(Auth, (auth) =>
    auth.check.pipe(
      Effect.mapError((cause) =>
        cause.reason === "AuthenticationFailed" ? cause : new LrmsError({
          reason: "AuthenticationFailed",
          backend,
          operation,
          description: `credential ${auth.label} was refused: ${cause.message}`,
          cause,
        })
      ),
      Effect.zipRight(self),
    ))

/**
 * The user name a credential logs in as, if it names one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const userOf = (credential: Credential): string | undefined =>
  credential._tag === "None" ? undefined : credential.user
