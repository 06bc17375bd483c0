/**
 * Grid Engine's (SGE, Son of Grid Engine, OGS, Univa) argvs and pure parsers: `qsub` (argv with
 * arrays, rerun, parallel environment, GPUs; the job id of its reply), `qstat` (the state of
 * every job of the user in one call, ids matched exactly, array tasks one by one), `qacct -j`
 * (how a job or an array task ended and what it used), `qdel`, the cell's array limit, and the
 * queue counts and free slots for the resource status.
 *
 * Job ids are `123` for a job and `123.4` for task 4 of array job 123 (what `qdel` takes, and
 * what the parsers key a task by).
 *
 * Nothing here does I/O and nothing throws: unreadable input gives `undefined` or leaves the job
 * out of the returned map.
 *
 * @since 0.1.0
 * @module
 */
export * from "./parse/control.ts"
export * from "./parse/ids.ts"
export * from "./parse/qacct.ts"
export * from "./parse/qstat.ts"
export * from "./parse/submit.ts"
export * from "./parse/shape.ts"
