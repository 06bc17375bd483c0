/**
 * How a job ended: its exit code, or the signal that killed it.
 *
 * The POSIX 16-bit encoding (`exitCode << 8 | signal`) and the decoding of a shell's `$?`
 * (`137` = killed by signal 9) are GC3Pie's. Signals 120–125 are GC3Pie's pseudo-signals for
 * failures of the middleware rather than of the job: {@linkcode Signals}.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Termination } from "effect-lrms"
 *
 * const t = Termination.fromShellExit(137)
 * deepStrictEqual([t.signal, t.exitCode], [9, null])
 * deepStrictEqual(Termination.describe(Termination.exited(3)), "exited with code 3")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"

/**
 * The pseudo-signals that report failures of the middleware, not of the job (GC3Pie's
 * `Run.Signals`).
 *
 * @since 0.1.0
 * @category models
 */
export const Signals = {
  /** The job was lost: the resource no longer knows it. */
  Lost: 120,
  /** The job was cancelled by its owner. */
  Cancelled: 121,
  /** The batch system or an administrator killed the job (walltime, preemption). */
  RemoteKill: 122,
  /** Staging of input or output data failed. */
  DataStagingFailure: 123,
  /** The remote side failed: node crash, misconfiguration, missing report. */
  RemoteError: 124,
  /** The submission failed. */
  SubmissionFailed: 125,
} as const

const pseudoNames: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Signals).map(([k, v]) => [v, k]),
)

/**
 * The exit code 75 (`EX_TEMPFAIL`) GC3Pie gives jobs the batch system killed or cancelled.
 *
 * @since 0.1.0
 * @category models
 */
export const EX_TEMPFAIL = 75

/**
 * How a job ended. `exitCode` is `null` when the job did not exit by itself (killed by a signal,
 * or lost); `signal` is 0 when it exited normally.
 *
 * @since 0.1.0
 * @category models
 */
export class Termination extends Schema.Class<Termination>("Termination")({
  exitCode: Schema.NullOr(Schema.Int.pipe(Schema.between(0, 255))),
  signal: Schema.Int.pipe(Schema.between(0, 127)),
}) {}

/**
 * A job that exited with the given code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exited = (exitCode: number): Termination =>
  new Termination({ exitCode: exitCode & 0xff, signal: 0 })

/**
 * A job that was killed by the given signal (or ended with a pseudo-signal), with an optional
 * exit code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signalled = (signal: number, exitCode: number | null = null): Termination =>
  new Termination({ exitCode: exitCode === null ? null : exitCode & 0xff, signal: signal & 0x7f })

/**
 * Decodes a shell's exit status (`$?`): above 128 means killed by signal `rc − 128`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromShellExit = (rc: number): Termination => {
  const v = rc & 0xff
  return v > 128 ? signalled(v - 128) : exited(v)
}

/**
 * Decodes a POSIX 16-bit wait status (`exitCode << 8 | signal`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPosix = (status: number): Termination => {
  const signal = status & 0x7f
  const exitCode = (status >> 8) & 0xff
  return signal !== 0 && exitCode === 0xff ? signalled(signal) : signalled(signal, exitCode)
}

/**
 * Encodes as a POSIX 16-bit status; a missing exit code counts as 255 (GC3Pie's −1 & 0xff).
 *
 * @since 0.1.0
 * @category conversions
 */
export const toPosix = (t: Termination): number => ((t.exitCode ?? 0xff) << 8) | t.signal

/**
 * Tells whether a signal is one of the pseudo-signals 120–125.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isPseudoSignal = (signal: number): boolean => signal >= 120 && signal <= 125

/**
 * Tells whether the job ended with exit code 0 and no signal.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSuccess = (t: Termination): boolean => t.signal === 0 && t.exitCode === 0

const signalNames: Readonly<Record<number, string>> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  10: "SIGUSR1",
  11: "SIGSEGV",
  12: "SIGUSR2",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
  24: "SIGXCPU",
  25: "SIGXFSZ",
}

const signalNumbers: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(signalNames).map(([n, name]) => [name, Number(n)]),
)

/**
 * The number of a signal named `SIGKILL` or `KILL` (Linux numbering), or `undefined`.
 *
 * @since 0.1.0
 * @category conversions
 */
export const signalNumber = (name: string): number | undefined =>
  signalNumbers[name.startsWith("SIG") ? name : `SIG${name}`]

/**
 * Says in words how the job ended.
 *
 * @since 0.1.0
 * @category conversions
 */
export const describe = (t: Termination): string => {
  if (isPseudoSignal(t.signal)) {
    return `abnormal termination: ${pseudoNames[t.signal]}${
      t.exitCode === null ? "" : ` (exit code ${t.exitCode})`
    }`
  }
  if (t.signal !== 0) {
    const name = signalNames[t.signal]
    return `terminated by signal ${t.signal}${name ? ` (${name})` : ""}`
  }
  return `exited with code ${t.exitCode}`
}
