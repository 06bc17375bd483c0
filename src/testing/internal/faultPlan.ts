/**
 * The fault model of `FaultyTransport`: checking a schedule, picking the fault of each call
 * (rule counters and the down host), and what a faulted call does instead of, or after, the
 * wrapped transport's call.
 *
 * @internal
 * @module
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { LrmsError } from "../../LrmsError.ts"
import type { Call, Fault, FaultSchedule, Operation } from "../FaultyTransport.ts"

/** Every operation of a `TransportShape`, in declaration order. */
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

/** Every fault a rule can inject. */
export const faults = ["fail", "drop", "hang", "lostReply"] as const

const isCount = (n: number, infinite: boolean) =>
  (Number.isSafeInteger(n) && n >= 0) || (infinite && n === Number.POSITIVE_INFINITY)

const ruleOperations = (operation: Operation | ReadonlyArray<Operation> | undefined) =>
  operation === undefined ? [] : typeof operation === "string" ? [operation] : operation

/** Throws on an unknown fault or operation, or a count that is negative or fractional. */
export const validate = (schedule: FaultSchedule): void => {
  schedule.forEach((rule, i) => {
    if (!(faults as ReadonlyArray<string>).includes(rule.fault)) {
      throw new TypeError(`fault schedule rule ${i}: unknown fault ${String(rule.fault)}`)
    }
    for (const op of ruleOperations(rule.operation)) {
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

/** The fault a call gets and the rule that chose it. */
export interface Admission {
  readonly fault: Fault | "down" | undefined
  readonly rule: number | undefined
}

/** The state of a schedule: how many calls each rule has counted, and the down host. */
export interface Planner {
  /** Counts a call against every rule and picks its fault. */
  readonly admit: (call: Call) => Admission
  /** How many of the next calls will fail as `down`. */
  readonly downRemaining: () => number
}

/** A fresh planner for a (valid) schedule. */
export const makePlanner = (schedule: FaultSchedule): Planner => {
  const seen = schedule.map(() => 0)
  const ops = schedule.map((rule) =>
    rule.operation === undefined ? undefined : new Set<Operation>(ruleOperations(rule.operation))
  )
  let down = 0
  const admit = (call: Call): Admission => {
    let chosen: number | undefined
    schedule.forEach((rule, i) => {
      const only = ops[i]
      if (only !== undefined && !only.has(call.operation)) return
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
  return { admit, downRemaining: () => down }
}

const describeCall = (call: Call): string =>
  call.argv !== undefined
    ? JSON.stringify(call.argv.join(" ").slice(0, 80))
    : `${call.operation}${
      typeof call.args[0] === "string" ? ` ${JSON.stringify(call.args[0].slice(0, 80))}` : ""
    }`

/** What the injected errors need to know besides the call. */
export interface FaultContext {
  readonly schedule: FaultSchedule
  readonly backend: string
  readonly host: string
  readonly hangTimeout: Duration.Duration
}

/** How long a `hang` waits, and what its `Timeout` says. */
const hangOf = (call: Call, ruleIndex: number, ctx: FaultContext) => {
  const ruleWait = ctx.schedule[ruleIndex]!.hangFor
  const ruleDuration = ruleWait === undefined ? ctx.hangTimeout : Duration.decode(ruleWait)
  const execTimeout = call.execOptions?.timeout
  const wait = execTimeout === undefined
    ? ruleDuration
    : Duration.min(ruleDuration, Duration.decode(execTimeout))
  const description = execTimeout !== undefined && Duration.lessThanOrEqualTo(
      Duration.decode(execTimeout),
      ruleDuration,
    )
    ? `${call.argv?.[0]} did not finish within ${String(execTimeout)}; killed`
    : `${ctx.host}: no answer to ${describeCall(call)} within ${Duration.format(wait)}`
  return { wait, description }
}

/**
 * What a call does given its admission: the wrapped transport's call (`runInner`) when it has no
 * fault, else the injected failure (after `runInner` for `lostReply`, after a sleep for `hang`).
 */
export const outcome = <A, R>(
  call: Call,
  { fault, rule }: Admission,
  ctx: FaultContext,
  runInner: Effect.Effect<A, LrmsError, R>,
): Effect.Effect<A, LrmsError, R> => {
  const recoverable = rule === undefined ? true : ctx.schedule[rule]!.recoverable ?? true
  const injected = (reason: "ConnectionLost" | "Timeout", description: string, rec = recoverable) =>
    new LrmsError({
      reason,
      backend: ctx.backend,
      operation: call.operation,
      description: `${description} (injected ${fault}, call ${call.index})`,
      recoverable: rec,
    })
  const host = ctx.host
  switch (fault) {
    case undefined:
      return runInner
    case "down":
      return Effect.fail(
        injected("ConnectionLost", `${host}: unreachable (connection down)`, true),
      )
    case "fail":
      return Effect.fail(injected(
        "ConnectionLost",
        `${host}: cannot send ${describeCall(call)}: the request did not reach the host`,
      ))
    case "drop":
      return Effect.fail(injected(
        "ConnectionLost",
        `the connection to ${host} dropped before ${describeCall(call)}`,
      ))
    case "lostReply":
      return Effect.flatMap(Effect.exit(runInner), () =>
        Effect.fail(injected(
          "ConnectionLost",
          `the connection to ${host} dropped while ${describeCall(call)} ran; its reply was lost`,
        )))
    case "hang": {
      const { wait, description } = hangOf(call, rule!, ctx)
      return Effect.zipRight(Effect.sleep(wait), Effect.fail(injected("Timeout", description)))
    }
  }
}
