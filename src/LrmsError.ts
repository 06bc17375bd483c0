/**
 * The one error family of effect-lrms: a `Schema.TaggedError` discriminated by `reason`.
 *
 * Every failure a backend can report is an {@linkcode LrmsError}. It names the backend and the
 * operation, says what happened in `description`, may carry the underlying `cause`, and tells a
 * caller whether retrying the same call later may succeed (`recoverable`, GC3Pie's
 * Recoverable/Unrecoverable split).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { LrmsError } from "effect-lrms"
 *
 * const failing = Effect.fail(
 *   new LrmsError.LrmsError({
 *     reason: "MaximumCapacityReached",
 *     backend: "shellcmd",
 *     operation: "submitJob",
 *     description: "2 cores requested, 0 free",
 *   }),
 * )
 * const handled = failing.pipe(
 *   Effect.catchTag("LrmsError", (e) => Effect.succeed(e.recoverable)),
 * )
 * deepStrictEqual(Effect.runSync(handled), true)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Every reason an operation may fail for.
 *
 * @since 0.1.0
 * @category models
 */
export const reasons = [
  "InvalidArgument",
  "ConfigurationError",
  "AuthenticationFailed",
  "HostKeyMismatch",
  "ConnectionLost",
  "Timeout",
  "CommandFailed",
  "SubmitRejected",
  "MaximumCapacityReached",
  "UnknownJob",
  "UnexpectedOutput",
  "DataStaging",
  "UnsupportedProtocol",
  "InvalidState",
  "NotFound",
  "PermissionDenied",
  "SubmitOutcomeUnknown",
] as const

/**
 * Why an operation failed, as a schema.
 *
 * @since 0.1.0
 * @category models
 */
export const Reason: Schema.Literal<typeof reasons> = Schema.Literal(...reasons)

/**
 * Why an operation failed, as a type.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = typeof Reason.Type

/**
 * Whether a reason is, by default, worth retrying as it is (GC3Pie's `RecoverableError`).
 *
 * @since 0.1.0
 * @category models
 */
export const defaultRecoverable: { readonly [R in Reason]: boolean } = {
  InvalidArgument: false,
  ConfigurationError: false,
  AuthenticationFailed: false,
  HostKeyMismatch: false,
  ConnectionLost: true,
  Timeout: true,
  CommandFailed: false,
  SubmitRejected: false,
  MaximumCapacityReached: true,
  UnknownJob: false,
  UnexpectedOutput: false,
  DataStaging: false,
  UnsupportedProtocol: false,
  InvalidState: false,
  NotFound: false,
  PermissionDenied: false,
  SubmitOutcomeUnknown: false,
}

/**
 * A unique symbol marking values of the {@linkcode LrmsError} family.
 *
 * @since 0.1.0
 * @category models
 */
export const TypeId: unique symbol = Symbol.for("effect-lrms/LrmsError")

/**
 * The type of {@linkcode TypeId}.
 *
 * @since 0.1.0
 * @category models
 */
export type TypeId = typeof TypeId

/**
 * The fields an {@linkcode LrmsError} is built from; `recoverable` defaults from the reason.
 *
 * @since 0.1.0
 * @category models
 */
export interface LrmsErrorProps {
  /** Why the operation failed. */
  readonly reason: Reason
  /** The backend or component that failed (`shellcmd`, `local`, `ssh`, `slurm`, ...). */
  readonly backend: string
  /** The operation that failed (`submitJob`, `exec`, `Application.make`, ...). */
  readonly operation: string
  /** What happened, for a person to read. */
  readonly description?: string | undefined
  /** The underlying error, if any. */
  readonly cause?: unknown
  /** Whether retrying the same call later may succeed; defaults from `reason`. */
  readonly recoverable?: boolean | undefined
  /**
   * The submission this error is about, when a job may exist: its tag (the `Job` id the
   * scheduler keeps) and its job directory. Set on `SubmitOutcomeUnknown`, so that
   * `Lrms.reconcile` can attach the job later; and on a definite refusal that could not release
   * what it had prepared (shellcmd's job directory and capacity reservation, when the
   * connection is gone): `Lrms.reconcile` then releases them and fails with `NotFound`.
   */
  readonly submission?: Submission | undefined
  /** The program that failed (argv[0]: never its arguments, which may hold secrets). */
  readonly command?: string | undefined
  /** The program's exit code. */
  readonly exitCode?: number | undefined
  /** The end of what the program wrote to stderr (at most {@linkcode STDERR_TAIL} characters). */
  readonly stderr?: string | undefined
  /** The host the failure happened on. */
  readonly host?: string | undefined
  /** The `Job` the operation was about. */
  readonly jobId?: string | undefined
}

