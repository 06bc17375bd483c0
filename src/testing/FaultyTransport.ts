/**
 * A `Transport` wrapper that injects network faults for tests: it wraps any transport (the
 * in-memory one, the local one, SSH) and, following a {@linkcode FaultSchedule}, makes chosen
 * calls fail the way a network link does.
 *
 * The faults:
 *
 * - `fail`: the request cannot be sent; the call fails with a recoverable `ConnectionLost` and
 *   the wrapped transport is not called (nothing runs on the far side).
 * - `drop`: the connection drops just before the call; the call fails with a recoverable
 *   `ConnectionLost` and the wrapped transport is not called. Give it `downFor` to keep the
 *   host unreachable for the calls after it.
 * - `hang`: the far side never answers; after the exec's own `timeout` or the rule's `hangFor`
 *   (default the `hangTimeout` option, 30 seconds), whichever is shorter, the call fails with a
 *   recoverable `Timeout`. The wait is an `Effect.sleep`, so `TestClock` drives it. The wrapped
 *   transport is **not** called: a hung call has run nothing (to model a command that ran and
 *   whose reply never came, use `lostReply`).
 * - `lostReply`: the wrapped transport runs the call to completion (the command runs, the file
 *   is written), then the reply is lost: the caller gets a recoverable `ConnectionLost`,
 *   whatever the call's own outcome was.
 * - `down` (not scheduled directly): after a faulted call whose rule has `downFor: k`, the next
 *   `k` calls, of any operation, fail with a recoverable `ConnectionLost` without reaching the
 *   wrapped transport: the host is unreachable, for instance while a caller reconciles.
 *
 * Every call is numbered (from 0) in the order it starts, overall and per operation. A rule
 * counts the calls it matches (its `operation` and `match`, both optional) and applies to the
 * `at`-th of them (from 0) and the `times - 1` after it; so a rule with neither `operation` nor
 * `match` picks calls by their overall index. The first rule of the schedule that applies to a
 * call wins, but every matching rule counts the call; a call made while the host is down fails
 * as `down`, and counts too (a rule whose turn falls then is not applied).
 *
 * The errors are `LrmsError`s whose `backend` is `faulty` (the `backend` option) and whose
 * `operation` is the transport operation (`exec`, `writeFile`, ...), as `LocalTransport` and
 * `SshTransport` report theirs. The wrapper records every call ({@linkcode CallRecord}): which
 * fault it got, whether the wrapped transport was called, and both outcomes.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect } from "effect"
 * import { Auth } from "effect-lrms"
 * import { FaultyTransport, MemoryTransport } from "effect-lrms/testing"
 *
 * const remote = MemoryTransport.make()
 * const faulty = FaultyTransport.wrap(remote, [
 *   { operation: "writeFile", at: 0, fault: "lostReply", downFor: 1 },
 * ])
 * const program = Effect.gen(function* () {
 *   const first = yield* Effect.flip(faulty.writeFile("/home/user/a.txt", "a"))
 *   const second = yield* Effect.flip(faulty.stat("/home/user/a.txt"))
 *   const third = yield* faulty.stat("/home/user/a.txt")
 *   return [first.reason, second.reason, third.size]
 * })
 * // the write landed, its reply was lost, then the host was down for one call
 * deepStrictEqual(Effect.runSync(program.pipe(Effect.provide(Auth.none))), [
 *   "ConnectionLost",
 *   "ConnectionLost",
 *   1,
 * ])
 * deepStrictEqual(faulty.calls.map((c) => [c.operation, c.fault, c.innerCalled]), [
 *   ["writeFile", "lostReply", true],
 *   ["stat", "down", false],
 *   ["stat", undefined, true],
 * ])
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import type { Auth } from "../Auth.ts"
import type { LrmsError } from "../LrmsError.ts"
import {
  type ExecOptions,
  make as makeTransport,
  Transport,
  type TransportShape,
} from "../Transport.ts"
import * as Arbitrary from "./internal/faultArbitrary.ts"
import * as Plan from "./internal/faultPlan.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * Every operation of a `TransportShape`, in declaration order.
 *
 * @since 0.1.0
 * @category models
 */
