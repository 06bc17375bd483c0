/**
 * `effect-lrms/sge`: the Grid Engine (SGE, OGS, Univa) backend, a dialect of the batch flow over any `Transport`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Sge } from "effect-lrms/sge"
 *
 * deepStrictEqual(typeof Sge.layer, "function")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The Grid Engine (SGE, OGS, Univa) backend. @since 0.1.0 */
export * as Sge from "./Sge.ts"
