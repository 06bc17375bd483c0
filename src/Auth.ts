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
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 *
 * const guarded = Effect.succeed("ran").pipe(Auth.authenticated("demo", "op"))
 * deepStrictEqual(Effect.runSync(guarded.pipe(Effect.provide(Auth.none))), "ran")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import { createHash } from "node:crypto"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SshKey from "./internal/sshKey.ts"
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
    /** The key itself, when it had to be re-encoded (an ECDSA key, see `sshKey`). */
    readonly key?: Redacted.Redacted<string>
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
 * A key that is equal for equal credentials (and never contains a secret: a password or
 * passphrase enters it only as a SHA-256 digest), so connections and per-user caches can be
 * shared by every `Auth` layer built from the same credential.
 *
 * @since 0.1.0
 * @category accessors
 */
export const credentialKey = (credential: Credential): string => {
  const digest = (secret: Redacted.Redacted<string>) =>
    createHash("sha256").update(Redacted.value(secret)).digest("hex").slice(0, 32)
  switch (credential._tag) {
    case "None":
      return "none"
    case "SshKey":
      return `key:${credential.user}:${credential.keyFile}:${
        credential.passphrase === undefined ? "" : digest(credential.passphrase)
      }`
    case "SshAgent":
      return `agent:${credential.user}:${credential.socket ?? ""}`
    case "Password":
      return `password:${credential.user}:${digest(credential.password)}`
  }
}

/**
 * The user name a credential logs in as, if it names one.
 *
 * @since 0.1.0
 * @category accessors
 */
export const userOf = (credential: Credential): string | undefined =>
  credential._tag === "None" ? undefined : credential.user

// =============================================================================
// SSH credentials
// =============================================================================

const authError = (operation: string, description: string, cause?: unknown) =>
  new LrmsError({ reason: "AuthenticationFailed", backend: "auth", operation, description, cause })

/**
 * Logs in over SSH with a private key file (ed25519, RSA or ECDSA; an optional passphrase is kept
 * `Redacted`). The file is read (through the platform's `FileSystem`, which the application
 * provides) and its type checked when the layer is built: a missing or unreadable file fails
 * with `AuthenticationFailed`. An unencrypted ECDSA key is re-encoded with
 * a fixed-length scalar (as OpenSSH writes it, ssh2 under Deno cannot sign with about a third of
 * them); an encrypted ECDSA key is refused there with a clear message.
 *
 * @since 0.1.0
 * @category layers
 */
export const sshKey = (options: {
  readonly user: string
  readonly keyFile: string
  readonly passphrase?: Redacted.Redacted<string> | string
}): Layer.Layer<Auth, LrmsError, FileSystem.FileSystem> =>
  Layer.effect(
    Auth,
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const text = yield* fs.readFileString(options.keyFile).pipe(
        Effect.mapError((cause) =>
          authError(
            "sshKey",
            `cannot read the key file ${options.keyFile}: ${cause.message}`,
            cause,
          )
        ),
      )
      const type = SshKey.privateKeyType(text)
      if (type === undefined) {
        return yield* authError("sshKey", `${options.keyFile} is not a private key file`)
      }
      let key: Redacted.Redacted<string> | undefined
      if (type.startsWith("ecdsa")) {
        const usable = SshKey.ecdsaForSsh2(text)
        if (usable === undefined) {
          return yield* authError(
            "sshKey",
            `${options.keyFile} is an ${
              SshKey.isEncrypted(text) ? "encrypted " : ""
            }ECDSA key (${type}) that ssh2 cannot sign with under Deno: use an ed25519 or RSA ` +
              `key, or an unencrypted P-256/P-384 ECDSA key in OpenSSH format`,
          )
        }
        key = Redacted.make(usable)
      }
      const passphrase = options.passphrase === undefined
        ? undefined
        : typeof options.passphrase === "string"
        ? Redacted.make(options.passphrase)
        : options.passphrase
      return Auth.of({
        label: `ssh-key:${options.user}:${options.keyFile}`,
        credential: {
          _tag: "SshKey",
          user: options.user,
          keyFile: options.keyFile,
          ...(passphrase !== undefined ? { passphrase } : {}),
          ...(key !== undefined ? { key } : {}),
        },
        check: Effect.void,
      })
    }),
  )

/**
 * Logs in over SSH with the keys of a running ssh-agent (`SSH_AUTH_SOCK` unless `socket` is
 * given); fails when the layer is built if there is no agent socket.
 *
 * @since 0.1.0
 * @category layers
 */
export const sshAgent = (options: {
  readonly user: string
  readonly socket?: string
}): Layer.Layer<Auth, LrmsError> =>
  Layer.effect(
    Auth,
    Effect.suspend(() => {
      const socket = options.socket ?? Deno.env.get("SSH_AUTH_SOCK")
      if (socket === undefined || socket === "") {
        return Effect.fail(authError("sshAgent", "no ssh-agent: SSH_AUTH_SOCK is not set"))
      }
      return Effect.succeed(Auth.of({
        label: `ssh-agent:${options.user}`,
        credential: { _tag: "SshAgent", user: options.user, socket },
        check: Effect.void,
      }))
    }),
  )

/**
 * Logs in over SSH with a password, kept `Redacted` (never logged, never in an error message).
 *
 * @since 0.1.0
 * @category layers
 */
export const password = (options: {
  readonly user: string
  readonly password: Redacted.Redacted<string> | string
}): Layer.Layer<Auth> =>
  Layer.succeed(
    Auth,
    Auth.of({
      label: `password:${options.user}`,
      credential: {
        _tag: "Password",
        user: options.user,
        password: typeof options.password === "string"
          ? Redacted.make(options.password)
          : options.password,
      },
      check: Effect.void,
    }),
  )
