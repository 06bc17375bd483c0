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
 * console.log(Effect.runSync(program.pipe(Effect.provide(Auth.none))))
 * // ["ConnectionLost", "ConnectionLost", 1]: the write landed, its reply was lost, then the
 * // host was down for one call
 * console.log(faulty.calls.map((c) => [c.operation, c.fault, c.innerCalled]))
 * // [["writeFile", "lostReply", true], ["stat", "down", false], ["stat", undefined, true]]
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
import { LrmsError } from "../LrmsError.ts"
import { type ExecOptions, Transport, type TransportShape } from "../Transport.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * Every operation of a `TransportShape`, in declaration order.
 *
 * @since 0.1.0
 * @category models
 */
export const operations = [
  "exec",
  "homeDirectory",
  "stat",
  "list",
  "mkdir",
  "remove",
  "rename",
  "readRange",
  "writeFile",
  "chmod",
  "put",
  "get",
] as const

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
export const faults = ["fail", "drop", "hang", "lostReply"] as const

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

const isCount = (n: number, infinite: boolean) =>
  (Number.isSafeInteger(n) && n >= 0) || (infinite && n === Number.POSITIVE_INFINITY)

const validate = (schedule: FaultSchedule): void => {
  schedule.forEach((rule, i) => {
    if (!(faults as ReadonlyArray<string>).includes(rule.fault)) {
      throw new TypeError(`fault schedule rule ${i}: unknown fault ${String(rule.fault)}`)
    }
    const ops = rule.operation === undefined
      ? []
      : typeof rule.operation === "string"
      ? [rule.operation]
      : rule.operation
    for (const op of ops) {
      if (!(operations as ReadonlyArray<string>).includes(op)) {
        throw new TypeError(`fault schedule rule ${i}: unknown operation ${String(op)}`)
      }
    }
    if (rule.at !== undefined && !isCount(rule.at, false)) {
      throw new RangeError(`fault schedule rule ${i}: at must be a whole number ≥ 0: ${rule.at}`)
    }
    if (rule.times !== undefined && !isCount(rule.times, true)) {
      throw new RangeError(`fault schedule rule ${i}: times must be a count: ${rule.times}`)
    }
    if (rule.downFor !== undefined && !isCount(rule.downFor, true)) {
      throw new RangeError(`fault schedule rule ${i}: downFor must be a count: ${rule.downFor}`)
    }
  })
}