export const operations: typeof Plan.operations = Plan.operations

/**
 * One operation of a `TransportShape`.
 *
 * @since 0.1.0
 * @category models
 */
export type Operation = typeof operations[number]

/**
 * Every fault a rule can inject.
 *
 * @since 0.1.0
 * @category models
 */
export const faults: typeof Plan.faults = Plan.faults

/**
 * A fault a rule can inject (see the module documentation).
 *
 * @since 0.1.0
 * @category models
 */
export type Fault = typeof faults[number]

/**
 * One transport call, as rules' predicates see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  /** The call's index among every call of the wrapper, from 0. */
  readonly index: number
  /** The call's index among the calls of the same operation, from 0. */
  readonly operationIndex: number
  /** The operation called. */
  readonly operation: Operation
  /** The arguments, as the caller passed them (none for `homeDirectory`). */
  readonly args: ReadonlyArray<unknown>
  /** The command, for `exec`. */
  readonly argv: ReadonlyArray<string> | undefined
  /** The options, for `exec`. */
  readonly execOptions: ExecOptions | undefined
}

/**
 * One rule of a {@linkcode FaultSchedule}: which calls it picks and what happens to them.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultRule {
  /** What happens to the calls the rule picks. */
  readonly fault: Fault
  /** Only calls of this operation (or these operations) count; every call when absent. */
  readonly operation?: Operation | ReadonlyArray<Operation>
  /** Only calls this predicate accepts count (after `operation`); every call when absent. */
  readonly match?: (call: Call) => boolean
  /** The first counted call the rule applies to, from 0; default 0. */
  readonly at?: number
  /** How many counted calls, from `at`, the rule applies to; default 1, `Infinity` for all. */
  readonly times?: number
  /** How many calls after a faulted one fail as `down` (host unreachable); default 0. */
  readonly downFor?: number
  /** How long a `hang` waits before its `Timeout` (an exec's shorter `timeout` wins). */
  readonly hangFor?: Duration.DurationInput
  /** The `recoverable` flag of the injected error; default `true`. */
  readonly recoverable?: boolean
}

/**
 * The rules of a {@linkcode FaultyTransport}; the empty schedule injects nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultSchedule = ReadonlyArray<FaultRule>

/**
 * What happened to one call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallRecord extends Call {
  /** The injected fault, `down` for a call made while the host was down, or none. */
  readonly fault: Fault | "down" | undefined
  /** The index in the schedule of the rule that applied, if one did. */
  readonly rule: number | undefined
  /** Whether the wrapped transport was called (true for unfaulted calls and `lostReply`). */
  readonly innerCalled: boolean
  /** How the wrapped transport's call ended, once it has (unset when it was not called). */
  readonly innerExit: Exit.Exit<unknown, LrmsError> | undefined
  /** What the caller got, once the call has ended (an interruption included). */
  readonly exit: Exit.Exit<unknown, LrmsError> | undefined
}

/**
 * Options of {@linkcode wrap}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultyTransportOptions {
  /** How long a `hang` waits when neither its rule nor the exec says; default 30 seconds. */
  readonly hangTimeout?: Duration.DurationInput
  /** The `backend` of the injected errors; default `faulty`. */
  readonly backend?: string
}

/**
 * A faulty transport: the wrapped transport's `TransportShape` (same `kind` and `host`) plus the
 * record of its calls.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultyTransport extends TransportShape {
  /** The wrapped transport. */
  readonly inner: TransportShape
  /** The schedule it follows. */
  readonly schedule: FaultSchedule
  /** Every call so far, oldest first (a live array: records fill in as calls end). */
  readonly calls: ReadonlyArray<CallRecord>
  /** The calls that got a fault (`down` included), oldest first. */
  readonly faulted: () => ReadonlyArray<CallRecord>
  /** How many of the next calls will fail as `down`. */
  readonly downRemaining: () => number
}

