/**
 * @internal PBS's job ids and variants.
 *
 * @module
 */

// =============================================================================
// Job ids and variants
// =============================================================================

/** @internal A job id as qsub prints it and qstat takes it. */
export const jobIdRe = /^\d{1,12}(?:\[\d{0,9}\])?(?:\.[A-Za-z0-9][A-Za-z0-9._-]*)?$/

/**
 * Tells whether a job id may be put on a command line: `123`, `123.server.domain`, `45[].srv`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isValidJobId = (id: string): boolean => jobIdRe.test(id)

/** The sequence number of a job id (`123` of `123.server`): what qsub and qstat agree on. */
export const sequenceOf = (id: string): string => /^\d+(?:\[\d*\])?/.exec(id)?.[0] ?? id

/**
 * The PBS variant: `torque` (`-l nodes=1:ppn=N`, `tracejob`) or `pbspro` (OpenPBS / PBS Pro:
 * `-l select=1:ncpus=N:mem=…`, finished jobs with `qstat -x`).
 *
 * @since 0.1.0
 * @category models
 */
export type Flavour = "torque" | "pbspro"
