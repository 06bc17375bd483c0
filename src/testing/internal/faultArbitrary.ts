/**
 * The fast-check arbitrary of fault schedules behind `FaultyTransport.faultSchedule`.
 *
 * @internal
 * @module
 */
import * as FastCheck from "effect/FastCheck"
import type { Call, FaultRule, FaultSchedule, FaultScheduleOptions } from "../FaultyTransport.ts"
import { faults, operations } from "./faultPlan.ts"

/** See `FaultyTransport.faultSchedule`. */
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
