/**
 * `effect-lrms/lsf`: the LSF and OpenLava backend, a dialect of the batch flow over any `Transport`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Lsf } from "effect-lrms/lsf"
 *
 * deepStrictEqual(typeof Lsf.layer, "function")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The LSF and OpenLava backend. @since 0.1.0 */
export * as Lsf from "./Lsf.ts"
