/**
 * The states a job goes through (GC3Pie's `Run.State`) and the moves between them.
 *
 * `NEW → SUBMITTED → RUNNING → TERMINATING → TERMINATED`, with `STOPPED` for a job that is held or
 * suspended and `UNKNOWN` when the resource could not tell. A backend's `updateJobState` never
 * moves a job to `TERMINATED`: that is the caller's step once the results are fetched (or the
 * job was cancelled).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { RunState } from "effect-lrms"
 *
 * deepStrictEqual(RunState.isDone("TERMINATING"), true)
 * deepStrictEqual(RunState.canTransition("NEW", "RUNNING"), false)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"

/**
 * Every run state, in lifecycle order.
 *
 * @since 0.1.0
 * @category models
 */
export const all = [
  "NEW",
  "SUBMITTED",
  "RUNNING",
  "STOPPED",
  "TERMINATING",
  "TERMINATED",
  "UNKNOWN",
] as const

/**
 * The schema of a run state.
 *
 * @since 0.1.0
 * @category models
 */
export const RunState: Schema.Literal<typeof all> = Schema.Literal(...all)

/**
 * A run state.
 *
 * @since 0.1.0
 * @category models
 */
export type RunState = typeof RunState.Type

const successors: { readonly [S in RunState]: ReadonlyArray<RunState> } = {
  NEW: ["SUBMITTED"],
  SUBMITTED: ["RUNNING", "STOPPED", "TERMINATING", "TERMINATED", "UNKNOWN"],
  RUNNING: ["SUBMITTED", "STOPPED", "TERMINATING", "TERMINATED", "UNKNOWN"],
  STOPPED: ["SUBMITTED", "RUNNING", "TERMINATING", "TERMINATED", "UNKNOWN"],
  TERMINATING: ["TERMINATED", "UNKNOWN"],
  TERMINATED: [],
  UNKNOWN: ["SUBMITTED", "RUNNING", "STOPPED", "TERMINATING", "TERMINATED"],
}

/**
 * Tells whether a job may move from one state to another (staying in a state is always allowed).
 * `SUBMITTED → TERMINATING` is allowed because a short job may end between two polls, and
 * `RUNNING → SUBMITTED` because a scheduler may requeue a job (preemption, node failure).
 *
 * @since 0.1.0
 * @category predicates
 */
export const canTransition = (from: RunState, to: RunState): boolean =>
  from === to || successors[from].includes(to)

/**
 * Tells whether the execution is over: `TERMINATING` (outputs not yet fetched) or `TERMINATED`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDone = (state: RunState): boolean =>
  state === "TERMINATING" || state === "TERMINATED"

/**
 * Tells whether a state is final: `TERMINATED` has no successor.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFinal = (state: RunState): boolean => state === "TERMINATED"

/**
 * Tells whether the resource still holds the job (queued, running, held or unknown).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isActive = (state: RunState): boolean =>
  state === "SUBMITTED" || state === "RUNNING" || state === "STOPPED" || state === "UNKNOWN"
