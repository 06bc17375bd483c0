/**
 * `effect-lrms/pbs`: the PBS Pro and Torque backend, a dialect of the batch flow over any `Transport`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Pbs } from "effect-lrms/pbs"
 *
 * deepStrictEqual(typeof Pbs.layer, "function")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The PBS Pro and Torque backend. @since 0.1.0 */
export * as Pbs from "./Pbs.ts"
