/**
 * effect-lrms: one typed, resource-safe interface to the places where batch jobs run (local
 * processes, any SSH host, and HPC schedulers), built on Effect for Deno. It re-creates the
 * backend layer of GC3Pie's GC3Libs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Application, Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
 *
 * const program = Effect.gen(function* () {
 *   const app = yield* Application.make({ arguments: ["echo", "hi"], stdout: "out.txt" })
 *   const job = yield* Lrms.submitJob(app)
 *   const done = yield* Lrms.awaitTermination(job)
 *   yield* Lrms.free(done)
 *   return done.termination?.exitCode
 * })
 *
 * const exitCode = await Effect.runPromise(program.pipe(
 *   Effect.provide(Shellcmd.layer({
 *     name: "local",
 *     architecture: "x86_64",
 *     maxCores: 2,
 *     maxMemoryPerCore: "1 GiB",
 *     maxWalltime: "1 hour",
 *     spooldir: "/tmp/effect-lrms-mod/spool",
 *     resourceDir: "/tmp/effect-lrms-mod/bookkeeping",
 *   })),
 *   Effect.provide(LocalTransport.layer),
 *   Effect.provide(Auth.none),
 * ))
 * console.log(exitCode) // 0
 * ```
 *
 * @module
 */

/** The description of a job (GC3Pie's Application). @since 0.1.0 */
export * as Application from "./src/Application.ts"
/** Authentication as a service; the guard every resource operation runs behind. @since 0.1.0 */
export * as Auth from "./src/Auth.ts"
/** The serialisable record of a submitted job. @since 0.1.0 */
export * as Job from "./src/Job.ts"
/** The `Lrms` service and its accessors. @since 0.1.0 */
export * as Lrms from "./src/Lrms.ts"
/** The error family. @since 0.1.0 */
export * as LrmsError from "./src/LrmsError.ts"
/** The metrics effect-lrms records (commands run, submissions, jobs ended). @since 0.1.0 */
export * as Metrics from "./src/Metrics.ts"
/** Memory and duration quantities. @since 0.1.0 */
export * as Quantity from "./src/Quantity.ts"
/** Static resource attributes and the dynamic status. @since 0.1.0 */
export * as Resource from "./src/Resource.ts"
/** Job states and transitions. @since 0.1.0 */
export * as RunState from "./src/RunState.ts"
/** POSIX shell quoting. @since 0.1.0 */
export * as Shell from "./src/Shell.ts"
/** How a job ended. @since 0.1.0 */
export * as Termination from "./src/Termination.ts"
/** `getResults` and `peek`, written once. @since 0.1.0 */
export * as Transfer from "./src/Transfer.ts"
/** Data URLs and transfer-protocol validation. @since 0.1.0 */
export * as TransferUrl from "./src/TransferUrl.ts"
/** The `Transport` service. @since 0.1.0 */
export * as Transport from "./src/Transport.ts"
/** The local machine's transport. @since 0.1.0 */
export * as LocalTransport from "./backends/local/LocalTransport.ts"
/** The transport of any host reachable by SSH. @since 0.1.0 */
export * as SshTransport from "./backends/ssh/SshTransport.ts"
/** The shellcmd backend: jobs as processes on the transport's host. @since 0.1.0 */
export * as Shellcmd from "./backends/shellcmd/Shellcmd.ts"
/** The flow every batch scheduler shares, over a dialect of pure functions. @since 0.1.0 */
export * as Batch from "./backends/batch/Batch.ts"
/** What one batch scheduler's dialect is made of. @since 0.1.0 */
export * as BatchDialect from "./backends/batch/Dialect.ts"
/** The job script and the submit script of the batch flow. @since 0.1.0 */
export * as BatchScript from "./backends/batch/Script.ts"
/** The SLURM backend. @since 0.1.0 */
export * as Slurm from "./backends/slurm/Slurm.ts"
/** SLURM's argv builders and pure parsers. @since 0.1.0 */
export * as SlurmParse from "./backends/slurm/SlurmParse.ts"
/** The Grid Engine backend. @since 0.1.0 */
export * as Sge from "./backends/sge/Sge.ts"
/** Grid Engine's argv builders and pure parsers. @since 0.1.0 */
export * as SgeParse from "./backends/sge/SgeParse.ts"
/** The PBS/Torque backend. @since 0.1.0 */
export * as Pbs from "./backends/pbs/Pbs.ts"
/** PBS's argv builders and pure parsers. @since 0.1.0 */
export * as PbsParse from "./backends/pbs/PbsParse.ts"
/** The LSF backend. @since 0.1.0 */
export * as Lsf from "./backends/lsf/Lsf.ts"
/** LSF's argv builders and pure parsers. @since 0.1.0 */
export * as LsfParse from "./backends/lsf/LsfParse.ts"
/** Jobs kept on disk so a later process re-attaches to them. @since 0.1.0 */
export * as JobStore from "./src/JobStore.ts"
/** GC3Pie's configuration file, read into typed resource specifications. @since 0.1.0 */
export * as Gc3pieConfig from "./src/Gc3pieConfig.ts"
/** Every configured resource by name, and GC3Pie's brokering. @since 0.1.0 */
export * as Resources from "./backends/Resources.ts"