/**
 * How much of a program's stderr an error keeps: its last characters.
 *
 * @since 0.1.0
 * @category models
 */
export const STDERR_TAIL = 2000

/**
 * A submission whose outcome is not known: the tag the scheduler keeps and the job directory.
 *
 * @since 0.1.0
 * @category models
 */
export interface Submission {
  /** The resource the job may be on. */
  readonly resource: string
  /** The job's id, also its tag at the scheduler and in its job directory. */
  readonly tag: string
  /** The job directory on the resource, kept while the job may exist. */
  readonly jobDir: string
}

/**
 * The schema of {@linkcode Submission}.
 *
 * @since 0.1.0
 * @category models
 */
export const SubmissionSchema: Schema.Struct<
  { resource: typeof Schema.String; tag: typeof Schema.String; jobDir: typeof Schema.String }
> = Schema.Struct({ resource: Schema.String, tag: Schema.String, jobDir: Schema.String })

/**
 * The error every effect-lrms operation fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export class LrmsError extends Schema.TaggedError<LrmsError>("effect-lrms/LrmsError")(
  "LrmsError",
  {
    reason: Reason,
    backend: Schema.String,
    operation: Schema.String,
    description: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Defect),
    recoverable: Schema.Boolean,
    submission: Schema.optional(SubmissionSchema),
    command: Schema.optional(Schema.String),
    // a process exit code: a whole number (NaN or Infinity would not survive JSON)
    exitCode: Schema.optional(Schema.Int),
    stderr: Schema.optional(Schema.String),
    host: Schema.optional(Schema.String),
    jobId: Schema.optional(Schema.String),
  },
) {
  /** Marks this value as a member of the family. */
  readonly [TypeId]: TypeId = TypeId

  /** Builds the error; `recoverable` defaults from the reason. */
  constructor(props: LrmsErrorProps) {
    super({
      reason: props.reason,
      backend: props.backend,
      operation: props.operation,
      ...(props.description !== undefined ? { description: props.description } : {}),
      ...(props.cause !== undefined ? { cause: props.cause } : {}),
      recoverable: props.recoverable ?? defaultRecoverable[props.reason],
      ...(props.submission !== undefined ? { submission: props.submission } : {}),
      ...(props.command !== undefined ? { command: props.command } : {}),
      ...(props.exitCode !== undefined ? { exitCode: props.exitCode } : {}),
      ...(props.stderr !== undefined ? { stderr: props.stderr.slice(-STDERR_TAIL) } : {}),
      ...(props.host !== undefined ? { host: props.host } : {}),
      ...(props.jobId !== undefined ? { jobId: props.jobId } : {}),
    })
  }

  /** A one-line summary: reason, where, and what happened. */
  override get message(): string {
    return `${this.reason} in ${this.backend}.${this.operation}${
      this.description ? `: ${this.description}` : ""
    }`
  }
}

/**
 * Tells whether a value is an {@linkcode LrmsError}.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isLrmsError = (u: unknown): u is LrmsError => Predicate.hasProperty(u, TypeId)

/**
 * Tells whether a failure leaves a job that may exist on the resource: a submission whose
 * outcome is not known. A broker must not try another resource after such a failure.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAmbiguous = (e: LrmsError): boolean => e.reason === "SubmitOutcomeUnknown"

/**
 * Builds an {@linkcode LrmsError}: a shorthand for `new LrmsError({...})` that reads well in
 * `mapError` callbacks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  reason: Reason,
  backend: string,
  operation: string,
  description?: string,
  cause?: unknown,
): LrmsError => new LrmsError({ reason, backend, operation, description, cause })
