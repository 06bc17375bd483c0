/**
 * `effect-lrms/slurm`: the SLURM backend, a dialect of the batch flow over any `Transport`.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Slurm } from "effect-lrms/slurm"
 *
 * deepStrictEqual(typeof Slurm.layer, "function")
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The SLURM backend. @since 0.1.0 */
export * as Slurm from "./Slurm.ts"