const describeCall = (call: Call): string =>
  call.argv !== undefined
    ? JSON.stringify(call.argv.join(" ").slice(0, 80))
    : `${call.operation}${
      typeof call.args[0] === "string" ? ` ${JSON.stringify(call.args[0].slice(0, 80))}` : ""
    }`

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
  validate(schedule)
  const backend = options.backend ?? "faulty"
  const hangTimeout = Duration.decode(options.hangTimeout ?? "30 seconds")
  const calls: Array<CallRecord> = []
  const perOperation = new Map<Operation, number>()
  const seen = schedule.map(() => 0)
  const ruleOperations = schedule.map((rule) =>
    rule.operation === undefined
      ? undefined
      : new Set<Operation>(typeof rule.operation === "string" ? [rule.operation] : rule.operation)
  )
  let down = 0

  const injected = (
    call: Call,
    reason: "ConnectionLost" | "Timeout",
    fault: Fault | "down",
    description: string,
    recoverable: boolean,
  ) =>
    new LrmsError({
      reason,
      backend,
      operation: call.operation,
      description: `${description} (injected ${fault}, call ${call.index})`,
      recoverable,
    })

  /** Numbers a call, counts it against every rule and picks its fault. */
  const admit = (call: Call): { fault: Fault | "down" | undefined; rule: number | undefined } => {
    let chosen: number | undefined
    schedule.forEach((rule, i) => {
      const ops = ruleOperations[i]
      if (ops !== undefined && !ops.has(call.operation)) return
      if (rule.match !== undefined && !rule.match(call)) return
      const n = seen[i]!
      seen[i] = n + 1
      const at = rule.at ?? 0
      if (chosen === undefined && n >= at && n - at < (rule.times ?? 1)) chosen = i
    })
    if (down > 0) {
      down--
      return { fault: "down", rule: undefined }
    }
    if (chosen === undefined) return { fault: undefined, rule: undefined }
    down = schedule[chosen]!.downFor ?? 0
    return { fault: schedule[chosen]!.fault, rule: chosen }
  }

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
      const { fault, rule } = admit(call)
      const record: Mutable<CallRecord> = {
        ...call,
        fault,
        rule,
        innerCalled: false,
        innerExit: undefined,
        exit: undefined,
      }
      calls.push(record)
      const runInner = Effect.suspend(() => {
        record.innerCalled = true
        return run()
      }).pipe(Effect.onExit((exit) => Effect.sync(() => (record.innerExit = exit))))
      const recoverable = rule === undefined ? true : schedule[rule]!.recoverable ?? true
      const host = inner.host
      let body: Effect.Effect<A, LrmsError, Auth>
      switch (fault) {
        case undefined:
          body = runInner
          break
        case "down":
          body = Effect.fail(
            injected(call, "ConnectionLost", fault, `${host}: unreachable (connection down)`, true),
          )
          break
        case "fail":
          body = Effect.fail(injected(
            call,
            "ConnectionLost",
            fault,
            `${host}: cannot send ${describeCall(call)}: the request did not reach the host`,
            recoverable,
          ))
          break
        case "drop":
          body = Effect.fail(injected(
            call,
            "ConnectionLost",
            fault,
            `the connection to ${host} dropped before ${describeCall(call)}`,
            recoverable,
          ))
          break
        case "lostReply":
          body = Effect.flatMap(Effect.exit(runInner), () =>
            Effect.fail(injected(
              call,
              "ConnectionLost",
              fault,
              `the connection to ${host} dropped while ${describeCall(call)} ran; its reply ` +
                `was lost`,
              recoverable,
            )))
          break
        case "hang": {
          const ruleWait = schedule[rule!]!.hangFor
          const ruleDuration = ruleWait === undefined ? hangTimeout : Duration.decode(ruleWait)
          const execTimeout = call.execOptions?.timeout
          const wait = execTimeout === undefined
            ? ruleDuration
            : Duration.min(ruleDuration, Duration.decode(execTimeout))
          const description = execTimeout !== undefined && Duration.lessThanOrEqualTo(
              Duration.decode(execTimeout),
              ruleDuration,
            )
            ? `${call.argv?.[0]} did not finish within ${String(execTimeout)}; killed`
            : `${host}: no answer to ${describeCall(call)} within ${Duration.format(wait)}`
          body = Effect.zipRight(
            Effect.sleep(wait),
            Effect.fail(injected(call, "Timeout", fault, description, recoverable)),
          )
          break
        }
      }
      return body.pipe(Effect.onExit((exit) => Effect.sync(() => (record.exit = exit))))
    })

  const faulty: FaultyTransport = {
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
    inner,
    schedule,
    calls,
    faulted: () => calls.filter((c) => c.fault !== undefined),
    downRemaining: () => down,
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
 * @category arbitraries
 */
export const faultSchedule = (
  options: FaultScheduleOptions = {},
): FastCheck.Arbitrary<FaultSchedule> => {
  const faultKinds = options.faults ?? faults
  const ops = options.operations ?? operations
  if (faultKinds.length === 0) throw new RangeError("faultSchedule: no faults to choose from")
  const named = Object.entries(options.matchers ?? {}).map(([name, predicate]) =>
    Object.assign((call: Call) => predicate(call), { [FastCheck.toStringMethod]: () => name })
  )
  const rule: FastCheck.Arbitrary<FaultRule> = FastCheck.record({
    fault: FastCheck.constantFrom(...faultKinds),
    operation: ops.length === 0
      ? FastCheck.constant(undefined)
      : FastCheck.option(FastCheck.constantFrom(...ops), { nil: undefined }),
    match: named.length === 0
      ? FastCheck.constant(undefined)
      : FastCheck.option(FastCheck.constantFrom(...named), { nil: undefined, freq: 2 }),
    at: FastCheck.nat({ max: options.maxIndex ?? 15 }),
    times: FastCheck.integer({ min: 1, max: Math.max(1, options.maxTimes ?? 2) }),
    downFor: FastCheck.oneof(
      { weight: 3, arbitrary: FastCheck.constant(0) },
      { weight: 1, arbitrary: FastCheck.nat({ max: options.maxDownFor ?? 3 }) },
    ),
  }).map((r): FaultRule => ({
    fault: r.fault,
    ...(r.operation !== undefined ? { operation: r.operation } : {}),
    ...(r.match !== undefined ? { match: r.match } : {}),
    ...(r.at !== 0 ? { at: r.at } : {}),
    ...(r.times !== 1 ? { times: r.times } : {}),
    ...(r.downFor !== 0 ? { downFor: r.downFor } : {}),
    ...(r.fault === "hang" && options.hangFor !== undefined ? { hangFor: options.hangFor } : {}),
  }))
  return FastCheck.oneof(
    { withCrossShrink: true },
    { weight: 1, arbitrary: FastCheck.constant<FaultSchedule>([]) },
    {
      weight: 3,
      arbitrary: FastCheck.array(rule, {
        minLength: 1,
        maxLength: Math.max(1, options.maxRules ?? 3),
      }),
    },
  )
}