/**
 * The {@linkcode FaultyTransport} a {@linkcode layer} built, for tests to inspect.
 *
 * @since 0.1.0
 * @category tags
 */
export class Faults extends Context.Tag("effect-lrms/testing/FaultyTransport/Faults")<
  Faults,
  FaultyTransport
>() {}

// =============================================================================
// Predicates
// =============================================================================

const decoder = new TextDecoder()

/**
 * The standard input of an exec call as text (empty when there is none).
 *
 * @since 0.1.0
 * @category predicates
 */
export const stdinText = (call: Call): string => {
  const stdin = call.execOptions?.stdin
  return stdin === undefined ? "" : typeof stdin === "string" ? stdin : decoder.decode(stdin)
}

/**
 * Matches the exec calls of one program: `argv[0]` equal to `program` or, when `program` has no
 * `/`, ending in `/program` (`execOf("sh")` matches `/bin/sh`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const execOf = (program: string): (call: Call) => boolean => (call) => {
  const cmd = call.argv?.[0]
  if (cmd === undefined) return false
  return cmd === program || (!program.includes("/") && cmd.endsWith(`/${program}`))
}

/**
 * Matches the exec calls whose standard input contains `text` (a script fed to `/bin/sh -s`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const stdinIncludes = (text: string): (call: Call) => boolean => (call) =>
  call.operation === "exec" && stdinText(call).includes(text)

/**
 * Matches the exec calls whose argv (any word) or standard input contains `text`: a submission
 * made as `sbatch job.sh`, `sh -c 'sbatch job.sh'` or a script on stdin alike.
 *
 * @since 0.1.0
 * @category predicates
 */
export const commandIncludes = (text: string): (call: Call) => boolean => (call) =>
  call.operation === "exec" &&
  ((call.argv ?? []).some((word) => word.includes(text)) || stdinText(call).includes(text))

// =============================================================================
// The wrapper
// =============================================================================

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/**
 * Wraps a transport so that the calls its schedule picks fail (see the module documentation).
 * The schedule is checked at once: an unknown fault or operation, or a negative or fractional
 * count, throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const wrap = (
  inner: TransportShape,
  schedule: FaultSchedule,
  options: FaultyTransportOptions = {},
): FaultyTransport => {
  Plan.validate(schedule)
  const context: Plan.FaultContext = {
    schedule,
    backend: options.backend ?? "faulty",
    host: inner.host,
    hangTimeout: Duration.decode(options.hangTimeout ?? "30 seconds"),
  }
  const planner = Plan.makePlanner(schedule)
  const calls: Array<CallRecord> = []
  const perOperation = new Map<Operation, number>()

  /** Numbers and records a call, and runs it with the fault the schedule gives it. */
  const intercept = <A>(
    operation: Operation,
    args: ReadonlyArray<unknown>,
    run: () => Effect.Effect<A, LrmsError, Auth>,
  ): Effect.Effect<A, LrmsError, Auth> =>
    Effect.suspend(() => {
      const operationIndex = perOperation.get(operation) ?? 0
      perOperation.set(operation, operationIndex + 1)
      const isExec = operation === "exec"
      const call: Call = {
        index: calls.length,
        operationIndex,
        operation,
        args,
        argv: isExec ? args[0] as ReadonlyArray<string> : undefined,
        execOptions: isExec ? (args[1] as ExecOptions | undefined) : undefined,
      }
      const admission = planner.admit(call)
      const record: Mutable<CallRecord> = {
        ...call,
        ...admission,
        innerCalled: false,
        innerExit: undefined,
        exit: undefined,
      }
      calls.push(record)
      const runInner = Effect.suspend(() => {
        record.innerCalled = true
        return run()
      }).pipe(Effect.onExit((exit) => Effect.sync(() => (record.innerExit = exit))))
      return Plan.outcome(call, admission, context, runInner).pipe(
        Effect.onExit((exit) => Effect.sync(() => (record.exit = exit))),
      )
    })

  const faulty: FaultyTransport = {
    // the derived operations (run, exists, …) go through the faulty primitives
    ...makeTransport({
      kind: inner.kind,
      host: inner.host,
      exec: (...args) => intercept("exec", args, () => inner.exec(...args)),
      homeDirectory: intercept("homeDirectory", [], () => inner.homeDirectory),
      stat: (...args) => intercept("stat", args, () => inner.stat(...args)),
      list: (...args) => intercept("list", args, () => inner.list(...args)),
      mkdir: (...args) => intercept("mkdir", args, () => inner.mkdir(...args)),
      remove: (...args) => intercept("remove", args, () => inner.remove(...args)),
      rename: (...args) => intercept("rename", args, () => inner.rename(...args)),
      readRange: (...args) => intercept("readRange", args, () => inner.readRange(...args)),
      writeFile: (...args) => intercept("writeFile", args, () => inner.writeFile(...args)),
      chmod: (...args) => intercept("chmod", args, () => inner.chmod(...args)),
      put: (...args) => intercept("put", args, () => inner.put(...args)),
      get: (...args) => intercept("get", args, () => inner.get(...args)),
      ...(inner.close !== undefined ? { close: inner.close } : {}),
    }),
    inner,
    schedule,
    calls,
    faulted: () => calls.filter((c) => c.fault !== undefined),
    downRemaining: planner.downRemaining,
  }
  return faulty
}

