/**
 * `effect-lrms/dialects`: what a batch scheduler's backend is made of, for those who write a new
 * dialect: the shared flow (`Batch`), the dialect's shape (`BatchDialect`), the job and submit
 * scripts (`BatchScript`), POSIX quoting (`Shell`), and the four dialects' argv builders and pure
 * parsers. These follow the schedulers' formats and may change in any minor release.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Shell, SlurmParse } from "effect-lrms/dialects"
 *
 * deepStrictEqual(Shell.quote("it's"), "'it'\\''s'")
 * deepStrictEqual(SlurmParse.scancelArgv(["12", "13"]), ["scancel", "12,13"])
 * ```
 *
 * @since 0.1.0
 * @module
 */

/** The flow every batch scheduler shares, over a dialect of pure functions. @since 0.1.0 */
export * as Batch from "./Batch.ts"
/** What one batch scheduler's dialect is made of. @since 0.1.0 */
export * as BatchDialect from "./Dialect.ts"
/** The job script and the submit script of the batch flow. @since 0.1.0 */
export * as BatchScript from "./Script.ts"
/** POSIX shell quoting and splitting. @since 0.1.0 */
export * as Shell from "../../src/Shell.ts"
/** SLURM's argv builders and pure parsers. @since 0.1.0 */
export * as SlurmParse from "../slurm/SlurmParse.ts"
/** Grid Engine's argv builders and pure parsers. @since 0.1.0 */
export * as SgeParse from "../sge/SgeParse.ts"
/** PBS's argv builders and pure parsers. @since 0.1.0 */
export * as PbsParse from "../pbs/PbsParse.ts"
/** LSF's argv builders and pure parsers. @since 0.1.0 */
export * as LsfParse from "../lsf/LsfParse.ts"