/**
 * A layer that wraps the `Transport` of its context with {@linkcode wrap} and provides the
 * faulty transport both as the `Transport` and as {@linkcode Faults} (to inspect its calls):
 * `program.pipe(Effect.provide(FaultyTransport.layer(schedule)), Effect.provide(inner))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  schedule: FaultSchedule,
  options?: FaultyTransportOptions,
): Layer.Layer<Transport | Faults, never, Transport> =>
  Layer.effectContext(Effect.map(Transport, (inner) => {
    const faulty = wrap(inner, schedule, options)
    return Context.make(Transport, faulty as TransportShape).pipe(Context.add(Faults, faulty))
  }))

// =============================================================================
// Arbitrary
// =============================================================================

/**
 * Options of {@linkcode faultSchedule}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FaultScheduleOptions {
  /** The faults rules may inject; default all four. */
  readonly faults?: ReadonlyArray<Fault>
  /** The operations a rule may target (a rule may also target every call); default all. */
  readonly operations?: ReadonlyArray<Operation>
  /** Named predicates a rule may carry as `match` (printed by name in counterexamples). */
  readonly matchers?: Readonly<Record<string, (call: Call) => boolean>>
  /** At most this many rules; default 3. */
  readonly maxRules?: number
  /** The largest `at`; default 15. */
  readonly maxIndex?: number
  /** The largest `times`; default 2. */
  readonly maxTimes?: number
  /** The largest `downFor`; default 3. */
  readonly maxDownFor?: number
  /** The `hangFor` of generated `hang` rules; the wrapper's `hangTimeout` when absent. */
  readonly hangFor?: Duration.DurationInput
}

/**
 * fast-check (v3) schedules: a quarter are empty, the others have 1 to `maxRules` rules, each a
 * fault at a random index, overall or among one operation's calls (optionally narrowed by one
 * of the named `matchers`), sometimes repeated (`times`) or followed by a down host
 * (`downFor`). Fields at their defaults are left out. Shrinking drops rules (down to the empty
 * schedule), moves faults earlier, lowers `times` and `downFor`, drops the `operation` and the
 * matcher, and turns faults into `fail`, the first of `faults`.
 *
 * @since 0.1.0
 * @category testing
 */
export const faultSchedule: (
  options?: FaultScheduleOptions,
) => FastCheck.Arbitrary<FaultSchedule> = Arbitrary.faultSchedule
